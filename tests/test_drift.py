"""Tests of skkl.drift: exact statistics, calibration, power, effect, errors.

Statistical tests use fixed seeds; the false-positive-rate bands are
alpha +- 3 sqrt(alpha (1 - alpha) / R).
"""

from __future__ import annotations

import re
import sys
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from skkl import DriftResult, GaussianDriftDetector
from skkl.drift import DriftScan
from skkl.drift._combine import holm, npc
from skkl.drift._effect import shrinkage_intensity
from skkl.drift._engines import SplitSampler
from skkl.drift._permutation import (
    PARTS,
    STATISTICS,
    MomentSpec,
    moment_parts,
    pooled_ridge,
    split_sums,
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


def _ridge(Xp):
    """The detector's documented ridge: (T + 1e-8 diag(T)) / N, T pooled ML."""
    T = _ml_cov(Xp)
    return (T + 1e-8 * np.diag(np.diag(T))) / len(Xp)


def _direct_parts(X1, X2):
    """-2 log L split into mean and covariance parts, by slogdet (ridged)."""
    n1, n2 = len(X1), len(X2)
    N = n1 + n2
    Xp = np.vstack([X1, X2])
    R = _ridge(Xp)
    S1, S2 = _ml_cov(X1) + R, _ml_cov(X2) + R
    T = _ml_cov(Xp) + R
    W = (n1 * S1 + n2 * S2) / N
    mean = N * _logdet(T) - N * _logdet(W)
    cov = N * _logdet(W) - n1 * _logdet(S1) - n2 * _logdet(S2)
    return mean, cov


def _lrt_from_kl(X1, X2):
    """-2 log L = 2 sum_i n_i KL(N_i || N_pooled), by the textbook KL formula."""
    Xp = np.vstack([X1, X2])
    R = _ridge(Xp)
    mp, Sp = Xp.mean(axis=0), _ml_cov(Xp) + R
    d = Xp.shape[1]
    total = 0.0
    for X in (X1, X2):
        m, S = X.mean(axis=0), _ml_cov(X) + R
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


def _parts(X, M, covariance_type="full"):
    """The moment engine's parts of the splits ``M`` of the pooled rows ``X``."""
    spec = MomentSpec(X.shape[1], covariance_type)
    S1, total = split_sums(X - X.mean(axis=0), np.ones(len(X)), M, spec)
    return moment_parts(S1, total, spec, None, pooled_ridge(total, spec))


def _observed_parts(X1, X2, covariance_type="full"):
    """The engine's parts of the observed split (row 0 of the memberships)."""
    X = np.vstack([X1, X2])
    M = np.zeros((1, len(X)), dtype=bool)
    M[0, : len(X1)] = True
    return _parts(X, M, covariance_type)[0]


def _statistic(parts, statistic):
    """The engine's statistic from its parts (the combination it documents)."""
    weights = STATISTICS[statistic]
    cols = [PARTS.index(k) for k in weights]
    if len(cols) == 1:
        return parts[:, cols[0]]
    return npc(parts[:, cols], np.array(list(weights.values())))


def _sample(rng, n, d, kind):
    if kind == "gauss":
        return rng.standard_normal((n, d))
    return rng.standard_t(5, size=(n, d))


# -- exact statistics ---------------------------------------------------------


def test_lrt_split_identity_and_direct_values():
    rng = np.random.default_rng(0)
    X1 = rng.normal(size=(80, 5)) @ rng.normal(size=(5, 5))
    X2 = rng.normal(size=(60, 5)) * 1.3 + 0.2
    obs = _observed_parts(X1, X2)
    mean, cov = _direct_parts(X1, X2)
    lrt = _lrt_from_kl(X1, X2)
    np.testing.assert_allclose(obs[:2], [mean, cov], rtol=1e-10)
    assert abs(obs[0] + obs[1] - lrt) <= 1e-10 * lrt
    assert obs[PARTS.index("lrt")] == pytest.approx(obs[0] + obs[1], rel=1e-14)
    det = GaussianDriftDetector(n_permutations=20, random_state=0).fit(X1)
    for statistic, want in (("lrt", lrt), ("mean", mean), ("covariance", cov)):
        res = det.set_params(statistic=statistic).test(X2)
        assert res.method == "permutation"
        assert res.statistic == pytest.approx(want, rel=1e-10)
    # Near the null the ridge (I / N in whitened coordinates) moves the
    # statistic far less than its sampling noise (null sd sqrt(2 * 20) here).
    A = rng.normal(size=(5, 5))
    for _ in range(5):
        X1, X2 = rng.normal(size=(80, 5)) @ A, rng.normal(size=(60, 5)) @ A
        plain = 140 * _logdet(_ml_cov(np.vstack([X1, X2]))) - sum(
            len(X) * _logdet(_ml_cov(X)) for X in (X1, X2)
        )
        assert abs(_lrt_from_kl(X1, X2) - plain) < np.sqrt(40) / 6


def _corr(C):
    sd = np.sqrt(np.diag(C))
    return C / np.outer(sd, sd)


def test_variance_and_correlation_parts_against_direct_values():
    # The covariance part splits into the LRT of the diagonal model (variances)
    # plus the LRT of the correlation matrices; and the two max parts.
    rng = np.random.default_rng(20)
    X1 = rng.normal(size=(70, 4)) @ rng.normal(size=(4, 4))
    X2 = rng.normal(size=(50, 4)) @ rng.normal(size=(4, 4))
    n1, n2, N = 70, 50, 120
    obs = _observed_parts(X1, X2)
    R = _ridge(np.vstack([X1, X2]))
    S1, S2 = _ml_cov(X1) + R, _ml_cov(X2) + R
    v1, v2 = np.diag(S1), np.diag(S2)
    vw = (n1 * v1 + n2 * v2) / N
    per_feature = N * np.log(vw) - n1 * np.log(v1) - n2 * np.log(v2)
    R1, R2 = _corr(S1), _corr(S2)
    Rw = _corr((n1 * S1 + n2 * S2) / N)
    corr = N * _logdet(Rw) - n1 * _logdet(R1) - n2 * _logdet(R2)
    iu = np.triu_indices(4, 1)
    z = np.arctanh(R1[iu]) - np.arctanh(R2[iu])
    want = [
        per_feature.max(),
        per_feature.sum(),
        corr,
        np.max(z**2) / (1 / n1 + 1 / n2),
    ]
    names = ("variance_max", "variance", "correlation", "correlation_max")
    cols = [PARTS.index(k) for k in names]
    np.testing.assert_allclose(obs[cols], want, rtol=1e-9)
    assert obs[3] + obs[4] == pytest.approx(_direct_parts(X1, X2)[1], rel=1e-10)
    # Diagonal model: no correlation parts, the covariance part is the variance one.
    obs = _observed_parts(X1, X2, "diag")
    np.testing.assert_allclose(
        obs[1:4], [per_feature.sum(), per_feature.max(), per_feature.sum()]
    )
    assert obs[4] == obs[5] == 0


def test_combined_is_weighted_tippett_of_part_p_values():
    from skkl.drift._permutation import STATISTICS_DIAG

    rng = np.random.default_rng(21)
    parts = rng.normal(size=(400, len(PARTS)))
    weights = STATISTICS["combined"]
    w = np.array(list(weights.values()))
    cols = [PARTS.index(k) for k in weights]
    assert w.sum() == pytest.approx(1) and len(cols) == len(set(cols))
    v = _statistic(parts, "combined")
    # Rank p-value of each part among the 400 rows, then max log(w / p).
    p = np.array(
        [[np.mean(parts[:, c] >= parts[i, c]) for c in cols] for i in range(400)]
    )
    want = np.max(np.log(w / p), axis=1)
    np.testing.assert_allclose(v, want, atol=1e-4)
    diag = STATISTICS_DIAG["combined"]
    assert sum(diag.values()) == pytest.approx(1) and "correlation" not in diag


def test_partial_p_values_count_rounding_ties():
    # A part that saturates (the same largest per-feature statistic on many
    # splits, up to rounding) must not rank the observed split first.
    from skkl.drift._combine import partial_log_p_values

    values = np.full((200, 1), 3.0)
    values[0] += 1e-14  # the observed split, equal up to rounding
    assert np.exp(partial_log_p_values(values)[0, 0]) == 1.0


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


def test_split_sampler_gives_uniform_subsets_in_any_chunks():
    # Which 2 of 4 rows each permutation took, over all 6 possible subsets.
    M = SplitSampler(4, 2, 6000, 0).all()
    chunked = SplitSampler(4, 2, 6000, 0)
    parts = [chunked.take(k) for k in (1, 7, 500, 6000)]
    np.testing.assert_array_equal(np.vstack(parts), M)
    np.testing.assert_array_equal(M[0], [True, True, False, False])
    np.testing.assert_array_equal(M.sum(axis=1), 2)
    codes = M[1:] @ np.array([1, 2, 4, 8])
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


def test_threshold_is_consistent_with_p_value():
    rng = np.random.default_rng(3)
    det = GaussianDriftDetector(n_permutations=99, random_state=0).fit(
        rng.normal(size=(60, 3))
    )
    for shift in np.linspace(0, 0.8, 9):
        res = det.test(rng.normal(size=(50, 3)) + shift)
        assert (res.p_value < ALPHA) == (res.statistic > res.critical_value)


# -- calibration of the statistics (engine level) --------------------------------


STATISTIC_NAMES = ("combined", "lrt", "mean", "covariance")


def _band(R):
    half = 3 * np.sqrt(ALPHA * (1 - ALPHA) / R)
    return ALPHA - half, ALPHA + half


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["gauss", "t5"])
@pytest.mark.parametrize("n", [50, 500])
@pytest.mark.parametrize("d", [2, 10])
def test_false_positive_rate_of_every_statistic(d, n, kind):
    # The four statistics from one set of permutations per data set; the
    # detector's own path is calibrated in test_drift_calibration.py.
    rng = np.random.default_rng(d * 1000 + n + (kind == "t5"))
    R, B = 200, 99
    pvals = {s: np.empty(R) for s in STATISTIC_NAMES}
    for r in range(R):
        X = np.vstack([_sample(rng, n, d, kind), _sample(rng, n, d, kind)])
        parts = _parts(X, SplitSampler(2 * n, n, B, r).all())
        for s in STATISTIC_NAMES:
            v = _statistic(parts, s)
            pvals[s][r] = (1 + np.count_nonzero(v[1:] >= v[0] - 1e-10)) / (B + 1)
    lo, hi = _band(R)
    for s, p in pvals.items():
        assert lo <= np.mean(p < ALPHA) <= hi, s


