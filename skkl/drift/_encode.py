"""The encoding of a table into the numeric features of the drift test.

The moment test compares first and second moments, so each column of a table
(:mod:`._table`) becomes features whose moments say what changed:

- a *numeric* column is its values, each missing cell filled with the
  column's observed mean, plus a *missingness indicator* (1 where the cell is
  missing). The value's mean then moves with the observed mean, the
  indicator's mean is the missing rate, and their cross moment keeps the two
  apart;
- a *categorical* column is one indicator per level (missing cells are a
  level of their own), except its most frequent level, the *baseline*: the
  indicators' means are the level frequencies, their cross moments with
  other columns the level x numeric means (a shift of a numeric column within
  one level) and level x level co-occurrences. Dropping the baseline leaves a
  block that is not collinear by construction.

Rare levels are pooled. An indicator needs at least :data:`MIN_LEVEL_ROWS`
rows of the *smaller* sample to carry it when nothing drifted, i.e. at least
``MIN_LEVEL_ROWS * N / n_min`` rows of the pooled sample (``N`` rows in all,
``n_min`` in the smaller sample): 20 pooled rows for two equal samples.
Levels below that are pooled into one ``(other)`` level, an indicator of its
own when it reaches the same count (else its rows count as the baseline);
a column keeps at most :data:`MAX_LEVELS` indicators (its most frequent
levels). A missingness indicator needs the same count of missing *and* of
observed cells. Why: an indicator carried by a handful of rows is constant in
one sample of most splits, and its fourth moment (kurtosis ~ 1 / frequency)
decides whether the asymptotic test is calibrated (at least 8 times the
kurtosis in rows per sample, :mod:`._asymptotic`): ten expected rows per
sample meet it.

Which sample decides (``basis``):

- ``'pooled'`` (every in-memory test): the levels, the baseline, the pooling
  and the fill values are functions of the pooled sample (the union of both
  samples, not which row came from which), so every permuted split sees the
  same features and the permutation test stays exact. A level new in the
  tested sample is an indicator whose reference frequency is 0, when it is
  frequent enough; a change of the missing rate is a change of an
  indicator's mean.
- ``'reference'`` (a reference summarised before the data to test exist:
  dask input, online monitoring): the same rules on the reference alone
  (with the count of a test of two samples of its size, ``2 *
  MIN_LEVEL_ROWS``), plus a *latent* missingness indicator for every numeric
  column and a latent ``(other)`` for every categorical one, so that rows the
  reference lacks (missing cells, unseen levels) have a feature.
  :meth:`TableEncoding.support` says which latent features have enough rows
  -- in the reference alone, or in both samples together once the tested
  sample's summary is known -- and :meth:`TableEncoding.restricted` drops
  the others (an unsupported ``(other)`` reads as the baseline, an
  unsupported indicator leaves the filled value).

Everything here is a function of mergeable per-column summaries
(:class:`ColumnSummary`: counts per level, missing counts, observed mean and
spread), so a dask collection is summarised blockwise in one pass, and the
fitted :class:`TableEncoding` is a per-block function.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from .._errors import InputError
from ._sums import chan_merge
from ._table import Column, Table, read_table

__all__ = [
    "MAX_LEVELS",
    "MIN_LEVEL_ROWS",
    "MISSING",
    "ColumnCode",
    "ColumnSummary",
    "TableEncoding",
    "level_threshold",
    "merge_summaries",
    "reference_encoding",
    "summarise",
]

#: Rows of the smaller sample that must carry an indicator when nothing
#: drifted (see the module docstring): the asymptotic test's kurtosis rule
#: needs 8 per sample; 10 leaves a margin, and makes 20 pooled rows for two
#: equal samples -- the effect's own variance floor (``EFFECT_MIN_ROWS``).
MIN_LEVEL_ROWS = 10
#: Indicators per categorical column, at most (the most frequent levels; the
#: rest is ``(other)``). Second moments grow as the square of the features:
#: 30 indicators per column keep a table with a few such columns within the
#: moment engine's budget at thousands of rows.
MAX_LEVELS = 30


class _Missing:
    """The level of a missing cell (one object, equal only to itself)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __str__(self) -> str:
        return "(missing)"

    def __reduce__(self):
        return (_Missing, ())


