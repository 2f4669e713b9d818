"""The command line's files: tables in, Gaussians in, matrices out.

Tables are delimited text (the delimiter sniffed among comma, semicolon, tab
and pipe, or given with ``--sep``), optionally compressed (``.gz``, ``.bz2``,
``.xz``, ``.zip``, by extension), or Parquet (with pyarrow). Numbers are
parsed by a C parser: pandas' when pandas is installed, else
:func:`numpy.loadtxt`; pandas is not a dependency. Files with missing or
malformed cells take a slower pure-Python pass that reports every problem
with its file line number (the header is line 1).

Packed Gaussians are the rows of :meth:`skkl.Gaussians.pack` under a header
that names the layout (:func:`packed_columns`), so a file cannot be re-read
with the wrong covariance type.
"""

from __future__ import annotations

import bz2
import contextlib
import csv
import gzip
import io
import lzma
import re
import sys
import warnings
import zipfile
from array import array
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._progress import ProgressBar
from ._errors import CLIError

__all__ = [
    "DELIMITERS",
    "NA_VALUES",
    "Frame",
    "check_file",
    "layout_from_columns",
    "open_table",
    "packed_columns",
    "parse_sep",
    "read_gaussians",
    "write_matrix",
    "write_packed",
]

#: Cells read as missing values (after stripping spaces).
NA_VALUES = ("", "NA", "N/A", "NaN", "nan", "NAN", "null", "NULL", "Null", "None")
_NA = frozenset(NA_VALUES)
#: Delimiters the sniffer chooses among, with their names.
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}
_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
_PARQUET = (".parquet", ".pq")
_TEXT_SUFFIXES = (".csv", ".tsv", ".txt", ".tab", ".psv", ".dat")
_SNIFF_BYTES = 1 << 16
_SNIFF_LINES = 50
_LISTED = 5  # line numbers named in an error message
_DECIMAL_COMMA = re.compile(r"^[-+]?\d+,\d+$")
_DECOMPRESSION_ERRORS = (OSError, EOFError, zipfile.BadZipFile, lzma.LZMAError)


def check_file(path: str) -> Path:
    """``path`` as a Path, or a CLIError when it is not a readable file."""
    p = Path(path)
    if not p.exists():
        raise CLIError(f"{path}: no such file.")
    if not p.is_file():
        raise CLIError(f"{path}: not a regular file.")
    return p


def parse_sep(text: str) -> str:
    """The delimiter named by ``--sep``: a character or comma/semicolon/tab/pipe.

    Examples
    --------
    >>> parse_sep("tab") == "\\t", parse_sep(";"), parse_sep("\\\\t") == "\\t"
    (True, ';', True)
    """
    names = {name: char for char, name in DELIMITERS.items()}
    value = names.get(text, "\t" if text == "\\t" else text)
    if len(value) != 1 or value in '"\r\n':
        raise ValueError(
            f"must be one character or one of {', '.join(names)}, got {text!r}"
        )
    return value


def _compression(path: Path) -> str | None:
    return _COMPRESSIONS.get(path.suffix.lower())


def _base_suffix(path: Path) -> str:
    """The suffix under any compression suffix: '.csv' for 'x.csv.gz'."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


class _Counting(io.RawIOBase):
    """A raw file that reports the bytes read from it (for a progress bar)."""

    def __init__(self, raw, callback):
        self._raw, self._callback = raw, callback

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._raw.readinto(b)
        if n:
            self._callback(n)
        return n

    def seekable(self) -> bool:
        return self._raw.seekable()

    def seek(self, offset, whence=io.SEEK_SET):
        return self._raw.seek(offset, whence)

    def tell(self):
        return self._raw.tell()

    def close(self):
        self._raw.close()
        super().close()


@contextlib.contextmanager
def _open_binary(path: Path, progress: ProgressBar | None = None):
    """The decompressed bytes of ``path``; ``progress`` counts the bytes on disk."""
    compression = _compression(path)
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(open(path, "rb"))
        if progress is not None and progress.enabled:
            raw = stack.enter_context(
                io.BufferedReader(_Counting(raw, progress.update), 1 << 20)
            )
        try:
            if compression == "gzip":
                fh = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
            elif compression == "bz2":
                fh = stack.enter_context(bz2.BZ2File(raw))
            elif compression == "xz":
                fh = stack.enter_context(lzma.LZMAFile(raw))
            elif compression == "zip":
                archive = stack.enter_context(zipfile.ZipFile(raw))
                members = [m for m in archive.infolist() if not m.is_dir()]
                if len(members) != 1:
                    raise CLIError(
                        f"{path}: the zip archive holds {len(members)} files "
                        f"({', '.join(m.filename for m in members[:5])}); it must "
                        "hold exactly one: extract the one you want."
                    )
                fh = stack.enter_context(archive.open(members[0]))
            else:
                fh = raw
        except _DECOMPRESSION_ERRORS as exc:
            raise CLIError(
                f"{path}: not a readable {compression} file ({exc})."
            ) from None
        yield fh


@contextlib.contextmanager
def _reading(path: Path):
    """Turn decompression and decoding failures into a CLIError."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path}: not a UTF-8 text file ({exc}).") from None
    except _DECOMPRESSION_ERRORS as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise
        kind = _compression(path) or "text"
        raise CLIError(f"{path}: not a readable {kind} file ({exc}).") from None


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _lines_note(lines) -> str:
    """'line 3' / 'lines 3, 7, 9, ...' for the first few of ``lines``."""
    lines = [int(v) for v in lines]
    shown = ", ".join(map(str, lines[:_LISTED]))
    more = ", ..." if len(lines) > _LISTED else ""
    return f"line{'s' if len(lines) > 1 else ''} {shown}{more}"