@pytest.mark.slow
@pytest.mark.parametrize(
    "params", [{"covariance_type": "diag"}, {"shrinkage": "ledoit_wolf"}]
)
def test_false_positive_rate_diag_and_shrinkage(params):
    # d = 10 with 12 samples per group: heavy tails, shrinkage needed for full.
    rng = np.random.default_rng(11)
    R = 200
    pvals = np.empty(R)
    det = GaussianDriftDetector(n_permutations=99, **params)
    for r in range(R):
        det.set_params(random_state=r).fit(_sample(rng, 12, 10, "t5"))
        pvals[r] = det.test(_sample(rng, 12, 10, "t5")).p_value
    lo, hi = _band(R)
    assert lo <= np.mean(pvals < ALPHA) <= hi
    assert stats.kstest(pvals, "uniform").pvalue > 0.001


# -- power and attribution -------------------------------------------------------


@pytest.mark.parametrize("change", ["mean", "scale", "correlation"])
def test_clear_shifts_are_detected(change):
    rng = np.random.default_rng(8)
    d = 4
    X1 = rng.standard_normal((400, d))
    X2 = rng.standard_normal((400, d))
    weights = np.array(list(STATISTICS["combined"].values()))
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
        assert det.is_drift(X2) is True
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


# -- effect size (the definition's own tests are in test_drift_effect.py) ------


