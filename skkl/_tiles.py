"""Tiles of an all-pairs divergence matrix (internal).

A :class:`Plan` holds everything a worker needs; :func:`tile` computes one
block ``[r0:r1, c0:c1]`` of the matrix, either from the one-GEMM KL formula
(entries whose error bound is too large recomputed by the pointwise kernel)
or by the pointwise kernels on broadcast slices (the other kinds). A
diagonal tile of a symmetric self-pairwise matrix computes its upper
triangle only and mirrors it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from . import _kernels as kernels
from ._blas import blas_threads_for, map_blocks, stack_threads
from ._kernels import Operand
from ._kl_gemm import GemmOperands, flagged
from .divergence import DIVERGENCES, DivergenceInfo

__all__ = ["Plan", "chunks", "row_block", "tile"]

# Square blocks for triangle operations: a 128 x 128 block of float64
# (128 KiB) and its transpose stay in the per-core cache.
_TRI_BLOCK = 128


@dataclass(frozen=True)
class Plan:
    """Everything a worker needs for a tile (picklable: kinds by name)."""

    kind: str
    alpha: float
    p: Operand
    q: Operand
    n_p: int
    n_q: int
    self_pairs: bool
    symmetric: bool
    directions: tuple
    gemm: GemmOperands | None
    rtol: float
    chunk: int
    pair_batch: int
    call_pairs: int

    @property
    def info(self) -> DivergenceInfo:
        return DIVERGENCES[self.kind]

    @property
    def n_features(self) -> int:
        return self.p.mean.shape[-1]

    def pair_flops(self, n_pairs: int) -> float:
        """Arithmetic of ``n_pairs`` pointwise evaluations (a d x d factor each)."""
        return n_pairs * self.n_features**3 / 3.0

    def flops(self) -> float:
        """Arithmetic of the whole matrix (the product, or a factor per pair)."""
        n_pairs = self.n_p * self.n_q
        if self.gemm is None:
            return self.pair_flops(n_pairs)
        return 2.0 * n_pairs * sum(R.shape[1] for R in self.gemm.R)


def chunks(n: int, size: int) -> list[tuple[int, int]]:
    """``(start, stop)`` ranges of at most ``size`` covering ``range(n)``."""
    size = max(1, int(size))
    return [(a, min(a + size, n)) for a in range(0, n, size)]


# -- pointwise evaluation ------------------------------------------------------


def pointwise(plan: Plan, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Divergences of the pairs (P[i[k]], Q[j[k]]) by the pointwise kernel."""
    out = np.empty(i.size)
    with stack_threads(plan.pair_flops(i.size)):
        for lo, hi in chunks(i.size, plan.pair_batch):
            out[lo:hi] = kernels.compute_pairs(
                plan.info, plan.p, plan.q, i[lo:hi], j[lo:hi], plan.alpha
            )
    return out


