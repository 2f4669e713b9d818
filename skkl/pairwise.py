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

import numbers
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from sklearn import get_config
from sklearn.utils.parallel import Parallel, delayed

try:  # public from scikit-learn 1.x up to 1.8
    from sklearn.utils import get_chunk_n_rows
except ImportError:  # pragma: no cover - moved to a private module in 1.9
    from sklearn.utils._chunking import get_chunk_n_rows

from ._gaussians import Gaussians
from ._linalg import solve_lower
from .divergence import (
    DIVERGENCES,
    DivergenceInfo,
    _align,
    _compute,
    _Operand,
    _operand_from_gaussians,
    get_divergence,
)

__all__ = ["pairwise_divergence", "pairwise_divergence_chunked"]

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny
# Directions of the KL-type GEMMs: 'fwd' is KL(P_i || Q_j), 'rev' KL(Q_j || P_i).
_GEMM_KINDS = {"kl": ("fwd",), "reverse_kl": ("rev",), "jeffreys": ("fwd", "rev")}
# float64 intermediates per output entry (GEMM kinds: product, bound terms,
# flags; other kinds: the entry and its two indices).
_GEMM_ENTRY_BYTES = 8 * 8
_PAIR_ENTRY_BYTES = 3 * 8


@dataclass(frozen=True)
class _KLParts:
    """Per-Gaussian pieces of the KL formula for one batch (centred means).

    ``a`` packs ``[A_i, m_i]`` (off-diagonals doubled) and ``b`` packs
    ``[P_j, -2 P_j m_j]``, so ``a_i . b_j = <A_i, P_j> - 2 m_i' P_j m_j``;
    ``c_j = m_j' P_j m_j``, ``ld`` the log-determinants and ``const`` is
    ``-d`` (0 for a shared covariance, whose trace term is left out). The sum
    of the magnitudes of the products in ``a_i . b_j`` is at most
    ``t (t + 2 s_j) <= (t + s_j)^2`` with ``t = aabs_i . babs_j``
    (Cauchy-Schwarz on positive semi-definite matrices).
    """

    a: np.ndarray
    aabs: np.ndarray
    b: np.ndarray
    babs: np.ndarray
    s: np.ndarray
    c: np.ndarray
    ld: np.ndarray
    const: float


@dataclass(frozen=True)
class _GemmOperands:
    """Rows ``R`` (from P) and columns ``C`` (from Q) with ``D = R @ C.T``.

    ``Rabs @ Cabs.T`` is ``T`` with ``|D - fl(D)| <= eps / 2 * k * T**2``:
    the constant terms, the 1/2 and, for Jeffreys, both directions are folded
    into the two products, so an entry needs one comparison to be trusted.
    """

    R: np.ndarray
    C: np.ndarray
    Rabs: np.ndarray
    Cabs: np.ndarray
    k: float


@dataclass(frozen=True)
class _Plan:
    """Everything a worker needs for a tile (picklable: kinds by name)."""

    kind: str
    alpha: float
    p: _Operand
    q: _Operand
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


def _diag_operands(G: Gaussians, m: np.ndarray) -> _KLParts:
    var = _variances(G)
    std = G.std()
    second = var + m * m
    z = m / std
    return _KLParts(
        a=np.hstack([second, m]),
        aabs=np.sqrt(second),
        b=np.hstack([1.0 / var, -2.0 * (z / std)]),
        babs=1.0 / std,
        s=np.sum(np.abs(z), axis=1),
        c=np.sum(z * z, axis=1),
        ld=G.logdet,
        const=-float(m.shape[1]),
    )


def _tied_operands(G: Gaussians, m: np.ndarray) -> _KLParts:
    # Shared covariance: KL_ij = |z_i - z_j|^2 / 2 with z = L^{-1} m.
    z = solve_lower(G.cholesky, m.T).T
    n2 = np.sum(z * z, axis=1)
    norm = np.sqrt(n2)
    ones = np.ones((len(m), 1))
    return _KLParts(
        a=np.hstack([z, n2[:, None]]),
        aabs=norm[:, None],
        b=np.hstack([-2.0 * z, ones]),
        babs=ones,
        s=norm,
        c=n2,
        ld=G.logdet,
        const=0.0,
    )


