"""BLAS threading and chunk sizing shared by every engine (internal).

One threshold decides when a product is too small to pay for BLAS threads:
below it, thread start-up and (on a busy machine) spinning threads cost more
than the work itself.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

__all__ = [
    "INLINE_FLOPS",
    "SINGLE_THREAD_FLOPS",
    "blas_single_thread",
    "blas_thread_count",
    "blas_threads_for",
    "get_chunk_n_rows",
    "stack_threads",
    "map_blocks",
    "runs_inline",
]

# Products below this many flops run on one BLAS thread.
SINGLE_THREAD_FLOPS = 2**26
# Below this much arithmetic a call runs inline on the calling thread, with no
# joblib dispatch, thread pool or threadpool-limit context: entering any of
# them costs more than 2**21 flops of work, and OpenBLAS does not start
# threads for products this small anyway.
INLINE_FLOPS = 2**21

_CONTROLLER: Any = None
# One pool of worker threads for the whole process, started on first use:
# starting threads per call would cost more than small work itself.
_POOL: ThreadPoolExecutor | None = None
_POOL_LOCK = threading.Lock()


def _controller():
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def blas_single_thread() -> contextlib.AbstractContextManager:
    """Context manager limiting BLAS to one thread (the controller is cached).

    The limit is process-wide, so only the main thread sets it: set and
    restored from threads that overlap (dask's threaded scheduler runs block
    reductions side by side), OpenBLAS was left on one thread for the rest
    of the process. Elsewhere this is a null context; skkl's own pool
    threads run inside the limit their caller set.
    """
    if threading.current_thread() is not threading.main_thread():
        return contextlib.nullcontext()
    return _controller().limit(limits=1, user_api="blas")


def blas_thread_count() -> int:
    """Threads the BLAS may use now (honours ``threadpool_limits`` and joblib).

    Engines that split many small products over Python threads (each on one
    BLAS thread) use this many, so they never take more cores than the BLAS
    itself would.
    """
    counts = [
        lib.num_threads for lib in _controller().select(user_api="blas").lib_controllers
    ]
    return max(1, min(counts, default=1))


def runs_inline(flops: float) -> bool:
    """Whether work of ``flops`` is too small for any parallel machinery.

    The one rule every engine follows: below ``INLINE_FLOPS``, no joblib
    ``Parallel``, no thread pool and no ``threadpool_limits`` context.
    """
    return flops < INLINE_FLOPS


def stack_threads(flops: float) -> contextlib.AbstractContextManager:
    """One BLAS thread for work made of many small matrix products or factorisations.

    BLAS threads never help a d x d product or factorisation, and OpenBLAS
    starts them anyway for some (factorisations and symmetric eigenproblems
    from order 64, products above 64^3 multiply-adds): one hand-off per
    matrix, which on a busy machine costs milliseconds. Below
    :data:`INLINE_FLOPS` of total work the limit (whose own context can cost
    milliseconds) is skipped: a null context.
    """
    if runs_inline(flops):
        return contextlib.nullcontext()
    return blas_single_thread()


def blas_threads_for(flops: float) -> contextlib.AbstractContextManager:
    """One BLAS thread for a product of fewer than ``SINGLE_THREAD_FLOPS`` flops.

    Larger products keep the caller's BLAS threading, and tiny ones (see
    :func:`runs_inline`) skip the limit context: both get a null context.
    """
    if runs_inline(flops):
        return contextlib.nullcontext()
    if flops < SINGLE_THREAD_FLOPS:
        return blas_single_thread()
    return contextlib.nullcontext()


def get_chunk_n_rows(*args, **kwargs) -> int:
    """scikit-learn's ``get_chunk_n_rows`` (imported on first use).

    ``import skkl`` does not load scikit-learn: the validated core
    (``Gaussians``, the pointwise divergences) imports this module.
    """
    try:  # where older scikit-learn releases export it
        from sklearn.utils import get_chunk_n_rows as chunk_n_rows
    except ImportError:  # scikit-learn 1.9 keeps it in a private module
        from sklearn.utils._chunking import get_chunk_n_rows as chunk_n_rows
    return chunk_n_rows(*args, **kwargs)


def _pool() -> ThreadPoolExecutor:
    global _POOL
    with _POOL_LOCK:
        if _POOL is None:
            _POOL = ThreadPoolExecutor(
                max_workers=os.cpu_count() or 1, thread_name_prefix="skkl"
            )
        return _POOL


def map_blocks(func: Callable, blocks: Sequence, flops: float) -> list:
    """``[func(*b) for b in blocks]``, spread over threads when the work is large.

    For many small independent computations (a factorisation or a product of
    d x d matrices each) whose numpy and LAPACK calls release the GIL. Below
    :data:`INLINE_FLOPS` of total work, or when the BLAS may use one thread
    (``threadpool_limits``, joblib workers), everything runs on the calling
    thread (with the BLAS on one thread, as :func:`stack_threads`). Otherwise
    as many threads of a process-wide pool as the BLAS may use take the
    blocks in order, each the next one not yet taken, with the BLAS limited
    to one thread meanwhile: blocks of unequal work (the rows of a triangle)
    still keep every thread busy to the end. Results come back in block
    order, and an exception is the one the first failing block raised, as
    in a plain loop. Callers must not wrap this in :func:`stack_threads`
    themselves: the pool would then see one BLAS thread and start none.
    """
    n = len(blocks)
    # Counted before any limit below: a caller that had already limited the
    # BLAS to one thread would read 1 here and run everything on one core.
    threads = 1 if runs_inline(flops) or n < 2 else min(n, blas_thread_count())
    if threads == 1:
        with stack_threads(flops):
            return [func(*b) for b in blocks]

    results: list = [None] * n
    errors: dict[int, BaseException] = {}
    taken = itertools.count()  # next() on a count is atomic under the GIL

    def run() -> None:
        # Once a block has failed no new block starts; every block before it
        # was taken earlier and runs to its end, so the first failure is known.
        while not errors:
            k = next(taken)
            if k >= n:
                return
            try:
                results[k] = func(*blocks[k])
            except Exception as exc:  # reported in block order below
                errors[k] = exc

    pool = _pool()
    # Each thread's BLAS calls run on that thread: BLAS threads started from
    # several threads at once would fight over the same cores.
    with blas_single_thread():
        futures = [pool.submit(run) for _ in range(threads)]
        for future in futures:
            future.result()
    if errors:
        raise errors[min(errors)]
    return results
