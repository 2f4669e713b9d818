"""FID∞: the Fréchet distance extrapolated to infinitely many samples.

Chong & Forsyth ("Effectively Unbiased FID and Inception Score and where to
find them", CVPR 2020) observe that the FID of N generated samples against a
fixed reference is, over the sizes used in practice, linear in 1/N,

    FID_N = FID_inf + slope / N,

with a slope that depends on the model: two models compared at one N can
swap places at another. They fit that line to FIDs of random subsamples of
15 sizes from N/10 to N, one subsample per size, and report its intercept.

skkl fits the same line with two changes, both measured in
``benchmarks/bench_frechet.py``:

- at size n/k it averages the FIDs of the k disjoint parts of a random
  partition, so every size uses every row; one random subsample per size
  leaves a randomization noise that can exceed the sampling noise itself;
- sizes run from n/4 to n by default (``n_sizes=4``): the curve bends in
  1/N where N is not large against the dimension, and extrapolating from
  N/10 then undershoots.

The standard error is the jackknife standard error of the plain distance
(over the rows of the candidate and, given as rows, of the reference): to
first order the extrapolated value moves with the full-sample distance,
since every size's average uses every row.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral

import numpy as np
from sklearn.utils._param_validation import Interval, validate_params

from .._errors import InputError
from ._accumulator import FeatureMoments, subset_fit
from ._distance import distance
from ._jackknife import generator, jackknife, sides_of

__all__ = ["FrechetInfinity", "frechet_infinity"]


@dataclass(frozen=True)
class FrechetInfinity:
    """FID∞: the Fréchet distance extrapolated to infinitely many samples.

    Attributes
    ----------
    value : float
        The intercept of ``distance = value + slope / N`` (FID∞).
    standard_error : float
        Its standard error (first order: the jackknife standard error of the
        plain distance).
    slope : float
        The fitted slope: the distance's bias at N samples is about
        ``slope / N``.
    sizes : ndarray of shape (n_sizes,)
        The subsample sizes ``n / k``, k = 1 .. n_sizes.
    distances : ndarray of shape (n_sizes,)
        The mean distance of the k parts at each size.
    plug_in : float
        The distance from all rows (``distances[0]``).
    """

    value: float
    standard_error: float
    slope: float
    sizes: np.ndarray
    distances: np.ndarray
    plug_in: float


def _curve(side, reference_fit, n_sizes: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Mean distance of the k parts of a random partition, k = 1 .. n_sizes."""
    X, name = side.rows, side.name
    n = len(X)
    distances = [distance(side.fit, reference_fit)]
    for k in range(2, n_sizes + 1):
        values = []
        for part in np.array_split(rng.permutation(n), k):
            values.append(distance(subset_fit(X, part, name), reference_fit))
        distances.append(float(np.mean(values)))
    return n / np.arange(1, n_sizes + 1), np.array(distances)


def _sides(X, reference, n_sizes: int):
    """The candidate (rows, at least 3 per smallest part) and the reference."""
    if isinstance(X, FeatureMoments):
        raise InputError(
            "{argument} must be feature rows: FID∞ subsamples them; only the "
            "reference may be given as FeatureMoments.",
            argument="X",
        )
    sides = sides_of({"X": X, "reference": reference})
    if len(sides[0].rows) < 3 * n_sizes:
        raise InputError(
            "{argument} has {n} rows; n_sizes={k} needs at least {need} (3 rows "
            "in each of the smallest parts).",
            argument="X",
            n=len(sides[0].rows),
            k=n_sizes,
            need=3 * n_sizes,
        )
    return sides


@validate_params(
    {
        "X": ["array-like", FeatureMoments],  # rejected below, with the reason
        "reference": ["array-like", FeatureMoments],
        "n_sizes": [Interval(Integral, 2, None, closed="left")],
        "n_groups": [Interval(Integral, 2, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def frechet_infinity(
    X,
    reference,
    *,
    n_sizes: int = 4,
    n_groups: int = 10,
    random_state=None,
) -> FrechetInfinity:
    """FID∞ (Chong & Forsyth, 2020): the distance extrapolated in 1/N to N = inf.

    The Fréchet distance of N candidate samples to a fixed reference is biased
    upward by about ``slope / N``, with a slope that depends on the model, so
    comparisons at one N can reverse at another. FID∞ fits ``value + slope /
    N`` to the distances of subsamples of the candidate set and reports the
    intercept, comparable across N and across models.

    At size ``n / k`` the distance is the mean over the ``k`` disjoint parts
    of a random partition of the candidate rows, for k = 1 .. ``n_sizes``;
    the reference is never subsampled (its own finite-sample bias, the same
    for every candidate, stays in the value). Cost: ``n_sizes`` passes over
    the candidate rows and ``n_sizes (n_sizes + 1) / 2`` distances, plus the
    ``n_groups`` distances per set of rows of the standard error.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Candidate features (e.g. of generated images): subsampled.
    reference : array-like of shape (n_ref, n_features) or FeatureMoments
        Reference features or their stored statistics (held fixed; as
        FeatureMoments their sampling noise is left out of the standard error).
    n_sizes : int, default=4
        Sizes ``n, n/2, ..., n/n_sizes``. More sizes reach smaller N, where
        the distance bends away from the line when N is not large against
        the dimension (Chong & Forsyth go down to n/10 with 15 sizes).
    n_groups : int, default=10
        Jackknife groups per set of rows for the standard error.
    random_state : int, RandomState, Generator or None, default=None
        Draws the partitions and the jackknife groups.

    Returns
    -------
    result : FrechetInfinity
        ``value``, ``standard_error``, ``slope``, ``sizes``, ``distances``.

    See Also
    --------
    frechet_interval : The jackknife's own bias correction, with an interval.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import frechet_infinity
    >>> rng = np.random.default_rng(0)
    >>> reference = rng.normal(size=(20000, 32))
    >>> X = rng.normal(size=(4000, 32)) + 0.05  # true distance 32 * 0.05**2 = 0.08
    >>> res = frechet_infinity(X, reference, random_state=0)
    >>> round(res.plug_in, 3), round(res.value, 3), round(res.standard_error, 3)
    (0.155, 0.076, 0.016)
    """
    sides = _sides(X, reference, n_sizes)
    side = sides[0]
    rng = generator(random_state)
    sizes, distances = _curve(side, sides[1].fit, n_sizes, rng)
    design = np.column_stack([np.ones(n_sizes), 1.0 / sizes])
    (value, slope), *_ = np.linalg.lstsq(design, distances, rcond=None)
    (interval,) = jackknife(sides, [(0, 1)], [[1.0]], n_groups, rng, 0.95)
    return FrechetInfinity(
        value=float(value),
        standard_error=interval.standard_error,
        slope=float(slope),
        sizes=sizes,
        distances=distances,
        plug_in=float(distances[0]),
    )
