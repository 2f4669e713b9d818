"""Component matrices between batches of Gaussians, and segment reductions.

Every mixture quantity here is a reduction of three K_P x K_Q matrices over
the components of two mixtures (or of two lists of mixtures, concatenated):

- ``KL[a, b] = KL(P_a || Q_b)`` from :func:`skkl.pairwise_divergence` (one
  GEMM per block);
- ``Z[a, b] = log N(m_a; m_b, S_a + S_b) = log int P_a Q_b`` (the overlap);
- ``B[a, b] = log int sqrt(P_a Q_b)`` (the Bhattacharyya coefficient).

The last two come from one factorisation of ``S_a + S_b`` per pair: the
Cholesky factor of the bordered matrix ``[[S, D], [D', c]]`` (``D = m_a -
m_b``, ``c`` large) holds ``L^{-1} D`` in its last row, so log-determinant
and Mahalanobis term come out of one batched LAPACK call. Diagonal and
spherical pairs need no factorisation; tied pairs with one shared covariance
are one GEMM of whitened means.
"""

from __future__ import annotations

import numpy as np

from .._blas import blas_thread_count, map_blocks, runs_inline
from .._gaussians import Gaussians
from .._kernels import Operand, kl_diag, kl_full, overflow_error
from .._linalg import cholesky, solve_lower
from ..pairwise import pairwise_divergence
from ._mixture import chunk_rows, concat_gaussians, variances

__all__ = [
    "cross_kl",
    "cross_overlaps",
    "stacks_own_kl",
    "stacks_own_overlaps",
    "kl_matrix",
    "log_overlaps",
    "log_self_overlap",
    "seg_lse_cols",
    "seg_lse_rows",
    "seg_max_rows",
    "seg_sum_cols",
    "seg_sum_rows",
    "self_kl",
    "self_overlap",
]

_LOG_2PI = float(np.log(2.0 * np.pi))
_LOG_2 = float(np.log(2.0))
# Bordering constant: any value above every Mahalanobis term keeps the
# bordered matrix positive definite; the last pivot is never used.
_BORDER = 1e300
# The pointwise KL kernels cost grows with the pairs times d^2 (batched
# triangular solves and their broadcast copies) and has no planning;
# pairwise_divergence costs (K_A + K_B) d^3 + K_A K_B d^2 (factorisations and
# one GEMM) plus a fixed cost of planning blocks, error bounds and exact
# recomputes. Below this many pair-entries (K_A K_B d^2) that fixed cost is
# the larger (measured side by side by benchmarks/bench_mixture.py's sizes).
_POINTWISE_KL_ENTRIES = 2**12


def kl_matrix(A: Gaussians, B: Gaussians | None = None) -> np.ndarray:
    """``KL(A[i] || B[j])`` for all pairs (``B=None``: within ``A``).

    Tiny batches go straight to the pointwise kernels (the same stable forms
    :func:`skkl.divergence` uses); the rest through
    :func:`skkl.pairwise_divergence`.
    """
    Bq = A if B is None else B
    d = A.n_features
    if len(A) * len(Bq) * d * d > _POINTWISE_KL_ENTRIES:
        return pairwise_divergence(A, B, kind="kl")
    out = _kl_pointwise(A, Bq)
    if B is None:
        np.fill_diagonal(out, 0.0)  # exact, as pairwise_divergence gives
    return out


def _kernel_operand(G: Gaussians, structure: str, rows: bool) -> Operand:
    """G as a kernel operand: rows broadcast against columns (views, no checks)."""
    at = (slice(None), None) if rows else (slice(None),)
    if structure == "diag":
        return Operand(G.means[at], G.std()[at], "diag", variances(G)[at], G.logdet[at])
    cov = _full_covariances(G)
    return Operand(G.means[at], G.full_cholesky()[at], "full", cov[at], G.logdet[at])


def _kl_pointwise(A: Gaussians, B: Gaussians) -> np.ndarray:
    """The KL kernel on every pair of two tiny batches of validated Gaussians.

    The components of a Mixture are validated and never singular, so the
    kernel is called directly: no re-validation, alignment or singularity
    checks, whose fixed cost is most of a tiny call. An identical pair gives
    exactly 0 (its triangular solve is exactly the identity).
    """
    diagonal = {A.covariance_type, B.covariance_type} <= {"diag", "spherical"}
    structure = "diag" if diagonal else "full"
    kernel = kl_diag if diagonal else kl_full
    p = _kernel_operand(A, structure, rows=True)
    q = _kernel_operand(B, structure, rows=False)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        out = kernel(p, q)
    if not np.all(np.isfinite(out)):
        raise overflow_error()
    return out


