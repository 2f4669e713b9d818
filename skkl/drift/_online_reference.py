"""The online monitor's reference: one map from raw rows to standardised rows.

:func:`fit_reference` summarises the reference rows; :meth:`Reference.transform`
is the ONE place where a raw row becomes numbers the statistic reads (a later
preprocessing hook for mixed tables and missing values replaces it). Two
coordinates come out of it:

- ``u``, each feature centred and scaled by the reference (``(x - mean) /
  sd``): per-feature parts and attribution are read here;
- ``z = L^{-1} u``, whitened by the Cholesky factor ``L`` of the reference's
  (optionally shrunk) correlation matrix: the global parts are read here, so
  a change that breaks a near-deterministic relation between features is
  seen at its true size.

Features are first scaled by an exact power of two (``ldexp``), so rows of
any magnitude (1e-200 to 1e200) give the same ``u`` and ``z`` as unit data.

:func:`bootstrap_reference` and :func:`parametric_reference` draw the
reference's estimation error for calibration: the first refits on rows
resampled from the reference, the second draws the mean and scatter from
their Gaussian sampling law (normal mean, Wishart scatter), which costs
``O(d^3)`` per draw and no rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property

import numpy as np
from scipy import stats

from .._blas import blas_threads_for
from .._errors import InputError, Setting
from .._linalg import cholesky_or_nan, failed_factors, inv_lower
from .._moments import (
    covariances_from_moments,
    group_moments,
    ledoit_wolf_coefficient,
    oas_coefficient,
    shrink,
)

__all__ = [
    "Reference",
    "bootstrap_reference",
    "fit_reference",
    "parametric_reference",
]

# Rows per block when standardising: a few MiB of rows at a time.
_BLOCK_BYTES = 1 << 22
#: Standardised values are clipped where a Gaussian exceeds them with this
#: chance (``|u| <= 3.29``, ``||z||^2 <= chi2_d`` quantile): one row's evidence
#: is bounded, and heavy-tailed data reach the clipping points often enough
#: for the reference, and streams resampled from it, to show how often.
CLIP_TAIL = 1e-3

# Bound of |u| (see Reference.standardise): squares and window sums of
# values this large stay finite (1e200 per row, even times 1e100 rows), and
# z = L^{-1} u too while L^{-1}'s entries stay below 1e50.
_U_LIMIT = 1e100
# Floor of the tail-factor denominators: a two-point feature has kurtosis 1
# (and a zero fourth-moment term); the factors are capped at 2 anyway.
_MIN_SPREAD = 1e-12
# Ridge on an unshrunk correlation matrix with duplicated rows, relative to
# its unit diagonal: enough to factor it, far below any real correlation.
_DUPLICATE_RIDGE = 1e-12


@dataclass(frozen=True)
class Reference:
    """What the monitor keeps of its reference sample (``O(d^2)`` numbers).

    Attributes
    ----------
    exponent : ndarray of shape (d,), int
        Features are multiplied by ``2**-exponent`` (exact) before anything else.
    mean, scale : ndarray of shape (d,)
        Mean and standard deviation of the scaled features.
    factor : ndarray of shape (d, d)
        Lower Cholesky factor ``L`` of the (shrunk) correlation matrix.
    n : int
        Number of reference rows.
    shrinkage : float
        Shrinkage intensity applied to the correlation matrix.
    correlation : ndarray of shape (d, d)
        The correlation matrix before shrinkage (the parametric calibration's
        model of the data).
    low, high : ndarray of shape (d,)
        Clipping range of each feature's ``u`` (see ``CLIP_TAIL``): values
        beyond it are clipped to it.
    radius : float
        Clipping radius of ``||z||``: longer rows are shrunk to it.
    kurtosis : ndarray of shape (d,)
        ``E[u^4]`` of each feature (3 for Gaussian data).
    scale_var : float
        Variance of ``||z||^2`` (``2d`` for Gaussian data).
    pair_fourth : ndarray of shape (d, d)
        ``E[z_i^2 z_j^2]`` (1 off the diagonal for Gaussian data).

    Clipping bounds what one row can contribute (a robust statistic), so
    that streams resampled from the reference show the tails that new data
    will: beyond the clipping points only the chance of reaching them counts,
    and the reference estimates it;
    the fourth moments put each variance and correlation part on its own
    scale (their Gaussian-theory variance is off by the kurtosis). A
    Gaussian reference (:meth:`gaussian`) has no clipping and Gaussian
    fourth moments.
    """

    exponent: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    factor: np.ndarray
    n: int
    shrinkage: float
    correlation: np.ndarray
    low: np.ndarray
    high: np.ndarray
    radius: float
    kurtosis: np.ndarray
    scale_var: float
    pair_fourth: np.ndarray

    @property
    def n_features(self) -> int:
        return len(self.mean)

    @cached_property
    def inverse_factor(self) -> np.ndarray:
        """``L^{-1}``, by a triangular solve against the identity."""
        return inv_lower(self.factor)

    def standardise(self, X: np.ndarray, clip: bool = True):
        """``(u, z)`` of rows already scaled by ``2**-exponent``, clipped."""
        U = (X - self.mean) / self.scale
        # A value beyond _U_LIMIT standard deviations (or one that overflowed
        # on the way) is clamped there: every clipping point is far below it,
        # and z and the window sums then stay finite (never inf - inf = NaN).
        np.clip(U, -_U_LIMIT, _U_LIMIT, out=U)
        # A product with L^{-1} (a triangular solve against I, once): a
        # triangular solve per batch starts BLAS threads for tiny work.
        with blas_threads_for(2.0 * U.size * self.n_features):
            Z = U @ self.inverse_factor.T
        if clip and np.isfinite(self.radius):
            norm = np.sqrt(np.einsum("ij,ij->i", Z, Z))
            far = norm > self.radius
            Z[far] *= (self.radius / norm[far])[:, None]
            np.clip(U, self.low, self.high, out=U)
        return U, Z

    def gaussian(self) -> Reference:
        """This reference with Gaussian constants: no clipping, Gaussian tails."""
        d = self.n_features
        return replace(
            self,
            low=np.full(d, -np.inf),
            high=np.full(d, np.inf),
            radius=float("inf"),
            kurtosis=np.full(d, 3.0),
            scale_var=2.0 * d,
            pair_fourth=np.ones((d, d)),
        )

    def tail_factors(self):
        """Multipliers of the variance, scale and pair ratios (1 if Gaussian).

        A ratio's Gaussian-theory null variance over its actual one: ``2 /
        (kurtosis - 1)`` per feature, ``2d / Var ||z||^2`` for the scale,
        ``1 / E[z_i^2 z_j^2]`` per pair; each at most 2 (a variance that
        barely varies in the reference is no reason to trust a change in it
        without limit).
        """
        d = self.n_features
        feat = np.minimum(2.0 / np.maximum(self.kurtosis - 1.0, _MIN_SPREAD), 2.0)
        scale = min(2.0 * d / max(self.scale_var, _MIN_SPREAD), 2.0)
        pair = np.minimum(1.0 / np.maximum(self.pair_fourth, _MIN_SPREAD), 2.0)
        return feat, scale, pair

    def transform(self, X: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(u, z)`` of raw rows ``X`` (validated, finite, float64)."""
        return self.standardise(np.ldexp(X, -self.exponent))


