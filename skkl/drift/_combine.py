"""Combining part statistics into one p-value, and the effect size (private).

Every engine gives, for the observed split and every permutation, a few part
statistics (larger = more drift): the moment engine the parts of the Gaussian
likelihood-ratio statistic (``_permutation.PARTS``), the sample-space engine
its U-statistics (``_gram.GRAM_PARTS``), the asymptotic engine p-values per
part. This module turns them into the statistic the user asked for, its
p-value and critical value, and computes the symmetric KL effect size of
given group moments. It imports nothing from the engines but the part names.
"""

from __future__ import annotations

import numpy as np

from .._linalg import cholesky, solve_lower
from .._moments import shrink
from ._permutation import PARTS

# statistic='combined': weighted Tippett over these parts' permutation
# p-values. Weights come from the power study in benchmarks/bench_drift.py
# (``--variants``; table in the user guide): the mean part keeps most of
# Hotelling's power on mean shifts; the largest per-feature variance part and
# the largest Fisher-z correlation change catch changes confined to one
# feature or one pair; the variance and correlation parts of the LRT catch
# changes spread over many features.
COMBINED_WEIGHTS = {
    "mean": 0.6,
    "variance_max": 0.1,
    "correlation_max": 0.1,
    "variance": 0.1,
    "correlation": 0.1,
}
# Without correlations (diagonal model or one feature) the correlation parts
# are identically 0; their weight goes to the variance parts.
COMBINED_WEIGHTS_DIAG = {"mean": 0.6, "variance_max": 0.2, "variance": 0.2}


def combined_parts(correlations: bool = True):
    """Column indices into ``PARTS`` and weights of statistic='combined'."""
    spec = COMBINED_WEIGHTS if correlations else COMBINED_WEIGHTS_DIAG
    return [PARTS.index(k) for k in spec], np.array(list(spec.values()))


def holm(p: np.ndarray) -> np.ndarray:
    """Holm step-down adjusted p-values."""
    p = np.asarray(p, dtype=np.float64)
    m = p.size
    order = np.argsort(p)
    adj = np.minimum(1.0, np.maximum.accumulate(p[order] * (m - np.arange(m))))
    out = np.empty(m)
    out[order] = adj
    return out


# -- permutation p-values -------------------------------------------------------


