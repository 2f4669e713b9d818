"""Divergences between Gaussian mixtures.

- :class:`Mixture`: weights and :class:`~skkl.Gaussians`, or a fitted
  ``GaussianMixture`` / ``BayesianGaussianMixture`` / ``GroupGaussians``.
- :func:`mixture_kl_monte_carlo`, :func:`mixture_js_monte_carlo`: estimates
  with standard errors (stratified, control variates).
- :func:`mixture_divergence`, :func:`pairwise_mixture_divergence`:
  approximations of KL, provable bounds on it, and the exact Cauchy-Schwarz
  divergence and squared L2 distance, for one pair or all pairs.
- :func:`mixture_kl_bounds`: every bound by name.
- :data:`METHODS`: one :class:`MethodInfo` record per ``method=``.

Files: ``_mixture`` (the type, densities, sampling), ``_components``
(component matrices, segment reductions), ``_block`` (a block of mixture
pairs and the quantities reduced from it), ``_closed`` (the method registry,
one pair, all pairs, the bounds), ``_montecarlo`` (estimates). Their displays
are drawn by ``skkl._display._mixture``.
"""

from ._closed import (
    METHODS,
    MethodInfo,
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
    "MethodInfo",
    "Mixture",
    "MixtureKLBounds",
    "MonteCarloEstimate",
    "mixture_divergence",
    "mixture_js_monte_carlo",
    "mixture_kl_bounds",
    "mixture_kl_monte_carlo",
    "pairwise_mixture_divergence",
]
