"""Test statistics, p-values and combinations of the drift detector (private).

The permutation engine (``_permutation.py``) gives, for the observed split and
every permutation, the parts of the Gaussian likelihood-ratio statistic listed
in ``_permutation.PARTS``. This module turns them into the statistic the user
asked for, its permutation p-value and critical value; it also holds the
asymptotic (chi-square / F) versions and the small helpers of ``DriftResult``.
"""

from __future__ import annotations

import numpy as np
from scipy import special, stats

from ._permutation import PARTS, _logdet, _moments

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


def null_bias(n1: float, n2: float, d: int) -> float:
    """E[symmetric KL] between ML Gaussian fits of two samples from one Gaussian.

    Exact for Gaussian data (Wishart moments: ``E[S^-1] = n Sigma^-1 /
    (n - d - 2)``, ``E log|S|`` a sum of digammas); to first order it is
    ``d (d + 3) / 4 (1/n1 + 1/n2)``, used when ``min(n1, n2) <= d + 2``.
    """
    if min(n1, n2) <= d + 2:
        return d * (d + 3) / 4.0 * (1.0 / n1 + 1.0 / n2)
    i = np.arange(1, d + 1)

    def e_logdet(n):
        return special.digamma((n - i) / 2.0).sum() + d * np.log(2.0 / n)

    def kl(a, b):  # E KL(fit of a samples || fit of b samples)
        trace = d * (a - 1) * b / (a * (b - d - 2))
        maha = (1.0 / a + 1.0 / b) * d * b / (b - d - 2)
        return 0.5 * (trace + maha - d + e_logdet(b) - e_logdet(a))

    return 0.5 * (kl(n1, n2) + kl(n2, n1))


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


def npc(values: np.ndarray, how: str = "tippett", weights=None) -> np.ndarray:
    """Nonparametric combination of the columns of ``values`` (row 0 observed).

    Each column gives every row a partial p-value from its own permutation
    distribution, ``#{rows >= value} / rows``; rows are then scored by
    weighted Tippett, ``-log min_k (p_k / w_k)``, or Fisher, ``-2 sum log
    p_k`` (larger is more extreme). The score is the same function of every
    row of the permutation set, so the final permutation p-value stays exact.
    Fisher suits only large B: the partial p-values cannot go below
    ``1 / (B + 1)``, which caps each term and costs power at small B.
    """
    R = values.shape[0]
    srt = np.sort(values, axis=0)
    logp = np.empty_like(values)
    for k in range(values.shape[1]):
        ge = R - np.searchsorted(srt[:, k], values[:, k], side="left")
        logp[:, k] = np.log(ge / R)
    if how == "fisher":
        return -2.0 * logp.sum(axis=1)
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
    return npc(parts[:, cols], "tippett", weights)


# -- asymptotic tests ---------------------------------------------------------


def _chi_parts(n1, n2, ld, d):
    """Log p-values and statistics of the mean and covariance parts.

    ``ld`` maps 'T', 'W', '1', '2' to ML log-determinants; arrays of them give
    one test per entry (used per feature with d=1).

    Mean: Wilks' Lambda = |W| / |T| gives Hotelling's T^2 exactly, with
    ``F = (N - d - 1) T^2 / (d (N - 2)) ~ F(d, N - d - 1)``; in sums it enters
    as Bartlett's ``-(N - 1 - (d + 2) / 2) log Lambda ~ chi2(d)``.
    Covariance: Box's M on unbiased covariances with Box's correction
    ``(1 - c) M ~ chi2(d (d + 1) / 2)``.
    """
    N = n1 + n2
    log_lam = ld["W"] - ld["T"]
    t2 = (N - 2) * np.expm1(-log_lam)
    f_stat = (N - d - 1) / (d * (N - 2)) * t2
    logp_mean = stats.f.logsf(f_stat, d, N - d - 1)
    chi_mean = -(N - 1 - (d + 2) / 2.0) * log_lam
    box_m = (N - 2) * (ld["W"] + d * np.log(N / (N - 2))) - sum(
        (n - 1) * (ld[g] + d * np.log(n / (n - 1))) for g, n in (("1", n1), ("2", n2))
    )
    c = (
        (2 * d * d + 3 * d - 1)
        / (6.0 * (d + 1))
        * (1 / (n1 - 1) + 1 / (n2 - 1) - 1 / (N - 2))
    )
    chi_cov = (1 - c) * box_m
    return t2, logp_mean, chi_mean, chi_cov


def _ml_logdets(ref_sums, new_sums, spec):
    """ML log-determinants (and per-feature log-variances) of T, W, 1, 2."""
    n1, _, C1 = _moments(ref_sums[None], spec)
    n2, _, C2 = _moments(new_sums[None], spec)
    N, _, CT = _moments((ref_sums + new_sums)[None], spec)
    W = (n1[0] * C1 + n2[0] * C2) / N[0]
    covs = {"T": CT[0], "W": W[0], "1": C1[0], "2": C2[0]}
    ld, lv = {}, {}
    for key, C in covs.items():
        if spec.full:
            ld[key] = float(_logdet(C[None], True)[0])
            lv[key] = np.log(np.diag(C))
        else:
            lv[key] = np.log(C)
            ld[key] = lv[key]
    return float(n1[0]), float(n2[0]), ld, lv


def asymptotic_test(ref_sums, new_sums, spec, statistic, alpha):
    """Asymptotic statistic, p-value, critical value and per-feature p-values.

    ``ref_sums``, ``new_sums`` are the groups' moment sums (see
    ``_permutation.moment_features``). 'combined' is Tippett's combination
    (Sidak-corrected) of the asymptotically independent mean and covariance
    p-values.
    """
    n1, n2, ld, lv = _ml_logdets(ref_sums, new_sums, spec)
    d, full = spec.d, spec.full
    if full:
        t2, logp_mean, chi_mean, chi_cov = _chi_parts(n1, n2, ld, d)
        df_mean, df_cov = d, d * (d + 1) // 2
    else:
        t2, logp_mean, chi_mean, chi_cov = _chi_parts(n1, n2, ld, 1)
        # Independent features under the diagonal model: sums of chi2(1).
        chi_mean, chi_cov = chi_mean.sum(), chi_cov.sum()
        logp_mean = stats.chi2.logsf(chi_mean, d)
        df_mean, df_cov = d, d
    uni = _chi_parts(n1, n2, lv, 1)
    feat_p = stats.chi2.sf(uni[2] + uni[3], 2)
    if statistic == "mean" and full:
        N = n1 + n2
        crit = stats.f.isf(alpha, d, N - d - 1) * d * (N - 2) / (N - d - 1)
        return float(t2), float(np.exp(logp_mean)), float(crit), feat_p
    if statistic == "mean":
        s, df = float(chi_mean), df_mean
    elif statistic == "covariance":
        s, df = float(chi_cov), df_cov
    elif statistic == "lrt":
        s, df = float(chi_mean + chi_cov), df_mean + df_cov
    else:
        # The statistic is -log(min p), finite even when p is not.
        s = float(-min(logp_mean, stats.chi2.logsf(chi_cov, df_cov)))
        p = float(-np.expm1(2.0 * np.log1p(-np.exp(-s))))
        return s, p, float(-np.log1p(-np.sqrt(1.0 - alpha))), feat_p
    return s, float(stats.chi2.sf(s, df)), float(stats.chi2.isf(alpha, df)), feat_p