#: The level of missing cells in a categorical column's summary and code.
MISSING = _Missing()
_OTHER = "(other)"


def _sort_key(label, count):
    # A function of the label and its pooled count only (not of row order):
    # the same encoding for every split of the pooled sample.
    return (-count, str(label), type(label).__name__)


# -- mergeable per-column summaries ---------------------------------------------


@dataclass(frozen=True)
class ColumnSummary:
    """Mergeable summary of one column of one sample (rows with positive weight).

    Attributes
    ----------
    kind : {'numeric', 'categorical'}
    rows, weight : int, float
        Rows and their total weight.
    missing_rows, missing_weight : int, float
        Missing cells and their weight.
    mean, m2 : float
        Weighted mean and centred sum of squares of the observed values
        ('numeric'; nan and 0 without an observed value).
    labels : tuple
        The levels seen ('categorical'; :data:`MISSING` for missing cells).
    counts, weights : ndarray
        Rows and weight per label.
    """

    kind: str
    rows: int
    weight: float
    missing_rows: int = 0
    missing_weight: float = 0.0
    mean: float = float("nan")
    m2: float = 0.0
    labels: tuple = ()
    counts: np.ndarray = field(default_factory=lambda: np.zeros(0))
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))

    @property
    def observed_rows(self) -> int:
        return self.rows - self.missing_rows

    @property
    def observed_weight(self) -> float:
        return self.weight - self.missing_weight

    @property
    def sd(self) -> float:
        """Weighted (maximum-likelihood) sd of the observed values."""
        w = self.observed_weight
        return float(np.sqrt(self.m2 / w)) if w > 0 else float("nan")

    def count_of(self, label) -> int:
        try:
            return int(self.counts[self.labels.index(label)])
        except ValueError:
            return 0


def _summarise_column(col: Column, w) -> ColumnSummary:
    n = col.values.shape[0]
    W = float(n if w is None else w.sum())
    miss = col.missing
    w_miss = float(miss.sum() if w is None else w[miss].sum())
    if col.kind == "numeric":
        obs = col.values[~miss]
        wo = np.ones(obs.size) if w is None else w[~miss]
        Wo = float(wo.sum())
        mean = float(wo @ obs / Wo) if Wo > 0 else float("nan")
        m2 = float(wo @ np.square(obs - mean)) if Wo > 0 else 0.0
        return ColumnSummary("numeric", n, W, int(miss.sum()), w_miss, mean, m2)
    L = len(col.levels)
    codes = np.where(miss, L, col.values)
    counts = np.bincount(codes, minlength=L + 1).astype(np.float64)
    weights = counts if w is None else np.bincount(codes, w, minlength=L + 1)
    present = np.flatnonzero(counts > 0)
    labels = tuple(col.levels[k] if k < L else MISSING for k in present)
    return ColumnSummary(
        "categorical", n, W, int(miss.sum()), w_miss, labels=labels,
        counts=counts[present], weights=np.asarray(weights, float)[present],
    )  # fmt: skip


def summarise(table: Table, w=None) -> tuple:
    """:class:`ColumnSummary` of every column (``w``: row weights, all positive)."""
    return tuple(_summarise_column(c, w) for c in table.columns)


