"""GaussianDriftDetector on tables: categorical, boolean and missing cells.

Small tables here; the false-positive and power tables at full size are in
benchmarks/bench_drift_mixed.py.
"""

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from scipy import stats

from skkl import GaussianDriftDetector
from skkl.drift._encode import TableEncoding
from skkl.drift._marginal import asymptotic_p_values, table_units, unit_features
from skkl.drift._table import read_table

pd = pytest.importorskip("pandas")

B = 199


def table(
    n, rng, *, missing=0.1, levels=(0.5, 0.3, 0.15, 0.05), joint=0.0, hole_rate=None
):
    """A small mixed table; ``joint`` ties ``x`` to ``flag`` (marginals kept)."""
    x = rng.normal(size=n)
    flag = rng.random(n) < (1 / (1 + np.exp(-joint * x)) if joint else 0.5)
    frame = pd.DataFrame(
        {
            "x": x,
            "y": rng.exponential(size=n),
            "city": pd.Categorical(
                rng.choice(len(levels), p=levels, size=n), categories=range(len(levels))
            ).rename_categories([f"c{k}" for k in range(len(levels))]),
            "flag": flag,
            "code": rng.choice(["u", "v", "w"], size=n),
        }
    )
    rate = missing if hole_rate is None else hole_rate
    frame.loc[rng.random(n) < rate, "y"] = np.nan
    frame.loc[rng.random(n) < missing, "code"] = None
    return frame


def det(**kw):
    kw.setdefault("n_permutations", B)
    kw.setdefault("random_state", 0)
    return GaussianDriftDetector(**kw)


