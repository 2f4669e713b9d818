"""Validators shared by the estimators and scoring functions (internal).

Names here have no leading underscore because other skkl modules import them;
the module itself is private. Every check raises a ``ValueError`` or
``TypeError`` that names the argument and a fix.
"""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from ._errors import InputError

__all__ = [
    "as_float_array",
    "check_class_counts",
    "check_class_labels",
    "check_count",
    "check_finite",
    "check_priors",
    "check_no_text",
    "refuse_strings",
    "check_real",
    "format_feature",
    "format_label",
    "warn_few_samples_per_feature",
]


# Arrays of at most this many entries are tested entry by entry: for them the
# fixed cost of a floating-point-error context exceeds the extra pass.
_SMALL = 4096

# -- the one rule for numeric input --------------------------------------------
#
# Arrays: real numbers only. Integers, booleans and float32 are computed in
# float64. Complex values raise (their imaginary part would be dropped), and so
# do strings, numeric or not, whether their dtype is str/bytes or they sit in an
# object array: text converts differently in different parsers (Python's float
# reads '1_000' as 1000 and rejects '1,000'), so a number read as text is a bug
# upstream that skkl reports instead of guessing. scikit-learn 1.9's
# check_array rejects str/bytes arrays but converts object arrays of numeric
# strings; skkl rejects both, naming the argument.


_ALL_REAL = object()  # no element of an object array is anything but a number


def check_no_text(X, name: str = "X") -> None:
    """Refuse text, categorical or date input to a class model, naming it.

    One Gaussian per class needs numbers; categories need an encoding that
    the user chooses (scikit-learn's ``OneHotEncoder`` in a
    ``ColumnTransformer``), which the drift detector does itself but a class
    model should not guess. A table's columns are checked by dtype; an array
    of strings (numeric or not) or an object array holding one is refused by
    the one rule for numeric input (above), before scikit-learn would parse
    numeric strings.

    Raises
    ------
    InputError
        For a table, naming ``name`` and up to three such columns.
    TypeError
        For an array holding strings.

    Examples
    --------
    >>> import pandas as pd
    >>> from skkl._validation import check_no_text
    >>> check_no_text(pd.DataFrame({"x": [1.0], "c": ["a"]}))
    Traceback (most recent call last):
    ...
    skkl._errors.InputError: X has non-numeric column(s) 'c' ...
    >>> check_no_text([["1.5", "2"]])
    Traceback (most recent call last):
    ...
    TypeError: X must be a numeric array-like of real numbers, got strings ...
    """
    if X is None or hasattr(X, "dask"):
        return
    if not hasattr(X, "dtypes"):
        refuse_strings(X, name)
        return
    dtypes = X.dtypes
    if not hasattr(dtypes, "items"):  # a Series: one column
        dtypes = {getattr(X, "name", 0): dtypes}
    bad = [(c, t) for c, t in dtypes.items() if getattr(t, "kind", "O") not in "biuf"]
    if not bad:
        return
    from ._errors import InputError

    shown = ", ".join(f"{str(c)!r} ({t})" for c, t in bad[:3])
    more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""
    raise InputError(
        "{argument} has non-numeric column(s) {shown}{more}; class Gaussians "
        "need numbers: encode categories first, e.g. "
        "make_pipeline(ColumnTransformer([('cat', OneHotEncoder(), "
        "[...])], remainder='passthrough'), ...) with scikit-learn's "
        "OneHotEncoder, or drop those columns.",
        argument=name,
        column=str(bad[0][0]),
        shown=shown,
        more=more,
    )


def refuse_strings(X, name: str = "X") -> None:
    """TypeError naming ``name`` if ``X`` holds strings, numeric or not.

    For input that scikit-learn's ``validate_data`` reads next: it parses
    numeric strings (Python reads '1_000' as 1000), skkl does not. Complex
    values and other objects are left to it, whose messages scikit-learn's
    estimator checks expect.

    Examples
    --------
    >>> from skkl._validation import refuse_strings
    >>> refuse_strings([[1.0, 2.0]])
    >>> refuse_strings([["1.5", "2"]])
    Traceback (most recent call last):
    ...
    TypeError: X must be a numeric array-like of real numbers, got strings ...
    """
    if isinstance(X, np.ndarray) and X.dtype.kind in "biuf":
        return
    try:
        raw = np.asarray(X)
    except (TypeError, ValueError):  # ragged or exotic: validate_data names it
        return
    kind = raw.dtype.kind
    if kind in "USa" or (
        kind == "O" and isinstance(_first_non_real(raw), (str, bytes))
    ):
        _reject_non_real(raw, name)


def _first_non_real(raw: np.ndarray):
    """The first element of an object array that is not a real number."""
    return next(
        (v for v in raw.reshape(-1) if not isinstance(v, numbers.Real)), _ALL_REAL
    )


