"""Drift results as notebook displays and as a report page.

Everything here reads a :class:`~skkl._display._drift_view.DriftView` (or a
``ScanView``), never the result itself: the adapter in ``_drift_view`` is the
one place that knows the result's attributes. The figures come from
:class:`~skkl.plotting.DriftDisplay` when matplotlib is installed.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ._blocks import Column, bar, facts, figure, notes, section, table, verdict
from ._drift_view import ScanView, drift_view, scan_view
from ._figures import svg_figure
from ._html import join
from ._numbers import count, number, p_value, percent, plus_minus, ratio
from ._page import notebook_fragment, page, write_page

__all__ = [
    "drift_report_html",
    "drift_result_html",
    "drift_scan_html",
    "write_drift_report",
]

#: Features listed in a notebook display (the page lists every feature).
NOTEBOOK_FEATURES = 10
#: Windows listed in a notebook display of a scan.
NOTEBOOK_WINDOWS = 12
#: Features drawn in the page's figure (bars beyond this are unreadable).
FIGURE_FEATURES = 30
#: Drifted features named in the verdict.
VERDICT_FEATURES = 5


# -- sentences ---------------------------------------------------------------


def _effect_text(v) -> str:
    if np.isnan(v.effect):
        return "not computed"
    text = f"{plus_minus(v.effect, v.effect_null_sd)} nats"
    sd = v.effect_null_sd
    if np.isfinite(sd) and sd > 0 and np.isfinite(v.effect):
        text += (
            f" (± its spread without drift; {ratio(v.effect / sd)} times that spread)"
        )
    return text


def _features_sentence(v) -> str:
    moved = [f for f in v.ranked() if f.drifted]
    if not moved:
        return f"No single feature moved on its own (every Holm p ≥ {v.alpha:g})."
    names = ", ".join(f.name for f in moved[:VERDICT_FEATURES])
    more = len(moved) - VERDICT_FEATURES
    tail = f" and {more} more" if more > 0 else ""
    return f"Features that moved (Holm p < {v.alpha:g}): {names}{tail}."


def _verdict(v):
    p_text = f"p = {p_value(v.p_value)}"
    if v.is_drift:
        kind, label = "drift", "Drift detected"
        why = f"{p_text} < α = {v.alpha:g}."
    elif v.p_value < v.alpha:
        kind, label = "caution", "Significant, but not reported as drift"
        why = (
            f"{p_text} < α = {v.alpha:g}, yet the detector did not report drift: "
            "the effect is below its min_effect."
        )
    else:
        kind, label = "ok", "No drift detected"
        why = f"{p_text} ≥ α = {v.alpha:g}."
    return verdict(
        kind, label, why, f"Effect: {_effect_text(v)}.", _features_sentence(v)
    )


def _rows_text(v) -> str | None:
    if v.start is None:
        return None
    return f"{count(v.start)} to {count(v.stop)} (of the scanned stream)"


def _engine_text(v) -> str:
    text = v.method or "n/a"
    if v.method_reason:
        text += f": {v.method_reason}"
    return text


def _facts(v):
    if v.n_permutations is not None:
        kind = f"permutation, B = {count(v.n_permutations)}"
    else:
        kind = "asymptotic" if v.method == "asymptotic" else None
    dropped = [f.name for f in v.features if f.dropped]
    return facts(
        [
            (
                "p-value",
                f"{p_value(v.p_value)} ({kind})" if kind else p_value(v.p_value),
            ),
            ("level α", f"{v.alpha:g}"),
            (
                "statistic",
                f"{number(v.statistic)} ({v.statistic_name}); critical value "
                f"{number(v.critical_value)}",
            ),
            ("effect", _effect_text(v)),
            ("engine", _engine_text(v)),
            ("reference rows", None if v.n_ref is None else count(v.n_ref)),
            ("current rows", None if v.n is None else count(v.n)),
            ("window rows", _rows_text(v)),
            ("features", f"{count(len(v.features))}"),
            ("dropped as constant", ", ".join(dropped) if dropped else None),
        ]
    )


# -- tables ------------------------------------------------------------------


def _feature_columns(has) -> list:
    columns = [
        Column("feature"),
        Column("effect (nats)", numeric=True),
        Column("Holm p", numeric=True),
        Column("drifted"),
    ]
    for field, label in (
        ("reference_mean", "reference mean"),
        ("reference_sd", "reference sd"),
        ("current_mean", "current mean"),
        ("current_sd", "current sd"),
        ("reference_missing", "reference missing"),
        ("current_missing", "current missing"),
    ):
        if field in has:
            columns.append(Column(label, numeric=True))
    return columns


def _feature_row(f, top: float, has) -> list:
    status = "dropped (constant)" if f.dropped else ("yes" if f.drifted else "no")
    row = [
        f.name,
        join(
            number(f.effect),
            bar(f.effect / top if top > 0 else 0.0, highlight=f.drifted),
        ),
        p_value(f.p_value),
        status,
    ]
    for field in ("reference_mean", "reference_sd", "current_mean", "current_sd"):
        if field in has:
            row.append(number(getattr(f, field), 4))
    for field in ("reference_missing", "current_missing"):
        if field in has:
            row.append(percent(getattr(f, field)))
    return row


def _feature_table(v, limit: int | None = None):
    ranked = v.ranked()
    shown = ranked if limit is None else ranked[:limit]
    effects = np.array([f.effect for f in v.features], dtype=np.float64)
    finite = effects[np.isfinite(effects)]
    top = float(finite.max()) if finite.size else 0.0
    has = v.has
    caption = "Per-feature effects, strongest evidence first"
    if len(shown) < len(ranked):
        caption += f" (top {len(shown)} of {len(ranked)})"
    return table(
        _feature_columns(has),
        [_feature_row(f, top, has) for f in shown],
        caption=caption,
        row_classes=["skkl-row--drift" if f.drifted else None for f in shown],
    )


def _category_tables(v):
    if not v.categories:
        return None
    columns = [
        Column("level"),
        Column("reference", numeric=True),
        Column("current", numeric=True),
        Column("change", numeric=True),
    ]
    return join(
        table(
            columns,
            [
                (lv, percent(a), percent(b), f"{100 * (b - a):+.3g} pts")
                for lv, a, b in levels
            ],
            caption=f"{column}: category frequencies",
        )
        for column, levels in v.categories
    )


# -- figures -----------------------------------------------------------------


def _result_figure(v, max_features: int | None):
    from ..plotting import DriftDisplay

    d = len(v.features)
    k = d if max_features is None else min(d, max_features)

    def draw(fig):
        DriftDisplay.from_result(
            v.result, max_features=max_features, ax=fig.subplots(1, 2)
        )

    svg = svg_figure(
        draw,
        figsize=(10, max(4.2, 2.2 + 0.25 * k)),
        label=f"Permutation null of the statistic and the effects of {k} features.",
    )
    caption = (
        "Left: the statistic's distribution without drift, the observed value and "
        "the critical value. Right: each feature's effect"
    )
    caption += "." if k == d else f", the {k} with the strongest evidence."
    return figure(svg, caption)


def _timeline_figure(s: ScanView, figsize):
    from ..plotting import DriftDisplay

    def draw(fig):
        DriftDisplay.from_scan([w.result for w in s.windows], ax=fig.subplots(1, 2))

    svg = svg_figure(
        draw,
        figsize=figsize,
        label=f"p-values and effects of {len(s.windows)} windows over the stream.",
    )
    return figure(
        svg,
        "Left: each window's p-value (log scale; drifting windows in red; α dashed). "
        "Right: each window's effect in nats.",
    )


# -- scans -------------------------------------------------------------------


def _scan_verdict(s: ScanView):
    drifted = [w for w in s.windows if w.is_drift]
    n = len(s.windows)
    if not s.windows:
        return verdict("caution", "No window tested", "The scan holds no window.")
    if not drifted:
        best = min(w.p_value for w in s.windows)
        return verdict(
            "ok",
            "No drift detected",
            f"None of {n} windows drifted at α = {s.alpha:g} (smallest p = "
            f"{p_value(best)}; each window is tested at α).",
        )
    first = drifted[0]
    where = "" if first.start is None else f", first at rows {first.start}-{first.stop}"
    return verdict(
        "drift",
        "Drift detected",
        f"{len(drifted)} of {n} windows drifted at α = {s.alpha:g}{where}.",
        f"Largest effect: {plus_minus(*_largest_effect(drifted))} nats.",
    )


def _largest_effect(windows):
    w = max(windows, key=lambda w: w.effect if np.isfinite(w.effect) else -np.inf)
    return w.effect, w.effect_null_sd


def _window_table(s: ScanView, limit: int | None = None):
    shown = s.windows if limit is None else s.windows[:limit]
    columns = [
        Column("rows"),
        Column("p-value", numeric=True),
        Column("effect (nats)", numeric=True),
        Column("drift"),
        Column("engine"),
    ]
    rows = [
        (
            f"{w.start}-{w.stop}" if w.start is not None else str(i),
            p_value(w.p_value),
            plus_minus(w.effect, w.effect_null_sd),
            "yes" if w.is_drift else "no",
            w.method,
        )
        for i, w in enumerate(shown)
    ]
    caption = "Windows"
    if len(shown) < len(s.windows):
        caption += f" (first {len(shown)} of {len(s.windows)})"
    return table(
        columns,
        rows,
        caption=caption,
        row_classes=["skkl-row--drift" if w.is_drift else None for w in shown],
    )


def _strongest(s: ScanView):
    """The window with the smallest p-value (the larger effect on ties)."""
    return min(
        s.windows, key=lambda w: (w.p_value, -np.nan_to_num(w.effect, nan=-np.inf))
    )


def _scan_notes(s: ScanView) -> list:
    out = []
    if s.skipped:
        ranges = ", ".join(f"{a}-{b - 1}" for a, b in s.skipped)
        out.append(f"Rows {ranges} were in no tested window.")
    seen = set()
    for w in s.windows:
        for note in w.notes:
            if note not in seen:
                seen.add(note)
                out.append(note)
    return out


# -- text fallbacks ------------------------------------------------------------


def result_text(v) -> str:
    """A few plain lines: what a viewer without HTML shows."""
    state = "drift" if v.is_drift else "no drift"
    lines = [
        f"DriftResult: {state} (p={p_value(v.p_value)}, alpha={v.alpha:g})",
        f"  effect {plus_minus(v.effect, v.effect_null_sd)} nats; engine {v.method}; "
        f"n_ref={v.n_ref}, n={v.n}",
    ]
    top = [f for f in v.ranked() if f.drifted][:VERDICT_FEATURES]
    if top:
        lines.append(
            "  moved: " + ", ".join(f"{f.name} (p={p_value(f.p_value)})" for f in top)
        )
    return "\n".join(lines)


def scan_text(s: ScanView) -> str:
    """A plain summary line of a scan."""
    k = sum(w.is_drift for w in s.windows)
    return f"DriftScan: {len(s.windows)} windows, drift in {k} (alpha={s.alpha:g})"


# -- entry points ----------------------------------------------------------------


def drift_result_html(result) -> str:
    """The notebook display of a DriftResult (``_repr_html_``)."""
    v = drift_view(result)
    return notebook_fragment(
        result_text(v), _verdict(v), _facts(v), _feature_table(v, NOTEBOOK_FEATURES)
    )


def drift_scan_html(scan) -> str:
    """The notebook display of a DriftScan (``_repr_html_``)."""
    s = scan_view(scan)
    if not s.windows:
        return notebook_fragment(scan_text(s), _scan_verdict(s))
    return notebook_fragment(
        scan_text(s),
        _scan_verdict(s),
        _timeline_figure(s, figsize=(8, 2.8)),
        _window_table(s, NOTEBOOK_WINDOWS),
    )


def _result_page(v) -> str:
    sizes = [f"{count(len(v.features))} features"]
    if v.n_ref is not None:
        sizes = [
            f"reference {count(v.n_ref)} rows",
            f"current {count(v.n)} rows",
            *sizes,
        ]
    return page(
        "Drift report",
        _verdict(v),
        section("The test", _facts(v)),
        section("Figure", _result_figure(v, FIGURE_FEATURES)),
        section("Features", _feature_table(v)),
        section("Category frequencies", _category_tables(v)),
        section("Notes", notes(v.notes)),
        subtitle="; ".join(sizes) + ".",
    )


def _scan_page(s: ScanView) -> str:
    if not s.windows:
        return page("Drift scan report", _scan_verdict(s))
    w = _strongest(s)
    where = "" if w.start is None else f" (rows {w.start}-{w.stop})"
    return page(
        "Drift scan report",
        _scan_verdict(s),
        section("Timeline", _timeline_figure(s, figsize=(10, 4.2)), _window_table(s)),
        section(
            f"The window with the strongest evidence{where}",
            _verdict(w),
            _facts(w),
            _result_figure(w, FIGURE_FEATURES),
            _feature_table(w),
            _category_tables(w),
        ),
        section("Notes", notes(_scan_notes(s))),
        subtitle=f"{len(s.windows)} windows; each tested at α = {s.alpha:g}.",
    )


def drift_report_html(result) -> str:
    """The report page of a DriftResult or a DriftScan, as a string."""
    if isinstance(result, (list, tuple)):
        return _scan_page(scan_view(result))
    return _result_page(drift_view(result))


def write_drift_report(result, path) -> Path:
    """Write the report page of a DriftResult or DriftScan to ``path``.

    Parameters
    ----------
    result : DriftResult or DriftScan
        What :meth:`~skkl.GaussianDriftDetector.test` or
        :meth:`~skkl.GaussianDriftDetector.scan` returned.
    path : str or os.PathLike
        The HTML file to write (replaced if it exists).

    Returns
    -------
    path : pathlib.Path
    """
    return write_page(path, lambda: drift_report_html(result), "drift.html")
