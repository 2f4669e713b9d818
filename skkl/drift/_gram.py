"""Sample-space (Gram) permutation engine of the drift test (private).

For high-dimensional data (``d`` comparable to or above the number of pooled
samples ``N``) the moment features of ``_permutation.py`` have
``d (d + 1) / 2`` columns; here every statistic is written through the
``N x N`` Gram matrix ``K = Z Z'`` of the pooled, centred and scaled rows
``Z`` instead, so its cost does not grow with ``d`` once ``K`` is formed.

The statistics (``GRAM_PARTS``), for a split into group 1 (indicator ``a``)
and group 2 (``b = 1 - a``) with row weights ``w`` (all 1 by default):

``'mean'``
    The Chen & Qin (2010) U-statistic of ``||m1 - m2||^2``: with ``P = K``,

        T(P) = sum_{i != j in 1} w_i w_j P_ij / D1
             + sum_{i != j in 2} w_i w_j P_ij / D2
             - 2 sum_{i in 1, j in 2} w_i w_j P_ij / (W1 W2),

    ``Wg = sum_{i in g} w_i`` and ``Dg = Wg^2 - sum_{i in g} w_i^2`` (the sum
    of ``w_i w_j`` over pairs ``i != j`` of group g), so ``T`` is unbiased for
    ``||E_w[z | 1] - E_w[z | 2]||^2``: the diagonal terms ``||z_i||^2``, which
    carry the trace part, are left out.
``'second_moment'``
    The Li & Chen (2012) U-statistic of ``||M1 - M2||_F^2`` for the raw
    second moments ``M = E[z z']``: the same ``T`` with ``P = K o K``
    (element-wise square), since ``(z_i' z_j)^2 = <z_i z_i', z_j z_j'>_F``.
``'trace'``
    ``(tr M1 - tr M2)^2``: the squared difference of the groups' weighted
    mean squared norms ``||z_i||^2 = K_ii``. In high dimension a global
    scale change moves every entry of ``M`` by a little and drowns in the
    noise of the ``d^2`` entries of the Frobenius norm; their sum, the trace,
    does not.

Larger values mean more drift (the U-statistics may be negative).

One split from its group-1 weights ``u = a o w`` (``v = w - u``): with
``P0`` the matrix ``P`` without its diagonal, ``q = u' P0 u``,
``r = u' P0 w`` and ``S = w' P0 w``, the three sums above are ``q``,
``v' P0 v = S - 2 r + q`` and ``u' P0 v = r - q``. For B splits stacked in
``U`` (B x N), ``q`` is the row-wise dot product of ``U P0`` with ``U``,
``r = U (P0 w)``: one (B x N)(N x N) product per part. When ``d < N`` the
mean part uses ``u' K0 u = ||Z' u||^2 - sum_i u_i^2 K_ii`` instead, a
(B x N)(N x d) product. The observed split goes through the same arithmetic
as the permuted ones (it is row 0 of the stacked memberships).

``P`` is symmetric, so it is computed and used in square blocks of its upper
triangle only: block ``(I, J)``, ``I <= J``, is ``Z[I] Z[J]'`` (squared for
``K o K``) and adds ``(2 - [I = J]) rowdot(U[:, I] P_IJ, U[:, J])`` to ``q``.
With about 8 blocks per side this saves ~45% of both the ``N^2 d`` and the
``B N^2`` flops. Memory is bounded by scikit-learn's ``working_memory`` (see
:func:`gram_peak_bytes`): one block is held at a time (recomputed from ``Z``,
never the whole ``N x N`` matrix when it exceeds the budget), and the
memberships become float rows in chunks.
"""

from __future__ import annotations

import numpy as np
from joblib import effective_n_jobs
from sklearn import get_config
from sklearn.utils.parallel import Parallel, delayed

from .._blas import blas_single_thread, blas_thread_count, get_chunk_n_rows, runs_inline

__all__ = [
    "GRAM_PARTS",
    "STATISTICS",
    "gram_flops",
    "gram_parts",
    "gram_peak_bytes",
    "run",
]

