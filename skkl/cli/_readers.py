"""Tables in: delimited text and Parquet, read as float64 and text columns.

Delimited text has a header row; the delimiter is sniffed among comma,
semicolon, tab and pipe, or given with ``--sep``; numbers use a decimal
point, or a decimal comma with ``--decimal comma``. Numbers are parsed by a C
parser: pyarrow's or pandas' when installed, else :func:`numpy.loadtxt`
(pyarrow and pandas are optional). A file with missing, malformed or
ragged cells takes a slower pure-Python pass that reports every problem
with its file line number (the header is line 1). Every engine reads the
same cells as numbers (:mod:`skkl.cli._numbers`) and refuses a row whose
field count differs from the header's.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import sys
import warnings
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._progress import ProgressBar
from ._errors import CLIError
from ._files import (
    FieldCounter,
    base_suffix,
    check_file,
    compression,
    open_binary,
    reading,
    short,
    tap,
)
from ._numbers import DECIMALS, parse_float

__all__ = [
    "DELIMITERS",
    "NA_VALUES",
    "PARQUET_SUFFIXES",
    "TEXT_SUFFIXES",
    "DelimitedTable",
    "Frame",
    "ParquetTable",
    "note_dropped",
    "open_table",
    "require_rows",
]

#: Cells read as missing values (after stripping spaces).
NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "NAN", "null", "NULL", "Null", "None")
_NA = frozenset(NA_VALUES)
#: Delimiters the sniffer chooses among, with their names.
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
PARQUET_SUFFIXES = (".parquet", ".pq")
TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".tab", ".psv", ".dat")
_SNIFF_BYTES = 1 << 16  # of data lines after the header, to sniff the delimiter
_SNIFF_LINES = 50
# The header row is read whole whatever its length, up to this: 16 MiB hold a
# million column names of 16 characters, far more columns than any command
# computes on (drift's moments grow as d^2); a longer first line is not a
# header (a binary file, or one without line breaks).
_HEADER_BYTES = 1 << 24
# csv's own limit is 128 KiB per cell; a cell is read whole like the C
# parsers read it (the largest limit a C long holds on every platform).
_CELL_CHARS = 2**31 - 1
_LISTED = 5  # line numbers named in an error message
_SHOWN_COLUMNS = 30  # column names listed in an error message
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # as csv and the C parsers split lines


@contextlib.contextmanager
def _csv_reading(path: Path, where=lambda: ""):
    """Lift csv's cell-size limit; report its errors (NUL bytes...) as bad input."""
    limit = csv.field_size_limit(_CELL_CHARS)
    try:
        yield
    except csv.Error as exc:
        raise CLIError(f"{path}: {where()}malformed text ({exc}).") from None
    finally:
        csv.field_size_limit(limit)


@contextlib.contextmanager
def _damage_first(path: Path, fh):
    """On a malformed line of a compressed file, report damage to it first.

    A damaged stream decompresses to garbage that a checksum at its end
    catches: the real cause of the malformed line.
    """
    try:
        yield
    except CLIError:
        if compression(path) is not None:
            with reading(path):
                while fh.read(1 << 20):
                    pass
        raise


def _lines_note(lines) -> str:
    """'line 3' / 'lines 3, 7, 9, ...' for the first few of ``lines``."""
    lines = [int(v) for v in lines]
    shown = ", ".join(map(str, lines[:_LISTED]))
    more = ", ..." if len(lines) > _LISTED else ""
    return f"line{'s' if len(lines) > 1 else ''} {shown}{more}"


def _is_number(text: str) -> bool:
    try:
        parse_float(text)
    except ValueError:
        return False
    return True


@dataclass
class Frame:
    """Columns read from a table.

    Attributes
    ----------
    numeric : ndarray of shape (n_rows, n_numeric)
        NaN where a cell is missing (``keep_missing=True`` only).
    text : dict of str to ndarray of str
    n_dropped : int
        Rows dropped for missing values (``dropna=True``).
    text_missing : dict of str to ndarray of bool
        Where a text cell is missing (``keep_missing=True`` only).
    """

    numeric: np.ndarray
    text: dict = field(default_factory=dict)
    n_dropped: int = 0
    text_missing: dict = field(default_factory=dict)


