"""The marginal part of a table's drift test: one small test per column aspect.

The moment test of an encoded table (:mod:`._encode`) compares dozens of
features at once; a change confined to one column (a level's frequency, a
missing rate) is then one direction among many, and a per-column test at a
Bonferroni level (alibi-detect's ``TabularDrift``) finds it more often. A
table's 'combined' statistic therefore adds a *marginal part* to the
engine's parts: each column *aspect* (a :class:`Unit`) gets a test of its own,

- the value of a numeric column: its features ``[z, z^2]`` (mean and
  spread of the filled values, as a Kolmogorov-Smirnov test would see a
  location or scale change);
- the missingness indicator of a column: its rate;
- the level indicators of a categorical column: their frequencies;

each the squared distance between the two samples' means of the unit's
features, whitened by their pooled covariance (Hotelling's statistic with a
fixed metric; Pearson's chi-square for the levels). The metric is a function
of the pooled sample only, so the permutation test stays exact.

From permutations (moment and Gram engines, on the engine's own splits):
the part is the min-p over units (the largest ``-log`` partial p-value), and
enters the engine's weighted Tippett combination with weight
:data:`MARGINAL_WEIGHT`, the engine's parts sharing the rest in their own
proportions: the combination stays exact. From the asymptotic engine: each
unit's statistic times ``n1 n2 / N`` is chi-square with the unit's rank for
degrees of freedom, the part is Bonferroni over units, and it enters the
weighted Bonferroni rule with the same weight. Per-column p-values (the
attribution) come from the same units: min-p over a column's units, then
Holm across columns.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from .._blas import get_chunk_n_rows
from ._combine import (
    combine_p_values,
    holm,
    npc,
    partial_log_p_values,
    perm_p_value,
    perm_threshold,
)
from ._sums import second_pairs

__all__ = [
    "MARGINAL_WEIGHT",
    "Unit",
    "UnitFeatures",
    "marginal_combination",
    "sums_p_values",
    "table_units",
    "unit_features",
]

#: Weight of the marginal part in a table's 'combined' statistic, from the
#: power study of benchmarks/bench_drift_mixed.py (census-like table): with
#: 0.5, 0.7 and 0.8, a missing rate 10% -> 15% at 2000+2000 rows is found in
#: 93%, 97%, 97% of data sets (per-column tests alone, alibi-detect's
#: TabularDrift: 97%), a level's +5 points in 59%, 61%, 64% (66%), and a
#: joint change no marginal test sees, at 1000+1000, in 43%, 35%, 35% (the
#: moment parts alone: ~50%; TabularDrift: 3%). 0.7 keeps changes confined
#: to one column at the power of per-column tests.
MARGINAL_WEIGHT = 0.7
#: Eigenvalues of a unit's pooled covariance at most this fraction of the
#: largest are dropped: a boolean value has ``z^2`` affine in ``z``, and a
#: categorical column whose levels all have indicators sums to 1 (rounding
#: leaves ~1e-16 there).
_RANK_RTOL = 1e-10


@dataclass(frozen=True)
class Unit:
    """One column aspect tested by the marginal part.

    Attributes
    ----------
    column : int
        The column's index in the table.
    kind : {'value', 'missing', 'levels'}
    features : ndarray of int
        Positions of its features among the tested (kept) features.
    """

    column: int
    kind: str
    features: np.ndarray


def table_units(encoding, keep) -> list:
    """The units of an encoding, on the kept features ``keep``."""
    where = {int(e): i for i, e in enumerate(keep)}
    units, start = [], 0
    for c, code in enumerate(encoding.columns):
        m = code.n_features
        encoded = range(start, start + m)
        start += m
        if code.kind == "numeric":
            kinds = ["value"] * code.value + ["missing"] * code.indicator
            pieces = [(kind, [e]) for kind, e in zip(kinds, encoded, strict=True)]
        else:
            pieces = [("levels", list(encoded))] if m else []
        for kind, feats in pieces:
            kept = [where[e] for e in feats if e in where]
            if kept:
                units.append(Unit(c, kind, np.array(kept, dtype=np.intp)))
    return units


@dataclass(frozen=True)
class UnitFeatures:
    """Every unit's whitened features, side by side.

    Attributes
    ----------
    V : ndarray of shape (N, k)
        Whitened, centred on the pooled (weighted) mean.
    starts : ndarray of int
        First column of each unit in ``V``.
    ranks : ndarray of int
        Columns of each unit (the rank of its pooled covariance).
    """

    V: np.ndarray
    starts: np.ndarray
    ranks: np.ndarray


def _whiten(F: np.ndarray, w: np.ndarray) -> np.ndarray:
    """``F`` centred and whitened by its pooled weighted covariance (rank kept)."""
    W = float(w.sum())
    Fc = F - (w @ F) / W
    C = (Fc * w[:, None]).T @ Fc / W
    lam, U = np.linalg.eigh(C)
    top = float(lam[-1]) if lam.size else 0.0
    live = lam > _RANK_RTOL * top if top > 0 else np.zeros(lam.size, dtype=bool)
    return Fc @ (U[:, live] / np.sqrt(lam[live]))


def unit_features(Z: np.ndarray, w: np.ndarray, units) -> UnitFeatures:
    """The whitened features of ``units`` from the standardised pooled rows ``Z``."""
    blocks = []
    for unit in units:
        F = Z[:, unit.features]
        if unit.kind == "value":
            F = np.column_stack([F[:, 0], F[:, 0] * F[:, 0]])
        blocks.append(_whiten(F, w))
    ranks = np.array([b.shape[1] for b in blocks], dtype=np.intp)
    starts = np.concatenate([[0], np.cumsum(ranks)[:-1]]).astype(np.intp)
    V = np.hstack(blocks) if blocks else np.zeros((Z.shape[0], 0))
    return UnitFeatures(V, starts, ranks)


def _unit_statistics(uf: UnitFeatures, memberships, w) -> np.ndarray:
    """Each unit's statistic for every split (rows of ``memberships``)."""
    W = float(w.sum())
    Vw = uf.V * w[:, None]
    total = Vw.sum(axis=0)
    S = memberships @ Vw
    W1 = memberships @ w
    D = S / W1[:, None] - (total - S) / (W - W1)[:, None]
    live = uf.ranks > 0
    out = np.zeros((memberships.shape[0], uf.ranks.size))
    if np.any(live):
        out[:, live] = np.add.reduceat(D * D, uf.starts[live], axis=1)
    return out