#: Statistics returned by :func:`gram_parts`, in this column order.
GRAM_PARTS = ("mean", "second_moment", "trace")
#: The engine's parts: the Gram parts and the largest per-feature statistic.
PARTS = (*GRAM_PARTS, "feature_max")
_SECOND = ("second_moment", "trace", "feature_max")
#: Parts (and weights) of each ``statistic``: 'combined' puts most weight on
#: the mean part (as the moment engine does) and shares the rest among the
#: second-moment changes; 'lrt' weighs every part alike.
STATISTICS = {
    "combined": {"mean": 0.6, **dict.fromkeys(_SECOND, 0.4 / 3)},
    "lrt": dict.fromkeys(PARTS, 0.25),
    "mean": {"mean": 1.0},
    "covariance": dict.fromkeys(_SECOND, 1.0 / 3),
}

# Blocks of the Gram matrix: about this many per side, of at least
# _MIN_BLOCK rows (unless N is smaller).
_BLOCKS_PER_SIDE = 8
_MIN_BLOCK = 256

# Largest N * ||z||^2 for which N^2 squared Gram entries sum without overflow.
_MAX_SQ_NORM = 1e150


def _mean_via_features(n_samples: int, n_features: int) -> bool:
    """Whether the mean part is cheaper as ``||Z' u||^2`` than as ``u' K0 u``."""
    return n_features < n_samples


def _n_workers(n_samples: int, n_features: int, n_rows: int, n_jobs=None) -> int:
    """Threads to use, each running single-threaded BLAS: ``n_jobs`` threads,
    or as many as BLAS may use; one for work below the package's inline
    threshold (``skkl._blas.runs_inline``).
    """
    N = float(n_samples)
    if runs_inline(N * N * n_features + n_rows * N * (N + n_features)):
        return 1
    return effective_n_jobs(n_jobs) if n_jobs is not None else blas_thread_count()