def _exponents(X: np.ndarray) -> np.ndarray:
    """Per-feature power of two that brings ``max |x|`` into [0.5, 1)."""
    top = np.max(np.abs(X), axis=0)
    _, e = np.frexp(top)
    return np.where(top > 0, e, 0).astype(np.int64)


def _constant_error(j: int, value: float, names) -> InputError:
    label = repr(str(names[j])) if names is not None else str(j)
    return InputError(
        "feature {feature} of {argument} is constant ({value:g} in every row): "
        "it cannot be standardised and no change of its spread can be measured "
        "against it. Drop that column before fitting.",
        argument="X_ref",
        column=j,
        feature=label,
        value=value,
    )


def _shrunk_correlation(
    U: np.ndarray, shrinkage
) -> tuple[np.ndarray, np.ndarray, float]:
    """ML correlation matrix of standardised rows, shrunk as asked."""
    mom = group_moments(U, higher=shrinkage == "ledoit_wolf")
    raw = mom.scatter[0] / mom.weight[0]
    covs, _, coef = covariances_from_moments(mom, "full", shrinkage)
    return covs[0], raw, float(coef[0])


def _factor(R: np.ndarray, n: int, names) -> np.ndarray:
    """Cholesky factor of the reference's correlation, or an error naming a
    feature that is a linear combination of the ones before it."""
    L = cholesky_or_nan(R)
    if not failed_factors(L):
        return L
    d = len(R)
    # The first leading block that fails to factor ends with a dependent
    # feature: bisect on its size (log2(d) factorisations).
    lo, hi = 1, d  # the block of size lo factors, of size hi does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if failed_factors(cholesky_or_nan(R[:mid, :mid])):
            hi = mid
        else:
            lo = mid
    j = hi - 1
    label = repr(str(names[j])) if names is not None else str(j)
    rows = f" (only {n} rows for {d} features)" if n <= d else ""
    raise InputError(
        "the features of {argument} are linearly dependent{rows}: feature "
        "{feature} is (within rounding) a linear combination of the features "
        "before it, so their correlation matrix is singular. Use {fix}, or "
        "drop redundant columns.",
        argument="X_ref",
        column=j,
        rows=rows,
        feature=label,
        fix=Setting("shrinkage", "ledoit_wolf"),
    )


