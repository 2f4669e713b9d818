"""Tables on a dask cluster: summaries in one pass, the encoding mapped blockwise.

A dask DataFrame with categorical, text or boolean columns reaches the
detector as its partitions. One blockwise pass (:func:`summaries`) gives
every column's :class:`~._encode.ColumnSummary` (level counts, missing
counts, observed mean and spread), merged in a tree like the moment sums;
the :class:`~._encode.TableEncoding` fitted from them is a function of one
block, mapped over the partitions (:func:`encoded`), and the encoded frame
takes the numeric dask path (:mod:`._dask_input`): nothing is gathered.

A reference on dask is summarised before the data to test exist, so its
encoding has ``basis='reference'`` (see :mod:`._encode`); a dask sample
tested against an in-memory reference shares the pooled encoding.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from .._dask import is_dask_collection, reduce_blocks
from .._errors import InputError
from . import _dask_input
from ._columns import TableTest
from ._encode import TableEncoding, merge_summaries, summarise
from ._prepare import Sample
from ._table import Column, Table, read_table

__all__ = [
    "DaskReference",
    "encoded",
    "fit_reference",
    "is_dask_table",
    "schema_table",
    "summaries",
    "test_tables",
]


def is_dask_table(X) -> bool:
    """A dask DataFrame with a column that is not numeric (or is a category)."""
    if not is_dask_collection(X) or not hasattr(X, "divisions"):
        return False
    meta = getattr(X, "_meta", None)
    if meta is None or getattr(meta, "ndim", 1) != 2:
        return False
    import pandas as pd

    types = pd.api.types
    for dtype in meta.dtypes:
        number = types.is_numeric_dtype(dtype) or types.is_bool_dtype(dtype)
        if isinstance(dtype, pd.CategoricalDtype) or not number:
            return True
    return False


def schema_table(meta, name: str) -> Table:
    """An empty :class:`Table` with the kinds of a dask DataFrame's ``meta``.

    Text, ``object`` and ``category`` columns are categorical (the blocks
    are not read to guess otherwise); booleans are numeric 0/1 columns.
    """
    import pandas as pd

    types = pd.api.types
    columns = []
    empty = np.empty(0, dtype=object)
    for column, dtype in meta.dtypes.items():
        if (
            types.is_datetime64_any_dtype(dtype)
            or types.is_timedelta64_dtype(dtype)
            or types.is_complex_dtype(dtype)
        ):
            raise InputError(
                "column {colname!r} of {argument} holds {dtype} values, which a "
                "drift test cannot compare; convert it to numbers or to a "
                "category, or leave it out.",
                argument=name,
                column=str(column),
                colname=str(column),
                dtype=str(dtype),
            )
        category = isinstance(dtype, pd.CategoricalDtype)
        number = types.is_numeric_dtype(dtype) or types.is_bool_dtype(dtype)
        if category or not number:
            columns.append(
                Column(str(column), "categorical", np.empty(0, np.intp), empty)
            )
        else:
            boolean = bool(types.is_bool_dtype(dtype))
            columns.append(Column(str(column), "numeric", np.empty(0), empty, boolean))
    return Table(tuple(columns), 0, True)


def _block_summaries(Xb, wb=None, *, schema, name):
    # Blocks arrive as numpy (object arrays for mixed frames); the reference's
    # kinds decide how each column is read.
    table = read_table(Xb, name, schema)
    if wb is None:
        return summarise(table)
    wb = np.asarray(wb, dtype=np.float64)
    pos = wb > 0
    return summarise(table.take(pos), wb[pos])


def summaries(X, sample_weight, schema, name: str) -> tuple:
    """Every column's summary of a dask DataFrame, in one blockwise pass."""
    func = functools.partial(_block_summaries, schema=schema, name=name)
    return reduce_blocks(
        func, merge_summaries, X, sample_weight, names=[name, "sample_weight"]
    )


def _encode_partition(part, *, encoding: TableEncoding, name: str):
    import pandas as pd

    out = encoding.transform(read_table(part, name, encoding.schema))
    return pd.DataFrame(out, index=part.index, columns=_columns(encoding))


def _columns(encoding) -> list:
    # Positional names: encoded names may repeat a column's own name.
    return [f"f{k}" for k in range(encoding.n_features)]


def encoded(X, encoding: TableEncoding, name: str):
    """The encoded features of a dask DataFrame, as a lazy float DataFrame."""
    import pandas as pd

    meta = pd.DataFrame({c: pd.Series(dtype=np.float64) for c in _columns(encoding)})
    return X.map_partitions(_encode_partition, encoding=encoding, name=name, meta=meta)


@dataclass(frozen=True)
class DaskReference:
    """A reference table fitted on dask: what a test needs of it.

    Attributes
    ----------
    sample : Sample
        Its summaries and moment sums of the encoded features.
    encoding : TableEncoding
        Its 'reference' encoding (latent features included).
    summaries : tuple of ColumnSummary
    schema : Table
        Its columns' kinds (no rows).
    """

    sample: Sample
    encoding: TableEncoding
    summaries: tuple
    schema: Table


def fit_reference(X_ref, sample_weight, covariance_type: str) -> DaskReference:
    """Summarise a dask reference table (one pass), then its encoded sums."""
    schema = schema_table(X_ref._meta, "X_ref")
    s_ref = summaries(X_ref, sample_weight, schema.schema, "X_ref")
    encoding = TableEncoding.from_summaries(schema, s_ref)
    features = encoded(X_ref, encoding, "X_ref")
    sample = _dask_input.reference_sample(features, sample_weight, covariance_type)
    return DaskReference(sample, encoding, s_ref, schema)


def test_tables(settings, ref, X, schema, **kwargs):
    """A test where the reference or ``X`` is a dask table (asymptotic engine).

    ``ref`` is a :class:`DaskReference`, or ``(table, weights)`` of an
    in-memory reference (then the encoding is the pooled one); ``X`` a dask
    DataFrame or an in-memory :class:`Table`. ``kwargs`` go to ``run_test``.
    """
    from ._pipeline import run_test

    if is_dask_collection(X):
        s_new = summaries(X, None, schema, "X")
    else:
        s_new = summarise(X)
    if isinstance(ref, DaskReference):
        s_ref = ref.summaries
        support = ref.encoding.support(s_ref, s_new)
        encoding = ref.encoding.restricted(support)
        ref_sample = ref.sample.subset(np.flatnonzero(support))
    else:
        table, w = ref
        s_ref = summarise(table, w)
        encoding = TableEncoding.from_summaries(table, s_ref, s_new)
        ref_sample = Sample.from_rows(encoding.transform(table), w)
    if is_dask_collection(X):
        new = _dask_input.new_sample(encoded(X, encoding, "X"))
    else:
        new = Sample.from_rows(encoding.transform(X))
    kwargs["stacklevel"] = kwargs.get("stacklevel", 2) + 1
    columns = TableTest(encoding, s_ref, s_new)
    return run_test(
        settings, ref_sample, new, names=encoding.feature_names, columns=columns,
        **kwargs,
    )  # fmt: skip
