"""skkl: exact, fast divergences between Gaussians, native to scikit-learn."""

import importlib
from typing import TYPE_CHECKING

from ._gaussians import COVARIANCE_TYPES, Gaussians, n_features_from_packed, packed_size
from ._version import __version__
from .divergence import DIVERGENCES, DivergenceInfo, divergence, kl_divergence

if TYPE_CHECKING:  # for type checkers and IDEs; loaded lazily at run time
    from ._group import GroupGaussians
    from .drift import DriftResult, DriftScan, GaussianDriftDetector
    from .metric import KLMetric
    from .pairwise import pairwise_divergence, pairwise_divergence_chunked
    from .separability import (
        BayesErrorBounds,
        SeparabilityResult,
        bayes_error_bounds,
        bayes_error_bounds_gaussians,
        gaussian_divergence_score,
        separability_score,
    )

# Public names of the modules that import scikit-learn (and through it scipy.stats
# and pandas: seconds on a cold start), loaded on first access so that
# `import skkl`, `skkl --help` and the pointwise functions stay fast.
_LAZY = {
    "BayesErrorBounds": "separability",
    "DriftResult": "drift",
    "DriftScan": "drift",
    "GaussianDriftDetector": "drift",
    "GroupGaussians": "_group",
    "KLMetric": "metric",
    "SeparabilityResult": "separability",
    "bayes_error_bounds": "separability",
    "bayes_error_bounds_gaussians": "separability",
    "gaussian_divergence_score": "separability",
    "pairwise_divergence": "pairwise",
    "pairwise_divergence_chunked": "pairwise",
    "separability_score": "separability",
}


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # later accesses skip __getattr__
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "BayesErrorBounds",
    "COVARIANCE_TYPES",
    "DIVERGENCES",
    "DivergenceInfo",
    "DriftResult",
    "DriftScan",
    "GaussianDriftDetector",
    "Gaussians",
    "GroupGaussians",
    "KLMetric",
    "SeparabilityResult",
    "__version__",
    "bayes_error_bounds",
    "bayes_error_bounds_gaussians",
    "divergence",
    "gaussian_divergence_score",
    "kl_divergence",
    "n_features_from_packed",
    "packed_size",
    "pairwise_divergence",
    "pairwise_divergence_chunked",
    "separability_score",
]