def fit_reference(X: np.ndarray, shrinkage=None, names=None) -> Reference:
    """Summarise validated reference rows ``X`` (n, d) into a :class:`Reference`.

    Raises
    ------
    InputError
        If a feature is constant, or the correlation matrix is singular and
        no shrinkage is asked for.
    """
    n, d = X.shape
    exponent = _exponents(X)
    Xs = np.ldexp(X, -exponent)
    mom = group_moments(Xs)
    mean = mom.mean[0]
    var = np.diagonal(mom.scatter[0]) / n
    # A spread within rounding of the values themselves is no spread at all.
    tiny = var <= (64 * np.finfo(float).eps) ** 2 * np.maximum(mean**2, 1e-300)
    if np.any(tiny):
        j = int(np.flatnonzero(tiny)[0])
        raise _constant_error(j, float(X[0, j]), names)
    scale = np.sqrt(var)
    U = (Xs - mean) / scale
    R, raw, coef = _shrunk_correlation(U, shrinkage)
    return _with_tails(exponent, mean, scale, _factor(R, n, names), n, coef, raw, U)


def _with_tails(exponent, mean, scale, L, n, coef, raw, U) -> Reference:
    """A Reference whose clipping range and fourth moments come from its rows."""
    d = U.shape[1]
    high = np.full(d, stats.norm.isf(CLIP_TAIL / 2))
    low = -high
    with blas_threads_for(2.0 * U.size * d):
        Z = U @ inv_lower(L).T
    r2 = np.einsum("ij,ij->i", Z, Z)
    radius = float(np.sqrt(stats.chi2.isf(CLIP_TAIL, d)))
    far = r2 > radius**2
    Z[far] *= (radius / np.sqrt(r2[far]))[:, None]
    Uc = np.clip(U, low, high)
    Z2 = Z * Z
    return Reference(
        exponent=exponent,
        mean=mean,
        scale=scale,
        factor=L,
        n=n,
        shrinkage=coef,
        correlation=raw,
        low=low,
        high=high,
        radius=radius,
        kurtosis=np.mean(np.square(Uc * Uc), axis=0),
        scale_var=float(np.var(Z2.sum(axis=1))),
        pair_fourth=Z2.T @ Z2 / len(Z2),
    )


