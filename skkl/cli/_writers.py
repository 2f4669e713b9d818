"""Outputs: one rule for every flag that names a file to write.

- ``-`` is standard output, for every output flag; a command whose report
  already goes to standard output refuses it (write a file literally named
  ``-`` as ``./-``);
- otherwise the file written is exactly the name given, never with a suffix
  appended, and its format follows its extension, compared without regard to
  case (``D.NPY`` is a ``.npy`` file);
- the name is checked before any computation: a known extension and an
  existing directory.
"""

from __future__ import annotations

import contextlib
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._errors import CLIError

__all__ = ["STDOUT", "Output", "output", "write_matrix"]

STDOUT = "-"


@dataclass(frozen=True)
class Output:
    """Where an output flag writes, and in which format."""

    flag: str
    path: str  # STDOUT for standard output
    format: str

    @property
    def is_stdout(self) -> bool:
        return self.path == STDOUT

    @contextlib.contextmanager
    def open(self, binary: bool = False):
        """The output stream (standard output is left open)."""
        if self.is_stdout:
            yield sys.stdout.buffer if binary else sys.stdout
            return
        mode = "wb" if binary else "w"
        kwargs = {} if binary else {"newline": "", "encoding": "utf-8"}
        with open(self.path, mode, **kwargs) as fh:
            yield fh


def output(flag: str, path: str, formats: dict, stdout: str | None) -> Output:
    """Check the value of output flag ``flag`` before any computation.

    Parameters
    ----------
    flag : str
        The flag, for messages.
    path : str
        Its value.
    formats : dict
        Extension (lower case, with the dot) -> format.
    stdout : str or None
        The format written on standard output for ``-``, or None when the
        command's report holds standard output.

    Examples
    --------
    >>> output("--out", "D.NPY", {".npy": "npy", ".csv": "csv"}, "csv").format
    'npy'
    >>> output("--out", "-", {".npy": "npy"}, "csv")
    Output(flag='--out', path='-', format='csv')
    """
    if path == STDOUT:
        if stdout is None:
            raise CLIError(
                f"{flag} -: standard output holds this command's report; give a "
                "file name (./- for a file named '-')."
            )
        return Output(flag, path, stdout)
    p = Path(path)
    fmt = formats.get(p.suffix.lower())
    if fmt is None:
        ends = " or ".join(formats)
        dash = " (or be - for standard output)" if stdout else ""
        raise CLIError(f"{flag} must end in {ends}{dash}, got {path!r}.")
    if p.is_dir():
        raise CLIError(f"{flag} {path} is a directory; give a file name.")
    if not p.parent.is_dir():
        raise CLIError(f"{flag} {path}: no such directory {p.parent}; create it first.")
    return Output(flag, path, fmt)


def write_matrix(out: Output, D: np.ndarray) -> None:
    """Write ``D`` as ``.npy`` or as CSV at full precision."""
    if out.format == "npy":
        with out.open(binary=True) as fh:
            np.save(fh, D)  # to a stream: numpy appends no '.npy'
    else:
        with out.open() as fh:
            np.savetxt(fh, D, delimiter=",", fmt="%.17g")
