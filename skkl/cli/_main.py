"""The ``skkl`` argument parser and ``main``.

Flags are validated here, at parse time, so a bad value ends with argparse's
usage line and exit status 2 before any file is read. Commands live in
``_commands`` and ``_demo``, imported only when they run: ``skkl --help``
does not import scikit-learn.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import traceback

from .._version import __version__
from ._errors import EXIT_BUG, EXIT_OK, EXIT_USAGE, CLIError

__all__ = ["build_parser", "main"]

_DRIFT_METHODS = ("auto", "permutation", "gram", "asymptotic")

_DRIFT_EPILOG = """\
exit status:
  0  no drift detected
  1  drift detected (p-value < --level and effect >= --min-effect)
  2  bad input (missing file or column, non-numeric data, too few rows, bad flag)
  3  internal error (a bug in skkl: please report it with the traceback)

example (act on drift only, not on bad input):
  skkl drift reference.csv today.csv --json > drift.json; [ $? -eq 1 ] && alert
"""


# -- flag types -----------------------------------------------------------------


def _kinds() -> list[str]:
    from ..divergence import DIVERGENCES

    return sorted(DIVERGENCES)


def _covariance_types() -> list[str]:
    from .._gaussians import COVARIANCE_TYPES

    return list(COVARIANCE_TYPES)


def _shrinkage(text: str):
    if text in ("ledoit_wolf", "oas"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(
            f"must be ledoit_wolf, oas or a float in [0, 1], got {text!r}"
        )
    return value


def _number(text: str, low=None, high=None, *, closed=False, integer=False):
    """``text`` as a number in (low, high) (or [low, high] if ``closed``)."""
    try:
        value = int(text) if integer else float(text)
    except ValueError:
        what = "an integer" if integer else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    below = low is not None and (value < low if closed else value <= low)
    above = high is not None and (value > high if closed else value >= high)
    if below or above:
        lo = "-inf" if low is None else f"{low:g}"
        hi = "inf" if high is None else f"{high:g}"
        left = "[" if closed and low is not None else "("
        right = "]" if closed and high is not None else ")"
        raise argparse.ArgumentTypeError(
            f"must be in {left}{lo}, {hi}{right}, got {text}"
        )
    return value


def _level(text: str) -> float:
    return _number(text, 0.0, 1.0)


def _order(text: str) -> float:
    return _number(text, 0.0)


def _non_negative(text: str) -> float:
    return _number(text, 0.0, closed=True)


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _n_jobs(text: str) -> int:
    value = _number(text, integer=True)
    if value == 0:
        raise argparse.ArgumentTypeError(
            "must be a non-zero integer (-1 for all cores), got 0"
        )
    return value


def _sep(text: str) -> str:
    from ._io import parse_sep

    try:
        return parse_sep(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


class _Renamed(argparse.Action):
    """A removed flag: a usage error that names its replacement."""

    def __init__(self, option_strings, dest, replacement="", **kwargs):
        self.replacement = replacement
        kwargs.setdefault("help", argparse.SUPPRESS)
        super().__init__(option_strings, dest, **kwargs)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.error(
            f"{option_string} was removed because it meant two things; "
            f"use {self.replacement}"
        )


# -- the parser -------------------------------------------------------------------


def _add_kind_options(parser, default: str) -> None:
    """``--kind`` and ``--order``, shared by the commands that take a divergence."""
    kinds = _kinds()
    parser.add_argument(
        "--kind",
        default=default,
        choices=kinds,
        metavar="KIND",
        help=f"one of {', '.join(kinds)} (default: {default})",
    )
    parser.add_argument(
        "--order",
        type=_order,
        default=0.5,
        help="order of the 'renyi' divergence, > 0 (default 0.5)",
    )
    parser.add_argument(
        "--alpha",
        action=_Renamed,
        replacement="--order for the order of 'renyi'",
    )


def _add_table_options(parser) -> None:
    parser.add_argument(
        "--sep",
        type=_sep,
        default=None,
        metavar="SEP",
        help="delimiter: comma, semicolon, tab, pipe or one character (default: "
        "sniffed from the first lines)",
    )
    parser.add_argument(
        "--dropna",
        action="store_true",
        help="drop rows with missing values (empty, NA, NaN, null) in the "
        "columns used, and say how many",
    )


def _add_fit_options(parser, covariance_types, default="full") -> None:
    parser.add_argument(
        "--covariance-type",
        default=default,
        choices=covariance_types,
        help=f"covariance model (default: {default})",
    )
    parser.add_argument(
        "--shrinkage",
        type=_shrinkage,
        default=None,
        help="covariance shrinkage: ledoit_wolf, oas or a float in [0, 1]",
    )


_TABLE_HELP = (
    "delimited text (.csv, .tsv, .txt; also .gz, .bz2, .xz, .zip) with a header "
    "row, or .parquet (needs pyarrow)"
)


def _command(sub, name: str, **kwargs) -> argparse.ArgumentParser:
    """Subcommand ``name`` whose parsed arguments dispatch to ``cmd_<name>``."""
    parser = sub.add_parser(name, **kwargs)
    parser.set_defaults(func=name)
    return parser


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
    covariance_types = _covariance_types()

    demo = _command(
        sub,
        "demo",
        help="tour on scikit-learn's bundled wine and digits data",
        description="Class divergences, separability, feature selection and a "
        "drift check on data bundled with scikit-learn (no download).",
    )
    demo.add_argument("--plot", metavar="DIR", help="write the figures as PNG to DIR")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")

    pw = _command(
        sub,
        "pairwise",
        help="divergence matrix between Gaussians stored in a file",
        description="Divergence between every pair of Gaussians in FILE: an .npz "
        "with arrays 'means' and 'covariances' (and optionally 'covariance_type'), "
        "or a table of rows packed by Gaussians.pack() under a header that names "
        "the layout (mean_0, ..., chol_i_j / std_j / std; a first column 'name' "
        "labels the Gaussians), as `skkl separability --save-gaussians` writes. "
        "A progress bar shows on stderr for large files when it is a terminal.",
    )
    pw.add_argument("file", metavar="FILE", help=".npz, or packed rows: " + _TABLE_HELP)
    _add_kind_options(pw, default="kl")
    pw.add_argument(
        "--covariance-type",
        choices=covariance_types,
        help="layout of the covariances; needed only for packed rows without a "
        "header (default: from the file)",
    )
    pw.add_argument(
        "--names", metavar="A,B,...", help="labels of the Gaussians, in file order"
    )
    pw.add_argument(
        "--sep", type=_sep, default=None, metavar="SEP", help="delimiter of a table"
    )
    pw.add_argument(
        "--n-jobs", type=_n_jobs, default=None, help="joblib workers (-1: all cores)"
    )
    pw.add_argument(
        "--out",
        metavar="OUT",
        help=f"write the matrix to OUT (.npy or .csv; - for CSV on stdout); "
        f"required above {100} Gaussians",
    )

    sep = _command(
        sub,
        "separability",
        help="how well Gaussian class models separate the classes of a table",
        description="Fit one Gaussian per class of --target and score how far "
        "apart the classes are, with bounds on the Bayes error.",
    )
    sep.add_argument("data", metavar="DATA", help=_TABLE_HELP)
    sep.add_argument("--target", required=True, metavar="COLUMN", help="class column")
    sep.add_argument(
        "--columns", metavar="A,B,...", help="feature columns (default: all others)"
    )
    _add_table_options(sep)
    _add_kind_options(sep, default="bhattacharyya")
    _add_fit_options(sep, covariance_types)
    sep.add_argument(
        "--reg-covar",
        type=_non_negative,
        default=1e-6,
        help="ridge added to every covariance's diagonal (default 1e-6)",
    )
    sep.add_argument(
        "--save-gaussians",
        metavar="OUT.csv",
        help="also write the class Gaussians as packed rows (for skkl pairwise)",
    )
    sep.add_argument("--json", action="store_true", help="print JSON")

    dr = _command(
        sub,
        "drift",
        help="two-sample test: has CURRENT drifted away from REFERENCE?",
        description="Test of 'same mean and covariance' between the rows of "
        "REFERENCE\nand those of CURRENT (tables with a header row), with an "
        "effect size:\nthe bias-corrected symmetric KL divergence between their "
        "Gaussian fits.\nA progress indicator shows on stderr when it is a terminal.",
        epilog=_DRIFT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dr.add_argument("reference", metavar="REFERENCE")
    dr.add_argument("current", metavar="CURRENT")
    dr.add_argument(
        "--columns", metavar="A,B,...", help="columns to compare (default: all)"
    )
    _add_table_options(dr)
    dr.add_argument(
        "--level", type=_level, default=0.05, help="test level in (0, 1) (default 0.05)"
    )
    dr.add_argument(
        "--alpha", action=_Renamed, replacement="--level for the test level"
    )
    dr.add_argument(
        "--method",
        choices=_DRIFT_METHODS,
        default="auto",
        help="engine of GaussianDriftDetector: auto (default: the detector "
        "picks the cheapest by n, d and permutations), permutation (exact, "
        "moment features), gram (exact permutations in sample space, large d) "
        "or asymptotic (distribution-free large-n test; falls back to "
        "permutations, with a warning, where it cannot be calibrated)",
    )
    dr.add_argument(
        "--min-effect",
        type=_non_negative,
        default=None,
        help="smallest effect (bias-corrected symmetric KL, nats, >= 0) that "
        "counts as drift (default: any significant difference)",
    )
    dr.add_argument(
        "--n-permutations",
        "--permutations",
        dest="n_permutations",
        type=_positive_int,
        default=1000,
        help="permutations for the p-value (default 1000); more than "
        "1/level - 1, or no p-value can fall below --level",
    )
    _add_fit_options(dr, ["full", "diag"])
    dr.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    dr.add_argument("--json", action="store_true", help="print the result as JSON")
    dr.set_defaults(_parser=dr)

    from . import _frechet

    fr = _command(sub, "frechet", help=_frechet.HELP, description=_frechet.DESCRIPTION)
    _frechet.add_arguments(fr)
    return parser


def _min_permutations(level: float) -> int:
    """Smallest B whose smallest p-value, 1 / (B + 1), is below ``level``."""
    B = max(1, math.floor(1.0 / level - 1.0))
    while 1.0 / (B + 1) >= level:
        B += 1
    return B


def _check_drift_flags(args) -> None:
    need = _min_permutations(args.level)
    if args.method != "asymptotic" and args.n_permutations < need:
        args._parser.error(
            f"--n-permutations {args.n_permutations} can never reach --level "
            f"{args.level:g} (the smallest p-value is 1/(B+1)); use at least {need}"
        )


def _run(args) -> int:
    if args.func == "demo":
        from ._demo import cmd_demo

        return cmd_demo(args)
    if args.func == "frechet":
        from ._frechet import cmd_frechet

        return cmd_frechet(args)
    from . import _commands

    return getattr(_commands, f"cmd_{args.func}")(args)


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
        args = parser.parse_args(argv)
        if args.command == "drift":
            _check_drift_flags(args)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return _run(args)
    except BrokenPipeError:  # e.g. `skkl demo | head`
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except KeyboardInterrupt:
        print(f"\nskkl {args.command}: interrupted", file=sys.stderr)
        return 130  # the shell's status for SIGINT
    except (CLIError, OSError) as exc:
        print(f"skkl {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ImportError as exc:
        print(
            f"skkl {args.command}: error: this installation of skkl is incomplete "
            f"({exc}); reinstall it.",
            file=sys.stderr,
        )
        return EXIT_USAGE
    except Exception:
        traceback.print_exc()
        print(
            f"skkl {args.command}: internal error: this is a bug in skkl "
            f"{__version__}; please report it with the traceback above.",
            file=sys.stderr,
        )
        return EXIT_BUG
