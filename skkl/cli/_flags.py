"""Flag values and the arguments several commands share.

Each flag's value is checked when the command line is parsed, so a bad value
ends with argparse's usage line and exit status 2 before any file is read,
and the message names the flag (never the library parameter behind it).
The ranges agree with the library's parameter constraints
(``tests/test_cli_flags.py`` checks them against each other).
"""

from __future__ import annotations

import argparse
import math

from ._command import Arg, arg
from ._numbers import DECIMALS, parse_float, parse_int
from ._readers import DELIMITERS

__all__ = [
    "MAX_COUNT",
    "MAX_SEED",
    "TABLE_HELP",
    "count",
    "covariance_types",
    "decimal",
    "decimal_arg",
    "fit_args",
    "kind_args",
    "level",
    "n_jobs",
    "names_list",
    "non_negative",
    "order",
    "renamed",
    "seed",
    "sep",
    "sep_arg",
    "shrinkage",
    "table_args",
]

# numpy's legacy seeds (scikit-learn's random_state) are unsigned 32-bit.
MAX_SEED = 2**32 - 1
# Counts (permutations) are numpy int64 array sizes.
MAX_COUNT = 2**63 - 1


def _number(text: str, low=None, high=None, *, closed=False, integer=False):
    """``text`` as a number in (low, high) (or [low, high] if ``closed``)."""
    try:
        value = parse_int(text.strip()) if integer else parse_float(text)
    except ValueError:
        what = "an integer" if integer else "a number"
        raise argparse.ArgumentTypeError(f"must be {what}, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be finite, got {text!r}")
    below = low is not None and (value < low if closed else value <= low)
    above = high is not None and (value > high if closed else value >= high)
    if below or above:
        lo = "-inf" if low is None else f"{low:g}" if not integer else str(low)
        hi = "inf" if high is None else f"{high:g}" if not integer else str(high)
        left = "[" if closed and low is not None else "("
        right = "]" if closed and high is not None else ")"
        raise argparse.ArgumentTypeError(
            f"must be in {left}{lo}, {hi}{right}, got {text}"
        )
    return value


def level(text: str) -> float:
    """A test level in (0, 1)."""
    return _number(text, 0.0, 1.0)


def order(text: str) -> float:
    """The order of the Rényi divergence, > 0."""
    return _number(text, 0.0)


def non_negative(text: str) -> float:
    return _number(text, 0.0, closed=True)


def count(text: str) -> int:
    """A positive integer a numpy array can hold as a size."""
    return _number(text, 1, MAX_COUNT, closed=True, integer=True)


def seed(text: str) -> int:
    """A random seed numpy and scikit-learn accept."""
    return _number(text, 0, MAX_SEED, closed=True, integer=True)


def n_jobs(text: str) -> int:
    value = _number(text, integer=True)
    if value == 0:
        raise argparse.ArgumentTypeError(
            "must be a non-zero integer (-1 for all cores), got 0"
        )
    return value


def shrinkage(text: str):
    if text in ("ledoit_wolf", "oas"):
        return text
    try:
        value = parse_float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(
            f"must be ledoit_wolf, oas or a float in [0, 1], got {text!r}"
        )
    return value


def sep(text: str) -> str:
    """The delimiter named by ``--sep``: a character or comma/semicolon/tab/pipe.

    Examples
    --------
    >>> sep("tab") == "\\t", sep(";"), sep("\\\\t") == "\\t"
    (True, ';', True)
    """
    names = {name: char for char, name in DELIMITERS.items()}
    value = names.get(text, "\t" if text == "\\t" else text)
    if len(value) != 1 or value in '"\r\n':
        raise argparse.ArgumentTypeError(
            f"must be one character or one of {', '.join(names)}, got {text!r}"
        )
    return value


def decimal(text: str) -> str:
    """The decimal separator named by ``--decimal``: point or comma."""
    names = {name: char for char, name in DECIMALS.items()}
    value = names.get(text, text)
    if value not in DECIMALS:
        raise argparse.ArgumentTypeError(
            f"must be point (.) or comma (,), got {text!r}"
        )
    return value


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


def renamed(flag: str, replacement: str) -> Arg:
    """A removed ``flag``: using it is a usage error naming ``replacement``."""
    return arg(flag, action=_Renamed, replacement=replacement)


# -- arguments several commands share --------------------------------------------

TABLE_HELP = (
    "delimited text (.csv, .tsv, .txt; also .gz, .bz2, .xz, .zip) with a header "
    "row, or .parquet (needs pyarrow)"
)


def _kinds() -> list[str]:
    from ..divergence import DIVERGENCES

    return sorted(DIVERGENCES)


def covariance_types() -> list[str]:
    from .._gaussians import COVARIANCE_TYPES

    return list(COVARIANCE_TYPES)


def kind_args(default: str) -> tuple[Arg, ...]:
    """``--kind`` and ``--order``, for the commands that take a divergence."""
    kinds = _kinds()
    return (
        arg(
            "--kind",
            default=default,
            choices=kinds,
            metavar="KIND",
            help=f"one of {', '.join(kinds)} (default: {default})",
        ),
        arg(
            "--order",
            param="alpha",
            type=order,
            default=0.5,
            help="order of the 'renyi' divergence, > 0 (default 0.5)",
        ),
        renamed("--alpha", "--order for the order of 'renyi'"),
    )


def sep_arg(
    help: str = "delimiter: comma, semicolon, tab, pipe or one character "
    "(default: sniffed from the first lines)",
) -> Arg:
    return arg("--sep", type=sep, default=None, metavar="SEP", help=help)


def decimal_arg() -> Arg:
    return arg(
        "--decimal",
        type=decimal,
        default=".",
        metavar="{point,comma}",
        help="decimal separator of the numbers: point (default) or comma "
        "(1,5); with comma, a number with a point is refused",
    )


def table_args() -> tuple[Arg, ...]:
    """How to read a data table: delimiter, decimal separator, missing values."""
    return (
        sep_arg(),
        decimal_arg(),
        arg(
            "--dropna",
            action="store_true",
            help="drop rows with missing values (empty, NA, NaN, null) in the "
            "columns used, and say how many",
        ),
    )


def fit_args(types, default: str = "full") -> tuple[Arg, ...]:
    """``--covariance-type`` and ``--shrinkage`` of a Gaussian fit."""
    return (
        arg(
            "--covariance-type",
            param="covariance_type",
            default=default,
            choices=types,
            help=f"covariance model (default: {default})",
        ),
        arg(
            "--shrinkage",
            param="shrinkage",
            type=shrinkage,
            default=None,
            help="covariance shrinkage: ledoit_wolf, oas or a float in [0, 1]",
        ),
    )


def names_list(text: str) -> list[str]:
    """Comma-separated names (of columns, of Gaussians)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError(
            f"must name at least one, separated by commas, got {text!r}"
        )
    return names
