"""Weighted per-group moments in one pass, their streaming merge, and shrinkage.

``group_moments`` computes, for every group at once, the total sample weight,
the weighted mean and the weighted *centred* scatter ``sum_i w_i (x_i - m)
(x_i - m)'`` (never raw sums of squares, which cancel). X is read once, in
blocks of consecutive rows. Each block is copied in group order (a stable
radix sort of the labels, then the rows scattered in sequence; blocks of many
groups are gathered piece by piece instead). A group's rows, one
cache-resident piece at a time, are centred on the group's shift (its mean so
far) and multiplied in one BLAS call (syrk). Products about a fixed shift
simply add up; the residual ``sum_i w_i (x_i - shift)`` then makes them exact
about the true mean. The cost is one ``X.T @ X``, one pass over ``X`` for the
copy and one over each cached piece for the centring; no Python loop runs
over samples.

``merge_moments`` combines the moments of two batches with the pairwise
update of Chan, Golub & LeVeque (1979), extended to the third and fourth
central moments that the Ledoit-Wolf shrinkage needs, so streaming through
``partial_fit`` equals fitting on the concatenation to rounding error.

``covariances_from_moments`` turns moments into maximum-likelihood
covariances in any layout of :data:`skkl.COVARIANCE_TYPES`, shrunk if asked:
the one fitter behind :class:`~skkl.GroupGaussians` and
:meth:`skkl.Gaussians.from_samples`.

``ledoit_wolf_coefficient`` and ``oas_coefficient`` are the formulas of
:func:`sklearn.covariance.ledoit_wolf_shrinkage` and
:class:`sklearn.covariance.OAS` written in terms of these moments, with the
number of samples replaced by the total sample weight (so integer weights act
as repetitions).
"""

from __future__ import annotations

import contextlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import dger

__all__ = [
    "GroupMoments",
    "encode_groups",
    "group_codes",
    "covariances_from_moments",
    "group_moments",
    "merge_moments",
    "ledoit_wolf_coefficient",
    "oas_coefficient",
    "shrink",
]


@dataclass(frozen=True)
class GroupMoments:
    """Sufficient statistics of K groups of d-dimensional weighted samples.

    Attributes
    ----------
    weight : ndarray of shape (K,)
        Total sample weight of each group.
    count : ndarray of shape (K,), int64
        Number of samples with positive weight in each group.
    mean : ndarray of shape (K, d)
        Weighted means (0 for a group of zero weight).
    scatter : ndarray of shape (K, d, d) or (K, d)
        ``sum_i w_i (x_i - m)(x_i - m)'`` for each group, or only its
        diagonal when the moments were computed with ``full=False``.
    third : ndarray of shape (K, d) or None
        ``sum_i w_i ||x_i - m||^2 (x_i - m)`` (``higher=True`` only).
    fourth : ndarray of shape (K,) or None
        ``sum_i w_i ||x_i - m||^4`` (``higher=True`` only).
    residual : ndarray of shape (K, d) or None
        ``sum_i w_i (x_i - m)`` as computed: zero in exact arithmetic, but not
        when ``m`` is rounded (e.g. data at 1e12 with unit spread). Carried by
        the pieces of one computation so that merging them keeps every digit
        (see :func:`_reduce_by_group`); merged moments have it folded in.
    """

    weight: np.ndarray
    count: np.ndarray
    mean: np.ndarray
    scatter: np.ndarray
    third: np.ndarray | None = None
    fourth: np.ndarray | None = None
    residual: np.ndarray | None = None

    @property
    def full(self) -> bool:
        """Whether ``scatter`` holds full (d, d) matrices."""
        return self.scatter.ndim == 3

    @property
    def higher(self) -> bool:
        """Whether third and fourth moments are available."""
        return self.fourth is not None


