"""Tests of skkl.drift: exact statistics, calibration, power, effect, errors.

Statistical tests use fixed seeds; the false-positive-rate bands are
alpha +- 3 sqrt(alpha (1 - alpha) / R).
"""

from __future__ import annotations

import sys
import warnings

import numpy as np
import pytest
from scipy import special, stats
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from skkl import DriftResult, GaussianDriftDetector
from skkl.drift._combine import (
    combined_parts,
    holm,
    null_bias,
    perm_p_value,
    statistic_values,
)
from skkl.drift._permutation import (
    PARTS,
    MomentSpec,
    _permuted_sums,
    moment_features,
    permute,
)

ALPHA = 0.05


# -- independent references ---------------------------------------------------


def _ml_cov(X):
    Xc = X - X.mean(axis=0)
    return Xc.T @ Xc / X.shape[0]


def _logdet(S):
    sign, ld = np.linalg.slogdet(S)
    assert sign > 0
    return ld


def _direct_parts(X1, X2):
    """-2 log L split into mean and covariance parts, by slogdet."""
    n1, n2 = len(X1), len(X2)
    N = n1 + n2
    T = _ml_cov(np.vstack([X1, X2]))
    W = (n1 * _ml_cov(X1) + n2 * _ml_cov(X2)) / N
    mean = N * _logdet(T) - N * _logdet(W)
    cov = N * _logdet(W) - n1 * _logdet(_ml_cov(X1)) - n2 * _logdet(_ml_cov(X2))
    return mean, cov


def _lrt_from_kl(X1, X2):
    """-2 log L = 2 sum_i n_i KL(N_i || N_pooled), by the textbook KL formula."""
    Xp = np.vstack([X1, X2])
    mp, Sp = Xp.mean(axis=0), _ml_cov(Xp)
    d = Xp.shape[1]
    total = 0.0
    for X in (X1, X2):
        m, S = X.mean(axis=0), _ml_cov(X)
        diff = mp - m
        kl = 0.5 * (
            np.trace(np.linalg.solve(Sp, S))
            + diff @ np.linalg.solve(Sp, diff)
            - d
            + _logdet(Sp)
            - _logdet(S)
        )
        total += 2 * len(X) * kl
    return total


def _hotelling_p(X1, X2):
    n1, n2 = len(X1), len(X2)
    N, d = n1 + n2, X1.shape[1]
    diff = X1.mean(axis=0) - X2.mean(axis=0)
    Sp = ((n1 - 1) * np.cov(X1.T) + (n2 - 1) * np.cov(X2.T)) / (N - 2)
    t2 = n1 * n2 / N * diff @ np.linalg.solve(Sp, diff)
    return t2, stats.f.sf((N - d - 1) / (d * (N - 2)) * t2, d, N - d - 1)


def _box_m(X1, X2):
    n1, n2 = len(X1), len(X2)
    N, d = n1 + n2, X1.shape[1]
    S1, S2 = np.cov(X1.T), np.cov(X2.T)
    Sp = ((n1 - 1) * S1 + (n2 - 1) * S2) / (N - 2)
    M = (N - 2) * _logdet(Sp) - (n1 - 1) * _logdet(S1) - (n2 - 1) * _logdet(S2)
    c = (
        (2 * d * d + 3 * d - 1)
        / (6 * (d + 1))
        * (1 / (n1 - 1) + 1 / (n2 - 1) - 1 / (N - 2))
    )
    return (1 - c) * M


def _sample(rng, n, d, kind):
    if kind == "gauss":
        return rng.standard_normal((n, d))
    return rng.standard_t(5, size=(n, d))


# -- exact statistics ---------------------------------------------------------


