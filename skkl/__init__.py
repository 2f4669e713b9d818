"""skkl: exact, fast divergences between Gaussians, native to scikit-learn."""

from ._gaussians import COVARIANCE_TYPES, Gaussians, n_features_from_packed, packed_size
from ._version import __version__
from .divergence import DIVERGENCES, DivergenceInfo, divergence, kl_divergence

__all__ = [
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