def test_effect_is_near_zero_under_h0_and_matches_truth_under_shift():
    rng = np.random.default_rng(10)
    d, n = 5, 100
    effects = []
    det = GaussianDriftDetector(n_permutations=50)
    for r in range(200):
        det.set_params(random_state=r).fit(rng.standard_normal((n, d)))
        res = det.test(rng.standard_normal((n, d)))
        assert isinstance(res.effect, float) and res.effect_null_sd > 0
        effects.append(res.effect)
    effects = np.asarray(effects)
    # Unbiased: no plug-in bias (about d (d + 3) / 4 (1/n1 + 1/n2) = 0.2 here).
    assert abs(np.median(effects)) < 4 * effects.std() / np.sqrt(len(effects))
    # Large samples: the second-order symmetric KL of the populations. A 0.5
    # shift of feature 0 gives 1/2 * 0.5^2 (within-sample metric); variance 2
    # in feature 1 gives 1/4 * ((2 - 1) / 1.5)^2 (pooled variance 1.5).
    X1 = rng.standard_normal((20000, d))
    X2 = rng.standard_normal((20000, d))
    X2[:, 0] += 0.5
    X2[:, 1] *= np.sqrt(2.0)
    true0, true1 = 0.125, 0.25 / 1.5**2
    res = det.set_params(random_state=0).fit(X1).test(X2)
    assert res.effect == pytest.approx(true0 + true1, abs=0.01)
    assert res.feature_scores[0] == pytest.approx(true0, abs=0.01)
    assert res.feature_scores[1] == pytest.approx(true1, abs=0.01)
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
    assert det.is_drift(X2) is False
    assert det.is_drift(X2 + 0.5) is True


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
        out["distance"] == res.statistic
        and out["distance_threshold"] == res.critical_value
    )
    assert out["method"] == res.method == "permutation"
    assert out["effect"] == res.effect and out["effect_null_sd"] == res.effect_null_sd
    assert res.n_ref == 30 and res.n == 30 and res.null_distribution.shape == (50,)
    assert type(res.effect) is float and type(res.p_value) is float


