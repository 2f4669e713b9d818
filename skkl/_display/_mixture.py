"""Plain and notebook (HTML) displays of the mixture results.

:class:`~skkl.mixture.MonteCarloEstimate` and
:class:`~skkl.mixture.MixtureKLBounds` call these from one-line methods. The
key number comes first with its uncertainty: an estimate with its standard
error and 95% interval; KL bracketed by its provable bounds. Only public
attributes are read.
"""

from __future__ import annotations

from ._blocks import Column, facts, table, verdict
from ._numbers import count, number, plus_minus, ratio
from ._page import notebook_fragment

__all__ = ["bounds_html", "bounds_text", "estimate_html", "estimate_text"]

# Significant digits of a bound or an interval end: enough to compare a
# bound with a Monte Carlo estimate at its usual standard error.
_DIGITS = 4


def _quantity(est) -> str:
    return est.quantity or "divergence"


def _value(est) -> str:
    """``estimate ± standard error`` (the estimate to six digits if exact)."""
    if est.standard_error == 0:
        return f"{number(est.estimate, 6)} ± 0"
    return plus_minus(est.estimate, est.standard_error)


def _interval(est) -> str:
    low, high = est.confidence_interval(0.95)
    return f"[{number(low, _DIGITS)}, {number(high, _DIGITS)}]"


def estimate_text(est) -> str:
    """``MonteCarloEstimate(KL(p || q) = 0.1853 ± 0.0012, 95% CI [...], ...)``."""
    return (
        f"MonteCarloEstimate({_quantity(est)} = {_value(est)}, "
        f"95% CI {_interval(est)}, n_samples={est.n_samples})"
    )


def estimate_html(est) -> str:
    """The estimate ± its standard error first, then interval and sampling."""
    summary = verdict(
        "info",
        f"{_quantity(est).replace('||', '‖')} = {_value(est)} nats",
        "Monte Carlo estimate ± its standard error.",
    )
    info = facts(
        [
            ("95% interval", f"{_interval(est)} (normal theory)"),
            ("standard error", number(est.standard_error)),
            ("draws", f"{count(est.n_samples)} (stratified, pilot included)"),
            (
                "variance reduction",
                f"{ratio(est.variance_reduction)}x: as good as "
                f"{number(est.effective_n_samples)} plain draws",
            ),
            ("plain Monte Carlo error", number(est.plain_standard_error)),
        ]
    )
    return notebook_fragment(estimate_text(est), summary, info)


def _best(bounds: dict, pick) -> str:
    """Name of the bound ``pick`` (max or min) selects; the first on a tie."""
    if not bounds:
        return ""
    target = pick(bounds.values())
    return next(name for name, v in bounds.items() if v == target)


def bounds_text(b) -> str:
    """``MixtureKLBounds(0.1 <= KL(p || q) <= 0.5; best lower: ..., ...)``."""
    return (
        f"MixtureKLBounds({number(b.lower, _DIGITS)} <= KL(p || q) <= "
        f"{number(b.upper, _DIGITS)}; best lower: {_best(b.lower_bounds, max)}, "
        f"best upper: {_best(b.upper_bounds, min)})"
    )


def bounds_html(b) -> str:
    """``lower <= KL(p || q) <= upper`` first, then every bound by name."""
    summary = verdict(
        "info",
        f"{number(b.lower, _DIGITS)} ≤ KL(p ‖ q) ≤ {number(b.upper, _DIGITS)} nats",
        "Provable bounds: they hold exactly for these two mixtures "
        f"(bracket width {number(b.upper - b.lower)}).",
    )
    best = {
        ("lower", _best(b.lower_bounds, max)),
        ("upper", _best(b.upper_bounds, min)),
    }
    rows = [
        (name, side, number(value, _DIGITS), "best" if (side, name) in best else "")
        for side, bounds in (("lower", b.lower_bounds), ("upper", b.upper_bounds))
        for name, value in bounds.items()
    ]
    columns = [
        Column("bound"),
        Column("side"),
        Column("nats", numeric=True),
        Column(""),
    ]
    return notebook_fragment(
        bounds_text(b), summary, table(columns, rows, caption="Every bound")
    )
