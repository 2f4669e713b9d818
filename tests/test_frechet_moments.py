"""Tests for skkl.FeatureMoments: streaming, merging, files, dask, precision."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits

from skkl import FeatureMoments, frechet_distance, frechet_distance_from_moments


def _exact_covariance(X16: np.ndarray) -> np.ndarray:
    """ddof=1 covariance of integer rows, in exact rational arithmetic.

    ``X16`` holds integers (features times 16, exact for the float32 data
    below); the result is converted back to the data's units.
    """
    rows = [[int(v) for v in row] for row in X16]
    n, d = len(rows), len(rows[0])
    sums = [sum(r[j] for r in rows) for j in range(d)]
    out = np.empty((d, d))
    for i in range(d):
        for j in range(i, d):
            cross = sum(r[i] * r[j] for r in rows)
            value = Fraction(n * cross - sums[i] * sums[j], 256 * n * (n - 1))
            out[i, j] = out[j, i] = float(value)
    return out


def _offset_features(rng, n, d, offset):
    """float32 features of spread ~1 on a large offset, multiples of 1/16."""
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.3 * rng.normal(size=(d, d)))
    return (np.round((X + offset) * 16) / 16).astype(np.float32)


# -- precision -------------------------------------------------------------------


def test_streamed_covariance_keeps_float64_digits_under_a_large_offset():
    # Exact reference: the features are multiples of 1/16, so integer
    # arithmetic gives the covariance exactly. Raw sums (sum x, sum x x', as
    # torchmetrics accumulates) lose ~2 log10(offset / spread) digits.
    rng = np.random.default_rng(0)
    X = _offset_features(rng, 600, 5, offset=1e5)
    exact = _exact_covariance((X.astype(np.float64) * 16).astype(np.int64))
    mom = FeatureMoments()
    for batch in np.array_split(X, 13):
        mom.update(batch)
    scale = np.abs(exact).max()
    # Chan's update adds positive semi-definite terms only: a few ulps.
    assert np.abs(mom.covariance - exact).max() <= 1e-13 * scale
    X64 = X.astype(np.float64)
    s1, s2 = X64.sum(0), X64.T @ X64
    raw = (s2 - np.outer(s1, s1) / len(X)) / (len(X) - 1)
    assert np.abs(raw - exact).max() >= 1e-8 * scale  # >= 7 digits lost
    assert_allclose(mom.mean, X64.mean(0), rtol=1e-15)


def test_merge_of_any_split_equals_one_pass():
    rng = np.random.default_rng(1)
    X = _offset_features(rng, 400, 4, offset=1e4)
    whole = FeatureMoments().update(X)
    for cut in (1, 2, 57, 200, 398):
        a = FeatureMoments().update(X[:cut])
        b = FeatureMoments().update(X[cut:])
        for merged in (a.merge(b), b.merge(a)):
            assert merged.n_samples == 400
            assert_allclose(merged.covariance, whole.covariance, rtol=1e-13, atol=0)
            assert_allclose(merged.mean, whole.mean, rtol=1e-15)
    # the operands are not modified
    assert a.n_samples == 398 and b.n_samples == 2


@given(
    cuts=st.lists(st.integers(1, 99), min_size=1, max_size=5, unique=True),
    scale=st.sampled_from([1e-150, 1e-3, 1.0, 1e4, 1e150]),
    seed=st.integers(0, 2**16),
)
def test_hypothesis_streaming_and_merging_match_numpy(cuts, scale, seed):
    rng = np.random.default_rng(seed)
    X = scale * (rng.normal(size=(100, 3)) + rng.normal(size=3) * 10)
    parts = np.split(X, sorted(cuts))
    streamed = FeatureMoments()
    for part in parts:
        streamed.update(part)
    merged = FeatureMoments()
    for part in parts:
        merged = merged.merge(FeatureMoments().update(part))
    expected = np.cov(X, rowvar=False)
    for mom in (streamed, merged):
        # both sides of the comparison are accurate to ~1e-14 of the largest
        # variance; the data have no offset beyond 10 spreads
        assert_allclose(mom.covariance, expected, rtol=0, atol=1e-12 * expected.max())
        assert_allclose(mom.mean, X.mean(0), rtol=1e-13, atol=1e-13 * scale)


def test_powers_of_two_scale_exactly():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 4)) + 3.0
    base = FeatureMoments().update(X)
    for k in (-600, -300, 300, 500):
        mom = FeatureMoments().update(np.ldexp(X, k))
        assert_array_equal(mom.mean, np.ldexp(base.mean, k))
        if abs(2 * k) < 1000:
            assert_array_equal(mom.covariance, np.ldexp(base.covariance, 2 * k))
        Y = np.ldexp(X[::-1] * 1.5, k)
        expected = np.ldexp(frechet_distance(X, X[::-1] * 1.5), 2 * k)
        if np.isfinite(expected) and expected > np.finfo(float).tiny:
            assert frechet_distance(mom, Y) == pytest.approx(expected, rel=1e-13)


def test_float32_input_and_memmap_are_read_in_chunks(tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(5000, 6)).astype(np.float32) + 100
    path = tmp_path / "x.npy"
    np.save(path, X)
    mapped = np.load(path, mmap_mode="r")
    mom = FeatureMoments().update(mapped)
    assert_allclose(
        mom.covariance, np.cov(X.astype(np.float64), rowvar=False), rtol=1e-12
    )
    assert not X.flags.writeable or np.array_equal(X, np.load(path))


def test_digits_constant_pixels_and_integers():
    X, _ = load_digits(return_X_y=True)
    mom = FeatureMoments().update(X[:900]).merge(FeatureMoments().update(X[900:]))
    assert_allclose(mom.covariance, np.cov(X, rowvar=False), rtol=0, atol=1e-12)
    assert np.all(mom.covariance[0] == 0)  # pixel 0 is constant: exactly 0
    ints = FeatureMoments().update(X.astype(np.int64))
    assert_allclose(ints.covariance, mom.covariance, rtol=0, atol=1e-12)


# -- files and statistics -----------------------------------------------------------


def test_save_and_load_round_trip_with_pytorch_fid_keys(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 5))
    mom = FeatureMoments().update(X)
    path = tmp_path / "stats.npz"
    mom.save(path)
    with np.load(path, allow_pickle=False) as f:
        assert sorted(f.files) == ["format", "mu", "n_samples", "sigma"]
        assert_array_equal(f["mu"], mom.mean)
        assert_array_equal(f["sigma"], mom.covariance)
    back = FeatureMoments.load(path)
    assert back.n_samples == 200
    assert_allclose(back.covariance, mom.covariance, rtol=1e-15)
    more = rng.normal(size=(50, 5))
    assert_allclose(
        back.merge(FeatureMoments().update(more)).covariance,
        np.cov(np.vstack([X, more]), rowvar=False),
        rtol=1e-13,
    )


def test_pytorch_fid_statistics_are_compared_but_not_updated(tmp_path):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    path = tmp_path / "pf.npz"
    # pytorch-fid's save_fid_stats: mu of the float32 activations, np.cov
    np.savez_compressed(path, mu=np.mean(X, axis=0), sigma=np.cov(X, rowvar=False))
    stats = FeatureMoments.load(path)
    assert stats.n_samples is None
    Y = rng.normal(size=(200, 4)) + 0.3
    expected = frechet_distance_from_moments(
        np.mean(X, axis=0), np.cov(X, rowvar=False), Y.mean(0), np.cov(Y, rowvar=False)
    )
    assert frechet_distance(stats, Y) == pytest.approx(expected, rel=1e-12)
    for call in (lambda: stats.update(Y), lambda: stats.merge(stats)):
        with pytest.raises(ValueError, match="without a sample count"):
            call()
    with pytest.raises(ValueError, match="unbiased_mean_term needs the number"):
        frechet_distance(stats, Y, unbiased_mean_term=True)


@pytest.mark.parametrize(
    "arrays, match",
    [
        ({"mu": np.zeros(3)}, "need arrays 'mu' and 'sigma'"),
        ({"mu": np.zeros(3), "sigma": np.eye(2)}, r"must have shape \(3, 3\)"),
        ({"mu": np.zeros(2), "sigma": -np.eye(2)}, "negative variance"),
        ({"mu": np.zeros(2), "sigma": np.eye(2), "n_samples": 1.5}, "one integer"),
        ({"mu": np.zeros(2), "sigma": np.eye(2), "n_samples": 1}, "at least 2"),
    ],
)
def test_bad_statistics_files_name_the_file(tmp_path, arrays, match):
    path = tmp_path / "bad.npz"
    np.savez(path, **arrays)
    with pytest.raises(ValueError, match=match) as info:
        FeatureMoments.load(path)
    assert "bad.npz" in str(info.value)


def test_unreadable_file(tmp_path):
    path = tmp_path / "junk.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="junk.npz: not a readable .npz"):
        FeatureMoments.load(path)
    # a damaged member is found only when it is read (bad CRC, zlib error)
    FeatureMoments().update(np.arange(40.0).reshape(10, 4) ** 1.5).save(path)
    data = bytearray(path.read_bytes())
    data[200:216] = b"\x00" * 16
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="junk.npz: not a readable .npz"):
        FeatureMoments.load(path)


def test_save_refuses_a_covariance_beyond_float64(tmp_path):
    mom = FeatureMoments().update(np.random.default_rng(6).normal(size=(20, 2)) * 1e200)
    with pytest.raises(ValueError, match="overflows float64"):
        mom.save(tmp_path / "x.npz")


# -- errors and edge cases ------------------------------------------------------------


def test_errors_name_the_argument_and_the_row():
    X = np.ones((10, 3)) + np.arange(30).reshape(10, 3) ** 1.2
    bad = X.copy()
    bad[7, 2] = np.inf
    with pytest.raises(ValueError, match=r"X contains NaN or infinity .*\(7, 2\)"):
        FeatureMoments().update(bad)
    mom = FeatureMoments().update(X)
    with pytest.raises(ValueError, match="X has 2 features but these moments have 3"):
        mom.update(X[:, :2])
    with pytest.raises(ValueError, match="other has 2 features"):
        mom.merge(FeatureMoments().update(X[:, :2]))
    with pytest.raises(TypeError, match="must be a FeatureMoments"):
        mom.merge(X)
    with pytest.raises(ValueError, match="hold 0 row"):
        FeatureMoments().mean  # noqa: B018
    with pytest.raises(ValueError, match="hold 1 row"):
        FeatureMoments().update(X[:1]).covariance  # noqa: B018
    with pytest.raises(TypeError, match="is complex"):
        FeatureMoments().update(X + 1j)
    before = X.copy()
    FeatureMoments().update(X)
    assert_array_equal(X, before)


def test_empty_batches_and_empty_merges():
    X = np.random.default_rng(7).normal(size=(20, 2))
    mom = FeatureMoments().update(X[:0]).update(X)
    assert mom.n_samples == 20 and mom.n_features == 2
    assert FeatureMoments().merge(mom).n_samples == 20
    assert mom.merge(FeatureMoments()).n_samples == 20
    assert repr(mom) == "FeatureMoments(n_samples=20, n_features=2)"


# -- dask --------------------------------------------------------------------------


def test_dask_blocks_are_reduced_and_merged(client):
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(8)
    X = rng.normal(size=(3000, 5)) + 1e4
    dX = da.from_array(X, chunks=(700, 5))
    mom = FeatureMoments.from_features(dX)
    assert mom.n_samples == 3000
    assert_allclose(mom.covariance, np.cov(X, rowvar=False), rtol=1e-12)
    assert_allclose(mom.mean, X.mean(0), rtol=1e-14)  # a few ulps of 1e4
