"""Exit statuses and the exception that marks bad input."""

from __future__ import annotations

__all__ = ["EXIT_BUG", "EXIT_DRIFT", "EXIT_OK", "EXIT_USAGE", "CLIError"]

EXIT_OK, EXIT_DRIFT, EXIT_USAGE = 0, 1, 2
# Not 1: a script must never read a crash as "drift found".
EXIT_BUG = 3


class CLIError(Exception):
    """A problem with the user's input: printed on stderr, exit code 2."""
