"""``skkl monitor`` on mixed files: text columns as categories, missing cells kept.

REF is read as ``skkl drift`` reads its files (:mod:`._drift_tables`): a
column is text (categorical) when a sampled cell is not a number and not
missing, or when ``--categorical`` names it; missing cells are kept. When
REF has neither text columns nor missing cells, the monitor gets a float
array as before. Otherwise it is fitted on the table and keeps the columns'
kinds in its encoding, and every chunk of STREAM is read with them: a text
column is read as text in every chunk (a chunk whose cells all happen to be
numbers stays categorical), a numeric one as numbers, missing cells kept.
"""

from __future__ import annotations

import sys

import numpy as np

from ._drift_tables import text_columns, to_frame
from ._errors import CLIError
from ._readers import NA_VALUES, open_table

__all__ = ["iter_mixed_chunks", "read_reference", "text_of"]


def read_reference(tab, names, categorical):
    """REF's ``names`` as the monitor takes them: a float array or a DataFrame."""
    tab.select(categorical or ())
    unknown = sorted(set(categorical or ()) - set(names))
    if unknown:
        raise CLIError(
            f"--categorical names {', '.join(map(repr, unknown))}, which is not "
            "among the columns watched (--columns)."
        )
    text = text_columns([tab], names, categorical)
    numeric = [n for n in names if n not in text]
    frame = tab.read(numeric, text, keep_missing=True)
    missing = np.isnan(frame.numeric).any() or any(
        m.any() for m in frame.text_missing.values()
    )
    if not text and not missing:
        return frame.numeric
    return to_frame(frame, names, numeric, text)


def text_of(monitor) -> list:
    """The columns a fitted table monitor reads as text (none for arrays)."""
    encoding = getattr(monitor, "encoding_", None)
    if encoding is None:
        return []
    return [c.name for c in encoding.columns if c.kind == "categorical"]


def _pandas():
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a test dependency
        raise CLIError(
            "a reference with text columns or missing cells needs pandas to read "
            "the stream (pip install pandas)."
        ) from None
    return pd


def iter_mixed_chunks(path: str, names, text, sep, rows: int):
    """``(first data row index, DataFrame)`` chunks of ``names`` of a table.

    ``text`` columns are read as strings, the others as numbers; missing
    cells (``NA_VALUES``) are kept. A cell that is not a number in a numeric
    column is an error naming its data row (1-based, the header excluded).
    """
    pd = _pandas()
    options = dict(
        dtype={n: str for n in text},
        na_values=list(NA_VALUES),
        keep_default_na=False,
        chunksize=rows,
    )
    if path == "-":
        reader = pd.read_csv(sys.stdin, sep=sep or ",", usecols=names, **options)
    else:
        tab = open_table(path, sep)
        tab.require_header()
        tab.select(names)
        if not hasattr(tab, "delimiter"):  # Parquet
            yield from _parquet_chunks(tab, names, text, rows, pd)
            return
        reader = pd.read_csv(
            tab.path,
            sep=tab.delimiter,
            header=None,
            names=tab.columns,
            skiprows=tab.skip,
            usecols=names,
            engine="c",
            **options,
        )
    start = 0
    for df in reader:
        yield start, _typed(df, names, text, start, path, pd)
        start += len(df)


def _parquet_chunks(tab, names, text, rows, pd):
    start = 0
    for batch in tab._file.iter_batches(batch_size=rows, columns=list(names)):
        df = batch.to_pandas()
        for n in text:
            df[n] = df[n].map(lambda v: v if v is None or v != v else str(v))
        yield start, _typed(df, names, text, start, tab.path, pd)
        start += len(df)


def _typed(df, names, text, start, path, pd):
    """The chunk's columns in order: text as objects, numeric as float64."""
    out = {}
    for n in names:
        col = df[n]
        if n in text:
            out[n] = col.astype(object).where(col.notna(), None)
            continue
        values = pd.to_numeric(col, errors="coerce")
        bad = values.isna().to_numpy() & col.notna().to_numpy()
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise CLIError(
                f"{path}: data row {start + i + 1} holds {col.iloc[i]!r} in column "
                f"{n!r}, which is numeric in the reference; give a number or a "
                "missing cell (or name the column in --categorical when fitting)."
            )
        out[n] = values.astype(np.float64)
    return pd.DataFrame(out, index=pd.RangeIndex(start, start + len(df)))