@pytest.mark.parametrize("method", ["permutation", "gram"])
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
    assert b.n_ref == a.n_ref == 120 and b.method == method
    assert b.statistic == pytest.approx(a.statistic, rel=1e-10, abs=1e-10)
    assert b.p_value == pytest.approx(a.p_value, rel=1e-10, abs=1e-10)
    assert b.effect == pytest.approx(a.effect, rel=1e-8, abs=1e-10)
    np.testing.assert_allclose(b.feature_scores, a.feature_scores, rtol=1e-8)
    # Scaling all weights changes nothing.
    c = GaussianDriftDetector(**params).fit(X, sample_weight=5 * w).test(Y)
    assert c.statistic == pytest.approx(a.statistic, rel=1e-10)
    assert c.p_value == a.p_value


def test_partial_fit_equals_fit():
    rng = np.random.default_rng(13)
    X, Y = rng.normal(size=(90, 3)), rng.normal(size=(40, 3)) + 0.2
    a = GaussianDriftDetector(n_permutations=200, random_state=0).fit(X).test(Y)
    det = GaussianDriftDetector(n_permutations=200, random_state=0)
    det.partial_fit(X[:40]).partial_fit(X[40:])
    b = det.test(Y)
    assert det.n_ref_ == 90 and b.n_ref == 90
    assert b.statistic == pytest.approx(a.statistic)
    assert b.p_value == a.p_value and b.effect == pytest.approx(a.effect)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("shift", [1e4, 1e7, 1e8, 1e15])
