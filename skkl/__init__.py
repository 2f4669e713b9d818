"""skkl: exact, fast divergences between Gaussians, native to scikit-learn."""

import importlib

from ._gaussians import COVARIANCE_TYPES, Gaussians, n_features_from_packed, packed_size
from ._version import __version__
from .divergence import DIVERGENCES, DivergenceInfo, divergence, kl_divergence

# Public names of the modules that import scikit-learn (and through it scipy.stats
# and pandas: slow to import on a cold start), loaded on first access so that
# `import skkl`, `skkl --help` and the pointwise functions stay fast.
_LAZY = {
    "GaussianNeighbors": "neighbors",
    "FeatureMoments": "frechet",
    "FrechetDifference": "frechet",
    "FrechetInfinity": "frechet",
    "FrechetInterval": "frechet",
    "FrechetPerClass": "frechet",
    "frechet_difference": "frechet",
    "frechet_distance": "frechet",
    "frechet_distance_from_moments": "frechet",
    "frechet_distance_per_class": "frechet",
    "frechet_infinity": "frechet",
    "frechet_interval": "frechet",
    "Mixture": "mixture",
    "MixtureKLBounds": "mixture",
    "MonteCarloEstimate": "mixture",
    "mixture_divergence": "mixture",
    "mixture_js_monte_carlo": "mixture",
    "mixture_kl_bounds": "mixture",
    "mixture_kl_monte_carlo": "mixture",
    "pairwise_mixture_divergence": "mixture",
    "BayesErrorBounds": "separability",
    "DriftResult": "drift",
    "DriftScan": "drift",
    "GaussianDriftDetector": "drift",
    "GaussianDriftMonitor": "drift",
    "MonitorAlarm": "drift",
    "MonitorState": "drift",
    "GroupGaussians": "_group",
    "SingularCovarianceWarning": "_fit",
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


_EAGER = [
    "COVARIANCE_TYPES",
    "DIVERGENCES",
    "DivergenceInfo",
    "Gaussians",
    "__version__",
    "divergence",
    "kl_divergence",
    "n_features_from_packed",
    "packed_size",
]
__all__ = sorted(_EAGER + list(_LAZY))
