"""Fréchet distance between two Gaussians fitted to feature sets (FID).

The Fréchet (squared 2-Wasserstein) distance between N(m1, S1) and
N(m2, S2) is

    ||m1 - m2||^2 + tr S1 + tr S2 - 2 tr (S1^{1/2} S2 S1^{1/2})^{1/2}.

With any factors ``S1 = F1 F1'`` and ``S2 = F2 F2'`` (Cholesky factors,
eigen-factors of singular covariances, or centred samples when n <= d), the
trace term is the nuclear norm of ``C = F2' F1``: the sum of the square roots
of the eigenvalues of the symmetric ``C' C``. No matrix square root, no
eigenvectors. That sum is accurate to about ``eps * tr`` in absolute terms,
so when the two Gaussians are nearly equal the difference of traces cancels
and leaves rounding noise. Each result therefore carries an error estimate;
when it exceeds the requested accuracy the covariance term is recomputed as
the Procrustes residual ``min_Q ||F1 - F2 Q||_F^2`` (Q orthogonal, from the
SVD of C), a sum of squares without cancellation.

Everything is computed in units of a power of two (exact) chosen so that no
product overflows or underflows, and the result is scaled back: data scaled
by ``s`` give a distance scaled by ``s**2``, from 1e-200 to 1e200, or an
error when that distance itself is beyond float64.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg

from .._blas import blas_threads_for
from .._errors import InputError, Setting
from ._fit import (
    Fit,
    check_features,
    fit_moments,
    fit_rows,
)

__all__ = ["as_fit", "distance", "frechet_distance", "frechet_distance_from_moments"]

_EPS = np.finfo(np.float64).eps
_TINY = np.finfo(np.float64).tiny
# Relative accuracy asked of the covariance term before the Procrustes form
# is used instead of the eigenvalue form.
_RTOL = 1e-10
# Factor entries within 2**+-100 have fourth powers (the eigenvalues of
# C'C), summed over d <= 2**100 terms, within float64's normal range.
_QUARTIC_SAFE = 100


def _procrustes(F1: np.ndarray, F2: np.ndarray) -> float:
    """``min_Q ||F1 - F2 Q||_F^2`` over orthogonal Q: the covariance term.

    Factors of different widths are padded with zero columns (still factors).
    """
    r = max(F1.shape[1], F2.shape[1])
    F1 = np.pad(F1, ((0, 0), (0, r - F1.shape[1])))
    F2 = np.pad(F2, ((0, 0), (0, r - F2.shape[1])))
    U, _, Vt = linalg.svd(F2.T @ F1, check_finite=False, lapack_driver="gesdd")
    return float(np.square(F1 - F2 @ (U @ Vt)).sum())


def _covariance_term(F1: np.ndarray, F2: np.ndarray, lower: bool) -> float:
    """``tr S1 + tr S2 - 2 tr (S1^1/2 S2 S1^1/2)^1/2`` from factors of S1, S2.

    ``lower``: both factors are (d, d) lower-triangular (Cholesky factors).
    """
    d = F1.shape[0]
    tr1, tr2 = _frobenius2(F1), _frobenius2(F2)
    if lower:
        C = linalg.blas.dtrmm(1.0, F2, F1, lower=1, trans_a=1)  # F2' F1
    else:
        C = F2.T @ F1
    # Eigenvalues of the smaller Gram matrix (the nonzero ones are equal).
    G = C.T @ C if C.shape[1] <= C.shape[0] else C @ C.T
    mu = linalg.eigh(G, eigvals_only=True, driver="evr", check_finite=False)
    root = np.sqrt(np.clip(mu, 0.0, None))
    value = tr1 + tr2 - 2.0 * float(root.sum())
    # Rounding-error estimate: about k eps (tr S1 + tr S2) with the
    # probabilistic constant k = 6 sqrt(d) (Higham & Mary 2019) for the
    # traces, the products and the large eigenvalues; eigenvalues at the
    # noise level k eps ||G|| carry no digits, and each moves the sum of
    # square roots by up to the square root of that level.
    k = 6.0 * np.sqrt(d)
    noise = k * _EPS * max(float(mu[-1]), 0.0)
    unresolved = np.count_nonzero(mu <= noise)
    rounding = k * _EPS * (tr1 + tr2)
    if rounding + 2.0 * unresolved * np.sqrt(noise) <= _RTOL * value:
        return value
    if rounding <= _RTOL * value:
        # No cancellation, but squaring lost the small singular values of C
        # (independent sets with n < d, decaying spectra): take them from C
        # itself. Forming C and its SVD are backward stable (errors E with
        # ||E||_F <= k eps ||F1||_F ||F2||_F), and the nuclear norm moves by at
        # most ||E||_* <= sqrt(r) ||E||_F.
        sigma = linalg.svd(C, compute_uv=False, check_finite=False)
        value = tr1 + tr2 - 2.0 * float(sigma.sum())
        if rounding * np.sqrt(len(sigma)) <= _RTOL * value:
            return value
    # Cancellation (nearly equal covariances): a sum of squares instead.
    return _procrustes(F1, F2)


def _frobenius2(F: np.ndarray) -> float:
    """``||F||_F^2`` without a temporary (one BLAS dot)."""
    flat = F.ravel(order="K")  # a view of a contiguous array
    return float(flat @ flat)


def _in_units(fit: Fit, exponent: int) -> np.ndarray:
    """The fit's factor for a covariance in units of ``4**exponent``."""
    if fit.exponent == exponent:
        return fit.factor
    return np.ldexp(fit.factor, fit.exponent - exponent)


