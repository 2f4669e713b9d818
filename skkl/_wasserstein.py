"""Squared 2-Wasserstein distance between Gaussians (internal kernels).

``W2^2 = |m0 - m1|^2 + tr S0 + tr S1 - 2 ||L1' L0||_*``: the nuclear norm is
the sum of the square roots of the eigenvalues of ``M = L0' S1 L0`` (the
squared singular values of ``L1' L0``), with no matrix square root. Where a
rounding-error bound says the trace difference cancels (nearly equal
pairs), the equal Procrustes residual ``min_Q ||L0 - L1 Q||_F^2`` is used
instead.

W2^2 is not scale invariant: it scales with the square of the data. Each
Gaussian's factor is therefore scaled by a power of two near the square root
of its trace before any product, and the result scaled back, so products of
four factors neither underflow (data near 1e-100) nor overflow (near 1e100),
and data scaled by a power of two gives a result scaled exactly.
"""

from __future__ import annotations

import numpy as np

from ._kernels import EPS, NEAR_RTOL, Operand, gather_pairs, overflow_error

__all__ = ["wasserstein_diag", "wasserstein_full"]

# Pairs per batched eigenvalue problem: their d x d matrices and the
# eigensolver's copies stay in the per-core (L2) cache.
_EIG_BLOCK_BYTES = 2**19
# Each eigenvalue of the symmetric product is computed to
# _EIG_ERROR_FACTOR (d + 2) eps lam_max absolute: forming M and the
# symmetric eigensolver.
_EIG_ERROR_FACTOR = 4.0


def _exponent(tr: np.ndarray) -> np.ndarray:
    """Integer e with 2^e near sqrt(tr) (0 where tr is 0 or not finite)."""
    return np.frexp(np.sqrt(tr))[1]