@dataclass
class Frame:
    """Columns read from a table.

    Attributes
    ----------
    numeric : ndarray of shape (n_rows, n_numeric)
    text : dict of str to ndarray of str
    n_dropped : int
        Rows dropped for missing values (``dropna=True``).
    """

    numeric: np.ndarray
    text: dict = field(default_factory=dict)
    n_dropped: int = 0


@dataclass
class _Raw:
    """What a reader returns before missing values are handled."""

    numeric: np.ndarray  # NaN where missing
    text: dict  # name -> array of str
    text_missing: np.ndarray  # (n_rows, n_text) bool
    lines: np.ndarray | None = None  # file line of each row (slow path only)


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

    def select(self, names) -> list[str]:
        """Check that ``names`` are columns of the table and return them."""
        names = list(names)
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise CLIError(f"column(s) {twice} are asked for twice; name each once.")
        missing = [n for n in names if n not in self.columns]
        if missing:
            shown = ", ".join(self.columns[:30])
            if len(self.columns) > 30:
                shown += f", ... ({len(self.columns)} columns)"
            raise CLIError(
                f"{self.path}: no column named {', '.join(map(repr, missing))} "
                f"(columns: {shown}).{self._hint()}"
            )
        return list(names)

    def read(
        self, numeric, text=(), *, dropna: bool = False, progress: bool = True
    ) -> Frame:
        """Read ``numeric`` columns as float64 and ``text`` columns as strings.

        Rows with a missing value (see ``NA_VALUES``) or an infinite one in
        these columns are dropped with ``dropna``, else reported with their
        line numbers.
        """
        numeric, text = self.select(numeric), self.select(text)
        raw = self._read(numeric, text, dropna, progress)
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
            f"{name!r}: {int(k)}"
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