def _common_exponent(fit1: Fit, fit2: Fit) -> int:
    """A unit ``2**c`` for the factors and the mean difference.

    The eigenvalue form works with fourth powers of the factors' entries, so
    the largest magnitude is brought near 1 unless it already lies within
    ``2**+-_QUARTIC_SAFE`` (ordinary data keep c = 0 and are not rescaled).
    """
    half = float(np.abs(fit1.mean_difference(fit2, 1)).max())  # finite
    tops = [int(np.frexp(half)[1]) + 1] if half > 0 else []
    for fit in (fit1, fit2):
        top = float(np.abs(fit.factor).max()) if fit.factor.size else 0.0
        if top > 0:
            tops.append(int(np.frexp(top)[1]) + fit.exponent)
    if not tops:
        return 0
    top = max(tops)
    return 0 if -_QUARTIC_SAFE <= top <= _QUARTIC_SAFE else top


def _scale_back(value: float, exponent: int) -> float:
    """``value * 4**exponent``, or an error when float64 cannot hold it."""
    if exponent == 0:
        return value
    with np.errstate(over="ignore", under="ignore"):
        out = float(np.ldexp(value, 2 * exponent))
    if np.isfinite(out) and (abs(out) >= _TINY or abs(value) < _TINY):
        return out
    power = np.log10(abs(value)) + 2 * exponent * np.log10(2.0)
    side = "overflows" if power > 0 else "underflows"
    raise InputError(
        "the Fréchet distance of these features is about 1e{power:.0f}, which "
        "{side} float64 (its range is about 1e-308 to 1e308); rescale both "
        "feature sets by the same factor (e.g. multiply them by 1e{fix:.0f}) "
        "and scale the distance back by that factor squared.",
        power=power,
        side=side,
        fix=-np.round(power / 2),
    )


def distance(fit1: Fit, fit2: Fit, unbiased_mean_term: bool = False) -> float:
    """The Fréchet distance between two fits, in the data's units.

    Both covariances and the mean difference are brought to one power-of-two
    unit (exact), the distance is computed there and multiplied back.
    ``unbiased_mean_term`` subtracts ``tr S1 / n1 + tr S2 / n2`` (both counts
    must be known).
    """
    c = _common_exponent(fit1, fit2)
    F1, F2 = _in_units(fit1, c), _in_units(fit2, c)
    diff = fit1.mean_difference(fit2, c)
    value = float(diff @ diff)
    if not (F1.shape == F2.shape and np.array_equal(F1, F2)):
        d, r = F1.shape[0], min(F1.shape[1], F2.shape[1])
        # C = F2' F1, its Gram matrix and the eigenvalues: about 2 d r^2 + 3 r^3
        with blas_threads_for(2.0 * d * r * r + 3.0 * r**3):
            value += _covariance_term(F1, F2, fit1.lower and fit2.lower)
    # else the same covariance: its term is exactly 0
    if unbiased_mean_term:
        for fit, F, name in ((fit1, F1, "X"), (fit2, F2, "Y")):
            if fit.n_samples is None:
                raise InputError(
                    "{flag} needs the number of rows behind {argument}; these "
                    "statistics were given without one.",
                    argument=name,
                    flag=Setting("unbiased_mean_term"),
                )
            value -= _frobenius2(F) / fit.n_samples
    return _scale_back(value, c)


def as_fit(obj, name: str) -> Fit:
    """The fit of a feature array (rows) or of a :class:`~skkl.FeatureMoments`."""
    from ._accumulator import FeatureMoments, moments_fit

    if isinstance(obj, FeatureMoments):
        return moments_fit(obj, name)
    return fit_rows(check_features(obj, name), name)


