"""Validators shared by the estimators and scoring functions (internal).

Names here have no leading underscore because other skkl modules import them;
the module itself is private. Every check raises a ``ValueError`` or
``TypeError`` that names the argument and a fix.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.utils.multiclass import check_classification_targets

__all__ = [
    "check_class_counts",
    "check_class_labels",
    "check_priors",
    "format_feature",
    "format_label",
    "warn_few_samples_per_feature",
]

# A numeric target with more distinct values than this, some of them seen only
# once, reads as a measurement rather than as class labels.
_CONTINUOUS_MIN_VALUES = 20


def format_label(c) -> str:
    """A class label as the user wrote it (``7``, ``'cat'``), not ``np.int64(7)``."""
    return repr(c.item() if isinstance(c, np.generic) else c)


def format_feature(j: int, names=None) -> str:
    """Feature ``j`` as messages name it: ``feature 3`` or ``feature 3 ('age')``."""
    return f"feature {j}" if names is None else f"feature {j} ({names[j]!r})"


def check_priors(priors, n_groups: int) -> np.ndarray:
    """``n_groups`` finite non-negative priors summing to 1 (to 1e-8), normalised."""
    try:
        p = np.asarray(priors, dtype=np.float64)
    except (TypeError, ValueError):
        p = np.full(n_groups, np.nan)  # reported below, like any other bad value
    if p.shape != (n_groups,) or not np.all(np.isfinite(p)) or np.any(p < 0):
        got = f"shape {p.shape}" if p.shape != (n_groups,) else f"{priors!r}"
        raise ValueError(
            f"priors must have one entry per group ({n_groups}): {n_groups} finite "
            f"non-negative numbers, got {got}."
        )
    if not np.isclose(p.sum(), 1.0, rtol=0, atol=1e-8):
        raise ValueError(f"priors must sum to 1, got sum {p.sum()!r}; divide by it.")
    return p / p.sum()


def _check_not_mixed(y: np.ndarray, name: str) -> None:
    """TypeError for an object array mixing strings with other labels."""
    if y.dtype != object or y.size == 0:
        return
    is_str = np.fromiter((isinstance(v, str) for v in y.ravel()), bool, y.size)
    if is_str.any() and not is_str.all():
        s = y.ravel()[np.argmax(is_str)]
        o = y.ravel()[np.argmin(is_str)]
        raise TypeError(
            f"{name} mixes string and non-string labels (e.g. {s!r} and {o!r}), "
            "which cannot be sorted into classes; make them one type, e.g. "
            f"{name} = np.asarray({name}).astype(str)."
        )


def check_class_labels(y: np.ndarray, name: str = "y") -> None:
    """Reject labels that cannot be classes: mixed types, continuous, multilabel.

    Integer labels are always valid (``check_classification_targets`` takes
    two passes over ``y``: the sure case skips it). A float target with
    non-integer values keeps scikit-learn's "Unknown label type" message,
    which the estimator checks look for.
    """
    if y.ndim == 1 and y.dtype.kind in "iub":
        return
    _check_not_mixed(y, name)
    check_classification_targets(y)


def _looks_continuous(classes: np.ndarray, counts: np.ndarray) -> bool:
    """Many distinct numeric labels, some seen once: a measured quantity."""
    return (
        classes.dtype.kind in "iuf"
        and len(classes) > _CONTINUOUS_MIN_VALUES
        and bool(np.any(counts < 2))
    )


def check_class_counts(
    classes: np.ndarray, counts: np.ndarray, *, min_count: int, what: str, name="y"
) -> None:
    """At least two classes, each with at least ``min_count`` samples.

    ``what`` names the computation in the message ("separability", "the
    score"). A numeric target with many distinct values, some seen once, is
    reported as continuous-looking rather than as one tiny class.
    """
    K = len(classes)
    if K < 2:
        label = format_label(classes[0]) if K else "none"
        raise ValueError(
            f"{name} has a single class ({label}); {what} needs at least 2 classes."
        )
    small = np.flatnonzero(counts < min_count)
    if not small.size:
        return
    if _looks_continuous(classes, counts):
        raise ValueError(
            f"{name} looks continuous, not like class labels: {K} distinct numeric "
            f"values among {int(counts.sum())} samples, {int(np.sum(counts < 2))} "
            f"of them seen once; {what} needs classes. Bin the target first "
            f"(e.g. pandas.qcut({name}, 4, labels=False)) or use a categorical "
            "target."
        )
    g = small[np.argmin(counts[small])]
    raise ValueError(
        f"class {format_label(classes[g])} of {name} has {int(counts[g])} "
        f"sample(s); {what} needs at least {min_count} per class. Drop or merge "
        "that class."
    )


def warn_few_samples_per_feature(
    classes: np.ndarray, counts: np.ndarray, n_features: int, what: str, stacklevel=3
) -> None:
    """UserWarning when some class has no more samples than features.

    With ``n_k <= d`` the class covariance is singular (only ``reg_covar`` or
    shrinkage makes it invertible) and, even for identical classes, the
    fitted means alone lie about ``d / n_k`` squared standard deviations
    apart: divergences between the fits measure estimation noise.
    """
    small = np.flatnonzero(counts <= n_features)
    if not small.size:
        return
    g = small[np.argmin(counts[small])]
    warnings.warn(
        f"class {format_label(classes[g])} has {int(counts[g])} samples for "
        f"{n_features} features (samples <= features): the fitted Gaussians "
        f"mostly reflect estimation noise, so {what} is not meaningful (pure "
        "noise looks perfectly separable). Use many more samples than features, "
        "reduce the dimension (e.g. PCA), or at least use "
        "covariance_type='diag' with shrinkage='ledoit_wolf'.",
        UserWarning,
        stacklevel=stacklevel,
    )
