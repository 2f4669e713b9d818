"""What the drift displays show, read from a result in one place.

:func:`drift_view` and :func:`scan_view` are the only code in
``skkl._display`` that reads a :class:`~skkl.DriftResult` or a
:class:`~skkl.DriftScan`, and they read public attributes only. The fields
that some results carry and others do not (the reason the engine was chosen,
per-feature summaries of each sample, missing rates, category frequencies)
are named once, in :data:`OPTIONAL_ATTRIBUTES`; a result without them gives
a view without them, and every renderer leaves out what the view lacks.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..plotting._drift import evidence_order, feature_labels

__all__ = ["OPTIONAL_ATTRIBUTES", "DriftView", "FeatureRow", "ScanView", "drift_view"]

#: Attributes every result has (the view cannot be built without them).
REQUIRED_ATTRIBUTES = (
    "is_drift",
    "p_value",
    "alpha",
    "effect",
    "feature_scores",
    "feature_p_values",
)

#: View field -> result attribute, for what a result may carry. Per-feature
#: fields are arrays of shape (n_features,) (nan where not defined);
#: ``categories`` maps a column name to ``{level: (reference, current)}``
#: frequencies.
OPTIONAL_ATTRIBUTES = {
    "method_reason": "method_reason",
    "reference_mean": "reference_mean",
    "reference_sd": "reference_sd",
    "current_mean": "current_mean",
    "current_sd": "current_sd",
    "reference_missing": "reference_missing_rate",
    "current_missing": "current_missing_rate",
    "categories": "category_frequencies",
}

#: The per-feature fields among :data:`OPTIONAL_ATTRIBUTES`.
FEATURE_FIELDS = (
    "reference_mean",
    "reference_sd",
    "current_mean",
    "current_sd",
    "reference_missing",
    "current_missing",
)


@dataclass(frozen=True)
class FeatureRow:
    """One feature of a result; optional fields are None when not carried."""

    index: int
    name: str
    effect: float
    p_value: float
    drifted: bool
    dropped: bool
    reference_mean: float | None = None
    reference_sd: float | None = None
    current_mean: float | None = None
    current_sd: float | None = None
    reference_missing: float | None = None
    current_missing: float | None = None


@dataclass(frozen=True)
class DriftView:
    """A drift test as the displays show it (see :func:`drift_view`)."""

    result: object
    is_drift: bool
    p_value: float
    alpha: float
    effect: float
    effect_null_sd: float
    statistic: float
    critical_value: float
    statistic_name: str
    method: str
    method_reason: str | None
    n_ref: int | None
    n: int | None
    n_permutations: int | None
    start: int | None
    stop: int | None
    features: tuple
    categories: tuple
    notes: tuple

    @property
    def has(self) -> frozenset:
        """The optional per-feature fields that this result carries."""
        first = self.features[0] if self.features else None
        return frozenset(
            f for f in FEATURE_FIELDS if getattr(first, f, None) is not None
        )

    def ranked(self) -> list:
        """Features by evidence: Holm p-value, then larger effect, then index."""
        order = evidence_order(
            [f.p_value for f in self.features], [f.effect for f in self.features]
        )
        return [self.features[j] for j in order]


@dataclass(frozen=True)
class ScanView:
    """A scan: its windows' views, the level and the row ranges no window tested."""

    windows: tuple
    alpha: float
    skipped: tuple


def _per_feature(result, field: str, d: int):
    attribute = OPTIONAL_ATTRIBUTES.get(field, field)
    value = getattr(result, attribute, None)
    if value is None:
        return [None] * d
    value = np.asarray(value, dtype=np.float64).ravel()
    if value.size != d:
        raise ValueError(
            f"the result's {attribute} has {value.size} values for {d} features; "
            "it must have one per feature."
        )
    return value.tolist()