def bootstrap_reference(U: np.ndarray, shrinkage, rng) -> Reference:
    """A reference refitted on rows resampled from the standardised rows ``U``.

    The result standardises rows of ``U`` (already in the fitted reference's
    ``u`` coordinates, so its ``exponent`` is 0).
    """
    n, d = U.shape
    Ub = U[rng.integers(0, n, size=n)]
    # U is already standardised (|u| of order 1): plain column moments are
    # exact enough here, and one product cheaper than a blockwise pass.
    mean = Ub.mean(axis=0)
    Ub -= mean
    scale = np.sqrt(np.einsum("ij,ij->j", Ub, Ub) / n)
    # A resample can miss every distinct value of a nearly constant feature.
    scale = np.where(scale > 0, scale, np.min(scale[scale > 0], initial=1.0))
    Us = Ub / scale
    R, raw, coef = _resampled_correlation(Us, shrinkage)
    R = R + np.eye(d) * _DUPLICATE_RIDGE * (coef == 0)
    try:
        L = np.linalg.cholesky(R)
    except np.linalg.LinAlgError:
        L = np.linalg.cholesky(R + np.eye(d) * 1e-6)
    return _with_tails(np.zeros(d, np.int64), mean, scale, L, n, coef, raw, Us)


def _resampled_correlation(Us: np.ndarray, shrinkage):
    """Correlation of centred, scaled rows, shrunk as ``_shrunk_correlation``."""
    n, d = Us.shape
    raw = Us.T @ Us / n
    if shrinkage is None:
        return raw, raw, 0.0
    if shrinkage == "ledoit_wolf":
        r2 = np.einsum("ij,ij->i", Us, Us)
        coef = ledoit_wolf_coefficient(np.array([n]), raw[None], np.array([r2 @ r2]))
    elif shrinkage == "oas":
        coef = oas_coefficient(np.array([n]), raw[None])
    else:
        coef = np.array([float(shrinkage)])
    return shrink(raw[None], coef)[0], raw, float(coef[0])


def _bartlett(df: int, d: int, rng) -> np.ndarray:
    """Lower factor T with T T' ~ Wishart(df, I_d) (Bartlett decomposition)."""
    T = np.tril(rng.standard_normal((d, d)), -1)
    T[np.diag_indices(d)] = np.sqrt(rng.chisquare(df - np.arange(d)))
    return T


def _gaussian_fourth(C: np.ndarray, n: int) -> float:
    """``sum_i ||x_i - m||^4`` expected for n Gaussian rows of covariance C."""
    return n * (np.trace(C) ** 2 + 2.0 * np.sum(C * C))


def parametric_reference(truth_factor: np.ndarray, n: int, shrinkage, rng):
    """A reference estimated from n Gaussian rows of N(0, F F'), drawn as sums.

    The mean is ``F g / sqrt(n)`` and the scatter ``(F T)(F T)'`` with ``T``
    a Bartlett factor of Wishart(n - 1, I); shrinkage follows the same rule as
    :func:`fit_reference` (Ledoit-Wolf with the Gaussian fourth moment).
    """
    d = truth_factor.shape[0]
    mean = truth_factor @ rng.standard_normal(d) / np.sqrt(n)
    A = truth_factor @ _bartlett(max(n - 1, d), d, rng)
    C = A @ A.T / n
    scale = np.sqrt(np.diagonal(C))
    R = C / np.outer(scale, scale)
    if shrinkage is None:
        coef = 0.0
    elif shrinkage == "ledoit_wolf":
        coef = float(
            ledoit_wolf_coefficient(
                np.array([n]), R[None], np.array([_gaussian_fourth(R, n)])
            )[0]
        )
    elif shrinkage == "oas":
        coef = float(oas_coefficient(np.array([n]), R[None])[0])
    else:
        coef = float(shrinkage)
    Rs = (1 - coef) * R + coef * np.eye(d)
    L = np.linalg.cholesky(Rs + np.eye(d) * _DUPLICATE_RIDGE * (coef == 0))
    inf = np.full(d, np.inf)
    return Reference(
        np.zeros(d, np.int64),
        mean,
        scale,
        L,
        n,
        coef,
        R,
        -inf,
        inf,
        float("inf"),
        np.full(d, 3.0),
        2.0 * d,
        np.ones((d, d)),
    )


def iter_blocks(n: int, d: int):
    """Slices of about ``_BLOCK_BYTES`` of rows covering ``range(n)``."""
    rows = max(1, _BLOCK_BYTES // (8 * max(d, 1)))
    for start in range(0, n, rows):
        yield slice(start, min(start + rows, n))
