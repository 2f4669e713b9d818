"""The shared threading rule of ``skkl._blas.map_blocks``.

These check what the pool does (which threads ran which blocks, in what
order results and errors come back), never how fast: timings do not belong
in tests.
"""

import contextlib
import threading

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from skkl._blas import INLINE_FLOPS, blas_thread_count, map_blocks

LARGE = 100.0 * INLINE_FLOPS


def _two_blas_threads():
    if blas_thread_count() < 2:
        pytest.skip("the BLAS may use one thread here: no pool to observe")


def _names(n_blocks, flops, barrier=None):
    seen = []

    def block(k):
        if barrier is not None:
            barrier.wait(timeout=30)
        seen.append(threading.current_thread().name)
        return k * k

    out = map_blocks(block, [(k,) for k in range(n_blocks)], flops)
    return out, seen


def test_large_work_runs_on_pool_threads_with_results_in_order():
    _two_blas_threads()
    # Both pool threads must each hold a block at once to pass the barrier:
    # the test hangs (then fails on the timeout) if only one thread runs.
    out, seen = _names(2, LARGE, threading.Barrier(2))
    assert out == [0, 1]
    assert len(set(seen)) == 2
    assert all(name.startswith("skkl") for name in seen)


@pytest.mark.parametrize("kind", ["bhattacharyya", "wasserstein"])
def test_pairwise_non_gemm_kinds_use_the_pool(monkeypatch, kind):
    """The regression: ``pairwise_divergence`` wrapped ``map_blocks`` in
    ``stack_threads``, so the pool saw one BLAS thread and ran every pair on
    the calling thread."""
    _two_blas_threads()
    from skkl import Gaussians, _tiles, pairwise_divergence

    seen = set()
    compute = _tiles.kernels.compute

    def spy(*args, **kwargs):
        seen.add(threading.current_thread().name)
        return compute(*args, **kwargs)

    monkeypatch.setattr(_tiles.kernels, "compute", spy)
    rng = np.random.default_rng(0)
    K, d = 120, 16
    A = rng.standard_normal((K, d, d)) / np.sqrt(d)
    g = Gaussians(rng.standard_normal((K, d)), A @ A.transpose(0, 2, 1) + np.eye(d))
    pairwise_divergence(g, kind=kind)
    assert len(seen) >= 2, seen


def test_small_work_stays_on_the_calling_thread():
    out, seen = _names(8, INLINE_FLOPS / 2)
    assert out == [k * k for k in range(8)]
    assert set(seen) == {threading.current_thread().name}


def test_threadpool_limits_one_keeps_everything_inline():
    with threadpool_limits(1):
        out, seen = _names(8, LARGE)
    assert out == [k * k for k in range(8)]
    assert set(seen) == {threading.current_thread().name}


def test_unequal_blocks_are_shared_dynamically():
    """A slow first block does not hold back the rest: the other thread
    takes every later block (a contiguous split would give it only half)."""
    _two_blas_threads()
    release = threading.Event()
    ran = {}

    def block(k):
        if k == 0:
            assert release.wait(timeout=30)
        else:
            ran[k] = threading.current_thread().name
            if len(ran) == 9:
                release.set()
        return k

    out = map_blocks(block, [(k,) for k in range(10)], LARGE)
    assert out == list(range(10))
    assert len(set(ran.values())) == 1


@pytest.mark.parametrize("flops", [INLINE_FLOPS / 2, LARGE])
def test_the_first_failing_block_raises_as_in_a_loop(flops):
    def block(k):
        if k in (3, 6):
            raise ValueError(f"block {k}")
        return np.float64(k)

    with pytest.raises(ValueError, match="block 3"):
        map_blocks(block, [(k,) for k in range(8)], flops)


def test_a_threaded_dask_fit_leaves_the_blas_threads_as_they_were():
    """The review's case: block reductions on dask's threaded scheduler set
    and restored the process-wide limit from overlapping threads, leaving
    the BLAS on one thread for the rest of the process."""
    _two_blas_threads()
    da = pytest.importorskip("dask.array")
    from skkl import GroupGaussians

    before = blas_thread_count()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(16 * 4096, 32))
    y = np.arange(len(X)) % 3
    for _ in range(3):  # the overlap is a race: give it several chances
        GroupGaussians().fit(
            da.from_array(X, chunks=(4096, 32)), da.from_array(y, chunks=4096)
        )
        assert blas_thread_count() == before


def test_the_limit_is_set_only_from_the_main_thread():
    from skkl._blas import blas_single_thread

    seen = []
    thread = threading.Thread(target=lambda: seen.append(blas_single_thread()))
    thread.start()
    thread.join()
    assert isinstance(seen[0], contextlib.nullcontext)
