"""Combining an engine's part statistics into one p-value (private).

Every engine returns, in an :class:`~._engines.EngineResult`, named part
statistics and the weights with which each ``statistic`` combines them.
Permutation engines give the parts of the observed split and of every
permutation: the parts are combined by a weighted Tippett rule over their
partial permutation p-values (a nonparametric combination, itself calibrated
by the same permutations). The asymptotic engine gives the parts' p-values:
they are combined by the weighted Bonferroni rule, valid under any
dependence. Per-feature p-values are Holm-adjusted.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "Combined",
    "combine",
    "combine_p_values",
    "holm",
    "npc",
    "partial_log_p_values",
    "perm_p_value",
    "perm_threshold",
]

# Ties: permutation statistics within this relative distance of the observed
# one count as equal to it (the same split computed in another order differs
# by rounding, ~1e-15 relative; 1e-10 leaves margin for sums over 1e5 rows).
_TIE_RTOL = 1e-10
# Partial p-values are discrete, so Tippett scores tie often, and ties make
# the test conservative: Fisher's sum, scaled far below one rank step,
# breaks them (still one fixed function of each row: exactness holds).
_TIE_BREAK = 1e-6


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adj
    return out


def perm_p_value(obs, null: np.ndarray):
    """``(1 + #{T_b >= T}) / (1 + B)`` per column, ties within rounding counted.

    ``obs`` is a scalar (``null`` of shape (B,)) or a vector (``null`` of shape
    (B, k)); the result has the shape of ``obs``.
    """
    obs = np.asarray(obs, dtype=np.float64)
    tol = _TIE_RTOL * np.maximum(1.0, np.abs(obs))
    ge = np.count_nonzero(null >= obs - tol, axis=0)
    out = (1.0 + ge) / (1.0 + null.shape[0])
    return float(out) if out.ndim == 0 else out


def perm_threshold(null: np.ndarray, alpha: float) -> float:
    """Largest value the statistic may have without p < alpha."""
    B = null.size
    # p < alpha  <=>  #{T_b >= T} <= k with k = ceil(alpha (B + 1)) - 2.
    k = int(np.ceil(alpha * (B + 1))) - 2
    if k < 0:
        return np.inf
    return float(np.sort(null)[::-1][k])


def partial_log_p_values(values: np.ndarray) -> np.ndarray:
    """Log partial p-value of every entry of ``values`` within its column.

    Row r of column k gets ``log(#{rows >= values[r, k]} / rows)``, its
    permutation p-value when the rows are the observed statistic and its
    permutations; values within rounding (``_TIE_RTOL``) count as ties, as
    in :func:`perm_p_value` (a part that saturates -- the same largest
    per-feature statistic on many splits -- must not rank by rounding).
    """
    R = values.shape[0]
    srt = np.sort(values, axis=0)
    logp = np.empty_like(values)
    for k in range(values.shape[1]):
        v = values[:, k]
        low = v - _TIE_RTOL * np.maximum(1.0, np.abs(v))
        ge = R - np.searchsorted(srt[:, k], low, side="left")
        logp[:, k] = np.log(ge / R)
    return logp


def npc(values: np.ndarray, weights=None) -> np.ndarray:
    """Nonparametric combination of the columns of ``values`` (row 0 observed).

    Each column gives every row a partial p-value from its own permutation
    distribution, ``#{rows >= value} / rows``; rows are then scored by
    weighted Tippett, ``-log min_k (p_k / w_k)`` (larger is more extreme).
    The score is the same function of every row of the permutation set, so
    the final permutation p-value stays exact.
    """
    logp = partial_log_p_values(values)
    if weights is None:
        weights = np.full(values.shape[1], 1.0 / values.shape[1])
    return np.max(np.log(weights) - logp, axis=1) - _TIE_BREAK * logp.sum(axis=1)


def combine_p_values(names, p_values, weights: dict, alpha: float):
    """Weighted Bonferroni of part p-values: ``min(1, min_k p_k / w_k)``.

    Valid whatever the dependence between the parts. Returns the statistic
    ``-log min_k (p_k / w_k)``, the p-value and the critical value
    ``-log(alpha)`` of the statistic.
    """
    p = dict(zip(names, np.asarray(p_values, dtype=np.float64), strict=True))
    ratio = min(p[k] / w for k, w in weights.items() if k in p)
    stat = float(-np.log(max(ratio, np.finfo(np.float64).tiny)))
    return stat, float(min(1.0, ratio)), float(-np.log(alpha))


@dataclass(frozen=True)
class Combined:
    """The statistic, its p-value and critical value, the null, feature p-values."""

    statistic: float
    p_value: float
    critical_value: float
    null_distribution: np.ndarray | None
    feature_p_values: np.ndarray


def _statistic_values(result, weights: dict) -> np.ndarray:
    names = list(result.part_names)
    cols = [names.index(k) for k in weights]
    if len(cols) == 1:
        return result.values[:, cols[0]]
    return npc(result.values[:, cols], np.array(list(weights.values())))


def combine(result, statistic: str, alpha: float) -> Combined:
    """One p-value from an :class:`~._engines.EngineResult` (see the module)."""
    if result.beyond_resolution is not None:
        return Combined(
            np.inf, 0.0, float(-np.log(alpha)), None, result.feature_p_values
        )
    weights = result.part_weights[statistic]
    if result.values is None:
        stat, p, crit = combine_p_values(
            result.part_names, result.part_p_values, weights, alpha
        )
        return Combined(stat, p, crit, None, holm(result.feature_p_values))
    values = _statistic_values(result, weights)
    null = values[1:]
    feats = result.feature_values
    feature_p = holm(perm_p_value(feats[0], feats[1:]))
    return Combined(
        float(values[0]),
        perm_p_value(values[0], null),
        perm_threshold(null, alpha),
        null,
        feature_p,
    )