def quiet(func, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return func(*args)


# -- numeric input is unchanged ---------------------------------------------------


def test_numeric_frames_take_the_array_path():
    rng = np.random.default_rng(0)
    a = pd.DataFrame(
        {
            "f": rng.normal(size=80),
            "i": rng.integers(0, 9, 80),
            "b": rng.random(80) < 0.4,
        }
    )
    b = pd.DataFrame(
        {
            "f": rng.normal(size=70),
            "i": rng.integers(0, 9, 70),
            "b": rng.random(70) < 0.4,
        }
    )
    by_frame = det().fit(a).test(b)
    by_array = det().fit(a.to_numpy(float)).test(b.to_numpy(float))
    assert by_frame.encoded is None and by_frame.category_frequencies is None
    for field in ("p_value", "statistic", "effect", "effect_null_sd"):
        assert getattr(by_frame, field) == getattr(by_array, field)
    assert_array_equal(by_frame.feature_p_values, by_array.feature_p_values)
    assert_allclose(by_frame.reference_mean, a.to_numpy(float).mean(axis=0), rtol=1e-12)
    assert_allclose(by_frame.current_sd, b.to_numpy(float).std(axis=0), rtol=1e-12)
    assert list(by_frame.feature_names) == ["f", "i", "b"]


# -- the result of a table ---------------------------------------------------------


def test_table_result_is_per_column_with_report_fields():
    rng = np.random.default_rng(1)
    a, b = table(300, rng), table(250, rng)
    res = det().fit(a).test(b)
    d = a.shape[1]
    assert list(res.feature_names) == list(a.columns)
    for field in (
        "feature_scores",
        "feature_p_values",
        "reference_missing_rate",
        "current_missing_rate",
        "reference_mean",
        "current_sd",
    ):
        assert getattr(res, field).shape == (d,), field
    assert_allclose(res.reference_missing_rate, a.isna().mean().to_numpy())
    assert_allclose(res.current_missing_rate, b.isna().mean().to_numpy())
    assert_allclose(res.current_mean[:2], [b.x.mean(), b.y.mean()], rtol=1e-12)
    assert np.isnan(res.reference_mean[2]) and np.isnan(res.reference_mean[4])
    assert res.reference_mean[3] == pytest.approx(a.flag.mean())
    freq = res.category_frequencies
    assert set(freq) == {"city", "code"}
    assert freq["city"]["c0"] == pytest.approx(
        (np.mean(a.city == "c0"), np.mean(b.city == "c0"))
    )
    shares = sum(v[0] for v in freq["code"].values())
    assert shares == pytest.approx(1 - a.code.isna().mean())
    enc = res.encoded
    assert enc.names.size == enc.column.size == enc.feature_scores.size
    assert set(enc.column) <= set(range(d))
    assert res.new_levels == {}


def test_planted_changes_are_found_and_named():
    rng = np.random.default_rng(2)
    ref = table(400, rng)
    detector = det().fit(ref)
    # A level new in the tested sample.
    cur = table(400, rng)
    cur["code"] = cur["code"].where(rng.random(400) > 0.08, "NEW")
    res = detector.test(cur)
    assert res.is_drift and res.new_levels == {"code": ("NEW",)}
    # B = 199: the smallest Holm-adjusted p-value of five columns is 5 / 200.
    assert (
        int(np.argmin(res.feature_p_values)) == 4 and res.feature_p_values[4] <= 0.025
    )
    assert any("'code' has levels not in the reference: 'NEW'" in n for n in res.notes)
    assert res.category_frequencies["code"]["NEW"][0] == 0.0
    # The missing rate of y: 10% -> 30%.
    res = detector.test(table(400, rng, hole_rate=0.3))
    assert res.is_drift and int(np.argmin(res.feature_p_values)) == 1
    assert res.current_missing_rate[1] > 0.2 > res.reference_missing_rate[1]
    # One level's frequency.
    res = detector.test(table(400, rng, levels=(0.35, 0.45, 0.15, 0.05)))
    assert res.is_drift and int(np.argmin(res.feature_p_values)) == 2


def test_a_joint_change_no_marginal_test_sees():
    """x depends on flag in the tested sample; both marginals are unchanged.

    Only the correlation parts see it, each with a small weight in the
    combination: their partial p-values need B = 999 to reach the level.
    """
    rng = np.random.default_rng(3)
    hits, marginal = 0, 0
    for _ in range(3):
        res = (
            det(n_permutations=999)
            .fit(table(300, rng))
            .test(table(300, rng, joint=1.5))
        )
        hits += res.is_drift
        marginal += bool(np.min(res.feature_p_values[[0, 3]]) < 0.05)
    assert hits == 3 and marginal <= 1


@pytest.mark.slow
def test_no_drift_splits_are_calibrated():
    """Exact test: rejections at 0.05 in 100 random splits lie in the binomial band."""
    rng = np.random.default_rng(4)
    p = []
    for s in range(100):
        pooled = table(160, rng, missing=0.15)
        order = rng.permutation(160)
        res = det(n_permutations=99, random_state=s).fit(pooled.iloc[order[:80]])
        p.append(res.test(pooled.iloc[order[80:]]).p_value)
    p = np.array(p)
    lo, hi = stats.binom.ppf([0.0005, 0.9995], 100, 0.05)
    assert lo <= np.sum(p < 0.05) <= hi
    assert stats.kstest(p, "uniform").pvalue > 1e-3


# -- every engine ----------------------------------------------------------------------


def test_gram_and_asymptotic_engines_take_tables():
    rng = np.random.default_rng(5)
    a, b = table(200, rng), table(200, rng, hole_rate=0.5)
    res = det(method="gram").fit(a).test(b)
    assert (
        res.method == "gram"
        and res.is_drift
        and int(np.argmin(res.feature_p_values)) == 1
    )
    big_a, big_b = table(6000, rng), table(6000, rng, hole_rate=0.16)
    res = det(method="asymptotic").fit(big_a).test(big_b)
    assert res.method == "asymptotic" and res.null_distribution is None
    assert res.is_drift and int(np.argmin(res.feature_p_values)) == 1
    none = det(method="asymptotic").fit(big_a).test(table(6000, rng))
    assert 0 <= none.p_value <= 1 and none.feature_p_values.shape == (5,)


def test_unit_statistics_are_pearson_chi_square():
    """A levels unit (and a missingness unit) is Pearson's chi-square test."""
    rng = np.random.default_rng(6)
    a = pd.DataFrame({"c": rng.choice(list("pqrs"), p=[0.4, 0.3, 0.2, 0.1], size=300)})
    b = pd.DataFrame(
        {"c": rng.choice(list("pqrs"), p=[0.3, 0.3, 0.25, 0.15], size=200)}
    )
    ta, tb = read_table(a), read_table(b)
    enc = TableEncoding.fit(ta, tb)
    X = np.vstack([enc.transform(ta), enc.transform(tb)])
    keep = np.arange(X.shape[1])
    units = table_units(enc, keep)
    assert [u.kind for u in units] == ["levels"]
    Z = (X - X.mean(0)) / X.std(0)
    got = asymptotic_p_values(unit_features(Z, np.ones(500), units), 300, np.ones(500))
    counts = [[np.sum(s.c == lv) for lv in "pqrs"] for s in (a, b)]
    want = stats.chi2_contingency(counts, correction=False)[1]
    assert_allclose(got, [want], rtol=1e-9)


# -- the detector's calls ------------------------------------------------------------


def test_partial_fit_and_weights_on_tables():
    rng = np.random.default_rng(7)
    a, b = table(150, rng), table(150, rng, hole_rate=0.3)
    whole = det().fit(a).test(b)
    parts = det().partial_fit(a.iloc[:60]).partial_fit(a.iloc[60:]).test(b)
    assert parts.p_value == whole.p_value
    assert_array_equal(parts.feature_p_values, whole.feature_p_values)
    weighted = det().fit(a, sample_weight=np.full(150, 3.0)).test(b)
    assert weighted.p_value == whole.p_value
    assert_allclose(weighted.effect, whole.effect, rtol=1e-10)


def test_scan_a_table_stream():
    rng = np.random.default_rng(8)
    stream = pd.concat(
        [table(200, rng), table(200, rng, hole_rate=0.6)], ignore_index=True
    )
    out = det().fit(table(300, rng)).scan(stream, window=100)
    assert [r.is_drift for r in out][2:] == [True, True]
    assert all(r.encoded is not None for r in out)
    prev = det().fit(table(300, rng)).scan(stream, window=200, reference="previous")
    assert len(prev) == 1 and prev[0].is_drift


def test_an_array_reference_and_a_frame_with_missing_cells():
    rng = np.random.default_rng(9)
    X = rng.normal(size=(200, 2))
    cur = pd.DataFrame(rng.normal(size=(200, 2)))
    cur.iloc[:60, 1] = np.nan
    res = det().fit(X).test(cur)
    assert res.feature_names is None and res.is_drift
    assert int(np.argmin(res.feature_p_values)) == 1
    assert list(res.encoded.names) == ["x0", "x1", "x1 (missing)"]


def test_statistics_other_than_combined_keep_the_engines_answer():
    rng = np.random.default_rng(10)
    a, b = table(200, rng), table(200, rng)
    res = det(statistic="mean").fit(a).test(b)
    assert res.statistic_name == "mean" and res.feature_p_values.shape == (5,)


def test_constant_columns_and_untested_notes():
    a = pd.DataFrame({"c": ["a"] * 50, "x": [1.0] * 50, "y": np.arange(50.0)})
    b = pd.DataFrame({"c": ["a"] * 40, "x": [1.0] * 40, "y": np.arange(40.0)})
    res = quiet(det().fit(a).test, b)
    assert res.dropped_features == (0, 1)
    assert any("'c' was not tested" in n for n in res.notes)
    assert res.feature_p_values[0] == res.feature_p_values[1] == 1.0
    every = quiet(det().fit(a[["c", "x"]]).test, b[["c", "x"]])
    assert every.p_value == 1.0 and every.method == "none"
    assert every.feature_scores.shape == (2,)


def test_bad_tables_name_the_argument_and_column():
    rng = np.random.default_rng(11)
    detector = det().fit(table(50, rng))
    bad = table(50, rng)
    bad["x"] = bad["x"].astype(object)
    bad.loc[3, "x"] = "oops"
    with pytest.raises(ValueError, match=r"column 'x' of X holds 'oops' in row 3"):
        detector.test(bad)
    with pytest.raises(ValueError, match="X has 4 features"):
        detector.test(table(50, rng).iloc[:, :4])
    stream = table(50, rng)
    stream["y"] = pd.to_datetime("2020-01-01")
    with pytest.raises(ValueError, match="column 'y' of X_stream holds datetime"):
        detector.scan(stream, window=25)
    with pytest.raises(ValueError, match="X_ref has 1 row"):
        det().fit(table(1, rng))


# -- dask ----------------------------------------------------------------------------


def test_dask_tables_answer_as_in_memory(client):
    dd = pytest.importorskip("dask.dataframe", exc_type=ImportError)
    rng = np.random.default_rng(12)
    a, b = table(6000, rng), table(6000, rng, hole_rate=0.13)
    want = det(method="asymptotic").fit(a).test(b)
    fitted = det().fit(dd.from_pandas(a, npartitions=4))
    assert fitted.reference_ is None and fitted.n_ref_ == 6000
    for X in (dd.from_pandas(b, npartitions=3), b):
        got = fitted.test(X)
        assert got.method == "asymptotic"
        assert_allclose(got.p_value, want.p_value, rtol=1e-8)
        assert_allclose(got.feature_p_values, want.feature_p_values, rtol=1e-8)
        # Column effects near 0 are differences of U-statistic terms of order
        # 1: rounding of sums over 6000 rows leaves ~1e-12 absolute.
        assert_allclose(got.feature_scores, want.feature_scores, rtol=1e-8, atol=1e-9)
        assert_allclose(got.current_missing_rate, want.current_missing_rate)
    got = det().fit(a).test(dd.from_pandas(b, npartitions=3))
    assert_allclose(got.p_value, want.p_value, rtol=1e-8)


def test_dask_reference_names_levels_it_cannot_encode(client):
    """A dask reference is encoded alone: a new level reads as (other) or the
    baseline, and the result still names it."""
    dd = pytest.importorskip("dask.dataframe", exc_type=ImportError)
    rng = np.random.default_rng(13)
    a, b = table(6000, rng), table(6000, rng)
    b["code"] = b["code"].where(rng.random(6000) > 0.05, "NEW")
    fitted = det().fit(dd.from_pandas(a, npartitions=3))
    res = fitted.test(dd.from_pandas(b, npartitions=2))
    assert res.new_levels == {"code": ("NEW",)} and res.is_drift
    assert "code=NEW" not in list(res.encoded.names)
    pooled = det().fit(a).test(dd.from_pandas(b, npartitions=2))
    assert "code=NEW" in list(pooled.encoded.names) and pooled.is_drift


# -- the class-Gaussian estimators keep refusing text ----------------------------------


@pytest.mark.parametrize(
    "call",
    ["GroupGaussians", "separability_score", "gaussian_divergence_score",
     "bayes_error_bounds"],
)  # fmt: skip
def test_class_gaussians_refuse_text_and_point_to_one_hot(call):
    import skkl

    rng = np.random.default_rng(14)
    X = pd.DataFrame({"x": rng.normal(size=40), "c": rng.choice(["a", "b"], 40)})
    y = np.repeat([0, 1], 20)
    group = call == "GroupGaussians"
    func = skkl.GroupGaussians().fit if group else getattr(skkl, call)
    with pytest.raises(
        ValueError,
        match=r"X has non-numeric column\(s\) 'c' \((object|str)\).*OneHotEncoder",
    ):
        func(X, y)
    if group:  # fitted on numbers, then given text
        fitted = skkl.GroupGaussians().fit(X[["x"]].assign(c=rng.normal(size=40)), y)
        with pytest.raises(ValueError, match="non-numeric column.*OneHotEncoder"):
            fitted.transform(X)
