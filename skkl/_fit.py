"""Gaussians from group moments: covariances, shrinkage, ridge and factors.

:func:`fit_gaussians` turns the moments of K groups
(:class:`~skkl._moments.GroupMoments`) into a :class:`~skkl.Gaussians` and the
group priors: the one fitter behind :class:`~skkl.GroupGaussians` and the
separability scores. It also says why a group's covariance cannot be
estimated (too few samples, a constant or collinear feature), naming the
group and the feature, and warns when a covariance is *effectively* singular:
when the ridge ``reg_covar``, not the data, sets the variance of some
direction, every log-density and divergence involving that group mostly
measures ``1 / reg_covar``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np

from . import _dask
from ._errors import InputError, Setting
from ._gaussians import Gaussians, gaussians_from_parts
from ._linalg import cholesky, logdet_from_cholesky
from ._moments import (
    GroupMoments,
    covariances_from_moments,
    encode_groups,
    group_moments,
    oas_coefficient,
)
from ._validation import (
    check_class_labels,
    check_no_text,
    check_priors,
    format_feature,
    format_label,
)

__all__ = [
    "GroupFit",
    "SingularCovarianceWarning",
    "class_moments",
    "fit_gaussians",
    "moment_layout",
]

# With reg_covar=0, a feature whose variance left unexplained by the features
# before it is below this fraction of its own variance is collinear: its
# Cholesky pivot exists only through rounding.
_COLLINEAR_RTOL = 1e-10
# With reg_covar > 0, a covariance is effectively singular when the ridge
# supplies at least half of the variance of some direction: a Cholesky pivot
# of S + reg_covar * I below twice reg_covar.
_RIDGE_DOMINATED = 2.0
# Classes and features listed in one message; the rest are counted.
_LISTED = 5


class SingularCovarianceWarning(UserWarning):
    """A group covariance is singular up to the ridge ``reg_covar``."""


@dataclass(frozen=True)
class GroupFit:
    """Gaussians fitted to K groups, with what was applied to get them.

    Attributes
    ----------
    gaussians : Gaussians
        One Gaussian per group (shrinkage and ridge included).
    weights : ndarray of shape (K,)
        Group priors: ``priors`` if given, else the shares of the total weight.
    shrinkage : ndarray of shape (K,)
        Shrinkage intensity applied to each group (one shared value for 'tied').
    class_count : ndarray of shape (K,)
        Total sample weight of each group.
    """

    gaussians: Gaussians
    weights: np.ndarray
    shrinkage: np.ndarray
    class_count: np.ndarray


def moment_layout(covariance_type: str, shrinkage) -> tuple[bool, bool]:
    """(full scatter needed, third/fourth moments needed) for a fit."""
    full = covariance_type in ("full", "tied") or shrinkage in ("ledoit_wolf", "oas")
    return full, shrinkage == "ledoit_wolf"


def class_moments(
    X, y, *, full: bool, higher: bool = False, what: str
) -> tuple[np.ndarray, GroupMoments, np.ndarray | None]:
    """Validated classes, per-class moments and feature names of (X, y).

    The path of :meth:`skkl.GroupGaussians.fit` for the scoring functions,
    which need the moments but no estimator: numpy or pandas X (finiteness
    checked on the moments), or a dask collection reduced on its workers.
    ``what`` names the computation in the error for a missing ``y``.
    """
    from types import SimpleNamespace

    from sklearn.utils.validation import _get_feature_names, check_X_y

    if y is None:
        raise InputError(
            f"{{argument}} is None; {what} needs class labels.", argument="y"
        )
    if _dask.is_dask_collection(X):
        holder = SimpleNamespace()
        X = _dask.validate_features(holder, X, reset=True)
        fitted = _dask.class_moments(X, y, None, full=full, higher=higher)
        names = getattr(holder, "feature_names_in_", None)
        return fitted.classes, fitted.moments, names
    names = _get_feature_names(X)
    check_no_text(X)
    X, y = check_X_y(
        X, _dask.compute_if_dask(y), dtype=np.float64, ensure_all_finite=False
    )
    check_class_labels(y)
    classes, groups = encode_groups(y)
    mom = group_moments(X, groups, len(classes), full=full, higher=higher)
    return classes, mom, names


def fit_gaussians(
    mom: GroupMoments,
    classes: np.ndarray,
    *,
    covariance_type: str,
    shrinkage,
    reg_covar: float,
    priors=None,
    feature_names=None,
    stacklevel: int = 1,
) -> GroupFit:
    """Gaussians of K groups from their moments.

    Parameters
    ----------
    mom : GroupMoments
        Moments in the layout of :func:`moment_layout`.
    classes : ndarray of shape (K,)
        Group labels, for messages (as are ``feature_names``).
    covariance_type, shrinkage, reg_covar, priors
        As in :class:`~skkl.GroupGaussians`.
    stacklevel : int, default=1
        The warning is attributed to this many frames above the caller.

    Returns
    -------
    GroupFit

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._fit import fit_gaussians
    >>> from skkl._moments import group_moments
    >>> X = np.array([[0.0, 0.0], [2.0, 1.0], [0.0, 1.0], [2.0, 0.0], [5.0, 5.0],
    ...               [7.0, 5.0], [5.0, 7.0], [7.0, 7.0]])
    >>> mom = group_moments(X, np.repeat([0, 1], 4), 2)
    >>> fit = fit_gaussians(mom, np.array(["a", "b"]), covariance_type="diag",
    ...                     shrinkage=None, reg_covar=0.0)
    >>> fit.gaussians.covariances, fit.weights
    (array([[1.  , 0.25],
           [1.  , 1.  ]]), array([0.5, 0.5]))
    """
    empty = np.flatnonzero(mom.weight <= 0)
    if empty.size:
        raise InputError(
            "class {label} has zero total {argument}; give it positive weight or "
            "drop its samples.",
            argument="sample_weight",
            label=format_label(classes[empty[0]]),
        )
    where = _Where(
        classes, mom.count, covariance_type, feature_names, mom.mean.shape[1]
    )
    auto = shrinkage == "auto"
    covs, variances, coef = covariances_from_moments(
        mom, covariance_type, None if auto else shrinkage
    )
    if not np.all(np.isfinite(covs)):
        raise InputError(
            "the covariances overflowed float64; rescale {argument} (e.g. with "
            "StandardScaler) before fitting.",
            argument="X",
        )
    if reg_covar == 0:
        _check_estimable(mom, variances, coef, where)
    if covs.ndim == 3:
        covs, factor, logdet, coef = _factor_matrices(
            mom, covs, coef, reg_covar, auto, where, stacklevel
        )
    else:
        covs, factor, logdet = _factor_variances(covs, reg_covar, where, stacklevel)
    gaussians = gaussians_from_parts(
        mom.mean.copy(), covs, covariance_type, factor, logdet
    )
    W = mom.weight
    weights = W / W.sum() if priors is None else check_priors(priors, len(W))
    K = len(classes)
    return GroupFit(gaussians, weights, np.broadcast_to(coef, (K,)).copy(), W.copy())


def _factor_matrices(mom, covs, coef, reg_covar, auto, where, stacklevel):
    """(covariances, Cholesky factors, log-determinants, shrinkage): 'full', 'tied'.

    With ``auto``, the groups singular up to the ridge are shrunk (OAS) and
    factored again.
    """
    d = covs.shape[-1]
    covs[:, np.arange(d), np.arange(d)] += reg_covar
    factor = _factor(covs, reg_covar, where)
    singular = _ridge_dominated(factor, covs, reg_covar)
    if auto and singular:
        covs, coef = _shrink_singular(mom, where.covariance_type, coef, singular)
        covs[:, np.arange(d), np.arange(d)] += reg_covar
        factor = _factor(covs, reg_covar, where)
    _warn_singular(singular, reg_covar, auto, where, stacklevel + 1)
    logdet = logdet_from_cholesky(factor)
    if where.covariance_type == "tied":
        K = len(where.classes)
        return covs[0], factor[0], np.full(K, logdet[0]), coef
    return covs, factor, logdet, coef


def _factor_variances(covs, reg_covar, where, stacklevel):
    """(variances, standard deviations, log-determinants): 'diag', 'spherical'."""
    covs = covs + reg_covar
    if reg_covar > 0 and where.covariance_type == "diag":
        low = covs <= _RIDGE_DOMINATED * reg_covar
        singular = {
            g: [(int(j), "constant") for j in np.flatnonzero(low[g])]
            for g in np.flatnonzero(low.any(axis=1))
        }
        _warn_singular(singular, reg_covar, False, where, stacklevel + 1)
    logdet = np.log(covs)
    if where.covariance_type == "diag":
        logdet = logdet.sum(axis=1)
    else:
        logdet = where.n_features * logdet
    return covs, np.sqrt(covs), logdet


@dataclass(frozen=True)
class _Where:
    """What messages need to name a group and a feature."""

    classes: np.ndarray
    count: np.ndarray
    covariance_type: str
    feature_names: np.ndarray | None
    n_features: int

    def feature(self, j: int) -> str:
        return format_feature(j, self.feature_names)

    def group(self, g: int) -> str:
        if self.covariance_type == "tied":
            return "the pooled (tied) covariance of every class"
        n = int(self.count[g])
        return f"class {format_label(self.classes[g])} ({n} sample{'s' * (n != 1)})"


_RIDGE_HINT = "set {reg} > 0 (e.g. 1e-6)"


def _ridge_fields():
    return {"reg": Setting("reg_covar")}


def _check_estimable(mom, variances, shrink, where: _Where) -> None:
    """With reg_covar=0: clear errors for too few samples or constant features."""
    covariance_type = where.covariance_type
    d = mom.mean.shape[1]
    eps = np.finfo(np.float64).eps
    if covariance_type == "tied":
        n, K = int(mom.count.sum()), len(mom.count)
        need = d + K if shrink[0] == 0 else K + 1
        if n < need:
            raise InputError(
                f"the pooled (tied) covariance of {K} classes from {n} samples is "
                f"singular: it needs at least {need} samples; {_RIDGE_HINT} or use "
                "{shrink}.",
                argument="X",
                shrink=Setting("shrinkage"),
                **_ridge_fields(),
            )
        scale = (n * eps * np.abs(mom.mean).max(axis=0)) ** 2
        const = np.flatnonzero(variances[0] <= scale)
        if const.size:
            raise InputError(
                "{feature} is constant within every class: its pooled variance "
                f"is 0; {_RIDGE_HINT} or drop the feature.",
                argument="X",
                feature=where.feature(const[0]),
                **_ridge_fields(),
            )
        return
    for g, c in enumerate(where.classes):
        n = int(mom.count[g])
        need = d + 1 if covariance_type == "full" and shrink[g] == 0 else 2
        if n < need:
            more = ", use {shrink} or {diag}" if n >= 2 else ""
            raise InputError(
                "class {label} has {n} sample(s): too few for a "
                f"{covariance_type!r} covariance in {d} dimensions (needs at least "
                f"{need}); {_RIDGE_HINT}{more}.",
                argument="y",
                label=format_label(c),
                n=n,
                shrink=Setting("shrinkage"),
                diag=Setting("covariance_type", "diag"),
                **_ridge_fields(),
            )
        const = variances[g] <= (n * eps * np.abs(mom.mean[g])) ** 2
        if covariance_type == "spherical" and np.all(const):
            raise InputError(
                "every feature is constant within class {label}: its variance is "
                f"0; {_RIDGE_HINT}.",
                argument="X",
                label=format_label(c),
                **_ridge_fields(),
            )
        if covariance_type != "spherical" and np.any(const):
            raise InputError(
                "{feature} is constant within {group}: its variance is 0; "
                f"{_RIDGE_HINT} or drop the feature.",
                argument="X",
                feature=where.feature(np.flatnonzero(const)[0]),
                group=where.group(g),
                **_ridge_fields(),
            )


def _factor(covs: np.ndarray, reg_covar: float, where: _Where) -> np.ndarray:
    """Cholesky factors, or an error that names the group (and feature) that failed."""
    try:
        L = cholesky(covs)
    except ValueError:
        L = None
    if L is not None and reg_covar > 0:
        return L
    if L is not None:
        # Without a ridge, a pivot L_kk^2 that is a rounding-level fraction of
        # S_kk means feature k is a linear combination of the features before
        # it: the factorisation only "succeeded" through rounding.
        diag = np.diagonal(covs, axis1=1, axis2=2)
        unexplained = np.diagonal(L, axis1=1, axis2=2) ** 2 / diag
        if np.all(unexplained > _COLLINEAR_RTOL):
            return L
        g, k = np.argwhere(unexplained <= _COLLINEAR_RTOL)[0]
        raise InputError(
            "{feature} is a linear combination of the features before it within "
            "{group}, so the covariance is singular; "
            f"{_RIDGE_HINT}, use {{shrink}}, or drop the feature.",
            argument="X",
            feature=where.feature(k),
            group=where.group(g),
            shrink=Setting("shrinkage"),
            **_ridge_fields(),
        )
    if reg_covar == 0:
        hint = (
            f"some features are linearly dependent; {_RIDGE_HINT}, use {{shrink}}, "
            "or drop redundant features"
        )
    else:
        hint = "increase {reg} (now {now}), use {shrink}, or standardise {argument}"
    fields = dict(_ridge_fields(), shrink=Setting("shrinkage"), now=reg_covar)
    for g in range(len(covs)):
        try:
            cholesky(covs[g])
        except ValueError:
            raise InputError(
                f"the covariance of {{group}} is not positive definite; {hint}.",
                argument="X",
                group=where.group(g),
                **fields,
            ) from None
    raise AssertionError("unreachable: no single covariance failed")


def _ridge_dominated(L: np.ndarray, covs: np.ndarray, reg_covar: float) -> dict:
    """Groups whose covariance the ridge makes invertible, with the features.

    Returns ``{group: [(feature, 'constant' or 'collinear'), ...]}``: feature k
    of a group is listed when the Cholesky pivot ``L_kk^2`` (its variance left
    unexplained by the features before it, plus the ridge) is below
    ``_RIDGE_DOMINATED * reg_covar``; 'constant' when its own variance is,
    'collinear' otherwise.
    """
    if reg_covar <= 0:
        return {}
    limit = _RIDGE_DOMINATED * reg_covar
    pivots = np.diagonal(L, axis1=1, axis2=2) ** 2
    own = np.diagonal(covs, axis1=1, axis2=2)
    out = {}
    for g, k in np.argwhere(pivots <= limit):
        kind = "constant" if own[g, k] <= limit else "collinear"
        out.setdefault(int(g), []).append((int(k), kind))
    return out


def _shrink_singular(mom, covariance_type, coef, singular):
    """Covariances with OAS shrinkage on the groups listed in ``singular``."""
    groups = np.array(sorted(singular))
    ml, _, _ = covariances_from_moments(mom, covariance_type, None)
    weight = np.array([mom.weight.sum()]) if covariance_type == "tied" else mom.weight
    coef = np.array(coef, dtype=np.float64)
    coef[groups] = oas_coefficient(weight[groups], ml[groups])
    shrunk, _, _ = covariances_from_moments(mom, covariance_type, coef)
    return shrunk, coef


def _warn_singular(singular, reg_covar, shrunk: bool, where: _Where, stacklevel):
    """SingularCovarianceWarning naming the groups and features (if any)."""
    if not singular:
        return
    groups = sorted(singular)
    parts = []
    for g in groups[:_LISTED]:
        found = singular[g]
        constant = [where.feature(j) for j, kind in found if kind == "constant"]
        collinear = [where.feature(j) for j, kind in found if kind == "collinear"]
        said = []
        if constant:
            said.append(f"{_listing(constant)} constant")
        if collinear:
            said.append(f"{_listing(collinear)} collinear with earlier features")
        if where.covariance_type != "tied" and where.count[g] <= where.n_features:
            said.insert(
                0, f"fewer samples than {where.n_features + 1}, so rank-deficient"
            )
        parts.append(f"{where.group(g)}: {'; '.join(said)}")
    more = len(groups) - _LISTED
    what = "; ".join(parts) + (f"; and {more} more classes" if more > 0 else "")
    if shrunk:
        action = (
            "shrinkage='auto' applied OAS shrinkage to these covariances "
            "(see shrinkage_); pass shrinkage=None to keep them ridge-only"
        )
    else:
        action = (
            "log-densities and divergences involving them mostly measure "
            f"1/reg_covar = {1 / reg_covar:.3g}; use shrinkage='oas' (or 'auto'), "
            "a larger reg_covar relative to the feature variances, or drop the "
            "features"
        )
    warnings.warn(
        f"Covariances singular up to reg_covar={reg_covar!r} (the ridge sets "
        f"their smallest variances): {what}. {action}.",
        SingularCovarianceWarning,
        stacklevel=3 + stacklevel,
    )


def _listing(names: list[str]) -> str:
    shown = ", ".join(names[:_LISTED])
    rest = len(names) - _LISTED
    return shown + (f" and {rest} more" if rest > 0 else "")
