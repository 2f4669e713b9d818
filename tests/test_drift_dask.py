"""GaussianDriftDetector on dask input: the streaming engine from blockwise sums."""

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal

from skkl import GaussianDriftDetector
from skkl.drift import _dask_input

da = pytest.importorskip("dask.array", exc_type=ImportError)
distributed = pytest.importorskip("distributed", exc_type=ImportError)

# The in-memory engine computes the reference's centre and scale in one pass,
# the dask one merges per-block summaries (Chan updates): they differ by a few
# eps, and the Wald statistics are invariant to per-feature affine maps, so the
# statistics agree to rounding amplified by the conditioning of the q x q
# moment covariance (q = 20 here, well conditioned): 1e-10 leaves margin.
RTOL = 1e-10
N, D, CHUNK = 20000, 5, 2500


def _samples(shift=0.0, seed=0, n=N, d=D):
    rng = np.random.default_rng(seed)
    A = rng.normal(size=(d, d))
    Xr = rng.normal(size=(n, d)) @ A + 3.0
    Xn = rng.normal(size=(n, d)) @ A + 3.0
    Xn[:, 0] += shift * np.std(Xr[:, 0])
    return Xr, Xn


def _dask(X, chunk=CHUNK):
    return da.from_array(X, chunks=(chunk, -1))


def _sym_kl(m1, C1, m2, C2):
    """Closed-form symmetric KL between two Gaussians (explicit inverses)."""
    P1, P2 = np.linalg.inv(C1), np.linalg.inv(C2)
    dm = m1 - m2
    d = m1.size
    return 0.25 * (np.trace(P2 @ C1) + np.trace(P1 @ C2) - 2 * d + dm @ (P1 + P2) @ dm)


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("shift", [0.0, 0.04])
def test_dask_equals_numpy_asymptotic(client, covariance_type, shift):
    Xr, Xn = _samples(shift)
    kw = dict(method="asymptotic", covariance_type=covariance_type, random_state=0)
    ref = GaussianDriftDetector(**kw).fit(Xr).test(Xn)
    det = GaussianDriftDetector(**kw).fit(_dask(Xr))
    assert det.reference_ is None and det.n_ref_ == N and det.n_features_in_ == D
    got = det.test(_dask(Xn))
    assert got.method == ref.method == "asymptotic"
    assert_allclose(got.statistic, ref.statistic, rtol=RTOL)
    assert_allclose(got.p_value, ref.p_value, rtol=RTOL)
    assert_allclose(got.critical_value, ref.critical_value, rtol=RTOL)
    assert_allclose(got.feature_p_values, ref.feature_p_values, rtol=RTOL)
    assert got.is_drift == ref.is_drift
    assert (got.n_ref, got.n) == (ref.n_ref, ref.n)
    # An in-memory sample against the dask-fitted sums, and a dask sample
    # against an in-memory reference: the same numbers.
    for other in (det.test(Xn), GaussianDriftDetector(**kw).fit(Xr).test(_dask(Xn))):
        assert_allclose(other.statistic, ref.statistic, rtol=RTOL)
        assert_allclose(other.effect, got.effect, rtol=1e-9, atol=1e-13)
    # One definition of the effect: the permutation engine on the rows gives
    # the same value (to rounding) and a null spread the analytic one from the
    # sums matches within its own sampling error.
    perm = GaussianDriftDetector(
        method="permutation", covariance_type=covariance_type, random_state=0
    )
    perm = perm.fit(Xr).test(Xn)
    assert abs(got.effect - perm.effect) < 0.25 * perm.effect_null_sd
    assert_allclose(got.feature_scores, perm.feature_scores, rtol=1e-8, atol=1e-12)
    assert_allclose(got.effect_null_sd, perm.effect_null_sd, rtol=0.2)
    if shift:
        assert got.is_drift and np.argmin(got.feature_p_values) == 0
        assert np.argmax(got.feature_scores) == 0
    else:
        assert not got.is_drift


def test_sample_weight_equals_numpy(client):
    Xr, Xn = _samples(0.03, seed=1)
    w = np.random.default_rng(2).uniform(0.0, 2.0, size=N)
    kw = dict(method="asymptotic", random_state=0)
    ref = GaussianDriftDetector(**kw).fit(Xr, sample_weight=w).test(Xn)
    got = (
        GaussianDriftDetector(**kw)
        .fit(_dask(Xr), sample_weight=da.from_array(w, chunks=3000))
        .test(_dask(Xn))
    )
    assert_allclose(got.statistic, ref.statistic, rtol=RTOL)
    assert_allclose(got.p_value, ref.p_value, rtol=RTOL)
    assert_allclose(got.feature_p_values, ref.feature_p_values, rtol=RTOL)