def _pairs_tile(plan: Plan, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Block ``[r0:r1, c0:c1]`` by the pointwise kernels, on broadcast slices.

    Rows ``P[a:b]`` (as a column of operands) meet columns ``Q[lo:hi]`` in
    one broadcast kernel call: slices are views, so nothing is gathered, and
    a call holds about ``call_pairs`` pairs (the kernels of these kinds go
    through them in cache-sized tiles themselves). In a diagonal
    tile of a symmetric self-pairwise matrix, a block of rows starts its
    columns at its first row: only the upper triangle (and a small square per
    block) is computed; the rest is mirrored by the caller. Row blocks write
    disjoint rows of the result, so they share out over threads.
    """
    out = np.zeros((r1 - r0, c1 - c0))
    triangle = plan.symmetric and r0 == c0
    info = plan.info
    # Square-ish calls: the per-Gaussian temporaries of a call (rows plus
    # columns) stay small beside its per-pair ones (rows times columns).
    rows_per_call = max(1, min(math.isqrt(plan.call_pairs), r1 - r0))

    def row_block(a, b):
        p = plan.p.rows(r0 + a, r0 + b)
        # Diagonal entries are exactly 0 (set below): a single row skips its own.
        start = (c0 + a + (b - a == 1)) if triangle else c0
        cols = max(1, plan.call_pairs // (b - a))
        for lo, hi in chunks(c1 - start, cols):
            q = plan.q.cols(start + lo, start + hi)
            values = kernels.compute(info, *kernels.align(p, q), plan.alpha)
            out[a:b, start - c0 + lo : start - c0 + hi] = values

    n_pairs = (r1 - r0) * (c1 - c0) // (2 if triangle else 1)
    flops = plan.pair_flops(n_pairs)
    map_blocks(row_block, chunks(r1 - r0, rows_per_call), flops)
    if plan.self_pairs:
        idx = np.arange(max(r0, c0), min(r1, c1))
        out[idx - r0, idx - c0] = 0.0
    return out


# -- triangles ---------------------------------------------------------------------


def _fill_lower(M: np.ndarray, value) -> None:
    """``M[i, j] = value`` for ``j <= i`` (lower triangle and diagonal), blocked."""
    for a, b in chunks(M.shape[0], _TRI_BLOCK):
        M[a:b, :a] = value
        sub = M[a:b, a:b]
        sub[np.tril_indices(b - a)] = value


def _mirror_upper(M: np.ndarray) -> None:
    """Copy the strict upper triangle of square ``M`` onto the lower, blocked."""
    for a, b in chunks(M.shape[0], _TRI_BLOCK):
        for c, e in chunks(a, _TRI_BLOCK):
            M[a:b, c:e] = M[c:e, a:b].T
        sub = M[a:b, a:b]
        lower = np.tril_indices(b - a, -1)
        sub[lower] = sub.T[lower]


def _add_transpose_upper(M: np.ndarray) -> None:
    """``M[i, j] += M[j, i]`` on the upper triangle (diagonal included), blocked.

    The lower triangle is read but left as it was (the caller mirrors).
    """
    for a, b in chunks(M.shape[0], _TRI_BLOCK):
        sub = M[a:b, a:b]
        sub += sub.T.copy()
        for c, e in chunks(M.shape[0], _TRI_BLOCK):
            if c > a:
                M[a:b, c:e] += M[c:e, a:b].T


# -- GEMM tiles --------------------------------------------------------------------


def _product(g: GemmOperands, r0, r1, c0, c1, both: bool, out) -> np.ndarray:
    """``sum_k R[k][r0:r1] @ C[k][c0:c1].T`` (one direction, then ``V + V'``)."""
    parts = 1 if both else len(g.R)
    width = sum(R.shape[1] for R in g.R[:parts])
    # A small product gains little from BLAS threads and, on a busy machine,
    # loses much more waiting for them: one thread below SINGLE_THREAD_FLOPS.
    with blas_threads_for(2.0 * (r1 - r0) * (c1 - c0) * width):
        with np.errstate(over="ignore", invalid="ignore"):
            value = np.matmul(g.R[0][r0:r1], g.C[0][c0:c1].T, out=out)
            for R, C in zip(g.R[1:parts], g.C[1:parts], strict=True):
                value += R[r0:r1] @ C[c0:c1].T
            if both:
                _add_transpose_upper(value)
    return value


def _nonfinite(value: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """Indices of NaN or infinite entries, or None (one reduction decides)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if np.isfinite(np.add.reduce(value, axis=None)):
            return None
    return np.nonzero(~np.isfinite(value))


def _gemm_tile(plan: Plan, r0, r1, c0, c1, out=None) -> np.ndarray:
    g = plan.gemm
    upper = plan.symmetric and r0 == c0 and r1 == c1
    # Both directions in a diagonal tile of a self-pairwise matrix: the
    # 'rev' block is the transpose of the 'fwd' one, so one product of half
    # the width gives D = V + V'. The error bound of the stacked operands
    # covers both terms.
    value = _product(g, r0, r1, c0, c1, upper and len(g.R) == 2, out)
    # An overflowed entry goes to the pointwise kernel, which either computes
    # it or raises a clear overflow error: never a silent inf.
    bad = _nonfinite(value)
    # Entries that need no value get +inf, which passes the bound test: the
    # diagonal of a self-pairwise matrix and, in a diagonal tile of a
    # symmetric one, the lower triangle (mirrored by the caller).
    diag = None
    if plan.self_pairs and r0 < c1 and c0 < r1:
        idx = np.arange(max(r0, c0), min(r1, c1))
        diag = (idx - r0, idx - c0)
        if upper:
            _fill_lower(value, np.inf)
        else:
            value[diag] = np.inf
    # Recompute every entry whose rounding-error bound exceeds rtol * |value|.
    ii, jj = flagged(g, value, r0, c0)
    if bad is not None:
        ii, jj = np.concatenate([ii, bad[0]]), np.concatenate([jj, bad[1]])
        keep = (ii + r0 != jj + c0) if diag is not None else slice(None)
        if upper:
            keep = ii < jj
        ii, jj = ii[keep], jj[keep]
        if ii.size:  # one pair once, in row-major order
            ii, jj = np.unravel_index(
                np.unique(np.ravel_multi_index((ii, jj), value.shape)), value.shape
            )
    if ii.size:
        value[ii, jj] = pointwise(plan, ii + r0, jj + c0)
    if diag is not None:
        value[diag] = 0.0
    return value


def tile(plan: Plan, r0, r1, c0, c1, out=None) -> np.ndarray:
    """Block ``[r0:r1, c0:c1]`` of the matrix (written into ``out`` if given)."""
    if plan.gemm is not None:
        result = _gemm_tile(plan, r0, r1, c0, c1, out)
    else:
        result = _pairs_tile(plan, r0, r1, c0, c1)
        if out is not None:
            out[...] = result
            result = out
    if plan.symmetric and r0 == c0:
        # Diagonal tile of a symmetric self-pairwise matrix: mirror the upper
        # triangle (the diagonal is 0).
        _mirror_upper(result)
    return result


def row_block(plan: Plan, r0: int, r1: int) -> np.ndarray:
    """Rows r0:r1 of the full matrix."""
    if not plan.symmetric:
        return tile(plan, r0, r1, 0, plan.n_q)
    # Same tiles as pairwise_divergence computes, so both agree bit for bit.
    parts = []
    for c0, c1 in chunks(plan.n_q, plan.chunk):
        if c0 < r0:
            parts.append(tile(plan, c0, c1, r0, r1).T)
        else:
            parts.append(tile(plan, r0, r1, c0, c1))
    return np.hstack(parts)
