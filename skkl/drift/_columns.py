"""A drift test of two tables, answered per original column.

:class:`TableTest` is the table path of one test: it summarises both tables
(:func:`~._encode.summarise`), fits the pooled :class:`~._encode.TableEncoding`,
hands the encoded samples to the pipeline, and, after the engine's parts are
combined, turns the per-feature answer back into one per column
(:meth:`TableTest.attribute`):

- a column's p-value is the permutation p-value of the smallest partial
  p-value among its features' univariate statistics (min-p over the same
  permutations: exact, and never less powerful than Bonferroni over the
  column's features), or, from the asymptotic engine, Bonferroni over its
  features; then Holm across columns, as for numeric features;
- a column's score is the effect (:mod:`._effect`, the same definition)
  of its features alone: for a categorical column, about half the
  chi-square distance between its level frequencies (the symmetric KL of the
  two categorical distributions, to second order); for a numeric column with
  missing cells, the value and the missing rate together. A sum of
  univariate effects would count a categorical column's levels as
  independent features, which they are not (their frequencies sum to 1);
- the encoded detail stays available (:class:`EncodedFeatures`), and the
  result carries each column's missing rates, level frequencies, levels new
  in the tested sample, and the numeric columns' means and spreads.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from .._blas import blas_single_thread
from ._combine import partial_log_p_values
from ._encode import MISSING, TableEncoding, summarise
from ._engines import SplitSampler
from ._marginal import (
    asymptotic_p_values,
    column_p_values,
    marginal_combination,
    permutation_statistics,
    sums_p_values,
    table_units,
    unit_features,
)
from ._prepare import Sample, Standardiser

__all__ = ["EncodedFeatures", "TableTest", "report_fields", "test_tables"]

#: Levels named one by one in a note, at most.
_NAMED_LEVELS = 5


@dataclass(frozen=True)
class EncodedFeatures:
    """The encoded features behind a table's per-column result.

    Attributes
    ----------
    names : ndarray of str
        ``'age'``, ``'age (missing)'``, ``'city=Paris'``, ``'city=(other)'``.
    column : ndarray of int
        Index of each feature's column.
    feature_scores, feature_p_values : ndarray
        As :class:`DriftResult` defines them, per encoded feature.
    dropped_features, floored_features : tuple of int
        Encoded features dropped as constant, and those whose variance is
        carried by few rows.
    """

    names: np.ndarray
    column: np.ndarray
    feature_scores: np.ndarray
    feature_p_values: np.ndarray
    dropped_features: tuple = ()
    floored_features: tuple = ()


def _pooled_rows(prep):
    """The kept features of both samples, standardised by the pooled sample."""
    X = np.vstack([prep.ref.X, prep.new.X])
    w = np.concatenate([prep.ref.weights, np.ones(prep.new.X.shape[0])])
    Z = Standardiser.pooled(prep.ref.stats, prep.new.stats).apply(X)
    return Z, w, prep.ref.X.shape[0]


def _column_effects(Z, w, n1, cols, n_columns, settings) -> np.ndarray:
    """The effect of each column's tested features alone (0 when none).

    ``cols`` is the column of each tested feature (a column of ``Z``).
    """
    from ._effect import metric_from_rows
    from ._permutation import MomentSpec, _effect_columns, effect_of_splits, split_sums

    scores = np.zeros(n_columns)
    observed = np.zeros((1, Z.shape[0]), dtype=bool)
    observed[0, :n1] = True
    full = settings.covariance_type == "full"
    for c in np.unique(cols):
        Zc = Z[:, cols == c]
        metric, _ = metric_from_rows(Zc, w, full, settings.shrinkage)
        spec = MomentSpec(Zc.shape[1], settings.covariance_type)
        extra = _effect_columns(Zc, w, metric)
        S1, total = split_sums(Zc, w, observed, spec, extra)
        scores[c] = float(effect_of_splits(S1, total, spec, metric)[0])
    return scores


def _moment_sums(prep, settings):
    """Both samples' moment sums in the reference's coordinates (asymptotic engine)."""
    from ._asymptotic import _sample_sums

    std = Standardiser.reference(prep.ref.stats, prep.new.stats)
    args = (std, settings.covariance_type, prep.keep, settings.n_jobs)
    return _sample_sums(prep.ref, *args), _sample_sums(prep.new, *args)


def _column_effects_from_sums(ref_s, new_s, prep, cols, n_columns) -> np.ndarray:
    """:func:`_column_effects` from moment sums (the asymptotic engine's path)."""
    from ._effect import EffectMetric, effect_from_moment_sums

    scores = np.zeros(n_columns)
    ratio = (prep.ref.w2_ratio, prep.new.w2_ratio)
    for c in np.unique(cols):
        idx = np.flatnonzero(cols == c)
        r, n = ref_s.subset(idx), new_s.subset(idx)
        with np.errstate(all="ignore"):
            metric = EffectMetric.from_sums(r.merge(n))
            # Uncentred, as the row path and the features' scores of arrays.
            scores[c] = effect_from_moment_sums(r, n, metric, ratio).uncentred
    return scores


def _frequencies(code, s_ref, s_new) -> dict:
    """``{level: (reference, current)}``: the encoded levels, new levels, (other)."""
    named = [code.baseline, *code.levels]
    named += [lv for lv in s_new.labels if s_ref.count_of(lv) == 0]
    named = [lv for lv in dict.fromkeys(named) if lv is not MISSING]
    out = {}
    for lv in named:
        out[lv] = (_share(s_ref, lv), _share(s_new, lv))
    labels = dict.fromkeys((*s_ref.labels, *s_new.labels))
    rest = [lv for lv in labels if lv not in out and lv is not MISSING]
    if rest:
        out["(other)"] = tuple(
            float(sum(_share(s, lv) for lv in rest)) for s in (s_ref, s_new)
        )
    return out


def _share(s, level) -> float:
    if s.weight <= 0 or level not in s.labels:
        return 0.0
    return float(s.weights[s.labels.index(level)] / s.weight)


def report_fields(encoding: TableEncoding, s_ref, s_new) -> dict:
    """The per-column fields of a table's :class:`DriftResult` (see the module)."""

    def per(f):
        return np.array([f(s) for s in s_ref]), np.array([f(s) for s in s_new])

    def numeric(attr):
        return lambda s: getattr(s, attr) if s.kind == "numeric" else np.nan

    ref_miss, cur_miss = per(lambda s: s.missing_weight / s.weight if s.weight else 0.0)
    ref_mean, cur_mean = per(numeric("mean"))
    ref_sd, cur_sd = per(numeric("sd"))
    categories, new_levels = {}, {}
    for code, a, b in zip(encoding.columns, s_ref, s_new, strict=True):
        if code.kind != "categorical":
            continue
        categories[code.name] = _frequencies(code, a, b)
        fresh = tuple(
            lv for lv in b.labels if lv is not MISSING and a.count_of(lv) == 0
        )
        if fresh:
            new_levels[code.name] = fresh
    return dict(
        reference_missing_rate=ref_miss,
        current_missing_rate=cur_miss,
        reference_mean=ref_mean,
        reference_sd=ref_sd,
        current_mean=cur_mean,
        current_sd=cur_sd,
        category_frequencies=categories,
        new_levels=new_levels,
    )


def _notes(encoding, s_new, new_levels, untested) -> list:
    notes = []
    threshold = f"{encoding.threshold:.0f}"
    for code in encoding.columns:
        if code.kind != "categorical" or not code.pooled:
            continue
        where = (
            "pooled into '(other)'"
            if code.other
            else f"read as its most frequent level {str(code.baseline)!r}"
        )
        notes.append(
            f"column {code.name!r}: {len(code.pooled)} level(s) with fewer than "
            f"{threshold} rows in both samples together {where}."
        )
    by_name = {c.name: s for c, s in zip(encoding.columns, s_new, strict=True)}
    for name, levels in new_levels.items():
        shown = ", ".join(
            f"{str(lv)!r} ({100 * _share(by_name[name], lv):.2g}% of rows)"
            for lv in levels[:_NAMED_LEVELS]
        )
        extra = len(levels) - _NAMED_LEVELS
        more = f" and {extra} more" if extra > 0 else ""
        notes.append(f"column {name!r} has levels not in the reference: {shown}{more}.")
    for c in untested:
        code = encoding.columns[c]
        if code.n_features and code.kind == "numeric":
            why = "its value is the same in every row of both samples"
        elif code.n_features:
            why = "its levels' indicators are constant in both samples"
        elif code.kind == "numeric":
            why = "it has no observed value"
        else:
            why = (
                f"no level but {str(code.baseline)!r} has {threshold} rows in "
                "both samples together"
            )
        notes.append(f"column {code.name!r} was not tested: {why}.")
    return notes


class TableTest:
    """One drift test of two tables (see the module docstring).

    Parameters
    ----------
    ref, new : Table
        The reference (rows with positive weight) and the tested sample.
    w_ref : ndarray or None
        The reference rows' weights (rescaled to mean 1), None for all 1.
    """

    def __init__(self, encoding, s_ref, s_new, ref=None, new=None, w_ref=None):
        self.encoding, self.s_ref, self.s_new = encoding, s_ref, s_new
        self.ref, self.new, self.w_ref = ref, new, w_ref

    @classmethod
    def pooled(cls, ref, new, w_ref=None) -> TableTest:
        """The test of two in-memory tables, with their pooled encoding."""
        s_ref, s_new = summarise(ref, w_ref), summarise(new)
        encoding = TableEncoding.from_summaries(ref, s_ref, s_new)
        return cls(encoding, s_ref, s_new, ref, new, w_ref)

    @property
    def feature_names(self) -> np.ndarray:
        """Names of the encoded features (the pipeline's feature names)."""
        return self.encoding.feature_names

    def samples(self) -> tuple:
        """The encoded reference and tested samples (in-memory tables)."""
        enc = self.encoding
        return (
            Sample.from_rows(enc.transform(self.ref), self.w_ref),
            Sample.from_rows(enc.transform(self.new)),
        )

    def _evidence(self, prep, out, settings, seed, units):
        """Unit statistics (or p-values) and column scores, from rows or sums."""
        m = len(self.encoding.columns)
        cols = self.encoding.column_of[prep.keep]
        if not (prep.ref.has_rows and prep.new.has_rows):
            ref_s, new_s = _moment_sums(prep, settings)
            scores = _column_effects_from_sums(ref_s, new_s, prep, cols, m)
            return dict(unit_p=sums_p_values(ref_s, new_s, units)), scores
        Z, w, n1 = _pooled_rows(prep)
        uf = unit_features(Z, w, units)
        with blas_single_thread():  # a few small blocks
            scores = _column_effects(Z, w, n1, cols, m, settings)
        if out.values is not None and out.beyond_resolution is None:
            sampler = SplitSampler(Z.shape[0], n1, settings.n_permutations, seed)
            return dict(unit_values=permutation_statistics(uf, sampler, w)), scores
        return dict(unit_p=asymptotic_p_values(uf, n1, w)), scores

    def _combined(self, result, out, settings, units, evidence) -> dict:
        """The table's 'combined' statistic (the marginal part added), if it applies."""
        resolved = out.beyond_resolution is None
        if settings.statistic != "combined" or not resolved or not units:
            return {}
        stat, p, crit, null = marginal_combination(
            out, out.part_weights["combined"], settings.alpha, **evidence
        )
        big = settings.min_effect is None or result.effect >= settings.min_effect
        return dict(
            statistic=stat,
            p_value=p,
            critical_value=crit,
            null_distribution=null,
            is_drift=bool(p < settings.alpha and big),
        )

    def attribute(self, result, prep, out, settings, seed=0):
        """The per-column :class:`DriftResult` of the encoded one.

        ``out`` is the engine's :class:`~._engines.EngineResult` (None when
        every feature was constant) and ``seed`` the seed of its splits.
        """
        enc = self.encoding
        column_of, m = enc.column_of, len(enc.columns)
        p, scores, combined = np.ones(m), np.zeros(m), {}
        if out is not None:
            units = table_units(enc, prep.keep)
            evidence, scores = self._evidence(prep, out, settings, seed, units)
            if "unit_values" in evidence:
                logp = partial_log_p_values(evidence["unit_values"])
                p = column_p_values(units, None, m, logp)
            else:
                p = column_p_values(units, evidence["unit_p"], m)
            combined = self._combined(result, out, settings, units, evidence)
        tested = np.zeros(m, dtype=bool)
        tested[column_of[prep.keep]] = True
        floored = sorted({int(column_of[j]) for j in result.floored_features})
        encoded = EncodedFeatures(
            enc.feature_names.astype(str),
            column_of,
            result.feature_scores,
            result.feature_p_values,
            result.dropped_features,
            result.floored_features,
        )
        fields = report_fields(enc, self.s_ref, self.s_new)
        untested = np.flatnonzero(~tested)
        notes = _notes(enc, self.s_new, fields["new_levels"], untested)
        names = np.array([c.name for c in enc.columns], dtype=object)
        return replace(
            result,
            feature_scores=scores,
            feature_p_values=p,
            feature_names=names if enc.named else None,
            dropped_features=tuple(int(c) for c in untested),
            floored_features=tuple(floored),
            notes=tuple(result.notes) + tuple(notes),
            encoded=encoded,
            **combined,
            **fields,
        )


def test_tables(settings, ref, new, w_ref=None, **kwargs):
    """The drift test of two in-memory tables, answered per column.

    ``kwargs`` go to :func:`~._pipeline.run_test` (seed, window, label,
    stacklevel: one frame more than this function's caller needs).
    """
    from ._pipeline import run_test

    table_test = TableTest.pooled(ref, new, w_ref)
    ref_sample, new_sample = table_test.samples()
    kwargs["stacklevel"] = kwargs.get("stacklevel", 2) + 1
    return run_test(
        settings,
        ref_sample,
        new_sample,
        names=table_test.feature_names,
        columns=table_test,
        **kwargs,
    )
