"""dask fit in one pass: each task produces and reduces one (X, y) block pair.

The reference is always the in-memory fit on the same rows (numpy path,
another code path for the classes: one ``np.unique`` over all of y).
"""

import pickle

import numpy as np
import pytest
from _builders import class_data
from _fits import assert_same_fit
from numpy.testing import assert_allclose, assert_array_equal

from skkl import GroupGaussians, _dask
from skkl._errors import InputError

da = pytest.importorskip("dask.array", exc_type=ImportError)

# y blocks produced, by the workers (threads of this process).
_LABEL_BLOCKS: list = []


def _count_labels(block):
    _LABEL_BLOCKS.append(len(block))
    return block


def _uneven(n, seed):
    """Row chunks of very different lengths (1 row up to a third of n)."""
    rng = np.random.default_rng(seed)
    cuts = np.sort(rng.choice(np.arange(2, n - 1), size=6, replace=False))
    cuts = np.unique(np.concatenate([[1], cuts]))  # a single-row first chunk
    return tuple(np.diff(np.concatenate([[0], cuts, [n]])).tolist())


def _cases():
    X, y = class_data(600, K=4, seed=11, offset=5.0)
    w = np.random.default_rng(12).uniform(0.0, 3.0, size=len(y))
    names = np.array(["setosa", "versicolor", "virginica", "zeta"])
    # Class 3 only in the last 100 rows: every other chunk misses it.
    y_missing = np.where(np.arange(600) >= 500, 3, y % 3)
    return {
        "uneven": (X, y, None, _uneven(600, 1)),
        "missing_class": (X, y_missing, None, (250, 250, 100)),
        "strings": (X, names[y], None, (100, 1, 299, 200)),
        "weights": (X, y, w, (7, 193, 400)),
        "single_row_chunks": (X[:40], y[:40], None, (1,) * 40),
    }


@pytest.mark.parametrize("case", list(_cases()))
def test_one_pass_fit_equals_in_memory(client, case):
    X, y, w, chunks = _cases()[case]
    ref = GroupGaussians().fit(X, y, sample_weight=w)
    Xd = da.from_array(X, chunks=(chunks, -1))
    yd = da.from_array(y, chunks=(chunks,))
    wd = None if w is None else da.from_array(w, chunks=(chunks,))
    assert_same_fit(ref, GroupGaussians().fit(Xd, yd, sample_weight=wd))
    # y and weights in memory next to a dask X are split like X.
    assert_same_fit(ref, GroupGaussians().fit(Xd, y, sample_weight=w))


def test_labels_are_read_once(client):
    # The classes come out of the same pass as the moments: every y block
    # is produced once (the former fit reduced y alone first, then again).
    X, y = class_data(800, seed=3, offset=5.0)
    yd = da.from_array(y, chunks=100).map_blocks(_count_labels, dtype=y.dtype)
    _LABEL_BLOCKS.clear()
    got = GroupGaussians().fit(da.from_array(X, chunks=(100, -1)), yd)
    assert sorted(_LABEL_BLOCKS) == [100] * 8
    assert_same_fit(GroupGaussians().fit(X, y), got)


@pytest.mark.parametrize(("threads", "tasks"), [(2, 9), (1, 5)])
def test_blocks_are_fused_with_their_reduction(monkeypatch, threads, tasks):
    # The graph sent to the scheduler: one task per block (or per group of
    # blocks) that produces the X block and the y block and reduces them,
    # plus the merge tree; no task whose result is a block (it could be
    # moved between workers). The grouping reads the worker threads: fixed
    # here, so the graph does not depend on the machine.
    monkeypatch.setattr(_dask, "_worker_threads", lambda: threads)
    X, y = class_data(1000, seed=4, offset=5.0)
    Xd = da.random.default_rng(0).standard_normal((1000, 4), chunks=(125, 4))
    yd = da.from_array(y, chunks=125).map_blocks(np.abs, dtype=y.dtype)
    lazy = _dask.reduce_blocks(
        lambda Xb, yb: (len(Xb), yb.sum()),
        lambda a, b: (a[0] + b[0], a[1] + b[1]),
        Xd,
        yd,
        compute=False,
    )
    graph = dict(lazy.__dask_graph__())
    # 2 threads: 8 block tasks (8 // UNITS_PER_THREAD // 2 = 1 block each)
    # and one merge of 8 (split_every=8). 1 thread: 4 tasks of 2 blocks
    # and one merge of 4. Nothing else.
    assert len(graph) == tasks
    assert not any(isinstance(k, tuple) and k[0] in (Xd.name, yd.name) for k in graph)
    assert lazy.compute() == (1000, y.sum())