def test_huge_shift_is_drift_with_an_explanation(covariance_type, shift):
    # Issue 11: a shift beyond float64 moment sums used to raise ValueError
    # (CLI exit 2). It is drift: p = 1/(B+1), and the note explains it.
    rng = np.random.default_rng(21)
    X, Y = rng.normal(size=(100, 3)), rng.normal(size=(80, 3)) + shift
    det = GaussianDriftDetector(
        covariance_type=covariance_type, n_permutations=50, random_state=0
    ).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = det.test(Y)
    assert res.is_drift and res.p_value == pytest.approx(1 / 51)
    assert np.isfinite(res.effect) and np.isfinite(res.statistic)
    if shift >= 1e7:
        (note,) = res.notes
        assert "standard deviations" in note and "units" in note
        assert "feature 0, feature 1, feature 2" in note
    else:
        assert res.notes == ()


def test_n_jobs_and_clone_do_not_change_results():
    rng = np.random.default_rng(14)
    X, Y = rng.normal(size=(100, 3)), rng.normal(size=(100, 3))
    det = GaussianDriftDetector(n_permutations=600, random_state=3)
    a = det.fit(X).test(Y)
    b = clone(det).set_params(n_jobs=2).fit(X).test(Y)
    np.testing.assert_array_equal(a.null_distribution, b.null_distribution)


@pytest.mark.parametrize("n_jobs", ["a", 1.5, 0])
def test_bad_n_jobs_is_a_clear_error(n_jobs):
    with pytest.raises(ValueError, match="'n_jobs' parameter"):
        GaussianDriftDetector(n_jobs=n_jobs).fit(np.eye(5))


def test_scan_fixed_and_previous():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(15)
    X = rng.normal(size=(200, 3))
    stream = np.vstack([rng.normal(size=(150, 3)), rng.normal(size=(150, 3)) + 1.0])
    # 'lrt' does not depend on the permutations drawn ('combined' does).
    det = GaussianDriftDetector(statistic="lrt", n_permutations=100, random_state=0)
    scan = det.fit(X).scan(stream, window=50, step=25)
    assert isinstance(scan, DriftScan) and scan.skipped == ()
    table = scan.to_frame()
    assert isinstance(table, pd.DataFrame)
    assert list(table["start"]) == list(range(0, 251, 25))
    assert table.attrs["alpha"] == ALPHA
    for row, res_scan in zip(table.itertuples(), scan, strict=True):
        res = det.test(stream[row.start : row.stop])
        assert (res_scan.start, res_scan.stop) == (row.start, row.stop)
        assert row.statistic == pytest.approx(res.statistic)
    assert not table["is_drift"].iloc[:3].any() and table["is_drift"].iloc[-5:].all()
    prev = det.scan(stream, window=50, reference="previous")
    assert [r.start for r in prev] == [50, 100, 150, 200, 250]
    ref = GaussianDriftDetector(statistic="lrt", n_permutations=100)
    ref.fit(stream[100:150])
    assert prev[2].statistic == pytest.approx(ref.test(stream[150:200]).statistic)
    assert [r.is_drift for r in prev] == [False, False, True, False, False]


def test_scan_is_the_same_type_without_pandas(monkeypatch):
    rng = np.random.default_rng(16)
    det = GaussianDriftDetector(n_permutations=20, random_state=0).fit(
        rng.normal(size=(50, 2))
    )
    with_pd = det.scan(rng.normal(size=(60, 2)), window=20)
    monkeypatch.setitem(sys.modules, "pandas", None)
    out = det.scan(rng.normal(size=(60, 2)), window=20)
    assert type(out) is type(with_pd) is DriftScan
    assert len(out) == 3 and all(isinstance(r, DriftResult) for r in out)
    assert [(r.start, r.stop) for r in out] == [(0, 20), (20, 40), (40, 60)]
    with pytest.raises(ImportError):
        out.to_frame()


