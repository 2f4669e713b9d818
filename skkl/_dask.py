"""dask input: per-block sufficient statistics, merged in a tree (internal).

Everything skkl fits is a function of mergeable sums, so a dask array or
DataFrame is never collected to one process: each task produces a row block
(and the matching blocks of ``y`` and ``sample_weight``) and reduces it to a
small summary in the same task (:mod:`skkl._dask_graph` fuses the producers
into the reducing task, so blocks never travel between workers), and the
summaries are merged pairwise in a tree of tasks. ``transform``-like methods
map blocks lazily.

A fit is one pass (:func:`class_moments`): each block gives its own labels
and their moments (:class:`ClassMoments`), and a merge takes the union of
the labels and merges the moments of the labels both sides have, so the
classes and the moments come out of the same reading of the data.

dask is an optional extra: it is imported only when a dask collection is
passed, which :func:`is_dask_collection` detects without importing it.

The generic entry point for other engines is :func:`reduce_blocks`::

    from skkl._dask import reduce_blocks

    sums = reduce_blocks(
        lambda Xb, wb: MomentSums.from_rows(Xb, sample_weight=wb),  # per block
        MomentSums.merge,                                           # (a, b) -> a+b
        X, sample_weight,        # dask array/DataFrame/Series, numpy, or None
    )
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import sys
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ._moments import (
    GroupMoments,
    _concatenate,
    _fold,
    _reduce_by_group,
    _shift,
    _sum_by_group,
    encode_groups,
    group_codes,
)
from ._moments import group_moments as _group_moments

__all__ = [
    "ClassMoments",
    "block_class_moments",
    "block_group_moments",
    "class_moments",
    "compute_if_dask",
    "is_dask_collection",
    "map_row_blocks",
    "merge_class_moments",
    "reduce_blocks",
    "row_blocks",
    "unique_labels",
    "validate_features",
]

# Summaries merged per task of the reduction tree.
SPLIT_EVERY = 8
# Bytes of rows reduced per task (at least): see _blocks_per_unit. The
# blocks of a task are produced and reduced one after the other, so this
# costs no memory.
UNIT_BYTES = 256 << 20
# Tasks (at least) that reduce blocks per worker thread, while there are
# that many blocks: enough for every thread to stay busy to the end.
UNITS_PER_THREAD = 4


def is_dask_collection(obj) -> bool:
    """Whether ``obj`` is a dask collection (array, DataFrame, Series, ...).

    Never imports dask: if dask is not imported yet, no object can be one.
    """
    if "dask" not in sys.modules:
        return False
    import dask

    return dask.is_dask_collection(obj)


def compute_if_dask(obj):
    """``obj`` itself, or its computed value (as numpy) if it is a dask collection."""
    if not is_dask_collection(obj):
        return obj
    value = obj.compute()
    return value.to_numpy() if hasattr(value, "to_numpy") else np.asarray(value)


def _is_frame_like(obj) -> bool:
    """A dask DataFrame or Series (partitioned, not chunked)."""
    return hasattr(obj, "divisions") and hasattr(obj, "to_delayed")


def _split_numpy(values, row_chunks, name: str) -> list:
    """Split an in-memory 1-D or 2-D array along rows to match ``row_chunks``."""
    values = np.asarray(values)
    if any(math.isnan(c) for c in row_chunks):
        raise ValueError(
            f"{name} is in memory but X is a dask collection with unknown block "
            f"lengths, so {name} cannot be aligned with it; pass {name} as a dask "
            "array or Series partitioned like X (e.g. a column of the same dask "
            "DataFrame)."
        )
    if len(values) != sum(row_chunks):
        raise ValueError(
            f"{name} has {len(values)} rows but X has {int(sum(row_chunks))}."
        )
    return np.split(values, np.cumsum(row_chunks)[:-1])


def _blocks_of(obj, row_chunks, n_blocks: int, name: str) -> list:
    """The row blocks (delayed or in-memory) of one argument, aligned with X."""
    if obj is None:
        return [None] * n_blocks
    if not is_dask_collection(obj):
        return _split_numpy(obj, row_chunks, name)
    if _is_frame_like(obj):
        blocks = list(obj.to_delayed())
    else:  # a dask array
        if obj.ndim == 2 and len(obj.chunks[1]) != 1:
            raise ValueError(
                f"{name} is chunked along its features (column chunks "
                f"{obj.chunks[1]}); each block must hold whole rows: rechunk with "
                f"{name} = {name}.rechunk({{1: -1}})."
            )
        if obj.ndim not in (1, 2):
            raise ValueError(f"{name} must be 1-D or 2-D, got {obj.ndim} dimensions.")
        known = not any(math.isnan(c) for c in obj.chunks[0] + tuple(row_chunks))
        if known and tuple(obj.chunks[0]) != tuple(row_chunks):
            if sum(obj.chunks[0]) != sum(row_chunks):
                raise ValueError(
                    f"{name} has {int(sum(obj.chunks[0]))} rows but X has "
                    f"{int(sum(row_chunks))}."
                )
            obj = obj.rechunk({0: tuple(row_chunks)})
        blocks = list(obj.to_delayed().ravel())
    if len(blocks) != n_blocks:
        raise ValueError(
            f"{name} has {len(blocks)} blocks (partitions) but X has {n_blocks}; "
            f"partition {name} like X, e.g. take X and {name} from the same dask "
            "DataFrame, or rechunk a dask array to X's chunks."
        )
    return blocks


def _row_chunks(X) -> tuple:
    """Block lengths of X along rows (nan where unknown)."""
    if _is_frame_like(X):
        return (math.nan,) * X.npartitions
    return tuple(X.chunks[0])


def row_blocks(X, *others, names=None) -> list[tuple]:
    """Aligned row blocks of X and of each of ``others``.

    Parameters
    ----------
    X : dask array, DataFrame or Series
        Defines the blocks. A 2-D array must have one chunk along its columns.
    *others : dask collections, in-memory arrays or None
        Split (or rechunked) to X's blocks; None gives None blocks.
    names : list of str, optional
        Argument names for error messages (default 'X', 'arg1', ...).

    Returns
    -------
    blocks : list of tuples
        One tuple per block: ``(X_block, other_block, ...)``, as
        ``dask.delayed`` objects or in-memory pieces.
    """
    names = list(names or ["X"] + [f"arg{i + 1}" for i in range(len(others))])
    if not is_dask_collection(X):
        raise TypeError(f"{names[0]} must be a dask collection, got {type(X)}.")
    chunks = _row_chunks(X)
    n_blocks = len(chunks)
    columns = [_blocks_of(X, chunks, n_blocks, names[0])]
    columns += [
        _blocks_of(o, chunks, n_blocks, nm)
        for o, nm in zip(others, names[1:], strict=True)
    ]
    return list(zip(*columns, strict=True))


def _as_numpy(block):
    """A pandas partition as numpy; anything else unchanged."""
    if block is not None and hasattr(block, "to_numpy"):
        return block.to_numpy()
    return block


def _apply_numpy(func, *blocks):
    return func(*(_as_numpy(b) for b in blocks))


def _merge_all(merge, *parts):
    return functools.reduce(merge, parts)


class BlockWhere(NamedTuple):
    """Where a block is, for messages: its index, the number of blocks, and
    its first row (None when the block lengths are unknown, as in a dask
    DataFrame)."""

    index: int
    count: int
    start: int | None

    def row(self, local: int) -> str:
        """A row of the block, as the user can find it, naming the block once."""
        if self.start is not None:
            return f"row {self.start + local} (in block {self.index} of {self.count})"
        return f"row {local} of partition {self.index} (of {self.count})"


def _block_starts(X, n_blocks: int) -> list:
    chunks = _row_chunks(X)
    if any(math.isnan(c) for c in chunks):
        return [None] * n_blocks
    return [0, *np.cumsum(chunks[:-1], dtype=np.int64).tolist()]


def _worker_threads() -> int:
    """Threads of the active distributed cluster, or of this machine."""
    if "distributed" in sys.modules:
        from distributed import default_client

        try:
            return max(1, sum(default_client().nthreads().values()))
        except ValueError:  # no client: dask's local schedulers
            pass
    return os.cpu_count() or 1


def _blocks_per_unit(X, n_blocks: int, threads: int | None = None) -> int:
    """Blocks produced and reduced (and merged) in one task.

    Enough that the runtime's fixed cost per task (scheduling, messages)
    is small against the reduction of ``UNIT_BYTES`` of rows; few enough to
    leave ``UNITS_PER_THREAD`` tasks per worker thread.
    """
    if _is_frame_like(X):  # partition sizes unknown: one task each
        return 1
    threads = _worker_threads() if threads is None else threads
    rows = max(X.chunks[0], default=0)
    width = X.shape[1] if X.ndim == 2 else 1
    block_bytes = max(1, rows * width * np.dtype(X.dtype).itemsize)
    wanted = -(-UNIT_BYTES // block_bytes)
    return int(max(1, min(wanted, n_blocks // (UNITS_PER_THREAD * threads))))


def reduce_blocks(
    func: Callable[..., Any],
    merge: Callable[[Any, Any], Any],
    X,
    *others,
    names=None,
    split_every: int = SPLIT_EVERY,
    compute: bool = True,
    positions: bool = False,
):
    """Reduce every row block to a summary on the workers, merge in a tree.

    The rows of X never leave the worker that computes them: each task
    produces a block (and the matching blocks of ``others``) and reduces it
    with ``func`` to a small summary (sums, moments), so a block is never
    sent between workers (see :mod:`skkl._dask_graph`); small blocks are
    reduced several to a task. The summaries are combined by ``merge`` in a
    tree of tasks (``split_every`` summaries per task), so no process ever
    holds more than a few blocks and ``split_every`` summaries.

    Parameters
    ----------
    func : callable
        ``func(X_block, *other_blocks) -> summary``. Blocks arrive as numpy
        arrays (pandas partitions are converted with ``to_numpy``, so a
        categorical Series gives its labels); a None argument gives None.
    merge : callable
        ``merge(a, b) -> summary`` of the union of the rows of ``a`` and
        ``b``; it must be associative (the tree's shape is not fixed).
    X : dask array, DataFrame or Series
        Defines the row blocks; a 2-D array must be chunked along rows only.
    *others : dask collections, in-memory arrays or None
        Aligned with X (see :func:`row_blocks`), e.g. ``y`` and
        ``sample_weight``.
    names : list of str, optional
        Argument names for error messages.
    split_every : int, default=8
        Summaries merged per task.
    compute : bool, default=True
        Return the merged summary; with False, a ``dask.delayed`` object.
    positions : bool, default=False
        Also pass ``where=``:class:`BlockWhere` to ``func``, for messages
        that say which block (and row) is at fault.

    Returns
    -------
    summary
        ``merge`` over every block's ``func``, or its delayed form.

    Examples
    --------
    >>> import numpy as np
    >>> da = __import__("pytest").importorskip("dask.array", exc_type=ImportError)
    >>> from skkl._dask import reduce_blocks
    >>> X = da.arange(12.0, chunks=5).reshape(6, 2)
    >>> reduce_blocks(lambda b: b.sum(axis=0), np.add, X.rechunk((2, 2)))
    array([30., 36.])
    """
    from dask import delayed
    from dask.delayed import Delayed

    from ._dask_graph import fuse_units

    if split_every < 2:
        raise ValueError(f"split_every must be at least 2, got {split_every}.")
    blocks = row_blocks(X, *others, names=names)
    n = len(blocks)
    if not n:
        raise ValueError("X has no blocks (zero partitions); give it some rows.")
    apply = delayed(_apply_numpy, pure=True)
    if positions:
        starts = _block_starts(X, n)
        funcs = [
            functools.partial(func, where=BlockWhere(k, n, starts[k])) for k in range(n)
        ]
    else:
        funcs = [func] * n
    parts = [apply(f, *b) for f, b in zip(funcs, blocks, strict=True)]
    merge_task = delayed(_merge_all, pure=True)
    per_unit = _blocks_per_unit(X, n)
    if per_unit > 1:
        parts = [
            merge_task(merge, *parts[i : i + per_unit]) for i in range(0, n, per_unit)
        ]
    units = [p.key for p in parts]
    while len(parts) > 1:
        parts = [
            merge_task(merge, *parts[i : i + split_every])
            for i in range(0, len(parts), split_every)
        ]
    final = parts[0]
    final = Delayed(final.key, fuse_units(final.__dask_graph__(), units))
    if not compute:
        return final
    from ._blas import blas_single_thread

    # Blocks reduce side by side on worker threads (dask's threaded scheduler,
    # or a cluster of threads): the process-wide BLAS limit is set here, once,
    # by the calling thread, as only it may (see blas_single_thread). Worker
    # processes of a distributed cluster start with one BLAS thread already.
    with blas_single_thread():
        return final.compute()


# -- estimator helpers ----------------------------------------------------------


def _check_numeric_frame(meta, name: str) -> None:
    import pandas as pd

    for column, dtype in meta.dtypes.items():
        if not (
            pd.api.types.is_numeric_dtype(dtype) or pd.api.types.is_bool_dtype(dtype)
        ):
            raise TypeError(
                f"column {column!r} of {name} has dtype {dtype}, not numeric; drop "
                "it or encode it as numbers before fitting."
            )


def validate_features(estimator, X, *, reset: bool):
    """Check a dask X's layout and set/check ``n_features_in_``/``feature_names_in_``.

    Only metadata is read (no block is computed). Returns X, a 2-D dask
    array chunked along rows only or a dask DataFrame.
    """
    from sklearn.utils.validation import _check_feature_names, _check_n_features

    if _is_frame_like(X):
        if X.ndim != 2:
            raise ValueError(
                "X is a dask Series; pass a 2-D dask DataFrame (e.g. "
                "X.to_frame()) or a 2-D dask array."
            )
        meta = X._meta
        _check_numeric_frame(meta, "X")
    else:
        if X.ndim != 2:
            raise ValueError(
                f"X must be a 2-D dask array (n_samples, n_features), got "
                f"{X.ndim} dimensions; reshape it, e.g. X.reshape(-1, 1)."
            )
        if np.dtype(X.dtype).kind not in "biuf":
            raise TypeError(
                f"X has dtype {X.dtype}, not real numbers; convert it, e.g. "
                "X.astype(float)."
            )
        if len(X.chunks[1]) != 1:
            raise ValueError(
                f"X is chunked along its features (column chunks {X.chunks[1]}); "
                "each block must hold whole rows to give per-block moments: "
                "rechunk with X = X.rechunk({1: -1})."
            )
        meta = np.empty((0, X.shape[1]))
    _check_feature_names(estimator, meta, reset=reset)
    _check_n_features(estimator, meta, reset=reset)
    return X


def _check_block_labels(yb, name: str) -> np.ndarray:
    from ._validation import check_class_labels

    yb = np.asarray(yb)
    if yb.ndim == 2 and yb.shape[1] == 1:
        yb = yb[:, 0]
    if yb.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {yb.shape} in one block.")
    if yb.size:
        check_class_labels(yb, name)
    return yb


def _block_unique(yb, name: str) -> np.ndarray:
    yb = _check_block_labels(yb, name)
    if yb.dtype.kind in "iu" and yb.size:
        # Small integer ranges: a bincount, O(n), instead of a sort.
        low = int(yb.min())
        if int(yb.max()) - low <= max(1 << 16, yb.size):
            present = np.bincount((yb - low).astype(np.intp)) > 0
            return (np.flatnonzero(present) + low).astype(yb.dtype)
    return np.unique(yb)


def _is_text(labels: np.ndarray) -> bool:
    if labels.dtype.kind in "US":
        return True
    return labels.dtype == object and any(isinstance(v, str) for v in labels[:1])


def _union_labels(a: np.ndarray, b: np.ndarray, name: str = "y") -> np.ndarray:
    """Sorted union of two blocks' labels; strings and numbers never mix."""
    if a.size and b.size and _is_text(a) != _is_text(b):
        s, o = (a, b) if _is_text(a) else (b, a)
        raise TypeError(
            f"{name} mixes string and non-string labels across blocks (e.g. "
            f"{s[0]!r} and {o[0]!r}), which cannot be sorted into classes; make "
            f"them one type, e.g. {name} = {name}.astype(str)."
        )
    return np.union1d(a, b)


def unique_labels(y, name: str = "y") -> np.ndarray:
    """Sorted distinct labels of a dask array or Series, by a tree of set unions.

    An in-memory ``y`` is handled directly.

    Each block is checked (mixed strings and numbers, continuous or
    multilabel values) on its worker, and the union of the labels is
    checked again as a whole.
    """
    from ._validation import check_class_labels

    if is_dask_collection(y):
        classes = reduce_blocks(
            functools.partial(_block_unique, name=name),
            functools.partial(_union_labels, name=name),
            y,
            names=[name],
        )
    else:  # an in-memory y next to a dask X
        classes = _block_unique(y, name)
    if classes.size == 0:
        raise ValueError(f"{name} is empty; give at least one labelled sample.")
    check_class_labels(classes, name)
    return classes


def _block_as_float(Xb) -> np.ndarray:
    """One block of X as a float64 array, not yet checked for finiteness."""
    from sklearn.utils.validation import check_array

    return check_array(
        Xb,
        dtype=np.float64,
        ensure_min_samples=0,
        ensure_all_finite=False,
        input_name="X",
    )


def block_group_moments(
    Xb, yb, wb, *, classes, full: bool, higher: bool
) -> GroupMoments:
    """Moments of one block's groups; the block is validated on its worker."""
    # Finiteness is checked on the block's moments (non-finite iff X is, or
    # overflows), which saves a pass over the block.
    Xb = _block_as_float(Xb)
    n = Xb.shape[0]
    groups = None
    if yb is not None:
        yb = _check_block_labels(yb, "y")
        if len(yb) != n:
            raise ValueError(
                f"y and X have different lengths in one block ({len(yb)} and {n}); "
                "partition y like X."
            )
        groups, unknown = group_codes(yb, classes)
        if unknown.size:
            raise ValueError(
                f"y contains labels {np.unique(unknown).tolist()} that are not in "
                f"classes_={classes.tolist()}; pass every label in `classes` on "
                "the first call to partial_fit."
            )
    wb = check_block_weights(wb, n)
    # Workers run blocks side by side: one thread per block (group_moments
    # keeps its BLAS calls single-threaded itself).
    return _group_moments(
        Xb, groups, len(classes), wb, full=full, higher=higher, n_threads=1
    )


# Bytes of a ClassMoments besides its arrays' data, for dask's memory
# accounting: its two objects (about 300 bytes each with their attribute
# dicts, by sys.getsizeof on CPython 3.11) and up to 8 array headers (about
# 112 bytes each). Only the order of magnitude matters to the scheduler.
_SUMMARY_OVERHEAD = 1500


@dataclasses.dataclass(frozen=True)
class ClassMoments:
    """The distinct labels of some rows and the moments of each label's rows.

    What one pass over a dask X and y gives: every block is reduced to its
    own labels and their moments, and merging two takes the union of the
    labels. Small whatever the rows: K labels and K moments.

    Attributes
    ----------
    classes : ndarray of shape (K,)
        Sorted distinct labels (``[0]`` when there is no ``y``).
    moments : GroupMoments
        The moments of the rows of each label, in the order of ``classes``.
    """

    classes: np.ndarray
    moments: GroupMoments

    def __sizeof__(self) -> int:
        # What dask's scheduler counts for a result (sys.getsizeof by default,
        # which would not see the arrays).
        arrays = [self.classes, *vars(self.moments).values()]
        return _SUMMARY_OVERHEAD + sum(a.nbytes for a in arrays if a is not None)


def _no_rows(d: int, full: bool, higher: bool) -> GroupMoments:
    """Moments of zero groups (a block without rows), with a residual."""
    return GroupMoments(
        np.zeros(0),
        np.zeros(0, dtype=np.int64),
        np.zeros((0, d)),
        np.zeros((0, d, d) if full else (0, d)),
        np.zeros((0, d)) if higher else None,
        np.zeros(0) if higher else None,
        np.zeros((0, d)),
    )


def _not_finite_error(Xb: np.ndarray, where: BlockWhere):
    """The error for a block with NaN or infinity: which, and where."""
    from ._errors import InputError

    bad = ~np.isfinite(Xb)
    local = int(np.flatnonzero(bad.any(axis=1))[0])
    value = Xb[local][bad[local]][0]
    what = "NaN" if np.isnan(value) else "infinity"
    return InputError(
        f"{{argument}} contains {what} at {where.row(local)}; remove or "
        "impute the missing or "
        "infinite values before fitting (e.g. with sklearn.impute.SimpleImputer "
        "on each block, or by dropping the rows).",
        argument="X",
        row=local if where.start is None else where.start + local,
    )


def block_class_moments(
    Xb, yb, wb, *, where: BlockWhere, known, full: bool, higher: bool
) -> ClassMoments:
    """One block's labels and their moments, validated on its worker.

    ``known``: the only labels allowed (a later ``partial_fit``), or None.
    """
    # Finiteness is read off the moments (non-finite iff X is, or they
    # overflow) for the rows that carry weight; rows of zero weight never
    # reach them (a piece of zero total weight is skipped), so those alone
    # are checked here.
    Xb = _block_as_float(Xb)
    n, d = Xb.shape
    if yb is None:
        labels, groups = np.array([0]), None
    else:
        yb = _check_block_labels(yb, "y")
        if len(yb) != n:
            raise ValueError(
                f"y and X have different lengths in block {where.index} "
                f"({len(yb)} and {n} rows); partition y like X."
            )
        labels, groups = encode_groups(yb)
        if known is not None and not np.all(np.isin(labels, known)):
            unknown = labels[~np.isin(labels, known)]
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in "
                f"classes_={known.tolist()}; pass every label in `classes` on "
                "the first call to partial_fit."
            )
    wb = check_block_weights(wb, n)
    if n == 0:
        return ClassMoments(labels[:0], _no_rows(d, full, higher))
    if wb is not None and not np.all(wb):
        unweighted = wb == 0
        if not np.all(np.isfinite(Xb[unweighted])):
            raise _not_finite_error(Xb, where)
    try:
        # Workers run blocks side by side: one thread per block.
        mom = _group_moments(
            Xb, groups, len(labels), wb, full=full, higher=higher, n_threads=1
        )
    except ValueError:
        if not np.all(np.isfinite(Xb)):
            raise _not_finite_error(Xb, where) from None
        raise  # overflow: the message says so
    return ClassMoments(labels, _with_residual(mom, Xb, groups, wb))