def _merge_column(a: ColumnSummary, b: ColumnSummary) -> ColumnSummary:
    rows, weight = a.rows + b.rows, a.weight + b.weight
    miss_r = a.missing_rows + b.missing_rows
    miss_w = a.missing_weight + b.missing_weight
    if a.kind == "numeric":
        wa, wb = a.observed_weight, b.observed_weight
        if wa <= 0 or wb <= 0:
            src = a if wb <= 0 else b
            mean, m2 = src.mean, src.m2
        else:
            _, mean, m2, _ = chan_merge(wa, a.mean, a.m2, wb, b.mean, b.m2)
        return ColumnSummary("numeric", rows, weight, miss_r, miss_w, mean, m2)
    index = {label: k for k, label in enumerate(a.labels)}
    labels = list(a.labels)
    for label in b.labels:
        if label not in index:
            index[label] = len(labels)
            labels.append(label)
    counts, weights = np.zeros(len(labels)), np.zeros(len(labels))
    for s in (a, b):
        at = [index[label] for label in s.labels]
        counts[at] += s.counts
        weights[at] += s.weights
    return ColumnSummary(
        "categorical", rows, weight, miss_r, miss_w, labels=tuple(labels),
        counts=counts, weights=weights,
    )  # fmt: skip


def merge_summaries(a: tuple, b: tuple) -> tuple:
    """The summaries of the union of two samples' rows (any merge order)."""
    return tuple(_merge_column(x, y) for x, y in zip(a, b, strict=True))


# -- the rule ----------------------------------------------------------------------


def _threshold(s_ref, s_new) -> float:
    return level_threshold(s_ref[0].rows if s_ref else 0, s_new[0].rows if s_new else 0)


def level_threshold(n_ref: int, n_new: int | None = None) -> float:
    """Pooled rows an indicator needs (see the module docstring).

    ``MIN_LEVEL_ROWS * N / n_min`` for samples of ``n_ref`` and ``n_new``
    rows; ``2 * MIN_LEVEL_ROWS`` of the reference alone (``n_new=None``).
    """
    if n_new is None:
        return 2.0 * MIN_LEVEL_ROWS
    return MIN_LEVEL_ROWS * (n_ref + n_new) / max(1, min(n_ref, n_new))


@dataclass(frozen=True)
class ColumnCode:
    """How one column becomes features (see the module docstring).

    Attributes
    ----------
    name : str
    kind : {'numeric', 'categorical'}
    value : bool
        'numeric': whether the value is a feature (it has observed cells).
    fill : float
        'numeric': the value of a missing cell (the observed mean).
    indicator : bool
        'numeric': whether a missingness indicator is a feature.
    levels : tuple
        'categorical': the levels with an indicator, in feature order.
    baseline : object
        'categorical': the level without an indicator (the most frequent).
    pooled : tuple
        'categorical': the levels pooled into ``(other)``.
    other : bool
        'categorical': whether ``(other)`` is a feature (else the pooled and
        unseen levels read as the baseline).
    """

    name: str
    kind: str
    value: bool = False
    fill: float = 0.0
    indicator: bool = False
    levels: tuple = ()
    baseline: object = None
    pooled: tuple = ()
    other: bool = False

    @property
    def feature_names(self) -> list:
        if self.kind == "numeric":
            missing = [f"{self.name} (missing)"] * self.indicator
            return [self.name] * self.value + missing
        names = [f"{self.name}={level}" for level in self.levels]
        return names + [f"{self.name}={_OTHER}"] * self.other

    @property
    def n_features(self) -> int:
        return len(self.feature_names)

    def encode(self, col: Column, out: np.ndarray) -> None:
        """Write this column's features of ``col`` into ``out`` (n, n_features)."""
        if self.kind == "numeric":
            miss = col.missing
            k = 0
            if self.value:
                out[:, 0] = np.where(miss, self.fill, col.values)
                k = 1
            if self.indicator:
                out[:, k] = miss
            return
        slot = {level: k for k, level in enumerate(self.levels)}
        rest = len(self.levels) if self.other else -1
        lookup = np.array(
            [slot.get(level, -1 if level == self.baseline else rest)
             for level in (*col.levels, MISSING)],
            dtype=np.intp,
        )  # fmt: skip
        # A code of -1 (missing) reads the last entry.
        where = lookup[col.values]
        rows = np.flatnonzero(where >= 0)
        out[rows, where[rows]] = 1.0


