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
from joblib import effective_n_jobs
from sklearn.utils.parallel import Parallel, delayed

from .._blas import blas_single_thread
from .._gaussians import Gaussians
from .._linalg import cholesky, solve_lower
from ..pairwise import pairwise_divergence
from ._mixture import chunk_rows

__all__ = [
    "kl_matrix",
    "log_overlaps",
    "seg_lse_cols",
    "seg_lse_rows",
    "seg_sum_rows",
    "self_terms",
]

_LOG_2PI = float(np.log(2.0 * np.pi))
_LOG_2 = float(np.log(2.0))
# Bordering constant: any value above every Mahalanobis term keeps the
# bordered matrix positive definite; the last pivot is never used.
_BORDER = 1e300
# Pair factorisations run in threads above this many pairs.
_THREADED_PAIRS = 256
_MAX_THREADS = 4


def kl_matrix(A: Gaussians, B: Gaussians | None = None) -> np.ndarray:
    """``KL(A[i] || B[j])`` for all pairs (``B=None``: within ``A``)."""
    return pairwise_divergence(A, B, kind="kl")


def _variances(G: Gaussians) -> np.ndarray:
    if G.covariance_type == "diag":
        return G.covariances
    return np.broadcast_to(G.covariances[:, None], G.means.shape)


def _full_covariances(G: Gaussians) -> np.ndarray:
    if G.covariance_type == "full":
        return G.covariances
    if G.covariance_type == "tied":
        K, d = G.means.shape
        return np.broadcast_to(G.covariances, (K, d, d))
    return G.to_full().covariances