# group_moments gives a block's moments about its exact mean m, labelled
# with m rounded to m~ (|m - m~| up to eps |m| / 2): merges that take them
# to be about m~ err by about (eps |m| / sigma)^2 relative, and more if the
# block means differ by many sigma. Where some |m| exceeds this many
# standard deviations, that error could exceed a few eps, so the block's
# residual about m~ is measured (one more pass over the block) and its
# moments are moved to m~; nearer, the residual is taken as zero.
_FAR_MEAN = 2.0**10
# Rows centred at a time while measuring the residual (bounds the scratch).
_RESIDUAL_ROWS = 1 << 14


def _residual(mom: GroupMoments, Xb, groups, wb) -> np.ndarray:
    """``sum_i w_i (x_i - mean)`` of every group, about its rounded mean."""
    K = len(mom.weight)
    residual = np.zeros(mom.mean.shape)
    for start in range(0, len(Xb), _RESIDUAL_ROWS):
        rows = slice(start, start + _RESIDUAL_ROWS)
        g = np.zeros(len(Xb[rows]), np.intp) if groups is None else groups[rows]
        # x - mean is exact (Sterbenz) where it matters: x near a large mean.
        centred = Xb[rows] - mom.mean[g]
        if wb is not None:
            centred *= wb[rows, None]
        residual += _sum_by_group(centred, g, K)
    return residual