def _categories(result) -> tuple:
    """``((column, ((level, reference, current), ...)), ...)`` or ()."""
    value = getattr(result, OPTIONAL_ATTRIBUTES["categories"], None)
    if not value:
        return ()
    if not isinstance(value, Mapping):
        raise TypeError(
            f"the result's {OPTIONAL_ATTRIBUTES['categories']} must map each column "
            "to {level: (reference, current)} frequencies, got "
            f"{type(value).__name__}."
        )
    return tuple(
        (
            str(column),
            tuple((str(k), float(a), float(b)) for k, (a, b) in levels.items()),
        )
        for column, levels in value.items()
    )


def check_result(result, what: str = "result") -> None:
    """Raise a TypeError naming ``what`` unless it looks like a DriftResult."""
    missing = [a for a in REQUIRED_ATTRIBUTES if not hasattr(result, a)]
    if missing:
        raise TypeError(
            f"{what} must be a DriftResult (the output of "
            f"GaussianDriftDetector.test), got {type(result).__name__} without "
            f"{', '.join(missing)}."
        )


def drift_view(result) -> DriftView:
    """Read a DriftResult's public attributes into a :class:`DriftView`."""
    check_result(result)
    scores = np.asarray(result.feature_scores, dtype=np.float64).ravel()
    p = np.asarray(result.feature_p_values, dtype=np.float64).ravel()
    d = scores.size
    if p.size != d:
        raise ValueError(
            f"the result has {p.size} feature_p_values for {d} feature_scores."
        )
    alpha = float(result.alpha)
    dropped = {int(j) for j in getattr(result, "dropped_features", ())}
    extra = {f: _per_feature(result, f, d) for f in FEATURE_FIELDS}
    features = tuple(
        FeatureRow(
            index=j,
            name=name,
            effect=float(scores[j]),
            p_value=float(p[j]),
            drifted=bool(p[j] < alpha) and j not in dropped,
            dropped=j in dropped,
            **{f: extra[f][j] for f in FEATURE_FIELDS},
        )
        for j, name in enumerate(feature_labels(result))
    )
    null = getattr(result, "null_distribution", None)
    reason = getattr(result, OPTIONAL_ATTRIBUTES["method_reason"], None)
    n_ref, n = getattr(result, "n_ref", None), getattr(result, "n", None)
    return DriftView(
        result=result,
        is_drift=bool(result.is_drift),
        p_value=float(result.p_value),
        alpha=alpha,
        effect=float(result.effect),
        effect_null_sd=float(getattr(result, "effect_null_sd", np.nan)),
        statistic=float(getattr(result, "statistic", np.nan)),
        critical_value=float(getattr(result, "critical_value", np.nan)),
        statistic_name=str(getattr(result, "statistic_name", "")),
        method=str(getattr(result, "method", "")),
        method_reason=None if reason is None else str(reason),
        n_ref=None if n_ref is None else int(n_ref),
        n=None if n is None else int(n),
        n_permutations=None if null is None else int(np.size(null)),
        start=getattr(result, "start", None),
        stop=getattr(result, "stop", None),
        features=features,
        categories=_categories(result),
        notes=tuple(str(s) for s in getattr(result, "notes", ())),
    )


def scan_view(scan) -> ScanView:
    """Read a DriftScan (or a list of DriftResult) into a :class:`ScanView`."""
    if not isinstance(scan, (list, tuple)):
        raise TypeError(
            "scan must be a DriftScan (the output of GaussianDriftDetector.scan), "
            f"got {type(scan).__name__}."
        )
    for i, r in enumerate(scan):
        check_result(r, what=f"scan[{i}]")
    windows = tuple(drift_view(r) for r in scan)
    alpha = getattr(scan, "alpha", windows[0].alpha if windows else 0.05)
    skipped = getattr(scan, "skipped", ()) or ()
    return ScanView(
        windows=windows,
        alpha=float(alpha),
        skipped=tuple(tuple(int(v) for v in r) for r in skipped),
    )