class DelimitedTable(_Table):
    """A delimited text file with a header row (possibly compressed)."""

    #: C parsers tried in turn; each gives up (None) when its package is
    #: missing or the file has malformed cells.
    engines = ("pyarrow", "pandas", "numpy")

    def __init__(self, path: Path, sep: str | None = None):
        self.path = path
        with _reading(path), _open_binary(path) as fh:
            sample = fh.read(_SNIFF_BYTES + 1)
        complete = len(sample) <= _SNIFF_BYTES
        if not complete:  # keep whole lines only
            sample = sample[: sample.rfind(b"\n") + 1] or sample[:_SNIFF_BYTES]
        try:
            text = sample.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise CLIError(f"{path}: not a UTF-8 text file ({exc}).") from None
        lines = text.splitlines()
        first = next((i for i, line in enumerate(lines) if line.strip()), None)
        if first is None:
            raise CLIError(f"{path}: the file is empty; expected a header row.")
        lines = lines[first : first + _SNIFF_LINES]
        self.delimiter = sep if sep is not None else _sniff(lines)
        self.sniffed = sep is None
        header = next(csv.reader(lines[:1], delimiter=self.delimiter))
        self.columns = [c.strip() for c in header]
        # A header of numbers is data (headerless packed rows, say).
        self.has_header = not all(_is_float(c) for c in self.columns if c)
        self.skip = first + 1 if self.has_header else first
        self.header_line = first + 1 if self.has_header else None
        if not self.has_header:
            self.columns = [f"column {j + 1}" for j in range(len(header))]
        dup = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if dup:
            raise CLIError(f"{path}: duplicate column names {dup}.")

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

    def _read_pyarrow(self, num_idx, text_idx, bar) -> _Raw | None:
        try:
            import pyarrow as pa
            from pyarrow import csv as pa_csv
        except ImportError:  # also a pyarrow built for another numpy
            return None
        names = [f"f{j}" for j in range(len(self.columns))]
        types = {names[j]: pa.float64() for j in num_idx}
        types.update({names[j]: pa.string() for j in text_idx})
        try:
            with _reading(self.path), contextlib.ExitStack() as stack:
                # Arrow reads a plain file by path fastest, off the GIL.
                plain = not bar.enabled and _compression(self.path) is None
                source = (
                    str(self.path)
                    if plain
                    else stack.enter_context(_open_binary(self.path, bar))
                )
                tab = pa_csv.read_csv(
                    source,
                    read_options=pa_csv.ReadOptions(
                        skip_rows=self.skip, column_names=names, encoding="utf8"
                    ),
                    parse_options=pa_csv.ParseOptions(delimiter=self.delimiter),
                    convert_options=pa_csv.ConvertOptions(
                        include_columns=[names[j] for j in [*num_idx, *text_idx]],
                        column_types=types,
                        null_values=list(NA_VALUES),
                        strings_can_be_null=True,
                        quoted_strings_can_be_null=False,
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
            with _reading(self.path), contextlib.ExitStack() as stack:
                # A path is parsed fastest; a progress bar needs our reader.
                source = (
                    stack.enter_context(_open_binary(self.path, bar))
                    if bar.enabled
                    else str(self.path)
                )
                df = pd.read_csv(
                    source,
                    sep=self.delimiter,
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
                    compression="infer" if isinstance(source, str) else None,
                )
        except ValueError:  # ragged rows, bad quoting: the slow pass explains
            return None
        if any(df[j].dtype.kind not in "iuf" for j in num_idx):
            return None  # non-numeric cells
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
        def load(usecols, dtype, progress):
            with (
                _reading(self.path),
                _open_binary(self.path, progress) as fh,
                warnings.catch_warnings(),
            ):
                # numpy 1.23-1.26 warn that blank lines no longer count as rows.
                warnings.filterwarnings("ignore", "Input line", UserWarning)
                tf = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
                return np.loadtxt(
                    tf,
                    delimiter=self.delimiter,
                    skiprows=self.skip,
                    usecols=usecols,
                    dtype=dtype,
                    ndmin=2,
                    comments=None,
                    quotechar='"',
                )

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
        n_cols = len(self.columns)
        num_idx = [self.columns.index(n) for n in numeric]
        text_idx = [self.columns.index(n) for n in text]
        values, texts, lines = array("d"), [], []  # 8 bytes per number
        non_numeric = {}  # column -> [count, first value, first line]
        with _reading(self.path), _open_binary(self.path, bar) as fh:
            tf = io.TextIOWrapper(fh, encoding="utf-8-sig", newline="")
            reader = csv.reader(tf, delimiter=self.delimiter)
            for _ in range(self.skip):  # blank lines, then the header
                next(reader, None)
            for row in reader:
                if not row or (len(row) == 1 and not row[0].strip() and n_cols > 1):
                    continue  # blank line, as the C parsers skip them
                if len(row) != n_cols:
                    raise CLIError(
                        f"{self.path}: data row {len(lines) + 1} has {len(row)} "
                        f"fields (line {reader.line_num}), the header has {n_cols}"
                        f"{self._delimiter_note()}."
                    )
                lines.append(reader.line_num)
                for j in num_idx:
                    v = row[j].strip()
                    if v in _NA:
                        values.append(np.nan)
                        continue
                    try:
                        values.append(float(v))
                    except ValueError:
                        entry = non_numeric.setdefault(j, [0, v, reader.line_num])
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

    def _delimiter_note(self) -> str:
        name = DELIMITERS.get(self.delimiter, repr(self.delimiter))
        how = "sniffed" if self.sniffed else "from --sep"
        return f" (delimiter: {name}, {how})"

    def _non_numeric_message(self, non_numeric, n) -> str:
        whole, partial = [], []
        for j, (count, example, line) in non_numeric.items():
            name = self.columns[j]
            if count == n:
                whole.append(f"{name!r} (e.g. {example!r})")
            else:
                partial.append(
                    f"{name!r} has {count} non-numeric value(s) (e.g. {example!r} "
                    f"on line {line})"
                )
        parts = []
        examples = [example for _, example, _ in non_numeric.values()]
        if any(_DECIMAL_COMMA.match(e) for e in examples):
            parts.append(
                "numbers with a decimal comma (e.g. '1,5') are not read as numbers; "
                "write them with a decimal point"
            )
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

        table = self._file.read(columns=[*numeric, *text])
        X = np.empty((table.num_rows, len(numeric)))
        for k, name in enumerate(numeric):
            col = table.column(name)
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
                raise CLIError(
                    f"{self.path}: non-numeric column(s) {name!r} (type {col.type}); "
                    "choose numeric columns with --columns."
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


def open_table(path: str, sep: str | None = None) -> _Table:
    """A delimited or Parquet table, by the file's extension."""
    p = check_file(path)
    if _base_suffix(p) in _PARQUET:
        if _compression(p):
            raise CLIError(f"{path}: Parquet compresses internally; pass the .parquet.")
        return ParquetTable(p)
    return DelimitedTable(p, sep)


# -- packed Gaussians ------------------------------------------------------------


def packed_columns(n_features: int, covariance_type: str) -> list[str]:
    """Column names of :meth:`skkl.Gaussians.pack` rows: the layout and d.

    The mean ``mean_j``, then the Cholesky factor's lower triangle
    ``chol_i_j`` in row-major order ('full', 'tied'), the standard deviations
    ``std_j`` ('diag') or one ``std`` ('spherical'). ``Gaussians.pack``
    could return these names itself.

    Examples
    --------
    >>> packed_columns(2, "full")
    ['mean_0', 'mean_1', 'chol_0_0', 'chol_1_0', 'chol_1_1']
    >>> packed_columns(2, "spherical")
    ['mean_0', 'mean_1', 'std']
    """
    means = [f"mean_{j}" for j in range(n_features)]
    if covariance_type in ("full", "tied"):
        rows, cols = np.tril_indices(n_features)
        return means + [f"chol_{i}_{j}" for i, j in zip(rows, cols, strict=True)]
    if covariance_type == "diag":
        return means + [f"std_{j}" for j in range(n_features)]
    if covariance_type == "spherical":
        return [*means, "std"]
    raise ValueError(f"unknown covariance_type {covariance_type!r}")


def layout_from_columns(columns) -> tuple[str, int] | None:
    """``(covariance_type, d)`` of a header written by :func:`packed_columns`.

    Examples
    --------
    >>> layout_from_columns(packed_columns(4, "full"))
    ('full', 4)
    >>> layout_from_columns(["sepal_length", "sepal_width"]) is None
    True
    """
    columns = list(columns)
    d = 0
    while d < len(columns) and columns[d] == f"mean_{d}":
        d += 1
    if d == 0:
        return None
    for kind in ("full", "diag", "spherical"):
        if columns == packed_columns(d, kind):
            return kind, d
    return None


def _load_npz(path: Path, covariance_type: str | None):
    from .._gaussians import Gaussians

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # zipfile, pickle and format errors alike
        raise CLIError(f"{path}: not a readable .npz file ({exc}).") from None
    missing = [k for k in ("means", "covariances") if k not in arrays]
    if missing:
        raise CLIError(
            f"{path}: the .npz needs arrays 'means' and 'covariances'; missing "
            f"{missing} (found {sorted(arrays)})."
        )
    means, covs = arrays["means"], arrays["covariances"]
    stored = arrays.get("covariance_type")
    if stored is not None:
        if stored.ndim != 0 or stored.dtype.kind not in "US":
            raise CLIError(f"{path}: 'covariance_type' must be a single string.")
        stored = str(stored[()])
        if covariance_type is not None and covariance_type != stored:
            raise CLIError(
                f"{path} says covariance_type={stored!r} but --covariance-type "
                f"is {covariance_type!r}."
            )
    kind = covariance_type or stored or _infer_covariance_type(means, covs)
    try:
        return Gaussians(means, covs, kind), None
    except (ValueError, TypeError) as exc:
        raise CLIError(f"{path}: {exc}") from None


def _infer_covariance_type(means: np.ndarray, covs: np.ndarray) -> str:
    if covs.ndim == 3:
        return "full"
    if covs.ndim == 1:
        return "spherical"
    if covs.ndim == 2 and means.ndim == 2:
        K, d = means.shape
        if covs.shape == (K, d) and K != d:
            return "diag"
        if covs.shape == (d, d) and K != d:
            return "tied"
    raise CLIError(
        f"cannot tell the covariance type from shapes means {means.shape}, "
        f"covariances {covs.shape}; pass --covariance-type."
    )


_LAYOUT_HELP = (
    "packed columns are the mean then the Cholesky factor, named mean_0 .. "
    "mean_{d-1} then chol_i_j (full), std_j (diag) or std (spherical), "
    "optionally after a first column 'name'; `skkl separability DATA "
    "--target COLUMN --save-gaussians OUT.csv` writes such a file"
)


def _load_packed(path: Path, covariance_type: str | None, sep: str | None):
    from .._gaussians import Gaussians

    table = open_table(str(path), sep)
    columns = list(table.columns)
    names = columns[:1] if table.has_header and columns[:1] == ["name"] else []
    data = columns[len(names) :]
    if table.has_header:
        layout = layout_from_columns(data)
        if layout is None:
            shown = ", ".join(data[:6]) + (", ..." if len(data) > 6 else "")
            raise CLIError(
                f"{path}: the header ({shown}) does not describe packed Gaussians; "
                f"{_LAYOUT_HELP}. To compare the classes of a data table, run "
                f"`skkl separability {path.name} --target COLUMN`."
            )
        kind, d = layout
        if covariance_type is not None and covariance_type != kind:
            raise CLIError(
                f"{path}: the header says {kind!r} rows in d={d} dimensions, but "
                f"--covariance-type is {covariance_type!r}; drop --covariance-type "
                "(the header is enough)."
            )
    else:
        if covariance_type is None:
            raise CLIError(
                f"{path}: a file of packed rows without a header needs "
                f"--covariance-type (full, diag or spherical); better, give it a "
                f"header: {_LAYOUT_HELP}."
            )
        kind = "full" if covariance_type == "tied" else covariance_type
    frame = table.read(data, names)
    if len(frame.numeric) == 0:
        raise CLIError(f"{path}: no data rows.")
    try:
        G = Gaussians.from_packed(frame.numeric, kind)
    except (ValueError, TypeError) as exc:
        raise CLIError(f"{path}: {exc}") from None
    return G, (list(frame.text["name"]) if names else None)


def read_gaussians(path: str, covariance_type=None, sep=None):
    """``(Gaussians, labels or None)`` from an ``.npz`` or a packed table."""
    p = check_file(path)
    if p.suffix.lower() == ".npz":
        return _load_npz(p, covariance_type)
    if _base_suffix(p) not in (*_TEXT_SUFFIXES, *_PARQUET):
        raise CLIError(
            f"{path}: expected a .npz, a .csv (also .tsv, .txt, optionally .gz, "
            f".bz2, .xz, .zip) or a .parquet file, got {''.join(p.suffixes)!r}."
        )
    return _load_packed(p, covariance_type, sep)


def write_packed(path: str, gaussians, names=None) -> None:
    """Write ``gaussians.pack()`` rows as CSV under a :func:`packed_columns` header.

    Examples
    --------
    >>> import numpy as np, tempfile, os
    >>> from skkl import Gaussians
    >>> G = Gaussians([[0.0, 1.0], [2.0, 3.0]], np.ones((2, 2)), "diag")
    >>> out = os.path.join(tempfile.mkdtemp(), "g.csv")
    >>> write_packed(out, G, names=["a", "b"])
    >>> print(open(out).read())
    name,mean_0,mean_1,std_0,std_1
    a,0,1,1,1
    b,2,3,1,1
    <BLANKLINE>
    """
    header = packed_columns(gaussians.n_features, gaussians.covariance_type)
    rows = gaussians.pack()
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow((["name"] if names is not None else []) + header)
        for k, row in enumerate(rows):
            cells = [format(v, ".17g") for v in row]
            writer.writerow(([str(names[k])] if names is not None else []) + cells)


def write_matrix(out: str, D: np.ndarray) -> None:
    """Write ``D`` to ``.npy`` or ``.csv`` (full precision), or CSV on stdout."""
    if out == "-":
        np.savetxt(sys.stdout, D, delimiter=",", fmt="%.17g")
    elif out.lower().endswith(".npy"):
        np.save(out, D)
    else:
        np.savetxt(out, D, delimiter=",", fmt="%.17g")