def _with_residual(mom: GroupMoments, Xb, groups, wb) -> GroupMoments:
    """Folded moments ``mom`` of a block as moments about their rounded mean
    with its residual, so that merges keep every digit and only the final
    result is folded (see ``_moments._fold``)."""
    safe = np.where(mom.weight > 0, mom.weight, 1.0)[:, None]
    spread = np.diagonal(mom.scatter, axis1=1, axis2=2) if mom.full else mom.scatter
    if not np.any(np.abs(mom.mean) > _FAR_MEAN * np.sqrt(spread / safe)):
        return dataclasses.replace(mom, residual=np.zeros(mom.mean.shape))
    residual = _residual(mom, Xb, groups, wb)
    # About the exact mean (no residual), moved by rounded - exact = -R / W.
    scatter, third, fourth = _shift(mom, -residual / safe)
    return dataclasses.replace(
        mom, scatter=scatter, third=third, fourth=fourth, residual=residual
    )


def merge_class_moments(a: ClassMoments, b: ClassMoments) -> ClassMoments:
    """The labels and moments of the rows of both: a union of labels, and the
    moments of a label present in both merged (Chan et al., exact shifts)."""
    if not a.classes.size:
        return b
    if not b.classes.size:
        return a
    classes = _union_labels(a.classes, b.classes)
    ids = np.concatenate(
        [np.searchsorted(classes, a.classes), np.searchsorted(classes, b.classes)]
    )
    both = _concatenate([a.moments, b.moments])
    # The residual is kept (folded once, by class_moments): every merge
    # then shifts moments about means whose rounding is accounted for.
    merged = _reduce_by_group(both, ids, len(classes), fold=False)
    return ClassMoments(classes, merged)