@dataclass
class _Raw:
    """What a reader returns before missing values are handled."""

    numeric: np.ndarray  # NaN where missing
    text: dict  # name -> array of str
    text_missing: np.ndarray  # (n_rows, n_text) bool
    lines: np.ndarray | None = None  # file line of each row (slow path only)

    @classmethod
    def empty(cls, numeric, text) -> _Raw:
        texts = {name: np.array([], dtype=str) for name in text}
        return cls(np.empty((0, len(numeric))), texts, np.zeros((0, len(text)), bool))


class _Table:
    """What delimited and Parquet tables share: columns and missing values."""

    path: Path
    columns: list[str]
    has_header: bool = True
    header_line: int | None = None  # file line of the header, when it has lines

    def require_header(self) -> None:
        if not self.has_header:
            raise CLIError(
                f"{self.path}: the first line holds only numbers; expected a "
                "header row with column names."
            )

    def _hint(self) -> str:
        return ""

    def _columns_note(self) -> str:
        shown = ", ".join(
            c if c and len(c) <= 40 else short(c) for c in self.columns[:_SHOWN_COLUMNS]
        )
        if len(self.columns) > _SHOWN_COLUMNS:
            shown += f", ... ({len(self.columns)} columns)"
        return shown

    def data_columns(self) -> list[str]:
        """Every column, for commands that use all columns by default."""
        unnamed = [j + 1 for j, name in enumerate(self.columns) if not name]
        if unnamed:
            raise CLIError(
                f"{self.path}: column {unnamed[0]} of {len(self.columns)} has no name "
                "in the header (a trailing delimiter?); name every column, or "
                "choose the columns with --columns."
            )
        return list(self.columns)

    def select(self, names) -> list[str]:
        """Check that ``names`` are columns of the table and return them."""
        names = list(names)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise CLIError(f"column(s) {twice} are asked for twice; name each once.")
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise CLIError(
                f"{self.path}: no column named {', '.join(map(short, missing))} "
                f"(columns: {self._columns_note()}).{self._hint()}"
            )
        return list(names)

    def read(
        self,
        numeric,
        text=(),
        *,
        dropna: bool = False,
        progress: bool = True,
        keep_missing: bool = False,
    ) -> Frame:
        """Read ``numeric`` columns as float64 and ``text`` columns as strings.

        Rows with a missing value (see ``NA_VALUES``) or an infinite one in
        these columns are dropped with ``dropna``, else reported with their
        line numbers; with ``keep_missing`` (and not ``dropna``), missing
        cells are kept (NaN, and ``Frame.text_missing``) and only infinite
        values are reported.
        """
        numeric, text = self.select(numeric), self.select(text)
        keep = keep_missing and not dropna
        raw = self._read(numeric, text, dropna or keep, progress)
        if keep:
            bad = np.any(np.isinf(raw.numeric), axis=1)
            if np.any(bad):
                rows = ", ".join(str(i + 1) for i in np.flatnonzero(bad)[:_LISTED])
                raise CLIError(
                    f"{self.path}: {int(bad.sum())} of {bad.size} rows have "
                    f"infinite values in the columns used (data rows {rows}); "
                    "replace them (missing cells are fine), or drop those rows "
                    "with --dropna."
                )
            missing = {k: raw.text_missing[:, j] for j, k in enumerate(text)}
            return Frame(raw.numeric, raw.text, text_missing=missing)
        bad = ~np.all(np.isfinite(raw.numeric), axis=1) | np.any(
            raw.text_missing, axis=1
        )
        if not np.any(bad):
            return Frame(raw.numeric, raw.text)
        if not dropna:
            raise CLIError(self._missing_message(raw, bad, numeric, text))
        keep = ~bad
        return Frame(
            raw.numeric[keep],
            {k: v[keep] for k, v in raw.text.items()},
            n_dropped=int(bad.sum()),
        )

    def _read(self, numeric, text, dropna, progress) -> _Raw:
        """The columns, NaN where missing (subclasses)."""
        raise NotImplementedError

    def _missing_message(self, raw, bad, numeric, text) -> str:
        counts = [
            f"{short(name)}: {int(k)}"
            for name, k in zip(
                [*numeric, *text],
                [
                    *np.sum(~np.isfinite(raw.numeric), axis=0),
                    *np.sum(raw.text_missing, axis=0),
                ],
                strict=True,
            )
            if k
        ]
        n_bad, n = int(bad.sum()), bad.size
        if raw.lines is not None:
            where = _lines_note(raw.lines[bad])
            if self.header_line is not None:
                where += f" (the header is line {self.header_line})"
        else:
            where = "rows " + ", ".join(
                str(i + 1) for i in np.flatnonzero(bad)[:_LISTED]
            )
        return (
            f"{self.path}: {n_bad} of {n} rows have missing or non-finite values "
            f"in the columns used ({', '.join(counts)}), on {where}; drop those "
            "rows with --dropna, or impute the values first."
        )


