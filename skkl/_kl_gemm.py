"""Operands of the one-GEMM KL formula and its per-entry accuracy test (internal).

With centred means, ``A_i = S_i + m_i m_i'`` and precisions
``P_j = L_j^{-T} L_j^{-1}``,

    2 KL_ij = <A_i, P_j> - 2 m_i' P_j m_j + m_j' P_j m_j + logdet S_j
              - logdet S_i - d,

so packing ``A_i`` (with its mean and constants) as a row and ``P_j`` as a
column makes the whole matrix one product. This module builds those packed
operands (:func:`kl_operands`, :func:`gemm_operands`) and, for a tile of the
product, finds the entries whose rounding-error bound exceeds ``rtol`` times
their value (:func:`flagged`): those are recomputed by the stable pointwise
kernel.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ._blas import map_blocks
from ._gaussians import Gaussians
from ._linalg import inv_lower, solve_lower

__all__ = ["GemmOperands", "KLParts", "flagged", "gemm_operands", "kl_operands"]

_EPS = np.finfo(np.float64).eps
# Per-Gaussian operands are built this many bytes of (d, d) stack at a time:
# the temporaries of a block stay in the per-core cache.
_OPERAND_BLOCK_BYTES = 2**20
# Probabilistic rounding-error constant of a length-n dot product is
# LAMBDA * sqrt(n) (Higham & Mary, SIAM J. Sci. Comput. 2019: exceeded with
# probability below 1e-7 for LAMBDA = 6).
_LAMBDA = 6.0
# Magnitude factors of the diagonal-covariance bound: the trace and mean
# terms sum to at most 10 KL + [2 |ld_p|] + [2 d + 2 |ld_q| + 6 c_q]
# (Cauchy-Schwarz on the mean terms, see _role).
_DIAG_KL_FACTOR = 10.0


@dataclass(frozen=True)
class KLParts:
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
class GemmOperands:
    """Row blocks ``R`` (from P) and column blocks ``C`` (from Q), one per
    direction, with ``D = sum_k R[k] @ C[k].T``.

    The constant terms, the 1/2 and, for Jeffreys, both directions are folded
    into the products. An entry is recomputed when ``D < (Rabs @ Cabs.T) ** 2``
    (full covariances) or ``D < rthr_i + cthr_j`` (diagonal or shared
    covariances), thresholds already divided by ``rtol``; ``rn2`` and ``cn2``
    are the squared norms of the rows of ``Rabs`` and ``Cabs`` (their product
    bounds the full-covariance threshold, Cauchy-Schwarz). ``None``
    thresholds recompute everything.
    """

    R: tuple
    C: tuple
    Rabs: np.ndarray | None = None
    Cabs: np.ndarray | None = None
    rn2: np.ndarray | None = None
    cn2: np.ndarray | None = None
    rthr: np.ndarray | None = None
    cthr: np.ndarray | None = None

    @property
    def recompute_all(self) -> bool:
        return self.Rabs is None and self.rthr is None


# -- per-Gaussian operands -------------------------------------------------------


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


def _diag_operands(G: Gaussians, m: np.ndarray) -> KLParts:
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
    return KLParts(a, None, b, None, None, c, G.logdet, const)


def _tied_operands(G: Gaussians, m: np.ndarray) -> KLParts:
    # Shared covariance: KL_ij = |z_i - z_j|^2 / 2 with z = L^{-1} m, a
    # Mahalanobis GEMM of the whitened means (the trace term is exactly d).
    z = solve_lower(G.cholesky, m.T).T
    n2 = np.sum(z * z, axis=1)
    ones = np.ones((len(m), 1))
    a, b = _with_tails(
        np.hstack([z, n2[:, None]]), np.hstack([-2.0 * z, ones]), n2, G.logdet, 0.0
    )
    return KLParts(a, None, b, None, None, n2, G.logdet, 0.0)


@functools.cache
def _packing(d: int):
    """Flat indices of the upper triangle of a d x d matrix, and its weights.

    ``np.take`` of a (n, d*d) view on flat indices gathers without the
    index arithmetic of 2-D fancy indexing; the weights double the
    off-diagonal entries.
    """
    rows, cols = np.triu_indices(d)
    weight = np.where(rows == cols, 1.0, 2.0)
    for x in (rows, cols, weight):
        x.flags.writeable = False
    return rows, cols, rows * d + cols, weight


@dataclass(frozen=True)
class _Buffers:
    """Outputs of :func:`_full_operands`, written a block of Gaussians at a time."""

    a: np.ndarray | None
    aabs: np.ndarray | None
    b: np.ndarray | None
    babs: np.ndarray | None
    c: np.ndarray | None


def _first_argument_block(G, L_all, m, buf: _Buffers, lo: int, hi: int) -> None:
    """Packed ``A = S + m m'`` (without forming the (n, d, d) stack)."""
    d = m.shape[1]
    rows, cols, flat, weight = _packing(d)
    n = rows.size
    mb = m[lo:hi]
    if G.covariance_type == "full":
        S = G.covariances[lo:hi].reshape(-1, d * d)
    elif G.covariance_type == "tied":
        S = G.covariances.reshape(1, d * d)
    else:  # promoted diagonal: S = L L'
        L = L_all[lo:hi]
        S = (L @ np.swapaxes(L, -1, -2)).reshape(-1, d * d)
    A = np.take(mb, rows, axis=1)
    A *= np.take(mb, cols, axis=1)
    A += np.take(S, flat, axis=1)
    A *= weight
    buf.a[lo:hi, :n] = A
    buf.a[lo:hi, n : n + d] = mb
    buf.aabs[lo:hi] = np.sqrt(S[:, :: d + 1] + mb * mb)