def test_lrt_split_identity_and_direct_values():
    rng = np.random.default_rng(0)
    X1 = rng.normal(size=(80, 5)) @ rng.normal(size=(5, 5))
    X2 = rng.normal(size=(60, 5)) * 1.3 + 0.2
    spec = MomentSpec(5, "full")
    det = GaussianDriftDetector(n_permutations=5, random_state=0).fit(X1)
    F1, F2 = det._features(X1, np.ones(80)), det._features(X2, np.ones(60))
    (obs, _), _ = permute(F1, F2, spec, None, 5, 0)
    mean, cov = _direct_parts(X1, X2)
    lrt = _lrt_from_kl(X1, X2)
    np.testing.assert_allclose(obs[:2], [mean, cov], rtol=1e-10)
    assert abs(obs[0] + obs[1] - lrt) <= 1e-10 * lrt
    for statistic, want in (("lrt", lrt), ("mean", mean), ("covariance", cov)):
        res = det.set_params(statistic=statistic).test(X2)
        assert res.statistic == pytest.approx(want, rel=1e-10)


def _corr(X):
    C = _ml_cov(X)
    sd = np.sqrt(np.diag(C))
    return C / np.outer(sd, sd)


def test_variance_and_correlation_parts_against_direct_values():
    # The covariance part splits into the LRT of the diagonal model (variances)
    # plus the LRT of the correlation matrices; and the two max parts.
    rng = np.random.default_rng(20)
    X1 = rng.normal(size=(70, 4)) @ rng.normal(size=(4, 4))
    X2 = rng.normal(size=(50, 4)) @ rng.normal(size=(4, 4))
    n1, n2, N = 70, 50, 120
    spec = MomentSpec(4, "full")
    F1, F2 = (
        moment_features(X1, np.ones(n1), spec),
        moment_features(X2, np.ones(n2), spec),
    )
    (obs, _), _ = permute(F1, F2, spec, None, 3, 0)
    assert PARTS == (
        "mean",
        "covariance",
        "variance_max",
        "variance",
        "correlation",
        "correlation_max",
    )
    v1, v2 = np.var(X1, axis=0), np.var(X2, axis=0)
    vw = (n1 * v1 + n2 * v2) / N
    per_feature = N * np.log(vw) - n1 * np.log(v1) - n2 * np.log(v2)
    R1, R2 = _corr(X1), _corr(X2)
    Rw = (n1 * _ml_cov(X1) + n2 * _ml_cov(X2)) / N
    Rw = Rw / np.sqrt(np.outer(np.diag(Rw), np.diag(Rw)))
    corr = N * _logdet(Rw) - n1 * _logdet(R1) - n2 * _logdet(R2)
    iu = np.triu_indices(4, 1)
    z = np.arctanh(R1[iu]) - np.arctanh(R2[iu])
    want = [
        per_feature.max(),
        per_feature.sum(),
        corr,
        np.max(z**2) / (1 / n1 + 1 / n2),
    ]
    np.testing.assert_allclose(obs[2:], want, rtol=1e-9)
    assert obs[3] + obs[4] == pytest.approx(_direct_parts(X1, X2)[1], rel=1e-10)
    # Diagonal model: no correlation parts, the covariance part is the variance one.
    spec = MomentSpec(4, "diag")
    F1, F2 = (
        moment_features(X1, np.ones(n1), spec),
        moment_features(X2, np.ones(n2), spec),
    )
    (obs, _), _ = permute(F1, F2, spec, None, 3, 0)
    np.testing.assert_allclose(
        obs[1:4], [per_feature.sum(), per_feature.max(), per_feature.sum()]
    )
    assert obs[4] == obs[5] == 0


def test_combined_is_weighted_tippett_of_part_p_values():
    rng = np.random.default_rng(21)
    parts = rng.normal(size=(400, len(PARTS)))
    cols, w = combined_parts(True)
    assert w.sum() == pytest.approx(1) and len(cols) == len(set(cols))
    v = statistic_values(parts, "combined")
    # Rank p-value of each part among the 400 rows, then max log(w / p).
    p = np.array(
        [[np.mean(parts[:, c] >= parts[i, c]) for c in cols] for i in range(400)]
    )
    want = np.max(np.log(w / p), axis=1)
    np.testing.assert_allclose(v, want, atol=1e-4)
    cols_d, w_d = combined_parts(False)
    assert PARTS[cols_d[0]] == "mean" and "correlation" not in [
        PARTS[c] for c in cols_d
    ]


