"""``KLMetric``: divergences between packed Gaussians as a scikit-learn metric."""

from __future__ import annotations

import functools
import warnings

import numpy as np

from . import _kernels as kernels
from ._errors import InputError, Setting
from ._gaussians import (
    as_float_array,
    check_covariance_type,
    gaussians_from_packed,
    packed_dimension,
    packed_size,
)
from .divergence import get_divergence
from .pairwise import pairwise_divergence

__all__ = ["KLMetric"]


# Dimensions whose packed-layout indices are kept: a handful in any program;
# 64 of them are a few MiB at most.
_CACHED_DIMENSIONS = 64


@functools.lru_cache(maxsize=_CACHED_DIMENSIONS)
def _tril_indices(d: int) -> tuple[np.ndarray, np.ndarray]:
    """Row-major lower-triangle indices (the packed layout), read-only."""
    rows, cols = np.tril_indices(d)
    rows.setflags(write=False)
    cols.setflags(write=False)
    return rows, cols


def _warn_trap(metric: KLMetric) -> None:
    """Warn that scikit-learn mirrored an asymmetric divergence.

    scikit-learn's callable-metric loop (``pairwise_distances`` with ``Y=None``
    or ``Y is X``, and every estimator that calls it so: ``NearestNeighbors``
    and ``DBSCAN`` on their fitted data) computes the upper triangle, mirrors
    it, then fills the diagonal with ``metric(x, x)``: the same row object
    twice, which no call on two arrays makes. By then the mirrored half is
    already wrong for an asymmetric kind.
    """
    warnings.warn(
        f"{metric!r} was called with the same row as both arguments, as "
        "scikit-learn does after computing only one triangle of a matrix and "
        "mirroring it (pairwise_distances with Y=None or Y is X, or a "
        "neighbour search on the fitted data). This divergence is not "
        "symmetric, so the mirrored half is wrong. Use "
        f"{metric!r}.pairwise(X) or skkl.pairwise_divergence with "
        "metric='precomputed', skkl.GaussianNeighbors for neighbours, or pass "
        "Y=X.copy().",
        UserWarning,
        stacklevel=3,
    )