def test_scan_reports_or_tests_a_last_partial_window():
    rng = np.random.default_rng(17)
    det = GaussianDriftDetector(n_permutations=20, random_state=0).fit(
        rng.normal(size=(50, 2))
    )
    X = rng.normal(size=(70, 2))
    with pytest.warns(UserWarning, match="rows 60-69 .* not tested.*partial='test'"):
        out = det.scan(X, window=20)
    assert out.skipped == ((60, 70),) and len(out) == 3
    out = det.scan(X, window=20, partial="test")
    assert out.skipped == () and [(r.start, r.stop, r.n) for r in out][-1] == (
        60,
        70,
        10,
    )


def test_shrinkage_makes_small_samples_testable():
    rng = np.random.default_rng(17)
    X1, X2 = rng.normal(size=(12, 15)), rng.normal(size=(12, 15)) * 1.8
    with pytest.raises(ValueError, match="needs at least 16 rows.*shrinkage"):
        GaussianDriftDetector().fit(X1).test(X2)
    for shrink in ("ledoit_wolf", "oas", 0.5):
        res = GaussianDriftDetector(
            shrinkage=shrink, random_state=0, n_permutations=200
        )
        res = res.fit(X1).test(X2)
        assert np.isfinite(res.statistic) and res.is_drift


def test_shrinkage_intensity_is_ledoit_wolfs_on_repeated_rows():
    # Ledoit-Wolf from skkl's weighted moment formulas: integer weights act
    # as repeated rows (sklearn's ledoit_wolf_shrinkage on the repeated rows).
    from sklearn.covariance import ledoit_wolf_shrinkage

    rng = np.random.default_rng(30)
    X = rng.normal(size=(15, 8))
    w = rng.integers(1, 4, size=15).astype(float)
    Xrep = np.repeat(X, w.astype(int), axis=0)
    Z = X - w @ X / w.sum()
    cov = (Z * w[:, None]).T @ Z / w.sum()
    sq = np.einsum("ij,ij->i", Z, Z)
    got = shrinkage_intensity("ledoit_wolf", w.sum(), cov, float(w @ sq**2))
    assert got == pytest.approx(ledoit_wolf_shrinkage(Xrep), rel=1e-10)


# -- errors and regressions of issue 11 -----------------------------------------


def test_bad_input():
    rng = np.random.default_rng(18)
    det = GaussianDriftDetector(n_permutations=20).fit(rng.normal(size=(30, 3)))
    with pytest.raises(ValueError, match="3 features"):
        det.test(rng.normal(size=(30, 4)))
    X = rng.normal(size=(30, 3))
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        det.test(X)
    with pytest.raises(ValueError, match="NaN"):
        GaussianDriftDetector().fit(X)
    with pytest.raises(ValueError, match="X has 3 rows.*at least 4 rows.*shrinkage"):
        det.test(rng.normal(size=(3, 3)))
    with pytest.raises(ValueError, match="X has 1 row.*at least 2 rows"):
        det.test(rng.normal(size=(1, 3)))
    with pytest.raises(ValueError, match="shrinkage is not used by the asymptotic"):
        GaussianDriftDetector(method="asymptotic", shrinkage=0.1).fit(X[:4])
    with pytest.raises(ValueError, match="n_permutations"):
        GaussianDriftDetector(n_permutations=0).fit(rng.normal(size=(30, 3)))
    with pytest.raises(ValueError, match="window"):
        det.scan(rng.normal(size=(30, 3)), window=100)
    with pytest.raises(ValueError, match="reference"):
        det.scan(rng.normal(size=(30, 3)), window=10, reference="first")
    with pytest.raises(ValueError, match="covariance_type='full'"):
        GaussianDriftDetector(method="gram", covariance_type="diag").fit(X[:4])
    with pytest.raises(Exception, match="fit"):
        GaussianDriftDetector().test(X)


