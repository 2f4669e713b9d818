"""BLAS threading and chunk sizing shared by every engine (internal).

One threshold decides when a product is too small to pay for BLAS threads:
below it, thread start-up and (on a busy machine) spinning threads cost more
than the work itself.
"""

from __future__ import annotations

import contextlib
from typing import Any

try:  # where older scikit-learn releases export it
    from sklearn.utils import get_chunk_n_rows
except ImportError:  # scikit-learn 1.9 keeps it in a private module
    from sklearn.utils._chunking import get_chunk_n_rows

__all__ = [
    "INLINE_FLOPS",
    "SINGLE_THREAD_FLOPS",
    "blas_single_thread",
    "blas_thread_count",
    "blas_threads_for",
    "get_chunk_n_rows",
    "runs_inline",
]

# Products below this many flops run on one BLAS thread.
SINGLE_THREAD_FLOPS = 2**26
# Below this much arithmetic a call runs inline on the calling thread, with no
# joblib dispatch, thread pool or threadpool-limit context: entering any of
# them costs from tens of microseconds to milliseconds, more than the work
# (2**21 flops is a fraction of a millisecond on one core), and OpenBLAS does
# not start threads for products this small anyway.
INLINE_FLOPS = 2**21

_CONTROLLER: Any = None


def _controller():
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER


def blas_single_thread() -> contextlib.AbstractContextManager:
    """Context manager limiting BLAS to one thread (the controller is cached)."""
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