def perm_p_value(obs: float, null: np.ndarray) -> float:
    """``(1 + #{T_b >= T}) / (1 + B)``, ties within rounding counted."""
    tol = 1e-10 * max(1.0, abs(obs))
    return (1.0 + np.count_nonzero(null >= obs - tol)) / (1.0 + null.size)


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
    permutations.
    """
    R = values.shape[0]
    srt = np.sort(values, axis=0)
    logp = np.empty_like(values)
    for k in range(values.shape[1]):
        ge = R - np.searchsorted(srt[:, k], values[:, k], side="left")
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
    # Partial p-values are discrete, so Tippett scores tie often and ties make
    # the test conservative; Fisher's sum, scaled far below one rank step,
    # breaks them (still one fixed function of each row: exactness holds).
    return np.max(np.log(weights) - logp, axis=1) - 1e-6 * logp.sum(axis=1)


def statistic_values(parts: np.ndarray, statistic: str, correlations: bool = True):
    """Statistic of each row of ``parts`` (row 0 observed, then the null).

    ``correlations`` is False when the model has none (diagonal covariances
    or a single feature).
    """
    if statistic == "lrt":
        return parts[:, 0] + parts[:, 1]
    if statistic in ("mean", "covariance"):
        return parts[:, PARTS.index(statistic)]
    cols, weights = combined_parts(correlations)
    return npc(parts[:, cols], weights)


# -- parts of the other engines ---------------------------------------------------

#: Weight of the mean part in statistic='combined' for engines whose parts are
#: named at run time (sample-space, asymptotic); the rest share the remainder.
MEAN_WEIGHT = 0.6


def named_weights(names, statistic: str) -> dict:
    """Weights of the named parts that make up ``statistic``.

    'mean' is the mean part alone, 'covariance' every other part with equal
    weights, 'combined' the mean part with weight ``MEAN_WEIGHT`` and the
    others sharing the rest (the moment engine's default in spirit: most of
    the weight on the mean, the rest on second-moment changes).
    """
    names = list(names)
    others = [k for k in names if k != "mean"]
    if statistic == "mean":
        return {"mean": 1.0}
    if statistic == "covariance" or "mean" not in names:
        return dict.fromkeys(others, 1.0 / len(others))
    if not others:
        return {"mean": 1.0}
    rest = (1.0 - MEAN_WEIGHT) / len(others)
    return {"mean": MEAN_WEIGHT, **dict.fromkeys(others, rest)}


def named_statistic_values(parts: np.ndarray, names, statistic: str):
    """Weighted Tippett over named permutation parts (row 0 observed)."""
    weights = named_weights(names, statistic)
    cols = [list(names).index(k) for k in weights]
    if len(cols) == 1:
        return parts[:, cols[0]]
    return npc(parts[:, cols], np.array(list(weights.values())))


def combine_p_values(names, p_values, statistic: str, alpha: float, weights=None):
    """Weighted Bonferroni of asymptotic part p-values.

    ``p = min(1, min_k p_k / w_k)`` is valid whatever the dependence between
    the parts. ``weights`` ({name: weight}) overrides ``named_weights``.
    Returns the statistic ``-log min_k (p_k / w_k)``, the p-value and the
    critical value ``-log(alpha)`` of the statistic.
    """
    if weights is None:
        weights = named_weights(names, statistic)
    p = dict(zip(names, np.asarray(p_values, dtype=np.float64), strict=True))
    ratio = min(p[k] / w for k, w in weights.items())
    stat = float(-np.log(max(ratio, np.finfo(np.float64).tiny)))
    return stat, float(min(1.0, ratio)), float(-np.log(alpha))


# -- effect size -------------------------------------------------------------------


def symmetric_kl(g1, g2, full: bool, shrinkage=None) -> np.ndarray:
    """``(KL(1 || 2) + KL(2 || 1)) / 2`` between Gaussian fits, per split.

    ``g1``, ``g2`` are ``(n, mean, cov)`` of each split's groups (covariances
    of shape (R, d, d), or (R, d) variances); ``shrinkage`` None or
    ``(a_total, a_1, a_2)`` applied to the group covariances.
    """
    _, m1, C1 = g1
    _, m2, C2 = g2
    if shrinkage is not None:
        C1, C2 = shrink(C1, shrinkage[1]), shrink(C2, shrinkage[2])
    dm = m1 - m2
    if not full:
        ratio = C1 / C2 + C2 / C1 - 2.0
        return 0.25 * (ratio + dm * dm * (1.0 / C1 + 1.0 / C2)).sum(axis=1)
    # tr(P2 C1) = ||L2^-1 L1||_F^2 and dm' P2 dm = ||L2^-1 dm||^2 (no inverse;
    # the log-determinants cancel in the symmetric divergence).
    L1 = cholesky(C1, name="group covariance", hint="")
    L2 = cholesky(C2, name="group covariance", hint="")
    # One triangular solve per direction: [L_a | dm] against L_b.
    A = solve_lower(L2, np.concatenate([L1, dm[..., None]], axis=-1))
    Bm = solve_lower(L1, np.concatenate([L2, dm[..., None]], axis=-1))
    d = dm.shape[-1]
    total = np.einsum("rij,rij->r", A, A) + np.einsum("rij,rij->r", Bm, Bm)
    return 0.25 * (total - 2.0 * d)


def centred_effect(values: np.ndarray):
    """Observed effect minus the median of its permutation values, and their sd.

    ``values`` holds the effect of the observed split (row 0) and of a subset
    of the permutations (rows 1:, axis 0). Permuted splits carry the bias of
    the estimate (sample size, shrinkage, tails) and none of the drift;
    without drift the observed split is one more random split, so the
    centred effect is as likely to be negative as positive (the median, not
    the mean: the effect is skewed when the tails are heavy).
    """
    null = values[1:]
    return values[0] - np.median(null, axis=0), null.std(axis=0, ddof=1)