def _logdet_and_maha(A: Gaussians, B: Gaussians, working_memory):
    """``logdet(S_a + S_b)`` and ``D' (S_a + S_b)^{-1} D`` for all pairs."""
    Ka, d = A.means.shape
    Kb = len(B)
    kinds = {A.covariance_type, B.covariance_type}
    # Means relative to a common origin: both quantities are translation free.
    centre = 0.5 * (A.means.mean(0) + B.means.mean(0))
    ma, mb = A.means - centre, B.means - centre
    if kinds <= {"diag", "spherical"}:
        va, vb = _variances(A), _variances(B)
        logdet = np.empty((Ka, Kb))
        maha = np.empty((Ka, Kb))
        step = chunk_rows(24 * Kb * d, Ka, working_memory)
        for s in range(0, Ka, step):
            e = min(Ka, s + step)
            V = va[s:e, None, :] + vb[None, :, :]
            D = ma[s:e, None, :] - mb[None, :, :]
            logdet[s:e] = np.log(V).sum(-1)
            maha[s:e] = np.sum(D * D / V, -1)
        return logdet, maha
    if kinds == {"tied"} and np.array_equal(A.covariances, B.covariances):
        L = A.cholesky
        za = solve_lower(L, ma.T).T
        zb = solve_lower(L, mb.T).T
        sq = np.sum(za * za, 1)[:, None] - 2.0 * (za @ zb.T) + np.sum(zb * zb, 1)
        maha = 0.5 * np.maximum(sq, 0.0)  # (S + S)^{-1} = S^{-1} / 2
        logdet = np.full((Ka, Kb), d * _LOG_2 + A.logdet[0])
        return logdet, maha
    Sa, Sb = _full_covariances(A), _full_covariances(B)
    D1 = d + 1
    idx = np.arange(d)
    if A is B:  # symmetric: the upper triangle of pairs only, mirrored
        ia, ib = np.triu_indices(Ka)
    else:
        ia, ib = (x.ravel() for x in np.indices((Ka, Kb)))

    def block(a, b):
        M = np.empty((len(a), D1, D1))
        np.add(Sa[a], Sb[b], out=M[:, :d, :d])
        # Only the lower triangle is read: the border is the last row.
        M[:, d, :d] = ma[a] - mb[b]
        M[:, d, d] = _BORDER
        L = cholesky(
            M,
            name="covariances of p[a] + q[b] (bordered)",
            hint="the components are too ill-conditioned; add reg_covar",
        )
        row = L[:, d, :d]
        return 2.0 * np.log(L[:, idx, idx]).sum(-1), np.sum(row * row, -1)

    n_pairs = len(ia)
    step = chunk_rows(3 * 8 * D1 * D1, n_pairs, working_memory)
    # numpy's batched Cholesky releases the GIL: split across threads.
    n_threads = min(_MAX_THREADS, effective_n_jobs(-1))
    if n_pairs >= _THREADED_PAIRS and n_threads > 1:
        step = min(step, -(-n_pairs // n_threads))
    starts = range(0, n_pairs, step)
    with blas_single_thread():  # thousands of tiny factorisations
        parts = Parallel(n_jobs=n_threads, prefer="threads")(
            delayed(block)(ia[s : s + step], ib[s : s + step]) for s in starts
        )
    logdet = np.empty((Ka, Kb))
    maha = np.empty((Ka, Kb))
    logdet[ia, ib] = np.concatenate([p[0] for p in parts])
    maha[ia, ib] = np.concatenate([p[1] for p in parts])
    if A is B:
        lower = np.tril_indices(Ka, -1)
        logdet[lower] = logdet.T[lower]
        maha[lower] = maha.T[lower]
    return logdet, maha


def log_overlaps(A: Gaussians, B: Gaussians, *, working_memory=None):
    """Log overlap integrals and log Bhattacharyya coefficients of all pairs.

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
    logdet, maha = _logdet_and_maha(A, B, working_memory)
    Z = -0.5 * (d * _LOG_2PI + logdet + maha)
    BC = (
        0.5 * d * _LOG_2
        + 0.25 * (A.logdet[:, None] + B.logdet[None, :])
        - 0.5 * logdet
        - 0.25 * maha
    )
    return Z, np.minimum(BC, 0.0)


# -- segment reductions (a list of mixtures = consecutive components) ---------


def seg_lse_cols(X: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Log-sum-exp of each row over each column segment: (n, n_segments)."""
    if len(starts) == 1:
        m = X.max(axis=1, keepdims=True)
        return m + np.log(np.exp(X - m).sum(axis=1, keepdims=True))
    m = np.maximum.reduceat(X, starts, axis=1)
    sizes = np.diff(np.append(starts, X.shape[1]))
    e = np.exp(X - np.repeat(m, sizes, axis=1))
    return m + np.log(np.add.reduceat(e, starts, axis=1))


def seg_lse_rows(X: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Log-sum-exp of each column over each row segment: (n_segments, m)."""
    return seg_lse_cols(X.T, starts).T


def seg_sum_rows(X: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Sum of each column over each row segment: (n_segments, m)."""
    if len(starts) == 1:
        return X.sum(axis=0, keepdims=True)
    return np.add.reduceat(X, starts, axis=0)


def self_terms(m) -> dict:
    """Within-mixture quantities of one Mixture (cached on it).

    ``kl[a] = log sum_a' w_a' exp(-KL(f_a || f_a'))``,
    ``overlap[a] = log sum_a' w_a' int f_a f_a'``, ``bc`` the matrix of log
    Bhattacharyya coefficients and ``log_sq = log int f^2``.
    """

    def compute(mix):
        G, lw = mix.gaussians, mix.log_weights
        KL = kl_matrix(G)
        Z, BC = log_overlaps(G, G)  # G is G: symmetric, half the work
        ov = seg_lse_cols(Z + lw, np.array([0]))[:, 0]
        return {
            "kl": seg_lse_cols(lw - KL, np.array([0]))[:, 0],
            "overlap": ov,
            "log_sq": float(seg_lse_cols((lw + ov)[None], np.array([0]))[0, 0]),
        }

    return m.cached("self_terms", compute)
