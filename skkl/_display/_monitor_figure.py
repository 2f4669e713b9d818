"""The monitor's timeline: the statistic against its threshold, as inline SVG.

The statistic is drawn as steps, one per bin of the run's
:class:`~skkl._display._monitor_view.Timeline` (the largest value in the
bin), the threshold as a dashed line, bins with an alarm as red points, and
the first alarm's window (from its change point) as a red band. Colours are
matplotlib's C0 and C3, as in the drift displays.
"""

from __future__ import annotations

import numpy as np

from ._blocks import figure
from ._figures import svg_figure
from ._numbers import count, number

__all__ = ["timeline_figure"]

# Above this multiple of the threshold the axis turns logarithmic (beyond
# LINEAR_UP_TO times the threshold), so that a huge statistic after a large
# change does not flatten the rest of the stream to the axis.
SYMLOG_FROM = 10.0
LINEAR_UP_TO = 2.0


def _draw(run, threshold: float):
    t = run.timeline
    starts, stops = t.starts(), t.stops()
    edges = np.append(starts, stops[-1]).astype(np.float64) + run.rows_from
    top = t.maxima()
    top = np.where(np.isfinite(top), top, np.nan)
    alarmed = t.alarms() > 0
    label = "statistic" if t.width == 1 else f"statistic (largest of {t.width} rows)"
    word = "data row" if run.rows_from else "row"

    def draw(fig):
        ax = fig.subplots()
        ax.stairs(top, edges, color="C0", lw=1.2, label=label, baseline=None)
        ax.axhline(
            threshold, color="k", ls="--", lw=1, label=f"threshold {number(threshold)}"
        )
        if run.alarms:
            a = run.alarms[0]
            ax.axvspan(
                run.row(a.change_point),
                run.row(a.row) + 1,
                color="C3",
                alpha=0.15,
                lw=0,
                label="first alarm's window",
            )
        if alarmed.any():
            mid = (edges[:-1] + edges[1:]) / 2
            ax.scatter(
                mid[alarmed], top[alarmed], color="C3", s=14, zorder=3, label="alarm"
            )
        if np.nanmax(top) > SYMLOG_FROM * max(threshold, 1e-300):
            ax.set_yscale("symlog", linthresh=LINEAR_UP_TO * threshold)
        ax.set_xlim(edges[0], edges[-1])
        ax.set_xlabel(word)
        ax.set_ylabel("statistic (nats)")
        # Above the axes, never over the statistic.
        fig.legend(loc="outside upper left", ncols=4, fontsize="small", frameon=False)

    return draw


def timeline_figure(run, threshold: float, figsize):
    """The timeline of ``run`` (a MonitorRun) as a figure block, or None."""
    t = run.timeline
    svg = svg_figure(
        _draw(run, threshold),
        figsize=figsize,
        label=f"The monitor's statistic over {count(t.n_rows)} rows against its "
        f"threshold {number(threshold)}, with {count(run.n_alarms)} alarms.",
    )
    caption = "The statistic (evidence, in nats) over the stream against the threshold"
    if t.width > 1:
        caption += f": the largest value in each bin of {count(t.width)} rows"
    caption += "."
    if run.n_alarms:
        caption += (
            " Red points: bins with an alarm; red band: the first alarm's window."
        )
    return figure(svg, caption)
