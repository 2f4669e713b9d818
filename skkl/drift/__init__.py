"""Drift detection between a reference sample and new data.

The detector (``_detector``) validates input, picks an engine, combines the
engine's part statistics into one p-value (``_combine``) and builds the
result. Engines compute observed part statistics and their null; nothing
below the detector calls back up.
"""

from ._detector import DriftResult, GaussianDriftDetector

__all__ = ["DriftResult", "GaussianDriftDetector"]
