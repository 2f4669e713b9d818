"""``GaussianNeighbors``: exact nearest Gaussians under a divergence.

scikit-learn's ``NearestNeighbors`` with a callable metric mirrors the upper
triangle whenever the query is the fitted array, which is wrong for an
asymmetric divergence such as KL, and it calls Python once per pair. Here
the search runs on the chunked pairwise engine: each block of rows of the
query x fitted matrix is reduced (``argpartition`` or a radius mask) where
it is computed, so the whole matrix never exists and memory stays within
``working_memory``. The distances are the engine's values, exactly those of
:func:`skkl.pairwise_divergence`.
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy import sparse
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from ._gaussians import Gaussians, packed_size
from ._validation import refuse_strings
from .divergence import DIVERGENCES
from .pairwise import pairwise_divergence_chunked

__all__ = ["GaussianNeighbors"]

# Rows of a block reduced at once: the argpartition indices (8 bytes per
# entry) of this many bytes of distances stay small next to the block itself.
_REDUCE_BYTES = 2**22


def _row_steps(n_rows: int, n_cols: int):
    step = max(1, _REDUCE_BYTES // (8 * max(n_cols, 1)))
    return [(a, min(a + step, n_rows)) for a in range(0, n_rows, step)]


def _mask_self(D: np.ndarray, start: int) -> None:
    """Set D(x_i, x_i) to inf in rows ``start:`` of a self-pairwise matrix."""
    idx = np.arange(D.shape[0])
    D[idx, start + idx] = np.inf


def _check_graph_mode(mode) -> None:
    if mode not in ("connectivity", "distance"):
        raise ValueError(f"mode must be 'connectivity' or 'distance', got {mode!r}.")


def _masking_self(reduce):
    """``reduce(D, start)`` applied after :func:`_mask_self` (queries are the fit)."""

    def masked(D, start):
        _mask_self(D, start)
        return reduce(D, start)

    return masked


def _smallest(D: np.ndarray, k: int, offset: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The k smallest entries of each row of D, sorted, ties by lower index."""
    n_rows, n_cols = D.shape
    dist = np.empty((n_rows, k))
    ind = np.empty((n_rows, k), dtype=np.intp)
    for a, b in _row_steps(n_rows, n_cols):
        part = D[a:b]
        if k < n_cols:
            cand = np.argpartition(part, k - 1, axis=1)[:, :k]
            # argpartition picks arbitrarily among entries tied with the k-th
            # smallest: redo those (rare) rows so ties go to the lower index.
            kth = np.take_along_axis(part, cand, axis=1).max(axis=1)
            tied = np.flatnonzero(np.count_nonzero(part <= kth[:, None], axis=1) > k)
            if tied.size:
                cand[tied] = np.argsort(part[tied], axis=1, kind="stable")[:, :k]
        else:
            cand = np.broadcast_to(np.arange(n_cols), (b - a, n_cols))
        # Sort the candidates by (distance, index): index first, then stable.
        cand = np.sort(cand, axis=1)
        values = np.take_along_axis(part, cand, axis=1)
        order = np.argsort(values, axis=1, kind="stable")
        dist[a:b] = np.take_along_axis(values, order, axis=1)
        ind[a:b] = np.take_along_axis(cand, order, axis=1)
    ind += offset
    return dist, ind


def _within(D: np.ndarray, radius: float, sort: bool):
    """Per row of D: indices (and values) of the entries <= radius."""
    n_rows, n_cols = D.shape
    dist = np.empty(n_rows, dtype=object)
    ind = np.empty(n_rows, dtype=object)
    for a, b in _row_steps(n_rows, n_cols):
        rows, cols = np.nonzero(D[a:b] <= radius)
        values = D[a:b][rows, cols]
        if sort:  # by row, then distance, then index (cols are ascending)
            order = np.lexsort((values, rows))
            rows, cols, values = rows[order], cols[order], values[order]
        bounds = np.searchsorted(rows, np.arange(b - a + 1))
        for r in range(b - a):
            lo, hi = bounds[r], bounds[r + 1]
            ind[a + r] = cols[lo:hi]
            dist[a + r] = values[lo:hi]
    return dist, ind