# A piece (rows of one group centred and multiplied in one BLAS call) fills a
# scratch buffer of this size: small enough to stay in cache between the
# gather, the centring and the product, large enough for the product to run
# at full speed.
_PIECE_BYTES = 1 << 20
# Rows are sorted by group within blocks of contiguous rows. A block holds
# this many rows per group on average (at least): fewer mean shorter pieces,
# each with a fixed cost of several calls; more mean a larger sorted copy,
# which falls out of cache.
_MIN_ROWS_PER_GROUP = 2048
# Pieces of fewer values than this are centred by numpy (the BLAS wrapper's
# fixed cost exceeds the work).
_SMALL_PIECE = 1 << 12
# Integer labels spanning at most this range (or the number of samples) are
# encoded through a lookup table rather than sorted.
_MAX_LOOKUP_RANGE = 1 << 16
# Group sums over at most this many (group, part) pairs use a dense indicator
# matrix: building a sparse one costs more below it.
_DENSE_INDICATOR = 1 << 16
# Blocks up to this size are copied whole in group order (see
# _moments_of_blocks); larger ones (many groups) are gathered piece by piece.
_SORTED_BLOCK_BYTES = 1 << 24
# A piece is centred on its group's shift c while its weighted mean m lies
# within sqrt(_DRIFT v) of c in every feature, v being the piece's own
# variance about m: its scatter about c, sum w (x - c)^2 = sum w (x - m)^2 +
# W (m - c)^2, is then at most 1 + _DRIFT times its own, so the group's
# scatter about c is at most 1 + _DRIFT times the scatter about the exact
# mean (own scatters sum to less), and the rounding error of the final
# correction ``S_c - R R' / W`` grows by that factor (about 2.3 bits) at
# most, whatever the weights. A piece further away (a drifting group) is
# centred on its own mean and starts a new shift.
_DRIFT = 4.0
# Below sqrt(eps) * |c|, a distance between m and c adds less to the scatter
# than the rounding of X itself: a constant feature whose mean was rounded
# keeps its shift.
_SQRT_EPS = float(np.sqrt(np.finfo(np.float64).eps))


def _center(Xb: np.ndarray, mean: np.ndarray, ones: np.ndarray) -> None:
    """``Xb -= mean`` in place: one BLAS rank-1 update (one pass over the
    piece, without numpy's broadcasting loop over rows) once the piece is
    large enough to repay the wrapper's call cost."""
    if Xb.size < _SMALL_PIECE:
        Xb -= mean
        return
    # Xb.T is the Fortran-ordered (d, m) view that ger updates in place.
    dger(-1.0, mean, ones[: Xb.shape[0]], a=Xb.T, overwrite_a=1)


def _products(Xb, wb, full: bool, higher: bool, scaled=None):
    """(scatter, third, fourth) of the centred rows ``Xb`` with weights ``wb``.

    With weights, the rows scaled by ``sqrt(wb)`` go to ``scaled`` (scratch
    of at least Xb's shape), or to ``Xb`` itself (then scratch) if None.
    """
    third = fourth = None
    if higher:
        r = np.einsum("ij,ij->i", Xb, Xb)
        wr = r if wb is None else wb * r
        third, fourth = wr @ Xb, float(wr @ r)
    if wb is not None:  # Xw' Xw with Xw = sqrt(w) * Xb
        out = Xb if scaled is None else scaled[: len(Xb)]
        Xb = np.multiply(Xb, np.sqrt(wb)[:, None], out=out)
    # numpy hands A.T @ A to syrk.
    scatter = Xb.T @ Xb if full else np.einsum("ij,ij->j", Xb, Xb)
    return scatter, third, fourth