def _reject_non_real(raw: np.ndarray, name: str) -> None:
    """TypeError naming ``name`` for complex, string and non-numeric input."""
    kind = raw.dtype.kind
    bad = _first_non_real(raw) if kind == "O" else _ALL_REAL
    if kind == "c" or isinstance(bad, numbers.Complex):
        raise TypeError(
            f"{name} is complex; Gaussians here are real: pass the real part "
            "explicitly (np.real) if the imaginary part is rounding noise."
        )
    if kind in "USa" or isinstance(bad, (str, bytes)):
        if bad is _ALL_REAL and raw.size:  # a str or bytes array
            bad = raw.reshape(-1)[0].item()
        example = f" (e.g. {bad!r})" if bad is not _ALL_REAL else ""
        raise TypeError(
            f"{name} must be a numeric array-like of real numbers, got "
            f"strings{example}; skkl does not parse text (numbers read as text "
            "usually mean a parsing problem upstream): convert them first, "
            f"e.g. np.asarray({name}, dtype=float)."
        )
    if kind not in "biufO" or bad is not _ALL_REAL:
        got = (
            f"dtype {raw.dtype}"
            if bad is _ALL_REAL
            else f"{type(bad).__name__} ({bad!r})"
        )
        raise TypeError(
            f"{name} must be a numeric array-like of real numbers, got {got}."
        )


def as_float_array(x, name: str, *, copy: bool = True) -> np.ndarray:
    """``x`` as a float64 array under the one rule for numeric input (above).

    Parameters
    ----------
    x : array-like
        Real numbers (bool, int, float of any width, or an object array of
        those).
    name : str
        The argument's name, for the error message.
    copy : bool, default=True
        True: always a new array, never a view of ``x``. False: ``x`` itself
        (as an ndarray) when it is already float64 and C-contiguous.

    Returns
    -------
    arr : ndarray of float64, C-contiguous

    Raises
    ------
    TypeError
        For complex values, strings (numeric or not) and other non-numbers,
        naming ``name``.

    Examples
    --------
    >>> from skkl._validation import as_float_array
    >>> as_float_array([1, 2], "x")
    array([1., 2.])
    >>> as_float_array(["1.5"], "x")
    Traceback (most recent call last):
    ...
    TypeError: x must be a numeric array-like of real numbers, got strings ...
    """
    if isinstance(x, np.ndarray) and x.dtype == np.float64:
        if not copy and x.flags.c_contiguous:
            return x
        return np.array(x, order="C", copy=True)
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array-like: {exc}") from None
    _reject_non_real(raw, name)
    try:
        out = np.asarray(raw, dtype=np.float64, order="C")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array-like: {exc}") from None
    # A conversion that made no new memory returned the caller's data (or a
    # view of it, e.g. of a pandas column): copy it.
    return out.copy() if copy and (out is x or out.base is not None) else out


def check_finite(arr: np.ndarray, name: str) -> np.ndarray:
    """``arr`` if every entry is finite, else a ValueError giving the first index.

    One reduction decides the common case: a sum is finite exactly when no
    entry is NaN or infinite, unless finite entries near the float64 limit
    overflow it; only then (or on failure) is the entry-wise test run.
    """
    if arr.size > _SMALL:
        with np.errstate(over="ignore", invalid="ignore"):
            if np.isfinite(np.add.reduce(arr, axis=None)):
                return arr
    finite = np.isfinite(arr)
    if finite.all():
        return arr
    bad = np.argwhere(~finite)[0]
    raise ValueError(
        f"{name} contains NaN or infinity (first at index {tuple(bad.tolist())}); "
        "remove or impute non-finite values."
    )


def check_real(
    value,
    name: str,
    *,
    low: float = 0.0,
    strict: bool = False,
    hint: str = "",
    **fields,
) -> float:
    """``value`` as a float if it is a finite real number >= ``low`` (> if strict).

    The one scalar check of the package: bools, strings, complex numbers, NaN
    and infinity are rejected with a message that names the argument.
    ``hint`` is appended to the requirement; it may name other parameters as
    template fields given in ``fields`` (:class:`skkl._errors.Setting`).
    """
    ok = (
        isinstance(value, numbers.Real)
        and not isinstance(value, bool)
        and np.isfinite(value)
        and (value > low if strict else value >= low)
    )
    if not ok:
        sign = ">" if strict else ">="
        raise InputError(
            "{argument} must be a finite real number "
            + f"{sign} {low:g}"
            + hint
            + ", got {value!r}.",
            argument=name,
            value=value,
            **fields,
        )
    return float(value)


def check_count(value, name: str) -> int:
    """``value`` as an int if it is an integer >= 1 (not a bool or a float)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be an integer >= 1, got {value!r}.")
    return int(value)


# A numeric target with more distinct values than this, some of them seen only
# once, reads as a measurement rather than as class labels.
_CONTINUOUS_MIN_VALUES = 20

# Priors must sum to 1 within this: it admits priors written to eight decimals
# (and any float rounding of counts / n), not numbers that are not shares.
_PRIORS_SUM_ATOL = 1e-8


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
    if not np.isclose(p.sum(), 1.0, rtol=0, atol=_PRIORS_SUM_ATOL):
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
    # scikit-learn is imported here: the pointwise functions, which use the
    # numeric rules above, must not pay for importing it.
    from sklearn.utils.multiclass import check_classification_targets

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