def _full_operands(G: Gaussians, m: np.ndarray, block: int) -> _KLParts:
    K, d = m.shape
    rows, cols = np.triu_indices(d)
    weight = np.where(rows == cols, 1.0, 2.0)
    n_packed = rows.size
    a = np.empty((K, n_packed + d))
    b = np.empty((K, n_packed + d))
    aabs, babs = np.empty((K, d)), np.empty((K, d))
    c = np.empty(K)
    tied = G.covariance_type == "tied"
    eye = np.eye(d)
    if tied:
        W_tied = solve_lower(G.cholesky, eye)
    for lo, hi in _chunks(K, block):
        mb = m[lo:hi]
        if G.covariance_type == "full":
            L, S = G.cholesky[lo:hi], G.covariances[lo:hi]
        elif tied:
            L, S = G.cholesky, G.covariances
        else:
            L = G.full_cholesky()[lo:hi]
            S = L @ np.swapaxes(L, -1, -2)
        # Packed A = S + m m' without forming the (n, d, d) stack.
        S_packed = S[..., rows, cols]
        a[lo:hi, :n_packed] = mb[:, rows] * mb[:, cols]
        a[lo:hi, :n_packed] += S_packed
        a[lo:hi, :n_packed] *= weight
        a[lo:hi, n_packed:] = mb
        aabs[lo:hi] = np.sqrt(np.diagonal(S, axis1=-2, axis2=-1) + mb * mb)
        # Precision factor W = L^{-1} by triangular solves, P = W' W.
        W = W_tied if tied else solve_lower(L, eye)
        P = np.swapaxes(W, -1, -2) @ W
        z = np.einsum("...ij,kj->ki", W, mb) if tied else (W @ mb[:, :, None])[..., 0]
        v = (
            np.einsum("...ji,kj->ki", W, z)
            if tied
            else (np.swapaxes(W, -1, -2) @ z[:, :, None])[..., 0]
        )
        b[lo:hi, :n_packed] = P[..., rows, cols]
        b[lo:hi, n_packed:] = -2.0 * v
        babs[lo:hi] = np.sqrt(np.sum(W * W, axis=-2))
        c[lo:hi] = np.sum(z * z, axis=1)
    return _KLParts(
        a=a,
        aabs=aabs,
        b=b,
        babs=babs,
        s=np.sum(np.abs(m) * babs, axis=1),
        c=c,
        ld=G.logdet,
        const=-float(d),
    )


def _gemm_structure(P: Gaussians, Q: Gaussians, q_is_p: bool) -> str:
    types = {P.covariance_type, Q.covariance_type}
    if types <= {"diag", "spherical"}:
        return "diag"
    if types == {"tied"} and (q_is_p or np.array_equal(P.covariances, Q.covariances)):
        return "tied"
    return "full"


def _kl_operands(G, structure, centre, block) -> _KLParts:
    m = G.means - centre
    if structure == "diag":
        return _diag_operands(G, m)
    if structure == "tied":
        return _tied_operands(G, m)
    return _full_operands(G, m, block)


