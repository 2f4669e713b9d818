"""All-pairs divergences between two batches of Gaussians: the API and the plan.

KL, reverse KL and Jeffreys come from one matrix product per block of rows
(the operands and the per-entry accuracy test are in ``skkl._kl_gemm``):
each entry gets a bound on its rounding error from the magnitudes of its
terms, and entries whose bound exceeds ``rtol * |value|`` are recomputed
with the stable pointwise kernel, so the matrix is as accurate as
:func:`skkl.divergence` everywhere. The other kinds need a factorisation per
pair and are evaluated by the pointwise kernels over blocks of index pairs.

Work is cut into tiles (``skkl._tiles``) sized from ``working_memory``; a
plan made once here holds everything a tile needs, so tiles can go through
scikit-learn's ``Parallel``. With a self-pairwise symmetric kind the tiles
are square tiles of the upper triangle, mirrored, so the result is exactly
symmetric.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterator

import numpy as np
from joblib import effective_n_jobs
from sklearn import get_config
from sklearn.utils.parallel import Parallel, delayed

from . import _kernels as kernels
from ._blas import get_chunk_n_rows, runs_inline
from ._errors import InputError
from ._gaussians import Gaussians
from ._kl_gemm import gemm_operands, gemm_structure, kl_operands
from ._tiles import Plan, chunks, row_block, tile
from .divergence import get_divergence

__all__ = ["pairwise_divergence", "pairwise_divergence_chunked"]

# Bytes of intermediates per output entry: GEMM kinds hold the product and
# room for flagged indices; other kinds hold the entry and its two pair
# indices.
_GEMM_ENTRY_BYTES = 2 * 8
_PAIR_ENTRY_BYTES = 3 * 8
# Bytes of one (d, d) (or (d,)) temporary per pointwise kernel call (the
# recomputation of flagged entries): a call's temporaries stay in cache.
_PAIR_BLOCK_BYTES = 2**21
# Per-pair bytes of a kernel call in the tiles of the other kinds: their
# kernels go through the pairs in cache-sized tiles themselves, so a call
# holds vectors of d and about _CALL_SCALARS numbers per pair, and calls this
# large make their fixed cost (tens of numpy calls) negligible.
_CALL_BYTES = 2**21
_CALL_SCALARS = 16


# -- validation and planning -------------------------------------------------


def _check_gaussians(G, name: str) -> Gaussians:
    if not isinstance(G, Gaussians):
        raise TypeError(
            f"{name} must be a skkl.Gaussians (e.g. Gaussians(means, covariances, "
            f"covariance_type)), got {type(G).__name__}."
        )
    return G


def _check_fraction(rtol) -> float:
    if (
        not isinstance(rtol, numbers.Real)
        or isinstance(rtol, bool)
        or not 0 <= rtol < 1
    ):
        raise InputError(
            "{argument} must be a real number in [0, 1), got {value!r} (0 "
            "recomputes every KL entry with the pointwise kernel).",
            argument="rtol",
            value=rtol,
        )
    return float(rtol)


def _check_working_memory(working_memory) -> float:
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    if (
        not isinstance(working_memory, numbers.Real)
        or isinstance(working_memory, bool)
        or not 0 < working_memory < np.inf
    ):
        raise InputError(
            "{argument} must be a finite positive number of MiB (e.g. 1024), "
            "got {value!r}.",
            argument="working_memory",
            value=working_memory,
        )
    return float(working_memory)


def _gemm_plan(P, Q, self_pairs, directions, rtol):
    """The packed operands of the one-GEMM formula for P (rows) and Q (columns)."""
    structure = gemm_structure(P, Q, self_pairs)
    n_p, n_q = len(P), len(Q)
    centre = (P.means.sum(0) + (0 if self_pairs else Q.means.sum(0))) / (
        n_p + (0 if self_pairs else n_q)
    )
    # P is the first KL argument in 'fwd' (role p), the second in 'rev'.
    p_roles = {"p" if dr == "fwd" else "q" for dr in directions}
    q_roles = {"q" if dr == "fwd" else "p" for dr in directions}
    if self_pairs:
        X = Y = kl_operands(P, structure, centre, p_roles | q_roles)
    else:
        X = kl_operands(P, structure, centre, p_roles)
        Y = kl_operands(Q, structure, centre, q_roles)
    return gemm_operands(X, Y, structure, directions, P.n_features, rtol)


def make_plan(P, Q, kind, alpha, rtol, working_memory) -> Plan:
    """Validate the arguments of the public functions and prepare every tile."""
    P = _check_gaussians(P, "P")
    self_pairs = Q is None or Q is P
    Q = P if Q is None else _check_gaussians(Q, "Q")
    if P.n_features != Q.n_features:
        raise ValueError(
            f"P has {P.n_features} features but Q has {Q.n_features}; divergences "
            "need Gaussians of the same dimension."
        )
    info = get_divergence(kind, alpha)
    rtol = _check_fraction(rtol)
    working_memory = _check_working_memory(working_memory)
    d = P.n_features
    n_p, n_q = len(P), len(Q)
    directions = info.gemm_directions
    row_bytes = n_q * (_GEMM_ENTRY_BYTES if directions else _PAIR_ENTRY_BYTES)
    chunk = get_chunk_n_rows(
        row_bytes=min(row_bytes, working_memory * 2**20),
        max_n_rows=max(n_p, n_q),
        working_memory=working_memory,
    )
    p, q = kernels.operand_from_gaussians(P), kernels.operand_from_gaussians(Q)
    full = "full" in (p.structure, q.structure)
    kernels.check_singular(info, p, q)
    return Plan(
        kind=info.name,
        alpha=float(alpha) if info.uses_alpha else 0.5,
        p=p,
        q=q,
        n_p=n_p,
        n_q=n_q,
        self_pairs=self_pairs,
        symmetric=self_pairs and info.is_symmetric(alpha),
        directions=directions,
        gemm=_gemm_plan(P, Q, self_pairs, directions, rtol) if directions else None,
        rtol=rtol,
        chunk=chunk,
        pair_batch=max(1, _PAIR_BLOCK_BYTES // (8 * (d * d if full else d))),
        call_pairs=max(1, _CALL_BYTES // (8 * (d + _CALL_SCALARS))),
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
        raise InputError(
            "{argument} must be None or a non-zero integer (-1 uses every core), "
            "got {value!r}.",
            argument="n_jobs",
            value=n_jobs,
        )


def _reduced_row_block(plan: Plan, r0: int, r1: int, reduce_func):
    """Rows r0:r1 passed through ``reduce_func`` where they were computed."""
    reduced = reduce_func(row_block(plan, r0, r1), r0)
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


def _in_process(plan: Plan, n_jobs, n_tasks: int) -> bool:
    """Whether tasks run in a plain loop: one task or worker, or little work."""
    if n_tasks == 1 or runs_inline(plan.flops()):
        return True
    return effective_n_jobs(n_jobs) == 1


def _run(func, arglist, n_jobs) -> Iterator:
    """``func(plan, ...)`` for each args, lazily and in order, through Parallel."""
    if _in_process(arglist[0][0], n_jobs, len(arglist)):
        for args in arglist:
            yield func(*args)
        return
    tasks = (delayed(func)(*args) for args in arglist)
    yield from Parallel(n_jobs=n_jobs, return_as="generator")(tasks)


def _row_blocks(plan: Plan, reduce_func, n_jobs) -> Iterator:
    """The row blocks of the matrix (through ``reduce_func`` if given), in order."""
    blocks = chunks(plan.n_p, plan.chunk)
    if reduce_func is None:
        yield from _run(row_block, [(plan, r0, r1) for r0, r1 in blocks], n_jobs)
        return
    arglist = [(plan, r0, r1, reduce_func) for r0, r1 in blocks]
    yield from _run(_reduced_row_block, arglist, n_jobs)


def _matrix(plan: Plan, n_jobs) -> np.ndarray:
    """The whole matrix, from row blocks or, symmetric, from upper tiles mirrored."""
    blocks = chunks(plan.n_p, plan.chunk)
    out = np.empty((plan.n_p, plan.n_q))
    if not plan.symmetric:
        if _in_process(plan, n_jobs, len(blocks)):
            # In process: write every block straight into the result.
            for r0, r1 in blocks:
                tile(plan, r0, r1, 0, plan.n_q, out=out[r0:r1])
            return out
        arglist = [(plan, r0, r1, 0, plan.n_q) for r0, r1 in blocks]
        for (r0, r1), block in zip(blocks, _run(tile, arglist, n_jobs), strict=True):
            out[r0:r1] = block
        return out
    pairs = [(r, c) for r in blocks for c in blocks if c[0] >= r[0]]
    arglist = [(plan, *r, *c) for r, c in pairs]
    for (r, c), part in zip(pairs, _run(tile, arglist, n_jobs), strict=True):
        out[r[0] : r[1], c[0] : c[1]] = part
        out[c[0] : c[1], r[0] : r[1]] = part.T
    return out


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

    Like :func:`sklearn.metrics.pairwise_distances_chunked`: consecutive
    blocks of rows whose intermediates fit in ``working_memory`` (the
    per-Gaussian operands, of the size of the input, aside), computed through
    scikit-learn's ``Parallel`` (a joblib backend such as dask applies).

    Parameters
    ----------
    P : Gaussians of length K_P
        Row Gaussians.
    Q : Gaussians of length K_Q, default=None
        Column Gaussians, as in :func:`pairwise_divergence`.
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
        As in :func:`sklearn.metrics.pairwise_distances_chunked`: its result
        for ``(D_chunk, start)`` (the block, its first row) is yielded instead
        of the block, computed in the worker (only the result travels). It
        returns None, or one item per row (a sequence, or a tuple of them);
        its own memory comes on top of ``working_memory``.

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
    yield from _row_blocks(
        make_plan(P, Q, kind, alpha, rtol, working_memory), reduce_func, n_jobs
    )


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
    return _matrix(make_plan(P, Q, kind, alpha, rtol, working_memory), n_jobs)