def _head(path: Path) -> tuple[list[str], bool]:
    """The lines up to the header (read whole) and a sample of those after it.

    Returns the lines and whether they are the whole file.
    """
    with reading(path), open_binary(path) as fh:
        chunks = []
        while True:  # blank lines, then the header
            line = fh.readline(_HEADER_BYTES + 1)
            chunks.append(line)
            if len(line) > _HEADER_BYTES:
                raise CLIError(
                    f"{path}: the first line is longer than {_HEADER_BYTES >> 20} "
                    "MiB: not a header row (is this a delimited text file?)."
                )
            if not line.endswith(b"\n") or line.strip():
                break
        size, complete = 0, not line.endswith(b"\n")
        while not complete and size < _SNIFF_BYTES and len(chunks) < _SNIFF_LINES:
            line = fh.readline(_SNIFF_BYTES)
            if not line.endswith(b"\n"):  # the end of the file, or a cut line
                complete = len(line) < _SNIFF_BYTES
                chunks.append(line if complete else b"")
                break
            chunks.append(line)
            size += len(line)
        text = b"".join(chunks).decode("utf-8-sig")
    lines = _LINE_BREAK.split(text)
    if lines and not lines[-1]:
        lines.pop()  # after the last line break
    return lines, complete


class DelimitedTable(_Table):
    """A delimited text file with a header row (possibly compressed)."""

    #: C parsers tried in turn; each gives up (None) when its package is
    #: missing or the file has malformed cells.
    engines = ("pyarrow", "pandas", "numpy")

    def __init__(self, path: Path, sep: str | None = None, decimal: str = "."):
        self.path = path
        lines, complete = _head(path)
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is None:
            raise CLIError(f"{path}: the file is empty; expected a header row.")
        sample = lines[first : first + _SNIFF_LINES]
        self.sample = sample  # the header (if any) and the first data lines
        with _csv_reading(path, lambda: "in the first lines, "):
            self.delimiter = sep if sep is not None else _sniff(sample)
            header = next(csv.reader(sample[:1], delimiter=self.delimiter))
        self.sniffed = sep is None
        self.decimal = decimal
        if decimal == self.delimiter:
            raise CLIError(
                f"{path}: the delimiter and the decimal separator are both "
                f"{DECIMALS[decimal]}s; pass --sep semicolon (or the file's "
                "delimiter)."
            )
        self.columns = [c.strip() for c in header]
        # A header of numbers is data (headerless packed rows, say).
        self.has_header = not all(_is_number(c) for c in self.columns if c)
        self.skip = first + 1 if self.has_header else first
        self.header_line = first + 1 if self.has_header else None
        self.header_bytes = len(lines[first].encode())
        if not self.has_header:
            self.columns = [f"column {j + 1}" for j in range(len(header))]
        body = lines[first + 1 :] if self.has_header else sample
        self.no_data = complete and not any(line.strip() for line in body)
        dup = sorted({c for c in self.columns if c and self.columns.count(c) > 1})
        if dup:
            raise CLIError(
                f"{path}: duplicate column names {', '.join(map(short, dup))}."
            )

    def _hint(self) -> str:
        if len(self.columns) != 1:
            return ""
        inside = [d for d in DELIMITERS if d != self.delimiter and d in self.columns[0]]
        if not inside:
            return ""
        name = DELIMITERS[inside[0]]
        return (
            f" The header is one column that contains {name}s: the file is "
            f"probably {name}-delimited; pass --sep {name}."
        )

    def _progress(self, progress: bool) -> ProgressBar:
        size = self.path.stat().st_size
        return ProgressBar(
            size,
            f"reading {self.path.name}",
            unit="bytes",
            enabled=None if progress else False,
        )

    def _read(self, numeric, text, dropna, progress) -> _Raw:
        if self.no_data:
            return _Raw.empty(numeric, text)
        idx = [self.columns.index(n) for n in [*numeric, *text]]
        raw = None
        with self._progress(progress) as bar:
            for engine in self.engines:
                bar.n = 0  # a failed engine may have read part of the file
                reader = getattr(self, f"_read_{engine}")
                raw = reader(idx[: len(numeric)], idx[len(numeric) :], bar)
                if raw is not None:
                    break
        clean = raw is not None and (
            dropna
            or (np.all(np.isfinite(raw.numeric)) and not np.any(raw.text_missing))
        )
        if clean:
            return raw
        # Missing or malformed cells: a pure-Python pass that names the lines.
        with self._progress(progress) as bar:
            return self._read_slow(numeric, text, bar)

    @contextlib.contextmanager
    def _counted(self, bar):
        """The file's bytes, with each data line's fields counted on the way."""
        counter = FieldCounter(self.delimiter.encode(), len(self.columns), self.skip)
        with open_binary(self.path, bar) as fh, tap(fh, counter.feed) as checked:
            yield checked, counter

    def _read_pyarrow(self, num_idx, text_idx, bar) -> _Raw | None:
        try:
            import pyarrow as pa
            from pyarrow import csv as pa_csv
        except ImportError:  # also a pyarrow built for another numpy
            return None
        names = [f"f{j}" for j in range(len(self.columns))]
        types = {names[j]: pa.float64() for j in num_idx}
        types.update({names[j]: pa.string() for j in text_idx})
        # A row must fit in one of Arrow's blocks (1 MiB by default).
        block = max(1 << 20, 2 * self.header_bytes)
        try:
            with reading(self.path), contextlib.ExitStack() as stack:
                # Arrow reads a plain file by path fastest, off the GIL.
                plain = not bar.enabled and compression(self.path) is None
                source = (
                    str(self.path)
                    if plain
                    else stack.enter_context(open_binary(self.path, bar))
                )
                tab = pa_csv.read_csv(
                    source,
                    read_options=pa_csv.ReadOptions(
                        skip_rows=self.skip,
                        column_names=names,
                        encoding="utf8",
                        block_size=block,
                    ),
                    parse_options=pa_csv.ParseOptions(delimiter=self.delimiter),
                    convert_options=pa_csv.ConvertOptions(
                        include_columns=[names[j] for j in [*num_idx, *text_idx]],
                        column_types=types,
                        null_values=list(NA_VALUES),
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=False,
                        decimal_point=self.decimal,
                    ),
                )
        except (pa.ArrowInvalid, ValueError):  # malformed: the slow pass explains
            return None
        n = tab.num_rows
        X = np.empty((n, len(num_idx)))
        for k, j in enumerate(num_idx):
            X[:, k] = tab.column(names[j]).to_numpy(zero_copy_only=False)
        texts, missing = {}, np.zeros((n, len(text_idx)), dtype=bool)
        for k, j in enumerate(text_idx):
            col = tab.column(names[j])
            missing[:, k] = col.is_null().to_numpy(zero_copy_only=False)
            values = np.array(col.fill_null("").to_pylist(), dtype=str)
            texts[self.columns[j]] = np.char.strip(values)
            missing[:, k] |= np.isin(texts[self.columns[j]], NA_VALUES)
        return _Raw(X, texts, missing)

    def _read_pandas(self, num_idx, text_idx, bar) -> _Raw | None:
        try:
            import pandas as pd
        except ImportError:
            return None
        try:
            with reading(self.path), self._counted(bar) as (source, counter):
                df = pd.read_csv(
                    source,
                    sep=self.delimiter,
                    decimal=self.decimal,
                    engine="c",
                    header=None,
                    skiprows=self.skip,
                    usecols=[*num_idx, *text_idx],
                    dtype={j: str for j in text_idx},
                    na_values=list(NA_VALUES),
                    keep_default_na=False,
                    encoding="utf-8-sig",
                    skip_blank_lines=True,
                    low_memory=False,
                )
        except ValueError:  # ragged rows, bad quoting: the slow pass explains
            return None
        if not counter.ok or any(df[j].dtype.kind not in "iuf" for j in num_idx):
            return None  # a ragged row, or non-numeric cells
        X = (
            df[num_idx].to_numpy(dtype=np.float64)
            if num_idx
            else np.empty((len(df), 0))
        )
        texts, missing = {}, np.zeros((len(df), len(text_idx)), dtype=bool)
        for k, j in enumerate(text_idx):
            col = df[j]
            missing[:, k] = col.isna().to_numpy()
            texts[self.columns[j]] = col.fillna("").str.strip().to_numpy(dtype=str)
        return _Raw(X, texts, missing)

    def _read_numpy(self, num_idx, text_idx, bar) -> _Raw | None:
        if self.decimal != ".":
            return None  # loadtxt reads decimal points only

        def load(usecols, dtype, progress):
            with (
                reading(self.path),
                self._counted(progress) as (fh, counter),
                warnings.catch_warnings(),
            ):
                # numpy 1.23-1.26 warn that blank lines no longer count as rows.
                warnings.filterwarnings("ignore", "Input line", UserWarning)
                values = np.loadtxt(
                    fh,  # bytes, decoded by numpy: read in large blocks
                    encoding="utf-8-sig",
                    delimiter=self.delimiter,
                    skiprows=self.skip,
                    usecols=usecols,
                    dtype=dtype,
                    ndmin=2,
                    comments=None,
                    quotechar='"',
                )
            if not counter.ok:
                raise ValueError("a row with another number of fields")
            return values

        try:
            X = load(num_idx, np.float64, bar) if num_idx else None
            T = load(text_idx, str, None) if text_idx else None
        except ValueError:
            return None
        n = len(X) if X is not None else len(T)
        X = np.empty((n, 0)) if X is None else X
        texts, missing = {}, np.zeros((n, len(text_idx)), dtype=bool)
        for k, j in enumerate(text_idx):
            col = np.char.strip(T[:, k])
            missing[:, k] = np.isin(col, NA_VALUES)
            texts[self.columns[j]] = col
        return _Raw(X, texts, missing)

    def _read_slow(self, numeric, text, bar) -> _Raw:
        num_idx = [self.columns.index(n) for n in numeric]
        text_idx = [self.columns.index(n) for n in text]
        values, texts, lines = array("d"), [], []  # 8 bytes per number
        non_numeric = {}  # column -> [count, first value, first line]
        with reading(self.path), open_binary(self.path, bar) as fh:
            tf = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
            reader = csv.reader(tf, delimiter=self.delimiter)
            with (
                _damage_first(self.path, fh),
                _csv_reading(self.path, lambda: f"line {reader.line_num + 1}: "),
            ):
                for _ in range(self.skip):  # blank lines, then the header
                    next(reader, None)
                end = reader.line_num
                for row in reader:
                    start, end = end + 1, reader.line_num
                    if self._blank(row):
                        continue  # as the C parsers skip blank lines
                    if len(row) != len(self.columns):
                        raise CLIError(
                            self._ragged_message(row, len(lines), start, end)
                        )
                    lines.append(end)
                    for j in num_idx:
                        v = row[j].strip()
                        if v in _NA:
                            values.append(np.nan)
                            continue
                        try:
                            values.append(parse_float(v, self.decimal))
                        except ValueError:
                            entry = non_numeric.setdefault(j, [0, v, end])
                            entry[0] += 1
                            values.append(np.nan)
                    if text_idx:
                        texts.append([row[j].strip() for j in text_idx])
        n = len(lines)
        if non_numeric:
            raise CLIError(self._non_numeric_message(non_numeric, n))
        X = np.frombuffer(values, dtype=np.float64).reshape(n, len(num_idx)).copy()
        T = np.array(texts, dtype=str).reshape(n, len(text_idx))
        return _Raw(
            X,
            {name: T[:, k] for k, name in enumerate(text)},
            np.isin(T, NA_VALUES),
            np.array(lines, dtype=np.int64),
        )

    def _blank(self, row) -> bool:
        return not row or (
            len(row) == 1 and not row[0].strip() and len(self.columns) > 1
        )

    def _ragged_message(self, row, n_rows, start, end) -> str:
        where = f"line {end}"
        if start != end:  # a quoted cell holds line breaks
            where = f"lines {start}-{end}; is a quote left open on line {start}?"
        return (
            f"{self.path}: data row {n_rows + 1} has {len(row)} fields ({where}), "
            f"the header has {len(self.columns)}{self._delimiter_note()}; every "
            "row needs one field per column (quote a cell that holds the "
            "delimiter)."
        )

    def _delimiter_note(self) -> str:
        name = DELIMITERS.get(self.delimiter, repr(self.delimiter))
        how = "sniffed" if self.sniffed else "from --sep"
        return f" (delimiter: {name}, {how})"

    def _non_numeric_message(self, non_numeric, n) -> str:
        whole, partial = [], []
        for j, (k, example, line) in non_numeric.items():
            name = short(self.columns[j])
            if k == n:
                whole.append(f"{name} (e.g. {short(example)})")
            else:
                partial.append(
                    f"{name} has {k} non-numeric value(s) (e.g. {short(example)} "
                    f"on line {line})"
                )
        parts = []
        examples = [example for _, example, _ in non_numeric.values()]
        if self.decimal == "." and any(_DECIMAL_COMMA.match(e) for e in examples):
            parts.append(
                "numbers with a decimal comma (e.g. '1,5') are read as numbers "
                "only with --decimal comma"
            )
        if self.decimal != "." and any("." in e for e in examples):
            parts.append(
                "with --decimal comma a number with a point is ambiguous ('1.234': "
                "one thousand and more, or one and a bit?)"
            )
        if any("_" in e for e in examples):
            parts.append("digit separators such as '1_000' are not numbers")
        if whole:
            parts.append(
                f"non-numeric column(s) {', '.join(whole)}; choose numeric columns "
                "with --columns"
            )
        if partial:
            parts.append(
                "; ".join(partial) + "; fix those cells (missing values may be "
                f"empty or one of {', '.join(repr(v) for v in NA_VALUES[1:5])})"
            )
        return f"{self.path}: " + "; ".join(parts) + "."


