"""Inputs of the Fréchet functions, checked and reduced to scaled Gaussian fits.

A :class:`Fit` is what every distance needs from one side: the mean, a factor
``F`` of the covariance (``F F' = S / 4**exponent``) and the sample count when
known. The covariance is held in units of a power of two chosen from the data
(0 for ordinary data), so that data scaled by 1e-200 or 1e200 give results
scaled to rounding: products of values near 1e200 would overflow float64 and
products near 1e-200 would underflow, while multiplying by a power of two is
exact.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import linalg

from .._errors import InputError
from .._validation import as_float_array

__all__ = [
    "Fit",
    "as_real_array",
    "band_exponent",
    "check_features",
    "check_finite",
    "check_moments",
    "covariance_factor",
    "fit_moments",
    "fit_rows",
    "difference_exponent",
    "scaled_moments",
]

_EPS = np.finfo(np.float64).eps
# Values within [2**-SAFE, 2**SAFE] square, and sums of up to 2**100 squares
# stay, within float64's normal range (2**-1022 to 2**1024).
SAFE = 400
# Relative asymmetry tolerated in a covariance, against sqrt(S_ii * S_jj).
_SYMMETRY_RTOL = 1e-8


def band_exponent(magnitude: float) -> int:
    """0 when ``magnitude`` is 0 or within ``2**+-SAFE``, else its binary exponent.

    Dividing by ``2**band_exponent(m)`` brings a magnitude ``m`` to order 1
    only when ordinary arithmetic could overflow or underflow: ordinary data
    are never rescaled.

    Examples
    --------
    >>> band_exponent(3.0), band_exponent(1e200), band_exponent(1e-200)
    (0, 665, -664)
    """
    if magnitude == 0 or 2.0**-SAFE <= magnitude <= 2.0**SAFE:
        return 0
    return int(np.frexp(magnitude)[1])


def difference_exponent(a: np.ndarray, b: np.ndarray) -> int | None:
    """The least e with ``max |a - b| < 2**e`` (no overflow); None if a == b."""
    half = float(np.abs(0.5 * a - 0.5 * b).max())  # |a - b| / 2 is finite
    return None if half == 0 else int(np.frexp(half)[1]) + 1


# -- validation --------------------------------------------------------------


def as_real_array(x, name: str) -> np.ndarray:
    """``x`` as a numeric (bool, int or float) array, without copying floats.

    Anything else follows skkl's one rule for numeric input
    (:func:`skkl._validation.as_float_array`): an object array of real numbers
    is read as float64; text (numeric or not), complex numbers and other
    objects are refused naming ``name`` (issue 24, items 13 and 17).
    """
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise InputError(
            "{argument} must be a numeric array-like: {exc}", argument=name, exc=exc
        ) from None
    if arr.dtype.kind not in "biuf":
        return as_float_array(arr, name)
    return arr


def check_finite(arr: np.ndarray, name: str, rows=0) -> None:
    """Raise naming the first non-finite entry.

    ``rows``: the row of ``arr[0]`` in the caller's array (an int), or the
    rows of ``arr`` themselves (an array of indices).
    """
    finite = np.isfinite(arr)
    if not finite.all():
        where = np.argwhere(~finite)[0]
        where[0] = where[0] + rows if np.isscalar(rows) else rows[where[0]]
        raise InputError(
            "{argument} contains NaN or infinity (first at index {where}); remove "
            "or impute non-finite values.",
            argument=name,
            row=int(where[0]),
            where=tuple(where.tolist()),
        )


def check_features(X, name: str, min_rows: int = 2) -> np.ndarray:
    """``X`` as a 2-D numeric array of at least ``min_rows`` rows (not copied)."""
    X = as_real_array(X, name)
    if X.ndim != 2:
        raise InputError(
            "{argument} must be 2-D (n_samples, n_features), got shape {shape}.",
            argument=name,
            shape=X.shape,
        )
    if X.shape[0] < min_rows:
        raise InputError(
            "{argument} has {n} sample(s); the unbiased covariance needs at least {k}.",
            argument=name,
            n=X.shape[0],
            k=min_rows,
        )
    if X.shape[1] < 1:
        raise InputError(
            "{argument} has no features (shape {shape}).", argument=name, shape=X.shape
        )
    return X


def check_moments(mu, S, name_mu: str, name_S: str, d: int | None):
    """Checked float64 ``(mu, S)``; S is returned unchanged (not yet symmetrised)."""
    mu = as_real_array(mu, name_mu).astype(np.float64)
    if mu.ndim != 1 or mu.size == 0:
        raise InputError(
            "{argument} must be 1-D (n_features,), got shape {shape}.",
            argument=name_mu,
            shape=mu.shape,
        )
    d = mu.size if d is None else d
    if mu.size != d:
        raise InputError(
            "{argument} has {n} features but the first Gaussian has {d}; both "
            "Gaussians need the same dimension.",
            argument=name_mu,
            n=mu.size,
            d=d,
        )
    check_finite(mu, name_mu)
    S = as_real_array(S, name_S).astype(np.float64)
    if S.shape != (d, d):
        raise InputError(
            "{argument} must have shape ({d}, {d}) to match {mu}, got {shape}.",
            argument=name_S,
            d=d,
            mu=name_mu,
            shape=S.shape,
        )
    check_finite(S, name_S)
    diag = np.diagonal(S)
    if np.any(diag < 0):
        i = int(np.argmax(diag < 0))
        raise InputError(
            "{argument} has a negative variance at index ({i}, {i}); a covariance "
            "is positive semi-definite.",
            argument=name_S,
            i=i,
        )
    return mu, S


def _check_symmetric(S: np.ndarray, name: str) -> np.ndarray:
    """The symmetric part of a (scaled) covariance, or an error naming the entry."""
    sd = np.sqrt(np.diagonal(S))
    asym = np.abs(S - S.T) > _SYMMETRY_RTOL * np.outer(sd, sd)
    if np.any(asym):
        raise InputError(
            "{argument} is not symmetric (first at index {where}); pass "
            "(S + S.T) / 2 if the asymmetry is rounding noise.",
            argument=name,
            where=tuple(np.argwhere(asym)[0].tolist()),
        )
    return 0.5 * (S + S.T)


# -- fits ----------------------------------------------------------------------


@dataclass(frozen=True)
class Fit:
    """One side of a Fréchet distance, in scaled units (internal).

    Attributes
    ----------
    mean : ndarray of shape (d,)
        The mean, in the data's units (finite whenever the data are).
    factor : ndarray of shape (d, r)
        ``factor @ factor.T == covariance / 4**exponent``.
    exponent : int
        Binary scale of the covariance (0 for ordinary data).
    n_samples : int or None
        Rows behind the moments, None when unknown.
    lower : bool
        Whether ``factor`` is a (d, d) lower-triangular Cholesky factor.
    shift : ndarray of shape (d,) or None
        When given, the mean is ``shift + mean``: ``mean`` then carries
        digits relative to the spread of the data, not to their offset.
    """

    mean: np.ndarray
    factor: np.ndarray
    exponent: int
    n_samples: int | None
    lower: bool = False
    shift: np.ndarray | None = None

    def mean_difference(self, other: Fit, exponent: int) -> np.ndarray:
        """``(self's mean - other's mean) / 2**exponent``, without overflow.

        Shifts near the data are close to each other, so their difference is
        exact (Sterbenz) and the result keeps the digits of the relative means.
        """
        diff = np.ldexp(0.5 * self.mean - 0.5 * other.mean, 1 - exponent)
        a = 0.0 if self.shift is None else self.shift
        b = 0.0 if other.shift is None else other.shift
        if self.shift is not None or other.shift is not None:
            diff += np.ldexp(0.5 * a - 0.5 * b, 1 - exponent)
        return diff

    @property
    def location(self) -> np.ndarray:
        """The mean in the data's units."""
        return self.mean if self.shift is None else self.shift + self.mean