def _second_argument_block(L_all, m, buf: _Buffers, lo: int, hi: int, tied_W):
    """Packed precisions ``P = W' W`` (``W = L^{-1}``), ``-2 P m`` and ``c``."""
    d = m.shape[1]
    _, _, flat, _ = _packing(d)
    n = flat.size
    mb = m[lo:hi]
    if tied_W is not None:
        P = (tied_W.T @ tied_W).reshape(1, d * d)
        z = mb @ tied_W.T
        v = z @ tied_W
    else:
        W = inv_lower(L_all[lo:hi])
        Wt = np.swapaxes(W, -1, -2)
        P = np.matmul(Wt, W).reshape(-1, d * d)
        z = np.matmul(W, mb[:, :, None])[..., 0]
        v = np.matmul(Wt, z[:, :, None])[..., 0]
    buf.b[lo:hi, :n] = np.take(P, flat, axis=1)
    buf.b[lo:hi, n : n + d] = -2.0 * v
    buf.babs[lo:hi] = np.sqrt(P[:, :: d + 1])
    buf.c[lo:hi] = np.sum(z * z, axis=1)


def _full_operands(G: Gaussians, m: np.ndarray, roles) -> KLParts:
    """KL pieces for full (or tied, or promoted diagonal) covariances.

    Only what ``roles`` needs is built: 'p' (first argument) needs the
    packed second moments A, 'q' (second argument) the packed precisions
    ``P = W' W`` with ``W = L^{-1}`` from the batched triangular inverse.
    Both are written straight into their final (K, n + d + 2) buffers, a
    block of Gaussians at a time so that temporaries stay in cache; blocks
    write disjoint rows, so they share out over threads (numpy releases the
    GIL in all of them).
    """
    K, d = m.shape
    n = d * (d + 1) // 2
    as_p, as_q = "p" in roles, "q" in roles
    buf = _Buffers(
        a=np.empty((K, n + d + 2)) if as_p else None,
        aabs=np.empty((K, d)) if as_p else None,
        b=np.empty((K, n + d + 2)) if as_q else None,
        babs=np.empty((K, d)) if as_q else None,
        c=np.empty(K) if as_q else None,
    )
    tied_W = inv_lower(G.cholesky) if as_q and G.covariance_type == "tied" else None
    L_all = G.full_cholesky()  # a view, except for promoted diagonals

    def block(lo, hi):
        if as_p:
            _first_argument_block(G, L_all, m, buf, lo, hi)
        if as_q:
            _second_argument_block(L_all, m, buf, lo, hi, tied_W)

    step = max(1, _OPERAND_BLOCK_BYTES // (8 * d * d))
    blocks = [(lo, min(lo + step, K)) for lo in range(0, K, step)]
    # Inverse and product: about (1/3 + 2) d^3 flops per Gaussian as q.
    map_blocks(block, blocks, K * d**3 * (2.5 if as_q else 0.5))
    const = -float(d)
    if as_p:
        buf.a[:, n + d] = 1.0
        buf.a[:, n + d + 1] = G.logdet
    if as_q:
        buf.b[:, n + d] = buf.c + G.logdet + const
        buf.b[:, n + d + 1] = -1.0
        np.multiply(buf.b, 0.5, out=buf.b)  # exact: a power of two
    return KLParts(
        a=buf.a,
        aabs=buf.aabs,
        b=buf.b,
        babs=buf.babs,
        s=np.sum(np.abs(m) * buf.babs, axis=1) if as_q else None,
        c=buf.c,
        ld=G.logdet,
        const=const,
    )


def gemm_structure(P: Gaussians, Q: Gaussians, q_is_p: bool) -> str:
    """'diag', 'tied' (one shared covariance) or 'full' operands for P and Q."""
    types = {P.covariance_type, Q.covariance_type}
    if types <= {"diag", "spherical"}:
        return "diag"
    if types == {"tied"} and (q_is_p or np.array_equal(P.covariances, Q.covariances)):
        return "tied"
    return "full"


def kl_operands(G: Gaussians, structure: str, centre, roles) -> KLParts:
    """The KL pieces of ``G`` (means centred on ``centre``) for ``roles``."""
    m = G.means - centre
    if structure == "diag":
        return _diag_operands(G, m)
    if structure == "tied":
        return _tied_operands(G, m)
    return _full_operands(G, m, roles)


# -- the GEMM operands and their error bounds ----------------------------------


def _role(X: KLParts, role: str, structure: str, d: int, k: float):
    """Vectors of a batch as first (``role='p'``) or second ('q') KL argument.

    As p: ``[a, 1, ld]``; as q: ``[b, c + ld + const, -1] / 2``, so their dot
    product is KL(p || q). Each role also carries magnitudes for the
    rounding-error bound (see :func:`gemm_operands`).
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
        # diag: see _DIAG_KL_FACTOR. Shared covariance:
        # |z_p|^2 + 2 |z_p . z_q| + c_q <= 2 c_p + 3 c_q.
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


def gemm_operands(X: KLParts, Y: KLParts, structure, directions, d, rtol):
    """:class:`GemmOperands` for rows ``X`` and columns ``Y`` in ``directions``."""
    inner = len(directions) * (X.a if X.a is not None else X.b).shape[1]
    # The probabilistic constant applied to rigorous majorants of the
    # magnitudes; d + 4 covers forming the operands. The worst-case constant
    # n is about 1e4 times looser than observed errors and would send
    # percents of well-conditioned pairs to the pointwise kernel.
    k = _LAMBDA * np.sqrt(inner) + d + 4.0
    e = 0.5 * _EPS * k  # |error| <= e * (sum of magnitudes)
    # 'fwd' is KL(P_i || Q_j): P as p, Q as q; 'rev' swaps the roles.
    row_roles = ["p" if dr == "fwd" else "q" for dr in directions]
    col_roles = ["q" if dr == "fwd" else "p" for dr in directions]
    rows = [_role(X, r, structure, d, k) for r in row_roles]
    cols = [_role(Y, r, structure, d, k) for r in col_roles]
    # One block per direction, summed by the tile products (no stacked copy).
    R = tuple(r[0] for r in rows)
    C = tuple(c[0] for c in cols)
    if structure == "full":
        if rtol == 0:
            return GemmOperands(R, C)
        # Recompute when e * k * T^2 > rtol * value: fold sqrt(e / rtol) in.
        scale = np.sqrt(e / rtol)
        Rabs = scale * _stack([r[1] for r in rows])
        Cabs = scale * _stack([c[1] for c in cols])
        rn2 = np.einsum("ij,ij->i", Rabs, Rabs)
        cn2 = np.einsum("ij,ij->i", Cabs, Cabs)
        return GemmOperands(R, C, Rabs=Rabs, Cabs=Cabs, rn2=rn2, cn2=cn2)
    # error <= e (gamma KL* + rmag_i + cmag_j) with KL* <= value + error, so
    # the value is within rtol when e (rmag_i + cmag_j) <= rho * value.
    gamma = _DIAG_KL_FACTOR if structure == "diag" else 0.0
    rho = rtol * (1.0 - e * gamma) - e * gamma
    if rho <= 0:
        return GemmOperands(R, C)
    rthr = (e / rho) * sum(r[1] for r in rows)
    cthr = (e / rho) * sum(c[1] for c in cols)
    return GemmOperands(R, C, rthr=rthr, cthr=cthr)


# -- the accuracy test of a tile ---------------------------------------------------


def _bound_rows(g: GemmOperands, rows: np.ndarray, c0: int, c1: int):
    """Each row's largest possible threshold over the columns c0:c1."""
    if g.rn2 is not None:
        return g.rn2[rows] * g.cn2[c0:c1].max()
    return g.rthr[rows] + g.cthr[c0:c1].max()


def _flag_in_rows(g: GemmOperands, value, rows, r0: int, c0: int):
    """Flagged (row, col) of the tile among the rows ``rows`` (tile indices)."""
    c1 = c0 + value.shape[1]
    sub = value[rows]
    gi = rows + r0
    if g.rn2 is not None:
        # Rank-one bound first (Cauchy-Schwarz), the exact one where it fails.
        cand = ~(sub >= g.rn2[gi][:, None] * g.cn2[c0:c1])
        i, j = np.nonzero(cand)
        T = np.einsum("ij,ij->i", g.Rabs[gi[i]], g.Cabs[j + c0])
        keep = ~(sub[i, j] >= T * T)
        return rows[i[keep]], j[keep]
    flag = ~(sub >= g.rthr[gi][:, None] + g.cthr[c0:c1])
    i, j = np.nonzero(flag)
    return rows[i], j


def flagged(g: GemmOperands, value: np.ndarray, r0: int, c0: int):
    """(rows, cols) of tile entries whose rounding-error bound exceeds rtol x value.

    Three tests, each only where the cheaper one before it cannot clear the
    entry: a row's minimum against the row's largest threshold (one pass
    over the tile, no temporary), then the rank-one bound ``rn2_i cn2_j``
    (full covariances) or ``rthr_i + cthr_j`` on the rows that failed, then
    the exact bound ``(Rabs_i . Cabs_j)^2`` on the entries left. KL is >= 0,
    so "not value >= bound" also catches every negative value (its error is
    at least its magnitude) and every NaN. Entries of the tile that need no
    value (a self-pairwise diagonal) must be set to +inf by the caller.
    """
    if g.recompute_all:
        return np.nonzero(value != np.inf)
    rows = np.arange(value.shape[0])
    c1 = c0 + value.shape[1]
    with np.errstate(over="ignore", invalid="ignore"):
        low = ~(value.min(axis=1) >= _bound_rows(g, rows + r0, c0, c1))
    rows = rows[low]
    if not rows.size:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp)
    with np.errstate(over="ignore", invalid="ignore"):
        return _flag_in_rows(g, value, rows, r0, c0)
