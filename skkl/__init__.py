"""skkl: exact, fast divergences between Gaussians, native to scikit-learn."""

from ._gaussians import COVARIANCE_TYPES, Gaussians, n_features_from_packed, packed_size
from ._group import GroupGaussians
from ._version import __version__
from .divergence import DIVERGENCES, DivergenceInfo, divergence, kl_divergence
from .drift import DriftResult, GaussianDriftDetector
from .metric import KLMetric
from .pairwise import pairwise_divergence, pairwise_divergence_chunked
from .separability import (
    SeparabilityResult,
    bayes_error_bounds,
    gaussian_divergence_score,
    separability_score,
)

__all__ = [
    "COVARIANCE_TYPES",
    "DIVERGENCES",
    "DivergenceInfo",
    "DriftResult",
    "GaussianDriftDetector",
    "Gaussians",
    "GroupGaussians",
    "KLMetric",
    "SeparabilityResult",
    "__version__",
    "bayes_error_bounds",
    "divergence",
    "gaussian_divergence_score",
    "kl_divergence",
    "n_features_from_packed",
    "packed_size",
    "pairwise_divergence",
    "pairwise_divergence_chunked",
    "separability_score",
]
