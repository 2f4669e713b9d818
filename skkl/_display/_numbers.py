"""Numbers as people read them in a report: significant digits, ± spreads, p."""

from __future__ import annotations

import math

__all__ = ["count", "number", "p_value", "percent", "plus_minus", "ratio"]

#: Significant digits of a plain number.
DIGITS = 3
# Beyond these magnitudes fixed-point notation hides the scale: use exponents.
_FIXED_RANGE = (1e-4, 1e6)


def _special(x: float) -> str | None:
    if math.isnan(x):
        return "n/a"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return None


def number(x, digits: int = DIGITS) -> str:
    """``x`` to ``digits`` significant digits (nan as 'n/a').

    Examples
    --------
    >>> number(0.0123456), number(1234567.0), number(float("nan")), number(-0.0)
    ('0.0123', '1.23e+06', 'n/a', '0')
    """
    x = float(x)
    special = _special(x)
    if special is not None:
        return special
    if x == 0:
        return "0"
    return f"{x:.{digits}g}"


def p_value(p) -> str:
    """A p-value: three significant digits, exponent form below 1e-3.

    Examples
    --------
    >>> p_value(0.04567), p_value(0.001), p_value(2.5e-12), p_value(0.0)
    ('0.0457', '0.001', '2.5e-12', '0')
    """
    p = float(p)
    special = _special(p)
    if special is not None:
        return special
    if p == 0:
        return "0"
    if p < 1e-3:
        return f"{p:.2g}"
    return f"{p:.3g}"


def plus_minus(value, spread) -> str:
    """``value ± spread``, the value rounded where the spread's 2nd digit is.

    Examples
    --------
    >>> plus_minus(247.1234, 2.2345), plus_minus(0.00375, 0.0102)
    ('247.1 ± 2.2', '0.004 ± 0.010')
    >>> plus_minus(5.0, float("nan")), plus_minus(3e250, 1e248)
    ('5', '3e+250 ± 1e+248')
    """
    value, spread = float(value), float(spread)
    if _special(value) or _special(spread) or spread <= 0:
        return number(value)
    big = max(abs(value), spread)
    if not _FIXED_RANGE[0] <= big < _FIXED_RANGE[1]:
        return f"{number(value)} ± {number(spread, 2)}"
    decimals = max(0, 1 - math.floor(math.log10(spread)))
    return f"{value:.{decimals}f} ± {spread:.{decimals}f}"


def ratio(x) -> str:
    """A multiple such as "times the null spread": whole numbers from 10 on.

    Examples
    --------
    >>> ratio(110.4), ratio(5.63), ratio(0.25), ratio(3.2e7)
    ('110', '5.6', '0.25', '32,000,000')
    """
    x = float(x)
    special = _special(x)
    if special is not None:
        return special
    if abs(x) >= 10:
        return f"{x:,.0f}" if abs(x) < 1e15 else f"{x:.2g}"
    return number(x, 2)


def percent(x) -> str:
    """A fraction as a percentage with up to three significant digits."""
    x = float(x)
    special = _special(x)
    if special is not None:
        return special
    return f"{100 * x:.3g}%"


def count(n) -> str:
    """An integer with thousands separators (``1,000,000``)."""
    return f"{int(n):,}"