def _placed(mom: GroupMoments, rows: np.ndarray, K: int) -> GroupMoments:
    """``mom`` as the rows ``rows`` of K groups (the others without samples)."""

    def place(values):
        if values is None:
            return None
        out = np.zeros((K, *values.shape[1:]), dtype=values.dtype)
        out[rows] = values
        return out

    return GroupMoments(
        *(place(getattr(mom, f)) for f in GroupMoments.__dataclass_fields__)
    )


def class_moments(
    X, y, sample_weight, *, full: bool, higher: bool, classes=None
) -> ClassMoments:
    """The classes of ``y`` and the moments of each class of a dask X, in one pass.

    Every task produces a block of X and the matching blocks of ``y`` and
    ``sample_weight`` and reduces them to the block's labels and their
    moments (:func:`block_class_moments`); these are merged in a tree. So
    the labels are read once, and nothing but the small per-block moments
    is ever sent between workers.

    Parameters
    ----------
    X : dask array or DataFrame
        Validated by :func:`validate_features`.
    y, sample_weight : dask collection, in-memory array or None
        Aligned with X (see :func:`row_blocks`); ``y=None`` puts every row
        in one group, labelled 0.
    full, higher : bool
        The moments to compute (see :func:`skkl._moments.group_moments`).
    classes : array-like or None
        The labels allowed (sorted), e.g. ``classes_`` of a ``partial_fit``
        stream: the moments are then given in their order, a class without
        rows having zero weight. None: the labels found.

    Returns
    -------
    ClassMoments
    """
    known = None if classes is None else np.asarray(classes)
    func = functools.partial(block_class_moments, known=known, full=full, higher=higher)
    out = reduce_blocks(
        func,
        merge_class_moments,
        X,
        y,
        sample_weight,
        names=["X", "y", "sample_weight"],
        positions=True,
    )
    if out.classes.size == 0:
        what = "X" if y is None else "y"
        raise ValueError(f"{what} is empty; give at least one sample.")
    out = ClassMoments(out.classes, _fold(out.moments))
    if y is not None:
        from ._validation import check_class_labels

        check_class_labels(out.classes, "y")
    if known is None:
        return out
    rows = np.searchsorted(known, out.classes)
    return ClassMoments(known, _placed(out.moments, rows, len(known)))


