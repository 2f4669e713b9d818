"""GaussianDriftMonitor on tables: categorical, boolean columns, missing cells."""

import numpy as np
import pytest

from skkl import GaussianDriftMonitor
from skkl.drift._online_statistic import window_summary

pd = pytest.importorskip("pandas")

ERT = 300


def _table(rng, n, p_b=0.3, miss=0.1, new=0.0, new_level="z"):
    """Mixed table: a skewed 3-level category, a numeric column with missing
    cells, a complete numeric column and a boolean."""
    c = rng.choice(["a", "b", "c"], size=n, p=[0.6 - p_b / 2, p_b, 0.4 - p_b / 2])
    if new:
        c = np.where(rng.random(n) < new, new_level, c)
    x = rng.normal(size=n)
    x[rng.random(n) < miss] = np.nan
    return pd.DataFrame(
        {"c": c, "x": x, "y": rng.normal(size=n), "f": rng.random(n) < 0.3}
    )


@pytest.fixture(scope="module")
def fitted():
    rng = np.random.default_rng(0)
    ref = _table(rng, 2000)
    ref.loc[5, "c"] = "once"  # a level in one row: pooled, no constant feature
    return ref, GaussianDriftMonitor(ert=ERT, random_state=0).fit(ref)


def test_table_reference_is_encoded(fitted):
    ref, monitor = fitted
    enc = monitor.encoding_
    assert enc is not None
    assert monitor.n_features_in_ == 4
    assert list(monitor.feature_names_in_) == ["c", "x", "y", "f"]
    # baseline 'a' and the one-row level carry no feature; x gets its indicator
    assert list(enc.feature_names) == ["c=b", "c=c", "x", "x (missing)", "y", "f"]
    assert monitor.reference_.n_features == 6


def test_numeric_frame_keeps_the_array_path():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 3))
    a = GaussianDriftMonitor(ert=100, random_state=0).fit(X)
    b = GaussianDriftMonitor(ert=100, random_state=0).fit(
        pd.DataFrame(X, columns=["x0", "x1", "x2"])
    )
    assert a.encoding_ is None and b.encoding_ is None
    assert a.threshold_ == b.threshold_
    batch = rng.normal(size=(50, 3))
    # Same code path; a DataFrame's column-major copy may round differently.
    np.testing.assert_allclose(
        a.update(batch).statistics,
        b.update(pd.DataFrame(batch, columns=b.feature_names_in_)).statistics,
        rtol=1e-9,
        atol=1e-12,
    )