def _roles(X: _KLParts, d: int, k: float):
    """Row/column vectors of a batch as first (p) and second (q) KL argument.

    As p: ``[a, 1, ld]``; as q: ``[b, c + ld + const, -1] / 2``, so their dot
    product is KL(p || q). The magnitude vectors give ``T`` with
    ``(t + s)**2 + (u_p + w_q) / k <= T**2`` where ``u``, ``w`` bound the
    rounding of the constant terms (``sqrt(x + y) <= sqrt(x) + sqrt(y)``).
    """
    one = np.ones((len(X.ld), 1))
    u = (d + 4.0) * np.abs(X.ld)
    w = (d + 4.0) * (X.c + np.abs(X.ld)) + 4.0 * abs(X.const)
    first = np.hstack([X.a, one, X.ld[:, None]])
    first_abs = np.hstack([X.aabs, one, np.sqrt(u / k)[:, None], one])
    second = 0.5 * np.hstack([X.b, (X.c + X.ld + X.const)[:, None], -one])
    second_abs = np.hstack([X.babs, X.s[:, None], one, np.sqrt(w / k)[:, None]])
    return (first, first_abs), (second, second_abs)


def _gemm_operands(X: _KLParts, Y: _KLParts, directions, d: int) -> _GemmOperands:
    inner = len(directions) * (X.a.shape[1] + 2)
    # Probabilistic rounding-error constant of a length-n dot product,
    # lambda * sqrt(n) with lambda = 6 (Higham & Mary, SIAM J. Sci. Comput.
    # 2019: exceeded with probability < 1e-7), applied to a rigorous majorant
    # of the magnitudes; d + 4 covers forming the operands. The worst-case
    # constant n is about 1e4 times looser than observed errors and would
    # send percents of well-conditioned pairs to the pointwise kernel.
    k = 6.0 * np.sqrt(inner) + d + 4.0
    Xp, Xq = _roles(X, d, k)
    Yp, Yq = (Xp, Xq) if Y is X else _roles(Y, d, k)
    # 'fwd' is KL(P_i || Q_j): P as p, Q as q; 'rev' swaps the roles.
    rows = [Xp if dr == "fwd" else Xq for dr in directions]
    cols = [Yq if dr == "fwd" else Yp for dr in directions]
    return _GemmOperands(
        R=np.hstack([r[0] for r in rows]),
        C=np.hstack([c[0] for c in cols]),
        Rabs=np.hstack([r[1] for r in rows]),
        Cabs=np.hstack([c[1] for c in cols]),
        k=k,
    )


# -- tiles -------------------------------------------------------------------


def _take(op: _Operand, idx: np.ndarray) -> _Operand:
    factor = op.factor if op.cov_batch == () else op.factor[idx]
    return _Operand(op.mean[idx], factor, op.structure)


