"""Exit statuses, the exception that marks bad input, and the library's errors.

The library raises :class:`~skkl._errors.InputError` about its caller's
input; a command prints it with its own spelling of the parameters it names
(``exc.render(names)``), so no message is ever rewritten by pattern matching.
Another ``ValueError`` from the library prints as it is.
"""

from __future__ import annotations

import contextlib
import sys
import warnings
from collections.abc import Mapping

from .._errors import InputError

__all__ = [
    "EXIT_BUG",
    "EXIT_DRIFT",
    "EXIT_OK",
    "EXIT_USAGE",
    "CLIError",
    "library_errors",
]

EXIT_OK, EXIT_DRIFT, EXIT_USAGE = 0, 1, 2
# Not 1: a script must never read a crash as "drift found".
EXIT_BUG = 3


class CLIError(Exception):
    """A problem with the user's input: printed on stderr, exit code 2."""


def _is_parameter_error(exc: Exception) -> bool:
    """scikit-learn's InvalidParameterError (never loaded before scikit-learn)."""
    module = sys.modules.get("sklearn.utils._param_validation")
    return module is not None and isinstance(exc, module.InvalidParameterError)


@contextlib.contextmanager
def library_errors(
    names: Mapping[str, str],
    files: Mapping[str, str] | None = None,
    about: str | None = None,
):
    """Report the library's ``ValueError`` about the user's input as bad input.

    Parameters
    ----------
    names : mapping
        Library parameter -> the command's spelling (flag or positional).
    files : mapping, default=None
        Library parameter -> the file its value was read from: an
        ``InputError`` about that parameter names the file.
    about : str, default=None
        The file a plain ``ValueError`` is about (the data of the call).

    scikit-learn's ``InvalidParameterError`` passes through: every flag is
    checked when the command line is parsed, so one reaching here is a bug.
    The library's ``UserWarning`` (advice about the data) is printed as a
    one-line note; anything else propagates (a bug, not bad input).
    """
    files = files or {}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            yield
        except InputError as exc:
            where = files.get(exc.argument)
            prefix = f"{where}: " if where else ""
            raise CLIError(prefix + exc.render(names)) from exc
        except ValueError as exc:
            if _is_parameter_error(exc):
                raise
            prefix = f"{about}: " if about else ""
            raise CLIError(prefix + str(exc)) from exc
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
