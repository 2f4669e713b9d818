"""The online monitor as text, notebook displays and a report page.

Everything here reads the views of ``_monitor_view`` (a :class:`MonitorRun`,
:class:`MonitorSettings`, :class:`AlarmView`), never the monitor's objects;
the timeline figure comes from ``_monitor_figure`` when matplotlib is
installed, and a table of the same numbers stands in for it otherwise.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ._blocks import Column, bar, facts, notes, section, table, verdict
from ._html import join
from ._monitor_figure import timeline_figure
from ._monitor_view import MonitorRun, MonitorSettings, monitor_settings
from ._numbers import count, number, percent
from ._page import notebook_fragment, page, write_page

__all__ = [
    "monitor_alarm_text",
    "monitor_html",
    "monitor_report_html",
    "monitor_state_html",
    "monitor_state_text",
    "write_monitor_report",
]

#: Alarms and features listed in a notebook display (a page lists them all,
#: up to ALARMS_KEPT alarms).
NOTEBOOK_ROWS = 10
#: Rows of the timeline table that stands in for the figure without
#: matplotlib.
TABLE_BINS = 20
#: Features named in a verdict or a one-line summary.
NAMED = 3
# Fewer simulated false alarms at the threshold than this: the threshold was
# extrapolated (the monitor warns at the same count).
_MIN_EVENTS = 10

_PARTS = {
    "mean": "the whitened mean (Hotelling)",
    "feature": "one feature's mean and variance",
    "scale": "the overall scale of the whitened rows",
    "pair": "the correlation of one pair of whitened coordinates",
}


# -- plain text ------------------------------------------------------------------


def monitor_alarm_text(alarm) -> str:
    """``MonitorAlarm(row=109, change_point=99, part='mean', ...)`` on one line."""
    return (
        f"MonitorAlarm(row={alarm.row}, change_point={alarm.change_point}, "
        f"part={alarm.part!r}, statistic={number(alarm.statistic)}, "
        f"effect={number(alarm.effect)}, features={tuple(alarm.features)!r})"
    )


def monitor_state_text(state) -> str:
    """A one-line summary of a MonitorState: the verdict first."""
    head = f"n_rows={state.n_rows}, statistic={number(state.statistic)}, "
    head += f"threshold={number(state.threshold)}"
    if state.alarms:
        a = state.alarms[0]
        more = f"{len(state.alarms)} alarms, the first" if len(state.alarms) > 1 else ""
        where = f"{more or 'alarm'} at row {a.row}"
        names = ", ".join(a.features[:NAMED])
        return (
            f"MonitorState(ALARM: {where}, change from row {a.change_point} "
            f"({a.part} part; {names}); {head})"
        )
    if state.change_point is None:
        return f"MonitorState(no alarm, empty batch; {head})"
    return (
        f"MonitorState(no alarm: {head}; leading window from row "
        f"{state.change_point}, {state.part} part)"
    )


# -- sentences -----------------------------------------------------------------------


def _rows_word(run: MonitorRun) -> str:
    return "data row" if run.rows_from else "row"


def guarantee(s: MonitorSettings) -> str:
    """What the calibration promises, in words."""
    ert = count(round(s.ert))
    if s.mode == "parametric":
        level = 1 - (s.delta if s.delta is not None else 0.05)
        return (
            f"For Gaussian data (calibration 'parametric'): without a change, the "
            f"monitor's average run length is at least {ert} rows for all but "
            f"{percent(1 - level)} of reference samples, P(ARL ≥ ERT) ≥ {level:g}."
        )
    return (
        f"Distribution-free (calibration '{s.mode}'): without a change, false alarms "
        f"come at a rate of 1 per {ert} rows averaged over reference samples, so "
        f"the chance of one within t rows is about t / {ert} for t well below it."
    )


def _error_text(s: MonitorSettings) -> str:
    return f"± {number(100 * s.relative_se, 2)}%"


def _ert_text(s: MonitorSettings) -> str:
    return (
        f"{count(round(s.ert))} rows between false alarms without a change "
        f"({_error_text(s)}: the Monte Carlo error of the ERT at this threshold)"
    )


def _threshold_text(s: MonitorSettings) -> str:
    """The threshold with the budget it was set for, on one line."""
    return (
        f"{number(s.threshold)} nats, for an ERT of {count(round(s.ert))} rows "
        f"({_error_text(s)} Monte Carlo error; '{s.mode}' calibration)"
    )


def _simulation_text(s: MonitorSettings) -> str:
    return (
        f"{count(s.replicates)} simulated references, {count(s.simulated_rows)} "
        f"simulated rows, {count(s.events)} simulated false alarms at the threshold"
    )


def _expected_text(run: MonitorRun) -> str | None:
    s = run.settings
    if s is None or not run.n_rows:
        return None
    expected = run.n_rows / s.ert
    return (
        f"Without a change about {number(expected, 2)} false alarm"
        f"{'' if expected == 1 else 's'} would be expected in {count(run.n_rows)} "
        f"rows (one per {count(round(s.ert))} on average)."
    )


def _span(run: MonitorRun, a) -> str:
    """``rows 194–204 (11 rows)`` of a window, as the page numbers rows."""
    word = _rows_word(run)
    if a.window == 1:
        return f"{word} {count(run.row(a.row))} (1 row)"
    first, last = count(run.row(a.change_point)), count(run.row(a.row))
    return f"{word}s {first}–{last} ({count(a.window)} rows)"


def _window_text(run: MonitorRun, a) -> str:
    return f"{_span(run, a)}, {a.part} part; effect {number(a.effect)} nats per row"


def _moved(a) -> str:
    return ", ".join(a.features[:NAMED]) if a.features else "n/a"


def _moved_scores(a) -> str:
    """The features that moved most, each with its score."""
    score = dict(a.scores)
    if not a.features:
        return "n/a"
    if not score:
        return _moved(a)
    first, *rest = a.features[:NAMED]
    return ", ".join(
        [f"{first} ({number(score[first])} nats per row)"]
        + [f"{name} ({number(score[name])})" for name in rest]
    )


def _verdict(run: MonitorRun):
    word = _rows_word(run)
    if not run.n_rows:
        return verdict("caution", "No rows watched", "The stream held no rows.")
    first, last = run.shown_rows()
    rows = f"{count(run.n_rows)} rows watched ({word}s {count(first)}–{count(last)})"
    if run.n_alarms:
        a = run.alarms[0]
        label = "Alarm" if run.n_alarms == 1 else f"{count(run.n_alarms)} alarms"
        latest = ""
        if run.n_alarms > 1:
            latest = f" The latest at {word} {count(run.row(run.latest.row))}."
        return verdict(
            "drift",
            f"{label} raised",
            f"First alarm at {word} {count(run.row(a.row))}: the statistic reached "
            f"{number(a.statistic)} ≥ threshold {number(_threshold(run))}; change "
            f"since {word} {count(run.row(a.change_point))} ({count(a.window)} rows, "
            f"{a.part} part).{latest}",
            f"Features that moved most: {_moved_scores(a)}; the window's effect "
            f"{number(a.effect)} nats per row.",
            f"{rows}. " + (_expected_text(run) or ""),
        )
    top = float(np.max(run.timeline.maxima()))
    return verdict(
        "ok",
        "No alarm",
        f"{rows}; the statistic's largest value {number(top)} stayed below the "
        f"threshold {number(_threshold(run))}.",
        _expected_text(run),
    )


def _threshold(run: MonitorRun) -> float:
    if run.settings is not None:
        return run.settings.threshold
    return float(run.last.threshold)


# -- blocks --------------------------------------------------------------------------


def _settings_facts(s: MonitorSettings | None, threshold: float):
    if s is None:
        return facts([("threshold", f"{number(threshold)} nats of evidence")])
    reference = None
    if s.n_ref is not None:
        reference = f"{count(s.n_ref)} rows, {count(s.n_features)} features"
        if s.shrinkage is not None:
            reference += f"; shrinkage {s.shrinkage}"
    return facts(
        [
            ("ERT", _ert_text(s)),
            ("guarantee", guarantee(s)),
            ("threshold", f"{number(s.threshold)} nats of evidence"),
            ("window", None if s.window is None else f"{count(s.window)} rows at most"),
            ("calibration", _simulation_text(s)),
            ("reference", reference),
            ("parameters", s.parameters),
        ]
    )


def _run_facts(run: MonitorRun, with_threshold: bool = False):
    """The stream's numbers; ``with_threshold`` adds the budget in one line."""
    leading = run.leading
    s = run.settings
    return facts(
        [
            (
                "statistic",
                f"{number(run.last.statistic)} nats at the last row; largest "
                f"{number(run.timeline.maxima().max())}",
            )
            if run.n_rows
            else None,
            ("threshold", _threshold_text(s) if with_threshold and s else None),
            ("alarms", count(run.n_alarms)),
            (
                "leading window",
                _window_text(run, leading) + " (below the threshold)"
                if leading
                else None,
            ),
        ]
    )