def covariance_factor(S: np.ndarray, name: str) -> tuple[np.ndarray, bool]:
    """``(F, lower)`` with ``F F' = S`` for a symmetric positive semi-definite S.

    The Cholesky factor when S is numerically positive definite; otherwise
    ``V sqrt(w)`` from the symmetric eigendecomposition, keeping only the
    eigenvalues above rounding level (those below it, negative ones
    included, are indistinguishable from 0 in float64).
    """
    try:
        return np.linalg.cholesky(S), True
    except np.linalg.LinAlgError:
        pass
    w, V = linalg.eigh(S, check_finite=False)
    scale = max(float(np.abs(w).max()), np.finfo(np.float64).tiny)
    level = S.shape[0] * _EPS * scale
    if w[0] < -100 * level:
        raise InputError(
            "{argument} is not positive semi-definite (eigenvalue {w0:.3g} against "
            "a largest magnitude of {scale:.3g}); a covariance matrix has no "
            "negative eigenvalues.",
            argument=name,
            w0=w[0],
            scale=scale,
        )
    keep = w > level
    return V[:, keep] * np.sqrt(w[keep]), False


def scaled_moments(mu, sigma, name_mu: str, name_sigma: str, d=None):
    """Checked ``(mu, S, exponent)``: S symmetric, ``S * 4**exponent == sigma``."""
    mu, S = check_moments(mu, sigma, name_mu, name_sigma, d)
    exponent = band_exponent(float(np.sqrt(np.diagonal(S).max())))
    if exponent:
        S = np.ldexp(S, -2 * exponent)
    return mu, _check_symmetric(S, name_sigma), exponent


