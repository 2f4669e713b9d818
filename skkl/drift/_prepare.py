"""Prepare a drift test: constant features, resolution, one standardiser.

Every engine sees the data through this module: the features constant with
the same value in both samples are dropped (they carry no evidence), those
constant at different values are kept and named (drift beyond doubt), mean
shifts beyond what float64 moment sums resolve are named, and one
:class:`Standardiser` -- built from mergeable :class:`FeatureStats`, so rows
and dask summaries are treated alike -- centres and scales the features.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field, replace

import numpy as np

from .._validation import format_feature as feature_label
from ._sums import FeatureStats, MomentSums

__all__ = ["Prepared", "Sample", "Standardiser", "feature_label", "prepare"]

# A mean difference beyond this many within-sample standard deviations cannot
# be resolved by float64 sums of squares (their rounding, ~1e-16 of the
# squared shift, reaches the within variance at ~1e8 sds; 2e6 leaves margin
# for sums over millions of rows).
_RESOLUTION_SD = 2e6


@dataclass(frozen=True)
class Sample:
    """One side of a test: rows in memory and/or their summaries.

    Attributes
    ----------
    stats : FeatureStats
        Per-feature summary (always present).
    X : ndarray of shape (n, d) or None
        The rows (float64, finite); None for a dask collection.
    w : ndarray of shape (n,) or None
        Row weights; None means 1 for every row.
    sums : MomentSums or None
        Moment sums in the *reference's* standardised coordinates (a
        reference fitted on a dask collection keeps them instead of rows).
    source : object
        A dask collection still to be reduced (the tested sample).
    w2_ratio : float
        ``sum w^2 / sum w`` (1 for unit weights).
    """

    stats: FeatureStats
    X: np.ndarray | None = None
    w: np.ndarray | None = None
    sums: MomentSums | None = None
    source: object = None
    w2_ratio: float = 1.0

    @classmethod
    def from_rows(cls, X: np.ndarray, w: np.ndarray | None = None) -> Sample:
        ratio = 1.0 if w is None else float(w @ w / w.sum())
        return cls(FeatureStats.from_rows(X, w), X, w, w2_ratio=ratio)

    @property
    def has_rows(self) -> bool:
        return self.X is not None

    @property
    def weights(self) -> np.ndarray:
        return np.ones(self.X.shape[0]) if self.w is None else self.w

    def subset(self, keep: np.ndarray) -> Sample:
        X = None if self.X is None else self.X[:, keep]
        sums = None if self.sums is None else self.sums.subset(keep)
        return replace(self, stats=self.stats.subset(keep), X=X, sums=sums)


@dataclass(frozen=True)
class Standardiser:
    """Centre and scale per feature; ``apply`` gives ``(X - centre) / scale``.

    ``pooled`` is the permutation engines' choice (a function of the pooled
    sample only, so every split sees the same transform and the test stays
    exact); ``reference`` the asymptotic engine's (a dask reference's sums
    are computed before the new sample exists).
    """

    centre: np.ndarray
    scale: np.ndarray

    @classmethod
    def pooled(cls, ref: FeatureStats, new: FeatureStats) -> Standardiser:
        both = ref.merge(new)
        sd = both.sd
        return cls(both.mean, np.where(sd > 0, sd, 1.0))

    @classmethod
    def reference(cls, ref: FeatureStats, new: FeatureStats) -> Standardiser:
        # A feature constant in the reference is scaled by the new sample's
        # spread (1 when it has none: constant in both at different values).
        scale = np.where(ref.sd > 0, ref.sd, new.sd)
        return cls(ref.mean, np.where(scale > 0, scale, 1.0))

    def apply(self, X: np.ndarray) -> np.ndarray:
        with np.errstate(over="ignore", invalid="ignore"):
            Z = (X - self.centre) / self.scale
        return Z


@dataclass
class Prepared:
    """The two samples on their kept features, with what was found on the way.

    Attributes
    ----------
    ref, new : Sample
        On the kept features.
    keep : ndarray of int
        Indices of the kept features among the ``d_all`` input features.
    d_all : int
    names : ndarray of str or None
    notes : list of str
    evident : bool
        Drift beyond doubt already (a constant that moved, a shift beyond
        float64 resolution).
    """

    ref: Sample
    new: Sample
    keep: np.ndarray
    d_all: int
    names: object = None
    notes: list = field(default_factory=list)
    evident: bool = False

    @property
    def dropped(self) -> tuple:
        return tuple(int(j) for j in np.setdiff1d(np.arange(self.d_all), self.keep))

    @property
    def d(self) -> int:
        return int(self.keep.size)


def _constant_features(ref: FeatureStats, new: FeatureStats, names, stacklevel):
    """Features to keep, notes on constant features, and how many moved."""
    const_r, const_n = ref.lo == ref.hi, new.lo == new.hi
    same = const_r & const_n & (ref.lo == new.lo)
    changed = const_r & const_n & (ref.lo != new.lo)
    notes = []
    if np.any(same):
        labels = ", ".join(feature_label(j, names) for j in np.flatnonzero(same))
        msg = (
            f"dropped {labels}: constant with the same value in both samples "
            "(no evidence either way)."
        )
        warnings.warn(msg, UserWarning, stacklevel=stacklevel)
        notes.append(msg)
    for j in np.flatnonzero(changed):
        notes.append(
            f"{feature_label(j, names)} is constant in each sample but its "
            f"value changed from {ref.lo[j]:g} to {new.lo[j]:g}: drift."
        )
    return np.flatnonzero(~same), notes, int(changed.sum())


def _resolution_notes(ref: FeatureStats, new: FeatureStats, keep, names):
    """Notes naming features whose means differ beyond float64 moment sums."""
    within = np.maximum(ref.sd, new.sd)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.abs(ref.mean - new.mean) / within
    bad = np.flatnonzero((within > 0) & (ratio > _RESOLUTION_SD))
    if bad.size == 0:
        return []
    labels = ", ".join(feature_label(int(keep[j]), names) for j in bad)
    return [
        f"{labels}: the two samples' means are more than {_RESOLUTION_SD:.0e} "
        "within-sample standard deviations apart, beyond what float64 moment "
        "sums resolve; such a shift is drift beyond doubt. If it is "
        "unexpected, check the features' units and encodings (a unit change, "
        "a sentinel value such as 1e9)."
    ]


def prepare(ref: Sample, new: Sample, names=None, stacklevel: int = 2) -> Prepared:
    """Drop uninformative features and note what float64 cannot resolve."""
    d_all = ref.stats.lo.size
    keep, notes, n_changed = _constant_features(
        ref.stats, new.stats, names, stacklevel + 1
    )  # one frame deeper than this function
    ref_k, new_k = ref.subset(keep), new.subset(keep)
    beyond = _resolution_notes(ref_k.stats, new_k.stats, keep, names)
    return Prepared(
        ref_k, new_k, keep, d_all, names, notes + beyond, bool(beyond) or n_changed > 0
    )