def _full_covariances(G: Gaussians) -> np.ndarray:
    if G.covariance_type == "full":
        return G.covariances
    if G.covariance_type == "tied":
        K, d = G.means.shape
        return np.broadcast_to(G.covariances, (K, d, d))
    return G.to_full().covariances


def _diagonal_pairs(A: Gaussians, B: Gaussians, ma, mb, working_memory):
    Ka, d = A.means.shape
    Kb = len(B)
    va, vb = variances(A), variances(B)
    logdet = np.empty((Ka, Kb))
    maha = np.empty((Ka, Kb))
    step = chunk_rows(3 * 8 * Kb * d, Ka, working_memory)  # V, D and D*D/V per row
    for s in range(0, Ka, step):
        e = min(Ka, s + step)
        V = va[s:e, None, :] + vb[None, :, :]
        D = ma[s:e, None, :] - mb[None, :, :]
        logdet[s:e] = np.log(V).sum(-1)
        maha[s:e] = np.sum(D * D / V, -1)
    return logdet, maha


def _tied_pairs(A: Gaussians, B: Gaussians, ma, mb):
    d = A.n_features
    L = A.cholesky
    za = solve_lower(L, ma.T).T
    zb = solve_lower(L, mb.T).T
    sq = np.sum(za * za, 1)[:, None] - 2.0 * (za @ zb.T) + np.sum(zb * zb, 1)
    maha = 0.5 * np.maximum(sq, 0.0)  # (S + S)^{-1} = S^{-1} / 2
    logdet = np.full(maha.shape, d * _LOG_2 + A.logdet[0])
    return logdet, maha


def _bordered(M: np.ndarray, d: int):
    """``(logdet, maha)`` of bordered matrices ``M = [[S, .], [D', c]]``.

    ``M[..., :d, :d]`` holds ``S = S_a + S_b`` and ``M[..., d, :d]`` holds
    ``D = m_a - m_b``; the factor's last row is ``L^{-1} D``.
    """
    M[..., d, d] = _BORDER
    # Only the lower triangle is read: the border is the last row.
    L = cholesky(
        M,
        name="covariances of p[a] + q[b] (bordered)",
        hint="the components are too ill-conditioned; add reg_covar",
    )
    diag = np.diagonal(L, axis1=-2, axis2=-1)[..., :d]
    row = L[..., d, :d]
    return 2.0 * np.log(diag).sum(-1), np.sum(row * row, -1)


def _fill_cross(M, Sa, Sb, ma, mb, d):
    """Bordered matrices of every pair (a, b), M of shape (K_a, K_b, d+1, d+1)."""
    np.add(Sa[:, None], Sb[None, :], out=M[..., :d, :d])
    np.subtract(ma[:, None], mb[None, :], out=M[..., d, :d])


def _full_pairs(A: Gaussians, B: Gaussians, ma, mb, n_self, working_memory):
    """One Cholesky factor of the bordered ``S_a + S_b`` per pair."""
    Ka, d = A.means.shape
    Kb = len(B)
    Sa, Sb = _full_covariances(A), _full_covariances(B)
    if runs_inline(Ka * Kb * (d + 1) ** 3 / 3):  # a Cholesky per pair
        # Every pair in one call: halving tiny work costs more than it saves.
        M = np.empty((Ka, Kb, d + 1, d + 1))
        _fill_cross(M, Sa, Sb, ma, mb, d)
        return _bordered(M, d)
    return _full_pairs_blocked(Sa, Sb, ma, mb, n_self, working_memory)