def test_no_change_no_alarm_in_a_short_stream(fitted):
    # A run of ERT / 3 rows alarms with probability about 1/3 under the null;
    # three seeds all alarming would be a 4% event -- the FPR study is in
    # benchmarks/bench_monitor_tables.py.
    _, monitor = fitted
    alarms = 0
    for seed in range(3):
        monitor.reset()
        rng = np.random.default_rng(100 + seed)
        alarms += monitor.update(_table(rng, ERT // 3)).alarm
    assert alarms < 3


def test_missing_rate_change_alarms_on_its_column(fitted):
    _, monitor = fitted
    monitor.reset()
    state = monitor.update(_table(np.random.default_rng(2), 600, miss=0.5))
    assert state.alarm
    assert state.alarms[0].features[0] == "x"
    assert state.alarms[0].feature_scores.shape == (4,)


def test_unseen_level_alarms_without_other(fitted):
    # No '(other)' feature (the reference's rare levels fill 1 row): the new
    # level reads as the baseline, so the other levels' frequencies drop.
    _, monitor = fitted
    monitor.reset()
    state = monitor.update(_table(np.random.default_rng(3), 600, new=0.3))
    assert state.alarm
    assert state.alarms[0].features[0] == "c"


def test_unseen_level_counts_as_other():
    # A 2% '(other)' indicator: with its variance part (kurtosis ~50) the
    # threshold was 160 nats and this change went unseen; indicators now
    # count in the mean part only.
    rng = np.random.default_rng(4)
    ref = _table(rng, 2000)
    rare = rng.choice(2000, size=40, replace=False)
    ref.loc[rare, "c"] = [f"r{k % 8}" for k in range(40)]  # 8 levels of 5 rows
    monitor = GaussianDriftMonitor(ert=ERT, random_state=0).fit(ref)
    assert "c=(other)" in list(monitor.encoding_.feature_names)
    enc = monitor.encoding_.encode(
        pd.DataFrame({"c": ["never"], "x": [0.0], "y": [0.0], "f": [True]})
    )
    names = list(monitor.encoding_.feature_names)
    assert enc[0, names.index("c=(other)")] == 1.0
    state = monitor.update(_table(rng, 600, new=0.1, new_level="never"))
    assert state.alarm and state.alarms[0].features[0] == "c"


def test_column_score_is_the_joint_marginal_kl():
    # Independent check of the per-column score: the KL divergence of the
    # window's marginal Gaussian on a block of u-coordinates from the
    # reference's, by explicit inverse and log-determinants.
    rng = np.random.default_rng(5)
    d, m = 5, 40
    A = rng.normal(size=(d, d))
    S = A @ A.T + d * np.eye(d)
    R = S / np.sqrt(np.outer(np.diag(S), np.diag(S)))
    L = np.linalg.cholesky(R)
    Z = rng.normal(size=(m, d)) * 1.3 + 0.2
    groups = np.array([0, 0, 1, 2, 2])
    effect, scores = window_summary(Z.sum(0), Z.T @ Z, m, L, groups)
    eff1, per_feature = window_summary(Z.sum(0), Z.T @ Z, m, L)
    assert effect == eff1
    from skkl.drift._online_statistic import PSEUDO_ROWS

    zbar = Z.mean(0)
    C = Z.T @ Z / m - np.outer(zbar, zbar)
    Cr = (m * C + PSEUDO_ROWS * np.eye(d)) / (m + PSEUDO_ROWS)
    ubar, Cu = L @ zbar, L @ Cr @ L.T
    for g, B in enumerate([[0, 1], [2], [3, 4]]):
        RB, CB, mb = R[np.ix_(B, B)], Cu[np.ix_(B, B)], ubar[B]
        P = np.linalg.inv(RB)
        kl = 0.5 * (
            np.trace(P @ CB)
            + mb @ P @ mb
            - len(B)
            + np.linalg.slogdet(RB)[1]
            - np.linalg.slogdet(CB)[1]
        )
        assert scores[g] == pytest.approx(kl, rel=1e-10, abs=1e-12)
    # a one-feature group is that feature's score
    assert scores[1] == pytest.approx(per_feature[2], rel=1e-12)


def test_batches_do_not_matter(fitted):
    _, monitor = fitted
    stream = _table(np.random.default_rng(6), 250, miss=0.3)
    monitor.reset()
    whole = monitor.update(stream).statistics
    monitor.reset()
    parts = [
        monitor.update(stream.iloc[a : a + 70]).statistics for a in range(0, 250, 70)
    ]
    np.testing.assert_allclose(np.concatenate(parts), whole, rtol=1e-9, atol=1e-9)


def test_one_row_and_bad_columns(fitted):
    ref, monitor = fitted
    monitor.reset()
    assert monitor.update(ref.iloc[0]).n_rows == 1  # a Series: one row
    with pytest.raises(ValueError, match="feature names"):
        monitor.update(ref.rename(columns={"x": "x_new"}).iloc[:5])
    bad = ref.iloc[:5].copy()
    bad["x"] = bad["x"].astype(object)
    bad.loc[bad.index[2], "x"] = "oops"
    with pytest.raises(ValueError, match="'x'"):
        monitor.update(bad)


def test_save_load_round_trip(fitted, tmp_path):
    ref, monitor = fitted
    monitor.reset()
    monitor.update(_table(np.random.default_rng(7), 100))
    monitor.save(tmp_path / "m.npz")
    loaded = GaussianDriftMonitor.load(tmp_path / "m.npz")
    assert loaded.encoding_ == monitor.encoding_
    batch = _table(np.random.default_rng(8), 400, miss=0.4, new=0.1)
    a, b = monitor.update(batch), loaded.update(batch)
    np.testing.assert_array_equal(a.statistics, b.statistics)
    assert [x.row for x in a.alarms] == [x.row for x in b.alarms]
    np.testing.assert_array_equal(a.feature_scores, b.feature_scores)
    assert a.features == b.features


def test_saved_levels_keep_their_type(tmp_path):
    rng = np.random.default_rng(9)
    n = 400
    ref = pd.DataFrame(
        {
            "k": pd.Categorical(rng.choice([1, 2, 3], size=n)),
            "s": pd.Categorical(rng.choice(["1", "2"], size=n)),
            "x": rng.normal(size=n),
        }
    )
    monitor = GaussianDriftMonitor(ert=50, random_state=0).fit(ref)
    monitor.save(tmp_path / "m.npz")
    loaded = GaussianDriftMonitor.load(tmp_path / "m.npz")
    assert loaded.encoding_ == monitor.encoding_
    levels = [lv for code in loaded.encoding_.columns for lv in code.levels]
    assert {type(v) for v in levels} == {int, str}


def test_parametric_calibration_warns_on_tables(fitted):
    ref, _ = fitted
    with pytest.warns(UserWarning, match="resample"):
        GaussianDriftMonitor(ert=50, calibration="parametric", random_state=0).fit(ref)


def test_nothing_to_watch_is_an_error():
    ref = pd.DataFrame({"c": ["a"] * 100 + ["b"] * 3})
    with pytest.raises(ValueError, match="X_ref.*varies in enough rows"):
        GaussianDriftMonitor(ert=50).fit(ref)


def test_indicators_count_in_the_mean_part_only(fitted):
    # The encoding's 0/1 features (levels, missing cells, the boolean) are
    # the indicators; their variance and pair factors are 0.
    _, monitor = fitted
    layout = monitor._stream.layout
    names = list(monitor.encoding_.feature_names)
    assert [n for n, i in zip(names, layout.indicators, strict=True) if i] == [
        "c=b",
        "c=c",
        "x (missing)",
        "f",
    ]
    ind = np.array(layout.indicators)
    assert np.all(monitor._stream._g_feat[ind] == 0)
    assert np.all(monitor._stream._g_pair[ind] == 0)
    assert np.all(monitor._stream._g_pair[:, ind] == 0)
    assert np.all(monitor._stream._g_feat[~ind] > 0)


def test_feature_ratio_of_an_indicator_is_its_mean_term():
    # Naive formula of the feature part, window of m rows: an indicator
    # whose window variance vanished (a rare level absent) adds nothing.
    from skkl.drift._online_statistic import PSEUDO_ROWS, Stream, make_layout

    n, m = 1000, 16
    layout = make_layout(2, n, 16, table=True, indicators=(True, False))
    stream = Stream(layout)
    stream.use_tail_factors(np.ones(2), 1.0, np.ones((2, 2)))
    rng = np.random.default_rng(0)
    U = np.column_stack([np.full(m, -0.2), rng.normal(0.3, 1.5, m)])
    D = np.concatenate([U, U, U**2, (U**2).sum(1, keepdims=True)], axis=1)
    ratios = stream._row_ratios(D.sum(0, keepdims=True), float(m))
    meff = m * n / (m + n)
    mu = U.mean(0)
    v1 = (((U[:, 1] - mu[1]) ** 2).sum() + PSEUDO_ROWS) / (m + PSEUDO_ROWS)
    expect = meff / 2 * max(mu[0] ** 2, mu[1] ** 2 + v1 - 1 - np.log(v1))
    np.testing.assert_allclose(ratios[1, 0], expect, rtol=1e-12)
