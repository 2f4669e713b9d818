"""The online monitor's statistic: window-limited likelihood ratios on sums.

A row arrives standardised by the reference (``u`` per feature, ``z``
whitened; see ``_online_reference``). For every candidate post-change window
of ``m`` rows ending at the current row, Gaussian log-likelihood ratios of
"the window differs from the reference" are computed from the window's sums,
each in nats (about ``m`` times the KL divergence per row of the change):

========== ====== =========================================================
part       tier   likelihood ratio (``m`` rows, ``m_eff = m n / (m + n)``)
========== ====== =========================================================
mean       row    ``m_eff / 2 ||mean(z)||^2`` (Hotelling; d degrees of freedom)
feature    row    max over features of ``m_eff / 2 (mean(u_j)^2 + g_j (v_j - 1
                  - log v_j))``, ``v_j`` the window variance (2 each)
scale      row    ``m_eff d / 2 g (q - 1 - log q)``, ``q = mean(||z||^2) / d``
                  (1)
pair       block  ``-m_eff / 2 log(1 - max g_ij r_ij^2)`` over pairs, ``r_ij``
                  the window correlation of whitened coordinates (1 each)
========== ====== =========================================================

``m_eff`` is the two-sample effective size: the reference is itself a
sample of ``n`` rows. The factors ``g`` (1 for Gaussian data) put variance
and correlation parts on the scale of the reference's own fourth moments
(``Reference.tail_factors``); a table's indicator features (0/1: levels,
missing cells, booleans) get factor 0, so they count in the mean terms only
(``Stream.use_tail_factors``). Each part's likelihood ratio ``T`` is turned
into evidence ``-log(J P(chi2_k / 2 >= T) / w)`` (Gaussian theory, Bonferroni
over its ``J`` maxima, weight ``w``), so parts of different degrees of
freedom compete fairly, as the offline detector's weighted Tippett
combination does; the statistic is the largest evidence over parts and
windows, and its threshold is calibrated by simulation, not by this theory.

Short windows stay defined: a window variance counts ``PSEUDO_ROWS`` extra
rows at the reference's value (so one or two rows never read as a vanished
variance), and the pair part starts at two blocks of rows.

Cost and memory. Candidate lengths form a geometric grid (ratio sqrt(2)) up
to the window; a window of ``m`` rows is evaluated every ``max(1, m // 8)``
rows (it changes little from one row to the next), about nine evaluations
per row in all. Row-tier parts read prefix sums of ``[z, u, u^2, ||z||^2]``
(``3d + 1`` numbers per row, kept for the last ``window`` rows): ``O(d)`` per
evaluation. The pair part reads sums of ``z z'`` over blocks of ``block``
rows and is evaluated at block ends (long windows every ``k // 8`` blocks):
``O(d^2)`` per evaluation. Memory is ``O(window d + window d^2 / block)``,
independent of the stream's length. Every evaluation time is fixed by the
row count since the start, never by how rows were batched, so the statistic
does not depend on batch sizes.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.linalg import solve_triangular

from .._blas import blas_threads_for

__all__ = [
    "PARTS",
    "PSEUDO_ROWS",
    "Layout",
    "Stream",
    "indicator_mask",
    "make_layout",
    "window_summary",
]

#: Rows at the reference's value added to a window's variances.
PSEUDO_ROWS = 2.0
#: A row-tier window of m rows is evaluated every ``m // STRIDE_DIVISOR`` rows.
STRIDE_DIVISOR = 8
# Ratio between successive candidate window lengths: a change is seen by a
# window at most sqrt(2) times shorter than its post-change segment.
_GRID_RATIO = np.sqrt(2.0)
# Bytes of per-chunk work arrays (rows x lengths x sums).
_CHUNK_BYTES = 1 << 23
# Keeps logarithms of probabilities and levels finite.
_TINY = 1e-300
# Below this gammaincc has lost its digits to underflow: the asymptotic tail
# term takes over.
_SF_ASYMPTOTIC = 1e-250
# Rounding slack for the number of grid steps floor(log(top/start)/log r).
_GRID_SLACK = 1e-9
# Rows per chunk at most: beyond, chunks stop paying off in cache.
_MAX_CHUNK_ROWS = 4096
# A squared correlation of exactly 1 (a window with two row patterns) would
# make log1p(-r2) -inf: the largest float below 1 keeps the ratio finite.
_MAX_R2 = 1.0 - 1e-16


@dataclass(frozen=True)
class Part:
    """One likelihood-ratio part of the statistic."""

    name: str
    weight: float
    tier: str  # 'row' or 'block'
    description: str


PARTS = (
    Part("mean", 0.3, "row", "whitened mean (Hotelling)"),
    Part("feature", 0.3, "row", "one feature's mean and variance"),
    Part("scale", 0.1, "row", "overall scale of the whitened rows"),
    Part("pair", 0.3, "block", "correlation of one pair of whitened coordinates"),
)
_ROW_PARTS = [p for p in PARTS if p.tier == "row"]


def _grid(top: int, start: int = 1) -> np.ndarray:
    """Geometric grid of integers from ``start`` to ``top`` (both included)."""
    if top < start:
        return np.zeros(0, dtype=np.int64)
    k = int(np.floor(np.log(top / start) / np.log(_GRID_RATIO) + _GRID_SLACK))
    values = np.round(start * _GRID_RATIO ** np.arange(k + 1)).astype(np.int64)
    return np.unique(np.append(values, top))


@dataclass(frozen=True)
class Layout:
    """What the statistic is: dimensions, windows and part weights."""

    d: int
    n_ref: int
    window: int
    block: int
    lengths: np.ndarray  # row-tier candidate lengths
    block_lengths: np.ndarray  # pair-part candidate lengths, in blocks
    # A table's indicators make windows whose rows take two or three patterns
    # (exactly collinear coordinates): their pair correlations are shrunk as
    # their variances are (PSEUDO_ROWS) and their pair factors kept <= 1, so
    # that ``g r^2 < 1`` and the pair ratio stays finite and calibratable.
    table: bool = False
    # A table's indicator features (levels, missing cells): their variance is
    # a function of their mean, so only the mean counts for them -- the
    # variance and pair parts leave them out (see ``Stream.use_tail_factors``).
    indicators: tuple = ()

    @property
    def block_strides(self) -> np.ndarray:
        """Blocks between evaluations of each pair-part length (``k // 8``)."""
        return np.maximum(1, self.block_lengths // STRIDE_DIVISOR)

    @property
    def strides(self) -> np.ndarray:
        """Rows between evaluations of each row-tier length (``m // 8``, >= 1).

        A window of m rows changes little from one row to the next: looking
        every m/8 rows delays an alarm by at most an eighth of the window and
        halves the cost per row.
        """
        return np.maximum(1, self.lengths // STRIDE_DIVISOR)

    @property
    def has_pairs(self) -> bool:
        return self.d > 1 and len(self.block_lengths) > 0

    @property
    def part_names(self) -> tuple[str, ...]:
        return tuple(p.name for p in PARTS if p.tier == "row" or self.has_pairs)

    def log_weights(self) -> np.ndarray:
        """Log of each part's weight, renormalised over the parts present."""
        w = np.array([p.weight for p in PARTS if p.name in self.part_names])
        return np.log(w / w.sum())


def indicator_mask(encoding) -> tuple:
    """Which encoded features are indicators; () without an encoding.

    Indicators are the 0/1 features: a categorical column's levels, a
    missingness indicator and a boolean column's value.
    """
    if encoding is None:
        return ()
    flags = []
    for code, (_, boolean) in zip(encoding.columns, encoding.schema, strict=True):
        if code.kind == "numeric":
            flags += [bool(boolean)] * code.value + [True] * code.indicator
        else:
            flags += [True] * code.n_features
    return tuple(flags)


def default_block(d: int) -> int:
    """Rows per block of the pair part: its cost per row is ``d^2 / block``."""
    return int(np.clip(d, 8, 32))


def make_layout(
    d: int,
    n_ref: int,
    window: int,
    block: int | None = None,
    table: bool = False,
    indicators=(),
) -> Layout:
    block = default_block(d) if block is None else int(block)
    return Layout(
        table=bool(table),
        indicators=tuple(bool(i) for i in indicators),
        d=int(d),
        n_ref=int(n_ref),
        window=int(window),
        block=block,
        lengths=_grid(int(window)),
        block_lengths=_grid(int(window) // block, 2),
    )


def _log_sf_gamma(k: float, T: np.ndarray) -> np.ndarray:
    """``log P(Gamma(k) >= T)``, i.e. of chi2 with 2k degrees of freedom at 2T."""
    T = np.maximum(T, 0.0)
    if k == 1.0:
        return -T
    if k == 0.5:
        return special.log_ndtr(-np.sqrt(2.0 * T)) + np.log(2.0)
    sf = special.gammaincc(k, T)
    # Deep in the tail gammaincc underflows: its leading asymptotic term.
    tail = (k - 1.0) * np.log(np.maximum(T, _TINY)) - T - special.gammaln(k)
    return np.where(sf > _SF_ASYMPTOTIC, np.log(np.maximum(sf, _TINY)), tail)


def _kl_1d(mean2, var):
    """``mean^2 + v - 1 - log v``: twice the KL of N(mean, v) from N(0, 1)."""
    return mean2 + var - 1.0 - np.log(var)


class Stream:
    """The running state of one stream: buffers for the last ``window`` rows.

    ``advance(U, Z)`` appends standardised rows and returns, for each row, the
    statistic and where it came from. ``reset()`` forgets every row.
    """

    def __init__(self, layout: Layout):
        self.layout = layout
        d, W, s = layout.d, layout.window, layout.block
        self.n_features = d
        self._F = 3 * d + 1
        per_row = 8 * max(self._F * max(len(layout.lengths), 1), d)
        self.chunk = int(max(s, min(_MAX_CHUNK_ROWS, _CHUNK_BYTES // per_row)) // s * s)
        cap = W + 2 * s + self.chunk + 1
        self._P = np.zeros((cap, self._F))  # prefix sums of rows since row0
        self._Z = np.zeros((cap, d))  # whitened rows since row0
        self._nb_cap = W // s + self.chunk // s + 4
        self._BP = np.zeros((self._nb_cap, d, d))  # prefix sums of z z' by block
        self._logw = dict(zip(layout.part_names, layout.log_weights(), strict=True))
        self.use_tail_factors(np.ones(d), 1.0, np.ones((d, d)))
        self.reset()

    def use_tail_factors(self, feature, scale, pair) -> None:
        """Multipliers of the variance parts (see ``Reference.tail_factors``)."""
        self._g_feat = np.array(feature, dtype=float)
        self._g_scale = float(scale)
        self._g_pair = np.array(pair, dtype=float)
        if self.layout.table:
            np.minimum(self._g_pair, 1.0, out=self._g_pair)
        if any(self.layout.indicators):
            # An indicator's window variance is a function of its mean (and
            # falls to 0 when a rare level is absent): its variance ratio and
            # its pair correlations measure the mean again, on a Gaussian
            # scale a kurtosis of ~1/p makes wrong.
            ind = np.array(self.layout.indicators)
            self._g_feat[ind] = 0.0
            self._g_pair[ind, :] = 0.0
            self._g_pair[:, ind] = 0.0
        np.fill_diagonal(self._g_pair, 0.0)

    def reset(self) -> None:
        """Forget every row (the next row is row 0 of a new run)."""
        self.t = 0  # rows since the start
        self.row0 = 0  # row index of self._P[0] / self._Z[0]
        self.blk0 = 0  # block index of self._BP[0]
        self._P[0] = 0.0
        self._BP[0] = 0.0

    # -- buffers ----------------------------------------------------------------

    def _make_room(self, rows: int) -> None:
        """Drop rows older than the window so that ``rows`` more fit."""
        W, s = self.layout.window, self.layout.block
        blocks_after = (self.t + rows) // s - self.blk0 + 1
        if self.t - self.row0 + rows + 1 <= len(self._P) and blocks_after <= len(
            self._BP
        ):
            return
        # Keep the last window of rows, from a block boundary (pair sums).
        keep = max(self.row0, (self.t - W - s) // s * s)
        j = keep - self.row0
        n = self.t - keep
        self._P[: n + 1] = self._P[j : j + n + 1] - self._P[j]  # re-anchor
        self._Z[:n] = self._Z[j : j + n]
        self.row0 = keep
        blocks = self.t // s
        kb = max(self.blk0, blocks - W // s - 1)
        jb = kb - self.blk0
        nb = blocks - kb
        self._BP[: nb + 1] = self._BP[jb : jb + nb + 1] - self._BP[jb]
        self.blk0 = kb

    # -- the statistic ------------------------------------------------------------

    def advance(self, U: np.ndarray, Z: np.ndarray):
        """Append rows; per row: (evidence, part index, window length).

        Returns arrays of shape (len(U),): the statistic, the index of the
        part in ``layout.part_names`` that gave it and the window length.
        """
        with blas_threads_for(2.0 * min(len(U), self.chunk) * self.n_features**2):
            out = [
                self._advance_chunk(U[i : i + self.chunk], Z[i : i + self.chunk])
                for i in range(0, len(U), self.chunk)
            ]
        if not out:
            empty = np.zeros(0)
            return empty, empty.astype(np.int64), empty.astype(np.int64)
        return tuple(np.concatenate(parts) for parts in zip(*out, strict=True))

    def _advance_chunk(self, U, Z):
        B, d = U.shape
        self._make_room(B)
        j0 = self.t - self.row0
        feats = np.empty((B, self._F))
        feats[:, :d] = Z
        feats[:, d : 2 * d] = U
        np.square(U, out=feats[:, 2 * d : 3 * d])
        np.einsum("ij,ij->i", Z, Z, out=feats[:, 3 * d])
        np.cumsum(feats, axis=0, out=self._P[j0 + 1 : j0 + B + 1])
        self._P[j0 + 1 : j0 + B + 1] += self._P[j0]
        self._Z[j0 : j0 + B] = Z
        rows = self.t + np.arange(B)
        ev, part, length = self._row_parts(rows)
        if self.layout.has_pairs:
            self._pair_part(rows, ev, part, length)
        self.t += B
        return ev, part, length

    def _row_parts(self, rows):
        d = self.layout.d
        B = len(rows)
        e0 = rows[0] - self.row0 + 1  # prefix index after the chunk's first row
        # Each part's evidence grows with its ratio: the best window first.
        T = np.full((3, B), -1.0)
        k = np.zeros((3, B), dtype=np.int64)
        t0 = int(rows[0])
        for m, step in zip(self.layout.lengths, self.layout.strides, strict=True):
            first = max(0, int(m) - 1 - t0)  # rows with m rows behind
            first += (-(t0 + first + 1)) % step  # evaluated every `step` rows
            if first >= B:
                continue
            D = (
                self._P[e0 + first : e0 + B : step]
                - self._P[e0 + first - m : e0 + B - m : step]
            )
            Tm = self._row_ratios(D, float(m))
            cur, arg = T[:, first::step], k[:, first::step]
            upd = Tm > cur
            cur[upd] = Tm[upd]
            arg[upd] = m
        E = np.stack(
            [
                self._logw["mean"] - _log_sf_gamma(d / 2, T[0]),
                self._logw["feature"] - np.log(d) - _log_sf_gamma(1.0, T[1]),
                self._logw["scale"] - _log_sf_gamma(0.5, T[2]),
            ]
        )
        E[:, T[0] < 0] = -np.inf  # no window yet (never: m = 1 is valid)
        best = np.argmax(E, axis=0)
        cols = np.arange(len(rows))
        return E[best, cols], best, k[best, cols]

    def _row_ratios(self, D: np.ndarray, m: float) -> np.ndarray:
        """Likelihood ratios (mean, feature, scale) of windows of m rows, (3, B)."""
        d, n = self.layout.d, self.layout.n_ref
        meff = m * n / (m + n)
        S1z, S1u, S2u, Sq = D[:, :d], D[:, d : 2 * d], D[:, 2 * d : 3 * d], D[:, 3 * d]
        out = np.empty((3, len(D)))
        np.einsum("ij,ij->i", S1z, S1z, out=out[0])
        out[0] *= meff / (2 * m * m)
        mu2 = np.square(S1u / m)
        var = (S2u - m * mu2 + PSEUDO_ROWS) / (m + PSEUDO_ROWS)
        v = np.maximum(var, _TINY)
        np.max(mu2 + self._g_feat * (v - 1.0 - np.log(v)), axis=1, out=out[1])
        out[1] *= meff / 2
        q = (Sq + PSEUDO_ROWS) / (m * d + PSEUDO_ROWS)
        g = self._g_scale
        out[2] = meff * d / 2 * g * (q - 1.0 - np.log(np.maximum(q, _TINY)))
        return out

    def _pair_part(self, rows, ev, part, length):
        """Pair evidence at the block ends among ``rows``; updates in place."""
        lay = self.layout
        s, d = lay.block, lay.d
        ends = np.flatnonzero((rows + 1) % s == 0)
        if not len(ends):
            return
        # Sums of z z' over the blocks completed in this chunk.
        first = (rows[ends[0]] + 1) // s - 1
        nb = len(ends)
        zb = self._Z[first * s - self.row0 : (first + nb) * s - self.row0]
        zb = zb.reshape(nb, s, d)
        jb = first - self.blk0
        out = self._BP[jb + 1 : jb + nb + 1]
        np.cumsum(np.matmul(zb.transpose(0, 2, 1), zb), axis=0, out=out)
        out += self._BP[jb]
        blocks = (rows[ends] + 1) // s  # blocks completed at each end
        T = np.full(nb, -1.0)
        k_best = np.zeros(nb, dtype=np.int64)
        for k, step in zip(lay.block_lengths, lay.block_strides, strict=True):
            sel = np.flatnonzero((blocks >= k) & (blocks % step == 0))
            if not len(sel):
                continue
            bend = blocks[sel] - self.blk0
            S2 = self._BP[bend] - self._BP[bend - k]
            rend = rows[ends[sel]] - self.row0 + 1
            S1 = self._P[rend, :d] - self._P[rend - k * s, :d]
            Tk = self._pair_lr(S1, S2, float(k * s))
            upd = Tk > T[sel]
            T[sel[upd]] = Tk[upd]
            k_best[sel[upd]] = k
        best = self._logw["pair"] - np.log(d * (d - 1) / 2) - _log_sf_gamma(0.5, T)
        best[T < 0] = -np.inf  # no window evaluated here
        win = best > ev[ends]
        idx = ends[win]
        ev[idx] = best[win]
        part[idx] = self.layout.part_names.index("pair")
        length[idx] = k_best[win] * s

    def _pair_lr(self, S1, S2, m: float):
        """Largest pair likelihood ratio of windows of m rows, from full sums."""
        n = self.layout.n_ref
        zbar = S1 / m
        C = S2 / m - zbar[:, :, None] * zbar[:, None, :]
        v = (m * np.diagonal(C, axis1=1, axis2=2) + PSEUDO_ROWS) / (m + PSEUDO_ROWS)
        iv = 1.0 / np.sqrt(np.maximum(v, _TINY))
        C *= iv[:, :, None]
        C *= iv[:, None, :]
        if self.layout.table:
            C *= m / (m + PSEUDO_ROWS)
        np.square(C, out=C)
        C *= self._g_pair  # zero on the diagonal
        r2 = np.minimum(np.max(C, axis=(1, 2)), _MAX_R2)
        meff = m * n / (m + n)
        return -meff / 2 * np.log1p(-r2)

    # -- what an alarm reports ----------------------------------------------------

    def window_rows(self, row: int, m: int) -> np.ndarray:
        """A copy of the whitened rows of the ``m``-row window ending at ``row``.

        ``row`` counts from the start of the run; the window must lie within
        the rows still held (the last ``window`` rows before the current
        chunk, and the chunk).
        """
        a = row - m + 1 - self.row0
        if a < 0 or row + 1 > self.t:
            raise ValueError("the window is no longer held")  # internal misuse
        return self._Z[a : a + m].copy()


def window_summary(
    S1: np.ndarray, S2: np.ndarray, m: int, factor: np.ndarray, groups=None
):
    """Effect (KL per row, nats) and per-feature KL of a window's sums of z.

    The window's Gaussian fit in whitened coordinates is ``N(zbar, C)``, its
    covariance regularised by ``PSEUDO_ROWS`` rows at the reference's; the
    effect is ``KL(N(zbar, C) || N(0, I))``. The per-feature scores are the
    same KL for each feature's marginal, read in ``u = L z``. With ``groups``
    (the group of each feature, 0..k-1) there is one score per group: the KL
    of the joint marginal of the group's features, ``N(ubar_B, C_BB)`` from
    ``N(0, R_BB)`` (``R = L L'``, the reference's correlation); for a group
    of one feature it is that feature's score.
    """
    d = len(S1)
    zbar = S1 / m
    C = S2 / m - np.outer(zbar, zbar)
    Cr = (m * C + PSEUDO_ROWS * np.eye(d)) / (m + PSEUDO_ROWS)
    Cr = (Cr + Cr.T) / 2
    eig = np.linalg.eigvalsh(Cr)
    eig = np.maximum(eig, _TINY)
    effect = 0.5 * (zbar @ zbar + np.sum(eig - 1.0 - np.log(eig)))
    ubar = factor @ zbar
    Cu = factor @ Cr @ factor.T
    if groups is None:
        scores = 0.5 * _kl_1d(ubar**2, np.maximum(np.diagonal(Cu), _TINY))
        return float(effect), scores
    return float(effect), _group_scores(ubar, Cu, factor @ factor.T, groups)


def _group_scores(ubar, Cu, R, groups) -> np.ndarray:
    """KL of each group's joint marginal (see :func:`window_summary`)."""
    groups = np.asarray(groups)
    scores = np.zeros(int(groups.max()) + 1 if groups.size else 0)
    for g in range(len(scores)):
        B = np.flatnonzero(groups == g)
        if not B.size:
            continue
        # Whiten the block by the reference's: M = Lb^-1 C_BB Lb^-T.
        Lb = np.linalg.cholesky(R[np.ix_(B, B)])
        mb = solve_triangular(Lb, ubar[B], lower=True)
        A = solve_triangular(Lb, Cu[np.ix_(B, B)], lower=True)
        M = solve_triangular(Lb, A.T, lower=True)
        eig = np.maximum(np.linalg.eigvalsh((M + M.T) / 2), _TINY)
        scores[g] = 0.5 * (mb @ mb + np.sum(eig - 1.0 - np.log(eig)))
    return scores
