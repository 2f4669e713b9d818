"""All-pairs divergences between two batches of Gaussians.

KL, reverse KL and Jeffreys come from one matrix product per block of rows
(see the user guide): with centred means, ``A_i = S_i + m_i m_i'`` and
precisions ``P_j = L_j^{-T} L_j^{-1}``,

    2 KL_ij = <A_i, P_j> - 2 m_i' P_j m_j + m_j' P_j m_j + logdet S_j
              - logdet S_i - d,

and the first two terms are one GEMM of packed operands. Each entry also gets
a bound on its rounding error from the magnitudes of its terms; entries whose
bound exceeds ``rtol * |value|`` are recomputed with the stable pointwise
kernel, so the matrix is as accurate as :func:`skkl.divergence` everywhere.
The other kinds need a factorisation per pair and are evaluated by the
pointwise kernels over blocks of index pairs.

Work is cut into blocks of rows sized from ``working_memory`` and sent
through scikit-learn's ``Parallel``; with a self-pairwise symmetric kind the
blocks are square tiles of the upper triangle, mirrored, so the result is
exactly symmetric.
"""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from joblib import effective_n_jobs
from sklearn import get_config
from sklearn.utils.parallel import Parallel, delayed

from . import _kernels as kernels
from ._blas import (
    blas_single_thread,
    blas_thread_count,
    blas_threads_for,
    get_chunk_n_rows,
)
from ._gaussians import Gaussians
from ._kernels import Operand
from ._linalg import inv_lower, solve_lower
from .divergence import DIVERGENCES, DivergenceInfo, get_divergence

__all__ = ["pairwise_divergence", "pairwise_divergence_chunked"]

_EPS = np.finfo(np.float64).eps
# Bytes of intermediates per output entry: GEMM kinds hold the product and
# room for flagged indices (bounds use a small reused buffer); other kinds
# hold the entry and its two pair indices.
_GEMM_ENTRY_BYTES = 2 * 8
_PAIR_ENTRY_BYTES = 3 * 8
# Scratch buffer for the rounding-error bounds of a few rows at a time.
_BOUND_BLOCK_BYTES = 2**20
# Bytes of one (d, d) (or (d,)) temporary per pointwise kernel call.
_PAIR_BLOCK_BYTES = 2**21
# Per-Gaussian operands are built this many bytes of (d, d) stack at a time.
_OPERAND_BLOCK_BYTES = 2**21


@dataclass(frozen=True)
class _KLParts:
    """Per-Gaussian pieces of the KL formula for one batch (centred means).

    ``a`` is the batch as first KL argument, ``[A_i, m_i, 1, ld_i]`` with
    ``A_i = S_i + m_i m_i'`` packed (off-diagonals doubled), and ``b`` as
    second argument, ``[P_j, -2 P_j m_j, c_j + ld_j + const, -1] / 2`` with
    ``c_j = m_j' P_j m_j``, so ``a_i . b_j = KL(i || j)``; ``ld`` are the
    log-determinants and ``const`` is ``-d`` (0 for a shared covariance, whose
    trace term is left out). For full covariances the sum of the magnitudes
    of the products in ``<A_i, P_j> - 2 m_i' P_j m_j`` is at most
    ``t (t + 2 s_j) <= (t + s_j)^2`` with ``t = aabs_i . babs_j``
    (Cauchy-Schwarz on positive semi-definite matrices); diagonal and shared
    covariances need no magnitude vectors.
    """

    a: np.ndarray | None
    aabs: np.ndarray | None
    b: np.ndarray | None
    babs: np.ndarray | None
    s: np.ndarray | None
    c: np.ndarray | None
    ld: np.ndarray
    const: float


@dataclass(frozen=True)
class _GemmOperands:
    """Row blocks ``R`` (from P) and column blocks ``C`` (from Q), one per
    direction, with ``D = sum_k R[k] @ C[k].T``.

    The constant terms, the 1/2 and, for Jeffreys, both directions are folded
    into the products, and the accuracy test is one comparison per entry: an
    entry is recomputed when ``D < (Rabs @ Cabs.T) ** 2`` (full covariances)
    or ``D < rthr_i + cthr_j`` (diagonal or shared covariances), thresholds
    already divided by ``rtol``. ``None`` thresholds recompute everything.
    """

    R: tuple
    C: tuple
    Rabs: np.ndarray | None = None
    Cabs: np.ndarray | None = None
    rthr: np.ndarray | None = None
    cthr: np.ndarray | None = None


@dataclass(frozen=True)
class _Plan:
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
    gemm: _GemmOperands | None
    rtol: float
    chunk: int
    pair_batch: int

    @property
    def info(self) -> DivergenceInfo:
        return DIVERGENCES[self.kind]


# -- operands ----------------------------------------------------------------


def _chunks(n: int, size: int):
    size = max(1, int(size))
    return [(a, min(a + size, n)) for a in range(0, n, size)]