class _Pass:
    """Moments of K groups summed piece by piece (one per thread).

    Each group has a shift c: its pieces are centred on c and their products
    about c summed into ``run`` with the residual ``sum_i w_i (x_i - c)``,
    which makes them exact about the true mean (see :class:`GroupMoments`),
    so no piece needs a merge. A piece whose mean has drifted from c (see
    ``_DRIFT``) is centred on its own mean and merged exactly into ``done``
    together with ``run``; the group then restarts about its mean so far.
    """

    def __init__(self, K: int, d: int, full: bool, higher: bool, piece: int):
        self.full, self.higher = full, higher
        self.run = _empty_moments(K, d, full, higher)
        self.done = _empty_moments(K, d, full, higher)
        self.shifted = np.zeros(K, dtype=bool)
        self.rounding = np.zeros((K, d))
        self.buffer = np.empty((_most_piece_rows(piece), d))
        # Weighted rows are scaled here, so that a drifted piece's rows are
        # still at hand to be centred again.
        self.scaled = np.empty_like(self.buffer)
        self.ones = np.ones(len(self.buffer))

    def add(self, g: int, Xb: np.ndarray, wb: np.ndarray | None) -> None:
        """Add the rows ``Xb`` (a scratch buffer: centred in place) to group g."""
        m = Xb.shape[0]
        ones = self.ones[:m]
        w = ones if wb is None else wb
        W = float(m) if wb is None else float(wb.sum())
        if not W > 0:  # no weight: nothing to add
            return
        run = self.run
        first = not self.shifted[g]
        if first:
            self._shift_to(g, (w @ Xb) / W)
        _center(Xb, run.mean[g], ones)
        r = w @ Xb
        S, T, Q = _products(Xb, wb, self.full, self.higher, self.scaled)
        if not first and _drifted(S, r, W, self.rounding[g]):
            self._restart(g, Xb, wb, W, r)
            return
        run.weight[g] += W
        run.count[g] += m if wb is None else np.count_nonzero(wb)
        run.scatter[g] += S
        run.residual[g] += r
        if self.higher:
            run.third[g] += T
            run.fourth[g] += Q

    def _restart(self, g: int, Xb, wb, W: float, r: np.ndarray) -> None:
        """Centre the piece on its own mean; merge it and ``run`` into ``done``."""
        ones = self.ones[: Xb.shape[0]]
        c = self.run.mean[g]
        mean = c + r / W
        # The rows now hold x - c; centred by the rounded mean's own distance
        # from c (exact when the two are within a factor 2), they hold x - mean.
        _center(Xb, mean - c, ones)
        own = (ones if wb is None else wb) @ Xb
        S, T, Q = _products(Xb, wb, self.full, self.higher, self.scaled)
        count = Xb.shape[0] if wb is None else np.count_nonzero(wb)
        piece = GroupMoments(
            np.array([W]),
            np.array([count]),
            mean[None],
            S[None],
            None if T is None else T[None],
            None if Q is None else np.array([Q]),
            own[None],
        )
        parts = _concatenate([_select(self.done, g), _select(self.run, g), piece])
        merged = _reduce_by_group(parts, np.zeros(3, dtype=np.intp), 1, fold=False)
        _assign(self.done, g, merged)
        # Restart about the exact mean so far.
        _assign(self.run, g, _empty_moments(1, len(c), self.full, self.higher))
        self._shift_to(g, _fold(merged).mean[0])

    def _shift_to(self, g: int, c: np.ndarray) -> None:
        """Centre group g's next pieces on c (its distances below
        ``sqrt(eps) |c|`` are rounding, see ``_SQRT_EPS``)."""
        self.run.mean[g] = c
        self.rounding[g] = np.square(_SQRT_EPS * c)
        self.shifted[g] = True

    def moments(self) -> GroupMoments:
        """The parts ``done`` then ``run`` (2K rows, group ``k % K``), unmerged;
        only ``run`` (K rows) when no group restarted."""
        if not np.any(self.done.weight):
            return self.run
        return _concatenate([self.done, self.run])


def _drifted(S: np.ndarray, r: np.ndarray, W: float, rounding: np.ndarray) -> bool:
    """Whether a piece's mean ``c + r / W`` is too far from its group's shift c.

    Per feature, with its scatter ``S`` and residual ``r`` about c: ``(m -
    c)^2 > _DRIFT v`` for its own variance ``v = S_jj / W - (m - c)^2`` (see
    ``_DRIFT``), or beyond ``rounding``, ``(sqrt(eps) c)^2``. Per unit weight,
    so that no power of W overflows; a nan decides 'no' (reported later).
    A few in-place operations: it runs once per piece.
    """
    a = r / W
    a *= a
    a *= 1.0 + _DRIFT
    # (1 + D) a^2 > D S_jj / W + rounding: the rule above rearranged.
    limit = (np.diagonal(S) if S.ndim == 2 else S) * (_DRIFT / W)
    limit += rounding
    return bool((a > limit).any())


def _select(mom: GroupMoments, g: int) -> GroupMoments:
    """Group g of ``mom`` as moments of one group."""
    values = (getattr(mom, f) for f in GroupMoments.__dataclass_fields__)
    return GroupMoments(*(None if v is None else v[g : g + 1] for v in values))


def _assign(mom: GroupMoments, g: int, one: GroupMoments) -> None:
    """Set group g of ``mom`` (in place) to the moments of one group."""
    for f in GroupMoments.__dataclass_fields__:
        if getattr(mom, f) is not None:
            getattr(mom, f)[g] = getattr(one, f)[0]


def _empty_moments(K: int, d: int, full: bool, higher: bool) -> GroupMoments:
    return GroupMoments(
        np.zeros(K),
        np.zeros(K, dtype=np.int64),
        np.zeros((K, d)),
        np.zeros((K, d, d) if full else (K, d)),
        np.zeros((K, d)) if higher else None,
        np.zeros(K) if higher else None,
        np.zeros((K, d)),
    )