def fit_moments(mu, sigma, name_mu: str, name_sigma: str, d=None) -> Fit:
    """A :class:`Fit` of a given mean and covariance (pytorch-fid's statistics)."""
    mu, S, exponent = scaled_moments(mu, sigma, name_mu, name_sigma, d)
    factor, lower = covariance_factor(S, name_sigma)
    return Fit(mu, factor, exponent, None, lower)


def fit_rows(X: np.ndarray, name: str) -> Fit:
    """A :class:`Fit` of the rows of a checked 2-D array (ddof=1 covariance).

    n <= d: the centred rows themselves are an exact factor of the singular
    covariance (no larger than the covariance). Otherwise the moments are
    accumulated in chunks by :class:`~skkl.FeatureMoments` and factored.
    """
    n, d = X.shape
    if n > d:
        from ._accumulator import moments_fit, rows_moments

        return moments_fit(rows_moments(X, name), name)
    Xc = np.array(X, dtype=np.float64)
    check_finite(Xc, name)
    top = max(float(Xc.max()), -float(Xc.min()))
    exponent = band_exponent(top)
    if exponent:
        Xc = np.ldexp(Xc, -exponent)  # no sum of these can overflow now
    mean = Xc.mean(axis=0)
    Xc -= mean
    mean = np.ldexp(mean, exponent)
    spread = band_exponent(float(np.abs(Xc).max()))
    if spread:  # a spread far below the offset: bring it to order 1
        Xc = np.ldexp(Xc, -spread)
        exponent += spread
    # The centred rows sum to 0: a Householder reflection H with H 1 =
    # -sqrt(n) e1 turns them into n - 1 rows with the same Gram matrix (the
    # first row of H Xc is 0 up to rounding), so the factor has no
    # structural zero singular value left to blur the square roots.
    v = np.ones(n)
    v[0] += np.sqrt(n)
    Xc -= np.outer(v, (v @ Xc) * (2.0 / (v @ v)))
    return Fit(mean, Xc[1:].T / np.sqrt(n - 1.0), exponent, n)