def test_too_few_permutations_is_an_error():
    # Issue 11: B=10 could never reject at alpha=0.05 and said "no drift".
    X = np.random.default_rng(0).normal(size=(30, 2))
    with pytest.raises(ValueError, match=r"n_permutations=10 can never.*>= 20"):
        GaussianDriftDetector(n_permutations=10).fit(X)
    with pytest.raises(ValueError, match=r">= 100"):
        GaussianDriftDetector(n_permutations=98, alpha=0.01).fit(X)
    GaussianDriftDetector(n_permutations=20).fit(X)
    GaussianDriftDetector(n_permutations=10, method="asymptotic").fit(X)


def test_tiny_samples_name_the_rows_needed_not_an_internal_index():
    # Issue 11: test(X[:4]) with d=3 raised "group covariance[66] ...".
    rng = np.random.default_rng(19)
    det = GaussianDriftDetector(random_state=0).fit(rng.normal(size=(40, 3)))
    res = det.test(rng.normal(size=(4, 3)))
    assert 0 < res.p_value <= 1 and np.isfinite(res.effect)
    with pytest.raises(ValueError) as info:
        det.test(rng.normal(size=(3, 3)))
    assert "at least 4 rows" in str(info.value)
    assert not re.search(r"\[\d+\]", str(info.value))
    # Too few distinct splits to ever reach alpha.
    small = GaussianDriftDetector(covariance_type="diag").fit(rng.normal(size=(2, 3)))
    with pytest.raises(ValueError, match=r"2\+2 rows have only 6 distinct splits"):
        small.test(rng.normal(size=(2, 3)))


def test_duplicated_rows_and_singular_groups_are_fine():
    # A singular group covariance (2 distinct rows in 3 dimensions) used to
    # raise; the ridge keeps every statistic finite and the test exact.
    rng = np.random.default_rng(22)
    Xd = np.repeat(rng.normal(size=(2, 3)), 10, axis=0)
    res = GaussianDriftDetector(n_permutations=50, random_state=0).fit(Xd)
    res = res.test(rng.normal(size=(10, 3)))
    assert res.is_drift and np.isfinite(res.statistic)


def test_constant_features():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(23)
    X, Y = rng.normal(size=(100, 3)), rng.normal(size=(80, 3))
    X[:, 1] = Y[:, 1] = 5.0
    df_X = pd.DataFrame(X, columns=["a", "b", "c"])
    df_Y = pd.DataFrame(Y, columns=["a", "b", "c"])
    for kw in ({}, {"shrinkage": "ledoit_wolf"}, {"covariance_type": "diag"}):
        det = GaussianDriftDetector(n_permutations=50, random_state=0, **kw)
        with pytest.warns(UserWarning, match=r"dropped feature 1 \('b'\): constant"):
            res = det.fit(df_X).test(df_Y)
        assert res.dropped_features == (1,) and not res.is_drift
        assert res.feature_p_values[1] == 1 and res.feature_scores[1] == 0
        assert list(res.feature_names) == ["a", "b", "c"]
    # The constant moved: drift, named.
    df_Y["b"] = 6.0
    res = GaussianDriftDetector(n_permutations=50, random_state=0).fit(df_X)
    res = res.test(df_Y)
    assert res.is_drift and res.p_value == pytest.approx(1 / 51)
    assert any("feature 1 ('b')" in n and "from 5 to 6" in n for n in res.notes)
    # Constant current data (every feature): drift, not an error.
    res = GaussianDriftDetector(n_permutations=50, random_state=0).fit(X)
    assert res.test(np.ones((30, 3))).is_drift
    # Every feature constant and equal: nothing to test, no drift.
    with pytest.warns(UserWarning, match="dropped"):
        res = GaussianDriftDetector().fit(np.ones((10, 2))).test(np.ones((5, 2)))
    assert res.p_value == 1 and not res.is_drift