def test_small_blocks_are_reduced_several_per_task(client):
    # 200 blocks of 4 rows on 2 worker threads: grouped so that no task
    # reduces only 4 rows, while UNITS_PER_THREAD tasks per thread remain.
    X, y = class_data(800, seed=5, offset=5.0)
    Xd = da.from_array(X, chunks=(4, -1))
    per_thread = _dask.UNITS_PER_THREAD
    assert _dask._blocks_per_unit(Xd, 200) == 200 // (2 * per_thread)
    assert_same_fit(GroupGaussians().fit(X, y), GroupGaussians().fit(Xd, y))
    # The benchmark's blocks (61 MiB): a few per task on 2 threads, one
    # each on 100.
    big = da.zeros((10**8, 32), chunks=(250_000, 32))
    assert _dask._blocks_per_unit(big, 400, threads=2) == 5
    assert _dask._blocks_per_unit(big, 400, threads=100) == 1


def test_block_summary_is_small_and_holds_no_rows():
    # What a task sends to the merge: K labels and K moments, not X.
    rng = np.random.default_rng(6)
    Xb = rng.normal(size=(20_000, 8))
    yb = rng.integers(0, 5, size=20_000)
    where = _dask.BlockWhere(0, 1, 0)
    out = _dask.block_class_moments(
        Xb, yb, None, where=where, known=None, full=True, higher=True
    )
    assert_array_equal(out.classes, np.arange(5))
    arrays = [out.classes, *(v for v in vars(out.moments).values() if v is not None)]
    assert all(a.base is None or a.base.nbytes < 10_000 for a in arrays)
    K, d = 5, 8
    payload = 8 * K * (d * d + 3 * d + 3)  # scatter, mean, third, weights
    assert len(pickle.dumps(out)) < payload + 2_000 < Xb.nbytes // 100


def test_persisted_x_is_reduced_where_it_lives(client):
    X, y = class_data(500, seed=7, offset=5.0)
    Xd = client.persist(da.from_array(X, chunks=(100, -1)))
    yd = client.persist(da.from_array(y, chunks=100))
    assert_same_fit(GroupGaussians().fit(X, y), GroupGaussians().fit(Xd, yd))


def test_errors_name_the_argument_and_the_block(client):
    X, y = class_data(400, seed=8, offset=5.0)
    bad = X.copy()
    bad[237, 1] = np.nan
    message = r"X contains NaN at row 237 \(in block 2 of 4"
    with pytest.raises(InputError, match=message):
        GroupGaussians().fit(da.from_array(bad, chunks=(100, -1)), y)
    bad[237, 1] = -np.inf
    with pytest.raises(InputError, match="X contains infinity at row 237"):
        GroupGaussians().fit(da.from_array(bad, chunks=(100, -1)), y)
    # y chunked differently from X is rechunked to X's blocks.
    Xd = da.from_array(X, chunks=(100, -1))
    got = GroupGaussians().fit(Xd, da.from_array(y, chunks=(30,)))
    assert_same_fit(GroupGaussians().fit(X, y), got)
    with pytest.raises(ValueError, match="y has 300 rows but X has 400"):
        GroupGaussians().fit(Xd, da.from_array(y[:300], chunks=100))
    # A later partial_fit batch with a label outside classes_.
    gg = GroupGaussians().partial_fit(Xd, y)
    with pytest.raises(ValueError, match=r"labels \[9\] that are not in classes_"):
        gg.partial_fit(Xd, da.from_array(np.where(y == 1, 9, y), chunks=100))


def test_dataframe_partitions_must_match(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe", exc_type=ImportError)
    X, y = class_data(300, seed=9, offset=5.0)
    frame = pd.DataFrame(X, columns=list("abcd")).assign(label=y)
    ddf = dd.from_pandas(frame, npartitions=3)
    ref = GroupGaussians().fit(frame[list("abcd")], frame["label"])
    assert_same_fit(ref, GroupGaussians().fit(ddf[list("abcd")], ddf["label"]))
    other = dd.from_pandas(frame["label"], npartitions=2)
    with pytest.raises(ValueError, match="partition y like X"):
        GroupGaussians().fit(ddf[list("abcd")], other)


def _local_nan_fit(X, y):
    """Fit on a process cluster; the error raised on a worker comes back."""
    try:
        GroupGaussians().fit(da.from_array(X, chunks=(50, -1)), y)
    except InputError as exc:
        return exc
    return None


def test_fit_on_worker_processes():
    """The one-pass fit on 2 worker processes (results and errors pickled)."""
    distributed = pytest.importorskip(
        "distributed", reason="the distributed scheduler is not installed"
    )
    X, y = class_data(300, seed=10, offset=5.0)
    names = np.array(["a", "b", "c"])[y]
    with (
        distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0"
        ) as cluster,
        distributed.Client(cluster),
    ):
        Xd = da.from_array(X, chunks=(50, -1))
        got = GroupGaussians().fit(Xd, da.from_array(names, chunks=50))
        bad = X.copy()
        bad[123, 0] = np.nan
        exc = _local_nan_fit(bad, y)
    assert_same_fit(GroupGaussians().fit(X, names), got)
    assert isinstance(exc, InputError) and exc.argument == "X" and exc.row == 123
    assert "NaN at row 123" in str(exc)


