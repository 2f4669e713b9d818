"""Rényi divergences and their relatives between Gaussians (internal kernels).

Bhattacharyya is half the Rényi divergence of order 1/2 and Hellinger is
``sqrt(1 - exp(-Bhattacharyya))`` (see ``skkl._kernels``' derived kinds).
The direct form compares the log-determinant of the pair's mixture
``Sa = alpha S1 + (1 - alpha) S0`` with those of the two covariances, and
its Mahalanobis term ``dm' Sa^{-1} dm`` comes out of the same Cholesky
factorisation (of ``Sa`` augmented by ``dm``). Where its error bound says the
log-determinant difference cancels (nearly equal pairs), the eigenvalues of
the whitened ``A A' - I`` (``A = L1^{-1} L0``) give the term instead, through
a series that keeps the relative accuracy of small values.
"""

from __future__ import annotations

import math

import numpy as np

from ._errors import InputError, Setting
from ._kernels import (
    EPS,
    NEAR_RTOL,
    Operand,
    gather_pairs,
    kl_diag,
    kl_full,
    overflow_error,
)
from ._linalg import cholesky_or_nan, logdet_from_cholesky, solve_lower

__all__ = ["log_mix_over_c", "renyi_diag", "renyi_full"]


def _solve_vec(L: np.ndarray, v: np.ndarray) -> np.ndarray:
    return solve_lower(L, v[..., None])[..., 0]


# Below this |mu| max(1, |c|) the log-determinant term takes its series, whose
# terms then shrink at least tenfold: 20 terms reach float64 precision.
_SERIES_BELOW = 0.1
_SERIES_TERMS = 20

_RENYI_HINT = (
    "the Renyi divergence is infinite for this pair: use 0 < {alpha} < 1, for "
    "which it is always finite."
)


def log_mix_over_c(mu: np.ndarray, c: float, log1p_mu=None) -> np.ndarray:
    """``(log1p(c mu) - c log1p(mu)) / c`` elementwise, accurate for small ``mu``.

    Per eigenvalue ``1 + mu`` of S1^{-1} S0, this is the Renyi log-determinant
    term with ``c = 1 - alpha`` (requires ``c != 0`` and ``1 + c mu > 0``).
    ``log1p_mu``, when given, is ``log1p(mu)`` known more accurately than ``mu``
    (``mu = expm1(t)`` loses ``t`` for ``t << 0``, and overflows for
    ``t >> 0``: then, for ``c > 0``, ``log1p(c mu)`` is taken in log space).
    """
    mu = np.asarray(mu, dtype=np.float64)
    log1p_mu = np.log1p(mu) if log1p_mu is None else log1p_mu
    out = np.empty_like(mu)
    small = np.abs(mu) * max(1.0, abs(c)) < _SERIES_BELOW
    big = ~small
    log_cmu = np.log1p(c * mu[big])
    huge = ~np.isfinite(log_cmu)
    if np.any(huge) and c > 0:
        # 1 + c mu = (1 - c) + c (1 + mu) with log(1 + mu) = log1p_mu finite.
        t = log1p_mu[big][huge]
        log_cmu[huge] = np.logaddexp(np.log1p(-c), np.log(c) + t)
    out[big] = (log_cmu - c * log1p_mu[big]) / c
    # sum_{n>=2} (1 - c^(n-1)) (-mu)^n / n: terms shrink >= 10x, 20 suffice.
    ms = mu[small]
    power, c_pow, total = -ms, 1.0, np.zeros_like(ms)
    for n in range(2, 2 + _SERIES_TERMS):
        power = power * -ms
        c_pow *= c
        total += (1.0 - c_pow) * power / n
    out[small] = total
    return out


def _renyi_log_near(L0: np.ndarray, L1: np.ndarray, alpha: float) -> np.ndarray:
    """Rényi log-determinant term from the eigenvalues of ``E = A A' - I``.

    ``A = L1^{-1} L0``; ``E`` is formed from ``F = A - I`` so that it is
    accurate to ~eps absolute and the series of :func:`log_mix_over_c` keeps
    the relative accuracy of small terms (nearly equal pairs).
    """
    d = L0.shape[-1]
    F = solve_lower(L1, L0)
    F[..., np.arange(d), np.arange(d)] -= 1.0
    E = F + np.swapaxes(F, -1, -2) + F @ np.swapaxes(F, -1, -2)
    mu = np.linalg.eigvalsh(E)
    return 0.5 * log_mix_over_c(mu, 1.0 - alpha).sum(-1)


