"""dask input: blockwise fits equal the in-memory ones; transform stays lazy."""

import numpy as np
import pytest
from _builders import class_data
from _fits import RTOL, assert_same_fit
from numpy.testing import assert_allclose, assert_array_equal

from skkl import (
    GroupGaussians,
    _dask,
    bayes_error_bounds,
    gaussian_divergence_score,
    separability_score,
)

da = pytest.importorskip("dask.array", exc_type=ImportError)
distributed = pytest.importorskip("distributed", exc_type=ImportError)

# Blocks seen by _produce (the workers are threads of this process; a
# module-level function is pickled by reference into the task graph).
_PRODUCED: list = []


def _produce(block):
    _PRODUCED.append(len(block))
    return block


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"covariance_type": "diag"},
        {"covariance_type": "tied", "shrinkage": "oas"},
        {"covariance_type": "spherical"},
        {"shrinkage": "ledoit_wolf"},
    ],
    ids=repr,
)
def test_fit_on_dask_array_equals_numpy(client, params):
    X, y = class_data(900, offset=5.0)
    w = np.random.default_rng(1).uniform(0.0, 2.0, size=len(y))
    ref = GroupGaussians(**params).fit(X, y, sample_weight=w)
    Xd = da.from_array(X, chunks=(130, -1))
    got = GroupGaussians(**params).fit(
        Xd, da.from_array(y, chunks=200), sample_weight=da.from_array(w, chunks=77)
    )
    assert_same_fit(ref, got)
    assert got.n_features_in_ == 4 and not hasattr(got, "feature_names_in_")


def test_fit_reduces_block_by_block(client, monkeypatch):
    # Every block is reduced where it lives: group_moments never sees more
    # rows than one chunk, so X is never gathered.
    seen = []
    real = _dask._group_moments

    def spy(X, *args, **kwargs):
        seen.append(X.shape[0])
        return real(X, *args, **kwargs)

    monkeypatch.setattr(_dask, "_group_moments", spy)
    X, y = class_data(n=1000, offset=5.0)
    GroupGaussians().fit(da.from_array(X, chunks=(100, 4)), y)
    assert len(seen) == 10 and max(seen) == 100


def test_partial_fit_with_dask_batches_equals_fit(client):
    X, y = class_data(n=1200, seed=2, offset=5.0)
    ref = GroupGaussians(shrinkage="ledoit_wolf").fit(X, y)
    gg = GroupGaussians(shrinkage="ledoit_wolf")
    gg.partial_fit(da.from_array(X[:500], chunks=(128, 4)), y[:500], classes=[0, 1, 2])
    gg.partial_fit(X[500:700], y[500:700])  # in-memory batches mix in
    gg.partial_fit(da.from_array(X[700:], chunks=(90, 4)), da.from_array(y[700:]))
    assert_same_fit(ref, gg)
    with pytest.raises(ValueError, match=r"labels \[7\] that are not in classes_"):
        gg.partial_fit(da.from_array(X[:10]), da.from_array(np.full(10, 7)))


