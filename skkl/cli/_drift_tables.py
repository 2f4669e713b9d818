"""``skkl drift`` on mixed files: text columns as categories, missing cells kept.

Each column of a drift file is read as numbers or as text. A column is text
when a sampled cell of either file is not a number and not missing (the first
lines of a delimited file; the column's type in a Parquet file) -- a number
written another way ('1,5' without ``--decimal comma``, '1_000') keeps the
column numeric, so that the reader explains it --, or when
``--categorical`` names it (numeric codes: zip codes, product ids). Text
columns are categorical for the detector; missing cells (empty, NA, ...) are
kept and encoded (a missingness indicator), unless ``--dropna`` drops their
rows. A table with neither text columns nor missing cells reaches the
detector as a float array, as before.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from ._errors import CLIError
from ._numbers import parse_float
from ._readers import NA_VALUES, DelimitedTable, note_dropped, require_rows

__all__ = ["DriftTables", "read_drift_tables", "text_columns", "to_frame"]

_NA = frozenset(NA_VALUES)
# Numbers written another way (a decimal comma without --decimal comma, digit
# separators): the column stays numeric, so the reader explains the cells.
_NUMBER_LIKE = re.compile(r"^[-+]?[\d_]+([.,][\d_]+)?$")


def _sampled_text(tab, names) -> set:
    """Columns of ``tab`` with a sampled cell that is neither a number nor missing."""
    if not isinstance(tab, DelimitedTable):  # Parquet: the column types
        import pyarrow as pa

        schema = tab._file.schema_arrow
        return {
            n
            for n in names
            if not (
                pa.types.is_integer(schema.field(n).type)
                or pa.types.is_floating(schema.field(n).type)
            )
        }
    import csv

    rows = list(csv.reader(tab.sample, delimiter=tab.delimiter))
    if tab.has_header:
        rows = rows[1:]
    where = {n: tab.columns.index(n) for n in names}
    found = set()
    for row in rows:
        if len(row) != len(tab.columns):
            continue  # a cut last line, or a ragged one the reader reports
        for name, j in where.items():
            cell = row[j].strip()
            if name in found or cell in _NA:
                continue
            try:
                parse_float(cell, tab.decimal)
            except ValueError:
                if not _NUMBER_LIKE.match(cell):
                    found.add(name)
    return found


def text_columns(tables, names, categorical=()) -> list:
    """The columns of ``names`` to read as text (categorical), in order."""
    text = set(categorical or ())
    for tab in tables:
        text |= _sampled_text(tab, names)
    return [n for n in names if n in text]


@dataclass
class DriftTables:
    """Both samples as the detector takes them, and what reading found.

    Attributes
    ----------
    reference, current : ndarray or pandas.DataFrame
        Float arrays when every column is numeric and no cell is missing,
        else DataFrames (text columns as categories, missing cells as NA).
    text : list of str
        The columns read as categorical.
    frames : tuple of Frame
        What the reader returned (row counts, rows dropped).
    """

    reference: object
    current: object
    text: list
    frames: tuple

    @property
    def n_rows(self) -> tuple:
        return tuple(len(f.numeric) for f in self.frames)


def to_frame(frame, names, numeric, text):
    """A DataFrame of a read ``frame``: text columns categorical, missing cells NA."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - pandas is a test dependency
        raise CLIError(
            "text columns or missing cells in a drift file need pandas "
            "(pip install pandas), or --dropna and numeric --columns."
        ) from None
    cols = {n: frame.numeric[:, k] for k, n in enumerate(numeric)}
    for n in text:
        values = frame.text[n].astype(object)
        values[frame.text_missing.get(n, np.zeros(values.size, bool))] = None
        cols[n] = pd.Categorical(values)
    return pd.DataFrame({n: cols[n] for n in names})


def read_drift_tables(tabs, paths, names, categorical, dropna) -> DriftTables:
    """Read both drift files on ``names`` (see the module docstring).

    ``tabs`` are the opened tables (reference, current) and ``paths`` their
    names for messages; ``categorical`` the ``--categorical`` columns.
    """
    for tab in tabs:
        tab.select(categorical or ())
    text = text_columns(tabs, names, categorical)
    numeric = [n for n in names if n not in text]
    frames = []
    for tab, path in zip(tabs, paths, strict=True):
        frame = tab.read(numeric, text, dropna=dropna, keep_missing=True)
        note_dropped(frame, path, "drift")
        require_rows(len(frame.numeric), 2, path)
        frames.append(frame)
    missing = any(
        np.isnan(f.numeric).any() or any(m.any() for m in f.text_missing.values())
        for f in frames
    )
    if not text and not missing:
        return DriftTables(frames[0].numeric, frames[1].numeric, [], tuple(frames))
    ref, cur = (to_frame(f, names, numeric, text) for f in frames)
    return DriftTables(ref, cur, text, tuple(frames))
