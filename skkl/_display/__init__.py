"""Results people look at: notebook displays and self-contained report pages.

The toolkit (private; results call it from one-line methods):

- ``_html``: escaped markup (:func:`tag`); nothing else writes HTML.
- ``_numbers``: numbers, p-values and ``value ± spread`` as text.
- ``_style``: the style sheets (components; page for screen, phone, print;
  the notebook fallback switch).
- ``_figures``: matplotlib figures as inline SVG (optional).
- ``_blocks``: verdict box, facts, tables, bars, figures, notes.
- ``_page``: the standalone page and the notebook fragment.
- ``_drift_view``: the one adapter that reads drift results.
- ``_drift_report``: drift displays and the drift report page.
- ``_separability``: separability and Bayes-error displays.
- ``_mixture``: Monte Carlo estimates and KL bounds of mixtures.
- ``_monitor_view``: the one adapter that reads the online monitor, its
  states and alarms, and ``MonitorRun``, which gathers a stream's report in
  bounded memory.
- ``_monitor_figure``: the monitor's timeline figure.
- ``_monitor_report``: the monitor as text, notebook displays and a page.

No page or fragment loads anything: no script, no font, no image from the
network. Without matplotlib they show their numbers and tables alone.
"""

from ._drift_report import (
    drift_report_html,
    drift_result_html,
    drift_scan_html,
    write_drift_report,
)
from ._mixture import bounds_html, bounds_text, estimate_html, estimate_text
from ._monitor_report import (
    monitor_alarm_text,
    monitor_html,
    monitor_report_html,
    monitor_state_html,
    monitor_state_text,
    write_monitor_report,
)
from ._monitor_view import MonitorRun
from ._separability import bayes_error_html, separability_html

__all__ = [
    "MonitorRun",
    "bayes_error_html",
    "bounds_html",
    "bounds_text",
    "drift_report_html",
    "drift_result_html",
    "drift_scan_html",
    "estimate_html",
    "estimate_text",
    "monitor_alarm_text",
    "monitor_html",
    "monitor_report_html",
    "monitor_state_html",
    "monitor_state_text",
    "separability_html",
    "write_drift_report",
    "write_monitor_report",
]