def _alarm_table(run: MonitorRun, limit: int | None = None):
    if not run.alarms:
        return None
    shown = run.alarms if limit is None else run.alarms[:limit]
    word = _rows_word(run)
    columns = [
        Column("#"),
        Column(word, numeric=True),
        Column("change from", numeric=True),
        Column("rows", numeric=True),
        Column("part"),
        Column("statistic", numeric=True),
        Column("effect (nats/row)", numeric=True),
        Column("features that moved most"),
    ]
    rows = [
        (
            str(i + 1),
            count(run.row(a.row)),
            count(run.row(a.change_point)),
            count(a.window),
            a.part,
            number(a.statistic),
            number(a.effect),
            _moved(a),
        )
        for i, a in enumerate(shown)
    ]
    caption = "Each alarm: where, since when, which part, what moved"
    if len(shown) < run.n_alarms:
        caption += f" (the first {len(shown)} of {count(run.n_alarms)})"
    return table(columns, rows, caption=caption)


def _feature_table(a, caption: str, limit: int | None = None):
    ranked = a.ranked()
    if not ranked:
        return None
    shown = ranked if limit is None else ranked[:limit]
    finite = [s for _, s in ranked if math.isfinite(s)]
    top = max(finite) if finite else 0.0
    if len(shown) < len(ranked):
        caption += f" (top {len(shown)} of {len(ranked)})"
    return table(
        [Column("feature"), Column("KL of its marginal (nats/row)", numeric=True)],
        [
            (
                name,
                join(number(s), bar(s / top if top > 0 else 0.0)),
            )
            for name, s in shown
        ],
        caption=caption,
    )