def test_nan_in_rows_of_zero_weight_is_an_error(client):
    # A block whose rows all have zero weight adds nothing to the moments,
    # so its NaN must be found on the rows themselves, as in memory.
    X, y = class_data(1200, seed=11, offset=5.0)
    w = np.ones(len(y))
    w[:600] = 0.0
    X[10, 2] = np.nan
    with pytest.raises(ValueError, match="Input X contains NaN"):
        GroupGaussians().fit(X, y, sample_weight=w)
    message = r"X contains NaN at row 10 \(in block 0 of 4\)"
    with pytest.raises(InputError, match=message):
        GroupGaussians().fit(da.from_array(X, chunks=(300, -1)), y, sample_weight=w)
    X[10, 2] = np.inf
    with pytest.raises(InputError, match="X contains infinity at row 10"):
        GroupGaussians().fit(da.from_array(X, chunks=(300, -1)), y, sample_weight=w)
    # Zero weights next to finite rows are still fine.
    X[10, 2] = 0.0
    ref = GroupGaussians().fit(X, y, sample_weight=w)
    got = GroupGaussians().fit(da.from_array(X, chunks=(300, -1)), y, sample_weight=w)
    assert_same_fit(ref, got)


def test_partition_of_unknown_length_is_named_once(client):
    pd = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe", exc_type=ImportError)
    X, y = class_data(400, seed=12, offset=5.0)
    X[177, 0] = np.nan  # row 77 of the second of 4 partitions of 100
    ddf = dd.from_pandas(pd.DataFrame(X, columns=list("abcd")), npartitions=4)
    with pytest.raises(InputError) as info:
        GroupGaussians().fit(ddf, da.from_array(y, chunks=100).to_dask_dataframe())
    message = str(info.value)
    assert "X contains NaN at row 77 of partition 1 (of 4);" in message
    assert "(in block" not in message


# Data far from the origin against its spread: 1e8 +- 1e-3 has |m| / sigma
# about 1e11, so a mean rounded to eps |m| is off by 1e-5 sigma. The
# reference is the fit of X - 1e8 (an exact subtraction, by Sterbenz's
# lemma), whose covariances are those of X.
OFFSET, SPREAD = 1e8, 1e-3
# Rounding of the in-memory fit (measured: a few eps) with a margin for
# the merges of the dask tree (one rounding per level, log2(blocks) <= 6).
OFFSET_TOL = 64 * np.finfo(np.float64).eps


@pytest.mark.parametrize("weighted", [False, True])
def test_fit_far_from_origin_equals_in_memory(client, weighted):
    rng = np.random.default_rng(13)
    n, d = 3000, 3
    y = rng.integers(0, 3, n)
    Z = rng.normal(size=(n, d)) @ rng.normal(size=(d, d)) + rng.normal(size=(3, d))[y]
    X = OFFSET + SPREAD * Z
    w = rng.uniform(0.0, 3.0, n) if weighted else None

    def fit(data):
        model = GroupGaussians(reg_covar=0.0, shrinkage=None)
        return model.fit(data, y, sample_weight=w)

    ref = fit(X - OFFSET).covariances_
    sd = np.sqrt(np.einsum("kii->ki", ref))
    scale = sd[:, :, None] * sd[:, None, :]
    memory = fit(X)
    assert np.max(np.abs(memory.covariances_ - ref) / scale) < OFFSET_TOL
    for rows in (1000, 333, 64):
        got = fit(da.from_array(X, chunks=(rows, -1)))
        error = np.max(np.abs(got.covariances_ - ref) / scale)
        assert error < OFFSET_TOL, (rows, error)
        assert_allclose(got.means_, memory.means_, rtol=4 * np.finfo(float).eps)