def _sniff(lines: list[str]) -> str:
    """The delimiter that splits the header and the next lines alike."""
    best, best_width = ",", 1
    fallback, fallback_width = ",", 1
    for cand in DELIMITERS:
        rows = [r for r in csv.reader(lines, delimiter=cand) if r]
        width = len(rows[0])
        if width <= 1:
            continue
        body = rows[1:-1] if len(rows) > 2 else rows[1:]  # last may be partial
        if all(len(r) == width for r in body) and width > best_width:
            best, best_width = cand, width
        if width > fallback_width:
            fallback, fallback_width = cand, width
    return best if best_width > 1 else fallback


class ParquetTable(_Table):
    """A Parquet file (needs pyarrow)."""

    def __init__(self, path: Path):
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:
            raise CLIError(
                f"{path}: reading Parquet needs pyarrow; install it with "
                f"`pip install 'skkl[parquet]'` ({exc})."
            ) from None
        self.path = path
        try:
            self._file = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow's errors are not a public hierarchy
            raise CLIError(f"{path}: not a readable Parquet file ({exc}).") from None
        self.columns = list(self._file.schema_arrow.names)

    def _read(self, numeric, text, dropna, progress) -> _Raw:
        import pyarrow as pa

        try:
            table = self._file.read(columns=[*numeric, *text])
        except Exception as exc:  # a damaged column chunk
            raise CLIError(
                f"{self.path}: not a readable Parquet file ({exc})."
            ) from None
        X = np.empty((table.num_rows, len(numeric)))
        for k, name in enumerate(numeric):
            col = table.column(name)
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
                raise CLIError(
                    f"{self.path}: non-numeric column(s) {short(name)} (type "
                    f"{col.type}); choose numeric columns with --columns."
                )
            X[:, k] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
        texts, missing = {}, np.zeros((table.num_rows, len(text)), dtype=bool)
        for k, name in enumerate(text):
            values = table.column(name).to_pylist()
            missing[:, k] = [v is None or str(v).strip() in _NA for v in values]
            texts[name] = np.array(
                ["" if v is None else str(v).strip() for v in values]
            )
        return _Raw(X, texts, missing)


def open_table(path: str, sep: str | None = None, decimal: str = ".") -> _Table:
    """A delimited or Parquet table, by the file's extension."""
    p = check_file(path)
    if base_suffix(p) in PARQUET_SUFFIXES:
        if compression(p):
            raise CLIError(f"{path}: Parquet compresses internally; pass the .parquet.")
        return ParquetTable(p)
    return DelimitedTable(p, sep, decimal)


def require_rows(n: int, minimum: int, path: str) -> None:
    if n < minimum:
        raise CLIError(f"{path} has {n} data row(s); at least {minimum} are needed.")


def note_dropped(frame: Frame, path: str, command: str) -> None:
    """Say on stderr how many rows ``--dropna`` dropped."""
    if frame.n_dropped:
        n = frame.n_dropped + len(frame.numeric)
        print(
            f"skkl {command}: dropped {frame.n_dropped} of {n} rows of {path} with "
            "missing values (--dropna)",
            file=sys.stderr,
        )