def _csr(dist, ind, n_cols: int, mode: str) -> sparse.csr_matrix:
    """A CSR graph from per-row neighbours (2-D arrays or object arrays)."""
    if isinstance(ind, np.ndarray) and ind.dtype != object:
        n_rows, k = ind.shape
        indptr = np.arange(0, n_rows * k + 1, k)
        indices, values = ind.ravel(), dist.ravel()
    else:
        n_rows = len(ind)
        lengths = np.fromiter((len(x) for x in ind), dtype=np.intp, count=n_rows)
        indptr = np.concatenate([[0], np.cumsum(lengths)])
        indices = np.concatenate([*ind, np.empty(0, dtype=np.intp)])
        values = np.concatenate([*dist, np.empty(0)])
    data = np.ones(len(indices)) if mode == "connectivity" else values
    return sparse.csr_matrix((data, indices, indptr), shape=(n_rows, n_cols))


class GaussianNeighbors(BaseEstimator):
    """Nearest Gaussians under a divergence, exact and in bounded memory.

    A :class:`~sklearn.neighbors.NearestNeighbors` for Gaussians: ``fit``
    stores a batch of Gaussians, and queries return, for each query
    Gaussian, the fitted Gaussians with the smallest divergence. The search
    runs on :func:`skkl.pairwise_divergence_chunked` with a per-block
    reduction, so the query x fitted matrix is never held (memory stays
    within scikit-learn's ``working_memory``, see
    :func:`sklearn.config_context`), and every distance is exactly the entry
    of :func:`skkl.pairwise_divergence`. Unlike
    ``NearestNeighbors(metric=KLMetric())``, asymmetric divergences are
    always taken in the stated ``direction``.

    Parameters
    ----------
    n_neighbors : int, default=5
        Number of neighbours for :meth:`kneighbors` and
        :meth:`kneighbors_graph`.
    radius : float, default=1.0
        Largest divergence counted by :meth:`radius_neighbors` and
        :meth:`radius_neighbors_graph` (boundary included).
    kind : str, default='kl'
        A key of :data:`skkl.DIVERGENCES`.
    alpha : float, default=0.5
        Order of the Rényi divergence (``kind='renyi'``).
    direction : {'query_first', 'fitted_first'}, default='query_first'
        Order of the arguments of the divergence. 'query_first': the
        neighbours of query ``q`` are the fitted ``p`` with the smallest
        ``D(q || p)``, i.e. the row ``pairwise_divergence(Q, P)[i]``.
        'fitted_first': the smallest ``D(p || q)``, the column
        ``pairwise_divergence(P, Q)[:, i]``. Irrelevant for symmetric kinds.
    covariance_type : {'full', 'diag', 'spherical'}, default='full'
        Layout of packed rows (:meth:`skkl.Gaussians.pack`) passed as ``X``;
        ignored when ``X`` is a :class:`~skkl.Gaussians`.
    n_jobs : int, default=None
        Number of joblib workers over blocks of rows.

    Attributes
    ----------
    gaussians_ : Gaussians
        The fitted Gaussians.
    n_samples_fit_ : int
        Number of fitted Gaussians.
    n_features_in_ : int
        Length of a packed row of the fitted Gaussians
        (:func:`skkl.packed_size`).
    feature_names_in_ : ndarray of shape (n_columns,)
        Column names, when fitted on a DataFrame of packed rows.

    See Also
    --------
    skkl.pairwise_divergence_chunked : The engine, with ``reduce_func``.
    skkl.KLMetric : The per-pair callable (mind its symmetry trap).

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import Gaussians, GaussianNeighbors
    >>> G = Gaussians([[0.0], [1.0], [3.0]], [[1.0], [4.0], [1.0]], "diag")
    >>> nn = GaussianNeighbors(n_neighbors=1).fit(G)
    >>> dist, ind = nn.kneighbors()  # each Gaussian itself excluded
    >>> ind.ravel(), dist.ravel().round(3)  # KL(query || neighbour)
    (array([1, 0, 1]), array([0.443, 1.307, 0.818]))
    >>> nn.kneighbors_graph(mode="distance").toarray().round(3)
    array([[0.   , 0.443, 0.   ],
           [1.307, 0.   , 0.   ],
           [0.   , 0.818, 0.   ]])
    >>> nn.set_params(direction="fitted_first")  # KL(neighbour || query)
    GaussianNeighbors(direction='fitted_first', n_neighbors=1)
    >>> nn.kneighbors()[0].ravel().round(3)
    array([1.307, 0.443, 2.807])
    >>> dist, ind = nn.radius_neighbors(
    ...     Gaussians([[0.5]], [[1.0]], "diag"), radius=1.0, sort_results=True)
    >>> ind[0], dist[0].round(3)
    (array([0, 1]), array([0.125, 0.932]))
    """

    _parameter_constraints: dict = {
        "n_neighbors": [Interval(Integral, 1, None, closed="left")],
        "radius": [Interval(Real, 0, None, closed="left")],
        "kind": [StrOptions(set(DIVERGENCES))],
        "alpha": [Interval(Real, 0, None, closed="neither")],
        "direction": [StrOptions({"query_first", "fitted_first"})],
        "covariance_type": [StrOptions({"full", "diag", "spherical"})],
        "n_jobs": [
            None,
            Interval(Integral, 1, None, closed="left"),
            Interval(Integral, None, -1, closed="right"),
        ],
    }

    def __init__(
        self,
        n_neighbors: int = 5,
        radius: float = 1.0,
        *,
        kind: str = "kl",
        alpha: float = 0.5,
        direction: str = "query_first",
        covariance_type: str = "full",
        n_jobs: int | None = None,
    ):
        self.n_neighbors = n_neighbors
        self.radius = radius
        self.kind = kind
        self.alpha = alpha
        self.direction = direction
        self.covariance_type = covariance_type
        self.n_jobs = n_jobs

    # -- fitting ------------------------------------------------------------
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Store the Gaussians to search.

        Parameters
        ----------
        X : Gaussians or array-like of shape (n_gaussians, n_columns)
            The Gaussians, or their packed rows (:meth:`skkl.Gaussians.pack`)
            in the layout of ``covariance_type``.
        y : None
            Ignored.

        Returns
        -------
        self : GaussianNeighbors
            Fitted estimator.
        """
        if isinstance(X, Gaussians):
            G = X
            kind = "full" if G.covariance_type == "tied" else G.covariance_type
            self.n_features_in_ = packed_size(G.n_features, kind)
            self.__dict__.pop("feature_names_in_", None)
        else:
            refuse_strings(X, "X")
            X = validate_data(self, X, dtype=np.float64)
            G = Gaussians.from_packed(X, self.covariance_type)
        self.gaussians_ = G
        self.n_samples_fit_ = len(G)
        return self

    def _query(self, X) -> Gaussians | None:
        """The query Gaussians, or None for the fitted ones (self excluded)."""
        check_is_fitted(self)
        # Parameters set after fit (set_params(direction=...)) are checked
        # where they are used, with the message of fit's own check.
        self._validate_params()
        if X is None:
            return None
        if isinstance(X, Gaussians):
            Q = X
        else:
            refuse_strings(X, "X")
            X = validate_data(self, X, dtype=np.float64, reset=False)
            Q = Gaussians.from_packed(X, self.covariance_type)
        d = self.gaussians_.n_features
        if Q.n_features != d:
            raise ValueError(
                f"X holds Gaussians of dimension {Q.n_features}, but "
                f"{type(self).__name__} was fitted on dimension {d}; query with "
                "Gaussians of the same dimension."
            )
        return Q

    def _blocks(self, Q, reduce_query, reduce_fitted):
        """Reduced blocks in the stated direction.

        'query_first' runs the engine on D(Q || P): rows are queries and
        ``reduce_query(D_chunk, start)`` reduces them in the worker.
        'fitted_first' runs it on D(P || Q): rows are fitted Gaussians,
        columns queries, and each block is folded into a running result by
        ``reduce_fitted(D_chunk, start)`` (called in order, in this process).
        Both see each Gaussian's divergence to itself masked when Q is None.
        Returns the query-first blocks joined into ``(dist, ind)``, or None
        for 'fitted_first'.
        """
        P = self.gaussians_
        if Q is None:
            reduce_query = _masking_self(reduce_query)
            reduce_fitted = _masking_self(reduce_fitted)
        kwargs = {"kind": self.kind, "alpha": self.alpha, "n_jobs": self.n_jobs}
        if self.direction == "query_first":
            Q_rows = P if Q is None else Q
            blocks = list(
                pairwise_divergence_chunked(
                    Q_rows, None if Q is None else P, reduce_func=reduce_query, **kwargs
                )
            )
            return tuple(np.concatenate(part) for part in zip(*blocks, strict=True))
        start = 0
        for block in pairwise_divergence_chunked(P, Q, **kwargs):
            reduce_fitted(block, start)
            start += len(block)
        return None

    def _check_n_neighbors(self, n_neighbors, query_is_fit: bool) -> int:
        if n_neighbors is None:
            n_neighbors = self.n_neighbors
        if (
            not isinstance(n_neighbors, Integral)
            or isinstance(n_neighbors, bool)
            or n_neighbors < 1
        ):
            raise ValueError(
                f"n_neighbors must be an integer >= 1, got {n_neighbors!r}."
            )
        available = self.n_samples_fit_ - int(query_is_fit)
        if n_neighbors > available:
            extra = " other than the query itself" if query_is_fit else ""
            raise ValueError(
                f"n_neighbors={n_neighbors} but only {available} fitted Gaussians "
                f"are available{extra} (n_samples_fit_={self.n_samples_fit_}); "
                "lower n_neighbors."
            )
        return int(n_neighbors)

    # -- k nearest ----------------------------------------------------------
    def kneighbors(self, X=None, n_neighbors=None, return_distance=True):
        """The k nearest fitted Gaussians of each query Gaussian.

        Parameters
        ----------
        X : Gaussians or array-like of shape (n_queries, n_columns), default=None
            Query Gaussians (or packed rows). None queries the fitted
            Gaussians, each one excluded from its own neighbours.
        n_neighbors : int, default=None
            Number of neighbours; None uses the ``n_neighbors`` parameter.
        return_distance : bool, default=True
            Whether to return the divergences.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries, n_neighbors)
            Divergences in the stated ``direction``, increasing along each row
            (ties by lower index). Only when ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries, n_neighbors)
            Indices of the neighbours among the fitted Gaussians.
        """
        Q = self._query(X)
        k = self._check_n_neighbors(n_neighbors, Q is None)
        n_query = self.n_samples_fit_ if Q is None else len(Q)

        def reduce_query(D, start):
            return _smallest(D, k)

        best_dist = np.full((k, n_query), np.inf)
        best_ind = np.zeros((k, n_query), dtype=np.intp)

        def reduce_fitted(D, start):
            # Columns are queries: merge the block's k best per column with
            # the running k best (kept as (k, n_query), so the merge is one
            # selection over 2k candidates per query).
            nonlocal best_dist, best_ind
            kb = min(k, len(D))
            dist, ind = _smallest(D.T, kb, offset=start)
            cand_dist = np.hstack([best_dist.T, dist])
            cand_ind = np.hstack([best_ind.T, ind])
            dist, pos = _smallest(cand_dist, k)
            best_dist = dist.T
            best_ind = np.take_along_axis(cand_ind, pos, axis=1).T

        result = self._blocks(Q, reduce_query, reduce_fitted)
        if result is None:
            result = np.ascontiguousarray(best_dist.T), np.ascontiguousarray(best_ind.T)
        dist, ind = result
        return (dist, ind) if return_distance else ind

    def kneighbors_graph(self, X=None, n_neighbors=None, mode="connectivity"):
        """Sparse graph of the k nearest fitted Gaussians of each query.

        Parameters
        ----------
        X : Gaussians or array-like of shape (n_queries, n_columns), default=None
            Query Gaussians; None queries the fitted ones, self excluded.
        n_neighbors : int, default=None
            Number of neighbours; None uses the ``n_neighbors`` parameter.
        mode : {'connectivity', 'distance'}, default='connectivity'
            Entries of ones, or the divergences. A 'distance' graph can be
            passed to estimators with ``metric='precomputed'`` (e.g.
            ``DBSCAN``, ``Isomap``, ``SpectralClustering(affinity=
            'precomputed_nearest_neighbors')``).

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit)
            CSR matrix; row i holds the neighbours of query i, sorted by
            divergence.
        """
        _check_graph_mode(mode)
        dist, ind = self.kneighbors(X, n_neighbors, return_distance=True)
        return _csr(dist, ind, self.n_samples_fit_, mode)

    # -- within a radius ----------------------------------------------------
    def radius_neighbors(
        self, X=None, radius=None, return_distance=True, sort_results=False
    ):
        """The fitted Gaussians within a divergence ``radius`` of each query.

        Parameters
        ----------
        X : Gaussians or array-like of shape (n_queries, n_columns), default=None
            Query Gaussians; None queries the fitted ones, self excluded.
        radius : float, default=None
            Largest divergence included (boundary included); None uses the
            ``radius`` parameter.
        return_distance : bool, default=True
            Whether to return the divergences.
        sort_results : bool, default=False
            Sort each query's neighbours by divergence (ties by index);
            otherwise they are in index order.

        Returns
        -------
        neigh_dist : ndarray of shape (n_queries,) of arrays
            Divergences of each query's neighbours. Only when
            ``return_distance=True``.
        neigh_ind : ndarray of shape (n_queries,) of arrays
            Indices of each query's neighbours.
        """
        Q = self._query(X)
        radius = self.radius if radius is None else radius
        if (
            not isinstance(radius, Real)
            or isinstance(radius, bool)
            or not 0 <= radius < np.inf
        ):
            raise ValueError(
                f"radius must be a finite real number >= 0, got {radius!r}."
            )
        if sort_results and not return_distance:
            raise ValueError("return_distance must be True if sort_results is True.")
        n_query = self.n_samples_fit_ if Q is None else len(Q)

        def reduce_query(D, start):
            return _within(D, radius, sort_results)

        found = []  # (query, fitted, divergence) of each pair within radius

        def reduce_fitted(D, start):
            for a, b in _row_steps(*D.shape):
                rows, cols = np.nonzero(D[a:b] <= radius)
                found.append((cols, rows + a + start, D[a:b][rows, cols]))

        result = self._blocks(Q, reduce_query, reduce_fitted)
        if result is None:
            cols, rows, values = (np.concatenate(x) for x in zip(*found, strict=True))
            # Group by query: the fitted indices are ascending within a query
            # once sorted by (query, fitted); optionally by divergence first.
            keys = (rows, values, cols) if sort_results else (rows, cols)
            order = np.lexsort(keys)
            cols, rows, values = cols[order], rows[order], values[order]
            bounds = np.searchsorted(cols, np.arange(n_query + 1))
            dist = np.empty(n_query, dtype=object)
            ind = np.empty(n_query, dtype=object)
            for i in range(n_query):
                ind[i] = rows[bounds[i] : bounds[i + 1]]
                dist[i] = values[bounds[i] : bounds[i + 1]]
        else:
            dist, ind = result
        return (dist, ind) if return_distance else ind

    def radius_neighbors_graph(
        self, X=None, radius=None, mode="connectivity", sort_results=False
    ):
        """Sparse graph of the fitted Gaussians within ``radius`` of each query.

        Parameters
        ----------
        X : Gaussians or array-like of shape (n_queries, n_columns), default=None
            Query Gaussians; None queries the fitted ones, self excluded.
        radius : float, default=None
            Largest divergence included; None uses the ``radius`` parameter.
        mode : {'connectivity', 'distance'}, default='connectivity'
            Entries of ones, or the divergences (for ``metric='precomputed'``,
            e.g. ``DBSCAN(eps=radius, metric='precomputed')``).
        sort_results : bool, default=False
            Sort each row by divergence (what ``metric='precomputed'``
            consumers expect; otherwise scikit-learn sorts the graph itself
            and warns); only with ``mode='distance'``.

        Returns
        -------
        A : sparse matrix of shape (n_queries, n_samples_fit)
            CSR matrix.
        """
        _check_graph_mode(mode)
        if sort_results and mode != "distance":
            raise ValueError("sort_results=True needs mode='distance'.")
        dist, ind = self.radius_neighbors(
            X, radius, return_distance=True, sort_results=sort_results
        )
        return _csr(dist, ind, self.n_samples_fit_, mode)
