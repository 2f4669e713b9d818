"""Bytes in: opening, decompressing and checking the files the commands read.

Compression is chosen by extension (``.gz``, ``.bz2``, ``.xz``, ``.zip`` with
one member). Every failure to open, decompress or decode a file becomes a
:class:`~skkl.cli._errors.CLIError` that names the file.
"""

from __future__ import annotations

import bz2
import contextlib
import gzip
import io
import lzma
import zipfile
import zlib
from pathlib import Path

import numpy as np

from .._progress import ProgressBar
from ._errors import CLIError

__all__ = [
    "FieldCounter",
    "base_suffix",
    "check_file",
    "compression",
    "open_binary",
    "reading",
    "short",
]

_COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "xz", ".zip": "zip"}
# zlib.error: a damaged deflate stream inside a .gz or .zip member.
_DECOMPRESSION_ERRORS = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    lzma.LZMAError,
    zlib.error,
)
_SHORT = 40  # characters of a cell or column name quoted in a message


def short(text: str, width: int = _SHORT) -> str:
    """``repr(text)``, cut to about ``width`` characters for a message.

    Examples
    --------
    >>> short("x" * 100, 10)
    "'xxxxxxxxxx...' (100 characters)"
    >>> short("ab")
    "'ab'"
    """
    if len(text) <= width:
        return repr(text)
    return f"{text[:width]!r}"[:-1] + f"...' ({len(text)} characters)"


def check_file(path: str) -> Path:
    """``path`` as a Path, or a CLIError when it is not a readable file."""
    p = Path(path)
    if not p.exists():
        raise CLIError(f"{path}: no such file.")
    if not p.is_file():
        raise CLIError(f"{path}: not a regular file.")
    return p


def compression(path: Path) -> str | None:
    return _COMPRESSIONS.get(path.suffix.lower())


def base_suffix(path: Path) -> str:
    """The suffix under any compression suffix: '.csv' for 'x.csv.gz'."""
    suffixes = [s.lower() for s in path.suffixes]
    if suffixes and suffixes[-1] in _COMPRESSIONS:
        suffixes = suffixes[:-1]
    return suffixes[-1] if suffixes else ""


class _Tap(io.RawIOBase):
    """A raw stream that shows each block read from it to ``callback``."""

    def __init__(self, raw, callback):
        self._raw, self._callback = raw, callback

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._raw.readinto(b)
        self._callback(memoryview(b)[:n] if n else b"")
        return n

    def close(self):
        self._raw.close()
        super().close()


def tap(fh, callback, buffer_size: int = 1 << 20):
    """``fh`` read through ``callback(block)`` (an empty block at the end)."""
    return io.BufferedReader(_Tap(fh, callback), buffer_size)


@contextlib.contextmanager
def open_binary(path: Path, progress: ProgressBar | None = None):
    """The decompressed bytes of ``path``; ``progress`` counts the bytes on disk."""
    kind = compression(path)
    with contextlib.ExitStack() as stack:
        raw = stack.enter_context(open(path, "rb"))
        if progress is not None and progress.enabled:
            raw = stack.enter_context(tap(raw, lambda b: progress.update(len(b))))
        try:
            if kind == "gzip":
                fh = stack.enter_context(gzip.GzipFile(fileobj=raw, mode="rb"))
            elif kind == "bz2":
                fh = stack.enter_context(bz2.BZ2File(raw))
            elif kind == "xz":
                fh = stack.enter_context(lzma.LZMAFile(raw))
            elif kind == "zip":
                fh = stack.enter_context(_zip_member(path, raw, stack))
            else:
                fh = raw
        except _DECOMPRESSION_ERRORS as exc:
            raise CLIError(f"{path}: not a readable {kind} file ({exc}).") from None
        yield fh