def _features(run: MonitorRun, limit: int | None = None):
    """The first and latest alarms' features (without an alarm none moved enough)."""
    if not run.alarms:
        return None
    first = _feature_table(run.alarms[0], "Features at the first alarm", limit)
    if run.n_alarms == 1:
        return first
    latest = run.latest
    caption = (
        f"Features at the latest alarm ({_rows_word(run)} {count(run.row(latest.row))})"
    )
    return join(first, _feature_table(latest, caption, limit))


def _timeline_table(run: MonitorRun):
    """The timeline's numbers in a few rows: the figure's stand-in."""
    t = run.timeline.coarsened(TABLE_BINS)
    word = _rows_word(run)
    rows = [
        (
            f"{count(run.row(a))}–{count(run.row(b - 1))}",
            number(m),
            count(k),
        )
        for a, b, m, k in zip(
            t.starts(), t.stops(), t.maxima(), t.alarms(), strict=True
        )
    ]
    return table(
        [
            Column(f"{word}s"),
            Column("largest statistic", numeric=True),
            Column("alarms", numeric=True),
        ],
        rows,
        caption=f"The statistic over the stream ({count(t.width)} rows per line)",
    )


def _timeline(run: MonitorRun, figsize, table_fallback: bool = True):
    if run.n_rows < 2:
        return None
    figure = timeline_figure(run, _threshold(run), figsize)
    if figure is not None or not table_fallback:
        return figure
    return _timeline_table(run)


def _notes(run: MonitorRun) -> list:
    word = _rows_word(run)
    out = []
    if run.rows_from:
        out.append(
            "Rows are numbered from 1 as data rows of the stream (the header "
            "excluded), as skkl monitor prints them."
        )
    else:
        out.append(
            "Rows are numbered from 0, counted since the monitor was fitted or reset."
        )
    if run.n_alarms:
        out.append(
            "After an alarm the monitor starts a new run at the next row (its windows "
            "begin empty): a lasting change raises an alarm again every few rows."
        )
    if run.n_alarms > len(run.alarms):
        out.append(
            f"Only the first {len(run.alarms)} alarms are listed; the timeline counts "
            f"all {count(run.n_alarms)}."
        )
    if run.timeline.width > 1:
        out.append(
            "The timeline keeps the largest statistic of every "
            f"{count(run.timeline.width)} {word}s: its memory does not grow with "
            "the stream."
        )
    parts = {a.part for a in run.alarms}
    if run.leading is not None:
        parts.add(run.leading.part)
    for part in sorted(parts & set(_PARTS)):
        out.append(f"The {part} part of the statistic measures {_PARTS[part]}.")
    out.append(
        "Effect: the KL divergence per row, in nats, of the window's Gaussian fit "
        "from the reference; a change of effect k is detected after about "
        "threshold / k rows. The features' scores are the same KL for each "
        "feature's marginal."
    )
    s = run.settings
    if s is not None and s.events < _MIN_EVENTS:
        out.append(
            f"The threshold was extrapolated beyond the simulation (only {s.events} "
            "simulated false alarms at it): the realised ERT may be far from the "
            "target."
        )
    return out