def map_row_blocks(func, X, *args, n_out: int | None, dtype=np.float64):
    """Lazy ``func(block, *args)`` on every row block of X: a dask array.

    ``n_out`` columns per output row, or None for a 1-D output. A dask
    DataFrame is turned into an array first (blocks of unknown length).
    """
    if _is_frame_like(X):
        X = X.to_dask_array()
    # An explicit meta: dask would otherwise call func on an empty block.
    if n_out is None:
        return X.map_blocks(
            func,
            *args,
            dtype=dtype,
            drop_axis=1,
            chunks=(X.chunks[0],),
            meta=np.empty((0,), dtype=dtype),
        )
    return X.map_blocks(
        func,
        *args,
        dtype=dtype,
        chunks=(X.chunks[0], (n_out,)),
        meta=np.empty((0, 0), dtype=dtype),
    )


def check_block_weights(wb, n_rows: int):
    """One block's ``sample_weight`` as float64, checked against its rows.

    ``None`` passes through (unit weights).
    """
    if wb is None:
        return None
    wb = np.asarray(wb, dtype=np.float64).ravel()
    if wb.shape != (n_rows,):
        raise ValueError(
            f"sample_weight and X have different lengths in one block "
            f"({wb.size} and {n_rows}); partition sample_weight like X."
        )
    if not np.all(np.isfinite(wb)) or np.any(wb < 0):
        raise ValueError(
            "sample_weight must be finite and non-negative; found a negative, "
            "nan or inf weight."
        )
    return wb