def frechet_distance(X, Y, *, unbiased_mean_term: bool = False) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID).

    The convention of the Fréchet Inception Distance: each set is summarised
    by its mean and unbiased covariance (``ddof=1``), and the result is the
    squared 2-Wasserstein distance between the two Gaussians,
    ``||m1 - m2||^2 + tr S1 + tr S2 - 2 tr (S1^1/2 S2 S1^1/2)^1/2``.

    Moments are accumulated in float64 whatever the input dtype, over chunks
    of rows of at most 32 MiB (or scikit-learn's ``working_memory``, if
    smaller; no float64 copy of the whole array), each centred on its own
    mean and merged with Chan's update (see :class:`FeatureMoments`). Fewer
    samples than features are allowed (the covariances are then singular):
    the centred samples serve as an exact factor. The trace term
    comes from the eigenvalues of a symmetric matrix (no ``sqrtm``); when the
    two sets are so close that this form would cancel, the covariance term
    is recomputed without cancellation. Data scaled by ``s`` give ``s**2``
    times the distance to rounding (from 1e-200 to 1e200); a distance beyond
    float64's range raises an error.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features) or FeatureMoments
        First feature set (e.g. Inception pool features of real images), or
        its accumulated moments (:class:`FeatureMoments`, e.g. loaded from
        pytorch-fid's statistics file).
    Y : array-like of shape (n_samples_Y, n_features) or FeatureMoments
        Second feature set, or its moments.
    unbiased_mean_term : bool, default=False
        Estimate the mean term ``||m1 - m2||^2`` without bias by subtracting
        ``tr S1 / n1 + tr S2 / n2`` (its exact bias for independent rows of
        any distribution); the trace terms ``tr S1`` and ``tr S2`` are
        unbiased either way (``ddof=1``). The cross term
        ``2 tr (S1^1/2 S2 S1^1/2)^1/2`` has no unbiased estimator and is
        biased low, so the result is still biased upward (and may be
        negative when the distance is near 0): see :func:`frechet_interval`
        and :func:`frechet_infinity` for estimates without its ``1/n`` bias.
        Needs the row counts (features, or moments that carry one).

    Returns
    -------
    distance : float
        The Fréchet distance (squared units of the features), >= 0 unless
        ``unbiased_mean_term``.

    See Also
    --------
    frechet_distance_from_moments : The same from (mean, covariance) pairs.
    frechet_interval : With a confidence interval and without the 1/n bias.
    FeatureMoments : Streaming, mergeable statistics.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import frechet_distance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 8))
    >>> Y = 2.0 * rng.normal(size=(300, 8)) + 1.0
    >>> round(frechet_distance(X, Y), 2)  # about 8 * 1 + 8 * (2 - 1)^2 = 16
    17.07
    >>> frechet_distance(X, X)
    0.0
    >>> round(frechet_distance(X[:5], Y[:5]), 2)  # n < d: singular covariances
    56.52
    >>> round(frechet_distance(1e100 * X, 1e100 * Y) / 1e200, 2)  # scales exactly
    17.07
    """
    fit_x = as_fit(X, "X")
    fit_y = as_fit(Y, "Y")
    if len(fit_x.mean) != len(fit_y.mean):
        raise InputError(
            "{x} has {a} features but {argument} has {b}; both feature sets must "
            "come from the same extractor.",
            argument="Y",
            x=Setting("X"),
            a=len(fit_x.mean),
            b=len(fit_y.mean),
        )
    return distance(fit_x, fit_y, unbiased_mean_term)


def frechet_distance_from_moments(
    mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    The argument order of pytorch-fid's ``calculate_frechet_distance``, for
    precomputed statistics (e.g. a reference set's mean and covariance).
    Covariances must be symmetric positive semi-definite; singular ones are
    factored by a symmetric eigendecomposition, eigenvalues below rounding
    level counting as 0. Moments scaled by ``s`` and ``s**2`` give a distance
    scaled by ``s**2``.

    Parameters
    ----------
    mu1 : array-like of shape (n_features,)
        Mean of the first Gaussian.
    sigma1 : array-like of shape (n_features, n_features)
        Covariance of the first Gaussian.
    mu2 : array-like of shape (n_features,)
        Mean of the second Gaussian.
    sigma2 : array-like of shape (n_features, n_features)
        Covariance of the second Gaussian.

    Returns
    -------
    distance : float
        ``||mu1 - mu2||^2 + tr sigma1 + tr sigma2
        - 2 tr (sigma1^1/2 sigma2 sigma1^1/2)^1/2``, >= 0.

    See Also
    --------
    frechet_distance : From two feature sets (or FeatureMoments).

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import frechet_distance_from_moments
    >>> frechet_distance_from_moments(np.zeros(2), np.eye(2), np.ones(2),
    ...                               4 * np.eye(2))  # 2 + 2 * (2 - 1)^2
    4.0
    >>> singular = np.array([[1.0, 1.0], [1.0, 1.0]])
    >>> round(frechet_distance_from_moments(np.zeros(2), singular,
    ...                                     np.zeros(2), np.eye(2)), 6)
    1.171573
    """
    fit1 = fit_moments(mu1, sigma1, "mu1", "sigma1")
    fit2 = fit_moments(mu2, sigma2, "mu2", "sigma2", len(fit1.mean))
    return distance(fit1, fit2)