# -- entry points --------------------------------------------------------------


def monitor_state_html(state) -> str:
    """The notebook display of a MonitorState (``_repr_html_``)."""
    run = MonitorRun.from_state(state)
    return notebook_fragment(
        monitor_state_text(state),
        _verdict(run),
        _run_facts(run, with_threshold=True),
        _timeline(run, figsize=(8, 2.4), table_fallback=False),
        _alarm_table(run, NOTEBOOK_ROWS),
        _features(run, NOTEBOOK_ROWS),
    )


def monitor_html(monitor) -> str:
    """The notebook display of a GaussianDriftMonitor: scikit-learn's until fitted."""
    if not hasattr(monitor, "threshold_"):
        from sklearn.utils._repr_html.estimator import estimator_html_repr

        return estimator_html_repr(monitor)
    s = monitor_settings(monitor)
    summary = verdict(
        "info",
        f"Monitor: an alarm about once every {count(round(s.ert))} rows without a "
        "change",
        guarantee(s),
        f"{count(monitor.n_rows_)} rows watched since fit or reset; "
        f"{count(monitor.n_alarms_)} alarm{'' if monitor.n_alarms_ == 1 else 's'}.",
    )
    text = (
        f"{s.parameters}\n  threshold {number(s.threshold)}, window {s.window}, "
        f"ERT {_error_text(s)} (Monte Carlo); {monitor.n_rows_} rows, "
        f"{monitor.n_alarms_} alarms"
    )
    return notebook_fragment(text, summary, _settings_facts(s, s.threshold))


def _subtitle(run: MonitorRun) -> str:
    parts = []
    if run.reference is not None:
        s = run.settings
        size = "" if s is None or s.n_ref is None else f" ({count(s.n_ref)} rows)"
        parts.append(f"reference {run.reference}{size}")
    if run.stream is not None:
        parts.append(f"stream {run.stream} ({count(run.n_rows)} rows)")
    if not parts:
        if not run.n_rows:
            return "An empty batch."
        first, last = run.shown_rows()
        return (
            f"One batch of {count(run.n_rows)} rows: rows {count(first)}–{count(last)}."
        )
    return "; ".join(parts) + "."


def monitor_report_html(run) -> str:
    """The report page of a MonitorRun or a MonitorState, as a string."""
    if not isinstance(run, MonitorRun):
        run = MonitorRun.from_state(run)
    threshold = _threshold(run) if run.last is not None else math.nan
    if not run.n_rows:
        return page(
            "Monitor report",
            _verdict(run),
            section("The monitor", _settings_facts(run.settings, threshold)),
            subtitle=_subtitle(run),
        )
    return page(
        "Monitor report",
        _verdict(run),
        section("The stream", _run_facts(run)),
        section(
            "The monitor and its guarantee", _settings_facts(run.settings, threshold)
        ),
        section("Timeline", _timeline(run, figsize=(10, 3.6))),
        section("Alarms", _alarm_table(run)),
        section("Features", _features(run)),
        section("Notes", notes(_notes(run))),
        subtitle=_subtitle(run),
    )


def write_monitor_report(run, path) -> Path:
    """Write the report page of a monitored stream or one state to ``path``.

    Parameters
    ----------
    run : MonitorRun or MonitorState
        A :class:`~skkl._display._monitor_view.MonitorRun` (what ``skkl
        monitor --report`` gathers over a stream) or the state one
        :meth:`~skkl.GaussianDriftMonitor.update` returned.
    path : str or os.PathLike
        The HTML file to write (replaced if it exists).

    Returns
    -------
    path : pathlib.Path
    """
    return write_page(path, lambda: monitor_report_html(run), "monitor.html")