# Last diagonal entry of the augmented mixture [[Sa, .], [dm', _AUGMENTED]]:
# the last row of its Cholesky factor is R^{-1} dm (the forward substitution
# of the quadratic term, done inside the factorisation), and its last pivot
# _AUGMENTED - |R^{-1} dm|^2 stays positive for any finite quadratic term.
_AUGMENTED = np.finfo(np.float64).max
# Pairs per batched factorisation in the Renyi kernels, as bytes of their
# augmented matrices and factors (2 x 8 (d + 1)^2 a pair): large enough that
# the Python work of a tile (tens of numpy calls, under the GIL) stays small
# beside its factorisations (which release it), so threads overlap.
_FACTOR_BLOCK_BYTES = 2**22
# Columns of a tile, as bytes of their covariances: the tile's rows reread
# them from the per-core (L2) cache instead of the shared one, whose
# bandwidth two threads would split.
_TILE_COLUMN_BYTES = 2**18


def _augmented(S0c, S1a, dm, d: int, buffer: np.ndarray) -> np.ndarray:
    """Stack of augmented matrices ``[[S0c + S1a, .], [dm', _AUGMENTED]]``.

    Each pair's entries are one contiguous run ``[Sa (d*d), dm (d),
    _AUGMENTED]`` at the start of the flat ``buffer`` (reused by the caller),
    viewed as a (d + 1) x (d + 1) matrix with row stride d: entry (i, j)
    sits at ``i d + j``, so the lower triangle reads ``Sa``, then ``dm`` and
    ``_AUGMENTED`` in the last row, while the strict upper triangle (never
    read by a lower Cholesky factorisation) aliases other entries. Writing
    ``Sa`` as contiguous runs of d*d, not as d rows of d, is what makes
    forming the mixtures cheap. Operands are (..., d, d) and (..., d) arrays
    of one batch shape, possibly broadcast views.
    """
    batch = dm.shape[:-1]
    run = d * d + d + 1
    E = buffer[: math.prod(batch) * run].reshape(*batch, run)
    np.add(S0c.reshape(*batch, d * d), S1a.reshape(*batch, d * d), out=E[..., : d * d])
    E[..., d * d : d * d + d] = dm
    E[..., -1] = _AUGMENTED
    item = E.itemsize
    return np.ndarray(
        (*batch, d + 1, d + 1),
        buffer=E,
        strides=(*E.strides[:-1], d * item, item),
    )