def _variances(G: Gaussians) -> np.ndarray:
    if G.covariance_type == "diag":
        return G.covariances
    return np.broadcast_to(G.covariances[:, None], G.means.shape)


def _with_tails(a, b, c, ld, const) -> tuple:
    """Constant columns: ``[a, 1, ld]`` and ``[b, c + ld + const, -1] / 2``."""
    one = np.ones((len(ld), 1))
    a = None if a is None else np.hstack([a, one, ld[:, None]])
    if b is not None:
        b = 0.5 * np.hstack([b, (c + ld + const)[:, None], -one])
    return a, b


def _diag_operands(G: Gaussians, m: np.ndarray) -> _KLParts:
    # Diagonal covariances: K x 2d operands; bounds need only c and ld.
    var = _variances(G)
    z = m / G.std()
    c = np.sum(z * z, axis=1)
    const = -float(m.shape[1])
    a, b = _with_tails(
        np.hstack([var + m * m, m]),
        np.hstack([1.0 / var, -2.0 * (m / var)]),
        c,
        G.logdet,
        const,
    )
    return _KLParts(a, None, b, None, None, c, G.logdet, const)


def _tied_operands(G: Gaussians, m: np.ndarray) -> _KLParts:
    # Shared covariance: KL_ij = |z_i - z_j|^2 / 2 with z = L^{-1} m, a
    # Mahalanobis GEMM of the whitened means (the trace term is exactly d).
    z = solve_lower(G.cholesky, m.T).T
    n2 = np.sum(z * z, axis=1)
    ones = np.ones((len(m), 1))
    a, b = _with_tails(
        np.hstack([z, n2[:, None]]), np.hstack([-2.0 * z, ones]), n2, G.logdet, 0.0
    )
    return _KLParts(a, None, b, None, None, n2, G.logdet, 0.0)


@functools.cache
def _packing(d: int):
    """Flat indices of the upper triangle of a d x d matrix, and its weights.

    ``np.take`` of a (n, d*d) view on flat indices is several times faster
    than 2-D fancy indexing; the weights double the off-diagonal entries.
    """
    rows, cols = np.triu_indices(d)
    weight = np.where(rows == cols, 1.0, 2.0)
    for x in (rows, cols, weight):
        x.flags.writeable = False
    return rows, cols, rows * d + cols, weight


def _threaded(func, arglist, threads: int) -> None:
    """``func(*args)`` for each args, on up to ``threads`` Python threads."""
    threads = min(threads, len(arglist))
    if threads <= 1:
        for args in arglist:
            func(*args)
        return
    with ThreadPoolExecutor(max_workers=threads) as pool:
        for future in [pool.submit(func, *args) for args in arglist]:
            future.result()