def test_dask_dataframe_with_categorical_target(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe", exc_type=ImportError)
    from sklearn.datasets import load_wine

    data = load_wine(as_frame=True)
    df = data.frame.copy()
    df["target"] = pd.Categorical.from_codes(
        data.target, ["barolo", "grignolino", "barbera"]
    )
    ddf = dd.from_pandas(df, npartitions=5)
    features = list(data.feature_names)
    ref = GroupGaussians(shrinkage="oas").fit(df[features], df["target"])
    got = GroupGaussians(shrinkage="oas").fit(ddf[features], ddf["target"])
    assert_array_equal(got.classes_, ["barbera", "barolo", "grignolino"])
    assert_array_equal(got.feature_names_in_, features)
    assert_same_fit(ref, got)
    pred = got.predict(ddf[features])
    assert isinstance(pred, da.Array)
    assert_array_equal(pred.compute(), ref.predict(df[features]))
    assert_allclose(
        got.predict_proba(ddf[features]).compute(),
        ref.predict_proba(df[features]),
        rtol=1e-8,
        atol=1e-12,
    )
    # The scores accept the same frame.
    res = separability_score(ddf[features], ddf["target"], shrinkage="oas")
    ref_res = separability_score(df[features], df["target"], shrinkage="oas")
    assert_allclose(res.matrix, ref_res.matrix, rtol=1e-8)
    assert res.hardest_pair == ref_res.hardest_pair
    s, p = gaussian_divergence_score(ddf[features], ddf["target"])
    s0, p0 = gaussian_divergence_score(df[features], df["target"])
    assert_allclose(s, s0, rtol=RTOL)
    assert_allclose(p, p0, rtol=1e-8, atol=1e-300)
    # A numpy y cannot be aligned with partitions of unknown length.
    with pytest.raises(ValueError, match="unknown block lengths"):
        GroupGaussians().fit(ddf[features], data.target.to_numpy())


def test_transform_is_lazy_and_blockwise(client):
    X, y = class_data(n=600, seed=3, offset=5.0)
    gg = GroupGaussians(transform_kind="proba").fit(X, y)
    calls = _PRODUCED
    Xd = da.from_array(X, chunks=(150, 4)).map_blocks(_produce, dtype=float)
    calls.clear()  # dask may call produce on an empty block to infer its type
    out = gg.transform(Xd)
    assert isinstance(out, da.Array)
    assert out.shape == (600, 3) and out.chunks == ((150,) * 4, (3,))
    assert calls == []  # nothing computed yet
    assert_allclose(out.compute(), gg.transform(X), rtol=1e-12, atol=1e-300)
    assert sorted(calls) == [150] * 4


def test_scores_on_dask_array_equal_numpy(client):
    X, y = class_data(n=800, d=3, seed=4, offset=5.0)
    Xd, yd = da.from_array(X, chunks=(110, 3)), da.from_array(y, chunks=110)
    for kind in ("bhattacharyya", "kl"):
        got = separability_score(Xd, yd, kind=kind, aggregate="mean")
        ref = separability_score(X, y, kind=kind, aggregate="mean")
        assert_allclose(got.matrix, ref.matrix, rtol=1e-9)
    assert_allclose(bayes_error_bounds(Xd, yd), bayes_error_bounds(X, y), rtol=1e-8)
    X[:, 1] = 2.5  # a constant feature is found from the blockwise min/max
    with pytest.warns(UserWarning, match=r"Features \[1\] are constant"):
        s, p = gaussian_divergence_score(da.from_array(X, chunks=(110, 3)), yd)
    with pytest.warns(UserWarning, match=r"Features \[1\] are constant"):
        s0, p0 = gaussian_divergence_score(X, y)
    assert_allclose(s, s0, rtol=RTOL)
    assert s[1] == 0 and p[1] == 1


def test_dask_input_errors(client):
    X, y = class_data(n=200, seed=5, offset=5.0)
    with pytest.raises(ValueError, match=r"chunked along its features.*rechunk"):
        GroupGaussians().fit(da.from_array(X, chunks=(50, 2)), y)
    Xd = da.from_array(X, chunks=(50, 4))
    mixed = np.array(["a", 1] * 100, dtype=object)
    with pytest.raises(TypeError, match="y mixes string and non-string labels"):
        GroupGaussians().fit(Xd, da.from_array(mixed, chunks=50))
    # Blocks that are each consistent but mix strings and numbers together
    # are not silently stringified by the union of their labels.
    with pytest.raises(TypeError, match="mixes string and non-string labels across"):
        _dask._union_labels(np.array(["a", "b"]), np.array([1, 2]))
    assert_array_equal(_dask._union_labels(np.array([3, 1]), np.array([2])), [1, 2, 3])
    with pytest.raises(ValueError, match="Unknown label type"):
        GroupGaussians().fit(Xd, da.from_array(X[:, 0], chunks=50))
    with pytest.raises(TypeError, match="clusterer needs X in one process"):
        from sklearn.cluster import KMeans

        GroupGaussians(clusterer=KMeans(2)).fit(Xd)
    with pytest.raises(ValueError, match="y has 150 rows but X has 200"):
        GroupGaussians().fit(Xd, y[:150])
    bad = X.copy()
    bad[123, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        GroupGaussians().fit(da.from_array(bad, chunks=(50, 4)), y)
    gg = GroupGaussians().fit(Xd, y)
    with pytest.raises(ValueError, match="X has 2 features"):
        gg.transform(da.from_array(X[:, :2], chunks=(50, 2)))


def test_reduce_blocks_generic_helper(client):
    # The helper other engines use: any per-block summary with any merge.
    X, y = class_data(n=500, seed=6, offset=5.0)
    Xd = da.from_array(X, chunks=(64, 4))
    w = np.random.default_rng(7).uniform(size=500)

    def block_sums(Xb, wb):
        return np.concatenate([[wb.sum(), len(Xb)], wb @ Xb])

    total = _dask.reduce_blocks(
        block_sums, np.add, Xd, da.from_array(w, chunks=100), split_every=3
    )
    assert_allclose(total, np.concatenate([[w.sum(), 500], w @ X]), rtol=1e-12)
    lazy = _dask.reduce_blocks(block_sums, np.add, Xd, w, compute=False)
    assert hasattr(lazy, "compute")
    assert_allclose(lazy.compute(), total, rtol=1e-12)
    with pytest.raises(ValueError, match="split_every"):
        _dask.reduce_blocks(block_sums, np.add, Xd, w, split_every=1)


def test_numpy_path_does_not_import_dask():
    import subprocess
    import sys

    code = (
        "import sys, numpy as np; from skkl import GroupGaussians;"
        "GroupGaussians().fit(np.eye(3).repeat(3, 0), [0, 1, 2] * 3);"
        "print('dask' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_unique_labels_blockwise_matches_numpy(client):
    rng = np.random.default_rng(8)
    for y in (
        rng.integers(-5, 4, size=300),  # small integer range: bincount path
        rng.integers(0, 10**9, size=300),  # wide range: sort path
        rng.choice(["b", "a", "c"], size=300),
    ):
        assert_array_equal(
            _dask.unique_labels(da.from_array(y, chunks=70)), np.unique(y)
        )