def _mixture_logdet(S0, S1, dm, alpha):
    """``(ldR, y)``: log-determinants of ``Sa = alpha S1 + (1 - alpha) S0`` and
    ``R^{-1} dm`` (``R`` the Cholesky factor of ``Sa``), per broadcast pair.

    Batched factorisations of the (d + 1) x (d + 1) augmented matrices give
    both, tiles of about ``_FACTOR_BLOCK_BYTES`` of them at a time (over the
    last two batch axes) so that the matrices and their factors stay in
    cache. Pairs whose augmented factorisation fails are factored again
    without the extra row: a failure there means the mixture itself is not
    positive definite (possible for alpha > 1), reported by pair index.
    """
    c = 1.0 - alpha
    d = dm.shape[-1]
    shape = np.broadcast_shapes(S0.shape[:-2], S1.shape[:-2], dm.shape[:-1])
    grid = (1, 1, *shape)[-max(2, len(shape)) :]
    # Scale the operands before they broadcast: no pass over the pairs.
    A = np.broadcast_to(c * S0, (*grid, d, d))
    B = np.broadcast_to(alpha * S1, (*grid, d, d))
    M = np.broadcast_to(dm, (*grid, d))
    ldR, y = np.empty(grid), np.empty((*grid, d))
    pairs = max(1, _FACTOR_BLOCK_BYTES // (2 * 8 * (d + 1) ** 2))
    cols = min(grid[-1], pairs, max(1, _TILE_COLUMN_BYTES // (8 * d * d)))
    rows = max(1, min(grid[-2], pairs // cols))
    # One pair of buffers for every tile: fresh pages per tile would fault
    # in on every factorisation, and threads pay for those faults together.
    E_buf = np.empty(rows * cols * (d * d + d + 1))
    F_buf = np.empty(rows * cols * (d + 1) ** 2)
    for lead in np.ndindex(*grid[:-2]):
        for r in range(0, grid[-2], rows):
            for k in range(0, grid[-1], cols):
                at = (*lead, slice(r, r + rows), slice(k, k + cols))
                E = _augmented(A[at], B[at], M[at], d, E_buf)
                F = F_buf[: E.size].reshape(E.shape)
                cholesky_or_nan(E, out=F)
                ldR[at] = logdet_from_cholesky(F[..., :d, :d])
                y[at] = F[..., d, :d]
    # A failed factor is NaN; its log-determinant too.
    failed = ~np.isfinite(ldR)
    if failed.any():
        diag = A.diagonal(0, -2, -1) + B.diagonal(0, -2, -1)
        if not np.isfinite(diag).all():
            raise overflow_error()  # not a failure of positive-definiteness
        idx = np.flatnonzero(failed)
        ldR.reshape(-1)[idx], y.reshape(-1, d)[idx] = _refactor(
            idx, A, B, M, shape, alpha
        )
    return ldR.reshape(shape), y.reshape(*shape, d)


def _refactor(idx, A, B, M, shape, alpha):
    """``(ldR, y)`` at the flat pair indices ``idx`` from the plain mixture factor."""
    d = M.shape[-1]

    def flat(x, tail):  # gathers only the pairs idx, even of a broadcast view
        return x[np.unravel_index(idx, x.shape[: -len(tail)])]

    R = cholesky_or_nan(flat(A, (d, d)) + flat(B, (d, d)))
    ldR = logdet_from_cholesky(R)
    bad = ~np.isfinite(ldR)
    if bad.any():
        where = np.unravel_index(int(idx[np.argmax(bad)]), shape) if shape else ()
        index = f"[{', '.join(str(int(i)) for i in where)}]" if shape else ""
        # The formula names the order "a": the command spells it as its flag.
        raise InputError(
            "a * cov(q) + (1 - a) * cov(p) of pair{index} is not positive definite "
            "at the Renyi order a ({order}) (its Cholesky factorisation failed); "
            + _RENYI_HINT,
            argument="alpha",
            index=index,
            order=Setting("alpha", float(alpha)),
            alpha=Setting("alpha"),
        )
    return ldR, _solve_vec(R, flat(M, (d,)))


def _renyi_direct(S0, S1, ld0, ld1, dm, alpha):
    """Direct Rényi form: ``(quad, log_term, err)`` from the mixture's factor.

    ``err`` bounds the absolute rounding error of ``log_term``: the mixture
    is formed and factored with a backward error of ~(d + 2) eps relative to
    its scale, which moves its log-determinant by ~(d + 2) d eps when it is
    well conditioned after diagonal scaling (an ill-conditioned pair is
    sensitive to its own input rounding, whatever the form), and each of the
    three log-determinants carries ~eps times its magnitude.
    """
    c = 1.0 - alpha
    d = dm.shape[-1]
    ldR, y = _mixture_logdet(S0, S1, dm, alpha)
    log_term = (ldR - c * ld0 - alpha * ld1) / (2.0 * c)
    err = (
        EPS
        * ((d + 2.0) * d + np.abs(ldR) + abs(c) * np.abs(ld0) + alpha * np.abs(ld1))
        / abs(2.0 * c)
    )
    quad = 0.5 * alpha * np.einsum("...i,...i->...", y, y)
    return quad, log_term, err


def _renyi_from_parts(quad, log_term, err, near_log):
    """``quad + log_term``, with ``near_log(mask)`` where ``err`` is too large."""
    shape = np.broadcast_shapes(np.shape(quad), np.shape(log_term), np.shape(err))
    value = quad + np.maximum(log_term, 0.0)
    near = ~(err <= NEAR_RTOL * value)
    if np.any(near):
        log_term = np.broadcast_to(log_term, shape).copy()
        near = np.broadcast_to(near, shape)
        log_term[near] = near_log(near)
        value = quad + np.maximum(log_term, 0.0)
    return value


def renyi_full(p: Operand, q: Operand, alpha: float) -> np.ndarray:
    if alpha == 1.0:
        return kl_full(p, q)
    quad, log_term, err = _renyi_direct(
        p.cov, q.cov, p.logdet, q.logdet, q.mean - p.mean, alpha
    )

    def near_log(mask):
        return gather_pairs(
            mask,
            p.factor,
            q.factor,
            lambda L0, L1: _renyi_log_near(L0, L1, alpha),
            _FACTOR_BLOCK_BYTES,
        )

    return _renyi_from_parts(quad, log_term, err, near_log)


def renyi_diag(p: Operand, q: Operand, alpha: float) -> np.ndarray:
    if alpha == 1.0:
        return kl_diag(p, q)
    t = 2.0 * np.log(p.factor / q.factor)
    c = 1.0 - alpha
    if c < 0:  # alpha v1 + (1 - alpha) v0 = v1 (1 + c expm1(t)) must be > 0
        bad = c * np.expm1(t) <= -1.0
        if np.any(bad):
            where = tuple(np.argwhere(bad)[0].tolist())
            raise InputError(
                "a * var(q) + (1 - a) * var(p) is not positive at index {where} "
                "at the Renyi order a ({order}); " + _RENYI_HINT,
                argument="alpha",
                where=where,
                order=Setting("alpha", float(alpha)),
                alpha=Setting("alpha"),
            )
    log_term = 0.5 * log_mix_over_c(np.expm1(t), c, t).sum(-1)
    # Mixture variance alpha v1 + c v0, formed without overflow.
    mix = alpha * np.square(q.factor) + c * np.square(p.factor)
    maha = np.square(q.mean - p.mean) / mix
    return 0.5 * alpha * maha.sum(-1) + np.maximum(log_term, 0.0)
