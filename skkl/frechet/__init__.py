"""Fréchet distance (FID) between feature sets: exact, streamed, with error bars.

- ``_fit``: inputs checked and reduced to scaled Gaussian fits;
- ``_distance``: :func:`frechet_distance`, :func:`frechet_distance_from_moments`;
- ``_accumulator``: :class:`FeatureMoments`, streaming, mergeable statistics;
- ``_jackknife``: :func:`frechet_interval`, :func:`frechet_difference`;
- ``_infinity``: :func:`frechet_infinity` (FID∞);
- ``_per_class``: :func:`frechet_distance_per_class`.
"""

from ._accumulator import FeatureMoments
from ._distance import frechet_distance, frechet_distance_from_moments
from ._infinity import FrechetInfinity, frechet_infinity
from ._jackknife import (
    FrechetDifference,
    FrechetInterval,
    frechet_difference,
    frechet_interval,
)
from ._per_class import FrechetPerClass, frechet_distance_per_class

__all__ = [
    "FeatureMoments",
    "FrechetDifference",
    "FrechetInfinity",
    "FrechetInterval",
    "FrechetPerClass",
    "frechet_difference",
    "frechet_distance",
    "frechet_distance_from_moments",
    "frechet_distance_per_class",
    "frechet_infinity",
    "frechet_interval",
]
