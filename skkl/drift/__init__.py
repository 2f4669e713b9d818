"""Drift detection between a reference sample and new data.

The detector (``_detector``) validates input, drops constant features, picks
an engine, combines the engine's part statistics into one p-value
(``_combine``) and builds the result. The engines compute observed part
statistics and their null from pooled data and split memberships:
``_permutation`` (moment features), ``_gram`` (sample space) and
``_asymptotic`` (streaming moment sums); nothing below the detector calls
back up. The online monitor (``_online*``) watches a stream against the
reference with a calibrated false-alarm budget.
"""

from ._detector import DriftResult, DriftScan, GaussianDriftDetector
from ._online import GaussianDriftMonitor, MonitorAlarm, MonitorState

__all__ = [
    "DriftResult",
    "DriftScan",
    "GaussianDriftDetector",
    "GaussianDriftMonitor",
    "MonitorAlarm",
    "MonitorState",
]