def _layout(n_samples, n_features, n_rows, working_memory, n_workers):
    """Block size, row chunk height, bytes per block and per membership row.

    The budget is shared by ``n_workers`` threads, each holding one block and
    one chunk of membership rows.
    """
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    working_memory = working_memory / n_workers
    via_z = _mean_via_features(n_samples, n_features)
    # Square blocks of K (and of K o K when the mean part needs K itself) get
    # half the budget. Several blocks per side let the upper triangle alone
    # be computed, about halving both products; below _MIN_BLOCK rows a
    # block loses more to BLAS overhead than it saves.
    per_entry = 8 * (1 if via_z else 2)
    budget = working_memory * 2**20
    block = max(_MIN_BLOCK, -(-n_samples // _BLOCKS_PER_SIDE))
    block = min(block, n_samples, max(1, int(np.sqrt(budget / 2 / per_entry))))
    block_bytes = per_entry * block * block
    left = max(budget - block_bytes, budget / 2)
    row_bytes = 8 * max(3 * block, n_samples + (n_features if via_z else 0))
    rows = get_chunk_n_rows(
        row_bytes=row_bytes, max_n_rows=n_rows, working_memory=left / 2**20
    )
    return block, rows, block_bytes, row_bytes


def gram_peak_bytes(
    n_samples: int,
    n_features: int,
    n_memberships: int,
    *,
    working_memory: float | None = None,
) -> int:
    """Peak bytes :func:`gram_parts` allocates (besides its input ``Z``).

    With ``N = n_samples``, ``d = n_features``, ``R = n_memberships + 1`` (the
    observed split is one more row), ``t = 1`` if ``d < N`` else ``2`` (the
    mean part then needs blocks of ``K`` besides those of ``K o K``),
    ``d_z = d`` if ``d < N`` else ``0`` and ``m`` threads (as many as BLAS
    may use), each holding a square block of ``c`` rows of the Gram matrix
    and a chunk of ``b`` float membership rows::

        peak = m (8 t c^2 + 8 b max(3 c, N + d_z))
               + R N + 16 (R + N) ceil(T / 2) + 8 (8 N + 20 R + d)

    where ``c`` is about ``N / 8`` (at least 256, at most ``N``) and at most
    the largest block with ``8 t c^2 <= working_memory / (2 m)``, ``T =
    ceil(N / c)``, and ``b`` the most rows within the rest of the thread's
    share of the budget (at most ``R``, at least 1). The first term therefore
    stays within ``working_memory`` (MiB, scikit-learn's config by default)
    unless a single membership row exceeds it; ``R N`` bytes hold the
    boolean memberships with the observed split on top (the size of the
    ``memberships`` argument), the rest the partial sums of the ``ceil(T /
    2)`` tasks and the per-sample and per-split vectors. A ``Z`` that is not
    C-contiguous float64 adds a copy of ``8 N d`` bytes.

    Parameters
    ----------
    n_samples : int
        Pooled number of rows N.
    n_features : int
        Number of columns d of ``Z``.
    n_memberships : int
        Number of permutations B.
    working_memory : float or None, default=None
        Budget in MiB; None uses ``sklearn.get_config()['working_memory']``.

    Returns
    -------
    int
        The bound in bytes.

    Examples
    --------
    >>> from skkl.drift._gram import gram_peak_bytes
    >>> gram_peak_bytes(2000, 768, 1000) / 2**20 < 100
    True
    >>> gram_peak_bytes(20000, 768, 1000, working_memory=256) / 2**20 < 300
    True
    """
    n_rows = n_memberships + 1
    m = _n_workers(n_samples, n_features, n_rows)
    block, rows, block_bytes, row_bytes = _layout(
        n_samples, n_features, n_rows, working_memory, m
    )
    n_tiles = -(-n_samples // block)
    n_tasks = (n_tiles + 1) // 2
    return int(
        m * (block_bytes + rows * row_bytes)
        + n_rows * n_samples
        + 16 * (n_rows + n_samples) * n_tasks
        + 8 * (8 * n_samples + 20 * n_rows + n_features)
    )


def gram_flops(
    n_samples: int,
    n_features: int,
    n_memberships: int,
    *,
    working_memory: float | None = None,
) -> float:
    """Floating-point operations of the matrix products of :func:`gram_parts`.

    Over the upper-triangle blocks ``(I, J)`` of the Gram matrix (``|I| |J|``
    entries each, ``F = sum |I| |J|``, about ``N^2 (1 + 1/8) / 2``):
    ``2 F d`` to form them, then ``2 t F (B + 1)`` for the products of the
    membership rows with ``K o K`` (and ``K`` when ``t = 2``, i.e.
    ``d >= N``), plus ``2 (B + 1) N d`` for the mean part through ``Z`` when
    ``d < N``.

    Parameters
    ----------
    n_samples : int
        Pooled number of rows N.
    n_features : int
        Number of columns d.
    n_memberships : int
        Number of permutations B.
    working_memory : float or None, default=None
        Budget in MiB (it sets the block size); None uses
        ``sklearn.get_config()['working_memory']``.

    Returns
    -------
    float
        Number of flops.

    Examples
    --------
    >>> from skkl.drift._gram import gram_flops
    >>> f"{gram_flops(2000, 768, 1000):.2e}"
    '1.10e+10'
    """
    N, d, R = n_samples, float(n_features), float(n_memberships + 1)
    R_int = n_memberships + 1
    m = _n_workers(N, n_features, R_int)
    block = _layout(N, n_features, R_int, working_memory, m)[0]
    sizes = np.diff(np.r_[np.arange(0, N, block), N]).astype(np.float64)
    F = float(np.sum(np.triu(np.outer(sizes, sizes))))
    if _mean_via_features(N, n_features):
        return 2.0 * F * d + 2.0 * F * R + 2.0 * R * N * d
    return 2.0 * F * d + 4.0 * F * R


def _check(Z, n1, memberships, sample_weight):
    Z = np.asarray(Z)
    if Z.ndim != 2:
        raise ValueError(f"Z must be a 2-d array (N, d); got shape {Z.shape}.")
    if not np.issubdtype(Z.dtype, np.number) or np.iscomplexobj(Z):
        raise TypeError(f"Z must hold real numbers; got dtype {Z.dtype}.")
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    N = Z.shape[0]
    # Squared norms (needed anyway) are finite iff Z is finite and not huge;
    # only then search Z itself, so the check adds no N x d temporary.
    with np.errstate(over="ignore", invalid="ignore"):
        sq_norms = np.einsum("ij,ij->i", Z, Z)
    # Sums of N^2 squared Gram entries must stay finite: |K_ij| <= ||z_i||^2.
    big = ~(sq_norms <= _MAX_SQ_NORM / max(N, 1))
    if big.any():
        i = int(np.flatnonzero(big)[0])
        bad = np.flatnonzero(~np.isfinite(Z[i]))
        if bad.size:
            raise ValueError(
                f"Z has a non-finite value at row {i}, column {bad[0]}: drop or "
                "impute missing values before testing."
            )
        raise ValueError(
            f"the squared norm of row {i} of Z ({sq_norms[i]:.3g}) is too large "
            "for float64 sums of squared Gram entries: centre and scale Z (e.g. "
            "by the pooled standard deviation) before testing."
        )
    if not isinstance(n1, (int, np.integer)) or isinstance(n1, (bool, np.bool_)):
        raise TypeError(f"n1 must be an int; got {type(n1).__name__}.")
    n1 = int(n1)
    if not 2 <= n1 <= N - 2:
        raise ValueError(
            "the U-statistics need at least 2 rows in each group: n1 must be in "
            f"[2, N - 2] = [2, {N - 2}]; got n1={n1} with N={N} rows."
        )
    A = np.asarray(memberships)
    if A.dtype != np.bool_:
        raise TypeError(
            f"memberships must be a boolean array; got dtype {A.dtype}. Use "
            "memberships.astype(bool) on a 0/1 array."
        )
    if A.ndim != 2 or A.shape[1] != N:
        raise ValueError(
            f"memberships must have shape (B, N) = (B, {N}); got {A.shape}."
        )
    counts = A.sum(axis=1)
    if np.any(counts != n1):
        b = int(np.flatnonzero(counts != n1)[0])
        raise ValueError(
            f"every row of memberships must have exactly n1={n1} True entries "
            f"(the permuted first group); row {b} has {int(counts[b])}."
        )
    if sample_weight is None:
        return Z, sq_norms, n1, A, None
    w = np.asarray(sample_weight)
    if w.ndim != 1 or w.shape[0] != N:
        raise ValueError(f"sample_weight must have shape (N,) = ({N},); got {w.shape}.")
    if not np.issubdtype(w.dtype, np.number) or np.iscomplexobj(w):
        raise TypeError(f"sample_weight must hold real numbers; got {w.dtype}.")
    w = w.astype(np.float64)
    if not (np.isfinite(w).all() and np.all(w > 0)):
        i = int(np.flatnonzero(~(np.isfinite(w) & (w > 0)))[0])
        raise ValueError(
            "sample_weight must be finite and positive (the weighted "
            "U-statistics divide by the sum of w_i w_j over pairs of a group); "
            f"sample_weight[{i}] = {w[i]}. Drop rows with zero weight before "
            "testing."
        )
    return Z, sq_norms, n1, A, w


def _block_sums(Z, A, w, ones, I, J, row_chunks, via_z, q, s):
    """Add block ``(I, J)`` (``I <= J``) of K and K o K to ``q`` and ``s``.

    ``q[0], q[1]`` accumulate ``u' P0 u`` of every split for ``P = K, K o K``
    and ``s[0], s[1]`` accumulate ``P0 w``; an off-diagonal block stands for
    itself and its transpose.
    """
    same = I == J
    K_IJ = Z[I] @ Z[J].T
    if same:
        np.fill_diagonal(K_IJ, 0.0)
    # Through Z the mean part needs no block of K: square it in place.
    mats = [(1, np.square(K_IJ, out=K_IJ if via_z else None))]
    if not via_z:
        mats.append((0, K_IJ))
    for k, P in mats:
        s[k, I] += P @ w[J]
        if not same:
            s[k, J] += w[I] @ P
    factor = 1.0 if same else 2.0
    for sl in row_chunks:
        U_I, U_J = A[sl, I].astype(np.float64), A[sl, J].astype(np.float64)
        if not ones:
            U_I *= w[I]
            U_J *= w[J]
        for k, P in mats:
            q[k, sl] += factor * np.einsum("ij,ij->i", U_I @ P, U_J)
        del U_I, U_J  # before the next chunk is allocated


def _split_stat(q, r, S, W1, W2, D1, D2):
    """``T(P)`` of the module docstring from its sums (one entry per split)."""
    return q / D1 + (S - 2.0 * r + q) / D2 - 2.0 * (r - q) / (W1 * W2)


def gram_parts(
    Z: np.ndarray,
    n1: int,
    memberships: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    working_memory: float | None = None,
    n_jobs: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed and permuted Gram-space part statistics of a two-sample split.

    See the module docstring for the statistics (``GRAM_PARTS``: the Chen &
    Qin mean U-statistic, the Li & Chen second-moment U-statistic and the
    squared trace difference) and their algebra.

    Cost: about ``N^2 d`` flops for the Gram matrix (its upper triangle),
    once, then about ``(B + 1) N (N + 2 d)`` (``d < N``) or ``2 (B + 1) N^2``
    (``d >= N``) for all splits (:func:`gram_flops`), independent of ``d``
    once ``K`` is formed. Peak memory: ``m (8 t c^2 + 8 b max(3 c, N + d_z))`` bytes for
    ``m`` threads holding blocks of ``c`` rows of the Gram matrix and chunks
    of ``b`` membership rows, within ``working_memory``, plus vectors and the
    memberships (see :func:`gram_peak_bytes`); ``K`` is never held whole when
    it exceeds the budget. The work runs in as many threads as BLAS may use,
    each with single-threaded BLAS.

    Parameters
    ----------
    Z : ndarray of shape (N, d)
        Pooled data, already centred and scaled by the caller: the first
        ``n1`` rows are the reference sample, the others the new sample.
    n1 : int
        Size of the reference group (``2 <= n1 <= N - 2``).
    memberships : ndarray of bool, shape (B, N)
        Each row marks the ``n1`` rows of one permuted reference group.
    sample_weight : ndarray of shape (N,) or None, default=None
        Positive row weights; the statistics become weighted U-statistics
        (pairs weighted by ``w_i w_j``, normalised by the sum of those
        weights over pairs), and weights travel with their rows in the
        permutations.
    working_memory : float or None, default=None
        Budget in MiB for the Gram blocks and membership chunks; None uses
        ``sklearn.get_config()['working_memory']``.
    n_jobs : int or None, default=None
        Threads over blocks of the Gram matrix (None: as many as BLAS may
        use); the result does not depend on it.

    Returns
    -------
    observed : ndarray of shape (3,)
        Part statistics of the split "first ``n1`` rows vs the rest", in the
        order of ``GRAM_PARTS``; larger is more drift.
    null : ndarray of shape (B, 3)
        The same for the split of each row of ``memberships``.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl.drift._gram import GRAM_PARTS, gram_parts
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 50))
    >>> X[100:] *= 1.5  # the new sample has a larger scale
    >>> Z = (X - X.mean(0)) / X.std(0)
    >>> A = np.argsort(rng.random((99, 200)), axis=1) < 100
    >>> observed, null = gram_parts(Z, 100, A)
    >>> GRAM_PARTS
    ('mean', 'second_moment', 'trace')
    >>> [int(1 + np.sum(null[:, k] >= observed[k])) for k in range(3)]
    [..., 1, 1]
    """
    Z, sq_norms, n1, A, w = _check(Z, n1, memberships, sample_weight)
    N, d = Z.shape
    observed_row = np.zeros((1, N), dtype=bool)
    observed_row[0, :n1] = True
    gp = _GramPass(Z, sq_norms, np.concatenate([observed_row, A]), w, n_jobs)
    gp.layout(working_memory)
    with blas_single_thread():
        q, s = gp.block_sums()
        q_k, q_h = q
        s_k, s_h = s
        if gp.via_z:
            # K0 w = Z (Z' w) - diag(K) w.
            s_k = Z @ (Z.T @ gp.w) - sq_norms * gp.w
        r_k, r_h, W1, V1, T1 = gp.row_sums(s_k, s_h, q_k)
    return _finish(gp, n1, (q_k, q_h), (r_k, r_h), (s_k, s_h), (W1, V1, T1))


class _GramPass:
    """One pass over the upper-triangle blocks of K and K o K (see the module).

    Threads over blocks with single-threaded BLAS: many mid-sized products
    with multi-threaded BLAS each pay a thread rendezvous, which a busy
    machine turns into a stall.
    """

    def __init__(self, Z, sq_norms, A, w, n_jobs):
        self.Z, self.sq_norms, self.A = Z, sq_norms, A
        self.N, self.d = Z.shape
        self.n_rows = A.shape[0]
        self.ones = w is None
        self.w = np.ones(self.N) if w is None else w
        self.via_z = _mean_via_features(self.N, self.d)
        self.n_workers = _n_workers(self.N, self.d, self.n_rows, n_jobs)

    def layout(self, working_memory):
        N, n_rows = self.N, self.n_rows
        block, rows, _, _ = _layout(N, self.d, n_rows, working_memory, self.n_workers)
        rows = min(rows, -(-n_rows // self.n_workers))  # work for every thread
        self.row_chunks = [
            slice(i, min(i + rows, n_rows)) for i in range(0, n_rows, rows)
        ]
        self.tiles = [slice(i, min(i + block, N)) for i in range(0, N, block)]
        T = len(self.tiles)
        # Task k takes block rows k and T-1-k of the upper triangle (T + 1
        # blocks): balanced, and summed in task order whatever the threads.
        self.tasks = [sorted({k, T - 1 - k}) for k in range((T + 1) // 2)]

    def _map(self, func, items):
        if self.n_workers == 1 or len(items) == 1:
            return [func(item) for item in items]
        return Parallel(n_jobs=min(self.n_workers, len(items)), prefer="threads")(
            delayed(func)(item) for item in items
        )

    def _block_rows(self, block_rows):
        q = np.zeros((2, self.n_rows))  # u' P0 u for K, K o K
        s = np.zeros((2, self.N))  # P0 w for K, K o K
        for ti in block_rows:
            I = self.tiles[ti]
            for J in self.tiles[ti:]:
                _block_sums(
                    self.Z, self.A, self.w, self.ones, I, J, self.row_chunks,
                    self.via_z, q, s,
                )  # fmt: skip
        return q, s

    def block_sums(self):
        out = self._map(self._block_rows, self.tasks)
        q, s = out[0]
        for q_t, s_t in out[1:]:
            q += q_t
            s += s_t
        return q, s

    def row_sums(self, s_k, s_h, q_k):
        """``r = u' P0 w``, group-1 weight, squared weight and norm sums; the
        mean part's ``q`` through Z when d < N (written into ``q_k``)."""
        n_rows, w, Z, sq = self.n_rows, self.w, self.Z, self.sq_norms
        r_k, r_h = np.empty(n_rows), np.empty(n_rows)
        W1, V1, T1 = np.empty(n_rows), np.empty(n_rows), np.empty(n_rows)

        def task(sl):
            U = self.A[sl].astype(np.float64)
            if not self.ones:
                U *= w
            r_k[sl], r_h[sl] = U @ s_k, U @ s_h
            W1[sl], V1[sl], T1[sl] = U.sum(axis=1), U @ w, U @ sq
            if self.via_z:
                G = U @ Z
                # u_i^2 = u_i w_i for u = a o w with a in {0, 1}.
                q_k[sl] = np.einsum("ij,ij->i", G, G) - U @ (w * sq)

        self._map(task, self.row_chunks)
        return r_k, r_h, W1, V1, T1


def _finish(gp, n1, q, r, s, sums):
    """The parts of every split from the pass's sums (see the module)."""
    (q_k, q_h), (r_k, r_h), (s_k, s_h), (W1, V1, T1) = q, r, s, sums
    w, sq_norms, N, n_rows = gp.w, gp.sq_norms, gp.N, gp.n_rows
    S_k, S_h = float(w @ s_k), float(w @ s_h)
    W_tot, V_tot, T_tot = float(w.sum()), float(w @ w), float(w @ sq_norms)
    W2, V2 = W_tot - W1, V_tot - V1
    if gp.ones:  # exact integers for the unweighted U-statistics
        W1, W2 = np.full(n_rows, float(n1)), np.full(n_rows, float(N - n1))
        D1, D2 = W1 * (W1 - 1.0), W2 * (W2 - 1.0)
    else:
        D1, D2 = W1 * W1 - V1, W2 * W2 - V2
    parts = np.empty((n_rows, len(GRAM_PARTS)))
    with np.errstate(over="ignore", invalid="ignore"):
        parts[:, 0] = _split_stat(q_k, r_k, S_k, W1, W2, D1, D2)
        parts[:, 1] = _split_stat(q_h, r_h, S_h, W1, W2, D1, D2)
        parts[:, 2] = np.square(T1 / W1 - (T_tot - T1) / W2)
    if not np.isfinite(parts).all():
        raise ValueError(
            "the Gram statistics overflow float64: the squared norms of the rows "
            f"of Z reach {sq_norms.max():.3g}. Centre and scale Z (e.g. by the "
            "pooled standard deviation) before testing."
        )
    return parts[0], parts[1:]


def run(problem):
    """The Gram engine on a prepared problem (see :mod:`._engines`).

    The rows are standardised by the pooled sample and whitened by the
    effect metric (the pooled covariance, shrunk when ``shrinkage`` is set,
    with its variance floors): every part then measures change as the
    Gaussian KL does, so a change that breaks a near-deterministic relation
    between features is seen along the direction of small pooled variance it
    moves. The metric depends on the pooled sample only: the test stays
    exact. The mean and second-moment parts *are* the effect's
    U-statistics, so the effect and its null spread come for free.
    """
    from ._effect import effect_from_splits, effect_values, metric_from_rows
    from ._engines import EngineResult, SplitSampler
    from ._permutation import feature_parts
    from ._prepare import Standardiser

    prep = problem.prepared
    X = np.vstack([prep.ref.X, prep.new.X])
    n1 = prep.ref.X.shape[0]
    w = np.concatenate([prep.ref.weights, np.ones(prep.new.X.shape[0])])
    Z = Standardiser.pooled(prep.ref.stats, prep.new.stats).apply(X)
    metric, _ = metric_from_rows(Z, w, True, problem.shrinkage)
    A = SplitSampler(Z.shape[0], n1, problem.n_permutations, problem.seed).all()
    unit = prep.ref.w is None or bool(np.all(prep.ref.w == 1.0))
    observed, null = gram_parts(
        metric.whiten(Z),
        n1,
        A[1:],
        sample_weight=None if unit else w,
        n_jobs=problem.n_jobs,
    )
    parts = np.vstack([observed, null])
    features = feature_parts(Z, w, A)
    W1 = np.full(A.shape[0], float(n1)) if unit else A @ w
    W = float(w.sum())
    bf = metric.balance_factor
    effects = effect_values(parts[:, 0], parts[:, 1], W1 * (W - W1) / (W * W) * bf, bf)
    effect = effect_from_splits(effects, Z, w, n1, metric)
    return EngineResult(
        engine="gram",
        part_names=PARTS,
        effect=effect,
        values=np.column_stack([parts, features.max(axis=1)]),
        part_weights=STATISTICS,
        feature_values=features,
    )
