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

No page or fragment loads anything: no script, no font, no image from the
network. Without matplotlib they show their numbers and tables alone.
"""

from ._drift_report import (
    drift_report_html,
    drift_result_html,
    drift_scan_html,
    write_drift_report,
)
from ._separability import bayes_error_html, separability_html

__all__ = [
    "bayes_error_html",
    "drift_report_html",
    "drift_result_html",
    "drift_scan_html",
    "separability_html",
    "write_drift_report",
]
