"""Class separability: divergence scores, Bayes-error bounds, feature scores.

Everything here models each class as a Gaussian. :func:`separability_score`
summarises the matrix of divergences between the class Gaussians,
:func:`bayes_error_bounds` turns the Bhattacharyya distances into bounds on
the error of the Bayes classifier, and :func:`gaussian_divergence_score` is a
``score_func`` for :class:`~sklearn.feature_selection.SelectKBest` that scores
each feature by how far apart its univariate class Gaussians are, in means
*and* variances, with a calibrated likelihood-ratio p-value.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from functools import partial
from typing import NamedTuple

import numpy as np
from scipy import special, stats

from . import _dask
from ._errors import InputError, Setting
from ._fit import GroupFit, class_moments, fit_gaussians, moment_layout
from ._gaussians import Gaussians, check_real
from ._moments import GroupMoments, merge_moments
from ._validation import (
    check_class_counts,
    check_class_labels,
    check_no_text_columns,
    check_priors,
    format_feature,
    format_label,
    warn_few_samples_per_feature,
)
from .divergence import divergence, get_divergence
from .pairwise import pairwise_divergence

__all__ = [
    "AGGREGATES",
    "BayesErrorBounds",
    "SeparabilityResult",
    "bayes_error_bounds",
    "bayes_error_bounds_gaussians",
    "gaussian_divergence_score",
    "separability_score",
]

#: Accepted values of ``aggregate`` in :func:`separability_score`.
AGGREGATES = ("min", "mean", "weighted", None)


@dataclass(frozen=True, repr=False)
class SeparabilityResult:
    """Divergences between class Gaussians and their summary.

    Attributes
    ----------
    matrix : ndarray of shape (n_classes, n_classes)
        ``matrix[i, j]`` is the divergence D(class i || class j); zero diagonal.
    classes : ndarray of shape (n_classes,)
        Class labels, in the order of the rows of ``matrix``.
    priors : ndarray of shape (n_classes,)
        Class priors used by ``aggregate='weighted'``.
    value : float or None
        The aggregate of the off-diagonal entries; None when ``aggregate`` is None.
    hardest_pair : tuple
        ``(class_i, class_j)``, i before j in ``classes``, of the least
        separated pair: the smallest ``min(matrix[i, j], matrix[j, i])``.
        For a symmetric kind this is simply the smallest off-diagonal entry.
    kind : str
        The divergence.
    aggregate : {'min', 'mean', 'weighted'} or None
        How ``value`` summarises ``matrix``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skkl import separability_score
    >>> X, y = load_iris(return_X_y=True)
    >>> res = separability_score(X, y, kind="hellinger", aggregate="mean")
    >>> res.hardest_pair, round(res.value, 3), res.matrix.shape
    ((1, 2), 0.977, (3, 3))
    """

    matrix: np.ndarray
    classes: np.ndarray
    priors: np.ndarray
    value: float | None
    hardest_pair: tuple
    kind: str
    aggregate: str | None

    def __repr__(self) -> str:
        value = None if self.value is None else round(self.value, 6)
        return (
            f"SeparabilityResult(kind={self.kind!r}, aggregate={self.aggregate!r}, "
            f"value={value}, hardest_pair={self.hardest_pair}, "
            f"n_classes={len(self.classes)})"
        )

    def _repr_html_(self) -> str:
        from ._display import separability_html

        return separability_html(self)


class BayesErrorBounds(NamedTuple):
    """Lower and upper bound on the Bayes error (a ``(lower, upper)`` tuple)."""

    lower: float
    upper: float

    def _repr_html_(self) -> str:
        from ._display import bayes_error_html

        return bayes_error_html(self)


# -- helpers ------------------------------------------------------------------


def _fit_classes(
    X, y, covariance_type, shrinkage, reg_covar, what, priors=None
) -> tuple[np.ndarray, GroupFit]:
    """(classes, fitted Gaussians) of one Gaussian per class.

    ``what`` names the computation in errors and warnings. Every class needs
    two samples (one gives no spread at all), and a class with no more
    samples than features gets a warning: its fit is mostly noise.
    """
    full, higher = moment_layout(covariance_type, shrinkage)
    classes, mom, names = class_moments(X, y, full=full, higher=higher, what=what)
    check_class_counts(classes, mom.count, min_count=2, what=what)
    d = mom.mean.shape[1]
    warn_few_samples_per_feature(classes, mom.count, d, what, stacklevel=4)
    fit = fit_gaussians(
        mom,
        classes,
        covariance_type=covariance_type,
        shrinkage=shrinkage,
        reg_covar=reg_covar,
        priors=priors,
        feature_names=names,
        stacklevel=2,
    )
    return classes, fit


def _summarise(matrix, classes, priors, kind, aggregate) -> SeparabilityResult:
    """Aggregate the off-diagonal entries of a divergence matrix."""
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}.")
    D = np.asarray(matrix, dtype=np.float64)
    K = D.shape[0]
    if K < 2:
        raise ValueError(f"separability needs at least 2 classes, got {K}; check y.")
    off = ~np.eye(K, dtype=bool)
    # Both directions of a pair: the pair is as hard as its closer direction.
    closest = np.minimum(D, D.T)
    closest[~off] = np.inf
    i, j = np.unravel_index(np.argmin(closest), closest.shape)
    hardest = tuple(np.asarray(classes)[[min(i, j), max(i, j)]].tolist())
    if aggregate == "min":
        value = D[off].min()
    elif aggregate == "mean":
        value = D[off].mean()
    elif aggregate == "weighted":
        W = np.outer(priors, priors)[off]
        value = W @ D[off] / W.sum()
    else:
        value = None
    return SeparabilityResult(
        matrix=D,
        classes=np.asarray(classes),
        priors=np.asarray(priors, dtype=np.float64),
        value=None if value is None else float(value),
        hardest_pair=hardest,
        kind=kind,
        aggregate=aggregate,
    )


def _bounds_from_bhattacharyya(B: np.ndarray, priors: np.ndarray) -> BayesErrorBounds:
    """Bayes-error bounds from Bhattacharyya distances ``B`` and class priors."""
    K = len(priors)
    iu, ju = np.triu_indices(K, 1)
    pi, pj = priors[iu], priors[ju]
    rho = np.exp(-0.5 * (B[iu, ju] + B[ju, iu]))  # Bhattacharyya coefficients
    # P_e <= sum_{i<j} int min(p_i f_i, p_j f_j) <= sum_{i<j} sqrt(p_i p_j) rho_ij;
    # predicting the likeliest class a priori errs 1 - max p, so P_e <= that too.
    upper = min(float(np.sqrt(pi * pj) @ rho), 1.0 - float(priors.max()))
    # P_e >= int min(p_i f_i, p_j f_j) for every pair, and that overlap is
    # >= 1/2 [s - sqrt(s^2 - 4 p_i p_j rho^2)], s = p_i + p_j, written without
    # the cancellation of s - sqrt(...) when rho is small.
    # A pair with a zero prior never overlaps (x = 0): its term is 0, also
    # where both priors are 0 (s = 0), which the division would make 0/0.
    s = pi + pj
    x = 4.0 * pi * pj * rho**2
    denominator = s + np.sqrt(np.maximum(s * s - x, 0.0))
    overlap = np.divide(0.5 * x, denominator, out=np.zeros_like(x), where=x > 0)
    lower = float(np.max(overlap))
    return BayesErrorBounds(lower, max(upper, lower))


# -- public API ---------------------------------------------------------------


def separability_score(
    X,
    y,
    *,
    kind: str = "bhattacharyya",
    covariance_type: str = "full",
    shrinkage="auto",
    reg_covar: float = 1e-6,
    aggregate: str | None = "min",
    alpha: float = 0.5,
) -> SeparabilityResult:
    """How well Gaussian class models separate the classes of ``y``.

    Fits one Gaussian per class (through :class:`~skkl.GroupGaussians`),
    computes the matrix of divergences between every pair of classes and
    summarises its off-diagonal entries.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Training data.
    y : array-like of shape (n_samples,)
        Class labels; at least two classes.
    kind : str, default='bhattacharyya'
        A divergence of ``skkl.DIVERGENCES``.
    covariance_type : {'full', 'diag', 'spherical', 'tied'}, default='full'
        Covariance model of every class Gaussian.
    shrinkage : 'auto', None, 'ledoit_wolf', 'oas' or float, default='auto'
        Covariance shrinkage, as in :class:`~skkl.GroupGaussians` ('auto':
        OAS for the classes whose covariance is singular up to ``reg_covar``,
        with a warning; none for the others).
    reg_covar : float, default=1e-6
        Ridge added to the diagonal of every covariance.
    aggregate : {'min', 'mean', 'weighted'} or None, default='min'
        'min': the divergence of the least separated pair (the smallest
        off-diagonal entry, so both directions for an asymmetric kind);
        'mean': mean over ordered pairs i != j; 'weighted': mean over pairs
        i != j weighted by ``p_i p_j``, the class priors; None: no summary.
    alpha : float, default=0.5
        Order of the Rényi divergence (``kind='renyi'`` only).

    Returns
    -------
    result : SeparabilityResult
        The matrix, classes, priors, aggregate ``value`` and ``hardest_pair``.

    See Also
    --------
    bayes_error_bounds : what the Bhattacharyya distances imply for accuracy.
    skkl.plotting.DivergenceMatrixDisplay : the matrix as a heat map.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skkl import separability_score
    >>> X, y = load_iris(return_X_y=True)
    >>> res = separability_score(X, y)
    >>> res
    SeparabilityResult(kind='bhattacharyya', aggregate='min', value=2.000549,
                       hardest_pair=(1, 2), n_classes=3)
    >>> res.matrix.round(2)
    array([[ 0.  , 13.52, 25.48],
           [13.52,  0.  ,  2.  ],
           [25.48,  2.  ,  0.  ]])
    """
    get_divergence(kind, alpha)
    if aggregate not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {AGGREGATES}, got {aggregate!r}.")
    classes, fit = _fit_classes(
        X, y, covariance_type, shrinkage, reg_covar, "the separability score"
    )
    matrix = pairwise_divergence(fit.gaussians, kind=kind, alpha=alpha)
    return _summarise(matrix, classes, fit.weights, kind, aggregate)


def bayes_error_bounds_gaussians(gaussians: Gaussians, priors) -> BayesErrorBounds:
    """Bounds on the Bayes error of a known mixture of Gaussian classes.

    With Bhattacharyya distances ``B_ij`` between the class Gaussians and
    priors ``p_i``:

    - upper: ``min(sum_{i<j} sqrt(p_i p_j) exp(-B_ij), 1 - max_i p_i)``;
    - lower: ``max_{i<j} 1/2 [s - sqrt(s^2 - 4 p_i p_j exp(-2 B_ij))]``,
      ``s = p_i + p_j``.

    Both hold for any number of classes: the K-class error is at most the
    sum of the pairwise overlaps ``int min(p_i f_i, p_j f_j)`` and at least
    the largest of them; the Bhattacharyya coefficient bounds each overlap
    from above and below. The cap ``1 - max p`` is the error of always
    predicting the most probable class, which the Bayes rule cannot exceed.

    Parameters
    ----------
    gaussians : Gaussians
        One Gaussian per class (K >= 2).
    priors : array-like of shape (K,)
        Class probabilities, summing to 1.

    Returns
    -------
    bounds : BayesErrorBounds
        A ``(lower, upper)`` named tuple.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import Gaussians
    >>> from skkl.separability import bayes_error_bounds_gaussians
    >>> G = Gaussians([[0.0, 0.0], [2.0, 0.0]], np.stack([np.eye(2)] * 2))
    >>> bayes_error_bounds_gaussians(G, [0.5, 0.5])  # true error 0.1587
    BayesErrorBounds(lower=0.1024..., upper=0.3032...)
    """
    if not isinstance(gaussians, Gaussians):
        raise TypeError(
            f"gaussians must be a skkl.Gaussians, got {type(gaussians).__name__}."
        )
    K = len(gaussians)
    if K < 2:
        raise ValueError(f"gaussians must hold at least 2 classes, got {K}.")
    p = check_priors(priors, K)
    B = pairwise_divergence(gaussians, kind="bhattacharyya")
    return _bounds_from_bhattacharyya(B, p)


def bayes_error_bounds(
    X,
    y,
    *,
    covariance_type: str = "full",
    shrinkage="auto",
    reg_covar: float = 1e-6,
    priors=None,
) -> BayesErrorBounds:
    """Bhattacharyya bounds on the Bayes error of Gaussian class models.

    Fits one Gaussian per class (see :func:`separability_score`) and returns
    the bounds of :func:`bayes_error_bounds_gaussians` for those Gaussians
    and the class priors. They bound the error of the best possible classifier
    *if the classes were Gaussian*; with real data they are an estimate, and
    with few samples per dimension the fitted Gaussians are optimistic.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Class labels; at least two classes.
    covariance_type : {'full', 'diag', 'spherical', 'tied'}, default='full'
    shrinkage : 'auto', None, 'ledoit_wolf', 'oas' or float, default='auto'
        As in :func:`separability_score`. With ``None`` and a class covariance
        that is singular up to ``reg_covar`` (e.g. a feature constant within a
        class), the fitted Gaussians are nearly degenerate and the bounds
        claim near-perfect separation: a ``SingularCovarianceWarning`` says so.
    reg_covar : float, default=1e-6
    priors : array-like of shape (n_classes,), default=None
        Class probabilities; the class frequencies of ``y`` when None.

    Returns
    -------
    bounds : BayesErrorBounds
        A ``(lower, upper)`` named tuple, ``0 <= lower <= upper <= 1 - max p``.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skkl import bayes_error_bounds
    >>> X, y = load_iris(return_X_y=True)
    >>> lower, upper = bayes_error_bounds(X, y)
    >>> round(lower, 4), round(upper, 4)
    (0.0031, 0.0451)
    """
    _, fit = _fit_classes(
        X, y, covariance_type, shrinkage, reg_covar, "the Bayes-error bound", priors
    )
    B = pairwise_divergence(fit.gaussians, kind="bhattacharyya")
    return _bounds_from_bhattacharyya(B, fit.weights)


def _expected_lrt(counts: np.ndarray) -> float:
    """Exact null mean of the LRT of equal means and variances across groups.

    Under H0, ``S_k / sigma^2 ~ chi2(n_k - 1)`` and ``S / sigma^2 ~ chi2(N - 1)``
    (within-class and total sums of squares), and ``E log chi2(v) =
    log 2 + digamma(v / 2)``; sigma and log 2 cancel.
    """
    N = counts.sum()
    return float(
        N * special.digamma((N - 1) / 2.0)
        - counts @ special.digamma((counts - 1) / 2.0)
        - N * np.log(N)
        + counts @ np.log(counts)
    )


# Features whose largest |value| lies outside [2**-_SAFE_EXPONENT,
# 2**_SAFE_EXPONENT] are rescaled by a power of two (exactly) before their
# moments are taken: squares summed over up to 2**60 rows then neither
# underflow nor overflow, so scores scale with the data from 1e-200 to 1e200.
_SAFE_EXPONENT = 120


@dataclass(frozen=True)
class _FeatureMoments:
    """Per-class moments of every feature, and what the score needs besides."""

    classes: np.ndarray
    mom: GroupMoments
    constant: np.ndarray  # features with one value in every row
    scale: np.ndarray  # the power of two each feature was multiplied by
    names: np.ndarray | None


def _power_of_two_scale(low: np.ndarray, high: np.ndarray) -> np.ndarray:
    """Per-feature 2**-e bringing max |x| near 1 where it is out of the safe range."""
    amax = np.maximum(np.abs(low), np.abs(high))
    exponent = np.frexp(amax)[1]
    unsafe = (amax > 0) & (np.abs(exponent) > _SAFE_EXPONENT)
    return np.where(unsafe, np.ldexp(1.0, -exponent), 1.0)


def _feature_moments(X, y) -> _FeatureMoments:
    """Per-feature class moments of in-memory (X, y), rescaled where needed."""
    from sklearn.utils.validation import _get_feature_names, check_X_y

    from ._moments import encode_groups, group_moments
    from ._validation import check_class_labels

    names = _get_feature_names(X)
    if y is None:
        raise InputError(
            "{argument} is None; the score needs class labels.", argument="y"
        )
    check_no_text_columns(X)
    X, y = check_X_y(X, y, dtype=np.float64, ensure_min_samples=2)
    check_class_labels(y)
    classes, groups = encode_groups(y)
    low, high = X.min(axis=0), X.max(axis=0)
    scale = _power_of_two_scale(low, high)
    Xs = X * scale if np.any(scale != 1.0) else X
    mom = group_moments(Xs, groups, len(classes), full=False)
    return _FeatureMoments(classes, mom, low == high, scale, names)


def _block_feature_moments(Xb, yb, *, classes, scale):
    mom = _dask.block_group_moments(
        Xb if scale is None else np.asarray(Xb, dtype=np.float64) * scale,
        yb,
        None,
        classes=classes,
        full=False,
        higher=False,
    )
    Xb = np.asarray(Xb, dtype=np.float64)
    d = mom.mean.shape[1]
    if Xb.shape[0] == 0:
        return mom, np.full(d, np.inf), np.full(d, -np.inf)
    return mom, Xb.min(axis=0), Xb.max(axis=0)


def _merge_feature_moments(a, b):
    return merge_moments(a[0], b[0]), np.minimum(a[1], b[1]), np.maximum(a[2], b[2])


def _feature_moments_dask(X, y) -> _FeatureMoments:
    """:func:`_feature_moments` of a dask X, reduced blockwise on the workers.

    One pass gives the moments and each feature's range; a second pass, only
    for data out of the safe range, takes the moments of the rescaled blocks.
    """
    from types import SimpleNamespace

    holder = SimpleNamespace()
    _dask.validate_features(holder, X, reset=True)
    if y is None:
        raise InputError(
            "{argument} is None; the score needs class labels.", argument="y"
        )
    y_blocks = y if _dask.is_dask_collection(y) else np.asarray(y)
    if _dask.is_dask_collection(y):
        classes = _dask.unique_labels(y, "y")
    else:
        check_class_labels(y_blocks)
        classes = np.unique(y_blocks)

    def reduce(scale):
        return _dask.reduce_blocks(
            partial(_block_feature_moments, classes=classes, scale=scale),
            _merge_feature_moments,
            X,
            y_blocks,
            names=["X", "y"],
        )

    mom, low, high = reduce(None)
    scale = _power_of_two_scale(low, high)
    if np.any(scale != 1.0):
        mom = reduce(scale)[0]
    names = getattr(holder, "feature_names_in_", None)
    return _FeatureMoments(classes, mom, low == high, scale, names)


def gaussian_divergence_score(
    X, y, *, kind: str = "bhattacharyya", alpha: float = 0.5, var_smoothing=0.05
):
    """Score features by the divergence between their class Gaussians.

    A ``score_func`` for :class:`~sklearn.feature_selection.SelectKBest`.
    Each feature is modelled, within each class, by a univariate Gaussian:
    unlike :func:`~sklearn.feature_selection.f_classif` it sees classes that
    differ in spread as well as in location.

    The score of a feature is the prior-weighted mean divergence between its
    class Gaussians (the ``aggregate='weighted'`` summary of
    :func:`separability_score` on that one feature). The default
    'bhattacharyya' grows only logarithmically with a variance ratio, so
    features nearly constant within one class do not swamp the ranking as
    they do with 'kl'. The p-value is that of the likelihood-ratio test of
    "every class has the same mean and variance" (maximum-likelihood
    variances, without ``var_smoothing``), chi-square with ``2 (K - 1)``
    degrees of freedom after a Bartlett correction (formulas: user guide).

    Parameters
    ----------
    X : array-like or dask collection of shape (n_samples, n_features)
    y : array-like of shape (n_samples,)
        Class labels; at least two classes of at least two samples each.
    kind : str, default='bhattacharyya'
        A divergence of ``skkl.DIVERGENCES`` (all but 'wasserstein' are
        invariant to the scale of each feature).
    alpha : float, default=0.5
        Order of the Rényi divergence.
    var_smoothing : float, default=0.05
        Added to every class variance for the score, times the feature's
        total variance (the relative form of
        :class:`~sklearn.naive_bayes.GaussianNB`'s smoothing, so scores stay
        invariant to the scale of each feature). It keeps a feature constant
        within a class at a finite score; with 0 that is a ``ValueError``.

    Returns
    -------
    scores, pvalues : ndarray of shape (n_features,)
        Higher scores are more separated. Constant features score 0 with
        p-value 1; a ``UserWarning`` lists them.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.feature_selection import SelectKBest
    >>> from skkl import gaussian_divergence_score
    >>> rng = np.random.default_rng(0)
    >>> y = np.repeat([0, 1], 200)
    >>> X = rng.normal(size=(400, 3))
    >>> X[y == 1, 2] *= 3.0  # same mean, three times the spread
    >>> scores, pvalues = gaussian_divergence_score(X, y)
    >>> scores.round(2), pvalues < 1e-6
    (array([0.  , 0.  , 0.22]), array([False, False,  True]))
    >>> SelectKBest(gaussian_divergence_score, k=1).fit(X, y).get_support()
    array([False, False,  True])
    """
    get_divergence(kind, alpha)
    check_real(var_smoothing, "var_smoothing")
    # Class means and within-class sums of squares of all features in one
    # pass, centred per block (no E[x^2] - E[x]^2 cancellation): the same
    # moments GroupGaussians fits with.
    if _dask.is_dask_collection(X):
        fm = _feature_moments_dask(X, y)
    else:
        fm = _feature_moments(X, _dask.compute_if_dask(y))
    check_class_counts(fm.classes, fm.mom.count, min_count=2, what="the score")
    if np.any(fm.constant):
        warnings.warn(
            f"Features {np.flatnonzero(fm.constant).tolist()} are constant; they "
            "get score 0 and p-value 1.",
            UserWarning,
            stacklevel=2,
        )
    scores = _feature_scores(fm, kind, alpha, var_smoothing)
    pvalues = _feature_pvalues(fm)
    scores[fm.constant] = 0.0
    pvalues[fm.constant] = 1.0
    return scores, pvalues


def _total_variance(fm: _FeatureMoments) -> np.ndarray:
    """Per-feature variance of all rows (1 for constant features)."""
    counts = fm.mom.count.astype(np.float64)
    n = counts.sum()
    means, within = fm.mom.mean, fm.mom.scatter
    # Law of total variance: a sum of non-negative terms, and never below the
    # pooled within-class variance, so the LRT is >= 0.
    between = counts @ np.square(means - counts @ means / n)
    return np.where(fm.constant, 1.0, (within.sum(axis=0) + between) / n)


def _feature_scores(fm: _FeatureMoments, kind, alpha, var_smoothing) -> np.ndarray:
    """Prior-weighted mean divergence between the class Gaussians of each feature."""
    counts = fm.mom.count.astype(np.float64)
    means, within = fm.mom.mean, fm.mom.scatter
    var = within / counts[:, None] + var_smoothing * _total_variance(fm)
    var[:, fm.constant] = 1.0
    # Constant within a class: a variance at the rounding level of its mean.
    eps = np.finfo(np.float64).eps
    flat = var <= (counts[:, None] * eps * np.abs(means)) ** 2
    if np.any(flat):
        k, j = np.argwhere(flat)[0]
        raise InputError(
            "{feature} is constant within class {label}; use {fix} to give it a "
            "finite score.",
            argument="X",
            feature=format_feature(j, fm.names),
            label=format_label(fm.classes[k]),
            fix=Setting("var_smoothing", 1e-9),
        )
    priors = counts / counts.sum()
    weighted = np.zeros(means.shape[1])
    for i in range(len(priors)):  # one class against all: (K, n_features)
        D = divergence(
            (means[i][:, None], var[i][:, None]),
            (means[:, :, None], var[:, :, None]),
            kind,
            alpha=alpha,
            covariance_type="diag",
        )
        weighted += priors[i] * (priors @ D)
    scores = weighted / (1.0 - priors @ priors)
    if kind == "wasserstein" and np.any(fm.scale != 1.0):
        # The one kind that scales with the feature (as its square): undo the
        # rescaling, in two steps so that neither factor overflows first.
        unit = 1.0 / fm.scale
        with np.errstate(over="ignore", under="ignore"):
            scores = scores * unit * unit
        if not np.all(np.isfinite(scores)):
            raise InputError(
                "the squared Wasserstein scores of {argument} overflow float64 "
                "(its features are too large); rescale {argument}, or use a "
                "scale-invariant kind such as 'bhattacharyya'.",
                argument="X",
            )
    return scores


def _feature_pvalues(fm: _FeatureMoments) -> np.ndarray:
    """Bartlett-corrected likelihood-ratio p-values of equal means and variances."""
    counts = fm.mom.count.astype(np.float64)
    # The unsmoothed ML variances, floored only to keep the log finite: a class
    # with zero variance gets p-value ~0, as it should. Logs are subtracted
    # (a ratio of the total to the floor would overflow).
    var_ml = np.maximum(fm.mom.scatter / counts[:, None], np.finfo(np.float64).tiny)
    var_ml[:, fm.constant] = 1.0
    log_ratio = np.log(_total_variance(fm)) - np.log(var_ml)
    lrt = np.maximum(counts @ log_ratio, 0.0)
    dof = 2 * (len(counts) - 1)
    return stats.chi2.sf(lrt * (dof / _expected_lrt(counts)), dof)