def _numeric_code(name, s: ColumnSummary, threshold, latent=False) -> ColumnCode:
    observed = s.observed_rows
    return ColumnCode(
        name,
        "numeric",
        value=observed > 0,
        fill=float(s.mean) if observed > 0 else 0.0,
        indicator=latent or min(s.missing_rows, observed) >= threshold,
    )


def _categorical_code(name, s: ColumnSummary, threshold, latent=False) -> ColumnCode:
    order = sorted(
        range(len(s.labels)), key=lambda k: _sort_key(s.labels[k], s.counts[k])
    )
    if not order:
        return ColumnCode(name, "categorical")
    rest = order[1:]
    kept = [k for k in rest if s.counts[k] >= threshold][:MAX_LEVELS]
    pooled = [k for k in rest if k not in set(kept)]
    return ColumnCode(
        name,
        "categorical",
        levels=tuple(s.labels[k] for k in kept),
        baseline=s.labels[order[0]],
        pooled=tuple(s.labels[k] for k in pooled),
        other=latent or (bool(pooled) and float(s.counts[pooled].sum()) >= threshold),
    )


def _support(code: ColumnCode, s: ColumnSummary, threshold: float) -> list:
    """Which of a column's features have enough rows in the summary ``s``.

    Only the missingness indicator and ``(other)`` can lack them (they are
    latent in a 'reference' encoding); the other features were chosen so.
    """
    if code.kind == "numeric":
        rows = min(s.missing_rows, s.observed_rows)
        return [True] * code.value + [rows >= threshold] * code.indicator
    if not code.other:
        return [True] * len(code.levels)
    named = s.count_of(code.baseline) + sum(s.count_of(lv) for lv in code.levels)
    return [True] * len(code.levels) + [s.rows - named >= threshold]