class KLMetric:
    """Any of the seven divergences between two packed Gaussians, as ``metric=``.

    Despite its name, ``KLMetric(kind=...)`` computes every kind of
    :data:`skkl.DIVERGENCES` (KL by default): reverse KL, Jeffreys,
    Bhattacharyya, Hellinger, Rényi and squared 2-Wasserstein.

    Each Gaussian is one row made by :meth:`skkl.Gaussians.pack` (the mean,
    then its Cholesky factor). An instance is a callable ``metric(u, v)``
    returning ``D(u || v)``, so it plugs into
    :func:`sklearn.metrics.pairwise_distances`,
    ``NearestNeighbors(metric=..., algorithm='brute')`` and ``DBSCAN``; d is
    inferred from the row length. That path calls Python once per pair: for
    a whole matrix use :meth:`pairwise` (one GEMM per block, see
    :func:`skkl.pairwise_divergence`), or pass its result with
    ``metric='precomputed'``.

    .. warning:: **The symmetry trap: WRONG results when scikit-learn is
       handed the same array twice.** scikit-learn assumes a callable
       metric is symmetric: ``pairwise_distances(X, metric=callable)`` with
       ``Y=None`` (or ``Y is X``) and one job computes only the upper
       triangle and mirrors it, and ``NearestNeighbors(metric=callable)
       .fit(X).kneighbors(X)`` (the fitted array as query) or
       ``.kneighbors()`` do the same. For an asymmetric kind ('kl',
       'reverse_kl', 'renyi' with ``alpha != 0.5``) the mirrored half is
       wrong, and so are the neighbours (most rows on 60 random 3-d
       Gaussians). The metric warns (``UserWarning``) when scikit-learn
       fills the diagonal of such a mirrored matrix, which it does by
       passing the same row object twice; it cannot undo the mirroring.
       Use :class:`skkl.GaussianNeighbors` for neighbour
       searches and graphs, or :meth:`pairwise` (or
       :func:`skkl.pairwise_divergence`) with ``metric='precomputed'``.
       The symmetric kinds ('jeffreys', 'bhattacharyya', 'hellinger',
       'wasserstein', and 'renyi' at ``alpha=0.5``) are safe; see
       :attr:`symmetric`.

    Parameters
    ----------
    kind : str, default='kl'
        A key of :data:`skkl.DIVERGENCES`; ``metric(u, v)`` is
        ``skkl.divergence(u, v, kind)`` on the unpacked Gaussians.
    covariance_type : {'full', 'diag', 'spherical'}, default='full'
        Layout of the packed rows (rows packed from 'tied' Gaussians are
        'full' rows).
    alpha : float, default=0.5
        Order of the Rényi divergence (``kind='renyi'``).

    Attributes
    ----------
    symmetric : bool
        Whether ``D(u, v) == D(v, u)`` for this kind and alpha, i.e. whether
        scikit-learn's mirroring shortcut is harmless.

    See Also
    --------
    skkl.pairwise_divergence : The matrix for :class:`~skkl.Gaussians`.
    skkl.GaussianNeighbors : Exact neighbour search without the trap.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.metrics import pairwise_distances
    >>> from skkl import Gaussians, KLMetric
    >>> G = Gaussians([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]],
    ...               [[1.0, 1.0], [4.0, 1.0], [1.0, 1.0]], "diag")
    >>> X = G.pack()
    >>> metric = KLMetric(covariance_type="diag")
    >>> round(metric(X[0], X[1]), 6), round(metric(X[1], X[0]), 6)
    (0.443147, 1.306853)
    >>> metric.pairwise(X)  # the guarded, vectorised route
    array([[0.        , 0.44314718, 4.5       ],
           [1.30685282, 0.        , 5.80685282],
           [4.5       , 4.94314718, 0.        ]])
    >>> np.allclose(pairwise_distances(X, X.copy(), metric=metric), metric.pairwise(X))
    True
    >>> import warnings
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     D = pairwise_distances(X, metric=metric)  # the trap: Y is None
    >>> float(D[1, 0]), caught[0].category.__name__  # KL(0 || 1), mirrored
    (0.443..., 'UserWarning')
    """

    def __init__(
        self, kind: str = "kl", covariance_type: str = "full", *, alpha: float = 0.5
    ):
        info = get_divergence(kind, alpha)
        if check_covariance_type(covariance_type) == "tied":
            raise InputError(
                "{tied} has no packed layout of its own: rows packed from tied "
                "Gaussians are 'full' rows; use {fix}.",
                argument="covariance_type",
                tied=Setting("covariance_type", "tied"),
                fix=Setting("covariance_type", "full"),
            )
        # Read-only (properties below): the per-pair path caches the registry
        # record, so a changed kind would silently disagree with pairwise().
        self._kind, self._covariance_type, self._alpha = kind, covariance_type, alpha
        self._info = info
        # alpha is only read (and validated) where it is used: 'renyi'.
        self._alpha_value = float(alpha) if info.uses_alpha else 0.5

    @property
    def kind(self) -> str:
        """The divergence, a key of :data:`skkl.DIVERGENCES` (read-only)."""
        return self._kind

    @property
    def covariance_type(self) -> str:
        """Layout of the packed rows (read-only)."""
        return self._covariance_type

    @property
    def alpha(self) -> float:
        """Order of the Rényi divergence (read-only)."""
        return self._alpha

    @property
    def symmetric(self) -> bool:
        """Whether this divergence is symmetric (scikit-learn's mirroring is safe)."""
        return self._info.is_symmetric(self._alpha_value)

    def __repr__(self) -> str:
        return (
            f"KLMetric(kind={self.kind!r}, covariance_type="
            f"{self.covariance_type!r}, alpha={self.alpha!r})"
        )

    def __eq__(self, other) -> bool:
        return isinstance(other, KLMetric) and (
            (self.kind, self.covariance_type, self.alpha)
            == (other.kind, other.covariance_type, other.alpha)
        )

    def __hash__(self) -> int:
        return hash((KLMetric, self.kind, self.covariance_type, self.alpha))

    def _operand(self, row: np.ndarray, d: int, name: str) -> kernels.Operand:
        # Light checks only: this runs once per pair.
        factor = row[d:]
        if self.covariance_type == "full":
            L = np.zeros((d, d))
            L[_tril_indices(d)] = factor
            diag = np.diagonal(L)
        else:
            diag = factor
            if self.covariance_type == "spherical":
                factor = np.full(d, factor[0])
        if not np.all(diag > 0) or not np.all(np.isfinite(row)):
            raise ValueError(
                f"{name} is not a valid packed Gaussian (its Cholesky diagonal / "
                "standard deviations must be > 0 and all entries finite); pack "
                "rows with Gaussians.pack()."
            )
        if self.covariance_type == "full":
            op = kernels.Operand(row[:d], L, "full")
        else:
            op = kernels.Operand(row[:d], factor, "diag")
        if not np.all(np.isfinite(op.cov)):
            raise ValueError(
                f"{name} describes a covariance beyond float64 (its entries "
                "overflow to inf: factor entries above ~1e154); rescale the data "
                "(e.g. StandardScaler) before fitting the Gaussians."
            )
        return op

    def __call__(self, u, v) -> float:
        """Divergence ``D(u || v)`` between two packed rows."""
        if u is v and not self.symmetric:
            _warn_trap(self)
        u = as_float_array(u, "u", copy=False)
        v = as_float_array(v, "v", copy=False)
        if u.ndim != 1 or u.shape != v.shape:
            raise ValueError(
                "KLMetric compares two packed rows of equal length, got shapes "
                f"{u.shape} and {v.shape}."
            )
        d = packed_dimension(u.shape[0], self.covariance_type, "u")
        p = self._operand(u, d, "u")
        q = self._operand(v, d, "v")
        return float(kernels.compute(self._info, p, q, self._alpha_value))

    def pairwise(self, X, Y=None, n_jobs: int | None = None) -> np.ndarray:
        """Matrix ``D[i, j] = D(X[i] || Y[j])`` of packed rows, vectorised.

        The guarded route: correct for asymmetric kinds whether or not ``Y``
        is ``X``, and one matrix product per block instead of a Python call
        per pair (see :func:`skkl.pairwise_divergence`).

        Parameters
        ----------
        X : array-like of shape (n_X, n_columns)
            Packed Gaussians.
        Y : array-like of shape (n_Y, n_columns), default=None
            Packed Gaussians; None means ``X`` (exactly 0 on the diagonal).
        n_jobs : int, default=None
            Number of joblib workers.

        Returns
        -------
        D : ndarray of shape (n_X, n_Y)
        """
        P = gaussians_from_packed(X, self.covariance_type, "X")
        Q = None
        if Y is not None and Y is not X:
            Q = gaussians_from_packed(Y, self.covariance_type, "Y")
            if Q.n_features != P.n_features:
                n_x, n_y = (
                    packed_size(G.n_features, self.covariance_type) for G in (P, Q)
                )
                raise ValueError(
                    f"X has rows of {n_x} columns ({P.n_features} dimensions) but "
                    f"Y of {n_y} ({Q.n_features}); pack both with the same dimension."
                )
        return pairwise_divergence(
            P, Q, self.kind, alpha=self._alpha_value, n_jobs=n_jobs
        )