def test_combined_without_correlations_is_the_same_for_full_and_diag():
    # One feature: no correlation parts, so 'full' and 'diag' are one test.
    rng = np.random.default_rng(22)
    X1, X2 = rng.normal(size=(60, 1)), rng.normal(size=(50, 1)) * 2.0
    res = [
        GaussianDriftDetector(covariance_type=c, n_permutations=300, random_state=0)
        .fit(X1)
        .test(X2)
        for c in ("full", "diag")
    ]
    np.testing.assert_allclose(res[0].null_distribution, res[1].null_distribution)
    assert res[0].p_value == res[1].p_value < ALPHA


def test_permutation_memberships_are_uniform_subsets():
    # One-hot powers of two identify which 2 of 4 rows each permutation took.
    F = np.hstack([np.ones((4, 1)), np.diag([1.0, 2.0, 4.0, 8.0])])
    S = _permuted_sums(F, 2, 6000, np.random.SeedSequence(0))
    np.testing.assert_array_equal(S[:, 0], 2.0)
    codes = S[:, 1:].sum(axis=1).astype(int)
    counts = np.array([np.count_nonzero(codes == c) for c in (3, 5, 6, 9, 10, 12)])
    assert counts.sum() == 6000
    assert stats.chisquare(counts).pvalue > 0.01


def test_null_distribution_values_are_split_statistics():
    rng = np.random.default_rng(1)
    X1, X2 = rng.normal(size=(7, 2)), rng.normal(size=(6, 2))
    det = GaussianDriftDetector(statistic="lrt", n_permutations=400, random_state=0)
    res = det.fit(X1).test(X2)
    # Every null value is the statistic of some 7/6 split of the 13 rows.
    from itertools import combinations

    Xp = np.vstack([X1, X2])
    split_values = []
    for idx in combinations(range(13), 7):
        mask = np.zeros(13, bool)
        mask[list(idx)] = True
        split_values.append(sum(_direct_parts(Xp[mask], Xp[~mask])))
    split_values = np.sort(split_values)
    pos = np.clip(
        np.searchsorted(split_values, res.null_distribution), 1, len(split_values) - 1
    )
    gap = np.minimum(
        np.abs(split_values[pos] - res.null_distribution),
        np.abs(split_values[pos - 1] - res.null_distribution),
    )
    assert gap.max() < 1e-8
    want = (1 + np.count_nonzero(res.null_distribution >= res.statistic - 1e-9)) / 401
    assert res.p_value == pytest.approx(want)