@dataclass(frozen=True)
class TableEncoding:
    """A fitted encoding of a table's columns (see the module docstring).

    Build it with :meth:`fit`; :meth:`transform` maps a :class:`Table` of the
    same columns (a sample, a dask block, a batch of a stream) to features.

    Attributes
    ----------
    columns : tuple of ColumnCode
    schema : tuple
        The :attr:`Table.schema` that tables to transform must have.
    basis : {'pooled', 'reference'}
    threshold : float
        Pooled rows an indicator needed (:func:`level_threshold`).
    named : bool
        Whether the columns had names of their own.
    """

    columns: tuple
    schema: tuple
    basis: str
    threshold: float
    named: bool = True

    @classmethod
    def fit(cls, ref: Table, new: Table | None = None, w_ref=None) -> TableEncoding:
        """The encoding of ``ref`` and ``new`` ('pooled'), or of ``ref`` alone.

        ``w_ref`` are the reference rows' weights (all positive).
        """
        s_ref = summarise(ref, w_ref)
        s_new = None if new is None else summarise(new)
        return cls.from_summaries(ref, s_ref, s_new)

    @classmethod
    def from_summaries(cls, table: Table, s_ref, s_new=None) -> TableEncoding:
        """The encoding from :func:`summarise` of each sample (``table``: names)."""
        if s_new is None:
            pooled, basis = s_ref, "reference"
            threshold = level_threshold(s_ref[0].rows if s_ref else 0)
        else:
            pooled, basis = merge_summaries(s_ref, s_new), "pooled"
            threshold = _threshold(s_ref, s_new)
        latent = basis == "reference"
        codes = tuple(
            (_numeric_code if s.kind == "numeric" else _categorical_code)(
                c.name, s, threshold, latent
            )
            for c, s in zip(table.columns, pooled, strict=True)
        )
        return cls(codes, table.schema, basis, threshold, table.named)

    def support(self, s_ref, s_new=None) -> np.ndarray:
        """Mask of the features with enough rows (the latent ones may lack them).

        A 'reference' encoding gives every numeric column a missingness
        indicator and every categorical column an ``(other)`` feature, so
        that rows the reference lacks (missing cells, unseen levels) have a
        feature; each is used only when the reference (``s_new=None``) or
        both samples together carry it in enough rows.
        """
        if s_new is None:
            summary, threshold = s_ref, self.threshold
        else:
            summary, threshold = merge_summaries(s_ref, s_new), _threshold(s_ref, s_new)
        return np.array(
            [
                keep
                for code, s in zip(self.columns, summary, strict=True)
                for keep in _support(code, s, threshold)
            ],
            dtype=bool,
        )

    def restricted(self, mask) -> TableEncoding:
        """The encoding without the features ``~mask`` (latent ones only).

        Its :meth:`transform` is ``self.transform(table)[:, mask]``: a dropped
        ``(other)`` leaves its rows at the baseline, a dropped indicator
        leaves the filled value alone.
        """
        mask = np.asarray(mask, dtype=bool)
        codes, k = [], 0
        for code in self.columns:
            m = code.n_features
            if code.kind == "numeric" and code.indicator:
                code = replace(code, indicator=bool(mask[k + m - 1]))
            elif code.kind == "categorical" and code.other:
                code = replace(code, other=bool(mask[k + m - 1]))
            codes.append(code)
            k += m
        out = replace(self, columns=tuple(codes))
        if out.n_features != int(mask.sum()):
            raise ValueError(
                "only latent features (indicators, '(other)') can be dropped."
            )
        return out

    @property
    def feature_names(self) -> np.ndarray:
        """Names of the features, column by column."""
        return np.array(
            [n for c in self.columns for n in c.feature_names], dtype=object
        )

    @property
    def column_of(self) -> np.ndarray:
        """Index of the column of each feature."""
        return np.repeat(
            np.arange(len(self.columns)), [c.n_features for c in self.columns]
        ).astype(np.intp)

    @property
    def n_features(self) -> int:
        return sum(c.n_features for c in self.columns)

    def transform(self, table: Table) -> np.ndarray:
        """The features of ``table``'s rows, shape (n_rows, n_features), float64."""
        if table.schema != self.schema:
            raise InputError(
                "{argument}'s columns are not of the fitted kinds ({got} vs {want}).",
                argument="X",
                got=table.schema,
                want=self.schema,
            )
        out = np.zeros((table.n_rows, self.n_features))
        k = 0
        for code, col in zip(self.columns, table.columns, strict=True):
            m = code.n_features
            if m:
                code.encode(col, out[:, k : k + m])
            k += m
        return out

    def encode(self, X, name: str = "X") -> np.ndarray:
        """Read raw input ``X`` (DataFrame or array) and :meth:`transform` it."""
        return self.transform(read_table(X, name, schema=self.schema))


def reference_encoding(X_ref, w_ref=None, name: str = "X_ref") -> TableEncoding:
    """The encoding of a table fixed from a reference alone (online monitoring).

    The reference is read (:func:`~._table.read_table`), encoded on the
    'reference' basis, and restricted to the features it carries in enough
    rows: a fixed map from rows to features, ``encoding.encode(X)`` for any
    later batch (an unseen level reads as ``(other)`` or the baseline, a
    missing cell as the fill value). ``encoding.feature_names`` names the
    features and ``encoding.column_of`` their columns.

    Examples
    --------
    >>> import pandas as pd
    >>> from skkl.drift._encode import reference_encoding
    >>> ref = pd.DataFrame({"c": ["a"] * 60 + ["b"] * 40, "x": [1.0, 3.0] * 50})
    >>> enc = reference_encoding(ref)
    >>> enc.feature_names.tolist()
    ['c=b', 'x']
    >>> enc.encode(pd.DataFrame({"c": ["b", "new"], "x": [None, 5.0]}))
    array([[1., 2.],
           [0., 5.]])
    """
    table = read_table(X_ref, name)
    encoding = TableEncoding.fit(table, w_ref=w_ref)
    return encoding.restricted(encoding.support(summarise(table, w_ref)))