def _full_pairs_blocked(Sa, Sb, ma, mb, n_self, working_memory):
    """:func:`_full_pairs` in blocks of rows, over the BLAS's threads.

    The first ``n_self`` columns of B are A itself: there only the pairs
    ``a <= b`` are factored, and the rest mirrored. Bordered matrices are
    built row by row and by broadcasting, never by gathering pairs (fancy
    indexing of a stack of matrices copies a d x d block per pair).
    """
    (Ka, d), Kb = ma.shape, len(mb)
    D1, n_cross = d + 1, Kb - n_self
    ia, ib = np.triu_indices(Ka, m=n_self)  # row-major: each row's pairs together
    tri = np.searchsorted(ia, np.arange(Ka + 1))  # row a's pairs: tri[a]:tri[a+1]

    def rows(s, e):
        """``(logdet, maha)`` of rows s:e: their symmetric pairs, then the rest."""
        lo, hi = tri[s], tri[e]
        M = np.empty((hi - lo + (e - s) * n_cross, D1, D1))
        for a in range(s, e):
            i, j = tri[a] - lo, tri[a + 1] - lo
            np.add(Sa[a], Sb[a:n_self], out=M[i:j, :d, :d])
            np.subtract(ma[a], mb[a:n_self], out=M[i:j, d, :d])
        cross = M[hi - lo :].reshape(e - s, n_cross, D1, D1)
        _fill_cross(cross, Sa[s:e], Sb[n_self:], ma[s:e], mb[n_self:], d)
        return (s, e, *_bordered(M, d))

    pairs_before = tri + np.arange(Ka + 1) * n_cross  # pairs of rows before a
    n_pairs = int(pairs_before[-1])
    # Enough tasks for every thread the BLAS may use, each within memory.
    n_threads = blas_thread_count()
    step = chunk_rows(3 * 8 * D1 * D1, n_pairs, working_memory)
    step = min(step, -(-n_pairs // n_threads))
    cuts = np.unique(np.searchsorted(pairs_before, np.arange(0, n_pairs, step)))
    cuts = np.append(cuts[cuts < Ka], Ka)
    tasks = list(zip(cuts[:-1], cuts[1:], strict=True))
    # numpy's batched Cholesky releases the GIL: the tasks share the BLAS's
    # threads, each on one BLAS thread (thousands of tiny factorisations),
    # through the process's pool (joblib's result polling sleeps for longer
    # than these tasks take).
    parts = map_blocks(rows, tasks, n_pairs * D1**3 / 3.0)
    logdet, maha = np.empty((Ka, Kb)), np.empty((Ka, Kb))
    for s, e, ld, mh in parts:
        n_tri = tri[e] - tri[s]
        where = (ia[tri[s] : tri[e]], ib[tri[s] : tri[e]])
        logdet[where], maha[where] = ld[:n_tri], mh[:n_tri]
        logdet[s:e, n_self:] = ld[n_tri:].reshape(e - s, n_cross)
        maha[s:e, n_self:] = mh[n_tri:].reshape(e - s, n_cross)
    if n_self > 1:
        lower = np.tril_indices(Ka, -1, n_self)
        logdet[lower] = logdet[lower[1], lower[0]]
        maha[lower] = maha[lower[1], lower[0]]
    return logdet, maha


def _logdet_and_maha(A: Gaussians, B: Gaussians, n_self: int, working_memory):
    """``logdet(S_a + S_b)`` and ``D' (S_a + S_b)^{-1} D`` for all pairs."""
    kinds = {A.covariance_type, B.covariance_type}
    # Means relative to a common origin: both quantities are translation free.
    centre = 0.5 * (A.means.mean(0) + B.means.mean(0))
    ma, mb = A.means - centre, B.means - centre
    if kinds <= {"diag", "spherical"}:
        return _diagonal_pairs(A, B, ma, mb, working_memory)
    if kinds == {"tied"} and np.array_equal(A.covariances, B.covariances):
        return _tied_pairs(A, B, ma, mb)
    return _full_pairs(A, B, ma, mb, n_self, working_memory)


def log_overlaps(A: Gaussians, B: Gaussians, *, n_self: int = 0, working_memory=None):
    """Log overlap integrals and log Bhattacharyya coefficients of all pairs.

    Parameters
    ----------
    A, B : Gaussians
    n_self : int, default=0
        How many leading Gaussians of ``B`` are ``A`` itself (``len(A)`` when
        B is A): their pairs are symmetric, and only half are factored.
    working_memory : float, default=None

    Returns
    -------
    Z : ndarray of shape (K_A, K_B)
        ``log int A_a B_b = log N(m_a; m_b, S_a + S_b)``.
    BC : ndarray of shape (K_A, K_B)
        ``log int sqrt(A_a B_b)`` (<= 0): with sqrt(N(m, S)) proportional to
        N(m, 2 S), ``d/2 log 2 + (ld_a + ld_b)/4 - logdet(S_a + S_b)/2 -
        maha/4``.
    """
    d = A.n_features
    logdet, maha = _logdet_and_maha(A, B, n_self, working_memory)
    Z = -0.5 * (d * _LOG_2PI + logdet + maha)
    BC = (
        0.5 * d * _LOG_2
        + 0.25 * (A.logdet[:, None] + B.logdet[None, :])
        - 0.5 * logdet
        - 0.25 * maha
    )
    return Z, np.minimum(BC, 0.0)


# -- segment reductions (a list of mixtures = consecutive components) ---------

# Up to this many entries one np.logaddexp reduction (a log1p and an exp per
# entry, as accurate) costs less than the six array operations of the
# max-shifted form, whose per-call overhead dominates small arrays.
_SMALL_LSE = 128


def seg_lse_cols(X: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Log-sum-exp of each row over each column segment: (n, n_segments)."""
    if len(starts) == 1:
        if X.size <= _SMALL_LSE:
            return np.logaddexp.reduce(X, axis=1, keepdims=True)
        m = X.max(axis=1, keepdims=True)
        return m + np.log(np.exp(X - m).sum(axis=1, keepdims=True))
    m = np.maximum.reduceat(X, starts, axis=1)
    sizes = np.diff(np.append(starts, X.shape[1]))
    e = np.exp(X - np.repeat(m, sizes, axis=1))
    return m + np.log(np.add.reduceat(e, starts, axis=1))


def seg_lse_rows(X: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Log-sum-exp of each column over each row segment: (n_segments, m)."""
    return seg_lse_cols(X.T, starts).T


def seg_max_rows(X: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Maximum of each column over each row segment: (n_segments, m)."""
    if len(starts) == 1:
        return X.max(axis=0, keepdims=True)
    return np.maximum.reduceat(X, starts, axis=0)


def seg_sum_rows(X: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of each column over each row segment: (n_segments, m)."""
    if len(starts) == 1:
        return X.sum(axis=0, keepdims=True)
    return np.add.reduceat(X, starts, axis=0)


def seg_sum_cols(X: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of each row over each column segment: (n, n_segments)."""
    if len(starts) == 1:
        return X.sum(axis=1, keepdims=True)
    return np.add.reduceat(X, starts, axis=1)


# -- within-mixture quantities (cached on the Mixture) ---------------------------


def _self_kl_from(KL: np.ndarray, log_weights: np.ndarray) -> np.ndarray:
    return seg_lse_cols(log_weights - KL, _ONE)[:, 0]


def self_kl(m) -> np.ndarray:
    """``log sum_a' w_a' exp(-KL(f_a || f_a'))`` for each component a, shape (K,)."""
    return m.cached(
        "self_kl", lambda mix: _self_kl_from(kl_matrix(mix.gaussians), mix.log_weights)
    )


def _self_log_overlaps(m) -> np.ndarray:
    G = m.gaussians
    return m.cached(
        "self_log_overlaps", lambda mix: log_overlaps(G, G, n_self=len(G))[0]
    )


def self_overlap(m) -> np.ndarray:
    """``log sum_a' w_a' int f_a f_a'`` for each component a, shape (K,)."""

    def compute_(mix):
        return seg_lse_cols(_self_log_overlaps(mix) + mix.log_weights, _ONE)[:, 0]

    return m.cached("self_overlap", compute_)


def log_self_overlap(m) -> float:
    """``log int f^2`` of the mixture."""

    def compute_(mix):
        terms = (mix.log_weights + self_overlap(mix))[None]
        return float(seg_lse_cols(terms, _ONE)[0, 0])

    return m.cached("log_sq", compute_)


# A mixture's own matrices (KL and overlaps of its components with each
# other) are needed next to the cross ones by most methods. Where a call's
# fixed cost dominates its work, they come in the same call as the cross
# matrices (columns ``[m; G]``); beyond, each is computed only if needed.


def stacks_own_kl(m, G: Gaussians) -> bool:
    """Whether :func:`cross_kl` computes m's own KL matrix in the same call."""
    k = m.n_components
    entries = k * (k + len(G)) * G.n_features**2
    return not m.is_cached("self_kl") and entries <= _POINTWISE_KL_ENTRIES


def stacks_own_overlaps(m, G: Gaussians) -> bool:
    """Whether :func:`cross_overlaps` computes m's own overlaps in the same call."""
    k = m.n_components
    flops = k * (k + len(G)) * (G.n_features + 1) ** 3 / 3  # a Cholesky per pair
    return not m.is_cached("self_log_overlaps") and runs_inline(flops)


def cross_kl(m, G: Gaussians) -> np.ndarray:
    """``KL(m_a || G_b)``, and m's own KL matrix if :func:`stacks_own_kl`."""
    if not stacks_own_kl(m, G):
        return kl_matrix(m.gaussians, G)
    k = m.n_components
    both = kl_matrix(m.gaussians, concat_gaussians([m.gaussians, G]))
    own = both[:, :k].copy()
    np.fill_diagonal(own, 0.0)  # exact: KL(f_a || f_a) = 0
    m.store("self_kl", _self_kl_from(own, m.log_weights))
    return both[:, k:]


def cross_overlaps(m, G: Gaussians, working_memory=None):
    """:func:`log_overlaps` of m with ``G``; m's own if :func:`stacks_own_overlaps`."""
    if not stacks_own_overlaps(m, G):
        return log_overlaps(m.gaussians, G, working_memory=working_memory)
    k = m.n_components
    Z, BC = log_overlaps(
        m.gaussians,
        concat_gaussians([m.gaussians, G]),
        n_self=k,
        working_memory=working_memory,
    )
    m.store("self_log_overlaps", Z[:, :k])
    return Z[:, k:], BC[:, k:]


_ONE = np.array([0])  # segment starts of a single segment
