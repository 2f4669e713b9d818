"""Tables with numeric, boolean and categorical columns and missing cells.

A drift test of a monitoring table reads it into a :class:`Table`: one typed
array per column, so that the encoding (:mod:`._encode`) never looks at a
DataFrame again. A column is

- *numeric*: float64 values, NaN where a cell is missing (integer, float and
  pandas' nullable types; booleans are numeric 0/1 columns);
- *categorical*: integer codes into the column's ``levels``, -1 where a cell
  is missing (pandas ``category``, ``object`` and ``string`` columns, and any
  column of a numpy object or string array that is not all numbers).

:func:`is_table` says which inputs take this path: a DataFrame with a
non-numeric column or a missing cell, or a numpy array of objects or
strings. Numeric arrays and numeric DataFrames without missing cells never
do, so their test is unchanged. Reading a table needs pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .._errors import InputError

__all__ = ["Column", "Table", "is_table", "read_table", "union_levels"]

#: ``pandas.api.types.infer_dtype`` answers that make an object column numeric.
_NUMBER_KINDS = frozenset({"integer", "floating", "mixed-integer-float", "decimal"})


@dataclass(frozen=True)
class Column:
    """One column of a :class:`Table`.

    Attributes
    ----------
    name : str
        The column's name (``'x3'`` for the fourth column of an unnamed table).
    kind : {'numeric', 'categorical'}
    values : ndarray of shape (n_rows,)
        float64 with NaN for a missing cell ('numeric'), or integer codes into
        ``levels`` with -1 for a missing cell ('categorical').
    levels : ndarray of object
        The categorical column's distinct values (empty for 'numeric').
    boolean : bool
        A numeric column read from booleans (values 0 and 1).
    """

    name: str
    kind: str
    values: np.ndarray
    levels: np.ndarray = None
    boolean: bool = False

    @property
    def missing(self) -> np.ndarray:
        """Boolean mask of the missing cells."""
        if self.kind == "numeric":
            return np.isnan(self.values)
        return self.values < 0

    def take(self, rows) -> Column:
        return replace(self, values=self.values[rows])


def union_levels(a: Column, b: Column):
    """Levels of both columns and the codes of each in them."""
    import pandas as pd

    union = pd.Index(a.levels, dtype=object).append(pd.Index(b.levels, dtype=object))
    union = union.unique()
    maps = []
    for col in (a, b):
        lookup = np.append(union.get_indexer(pd.Index(col.levels, dtype=object)), -1)
        maps.append(lookup[col.values])  # code -1 reads the appended -1
    return np.asarray(union, dtype=object), maps


@dataclass(frozen=True)
class Table:
    """Typed columns of one sample (see the module docstring).

    Attributes
    ----------
    columns : tuple of Column
    n_rows : int
    named : bool
        Whether the column names came from the input (a DataFrame).
    """

    columns: tuple
    n_rows: int
    named: bool = False

    @property
    def shape(self) -> tuple:
        return (self.n_rows, len(self.columns))

    @property
    def names(self) -> list:
        return [c.name for c in self.columns]

    @property
    def schema(self) -> tuple:
        """``(kind, boolean)`` per column: what a table tested against this must be."""
        return tuple((c.kind, c.boolean) for c in self.columns)

    def take(self, rows) -> Table:
        """The rows ``rows`` (a slice, indices or a boolean mask)."""
        columns = tuple(c.take(rows) for c in self.columns)
        n = columns[0].values.shape[0] if columns else 0
        return replace(self, columns=columns, n_rows=n)

    def __getitem__(self, rows) -> Table:
        return self.take(rows)

    def concat(self, other: Table) -> Table:
        """The rows of ``self`` then those of ``other`` (categorical levels united)."""
        columns = []
        for a, b in zip(self.columns, other.columns, strict=True):
            if a.kind == "numeric":
                columns.append(replace(a, values=np.concatenate([a.values, b.values])))
            else:
                levels, (ca, cb) = union_levels(a, b)
                codes = np.concatenate([ca, cb])
                columns.append(replace(a, values=codes, levels=levels))
        return replace(self, columns=tuple(columns), n_rows=self.n_rows + other.n_rows)

    def numeric_array(self) -> np.ndarray:
        """The numeric columns as an (n_rows, n_columns) float64 array."""
        return np.column_stack([c.values for c in self.columns])

    @classmethod
    def from_array(cls, X: np.ndarray, names=None) -> Table:
        """A table of the numeric columns of ``X`` (finite float64)."""
        named = names is not None
        names = [str(v) for v in names] if named else _default_names(X.shape[1])
        columns = tuple(
            Column(name, "numeric", X[:, j], np.empty(0, dtype=object))
            for j, name in enumerate(names)
        )
        return cls(columns, X.shape[0], named)


def _default_names(d: int) -> list:
    return [f"x{j}" for j in range(d)]


def _is_frame(X) -> bool:
    return hasattr(X, "dtypes") and hasattr(X, "columns") and hasattr(X, "iloc")


def is_table(X) -> bool:
    """Whether ``X`` needs the table path (categorical columns or missing cells).

    A pandas DataFrame does when a column is not numeric or boolean, or when a
    cell is missing; a numpy array (or nested list) when it holds objects or
    strings. Numeric arrays never do: a NaN in them stays an error, as a
    NaN in a float matrix is more often a computation gone wrong than a
    missing cell.
    """
    if _is_frame(X):
        import pandas as pd

        types = pd.api.types
        for dtype in X.dtypes:
            number = types.is_numeric_dtype(dtype) or types.is_bool_dtype(dtype)
            if isinstance(dtype, pd.CategoricalDtype) or not number:
                return True
        return bool(X.isna().to_numpy().any())
    dtype = getattr(X, "dtype", None)
    if dtype is None and isinstance(X, (list, tuple)):
        try:
            dtype = np.asarray(X).dtype
        except (ValueError, TypeError):
            return False
    return dtype is not None and np.dtype(dtype).kind in ("O", "U", "S")


def _require_pandas(name: str):
    try:
        import pandas as pd
    except ImportError as exc:  # pragma: no cover - pandas is a test dependency
        raise ImportError(
            f"{name} has categorical columns or missing cells; reading them needs "
            "pandas (pip install pandas)."
        ) from exc
    return pd


def _bad_kind(name, column, dtype):
    return InputError(
        "column {colname!r} of {argument} holds {dtype} values, which a drift "
        "test cannot compare; convert it to numbers (e.g. seconds since a date) "
        "or to a category, or leave it out.",
        argument=name,
        column=column,
        colname=column,
        dtype=str(dtype),
    )


def _numeric(series, pd, name, column) -> np.ndarray:
    """float64 values of a numeric series, NaN where missing; inf is an error."""
    values = series.to_numpy(dtype=np.float64, na_value=np.nan)
    bad = np.isinf(values)
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            "column {colname!r} of {argument} has an infinite value in row {rownum}; "
            "replace it with a finite value or a missing cell.",
            argument=name,
            column=column,
            row=row,
            colname=column,
            rownum=row,
        )
    return values


def _to_numbers(series, pd, name, column) -> np.ndarray:
    """An object series read as numbers (the reference's column is numeric)."""
    converted = pd.to_numeric(series, errors="coerce")
    bad = converted.isna().to_numpy() & ~series.isna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise InputError(
            "column {colname!r} of {argument} holds {value!r} in row {rownum}, but "
            "the column is numeric in X_ref; give numbers (or missing cells), or "
            "make the column categorical in both samples.",
            argument=name,
            column=column,
            row=row,
            colname=column,
            rownum=row,
            value=series.iloc[row],
        )
    return _numeric(converted, pd, name, column)


def _categorical(series, pd, name, column) -> tuple:
    if isinstance(series.dtype, pd.CategoricalDtype):
        codes = series.cat.codes.to_numpy().astype(np.intp)
        return codes, np.asarray(series.cat.categories, dtype=object)
    try:
        codes, uniques = pd.factorize(series, use_na_sentinel=True)
    except TypeError:
        raise _unhashable(series, name, column) from None
    return codes.astype(np.intp), np.asarray(uniques, dtype=object)


def _unhashable(series, name, column) -> TypeError:
    """The error for a cell that cannot be a level (a dict, a list)."""
    for row, value in enumerate(series):
        try:
            hash(value)
        except TypeError:
            return TypeError(
                f"column {column!r} of {name} holds a {type(value).__name__} in "
                f"row {row}; a cell's argument must be a string or a number (or "
                "a missing cell)."
            )
    return TypeError(f"column {column!r} of {name} holds values that are not levels.")


def _read_column(series, pd, name, column, schema=None) -> Column:
    """One column, as the reference's ``schema`` (kind, boolean) requires."""
    dtype = series.dtype
    empty = np.empty(0, dtype=object)
    if (
        pd.api.types.is_datetime64_any_dtype(dtype)
        or pd.api.types.is_timedelta64_dtype(dtype)
        or pd.api.types.is_complex_dtype(dtype)
    ):
        raise _bad_kind(name, column, dtype)
    if schema is not None and schema[0] == "categorical":
        codes, levels = _categorical(series, pd, name, column)
        return Column(column, "categorical", codes, levels)
    if isinstance(dtype, pd.CategoricalDtype):
        kind = "categorical"
    elif pd.api.types.is_bool_dtype(dtype):
        kind = "boolean"
    elif pd.api.types.is_numeric_dtype(dtype):
        kind = "numeric"
    else:
        inferred = pd.api.types.infer_dtype(series, skipna=True)
        kind = {"boolean": "boolean", "empty": "numeric"}.get(
            inferred, "numeric" if inferred in _NUMBER_KINDS else "categorical"
        )
    if schema is not None:  # numeric in the reference
        if kind == "categorical":
            values = _to_numbers(series, pd, name, column)
        else:
            values = _numeric(series, pd, name, column)
        return Column(column, "numeric", values, empty, schema[1])
    if kind == "categorical":
        if not isinstance(dtype, pd.CategoricalDtype):
            _refuse_numbers_as_text(series, pd, name, column)
        codes, levels = _categorical(series, pd, name, column)
        return Column(column, "categorical", codes, levels)
    values = _numeric(series, pd, name, column)
    return Column(column, "numeric", values, empty, kind == "boolean")


def _refuse_numbers_as_text(series, pd, name, column) -> None:
    """Refuse a text column whose every cell is a number.

    Read as levels, numbers lose their order and distance (a shift of every
    value becomes new levels, hidden by pooling), so the intent must be said:
    numbers (``astype(float)``) or codes (``astype('category')``).
    """
    cells = series.dropna()
    if cells.size == 0:
        return
    # A word among the first cells settles it without parsing the column.
    for part in (cells.iloc[:64], cells):
        if not pd.to_numeric(part.astype(str), errors="coerce").notna().all():
            return
    raise InputError(
        "column {colname!r} of {argument} holds numbers written as text (e.g. "
        "{example!r}); drift reads text as categories, which would ignore the "
        "numbers' order and distance. Convert the column: astype(float) for "
        "numbers, or astype('category') for codes (zip codes, ids).",
        argument=name,
        column=column,
        colname=column,
        example=str(cells.iloc[0]),
    )


def read_table(X, name: str = "X", schema=None) -> Table:
    """Read a DataFrame or array of objects into a :class:`Table`.

    Parameters
    ----------
    X : pandas DataFrame or array-like of shape (n_samples, n_features)
    name : str
        The argument's name, for errors.
    schema : tuple of (kind, boolean) or None
        The reference table's :attr:`Table.schema`: each column is read as the
        reference's column is (a text cell in a numeric column is an error).
    """
    pd = _require_pandas(name)
    named = _is_frame(X)
    if named:
        frame = X
    else:
        arr = np.asarray(X, dtype=object)
        if arr.ndim != 2:
            raise InputError(
                "{argument} must be 2-D (n_samples, n_features), got {k} "
                "dimension(s); reshape it, e.g. X.reshape(-1, 1).",
                argument=name,
                k=arr.ndim,
            )
        frame = pd.DataFrame(arr, columns=_default_names(arr.shape[1]))
    if schema is not None and len(schema) != frame.shape[1]:
        raise InputError(
            "{argument} has {k} features, but GaussianDriftDetector is expecting "
            "{n} features as input.",
            argument=name,
            k=frame.shape[1],
            n=len(schema),
        )
    columns = tuple(
        _read_column(
            frame.iloc[:, j],
            pd,
            name,
            str(frame.columns[j]),
            None if schema is None else schema[j],
        )
        for j in range(frame.shape[1])
    )
    return Table(columns, int(frame.shape[0]), named)