def _congruence(F: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``F' S_k F`` for a stack ``S`` (n, d, d) and one ``F`` (d, d).

    Two large products instead of one small product per matrix: the stack is
    one (n d, d) operand, so BLAS runs at full speed. ``S_k F`` transposed is
    ``F' S_k``, so the second product gives ``F' S_k F`` directly.
    """
    d = F.shape[-1]
    T = S.reshape(-1, d) @ F  # rows of S_k F
    T = np.swapaxes(T.reshape(-1, d, d), -1, -2).reshape(-1, d)  # rows of F' S_k
    return (T @ F).reshape(-1, d, d)


def _products(L0: np.ndarray, S1: np.ndarray) -> np.ndarray:
    """``L0' S1 L0`` for a row of pairs (n, d, d): one ``L0`` or one per pair."""
    if L0.strides[0] == 0:  # one factor against many covariances
        return _congruence(L0[0], S1)
    return np.swapaxes(L0, -1, -2) @ S1 @ L0


def _roots(M: np.ndarray):
    """``(sum sqrt(lam), err)`` per matrix: the nuclear norm and its error bound.

    Each eigenvalue is computed to ``delta = c (d + 2) eps lam_max``
    absolute, so ``sqrt(lam_k)`` moves by at most ``delta / (sqrt(lam_k) +
    sqrt(delta))``; ``err`` sums those (a zero eigenvalue with a zero
    ``delta`` contributes 0).
    """
    d = M.shape[-1]
    lam = np.linalg.eigvalsh(M)
    delta = _EIG_ERROR_FACTOR * (d + 2.0) * EPS * np.maximum(lam[..., -1:], 0.0)
    root = np.sqrt(np.maximum(lam, 0.0))
    denominator = root + np.sqrt(delta)
    bound = np.zeros(denominator.shape)
    np.divide(delta, denominator, out=bound, where=denominator > 0)
    return root.sum(-1), bound.sum(-1)


def _nuclear(L0n, S1n, shape):
    """Nuclear norms of ``L1n' L0n`` (normalised operands) and their bounds.

    ``L0n`` and ``S1n`` broadcast to ``shape`` pairs; tiles of pairs that fit
    ``_EIG_BLOCK_BYTES`` are formed and solved at a time, a row of the last
    two batch axes sharing one ``L0n`` through :func:`_congruence`.
    """
    d = L0n.shape[-1]
    grid = (1, 1, *shape)[-max(2, len(shape)) :]
    A = np.broadcast_to(L0n, (*grid, d, d))
    S = np.broadcast_to(S1n, (*grid, d, d))
    nuclear, err = np.empty(grid), np.empty(grid)
    cols = max(1, _EIG_BLOCK_BYTES // (2 * 8 * d * d))
    for lead in np.ndindex(*grid[:-1]):
        for k in range(0, grid[-1], cols):
            at = (*lead, slice(k, k + cols))
            M = _products(A[at], S[at])
            if not np.isfinite(M).all():
                raise overflow_error("wasserstein")
            nuclear[at], err[at] = _roots(M)
    return nuclear.reshape(shape), err.reshape(shape)


def _procrustes(L0: np.ndarray, L1: np.ndarray) -> np.ndarray:
    """Bures term as ``min_Q ||L0 - L1 Q||_F^2`` (polar factor of ``L1' L0``).

    Equal to ``tr S0 + tr S1 - 2 ||L1' L0||_*`` but a norm of a difference:
    no cancellation for nearly equal pairs, at the price of a full SVD. Each
    pair is scaled by a power of two near its larger factor first (so the
    products neither underflow nor overflow), and the result scaled back.
    """
    tr = np.maximum(np.square(L0).sum((-2, -1)), np.square(L1).sum((-2, -1)))
    e = _exponent(tr)[..., None, None]
    L0, L1 = np.ldexp(L0, -e), np.ldexp(L1, -e)
    U, _, Vt = np.linalg.svd(np.swapaxes(L1, -1, -2) @ L0)
    residual = np.square(L0 - L1 @ (U @ Vt)).sum((-2, -1))
    return np.ldexp(residual, 2 * e[..., 0, 0])


def _bures_direct(p: Operand, q: Operand, tr0, tr1):
    """``(bures, err)`` from the eigenvalues of ``M = L0' S1 L0``, normalised.

    Every Gaussian is scaled by ``2^-e`` (``2^e`` near the square root of its
    trace), so ``M`` is of order one; the nuclear norm is scaled back by
    ``2^(e0 + e1)``. ``err`` adds the ~eps rounding of the traces.
    """
    e0, e1 = _exponent(tr0), _exponent(tr1)
    L0n = np.ldexp(p.factor, -e0[..., None, None])
    S1n = np.ldexp(q.cov, -2 * e1[..., None, None])
    shape = np.broadcast_shapes(L0n.shape[:-2], S1n.shape[:-2])
    nuclear, err = _nuclear(L0n, S1n, shape)
    scale = e0 + e1
    traces = tr0 + tr1
    bures = traces - 2.0 * np.ldexp(nuclear, scale)
    return bures, 2.0 * np.ldexp(err, scale) + 4.0 * EPS * traces


def wasserstein_full(p: Operand, q: Operand, alpha=None) -> np.ndarray:
    L0, L1 = p.factor, q.factor
    tr0 = np.trace(p.cov, axis1=-2, axis2=-1)
    tr1 = np.trace(q.cov, axis1=-2, axis2=-1)
    bures, err = _bures_direct(p, q, tr0, tr1)
    dist = np.square(q.mean - p.mean).sum(-1)
    shape = np.broadcast_shapes(bures.shape, dist.shape)
    bures = np.broadcast_to(bures, shape).copy()
    near = ~(np.broadcast_to(err, shape) <= NEAR_RTOL * (dist + np.maximum(bures, 0)))
    if np.any(near):
        bures[near] = gather_pairs(near, L0, L1, _procrustes, _EIG_BLOCK_BYTES)
    return dist + np.maximum(bures, 0.0)


def wasserstein_diag(p: Operand, q: Operand, alpha=None) -> np.ndarray:
    return np.square(q.mean - p.mean).sum(-1) + np.square(p.factor - q.factor).sum(-1)