def _zip_member(path: Path, raw, stack):
    archive = stack.enter_context(zipfile.ZipFile(raw))
    members = [m for m in archive.infolist() if not m.is_dir()]
    if len(members) != 1:
        raise CLIError(
            f"{path}: the zip archive holds {len(members)} files "
            f"({', '.join(short(m.filename) for m in members[:5])}); it must hold "
            "exactly one: extract the one you want."
        )
    return archive.open(members[0])


@contextlib.contextmanager
def reading(path: Path):
    """Turn decompression and decoding failures into a CLIError."""
    try:
        yield
    except UnicodeDecodeError as exc:
        raise CLIError(f"{path}: not a UTF-8 text file ({exc}).") from None
    except _DECOMPRESSION_ERRORS as exc:
        if isinstance(exc, (FileNotFoundError, PermissionError)):
            raise
        kind = compression(path) or "text"
        raise CLIError(f"{path}: not a readable {kind} file ({exc}).") from None


class FieldCounter:
    """Check, block by block, that every data line has ``n_fields`` fields.

    pandas' and numpy's parsers skip the fields past the columns they are
    asked for, so a row with an extra field (``1,234.5,7`` under ``a,b``)
    would be read with shifted values; this counts the delimiters of each
    line as the bytes stream past. Blank lines are skipped as the parsers
    skip them. Quoted cells (a delimiter may hide inside) and lone ``\\r``
    line ends cannot be counted this way: ``ok`` is then False, as for a
    wrong count, and the reader takes the pure-Python pass that names the line
    (so does a non-ASCII delimiter).

    Examples
    --------
    >>> c = FieldCounter(b",", 2, skip=1)
    >>> c.feed(b"a,b\\n1,2\\n\\n3,"); c.feed(b"4\\n"); c.feed(b""); c.ok
    True
    >>> c = FieldCounter(b",", 2, skip=1)
    >>> c.feed(b"a,b\\n1,2\\n1,234.5,7\\n"); c.feed(b""); c.ok
    False
    """

    # Bytes gathered before counting: readers may pass small blocks (8 KiB
    # through a text wrapper) and each count has a fixed numpy overhead.
    batch = 1 << 20

    def __init__(self, delimiter: bytes, n_fields: int, skip: int = 0):
        self._delimiter = delimiter[0]
        self._n_delimiters = n_fields - 1
        self._skip = skip  # lines before the data: blank ones and the header
        self._pending, self._size = [], 0
        # A delimiter of several UTF-8 bytes is not counted byte by byte.
        self.ok = len(delimiter) == 1

    def feed(self, block) -> None:
        """Count the complete lines of ``block``; an empty block ends the file."""
        if not self.ok:
            return
        final = len(block) == 0
        self._pending.append(bytes(block))
        self._size += len(block)
        if self._size < self.batch and not final:
            return
        data = b"".join(self._pending)
        while self._skip and data:
            end = data.find(b"\n")
            if end < 0:
                break
            data, self._skip = data[end + 1 :], self._skip - 1
        cut = len(data) if final else data.rfind(b"\n") + 1
        lines, tail = data[:cut], data[cut:]
        self._pending, self._size = [tail], len(tail)
        if lines and not self._count(lines):
            self.ok = False

    def _count(self, lines: bytes) -> bool:
        if b'"' in lines:
            return False
        if b"\r" in lines and lines.count(b"\r") != lines.count(b"\r\n"):
            return False
        a = np.frombuffer(lines, dtype=np.uint8)
        ends = np.flatnonzero(a == ord("\n"))
        starts = np.concatenate(([0], ends + 1))
        starts = starts[starts < len(a)]
        # Summed as uint8 into int32: a bool sum would widen every byte to intp.
        is_delimiter = (a == self._delimiter).view(np.uint8)
        counts = np.add.reduceat(is_delimiter, starts, dtype=np.int32)
        bad = np.flatnonzero(counts != self._n_delimiters)
        stops = np.append(starts[1:], len(a))
        # A wrong count is fine on a blank line only (rare: checked one by one).
        return all(not lines[starts[i] : stops[i]].strip() for i in bad)
