"""Plain and rich (HTML) displays of the mixture results.

Self-contained HTML fragments for notebooks: no script, no stylesheet link,
no network; every piece of text is escaped. The key number comes first with
its uncertainty (an estimate with its standard error and 95% interval; a
value bracketed by its bounds), then the details in a small table.
"""

from __future__ import annotations

import html
import math

__all__ = ["bounds_html", "bounds_text", "estimate_html", "estimate_text"]

_BOX = (
    "display:inline-block;font-family:sans-serif;font-size:0.9em;"
    "border:1px solid #bbb;border-radius:4px;padding:0.5em 0.8em;"
)
_HEAD = "font-size:1.15em;margin:0 0 0.4em 0;"
_CELL = "padding:0.1em 0.8em 0.1em 0;text-align:left;"
_NUM = "padding:0.1em 0.8em 0.1em 0;text-align:right;font-variant-numeric:tabular-nums;"
_MUTED = "color:#666;"


def _g(x: float, digits: int = 4) -> str:
    """``x`` to ``digits`` significant digits ('inf', 'nan' spelled out)."""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


def _pm(estimate: float, se: float) -> tuple[str, str]:
    """Estimate and standard error, the estimate to the error's last digit."""
    if not (math.isfinite(se) and se > 0 and math.isfinite(estimate)):
        return _g(estimate, 6), _g(se, 2)
    # Two significant digits of the error; the estimate to the same place.
    place = max(0, 1 - math.floor(math.log10(se)))
    if place > 12:
        return _g(estimate, 6), _g(se, 2)
    return f"{estimate:.{place}f}", f"{se:.{place}f}"


def _row(label: str, value: str, note: str = "") -> str:
    note_html = f'<td style="{_CELL}{_MUTED}">{html.escape(note)}</td>' if note else ""
    return (
        f'<tr><th scope="row" style="{_CELL}font-weight:normal;">'
        f"{html.escape(label)}</th>"
        f'<td style="{_NUM}">{html.escape(value)}</td>{note_html}</tr>'
    )


def _box(kind: str, head: str, rows: list[str]) -> str:
    return (
        f'<div class="skkl-result skkl-{kind}" style="{_BOX}">'
        f'<p style="{_HEAD}">{head}</p>'
        f'<table style="border-collapse:collapse;">{"".join(rows)}</table></div>'
    )


# -- MonteCarloEstimate ---------------------------------------------------------


def _quantity(est) -> str:
    return est.quantity or "divergence"


def estimate_text(est) -> str:
    """``MonteCarloEstimate(KL(p || q) = 0.1853 ± 0.0012, 95% CI [...], n=...)``."""
    value, se = _pm(est.estimate, est.standard_error)
    low, high = est.confidence_interval(0.95)
    return (
        f"MonteCarloEstimate({_quantity(est)} = {value} ± {se}, "
        f"95% CI [{_g(low, 6)}, {_g(high, 6)}], n_samples={est.n_samples})"
    )


def estimate_html(est) -> str:
    """The estimate ± its standard error first, then interval and sampling."""
    value, se = _pm(est.estimate, est.standard_error)
    low, high = est.confidence_interval(0.95)
    head = (
        f"<strong>{html.escape(_quantity(est).replace('||', '‖'))}</strong> = "
        f"<strong>{html.escape(value)}</strong> ± {html.escape(se)} "
        f'<span style="{_MUTED}">nats (estimate ± standard error)</span>'
    )
    rows = [
        _row("95% interval", f"[{_g(low, 6)}, {_g(high, 6)}]", "normal theory"),
        _row("standard error", _g(est.standard_error, 3)),
        _row("draws", f"{est.n_samples:,}", "stratified, pilot included"),
        _row(
            "variance reduction",
            f"{_g(est.variance_reduction, 3)}x",
            f"as good as {_g(est.effective_n_samples, 3)} plain draws",
        ),
        _row("plain Monte Carlo error", _g(est.plain_standard_error, 3), "same draws"),
    ]
    return _box("monte-carlo-estimate", head, rows)


# -- MixtureKLBounds --------------------------------------------------------------


def _best(bounds: dict, pick) -> str:
    """Name of the bound ``pick`` (max or min) selects; the first on a tie."""
    if not bounds:
        return ""
    target = pick(bounds.values())
    return next(name for name, v in bounds.items() if v == target)


def bounds_text(b) -> str:
    """``MixtureKLBounds(0.1 <= KL <= 0.5; lower: jensen, upper: variational)``."""
    lo = _best(b.lower_bounds, max)
    hi = _best(b.upper_bounds, min)
    return (
        f"MixtureKLBounds({_g(b.lower, 6)} <= KL(p || q) <= {_g(b.upper, 6)}; "
        f"best lower: {lo}, best upper: {hi})"
    )


def bounds_html(b) -> str:
    """``lower <= KL(p || q) <= upper`` first, then every bound by name."""
    head = (
        f"<strong>{html.escape(_g(b.lower, 6))}</strong> ≤ KL(p ‖ q) ≤ "
        f"<strong>{html.escape(_g(b.upper, 6))}</strong> "
        f'<span style="{_MUTED}">nats (provable bounds; width '
        f"{html.escape(_g(b.upper - b.lower, 3))})</span>"
    )
    best = {
        ("lower", _best(b.lower_bounds, max)),
        ("upper", _best(b.upper_bounds, min)),
    }
    rows = []
    for side, bounds in (("lower", b.lower_bounds), ("upper", b.upper_bounds)):
        for name, value in bounds.items():
            note = "best" if (side, name) in best else ""
            rows.append(_row(f"{side}: {name}", _g(float(value), 6), note))
    return _box("mixture-kl-bounds", head, rows)
