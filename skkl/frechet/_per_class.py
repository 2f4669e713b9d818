"""Per-class Fréchet distances: each label's features against its reference."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from sklearn.utils._param_validation import validate_params

from .._errors import InputError
from .._validation import format_label
from ._accumulator import FeatureMoments, moments_fit, subset_fit
from ._distance import distance
from ._fit import check_features, fit_moments

__all__ = ["FrechetPerClass", "frechet_distance_per_class"]


@dataclass(frozen=True)
class FrechetPerClass:
    """Fréchet distances per class, and their mean.

    Attributes
    ----------
    classes : ndarray of shape (n_classes,)
        The labels of ``y``, sorted.
    distances : ndarray of shape (n_classes,)
        The distance of each class's features to its reference.
    n_samples : ndarray of shape (n_classes,)
        Rows of each class in X.
    """

    classes: np.ndarray
    distances: np.ndarray
    n_samples: np.ndarray

    @property
    def mean(self) -> float:
        """The unweighted mean of the per-class distances."""
        return float(self.distances.mean())

    def to_dict(self) -> dict:
        """``{label: distance}``."""
        return {
            c.item() if isinstance(c, np.generic) else c: float(v)
            for c, v in zip(self.classes, self.distances, strict=True)
        }


def _labels(y, n: int, name: str) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or len(y) != n:
        raise InputError(
            "{argument} must hold one label per row ({n}), got shape {shape}.",
            argument=name,
            n=n,
            shape=y.shape,
        )
    return y


def _reference_fits(reference, y_reference, classes, d: int) -> dict:
    """label -> Fit of the reference, for every label in ``classes``."""
    if isinstance(reference, Mapping):
        if y_reference is not None:
            raise InputError(
                "{argument} is for reference features; a mapping of statistics "
                "needs none.",
                argument="y_reference",
            )
        found = {c: reference[c] for c in classes if c in reference}
        fits = {}
        for c, stats in found.items():
            name = f"reference[{format_label(c)}]"
            if isinstance(stats, FeatureMoments):
                fits[c] = moments_fit(stats, name)
            elif isinstance(stats, tuple) and len(stats) == 2:
                fits[c] = fit_moments(*stats, name + "[0]", name + "[1]", d)
            else:
                raise TypeError(
                    f"{name} must be a FeatureMoments or a (mean, covariance) "
                    f"tuple, got {type(stats).__name__}."
                )
    else:
        if y_reference is None:
            raise InputError(
                "{argument} is needed with reference features (their labels); or "
                "pass reference as a mapping label -> FeatureMoments.",
                argument="y_reference",
            )
        R = check_features(reference, "reference")
        yr = _labels(y_reference, len(R), "y_reference")
        fits = {
            c: subset_fit(R, np.flatnonzero(yr == c), f"reference[{format_label(c)}]")
            for c in classes
            if np.any(yr == c)
        }
    missing = [format_label(c) for c in classes if c not in fits]
    if missing:
        raise InputError(
            "the reference has no statistics for class(es) {missing} of y; give "
            "the reference rows of every class in y.",
            missing=", ".join(missing),
        )
    return fits


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "reference": ["array-like", Mapping],
        "y_reference": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def frechet_distance_per_class(X, y, reference, y_reference=None) -> FrechetPerClass:
    """Fréchet distance of each class's features to that class's reference.

    For class-conditional generative models: the features of the samples
    generated for each label against the reference features of that label
    (e.g. NVlabs/stylegan3#221). Each class is one :func:`frechet_distance`.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Candidate features.
    y : array-like of shape (n_samples,)
        Their labels; every class needs at least 2 rows.
    reference : array-like of shape (n_ref, n_features) or mapping
        Reference features (with ``y_reference``), or a mapping from label
        to :class:`FeatureMoments` or to a ``(mean, covariance)`` tuple.
        Reference classes absent from ``y`` are not used.
    y_reference : array-like of shape (n_ref,), default=None
        Labels of the reference features.

    Returns
    -------
    result : FrechetPerClass
        ``classes``, ``distances``, ``n_samples`` and ``mean`` (the
        unweighted mean over classes).

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import frechet_distance_per_class
    >>> rng = np.random.default_rng(0)
    >>> y_ref = np.repeat([0, 1], 2000)
    >>> ref = rng.normal(size=(4000, 4)) + 3.0 * y_ref[:, None]
    >>> y = np.repeat([0, 1], 1000)
    >>> X = rng.normal(size=(2000, 4)) + 3.0 * y[:, None]
    >>> X[y == 1] += 0.5  # class 1 is off by 0.5 in each feature
    >>> res = frechet_distance_per_class(X, y, ref, y_ref)
    >>> res.classes, res.distances.round(2), round(res.mean, 2)
    (array([0, 1]), array([0.01, 0.96]), 0.49)
    """
    X = check_features(X, "X")
    yx = _labels(y, len(X), "y")
    classes, counts = np.unique(yx, return_counts=True)
    few = [format_label(c) for c, k in zip(classes, counts, strict=True) if k < 2]
    if few:
        raise InputError(
            "class(es) {few} of y have fewer than 2 rows; a covariance needs 2.",
            few=", ".join(few),
        )
    fits = _reference_fits(reference, y_reference, classes, X.shape[1])
    distances = []
    for c in classes:
        name = f"X[y == {format_label(c)}]"
        fit = subset_fit(X, np.flatnonzero(yx == c), name)
        ref = fits[c]
        if len(ref.mean) != X.shape[1]:
            raise InputError(
                "the reference of class {c} has {a} features but X has {d}.",
                c=format_label(c),
                a=len(ref.mean),
                d=X.shape[1],
            )
        distances.append(distance(fit, ref))
    return FrechetPerClass(classes, np.array(distances), counts)
