"""Drift detection between a reference sample and new data.

One test is one pass through ``_pipeline``: validate (the detector,
``_detector``) -> prepare (``_prepare``: constant features, resolution, one
standardiser over rows or mergeable sums ``_sums``) -> engine (one record
each in ``_engines.ENGINES``: ``_permutation``, ``_gram``, ``_asymptotic``;
each returns an ``EngineResult``) -> combine (``_combine``) -> effect
(``_effect``, from the engine's own sums) -> result (``_result``). Windows of
a stream are ``_scan``; dask input is ``_dask_input``.
"""

from ._detector import DriftResult, DriftScan, GaussianDriftDetector
from ._engines import AUTO_FLOPS, ENGINES, EngineInfo, engine_table

__all__ = [
    "AUTO_FLOPS",
    "ENGINES",
    "DriftResult",
    "DriftScan",
    "EngineInfo",
    "GaussianDriftDetector",
    "engine_table",
]
