"""Drift detection between a reference sample and new data.

One test is one pass through ``_pipeline``: validate (the detector,
``_detector``) -> prepare (``_prepare``: constant features, resolution, one
standardiser over rows or mergeable sums ``_sums``) -> engine (one record
each in ``_engines.ENGINES``: ``_permutation``, ``_gram``, ``_asymptotic``;
each returns an ``EngineResult``) -> combine (``_combine``) -> effect
(``_effect``, from the engine's own sums) -> result (``_result``). Windows of
a stream are ``_scan``; dask input is ``_dask_input``. The online monitor
(``_online*``) watches a stream against the reference with a calibrated
false-alarm budget.
"""

from ._detector import DriftResult, DriftScan, GaussianDriftDetector
from ._engines import AUTO_FLOPS, ENGINES, EngineInfo, engine_table
from ._online import GaussianDriftMonitor, MonitorAlarm, MonitorState

__all__ = [
    "AUTO_FLOPS",
    "DriftResult",
    "DriftScan",
    "ENGINES",
    "EngineInfo",
    "GaussianDriftDetector",
    "GaussianDriftMonitor",
    "MonitorAlarm",
    "MonitorState",
    "engine_table",
]
