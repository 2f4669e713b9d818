"""What the command line reads as a number: one rule for files and flags.

The C parsers that read tables (pyarrow's, pandas', numpy's) accept ASCII
decimal numbers only. Python's :func:`float` also accepts digit separators
(``1_000``) and non-ASCII digits (``١٢``); a cell the C parsers refuse must not
become a number on the pure-Python path, so both are refused here too.
"""

from __future__ import annotations

__all__ = ["DECIMALS", "parse_float", "parse_int"]

#: Decimal separators ``--decimal`` accepts, by name.
DECIMALS = {".": "point", ",": "comma"}


def parse_float(text: str, decimal: str = ".") -> float:
    """``text`` as a float; ``ValueError`` if it is not a plain decimal number.

    Surrounding spaces are allowed; ``inf`` and ``nan`` spellings are numbers
    (a caller decides whether they are acceptable).

    Examples
    --------
    >>> parse_float(" 2.5e3 "), parse_float("1,5", decimal=",")
    (2500.0, 1.5)
    >>> parse_float("1_000")
    Traceback (most recent call last):
    ...
    ValueError: not a number: '1_000'
    >>> parse_float("1.5", decimal=",")  # 1.5 or 15: ambiguous
    Traceback (most recent call last):
    ...
    ValueError: not a number: '1.5'
    """
    if not text.isascii() or "_" in text:
        raise ValueError(f"not a number: {text!r}")
    if decimal != ".":
        if "." in text:
            raise ValueError(f"not a number: {text!r}")
        text = text.replace(decimal, ".", 1)
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"not a number: {text!r}") from None


def parse_int(text: str) -> int:
    """``text`` as an integer, by the same rule as :func:`parse_float`.

    Examples
    --------
    >>> parse_int("-3")
    -3
    >>> parse_int("1_000")
    Traceback (most recent call last):
    ...
    ValueError: not an integer: '1_000'
    """
    if not text.isascii() or "_" in text:
        raise ValueError(f"not an integer: {text!r}")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"not an integer: {text!r}") from None