def _pointwise(plan: _Plan, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    """Divergences of the pairs (P[i[k]], Q[j[k]]) by the pointwise kernel."""
    out = np.empty(i.size)
    for lo, hi in _chunks(i.size, plan.pair_batch):
        p, q = _align(_take(plan.p, i[lo:hi]), _take(plan.q, j[lo:hi]))
        out[lo:hi] = _compute(plan.info, p, q, plan.alpha)
    return out


def _pair_mask(plan: _Plan, r0: int, c0: int, i: np.ndarray, j: np.ndarray):
    """Pairs of a tile that need a value (None: all of them)."""
    if not plan.self_pairs:
        return None
    if plan.symmetric and r0 == c0:
        return j > i
    return i != j


def _pairs_tile(plan: _Plan, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    n_cols = c1 - c0
    out = np.zeros((r1 - r0) * n_cols)
    # Flat pair indices in slices, so index arrays never exceed one batch.
    for lo, hi in _chunks(out.size, plan.pair_batch):
        flat = np.arange(lo, hi)
        i, j = r0 + flat // n_cols, c0 + flat % n_cols
        keep = _pair_mask(plan, r0, c0, i, j)
        if keep is not None:
            flat, i, j = flat[keep], i[keep], j[keep]
        if flat.size:
            out[flat] = _pointwise(plan, i, j)
    return out.reshape(r1 - r0, n_cols)


def _gemm_tile(plan: _Plan, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    g = plan.gemm
    value = g.R[r0:r1] @ g.C[c0:c1].T
    # Entries that need no value: the diagonal of a self-pairwise matrix and,
    # in a diagonal tile of a symmetric one, the lower triangle (mirrored).
    if not plan.self_pairs or not (r0 < c1 and c0 < r1):
        skip = None
    elif plan.symmetric:
        skip = np.tril_indices(r1 - r0)
    else:
        idx = np.arange(max(r0, c0), min(r1, c1))
        skip = (idx - r0, idx - c0)
    if skip is not None:
        value[skip] = np.inf
    # Recompute every entry whose rounding-error bound eps/2 * k * T**2
    # exceeds rtol * |value|; KL is >= 0, so "value < bound / rtol" also
    # catches every negative value, whose error is at least its magnitude.
    if plan.rtol == 0:
        flag = np.isfinite(value)
    else:
        T = g.Rabs[r0:r1] @ g.Cabs[c0:c1].T
        with np.errstate(over="ignore"):
            T *= T
            T *= 0.5 * _EPS * g.k / plan.rtol
        flag = value < T
        del T
    if flag.any():
        ii, jj = np.nonzero(flag)
        value[ii, jj] = _pointwise(plan, ii + r0, jj + c0)
    if skip is not None:
        value[skip] = 0.0
    return value


def _tile(plan: _Plan, r0: int, r1: int, c0: int, c1: int) -> np.ndarray:
    if plan.gemm is not None:
        out = _gemm_tile(plan, r0, r1, c0, c1)
    else:
        out = _pairs_tile(plan, r0, r1, c0, c1)
    if plan.symmetric and r0 == c0:
        # Diagonal tile of a symmetric self-pairwise matrix: mirror the upper
        # triangle (the diagonal is 0).
        lower = np.tril_indices(r1 - r0, -1)
        out[lower] = out.T[lower]
    return out


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
        or not working_memory > 0
    ):
        raise ValueError(
            f"working_memory must be a positive number of MiB, got {working_memory!r}."
        )
    budget = float(working_memory) * 2**20
    d = P.n_features
    n_p, n_q = len(P), len(Q)
    gemm_kind = info.name in _GEMM_KINDS
    row_bytes = n_q * (_GEMM_ENTRY_BYTES if gemm_kind else _PAIR_ENTRY_BYTES)
    chunk = get_chunk_n_rows(
        row_bytes=min(row_bytes, budget),
        max_n_rows=max(n_p, n_q),
        working_memory=working_memory,
    )
    p, q = _operand_from_gaussians(P), _operand_from_gaussians(Q)
    full = "full" in (p.structure, q.structure)
    # Rough float64 footprint of one pair in the pointwise kernels.
    pair_bytes = 8 * (12 * d * d if full else 12 * d)
    pair_batch = max(1, int(budget // pair_bytes))
    gemm = None
    directions = _GEMM_KINDS.get(info.name, ())
    if gemm_kind:
        structure = _gemm_structure(P, Q, self_pairs)
        centre = (P.means.sum(0) + (0 if self_pairs else Q.means.sum(0))) / (
            n_p + (0 if self_pairs else n_q)
        )
        block = max(1, int(budget // (8 * 6 * d * d)))
        X = _kl_operands(P, structure, centre, block)
        Y = X if self_pairs else _kl_operands(Q, structure, centre, block)
        gemm = _gemm_operands(X, Y, directions, d)
    return _Plan(
        kind=info.name,
        alpha=float(alpha),
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
) -> Iterator[np.ndarray]:
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

    Yields
    ------
    block : ndarray of shape (n_rows, K_Q)
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
    """
    plan = _make_plan(P, Q, kind, alpha, rtol, working_memory)
    arglist = [(plan, r0, r1) for r0, r1 in _chunks(plan.n_p, plan.chunk)]
    yield from _run(_row_block, arglist, n_jobs)


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
    plan = _make_plan(P, Q, kind, alpha, rtol, working_memory)
    blocks = _chunks(plan.n_p, plan.chunk)
    out = np.empty((plan.n_p, plan.n_q))
    if not plan.symmetric:
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