def test_dask_dataframe_with_names_and_constant_column(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe", exc_type=ImportError)
    Xr, Xn = _samples(0.0, seed=3)
    Xn[:, 1] += 0.1 * Xr[:, 1].std()
    cols = ["a", "b", "c", "d", "e"]
    ref_df = pd.DataFrame(Xr, columns=cols).assign(const=1.5)
    new_df = pd.DataFrame(Xn, columns=cols).assign(const=1.5)
    det = GaussianDriftDetector().fit(dd.from_pandas(ref_df, npartitions=7))
    assert_array_equal(det.feature_names_in_, [*cols, "const"])
    with pytest.warns(UserWarning, match=r"feature 5 \('const'\).*constant"):
        got = det.test(dd.from_pandas(new_df, npartitions=5))
    assert got.is_drift and got.method == "asymptotic"
    assert got.dropped_features == (5,)
    assert got.feature_names[np.argmin(got.feature_p_values)] == "b"
    assert got.feature_p_values[5] == 1.0 and got.feature_scores[5] == 0.0
    with pytest.warns(UserWarning, match="constant"):
        ref = GaussianDriftDetector(method="asymptotic").fit(ref_df).test(new_df)
    assert_allclose(got.statistic, ref.statistic, rtol=RTOL)
    assert_allclose(got.feature_p_values, ref.feature_p_values, rtol=RTOL)
    with pytest.raises(ValueError, match="feature names"):
        det.test(dd.from_pandas(new_df[["b", "a", "c", "d", "e", "const"]], 2))


def test_constant_feature_that_moved_is_drift(client):
    Xr, Xn = _samples(0.0, seed=4)
    Xr[:, 2], Xn[:, 2] = 1.0, 2.0
    got = GaussianDriftDetector().fit(_dask(Xr)).test(_dask(Xn))
    assert got.is_drift and got.p_value == 0.0
    assert np.argmin(got.feature_p_values) == 2
    assert any("changed from 1 to 2" in note for note in got.notes)
    ref = GaussianDriftDetector(method="asymptotic").fit(Xr).test(Xn)
    assert ref.p_value == 0.0
    assert_array_equal(got.feature_p_values, ref.feature_p_values)


def test_no_block_is_gathered(client, monkeypatch):
    seen = []
    check = _dask_input._check_block

    def spy(Xb, wb, n_features):
        seen.append(len(Xb))
        return check(Xb, wb, n_features)

    monkeypatch.setattr(_dask_input, "_check_block", spy)
    Xr, Xn = _samples(0.0, seed=5)
    det = GaussianDriftDetector().fit(_dask(Xr))
    det.test(_dask(Xn))
    # Two passes over each sample, every block seen alone.
    assert max(seen) == CHUNK
    assert len(seen) == 4 * (N // CHUNK)
    assert det.reference_ is None


def test_errors(client):
    Xr, Xn = _samples(0.0, seed=6)
    for method in ("permutation", "gram"):
        with pytest.raises(ValueError, match=rf"method='{method}'.*rows in memory"):
            GaussianDriftDetector(method=method).fit(_dask(Xr))
        with pytest.raises(ValueError, match=rf"method='{method}'.*rows in memory"):
            GaussianDriftDetector(method=method).fit(Xr[:500]).test(_dask(Xn))
    with pytest.raises(ValueError, match="shrinkage"):
        GaussianDriftDetector(shrinkage="oas").fit(_dask(Xr))
    det = GaussianDriftDetector().fit(_dask(Xr))
    with pytest.raises(TypeError, match="partial_fit.*dask.*fit once"):
        GaussianDriftDetector().partial_fit(_dask(Xr))
    with pytest.raises(ValueError, match="moment sums, not rows"):
        det.partial_fit(Xr)
    with pytest.raises(ValueError, match="scan needs"):
        det.scan(Xn, window=1000)
    with pytest.raises(ValueError, match="chunked along its features"):
        det.test(da.from_array(Xn, chunks=(CHUNK, 2)))
    with pytest.raises(ValueError, match="covariance_type='full'"):
        det.set_params(covariance_type="diag").test(_dask(Xn))
    # Too few rows for q = 65 moment parameters: no silent miscalibration and
    # no permutation fallback without the rows.
    small_r, small_n = _samples(0.0, seed=7, n=200, d=10)
    det = GaussianDriftDetector().fit(_dask(small_r, 50))
    with pytest.raises(ValueError, match="no drift engine can test.*200 rows for q=65"):
        det.test(_dask(small_n, 50))


def test_feature_constant_in_reference_only(client):
    # Scaled by the new sample's spread: the dask detector rescales its stored
    # sums exactly. The plug-in effect dominates its bias here, so both
    # engines' effects agree closely.
    rng = np.random.default_rng(8)
    Xr, Xn = rng.normal(size=(N, 4)), rng.normal(size=(N, 4))
    Xr[:, 2], Xn[:, 2] = 0.7, 0.7 + (rng.random(N) < 0.3) * 0.5
    ref = GaussianDriftDetector(method="asymptotic").fit(Xr).test(Xn)
    got = GaussianDriftDetector().fit(_dask(Xr)).test(_dask(Xn))
    assert got.is_drift and ref.is_drift and got.dropped_features == ()
    assert_allclose(got.feature_p_values, ref.feature_p_values, rtol=RTOL)
    assert_allclose(got.effect, ref.effect, rtol=1e-6)
    assert_allclose(got.feature_scores[2], ref.feature_scores[2], rtol=1e-6)
