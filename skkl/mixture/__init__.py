"""Divergences between Gaussian mixtures.

- :class:`Mixture`: weights and :class:`~skkl.Gaussians`, or a fitted
  ``GaussianMixture`` / ``BayesianGaussianMixture`` / ``GroupGaussians``.
- :func:`mixture_kl_monte_carlo`, :func:`mixture_js_monte_carlo`: estimates
  with standard errors (stratified, control variates).
- :func:`mixture_divergence`, :func:`pairwise_mixture_divergence`:
  approximations of KL, provable bounds on it, and the exact Cauchy-Schwarz
  divergence and squared L2 distance, for one pair or all pairs.
- :func:`mixture_kl_bounds`: every bound by name.

Files: ``_mixture`` (the type, densities, sampling), ``_components``
(component matrices, segment reductions), ``_closed`` (approximations,
bounds, closed forms, all pairs), ``_montecarlo`` (estimates).
"""

from ._closed import (
    METHODS,
    MixtureKLBounds,
    mixture_divergence,
    mixture_kl_bounds,
    pairwise_mixture_divergence,
)
from ._mixture import Mixture
from ._montecarlo import (
    MonteCarloEstimate,
    mixture_js_monte_carlo,
    mixture_kl_monte_carlo,
)

__all__ = [
    "METHODS",
    "Mixture",
    "MixtureKLBounds",
    "MonteCarloEstimate",
    "mixture_divergence",
    "mixture_js_monte_carlo",
    "mixture_kl_bounds",
    "mixture_kl_monte_carlo",
    "pairwise_mixture_divergence",
]