def _full_operands(G: Gaussians, m: np.ndarray, roles, threads: int) -> _KLParts:
    """KL pieces for full (or tied, or promoted diagonal) covariances.

    Only what ``roles`` needs is built: 'p' (first argument) needs the
    packed second moments A, 'q' (second argument) the packed precisions
    ``P = W' W`` with ``W = L^{-1}`` from the batched triangular inverse.
    Both are written straight into their final (K, n + d + 2) buffers, a
    block of Gaussians at a time so that temporaries stay in cache.
    """
    K, d = m.shape
    rows, cols, flat, weight = _packing(d)
    n = rows.size
    as_p, as_q = "p" in roles, "q" in roles
    tied = G.covariance_type == "tied"
    a = np.empty((K, n + d + 2)) if as_p else None
    aabs = np.empty((K, d)) if as_p else None
    b = np.empty((K, n + d + 2)) if as_q else None
    babs = np.empty((K, d)) if as_q else None
    c = np.empty(K) if as_q else None
    if tied:
        L_all = G.cholesky
        S_all = G.covariances
    else:
        L_all = G.full_cholesky()
        S_all = G.covariances if G.covariance_type == "full" else None
    if as_q and tied:
        W_tied = inv_lower(L_all)
        P_tied = W_tied.T @ W_tied

    def block(lo, hi):
        mb = m[lo:hi]
        if as_p:
            if S_all is None:  # promoted diagonal: S = L L'
                L = L_all[lo:hi]
                S = (L @ np.swapaxes(L, -1, -2)).reshape(-1, d * d)
            else:
                S = (S_all if tied else S_all[lo:hi]).reshape(-1, d * d)
            # Packed A = S + m m' without forming the (n, d, d) stack.
            A = np.take(mb, rows, axis=1)
            A *= np.take(mb, cols, axis=1)
            A += np.take(S, flat, axis=1)
            A *= weight
            a[lo:hi, :n] = A
            a[lo:hi, n : n + d] = mb
            aabs[lo:hi] = np.sqrt(S[:, :: d + 1] + mb * mb)
        if as_q:
            if tied:
                P = P_tied.reshape(1, d * d)
                z = mb @ W_tied.T
                v = z @ W_tied
            else:
                W = inv_lower(L_all[lo:hi])
                Wt = np.swapaxes(W, -1, -2)
                P = np.matmul(Wt, W).reshape(-1, d * d)
                z = np.matmul(W, mb[:, :, None])[..., 0]
                v = np.matmul(Wt, z[:, :, None])[..., 0]
            b[lo:hi, :n] = np.take(P, flat, axis=1)
            b[lo:hi, n : n + d] = -2.0 * v
            babs[lo:hi] = np.sqrt(P[:, :: d + 1])
            c[lo:hi] = np.sum(z * z, axis=1)

    # Blocks of about 2 MiB per (block, d, d) temporary stay in cache; they
    # write disjoint rows, so threads (numpy releases the GIL) share them.
    blocks = _chunks(K, max(8, _OPERAND_BLOCK_BYTES // (8 * d * d)))
    _threaded(block, blocks, threads)
    const = -float(d)
    if as_p:
        a[:, n + d] = 1.0
        a[:, n + d + 1] = G.logdet
    if as_q:
        b[:, n + d] = c + G.logdet + const
        b[:, n + d + 1] = -1.0
        b *= 0.5  # exact: a power of two
    return _KLParts(
        a=a,
        aabs=aabs,
        b=b,
        babs=babs,
        s=np.sum(np.abs(m) * babs, axis=1) if as_q else None,
        c=c,
        ld=G.logdet,
        const=const,
    )


def _gemm_structure(P: Gaussians, Q: Gaussians, q_is_p: bool) -> str:
    types = {P.covariance_type, Q.covariance_type}
    if types <= {"diag", "spherical"}:
        return "diag"
    if types == {"tied"} and (q_is_p or np.array_equal(P.covariances, Q.covariances)):
        return "tied"
    return "full"


def _kl_operands(G, structure, centre, roles, threads=1) -> _KLParts:
    m = G.means - centre
    if structure == "diag":
        return _diag_operands(G, m)
    if structure == "tied":
        return _tied_operands(G, m)
    return _full_operands(G, m, roles, threads)


def _role(X: _KLParts, role: str, structure: str, d: int, k: float):
    """Vectors of a batch as first (``role='p'``) or second ('q') KL argument.

    As p: ``[a, 1, ld]``; as q: ``[b, c + ld + const, -1] / 2``, so their dot
    product is KL(p || q). Each role also carries magnitudes for the
    rounding-error bound (see :func:`_gemm_operands`).
    """
    one = np.ones((len(X.ld), 1))
    absld = np.abs(X.ld)
    if role == "p":
        vectors = X.a
        if structure == "full":
            # T = p_abs . q_abs with (t + s)^2 + (u_p + w_q) / k <= T^2
            # (sqrt(x + y) <= sqrt(x) + sqrt(y)), u, w covering the constants.
            u = (d + 4.0) * absld
            return vectors, np.hstack([X.aabs, one, np.sqrt(u / k)[:, None], one])
        # diag: all trace terms are positive and the mean terms are bounded by
        # the Mahalanobis distance and c (Cauchy-Schwarz): the magnitudes sum
        # to at most 10 KL + [2 |ld_p|] + [2 d + 2 |ld_q| + 6 c_q]. Shared
        # covariance: |z_p|^2 + 2 |z_p . z_q| + c_q <= 2 c_p + 3 c_q.
        return vectors, 2.0 * absld if structure == "diag" else 2.0 * X.c + absld
    vectors = X.b
    if structure == "full":
        w = (d + 4.0) * (X.c + absld) + 4.0 * d
        return vectors, np.hstack([X.babs, X.s[:, None], one, np.sqrt(w / k)[:, None]])
    if structure == "diag":
        return vectors, 2.0 * d + 2.0 * absld + 6.0 * X.c
    return vectors, 3.0 * X.c + absld


def _stack(parts):
    return parts[0] if len(parts) == 1 else np.hstack(parts)


def _gemm_operands(X: _KLParts, Y: _KLParts, structure, directions, d, rtol):
    inner = len(directions) * (X.a if X.a is not None else X.b).shape[1]
    # Probabilistic rounding-error constant of a length-n dot product,
    # lambda * sqrt(n) with lambda = 6 (Higham & Mary, SIAM J. Sci. Comput.
    # 2019: exceeded with probability < 1e-7), applied to rigorous majorants
    # of the magnitudes; d + 4 covers forming the operands. The worst-case
    # constant n is about 1e4 times looser than observed errors and would
    # send percents of well-conditioned pairs to the pointwise kernel.
    k = 6.0 * np.sqrt(inner) + d + 4.0
    e = 0.5 * _EPS * k  # |error| <= e * (sum of magnitudes)
    # 'fwd' is KL(P_i || Q_j): P as p, Q as q; 'rev' swaps the roles.
    row_roles = ["p" if dr == "fwd" else "q" for dr in directions]
    col_roles = ["q" if dr == "fwd" else "p" for dr in directions]
    cache = {}

    def role(G, r):
        key = (id(G), r)
        if key not in cache:
            cache[key] = _role(G, r, structure, d, k)
        return cache[key]

    rows = [role(X, r) for r in row_roles]
    cols = [role(Y, r) for r in col_roles]
    # One block per direction, summed by the tile products (no stacked copy).
    R = tuple(r[0] for r in rows)
    C = tuple(c[0] for c in cols)
    if structure == "full":
        if rtol == 0:
            return _GemmOperands(R, C)
        # Recompute when e * k * T^2 > rtol * value: fold sqrt(e / rtol) in.
        scale = np.sqrt(e / rtol)
        Rabs = scale * _stack([r[1] for r in rows])
        Cabs = scale * _stack([c[1] for c in cols])
        return _GemmOperands(R, C, Rabs=Rabs, Cabs=Cabs)
    # error <= e (gamma KL* + rmag_i + cmag_j) with KL* <= value + error, so
    # the value is within rtol when e (rmag_i + cmag_j) <= rho * value.
    gamma = 10.0 if structure == "diag" else 0.0
    rho = rtol * (1.0 - e * gamma) - e * gamma
    if rho <= 0:
        return _GemmOperands(R, C)
    rthr = (e / rho) * sum(r[1] for r in rows)
    cthr = (e / rho) * sum(c[1] for c in cols)
    return _GemmOperands(R, C, rthr=rthr, cthr=cthr)


# -- tiles -------------------------------------------------------------------


def _pointwise(plan: _Plan, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Divergences of the pairs (P[i[k]], Q[j[k]]) by the pointwise kernel."""
    out = np.empty(i.size)
    with blas_single_thread():
        for lo, hi in _chunks(i.size, plan.pair_batch):
            out[lo:hi] = kernels.compute_pairs(
                plan.info, plan.p, plan.q, i[lo:hi], j[lo:hi], plan.alpha
            )
    return out


def _pairs_tile(plan: _Plan, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    """Block ``[r0:r1, c0:c1]`` by the pointwise kernels, on broadcast slices.

    Rows ``P[a:b]`` (as a column of operands) meet columns ``Q[lo:hi]`` in
    one broadcast kernel call: slices are views, so nothing is gathered, and
    a call holds about ``pair_batch`` pairs (cache-sized). In a diagonal
    tile of a symmetric self-pairwise matrix, a block of rows starts its
    columns at its first row: only the upper triangle (and a small square per
    block) is computed; the rest is mirrored by the caller.
    """
    out = np.zeros((r1 - r0, c1 - c0))
    triangle = plan.symmetric and r0 == c0
    info = plan.info
    n_cols = c1 - c0
    rows_per_call = max(1, plan.pair_batch // n_cols)

    def row_block(a, b):
        p = plan.p.rows(r0 + a, r0 + b)
        # Diagonal entries are exactly 0 (set below): a single row skips its own.
        start = (c0 + a + (b - a == 1)) if triangle else c0
        cols = max(1, plan.pair_batch // (b - a))
        for lo, hi in _chunks(c1 - start, cols):
            q = plan.q.cols(start + lo, start + hi)
            values = kernels.compute(info, *kernels.align(p, q), plan.alpha)
            out[a:b, start - c0 + lo : start - c0 + hi] = values

    # Thousands of d x d factorisations: each on one BLAS thread, the row
    # blocks (disjoint rows of out) over as many threads as BLAS may use.
    threads = blas_thread_count()
    with blas_single_thread():
        _threaded(row_block, _chunks(r1 - r0, rows_per_call), threads)
    if plan.self_pairs:
        idx = np.arange(max(r0, c0), min(r1, c1))
        out[idx - r0, idx - c0] = 0.0
    return out


def _flagged(plan: _Plan, value: np.ndarray, r0: int, c0: int):
    """Indices of the tile entries whose rounding-error bound is too large.

    The bound is ``(Rabs @ Cabs.T) ** 2`` (full covariances) or
    ``rthr_i + cthr_j``, already divided by ``rtol``; it is evaluated a few
    rows at a time in one small reused buffer, which stays in cache (a fresh
    array as large as the tile costs as much as the product itself).
    """
    g = plan.gemm
    if g.Rabs is None and g.rthr is None:  # rtol too small: recompute all
        return np.nonzero(value != np.inf)
    with blas_single_thread():  # small products: threads only synchronise
        parts = list(_flag_rows(g, value, r0, c0))
    if not parts:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    return tuple(np.concatenate(x) for x in zip(*parts, strict=True))


def _flag_rows(g: _GemmOperands, value: np.ndarray, r0: int, c0: int):
    """Yield (rows, cols) of flagged entries, a few rows at a time."""
    n_rows, n_cols = value.shape
    c1 = c0 + n_cols
    step = max(1, _BOUND_BLOCK_BYTES // (8 * n_cols))
    buffer = np.empty((min(step, n_rows), n_cols))
    for a, b in _chunks(n_rows, step):
        bound = buffer[: b - a]
        if g.Rabs is not None:
            np.matmul(g.Rabs[r0 + a : r0 + b], g.Cabs[c0:c1].T, out=bound)
            with np.errstate(over="ignore"):
                np.multiply(bound, bound, out=bound)
        else:
            np.add.outer(g.rthr[r0 + a : r0 + b], g.cthr[c0:c1], out=bound)
        # KL is >= 0, so "not value >= bound" also catches every negative
        # value (its error is at least its magnitude) and every NaN.
        flag = ~(value[a:b] >= bound)
        if flag.any():
            i, j = np.nonzero(flag)
            yield i + a, j


# Square blocks for triangle operations: a transpose stays in cache.
_TRI_BLOCK = 128


def _triangle_blocks(n: int):
    """(a, b) row ranges of ``_TRI_BLOCK`` rows covering ``range(n)``."""
    return _chunks(n, _TRI_BLOCK)


def _fill_lower(M: np.ndarray, value) -> None:
    """``M[i, j] = value`` for ``j <= i`` (lower triangle and diagonal), blocked."""
    for a, b in _triangle_blocks(M.shape[0]):
        M[a:b, :a] = value
        sub = M[a:b, a:b]
        sub[np.tril_indices(b - a)] = value


def _mirror_upper(M: np.ndarray) -> None:
    """Copy the strict upper triangle of square ``M`` onto the lower, blocked."""
    for a, b in _triangle_blocks(M.shape[0]):
        for c, e in _triangle_blocks(a):
            M[a:b, c:e] = M[c:e, a:b].T
        sub = M[a:b, a:b]
        lower = np.tril_indices(b - a, -1)
        sub[lower] = sub.T[lower]


def _add_transpose_upper(M: np.ndarray) -> None:
    """``M[i, j] += M[j, i]`` on the upper triangle (diagonal included), blocked.

    The lower triangle is read but left as it was (the caller mirrors).
    """
    for a, b in _triangle_blocks(M.shape[0]):
        sub = M[a:b, a:b]
        sub += sub.T.copy()
        for c, e in _triangle_blocks(M.shape[0]):
            if c > a:
                M[a:b, c:e] += M[c:e, a:b].T


def _gemm_tile(plan: _Plan, r0, r1, c0, c1, out=None) -> np.ndarray:
    g = plan.gemm
    upper = plan.symmetric and r0 == c0 and r1 == c1
    # Both directions in a diagonal tile of a self-pairwise matrix: the
    # 'rev' block is the transpose of the 'fwd' one, so one product of half
    # the width gives D = V + V'. The error bound of the stacked operands
    # covers both terms.
    both = upper and len(g.R) == 2
    parts = 1 if both else len(g.R)
    width = sum(R.shape[1] for R in g.R[:parts])
    # A small product gains little from BLAS threads and, on a loaded
    # machine, loses much more waiting for them: run it on one thread.
    with blas_threads_for(2 * (r1 - r0) * (c1 - c0) * width):
        with np.errstate(over="ignore", invalid="ignore"):
            value = np.matmul(g.R[0][r0:r1], g.C[0][c0:c1].T, out=out)
            for R, C in zip(g.R[1:parts], g.C[1:parts], strict=True):
                value += R[r0:r1] @ C[c0:c1].T
            if both:
                _add_transpose_upper(value)
    # An overflowed entry goes to the pointwise kernel, which either computes
    # it or raises a clear overflow error: never a silent inf.
    nonfinite = ~np.isfinite(value)
    # Entries that need no value get +inf, which passes the bound test: the
    # diagonal of a self-pairwise matrix and, in a diagonal tile of a
    # symmetric one, the lower triangle (mirrored by the caller).
    diag = None
    if plan.self_pairs and r0 < c1 and c0 < r1:
        idx = np.arange(max(r0, c0), min(r1, c1))
        diag = (idx - r0, idx - c0)
        if upper:
            _fill_lower(value, np.inf)
            _fill_lower(nonfinite, False)
        else:
            value[diag] = np.inf
            nonfinite[diag] = False
    # Recompute every entry whose rounding-error bound exceeds rtol * |value|.
    ii, jj = _flagged(plan, value, r0, c0)
    if nonfinite.any():
        nonfinite[ii, jj] = True
        ii, jj = np.nonzero(nonfinite)
    if ii.size:
        value[ii, jj] = _pointwise(plan, ii + r0, jj + c0)
    if diag is not None:
        value[diag] = 0.0
    return value


def _tile(plan: _Plan, r0, r1, c0, c1, out=None) -> np.ndarray:
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


def _row_block(plan: _Plan, r0: int, r1: int) -> np.ndarray:
    """Rows r0:r1 of the full matrix."""
    if not plan.symmetric:
        return _tile(plan, r0, r1, 0, plan.n_q)
    # Same tiles as pairwise_divergence computes, so both agree bit for bit.
    parts = []
    for c0, c1 in _chunks(plan.n_q, plan.chunk):
        if c0 < r0:
            parts.append(_tile(plan, c0, c1, r0, r1).T)
        else:
            parts.append(_tile(plan, r0, r1, c0, c1))
    return np.hstack(parts)


# -- validation and planning -------------------------------------------------


def _check_gaussians(G, name: str) -> Gaussians:
    if not isinstance(G, Gaussians):
        raise TypeError(
            f"{name} must be a skkl.Gaussians (e.g. Gaussians(means, covariances, "
            f"covariance_type)), got {type(G).__name__}."
        )
    return G


def _make_plan(P, Q, kind, alpha, rtol, working_memory) -> _Plan:
    P = _check_gaussians(P, "P")
    self_pairs = Q is None or Q is P
    Q = P if Q is None else _check_gaussians(Q, "Q")
    if P.n_features != Q.n_features:
        raise ValueError(
            f"P has {P.n_features} features but Q has {Q.n_features}; divergences "
            "need Gaussians of the same dimension."
        )
    info = get_divergence(kind, alpha)
    if (
        not isinstance(rtol, numbers.Real)
        or isinstance(rtol, bool)
        or not 0 <= rtol < 1
    ):
        raise ValueError(
            f"rtol must be a real number in [0, 1), got {rtol!r} (0 recomputes "
            "every KL entry with the pointwise kernel)."
        )
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    if (
        not isinstance(working_memory, numbers.Real)
        or isinstance(working_memory, bool)
        or not 0 < working_memory < np.inf
    ):
        raise ValueError(
            "working_memory must be a finite positive number of MiB (e.g. 1024), "
            f"got {working_memory!r}."
        )
    budget = float(working_memory) * 2**20
    d = P.n_features
    n_p, n_q = len(P), len(Q)
    directions = info.gemm_directions
    gemm_kind = bool(directions)
    row_bytes = n_q * (_GEMM_ENTRY_BYTES if gemm_kind else _PAIR_ENTRY_BYTES)
    chunk = get_chunk_n_rows(
        row_bytes=min(row_bytes, budget),
        max_n_rows=max(n_p, n_q),
        working_memory=working_memory,
    )
    p, q = kernels.operand_from_gaussians(P), kernels.operand_from_gaussians(Q)
    full = "full" in (p.structure, q.structure)
    # Pairs per pointwise kernel call: each (d, d) temporary of a call stays
    # in cache (larger calls only add memory traffic).
    pair_batch = max(1, _PAIR_BLOCK_BYTES // (8 * (d * d if full else d)))
    kernels.check_singular(info, p, q)
    gemm = None
    if gemm_kind:
        structure = _gemm_structure(P, Q, self_pairs)
        centre = (P.means.sum(0) + (0 if self_pairs else Q.means.sum(0))) / (
            n_p + (0 if self_pairs else n_q)
        )
        # Per-Gaussian work: thousands of d x d products, each on one BLAS
        # thread, spread over as many Python threads as BLAS may use.
        threads = blas_thread_count()
        with blas_single_thread():
            # P is the first KL argument in 'fwd' (role p), the second in 'rev'.
            p_roles = {"p" if dr == "fwd" else "q" for dr in directions}
            q_roles = {"q" if dr == "fwd" else "p" for dr in directions}
            if self_pairs:
                X = Y = _kl_operands(P, structure, centre, p_roles | q_roles, threads)
            else:
                X = _kl_operands(P, structure, centre, p_roles, threads)
                Y = _kl_operands(Q, structure, centre, q_roles, threads)
        gemm = _gemm_operands(X, Y, structure, directions, d, float(rtol))
    return _Plan(
        kind=info.name,
        alpha=float(alpha) if info.uses_alpha else 0.5,
        p=p,
        q=q,
        n_p=n_p,
        n_q=n_q,
        self_pairs=self_pairs,
        symmetric=self_pairs and info.is_symmetric(alpha),
        directions=directions,
        gemm=gemm,
        rtol=float(rtol),
        chunk=chunk,
        pair_batch=pair_batch,
    )


def _check_n_jobs(n_jobs) -> None:
    """joblib's convention: None, or a non-zero integer (-1: all cores)."""
    if n_jobs is None:
        return
    if (
        not isinstance(n_jobs, numbers.Integral)
        or isinstance(n_jobs, bool)
        or not n_jobs
    ):
        raise ValueError(
            "n_jobs must be None or a non-zero integer (-1 uses every core), "
            f"got {n_jobs!r}."
        )


def _reduced_row_block(plan: _Plan, r0: int, r1: int, reduce_func):
    """Rows r0:r1 passed through ``reduce_func`` where they were computed."""
    reduced = reduce_func(_row_block(plan, r0, r1), r0)
    # As scikit-learn's pairwise_distances_chunked: None, or one sequence (or
    # a tuple of sequences) with one item per row of the block.
    if reduced is None:
        return None
    parts = reduced if isinstance(reduced, tuple) else (reduced,)
    for part in parts:
        if isinstance(part, tuple) or not hasattr(part, "__len__"):
            raise TypeError(
                f"reduce_func returned {type(part).__name__}; expected a sequence "
                f"(or a tuple of sequences) of length {r1 - r0}, one item per row."
            )
        if len(part) != r1 - r0:
            raise ValueError(
                f"reduce_func returned a sequence of length {len(part)} for a block "
                f"of {r1 - r0} rows; return one item per row."
            )
    return reduced


def _run(func, arglist, n_jobs) -> Iterator:
    """``func(*args)`` for each args, lazily and in order, through Parallel."""
    if len(arglist) == 1 and n_jobs in (None, 1):
        yield func(*arglist[0])
        return
    tasks = (delayed(func)(*args) for args in arglist)
    yield from Parallel(n_jobs=n_jobs, return_as="generator")(tasks)


# -- public API --------------------------------------------------------------


def pairwise_divergence_chunked(
    P: Gaussians,
    Q: Gaussians | None = None,
    kind: str = "kl",
    *,
    alpha: float = 0.5,
    n_jobs: int | None = None,
    rtol: float = 1e-10,
    working_memory: float | None = None,
    reduce_func: Callable | None = None,
) -> Iterator:
    """Row blocks of the matrix of divergences D(P[i], Q[j]).

    Like :func:`sklearn.metrics.pairwise_distances_chunked`, this yields
    consecutive blocks of rows whose intermediates fit in ``working_memory``,
    so any number of Gaussians can be processed with bounded memory (the
    per-Gaussian operands, of the size of the input, aside). Blocks are
    computed in parallel through scikit-learn's ``Parallel``; a joblib
    backend such as dask (``joblib.parallel_config(backend='dask')``) applies.

    Parameters
    ----------
    P : Gaussians of length K_P
        Row Gaussians.
    Q : Gaussians of length K_Q, default=None
        Column Gaussians; None means ``Q = P`` (then the diagonal is exactly
        0 and symmetric kinds are exactly symmetric). Covariance types may
        differ between P and Q.
    kind : str, default='kl'
        A key of :data:`skkl.DIVERGENCES`; entry (i, j) is
        ``skkl.divergence(P[i], Q[j], kind)``.
    alpha : float, default=0.5
        Order of the Rényi divergence (``kind='renyi'``).
    n_jobs : int, default=None
        Number of joblib workers over blocks; None means 1 unless inside a
        :func:`joblib.parallel_config` context.
    rtol : float, default=1e-10
        KL-type kinds: entries of the fast matrix-product formula whose
        rounding-error bound exceeds ``rtol * |value|`` are recomputed with
        the stable pointwise kernel. 0 recomputes every entry.
    working_memory : float, default=None
        MiB of intermediates per block; None uses
        ``sklearn.get_config()['working_memory']``.
    reduce_func : callable, default=None
        As in :func:`sklearn.metrics.pairwise_distances_chunked`:
        ``reduce_func(D_chunk, start)`` receives each block and the index of
        its first row, and its result is yielded instead of the block. It
        runs where the block was computed (inside the joblib worker), so only
        the reduced result travels. It must return None, or a sequence (or a
        tuple of sequences) with one item per row of the block. Any extra
        memory it allocates comes on top of ``working_memory``.

    Yields
    ------
    block : ndarray of shape (n_rows, K_Q), or what ``reduce_func`` returns
        Consecutive rows of the divergence matrix.

    See Also
    --------
    pairwise_divergence : The whole matrix at once.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import Gaussians, pairwise_divergence_chunked
    >>> G = Gaussians(np.arange(8.0).reshape(4, 2), np.ones((4, 2)), "diag")
    >>> blocks = list(pairwise_divergence_chunked(G, working_memory=1e-4))
    >>> [b.shape for b in blocks]
    [(1, 4), (1, 4), (1, 4), (1, 4)]
    >>> blocks[0]
    array([[ 0.,  4., 16., 36.]])
    >>> def nearest(D, start):  # index of the nearest other Gaussian per row
    ...     D[np.arange(len(D)), np.arange(start, start + len(D))] = np.inf
    ...     return D.argmin(axis=1)
    >>> np.concatenate(list(pairwise_divergence_chunked(G, reduce_func=nearest)))
    array([1, 0, 1, 2])
    """
    _check_n_jobs(n_jobs)
    if reduce_func is not None and not callable(reduce_func):
        raise TypeError(
            f"reduce_func must be a callable (D_chunk, start) or None, got "
            f"{type(reduce_func).__name__}."
        )
    plan = _make_plan(P, Q, kind, alpha, rtol, working_memory)
    chunks = _chunks(plan.n_p, plan.chunk)
    if reduce_func is None:
        yield from _run(_row_block, [(plan, r0, r1) for r0, r1 in chunks], n_jobs)
        return
    arglist = [(plan, r0, r1, reduce_func) for r0, r1 in chunks]
    yield from _run(_reduced_row_block, arglist, n_jobs)


def pairwise_divergence(
    P: Gaussians,
    Q: Gaussians | None = None,
    kind: str = "kl",
    *,
    alpha: float = 0.5,
    n_jobs: int | None = None,
    rtol: float = 1e-10,
    working_memory: float | None = None,
) -> np.ndarray:
    """Matrix of divergences D(P[i], Q[j]) between two batches of Gaussians.

    KL, reverse KL and Jeffreys are computed by one matrix product per block
    (cost ``K_P K_Q d^2``, at BLAS speed) with a rounding-error bound per
    entry; entries where that formula loses accuracy (nearly equal Gaussians,
    means far apart relative to the spreads) are recomputed with the stable
    pointwise kernel, so every entry is as accurate as :func:`skkl.divergence`
    on that pair. The other kinds run the pointwise kernels over blocks of
    pairs (cost ``K_P K_Q d^3``), over the upper triangle only when ``Q`` is
    None and the kind is symmetric.

    Parameters
    ----------
    P : Gaussians of length K_P
        Row Gaussians.
    Q : Gaussians of length K_Q, default=None
        Column Gaussians; None means ``Q = P``: the diagonal is exactly 0 and
        symmetric kinds give an exactly symmetric matrix. Covariance types
        may differ (they are promoted as in :func:`skkl.divergence`).
    kind : str, default='kl'
        A key of :data:`skkl.DIVERGENCES`: 'kl' (KL(P[i] || Q[j])),
        'reverse_kl', 'jeffreys', 'bhattacharyya', 'hellinger', 'renyi',
        'wasserstein' (squared 2-Wasserstein).
    alpha : float, default=0.5
        Order of the Rényi divergence (``kind='renyi'``).
    n_jobs : int, default=None
        Number of joblib workers over blocks; None means 1 unless inside a
        :func:`joblib.parallel_config` context (e.g. ``backend='dask'``).
    rtol : float, default=1e-10
        Relative accuracy asked of the matrix-product formula before an entry
        is recomputed pointwise (KL-type kinds). 0 recomputes every entry.
    working_memory : float, default=None
        MiB of intermediates per block; None uses
        ``sklearn.get_config()['working_memory']``.

    Returns
    -------
    D : ndarray of shape (K_P, K_Q)
        ``D[i, j] = skkl.divergence(P[i], Q[j], kind)``.

    See Also
    --------
    pairwise_divergence_chunked : The same matrix, one block of rows at a time.
    skkl.divergence : One divergence per broadcast pair.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import Gaussians, pairwise_divergence
    >>> G = Gaussians([[0.0, 0.0], [1.0, 0.0], [0.0, 3.0]],
    ...               [[1.0, 1.0], [4.0, 1.0], [1.0, 1.0]], "diag")
    >>> pairwise_divergence(G)
    array([[0.        , 0.44314718, 4.5       ],
           [1.30685282, 0.        , 5.80685282],
           [4.5       , 4.94314718, 0.        ]])
    >>> D = pairwise_divergence(G, kind="hellinger")
    >>> bool((D == D.T).all())
    True
    """
    _check_n_jobs(n_jobs)
    plan = _make_plan(P, Q, kind, alpha, rtol, working_memory)
    blocks = _chunks(plan.n_p, plan.chunk)
    out = np.empty((plan.n_p, plan.n_q))
    if not plan.symmetric:
        if effective_n_jobs(n_jobs) == 1:
            # In process: write every block straight into the result.
            for r0, r1 in blocks:
                _tile(plan, r0, r1, 0, plan.n_q, out=out[r0:r1])
            return out
        arglist = [(plan, r0, r1, 0, plan.n_q) for r0, r1 in blocks]
        for (r0, r1), block in zip(blocks, _run(_tile, arglist, n_jobs), strict=True):
            out[r0:r1] = block
        return out
    # Symmetric self-pairwise: upper tiles only, mirrored.
    pairs = [(r, c) for r in blocks for c in blocks if c[0] >= r[0]]
    arglist = [(plan, *r, *c) for r, c in pairs]
    for (r, c), tile in zip(pairs, _run(_tile, arglist, n_jobs), strict=True):
        out[r[0] : r[1], c[0] : c[1]] = tile
        out[c[0] : c[1], r[0] : r[1]] = tile.T
    return out