def _block_rows(n: int, d: int, K: int) -> tuple[int, int]:
    """(rows per block sorted by group, rows per piece)."""
    piece = max(16, _PIECE_BYTES // (8 * max(d, 1)))
    block = max(piece, _MIN_ROWS_PER_GROUP * K) if K > 1 else piece
    return min(block, max(n, 1)), min(piece, max(n, 1))


def _piece_rows(rows: int, piece: int) -> int:
    """Rows per piece for ``rows`` rows of one group: the nearest whole number
    of pieces of about ``piece`` rows, never a short piece left over."""
    pieces = max(1, (rows + piece // 2) // piece)
    return -(-rows // pieces)


def _most_piece_rows(piece: int) -> int:
    """The largest :func:`_piece_rows` for any number of rows."""
    return piece + piece // 2 + 1


def _moments_of_blocks(X, codes, sample_weight, K, starts, block, piece, layout):
    """Moments of the blocks of rows beginning at ``starts`` (one thread's share).

    Each block's rows are put in group order by a stable radix sort of their
    codes, and every group's rows are added to its running moments a piece
    at a time (see :func:`_block_pieces`).
    """
    n, d = X.shape
    acc = _Pass(K, d, *layout, piece)
    # A block small enough is copied whole in group order: X is then read
    # in sequence, once, instead of a piece at a time at scattered rows.
    whole = codes is not None and block * d * 8 <= _SORTED_BLOCK_BYTES
    sorted_block = np.empty((block, d)) if whole else None
    for s in starts:
        e = min(s + block, n)
        w = None if sample_weight is None else sample_weight[s:e]
        c = None if codes is None else codes[s:e]
        for g, Xb, wb in _block_pieces(X[s:e], w, c, K, piece, acc, sorted_block):
            acc.add(g, Xb, wb)
    return acc.moments()


def _block_pieces(src, w, codes, K, piece, acc, sorted_block):
    """(group, rows, weights) of every piece of one block, rows in scratch memory.

    The rows of one group in the block are split into pieces of about
    ``piece`` rows. They are views of ``sorted_block`` when it is given (the
    block copied in group order), else gathered into ``acc.buffer``.
    """
    m = len(src)
    if codes is None:
        bounds, present, order = [0, m], [0], None
    else:
        counts = np.bincount(codes, minlength=K)
        order = np.argsort(codes, kind="stable")
        bounds = [0, *np.cumsum(counts).tolist()]
        present = np.flatnonzero(counts).tolist()
    if sorted_block is not None:
        # Scattering the rows in sequence beats gathering them at random.
        where = np.empty(m, dtype=np.intp)
        where[order] = np.arange(m)
        rows = sorted_block[:m]
        rows[where] = src
        weights = None if w is None else w[order]
    for g in present:
        lo, hi = bounds[g], bounds[g + 1]
        size = _piece_rows(hi - lo, piece)
        for a in range(lo, hi, size):
            b = min(a + size, hi)
            if sorted_block is not None:
                yield g, rows[a:b], None if weights is None else weights[a:b]
                continue
            Xb = acc.buffer[: b - a]
            if order is None:
                Xb[...] = src[a:b]
                taken = slice(a, b)
            else:
                taken = order[a:b]
                np.take(src, taken, axis=0, out=Xb, mode="clip")
            yield g, Xb, None if w is None else w[taken]


def encode_groups(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(labels, return_inverse=True)``, in O(n) for small integer labels.

    Labels that are already the codes ``0 .. K-1`` (all present) are returned
    as they are, without a copy.
    """
    if labels.dtype.kind in "iub" and labels.size:
        low, high = int(labels.min()), int(labels.max())
        # A lookup table over the label range: linear time, bounded memory.
        if high - low <= max(_MAX_LOOKUP_RANGE, labels.size):
            offset = labels if low == 0 else labels.astype(np.intp) - low
            present = np.bincount(offset) > 0
            classes = (np.flatnonzero(present) + low).astype(labels.dtype)
            if low == 0 and present.all():
                return classes, labels
            lookup = np.cumsum(present) - 1
            return classes, lookup[offset]
    return np.unique(labels, return_inverse=True)


def group_codes(labels: np.ndarray, classes: np.ndarray):
    """(index of every label in the sorted ``classes``, labels not in it).

    Labels that are already the codes ``0 .. K-1`` are returned as they are;
    other small integer ranges go through a lookup table; anything else
    through a binary search.
    """
    K = len(classes)
    if labels.size and labels.dtype.kind in "iu" and classes.dtype.kind in "iu":
        low, high = int(labels.min()), int(labels.max())
        if int(classes[0]) == 0 and int(classes[-1]) == K - 1 and low >= 0:
            if high < K:  # classes are 0 .. K-1 and every label is one of them
                return labels, labels[:0]
        if high - low <= max(_MAX_LOOKUP_RANGE, labels.size):
            table = np.full(high - low + 1, -1, dtype=np.intp)
            known = (classes >= low) & (classes <= high)
            table[classes[known] - low] = np.flatnonzero(known)
            codes = table[labels - low]
            return codes, labels[codes < 0]
    codes = np.searchsorted(classes, labels)
    codes[codes == K] = 0
    return codes, labels[classes[codes] != labels] if labels.size else labels[:0]


def group_moments(
    X: np.ndarray,
    groups: np.ndarray | None = None,
    n_groups: int = 1,
    sample_weight: np.ndarray | None = None,
    *,
    full: bool = True,
    higher: bool = False,
    n_threads: int = 1,
) -> GroupMoments:
    """Weighted counts, means and centred scatter of every group in one pass.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        Samples (already validated, except for finiteness: a nan or inf in X
        gives non-finite moments; never modified).
    groups : ndarray of shape (n_samples,) of ints in ``[0, n_groups)`` or None
        Group of each sample; None puts every sample in one group.
    n_groups : int, default=1
        Number of groups K (groups without samples get zero weight).
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights; None means unit weights.
    full : bool, default=True
        Compute full (d, d) scatter matrices; otherwise only their diagonals.
    higher : bool, default=False
        Also compute the third and fourth central moments (requires ``full``).
    n_threads : int, default=1
        Threads over blocks of rows, each with single-threaded BLAS (the
        products are small: threads inside BLAS would only synchronise). The
        result does not depend on it.

    Returns
    -------
    GroupMoments

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._moments import group_moments
    >>> X = np.array([[0.0, 1.0], [2.0, 1.0], [5.0, 5.0]])
    >>> mom = group_moments(X, np.array([0, 0, 1]), 2)
    >>> mom.weight, mom.mean
    (array([2., 1.]), array([[1., 1.],
           [5., 5.]]))
    >>> mom.scatter[0]
    array([[2., 0.],
           [0., 0.]])
    """
    if higher and not full:
        raise ValueError("higher moments require full=True.")
    n, d = X.shape
    K = int(n_groups)
    if groups is None and K != 1:
        raise ValueError("groups=None puts all samples in one group: n_groups=1.")
    # numpy's stable sort is a radix sort for integers of 16 bits or fewer.
    codes = None
    if groups is not None:
        small = np.uint8 if K <= 1 << 8 else np.uint16 if K <= 1 << 16 else np.intp
        codes = groups.astype(small, copy=False)
    block, piece = _block_rows(n, d, K)
    starts = range(0, n, block)
    n_threads = max(1, min(int(n_threads), len(starts)))
    layout = (full, higher)
    work = flops_of_moments(n, d, full)
    # Overflow (|X| beyond ~1e154) is reported once, below, not warned about;
    # errstate is per thread, hence also set inside every worker.
    # The products are small: threads inside BLAS would only synchronise.
    # (_blas loads scikit-learn, which `import skkl` must not.)
    from ._blas import blas_single_thread, runs_inline

    limit = contextlib.nullcontext() if runs_inline(work) else blas_single_thread()
    with np.errstate(over="ignore", invalid="ignore"), limit:
        shares = [starts[k::n_threads] for k in range(n_threads)]
        out = _run_shares(shares, X, codes, sample_weight, K, block, piece, layout)
    if not (np.all(np.isfinite(out.scatter)) and np.all(np.isfinite(out.mean))):
        _raise_not_finite(X)
    return out


def _raise_not_finite(X: np.ndarray):
    """The error for non-finite moments: nan/inf in X, or overflow."""
    from sklearn.utils.validation import _assert_all_finite

    from ._errors import InputError

    _assert_all_finite(X, input_name="X")
    raise InputError(
        "the moments of {argument} overflow float64 (|{argument}| is too large); "
        "rescale {argument}, e.g. with StandardScaler, before fitting.",
        argument="X",
    )


def _run_shares(shares, X, codes, sample_weight, K, block, piece, layout):
    """Moments of every share of blocks (a thread each), merged and folded."""

    def run(share):
        # errstate is per thread: overflow is reported by the caller.
        with np.errstate(over="ignore", invalid="ignore"):
            return _moments_of_blocks(
                X, codes, sample_weight, K, share, block, piece, layout
            )

    if len(shares) == 1:
        parts = [run(shares[0])]
    else:
        with ThreadPoolExecutor(len(shares)) as pool:
            parts = list(pool.map(run, shares))
    if len(parts) == 1 and len(parts[0].weight) == K:
        return _fold(parts[0])  # one thread, no restart: one part per group
    # One merge of every thread's parts (K groups in turn), folded at the end.
    both = _concatenate(parts)
    return _reduce_by_group(both, np.arange(len(both.weight)) % K, K)


def flops_of_moments(n: int, d: int, full: bool) -> float:
    """Arithmetic of :func:`group_moments` on n x d data, for threading rules."""
    return float(n) * d * (d if full else 2)


def _shift(mom: GroupMoments, delta: np.ndarray):
    """Central moments of ``mom`` taken about ``mean + delta`` instead of ``mean``.

    With u = x - m and x - (m + delta) = u - delta, the cross terms that are
    odd in u sum to multiples of the ``residual`` r = sum of w u: zero when m
    is the exact mean, kept when m is a shift or was rounded.
    """
    W = mom.weight
    S = mom.scatter
    dd = np.einsum("ki,kj->kij", delta, delta) if mom.full else delta * delta
    S_new = S + W[:, None, None] * dd if mom.full else S + W[:, None] * dd
    if mom.residual is not None:
        r = mom.residual
        if mom.full:
            rd = np.einsum("ki,kj->kij", r, delta)
            S_new -= rd + rd.transpose(0, 2, 1)
        else:
            S_new -= 2.0 * r * delta
    if not mom.higher:
        return S_new, None, None
    # ||u - delta||^2 = ||u||^2 - 2 u'delta + ||delta||^2
    tr = np.trace(S, axis1=1, axis2=2)
    nd2 = np.einsum("ki,ki->k", delta, delta)
    Sd = np.einsum("kij,kj->ki", S, delta)
    dSd = np.einsum("ki,ki->k", delta, Sd)
    dT = np.einsum("ki,ki->k", delta, mom.third)
    fourth = mom.fourth - 4 * dT + 4 * dSd + 2 * nd2 * tr + W * nd2 * nd2
    third = mom.third - 2 * Sd - tr[:, None] * delta - (W * nd2)[:, None] * delta
    if mom.residual is not None:
        r = mom.residual
        rd = np.einsum("ki,ki->k", r, delta)
        fourth -= 4 * nd2 * rd
        third += 2 * rd[:, None] * delta + nd2[:, None] * r
    return S_new, third, fourth


def _reduce_by_group(
    parts: GroupMoments, group: np.ndarray, K: int, *, fold: bool = True
) -> GroupMoments:
    """Combine the moments of disjoint parts (row i belongs to group[i]) per group.

    The exact multi-way form of the pairwise update of Chan et al.: the group
    mean is the weighted mean of the part means, and each part's central
    moments are shifted to it by the small differences ``m_group - m_part``
    (never through raw sums of powers), then summed. Parts that carry a
    ``residual`` give a result about the exact group mean (``fold=True``) or
    keep it as the result's own residual (``fold=False``, for further merges).
    """
    W = np.bincount(group, weights=parts.weight, minlength=K)
    count = np.bincount(group, weights=parts.count, minlength=K).astype(np.int64)
    mean = _sum_by_group(parts.weight[:, None] * parts.mean, group, K)
    safe = np.where(W > 0, W, 1.0)
    mean /= safe[:, None]
    delta = mean[group] - parts.mean
    S, T, Q = _shift(parts, delta)
    S = _sum_by_group(S, group, K)
    R = None
    if parts.residual is not None:
        R = _sum_by_group(parts.residual - parts.weight[:, None] * delta, group, K)
    out = GroupMoments(
        W,
        count,
        mean,
        S,
        None if T is None else _sum_by_group(T, group, K),
        None if Q is None else _sum_by_group(Q, group, K),
        R,
    )
    return _fold(out) if fold else out


def _fold(mom: GroupMoments) -> GroupMoments:
    """Moments about the exact mean ``mean + R / W`` (scatter ``S - R R' / W``)."""
    R = mom.residual
    if R is None:
        return mom
    safe = np.where(mom.weight > 0, mom.weight, 1.0)
    delta = R / safe[:, None]
    scatter, third, fourth = _shift(mom, delta)
    return GroupMoments(
        mom.weight, mom.count, mom.mean + delta, scatter, third, fourth, None
    )


def _sum_by_group(values: np.ndarray, group: np.ndarray, K: int) -> np.ndarray:
    """``out[k] = values[group == k].sum(0)`` for every k, in one pass.

    The (K, P) indicator of the P parts' groups times the (P, ...) values:
    dense while it is small, sparse beyond (linear in P whatever K), with no
    Python loop (``np.add.at`` adds one element at a time, unbuffered, and
    ``np.add.reduceat`` would need the parts sorted by group first).
    """
    P = len(group)
    rows = values.reshape(P, -1)
    if K * P <= _DENSE_INDICATOR:
        indicator = (group == np.arange(K)[:, None]).astype(np.float64)
        return (indicator @ rows).reshape(K, *values.shape[1:])
    from scipy import sparse

    indicator = sparse.csr_array((np.ones(P), (group, np.arange(P))), shape=(K, P))
    return np.asarray(indicator @ rows).reshape(K, *values.shape[1:])


def merge_moments(a: GroupMoments, b: GroupMoments) -> GroupMoments:
    """Moments of the union of two batches (Chan et al. pairwise update).

    Both batches must describe the same K groups with the same layout
    (``full``, ``higher``). Each batch's central moments are shifted to the
    merged mean, never recomputed from raw sums of powers.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._moments import group_moments, merge_moments
    >>> X = np.random.default_rng(0).normal(size=(10, 3))
    >>> g = np.arange(10) % 2
    >>> both = merge_moments(group_moments(X[:4], g[:4], 2),
    ...                      group_moments(X[4:], g[4:], 2))
    >>> np.allclose(both.scatter, group_moments(X, g, 2).scatter)
    True
    """
    if a.scatter.shape != b.scatter.shape or a.higher != b.higher:
        raise ValueError(
            "cannot merge moments of different layouts: "
            f"{a.scatter.shape} (higher={a.higher}) and "
            f"{b.scatter.shape} (higher={b.higher})."
        )
    K = len(a.weight)
    return _reduce_by_group(_concatenate([a, b]), np.tile(np.arange(K), 2), K)


def _concatenate(parts: list[GroupMoments]) -> GroupMoments:
    """The moments of several computations, one after the other (not merged)."""
    fields = GroupMoments.__dataclass_fields__

    def joined(f):
        values = [getattr(part, f) for part in parts]
        if any(v is None for v in values):
            return None
        return np.concatenate(values)

    return GroupMoments(*(joined(f) for f in fields))


def _mean_eigenvalue_and_frobenius2(covariance: np.ndarray):
    """``tr(S) / d`` and ``||S||_F^2`` of each (d, d) matrix of a (K, d, d) stack."""
    d = covariance.shape[-1]
    mu = np.trace(covariance, axis1=1, axis2=2) / d
    return mu, np.einsum("kij,kij->k", covariance, covariance)


def ledoit_wolf_coefficient(
    weight: np.ndarray, covariance: np.ndarray, fourth: np.ndarray
) -> np.ndarray:
    """Ledoit-Wolf shrinkage of covariances given their fourth moments.

    Same value as :func:`sklearn.covariance.ledoit_wolf_shrinkage` on the
    samples: with S the ML covariance, n the total weight, mu = tr(S)/d and
    Q = sum_i w_i ||x_i - m||^4,
    ``beta = (Q / n - ||S||_F^2) / (d n)``, ``delta = ||S - mu I||_F^2 / d``,
    shrinkage ``min(beta, delta) / delta`` (0 when it is 0/0).

    Parameters
    ----------
    weight : ndarray of shape (K,)
    covariance : ndarray of shape (K, d, d)
        ML covariances (scatter / weight).
    fourth : ndarray of shape (K,)

    Returns
    -------
    shrinkage : ndarray of shape (K,), values in [0, 1]
        0 when d == 1: a single variance already equals its target mu.
    """
    d = covariance.shape[-1]
    if d == 1:
        return np.zeros(len(weight))
    mu, fro2 = _mean_eigenvalue_and_frobenius2(covariance)
    n = np.where(weight > 0, weight, 1.0)
    beta = (fourth / n - fro2) / (d * n)
    delta = (fro2 - d * mu * mu) / d
    beta = np.clip(np.minimum(beta, delta), 0.0, None)
    safe = np.where(delta > 0, delta, 1.0)
    return np.where(beta > 0, beta / safe, 0.0)


def oas_coefficient(weight: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """Oracle Approximating Shrinkage coefficient, as :class:`sklearn.covariance.OAS`.

    With alpha = mean(S**2), mu = tr(S)/d and n the total weight,
    ``min((alpha + mu^2) / ((n + 1) (alpha - mu^2 / d)), 1)`` (1 when the
    denominator is 0).

    Parameters
    ----------
    weight : ndarray of shape (K,)
    covariance : ndarray of shape (K, d, d)

    Returns
    -------
    shrinkage : ndarray of shape (K,), values in [0, 1]
    """
    d = covariance.shape[-1]
    if d == 1:
        return np.zeros(len(weight))
    mu, fro2 = _mean_eigenvalue_and_frobenius2(covariance)
    alpha = fro2 / (d * d)
    num = alpha + mu * mu
    den = (weight + 1) * (alpha - mu * mu / d)
    safe = np.where(den != 0, den, 1.0)
    return np.where(den != 0, np.minimum(num / safe, 1.0), 1.0)


def shrink(covariances: np.ndarray, shrinkage) -> np.ndarray:
    """``(1 - a) S + a mu I`` per group, ``mu = trace(S) / d``: a new array.

    The target of :func:`sklearn.covariance.shrunk_covariance`, for full
    (K, d, d) covariances or (K, d) variances (the diagonal of the same).

    Parameters
    ----------
    covariances : ndarray of shape (K, d, d) or (K, d)
    shrinkage : float or ndarray of shape (K,)
        Intensity ``a`` in [0, 1] of each group.

    Returns
    -------
    shrunk : ndarray of the shape of ``covariances``

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._moments import shrink
    >>> shrink(np.array([[1.0, 3.0]]), 0.5)
    array([[1.5, 2.5]])
    """
    S = np.asarray(covariances, dtype=np.float64)
    a = np.broadcast_to(np.asarray(shrinkage, dtype=np.float64), S.shape[:1])
    if S.ndim == 3:
        d = S.shape[-1]
        mu = np.trace(S, axis1=1, axis2=2) / d
        out = (1.0 - a)[:, None, None] * S
        out[:, np.arange(d), np.arange(d)] += (a * mu)[:, None]
        return out
    return (1.0 - a)[:, None] * S + (a * S.mean(axis=1))[:, None]


def covariances_from_moments(mom: GroupMoments, covariance_type: str, shrinkage=None):
    """Maximum-likelihood covariances of every group, optionally shrunk.

    Parameters
    ----------
    mom : GroupMoments
        With ``full`` scatter for 'full' and 'tied' or any ``shrinkage`` other
        than None/float, and ``higher`` moments for 'ledoit_wolf'. Every group
        must have positive weight.
    covariance_type : {'full', 'diag', 'spherical', 'tied'}
    shrinkage : None, 'ledoit_wolf', 'oas', float in [0, 1] or ndarray, default=None
        Shrinks each covariance towards ``trace(S) / d * I`` (the pooled one
        for 'tied'); see :func:`shrink`. An array gives one intensity per
        covariance.

    Returns
    -------
    covariances : ndarray
        (K, d, d) for 'full', (1, d, d) for 'tied', (K, d) for 'diag', (K,)
        for 'spherical'; without any ridge.
    variances : ndarray of shape (K, d), or (1, d) for 'tied'
        The per-feature variances (the diagonal of the shrunk covariance).
    coefficients : ndarray of shape (K,), or (1,) for 'tied'
        The shrinkage intensity applied to each covariance.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._moments import covariances_from_moments, group_moments
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    >>> covs, _, _ = covariances_from_moments(group_moments(X), "spherical")
    >>> covs
    array([1.])
    """
    W = mom.weight
    if covariance_type == "tied":
        covs = mom.scatter.sum(axis=0)[None] / W.sum()
        weight = np.array([W.sum()])
        fourth = None if mom.fourth is None else mom.fourth.sum(keepdims=True)
    elif mom.full:
        covs = mom.scatter / W[:, None, None]
        weight, fourth = W, mom.fourth
    else:
        covs = mom.scatter / W[:, None]  # per-feature variances
        weight, fourth = W, None

    if shrinkage is None:
        coef = np.zeros(len(weight))
    elif isinstance(shrinkage, str) and shrinkage == "ledoit_wolf":
        coef = ledoit_wolf_coefficient(weight, covs, fourth)
    elif isinstance(shrinkage, str) and shrinkage == "oas":
        coef = oas_coefficient(weight, covs)
    else:  # one intensity, or one per group
        coef = np.broadcast_to(np.asarray(shrinkage, np.float64), weight.shape).copy()

    covs = shrink(covs, coef)
    if covs.ndim == 3:
        variances = np.diagonal(covs, axis1=1, axis2=2).copy()
        if covariance_type in ("diag", "spherical"):
            covs = variances.copy()
    else:
        variances = covs
    if covariance_type == "spherical":
        covs = covs.mean(axis=1)
    return covs, variances, coef
