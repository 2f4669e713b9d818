"""The ``skkl`` argument parser and ``main``: both read :data:`COMMANDS`.

Flags are validated at parse time, so a bad value ends with argparse's usage
line and exit status 2 before any file is read. The command modules import
the library only when their command runs: ``skkl --help`` does not import
scikit-learn.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from .._version import __version__
from . import _demo, _drift, _monitor, _pairwise, _separability
from ._errors import EXIT_BUG, EXIT_OK, EXIT_USAGE, CLIError

__all__ = ["COMMANDS", "build_parser", "main"]

#: The subcommands, in the order ``skkl --help`` lists them.
COMMANDS = (
    _demo.COMMAND,
    _pairwise.COMMAND,
    _separability.COMMAND,
    _drift.COMMAND,
    _monitor.COMMAND,
)


def build_parser() -> argparse.ArgumentParser:
    """The ``skkl`` argument parser (exposed for documentation tools).

    Examples
    --------
    >>> from skkl.cli import build_parser
    >>> build_parser().parse_args(["drift", "ref.csv", "new.csv"]).level
    0.05
    """
    parser = argparse.ArgumentParser(
        prog="skkl",
        description="Exact, fast divergences between Gaussians, native to "
        "scikit-learn. Run `skkl demo` for a tour.",
    )
    parser.add_argument("--version", action="version", version=f"skkl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command in COMMANDS:
        command.add_to(sub)
    return parser


def _parse(parser, argv) -> argparse.Namespace:
    """Parsed arguments, with each command's check of its flags together."""
    args = parser.parse_args(argv)
    if args.command is not None and args._command.check is not None:
        problem = args._command.check(args)
        if problem:
            args._parser.error(problem)
    return args


def _error(command: str, exc: BaseException, message: str | None = None) -> int:
    """Print bad input ``exc`` on one line of stderr: exit status 2."""
    print(f"skkl {command}: error: {message or exc}", file=sys.stderr)
    return EXIT_USAGE


def main(argv: list[str] | None = None) -> int:
    """Run the ``skkl`` command line and return its exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 1 when ``skkl drift`` finds drift, 2 for bad input
        (including bad flags), 3 for an internal error (a bug).

    Examples
    --------
    >>> from skkl.cli import main
    >>> main(["--version"])
    skkl ...
    0
    """
    parser = build_parser()
    try:
        args = _parse(parser, argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return args._command.handler(args)
    except BrokenPipeError:  # e.g. `skkl demo | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print(f"\nskkl {args.command}: interrupted", file=sys.stderr)
        return 130  # the shell's status for SIGINT
    except (CLIError, OSError) as exc:
        return _error(args.command, exc)
    except MemoryError as exc:  # an allocation the input asks for cannot succeed
        return _error(args.command, exc, f"not enough memory for this input ({exc}).")
    except ImportError as exc:
        message = f"this installation of skkl is incomplete ({exc}); reinstall it."
        return _error(args.command, exc, message)
    except Exception:
        traceback.print_exc()
        print(
            f"skkl {args.command}: internal error: this is a bug in skkl "
            f"{__version__}; please report it with the traceback above.",
            file=sys.stderr,
        )
        return EXIT_BUG