def test_asymptotic_mean_matches_hotelling_and_cov_matches_box():
    rng = np.random.default_rng(2)
    for n1, n2, d in ((40, 55, 3), (300, 200, 6)):
        X1 = rng.normal(size=(n1, d))
        X2 = rng.normal(size=(n2, d)) + 0.15
        t2, p = _hotelling_p(X1, X2)
        det = GaussianDriftDetector(method="asymptotic", statistic="mean").fit(X1)
        res = det.test(X2)
        assert res.statistic == pytest.approx(t2, rel=1e-9)
        assert res.p_value == pytest.approx(p, rel=1e-8)
        N = n1 + n2
        crit = stats.f.isf(ALPHA, d, N - d - 1) * d * (N - 2) / (N - d - 1)
        assert res.threshold == pytest.approx(crit)
        assert (res.p_value < ALPHA) == (res.statistic > res.threshold)
        res = det.set_params(statistic="covariance").test(X2)
        assert res.statistic == pytest.approx(_box_m(X1, X2), rel=1e-9)
        assert res.p_value == pytest.approx(
            stats.chi2.sf(res.statistic, d * (d + 1) // 2)
        )


def test_threshold_is_consistent_with_p_value():
    rng = np.random.default_rng(3)
    det = GaussianDriftDetector(n_permutations=99, random_state=0).fit(
        rng.normal(size=(60, 3))
    )
    for shift in np.linspace(0, 0.8, 9):
        res = det.test(rng.normal(size=(50, 3)) + shift)
        assert (res.p_value < ALPHA) == (res.statistic > res.threshold)
    det.set_params(n_permutations=10)
    assert det.test(rng.normal(size=(50, 3)) + 3).threshold == np.inf


# -- calibration ----------------------------------------------------------------


STATISTICS = ("combined", "lrt", "mean", "covariance")


def _null_pvalues(d, n, kind, R=200, B=200, seed=0):
    """p-values of all four statistics over R null data sets.

    Uses the detector's own engine calls (``permute`` then the statistic and
    p-value functions), once per data set for all statistics;
    ``test_engine_path_is_the_detector_path`` checks it equals ``test()``.
    """
    rng = np.random.default_rng(seed)
    spec = MomentSpec(d, "full")
    out = {s: np.empty(R) for s in STATISTICS}
    for r in range(R):
        F1 = moment_features(_sample(rng, n, d, kind), np.ones(n), spec)
        F2 = moment_features(_sample(rng, n, d, kind), np.ones(n), spec)
        (obs, _), (null, _) = permute(F1, F2, spec, None, B, r)
        parts = np.vstack([obs, null])
        for s in STATISTICS:
            v = statistic_values(parts, s)
            out[s][r] = perm_p_value(v[0], v[1:])
    return out


def _band(R):
    half = 3 * np.sqrt(ALPHA * (1 - ALPHA) / R)
    return ALPHA - half, ALPHA + half


def test_engine_path_is_the_detector_path():
    rng = np.random.default_rng(4)
    X1, X2 = rng.standard_t(5, size=(50, 4)), rng.standard_t(5, size=(40, 4))
    spec = MomentSpec(4, "full")
    F1 = moment_features(X1, np.ones(50), spec)
    F2 = moment_features(X2, np.ones(40), spec)
    (obs, _), (null, _) = permute(F1, F2, spec, None, 300, 123)
    parts = np.vstack([obs, null])
    for s in STATISTICS:
        v = statistic_values(parts, s)
        det = GaussianDriftDetector(statistic=s, n_permutations=300, random_state=123)
        res = det.fit(X1).test(X2)
        assert res.p_value == perm_p_value(v[0], v[1:])
        np.testing.assert_allclose(res.null_distribution, v[1:], rtol=1e-8, atol=1e-8)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gauss", "t5"])
@pytest.mark.parametrize("n", [50, 500])
@pytest.mark.parametrize("d", [2, 10])
def test_false_positive_rate(d, n, kind):
    pvals = _null_pvalues(d, n, kind, seed=d * 1000 + n + (kind == "t5"))
    lo, hi = _band(200)
    for s, p in pvals.items():
        assert lo <= np.mean(p < ALPHA) <= hi, s
        assert stats.kstest(p, "uniform").pvalue > 0.001, s


@pytest.mark.slow
@pytest.mark.parametrize(
    "params", [{"covariance_type": "diag"}, {"shrinkage": "ledoit_wolf"}]
)
def test_false_positive_rate_diag_and_shrinkage(params):
    # d = 10 with 12 samples per group: heavy tails, shrinkage needed for full.
    rng = np.random.default_rng(11)
    R = 200
    pvals = np.empty(R)
    det = GaussianDriftDetector(n_permutations=200, **params)
    for r in range(R):
        det.set_params(random_state=r).fit(_sample(rng, 12, 10, "t5"))
        pvals[r] = det.test(_sample(rng, 12, 10, "t5")).p_value
    lo, hi = _band(R)
    assert lo <= np.mean(pvals < ALPHA) <= hi
    assert stats.kstest(pvals, "uniform").pvalue > 0.001


@pytest.mark.slow
def test_asymptotic_false_positive_rate_when_n_is_large():
    rng = np.random.default_rng(5)
    R = 400
    rej = {s: 0 for s in STATISTICS}
    det = GaussianDriftDetector(method="asymptotic")
    ones = np.ones(200)
    for _ in range(R):
        det.fit(rng.standard_normal((200, 4)))
        new_sums = det._features(rng.standard_normal((200, 4)), ones).sum(axis=0)
        for s in STATISTICS:
            det.set_params(statistic=s)
            rej[s] += det._asymptotic_test(det._sums, new_sums)[1] < ALPHA
    lo, hi = _band(R)
    for s, count in rej.items():
        assert lo <= count / R <= hi, s


def test_asymptotic_warns_when_d_is_large_relative_to_n():
    rng = np.random.default_rng(6)
    det = GaussianDriftDetector(method="asymptotic").fit(rng.normal(size=(40, 8)))
    with pytest.warns(UserWarning, match="method='permutation'"):
        det.test(rng.normal(size=(40, 8)))
    # 4 d + 10 = 42 samples per group are enough (measured calibrated).
    det.fit(rng.normal(size=(42, 8)))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        det.test(rng.normal(size=(42, 8)))


# -- power and attribution -------------------------------------------------------


@pytest.mark.parametrize("change", ["mean", "scale", "correlation"])
def test_clear_shifts_are_detected(change):
    rng = np.random.default_rng(8)
    d = 4
    X1 = rng.standard_normal((400, d))
    X2 = rng.standard_normal((400, d))
    weights = combined_parts(True)[1]
    if change == "mean":
        X2 += 0.3
    elif change == "scale":
        X2[:, 2] *= 1.5
    else:
        C = np.eye(d)
        C[0, 1] = C[1, 0] = 0.5
        X2 = X2 @ np.linalg.cholesky(C).T
    for statistic in ("combined", "lrt"):
        det = GaussianDriftDetector(
            statistic=statistic, n_permutations=200, random_state=0
        )
        res = det.fit(X1).test(X2)
        # Weighted Tippett: about 1 / (w (B + 1)) when a part of weight w is
        # extreme alone.
        assert res.is_drift and res.p_value <= 1 / (min(weights) * 201)
        assert det.predict(X2) == 1
    if change == "scale":
        assert np.argmin(res.feature_p_values) == 2
        assert np.argmax(res.feature_scores) == 2
        # Holm: the other features, unchanged, are not flagged.
        assert np.all(np.delete(res.feature_p_values, 2) > ALPHA)


def test_holm_against_definition():
    p = np.array([0.01, 0.04, 0.03, 0.005, 0.5])
    m = len(p)
    order = np.argsort(p)
    want = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        want[i] = running
    np.testing.assert_allclose(holm(p), want)


# -- effect size ---------------------------------------------------------------


def test_null_bias_matches_simulation_and_first_order_constant():
    rng = np.random.default_rng(9)
    d, n1, n2, R = 3, 40, 30, 4000
    X1 = rng.standard_normal((R, n1, d))
    X2 = rng.standard_normal((R, n2, d))
    from skkl import Gaussians, divergence

    def fit(X):
        m = X.mean(axis=1)
        Xc = X - m[:, None, :]
        return Gaussians(m, np.einsum("rni,rnj->rij", Xc, Xc) / X.shape[1])

    sym = 0.5 * divergence(fit(X1), fit(X2), "jeffreys")
    se = sym.std() / np.sqrt(R)
    assert abs(sym.mean() - null_bias(n1, n2, d)) < 4 * se
    # First order: d (d + 3) / 4 (1/n1 + 1/n2), the limit for large n.
    first = d * (d + 3) / 4 * (1 / 4000 + 1 / 5000)
    assert null_bias(4000, 5000, d) == pytest.approx(first, rel=0.01)
    # Exact digamma form agrees with the definition of E log|S| by simulation.
    i = np.arange(1, d + 1)
    e_logdet = special.digamma((n1 - i) / 2).sum() + d * np.log(2 / n1)
    Xc = X1 - X1.mean(axis=1, keepdims=True)
    logdets = np.linalg.slogdet(np.einsum("rni,rnj->rij", Xc, Xc) / n1)[1]
    assert abs(logdets.mean() - e_logdet) < 4 * logdets.std() / np.sqrt(R)


def test_effect_is_near_zero_under_h0_and_matches_truth_under_shift():
    rng = np.random.default_rng(10)
    d, n = 5, 100
    effects = []
    det = GaussianDriftDetector(method="asymptotic")
    for _ in range(300):
        det.fit(rng.standard_normal((n, d)))
        effects.append(det.test(rng.standard_normal((n, d))).effect)
    effects = np.asarray(effects)
    assert abs(effects.mean()) < 4 * effects.std() / np.sqrt(len(effects))
    # Plug-in bias (0.25 here) would dominate without the correction.
    assert abs(effects.mean()) < 0.02
    # Large samples: effect -> true symmetric KL; shift 0.5 in one feature and
    # variance 2 in another: (0.25 + (0.5 + 2 - 2) / 2) / 2 ... computed exactly.
    X1 = rng.standard_normal((20000, d))
    X2 = rng.standard_normal((20000, d))
    X2[:, 0] += 0.5
    X2[:, 1] *= np.sqrt(2.0)
    true = 0.5 * (0.25 + 0.25 * (1 + 0.5)) / 1 + 0.25 * (2 + 0.5 - 2)
    # Jeffreys/2 = 1/4 [tr(S2^-1 S1) + tr(S1^-1 S2) - 2d + mu' (P1 + P2) mu]
    true = 0.25 * ((0.5 + 2 - 2) + 0.25 * (1 + 1))
    res = det.fit(X1).test(X2)
    assert res.effect == pytest.approx(true, abs=0.01)
    assert res.feature_scores[0] == pytest.approx(0.125, abs=0.01)
    assert res.feature_scores[1] == pytest.approx(0.125, abs=0.01)
    assert np.all(np.abs(res.feature_scores[2:]) < 0.005)


def test_min_effect_gates_large_sample_trivial_drift():
    rng = np.random.default_rng(11)
    X1 = rng.standard_normal((20000, 3))
    X2 = rng.standard_normal((20000, 3)) + 0.05
    det = GaussianDriftDetector(n_permutations=100, random_state=0).fit(X1)
    res = det.test(X2)
    assert res.p_value < ALPHA and res.is_drift
    assert 0 < res.effect < 0.01
    det.set_params(min_effect=0.01)
    res = det.test(X2)
    assert res.p_value < ALPHA and not res.is_drift
    assert det.predict(X2) == 0
    assert det.predict(X2 + 0.5) == 1


# -- API ------------------------------------------------------------------------


def test_result_to_dict_alibi_keys():
    rng = np.random.default_rng(12)
    det = GaussianDriftDetector(n_permutations=50, random_state=0).fit(
        rng.normal(size=(30, 2))
    )
    res = det.test(rng.normal(size=(30, 2)))
    assert isinstance(res, DriftResult)
    out = res.to_dict()
    assert out["is_drift"] == int(res.is_drift)
    assert out["p_val"] == res.p_value and out["threshold"] == ALPHA
    assert (
        out["distance"] == res.statistic and out["distance_threshold"] == res.threshold
    )
    assert res.n_ref == 30 and res.n == 30 and res.null_distribution.shape == (50,)


def test_partial_fit_equals_fit_and_weights():
    rng = np.random.default_rng(13)
    X, Y = rng.normal(size=(90, 3)), rng.normal(size=(40, 3)) + 0.2
    a = GaussianDriftDetector(n_permutations=200, random_state=0).fit(X).test(Y)
    det = GaussianDriftDetector(n_permutations=200, random_state=0)
    det.partial_fit(X[:40]).partial_fit(X[40:])
    b = det.test(Y)
    assert det.n_ref_ == 90 and b.n_ref == 90
    assert b.statistic == pytest.approx(a.statistic)
    assert b.p_value == a.p_value and b.effect == pytest.approx(a.effect)
    c = GaussianDriftDetector(n_permutations=200, random_state=0)
    c = c.fit(X, sample_weight=np.full(90, 3.0)).test(Y)
    assert c.statistic == pytest.approx(a.statistic) and c.p_value == a.p_value
    asym = (
        GaussianDriftDetector(method="asymptotic")
        .partial_fit(X[:50])
        .partial_fit(X[50:])
    )
    assert asym.reference_ is None
    want = GaussianDriftDetector(method="asymptotic").fit(X).test(Y)
    assert asym.test(Y).p_value == pytest.approx(want.p_value)


@pytest.mark.parametrize("method", ["permutation", "asymptotic"])
def test_weighted_partial_fit_equals_weighted_fit(method):
    # Weights are relative over the whole reference, not per batch.
    rng = np.random.default_rng(20)
    X, Y = rng.normal(size=(120, 3)), rng.normal(size=(80, 3)) + 0.3
    w = np.r_[np.ones(60), np.full(60, 3.0)]
    params = dict(method=method, n_permutations=100, random_state=0)
    a = GaussianDriftDetector(**params).fit(X, sample_weight=w).test(Y)
    det = GaussianDriftDetector(**params)
    det.partial_fit(X[:60], sample_weight=w[:60])
    det.partial_fit(X[60:], sample_weight=w[60:])
    b = det.test(Y)
    assert b.n_ref == a.n_ref == 120
    assert b.statistic == pytest.approx(a.statistic, rel=1e-10, abs=1e-10)
    assert b.p_value == pytest.approx(a.p_value, rel=1e-10, abs=1e-10)
    assert b.effect == pytest.approx(a.effect, rel=1e-10, abs=1e-10)
    np.testing.assert_allclose(b.feature_scores, a.feature_scores, rtol=1e-10)
    # Independent check of the effect: symmetric KL of weighted ML fits.
    m1, m2 = np.average(X, axis=0, weights=w), Y.mean(axis=0)
    C1 = np.cov(X.T, aweights=w, bias=True)
    C2 = _ml_cov(Y)
    kish = w.sum() ** 2 / np.square(w).sum()
    dm = m1 - m2
    P1, P2 = np.linalg.solve(C1, np.eye(3)), np.linalg.solve(C2, np.eye(3))
    jeff = 0.5 * (np.trace(P2 @ C1) + np.trace(P1 @ C2) - 6 + dm @ (P1 + P2) @ dm)
    want = 0.5 * jeff - null_bias(kish, 80.0, 3)
    assert b.effect == pytest.approx(want, rel=1e-8)


@pytest.mark.parametrize("method", ["permutation", "asymptotic"])
@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_huge_shift_is_drift_or_a_clear_error_never_a_warning(method, covariance_type):
    rng = np.random.default_rng(21)
    X, Y = rng.normal(size=(100, 3)), rng.normal(size=(80, 3)) + 1e8
    det = GaussianDriftDetector(
        method=method, covariance_type=covariance_type, n_permutations=50
    ).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            res = det.test(Y)
        except ValueError as exc:
            msg = str(exc)
            assert "standard deviations" in msg and "drift" in msg
            assert "units" in msg
            assert "more samples" not in msg
        else:
            assert res.is_drift and res.p_value < ALPHA
    # A shift float64 still resolves is tested as usual.
    res = det.test(rng.normal(size=(80, 3)) + 1e4)
    assert res.is_drift


def test_n_jobs_and_clone_do_not_change_results():
    rng = np.random.default_rng(14)
    X, Y = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    det = GaussianDriftDetector(n_permutations=600, random_state=3)
    a = det.fit(X).test(Y)
    b = clone(det).set_params(n_jobs=2).fit(X).test(Y)
    np.testing.assert_array_equal(a.null_distribution, b.null_distribution)


def test_scan_fixed_and_previous():
    rng = np.random.default_rng(15)
    X = rng.normal(size=(200, 3))
    stream = np.vstack([rng.normal(size=(150, 3)), rng.normal(size=(150, 3)) + 1.0])
    # 'lrt' does not depend on the permutations drawn ('combined' does).
    det = GaussianDriftDetector(statistic="lrt", n_permutations=100, random_state=0)
    table = det.fit(X).scan(stream, window=50, step=25)
    assert list(table["start"]) == list(range(0, 251, 25))
    assert table.attrs["alpha"] == ALPHA
    for row in table.itertuples():
        res = det.test(stream[row.start : row.stop])
        assert row.statistic == pytest.approx(res.statistic)
        assert row.effect == pytest.approx(res.effect)
    assert not table["is_drift"].iloc[:3].any() and table["is_drift"].iloc[-5:].all()
    prev = det.scan(stream, window=50, reference="previous")
    assert list(prev["start"]) == [50, 100, 150, 200, 250]
    ref = GaussianDriftDetector(statistic="lrt", n_permutations=100)
    ref.fit(stream[100:150])
    assert prev["statistic"].iloc[2] == pytest.approx(
        ref.test(stream[150:200]).statistic
    )
    assert prev["is_drift"].tolist() == [False, False, True, False, False]


def test_scan_without_pandas_returns_results(monkeypatch):
    rng = np.random.default_rng(16)
    det = GaussianDriftDetector(n_permutations=20, random_state=0).fit(
        rng.normal(size=(50, 2))
    )
    monkeypatch.setitem(sys.modules, "pandas", None)
    out = det.scan(rng.normal(size=(60, 2)), window=20)
    assert len(out) == 3 and all(isinstance(r, DriftResult) for r in out)


def test_shrinkage_makes_small_samples_testable():
    rng = np.random.default_rng(17)
    X1, X2 = rng.normal(size=(12, 15)), rng.normal(size=(12, 15)) * 1.8
    with pytest.raises(ValueError, match="shrinkage"):
        GaussianDriftDetector().fit(X1)
    for shrink in ("ledoit_wolf", "oas", 0.5):
        res = GaussianDriftDetector(
            shrinkage=shrink, random_state=0, n_permutations=200
        )
        res = res.fit(X1).test(X2)
        assert np.isfinite(res.statistic) and res.is_drift


# -- errors ---------------------------------------------------------------------


def test_bad_input():
    rng = np.random.default_rng(18)
    det = GaussianDriftDetector(n_permutations=10).fit(rng.normal(size=(30, 3)))
    with pytest.raises(ValueError, match="3 features"):
        det.test(rng.normal(size=(30, 4)))
    X = rng.normal(size=(30, 3))
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        det.test(X)
    with pytest.raises(ValueError, match="NaN"):
        GaussianDriftDetector().fit(X)
    with pytest.raises(ValueError, match="X has 3 samples.*shrinkage"):
        det.test(rng.normal(size=(3, 3)))
    with pytest.raises(ValueError, match="shrinkage is only available"):
        GaussianDriftDetector(method="asymptotic", shrinkage=0.1).fit(X[:4])
    with pytest.raises(ValueError, match="n_permutations"):
        GaussianDriftDetector(n_permutations=0).fit(rng.normal(size=(30, 3)))
    with pytest.raises(ValueError, match="window"):
        det.scan(rng.normal(size=(30, 3)), window=100)
    with pytest.raises(ValueError, match="reference"):
        det.scan(rng.normal(size=(30, 3)), window=10, reference="first")
    # Duplicated rows: a singular group covariance is named with the fix.
    Xd = np.repeat(rng.normal(size=(2, 3)), 10, axis=0)
    with pytest.raises(ValueError, match="shrinkage"):
        GaussianDriftDetector(n_permutations=10).fit(Xd).test(rng.normal(size=(10, 3)))
    with pytest.raises(Exception, match="fit"):
        GaussianDriftDetector().test(X)


def test_partial_fit_accepts_small_batches_and_refit_is_required():
    rng = np.random.default_rng(19)
    det = GaussianDriftDetector(n_permutations=20, random_state=0)
    det.partial_fit(rng.normal(size=(3, 5)))
    with pytest.raises(ValueError, match="X_ref has 3 samples"):
        det.test(rng.normal(size=(30, 5)))
    det.partial_fit(rng.normal(size=(30, 5)))
    assert det.test(rng.normal(size=(30, 5))).n_ref == 33
    det = GaussianDriftDetector(method="asymptotic").fit(rng.normal(size=(40, 3)))
    with pytest.raises(ValueError, match="call fit again"):
        det.set_params(method="permutation").test(rng.normal(size=(40, 3)))
    with pytest.raises(ValueError, match="call fit again"):
        det.set_params(method="asymptotic", covariance_type="diag").test(
            rng.normal(size=(40, 3))
        )


# A two-sample test answers for a whole batch: predict returns one int, so the
# per-sample invariance checks do not apply; weights are relative (rescaled
# to mean 1), so they are not equivalent to repeating rows.
EXPECTED_FAILED_CHECKS = {
    "check_methods_sample_order_invariance": "predict answers for the whole batch",
    "check_methods_subset_invariance": "predict answers for the whole batch",
    "check_sample_weight_equivalence_on_dense_data": "weights are relative",
}


@parametrize_with_checks(
    [GaussianDriftDetector(n_permutations=20, random_state=0)],
    expected_failed_checks=lambda est: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)