@pytest.mark.parametrize(
    "params",
    [{}, {"shrinkage": "ledoit_wolf"}, {"covariance_type": "diag"}],
)
def test_digits_pixels_constant_in_one_half_do_not_raise(params):
    # Issue 11: 200/200 random splits of digits raised ValueError; a pixel
    # constant in one half only was reported as "drift beyond doubt".
    from sklearn.datasets import load_digits

    X = load_digits().data
    rng = np.random.default_rng(24)
    det = GaussianDriftDetector(n_permutations=20, **params)
    for r in range(3):
        idx = rng.permutation(len(X))
        a, b = idx[:120], idx[120:240]  # small halves: many one-sided pixels
        one_sided = (np.ptp(X[a], axis=0) == 0) != (np.ptp(X[b], axis=0) == 0)
        assert one_sided.any()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "dropped", UserWarning)
            res = det.set_params(random_state=r).fit(X[a]).test(X[b])
        assert np.isfinite(res.statistic) and np.isfinite(res.effect)
        assert not any("beyond" in n for n in res.notes)


def test_is_drift_replaces_predict():
    assert not hasattr(GaussianDriftDetector(), "predict")
    rng = np.random.default_rng(25)
    det = GaussianDriftDetector(n_permutations=50, random_state=0)
    det.fit(rng.normal(size=(100, 2)))
    assert det.is_drift(rng.normal(size=(100, 2)) + 1) is True


# No check is expected to fail: the detector has no predict (is_drift answers
# for a whole batch), so the per-sample invariance checks do not apply.
@parametrize_with_checks([GaussianDriftDetector(n_permutations=20, random_state=0)])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


def test_asymptotic_beyond_resolution_is_drift_with_p_value_zero():
    rng = np.random.default_rng(26)
    X, Y = rng.normal(size=(3000, 3)), rng.normal(size=(3000, 3))
    X[:, 1], Y[:, 1] = 3.0, 4.0  # a constant that moved
    det = GaussianDriftDetector(method="asymptotic").fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        res = det.test(Y)
    assert res.method == "asymptotic" and res.is_drift and res.p_value == 0.0
    assert np.isfinite(res.effect) and np.argmin(res.feature_p_values) == 1
    assert any("from 3 to 4" in n for n in res.notes)


def test_asymptotic_on_a_pixel_constant_in_one_half_falls_back_not_drift():
    # Issue 11: a pixel constant in one half of a random split was "drift
    # beyond doubt". The asymptotic engine cannot use that moment; the
    # detector falls back to a permutation engine (with a warning).
    rng = np.random.default_rng(27)
    X, Y = rng.normal(size=(3000, 3)), rng.normal(size=(3000, 3))
    X[:, 2] = 0.0
    Y[:, 2] = np.where(rng.random(3000) < 0.002, 1.0, 0.0)
    det = GaussianDriftDetector(method="asymptotic", n_permutations=50).fit(X)
    with pytest.warns(UserWarning, match="'asymptotic' engine cannot answer"):
        res = det.test(Y)
    assert res.method in ("permutation", "gram") and res.p_value > 0


@pytest.mark.parametrize("scale", [1e200, 1e-200])
def test_extreme_scales_give_the_unit_scale_answer(scale):
    # The permutation test is invariant to a common scale; squaring the
    # feature spreads must not overflow (or underflow) on the way.
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(300, 4)), rng.normal(size=(300, 4))
    ref = GaussianDriftDetector(random_state=0).fit(X).test(Y)
    res = GaussianDriftDetector(random_state=0).fit(X * scale).test(Y * scale)
    assert res.p_value == ref.p_value and res.is_drift == ref.is_drift