def permutation_statistics(uf: UnitFeatures, sampler, w) -> np.ndarray:
    """Unit statistics of the observed split and of every permutation (R, units).

    ``sampler`` is a fresh :class:`~._engines.SplitSampler` with the engine's
    seed: the same splits as the engine's parts.
    """
    N = uf.V.shape[0]
    row_bytes = 8 * (N + uf.V.shape[1])
    step = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=sampler.n_rows)
    chunks = []
    while (M := sampler.take(max(1, step))).shape[0]:
        chunks.append(_unit_statistics(uf, M.astype(np.float64), w))
    return np.concatenate(chunks)


def asymptotic_p_values(uf: UnitFeatures, n1: int, w) -> np.ndarray:
    """Each unit's chi-square p-value for the observed split (first ``n1`` rows)."""
    N = w.size
    observed = np.zeros((1, N))
    observed[0, :n1] = 1.0
    T = _unit_statistics(uf, observed, w)[0]
    W = float(w.sum())
    W1 = float(w[:n1].sum())
    p = np.ones(uf.ranks.size)
    live = uf.ranks > 0
    p[live] = stats.chi2.sf(T[live] * W1 * (W - W1) / W, uf.ranks[live])
    return p


def _sums_index(units, d: int, covariance_type: str) -> list:
    """Each unit's columns among the moment features ``[z, second(z)]`` of sums."""
    i, j = second_pairs(d, covariance_type)
    square = d + np.flatnonzero(i == j)  # the column of z_k^2, for every k
    out = []
    for unit in units:
        idx = list(unit.features)
        if unit.kind == "value":
            idx.append(square[unit.features[0]])
        out.append(np.asarray(idx, dtype=np.intp))
    return out


def sums_p_values(ref, new, units) -> np.ndarray:
    """Each unit's chi-square p-value from two samples' :class:`MomentSums`.

    The same statistic as :func:`asymptotic_p_values` computes from rows:
    ``n1 n2 / N`` times the squared mean difference of the unit's features
    in the metric of their pooled covariance.
    """
    pooled = ref.merge(new)
    C = pooled.scatter / pooled.n
    scale = ref.n * new.n / pooled.n
    p = np.ones(len(units))
    for k, idx in enumerate(_sums_index(units, ref.d, ref.covariance_type)):
        delta = ref.mean[idx] - new.mean[idx]
        lam, U = np.linalg.eigh(C[np.ix_(idx, idx)])
        top = float(lam[-1])
        if top <= 0:
            continue
        live = lam > _RANK_RTOL * top
        proj = U[:, live].T @ delta
        T = float(np.sum(proj * proj / lam[live]))
        p[k] = stats.chi2.sf(T * scale, int(live.sum()))
    return p


def column_p_values(units, unit_p, n_columns, log_partial=None) -> np.ndarray:
    """Holm-adjusted p-value per column from its units (1 without a unit).

    From permutations (``log_partial`` the units' log partial p-values, shape
    (R, units)): min-p over the column's units, its permutation p-value.
    Otherwise (``unit_p``): Bonferroni over the column's units.
    """
    p = np.ones(n_columns)
    cols = np.array([u.column for u in units], dtype=np.intp)
    tested = np.unique(cols)
    if tested.size == 0:
        return p
    raw = np.empty(tested.size)
    for k, c in enumerate(tested):
        mine = cols == c
        if log_partial is not None:
            stat = np.max(-log_partial[:, mine], axis=1)
            raw[k] = perm_p_value(stat[0], stat[1:])
        else:
            raw[k] = min(1.0, mine.sum() * float(np.min(unit_p[mine])))
    p[tested] = holm(raw)
    return p


def marginal_combination(out, weights, alpha, unit_values=None, unit_p=None):
    """The table's 'combined' statistic: the engine's parts and the marginal part.

    Returns ``(statistic, p_value, critical_value, null_distribution)`` (the
    null None for the asymptotic engine). ``weights`` are the engine's
    'combined' weights (scaled here by ``1 - MARGINAL_WEIGHT``).
    """
    share = 1.0 - MARGINAL_WEIGHT
    if unit_values is not None:
        names = list(out.part_names)
        cols = [out.values[:, names.index(k)] for k in weights]
        marginal = np.max(-partial_log_p_values(unit_values), axis=1)
        w = np.array([share * v for v in weights.values()] + [MARGINAL_WEIGHT])
        values = npc(np.column_stack([*cols, marginal]), w)
        null = values[1:]
        return (
            float(values[0]),
            perm_p_value(values[0], null),
            perm_threshold(null, alpha),
            null,
        )
    p_marginal = min(1.0, unit_p.size * float(np.min(unit_p))) if unit_p.size else 1.0
    names = (*out.part_names, "marginal")
    p = np.append(out.part_p_values, p_marginal)
    table = {k: share * v for k, v in weights.items()}
    table["marginal"] = MARGINAL_WEIGHT
    stat, p_value, crit = combine_p_values(names, p, table, alpha)
    return stat, p_value, crit, None
