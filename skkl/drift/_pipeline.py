"""One drift test: validate -> prepare -> engine -> combine -> effect -> result.

:func:`run_test` is the whole path of one test; the detector (``_detector``)
only validates its parameters and input and hands the samples over. Data
cross each step once: :func:`~._prepare.prepare` drops uninformative
features and notes what float64 cannot resolve, :func:`~._engines.plan_engines`
predicts every engine's cost before anything is allocated and orders them,
the first engine that does not decline answers with an
:class:`~._engines.EngineResult` (its part statistics and the effect from its
own sums), :func:`~._combine.combine` turns the parts into one p-value, and
:func:`build_result` assembles the :class:`~._result.DriftResult`.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np

from .._errors import InputError, Setting
from ._combine import combine
from ._engines import (
    EngineDeclined,
    Problem,
    Sizes,
    min_permutations,
    permutations_text,
    plan_engines,
)
from ._prepare import Prepared, Sample, feature_label, prepare
from ._result import DriftResult

__all__ = ["Settings", "check_permutations", "normalise_weights", "run_test"]

#: Floored features named one by one in the notes, at most (then a count).
_NAMED_FLOORED = 5
# Near the threshold -log(alpha) (tens) the samples are small, lgamma's
# rounding there (~1e-13) stays far below this slack, and the exact count
# (math.comb) decides within it.
_LOG_SPLITS_SLACK = 1e-9


@dataclass(frozen=True)
class Settings:
    """The detector's parameters that a test reads."""

    alpha: float = 0.05
    method: str = "auto"
    n_permutations: int = 1000
    statistic: str = "combined"
    covariance_type: str = "full"
    shrinkage: object = None
    min_effect: float | None = None
    n_jobs: int | None = None


def check_permutations(alpha: float, n_permutations: int, method: str) -> None:
    """Error when ``n_permutations`` can never give a p-value below ``alpha``."""
    if method == "asymptotic":
        return
    need = min_permutations(alpha)
    if n_permutations < need:
        need_text = permutations_text(need)
        raise InputError(
            "{argument}={B} can never reject at {level}: the smallest "
            "permutation p-value is 1 / (n_permutations + 1). Use "
            "n_permutations >= {need} (1000 by default), a larger alpha, or "
            "{fix} (no permutations) for samples large enough for it.",
            argument="n_permutations",
            B=n_permutations,
            level=Setting("alpha", alpha),
            need=need_text,
            fix=Setting("method", "asymptotic"),
        )


def normalise_weights(w: np.ndarray, name: str = "sample_weight") -> np.ndarray:
    """Weights rescaled to mean 1 over the rows (a new array).

    Weights are relative: 1e308 or 1e-320 everywhere means the same as 1.
    Divided by their largest value first, so the sum cannot overflow and
    subnormal weights keep their ratios.
    """
    top = float(np.max(w)) if w.size else 0.0
    if not top > 0:
        raise InputError(
            "{argument} sums to zero; give some sample positive weight.",
            argument=name,
        )
    scaled = w / top
    return scaled * (scaled.size / scaled.sum())


def _check_rows(settings: Settings, prep: Prepared, label: str) -> None:
    n1, n2, d = prep.ref.stats.count, prep.new.stats.count, prep.d
    for n, name in ((n1, "X_ref"), (n2, label)):
        if n < 2:
            raise InputError(
                "{argument} has {n} row(s) with positive weight; a drift test "
                "needs at least 2 rows in each sample.",
                argument=name,
                n=n,
            )
    if settings.covariance_type == "full" and settings.shrinkage is None:
        for n, name in ((n1, "X_ref"), (n2, label)):
            if n < d + 1 and prep.ref.has_rows:
                raise InputError(
                    "{argument} has {n} rows but {ctype} without shrinkage "
                    "needs at least {need} rows per sample in {d} non-constant "
                    "features; use {fix1}, {fix2}, or more rows.",
                    argument=name,
                    n=n,
                    ctype=Setting("covariance_type", "full"),
                    need=d + 1,
                    d=d,
                    fix1=Setting("shrinkage", "ledoit_wolf"),
                    fix2=Setting("covariance_type", "diag"),
                )


def _check_permutation_memory(settings: Settings, d: int) -> None:
    """Error when the permutations' own statistics cannot be held at once."""
    from sklearn import get_config

    if settings.method == "asymptotic":
        return
    # Parts and per-feature statistics of every split, as float64.
    per_split = 8.0 * (8 + d)
    budget = get_config()["working_memory"] * 2.0**20
    B = settings.n_permutations
    if per_split * (B + 1) > budget:
        most = int(budget // per_split) - 1
        raise InputError(
            "{argument}={B} needs {gib:.3g} GiB for the permutations' statistics "
            "({d} features), over working_memory={wm} MiB; use at most {most} "
            "permutations, or {asym} for large samples.",
            argument="n_permutations",
            B=B,
            gib=per_split * (B + 1) / 2**30,
            d=d,
            wm=get_config()["working_memory"],
            most=most,
            asym=Setting("method", "asymptotic"),
        )


def _check_splits(settings: Settings, n1: int, n2: int) -> None:
    """Error when the samples have too few distinct splits for a p-value < alpha."""
    log_splits = math.lgamma(n1 + n2 + 1) - math.lgamma(n1 + 1) - math.lgamma(n2 + 1)
    if log_splits < -math.log(settings.alpha) + _LOG_SPLITS_SLACK:
        splits = math.comb(n1 + n2, n1)
        if splits * settings.alpha < 1.0:
            raise InputError(
                "{n1}+{n2} rows have only {splits} distinct splits, too few for "
                "a permutation p-value below {level}; use more rows.",
                n1=n1,
                n2=n2,
                splits=splits,
                level=Setting("alpha", settings.alpha),
            )


def _run_plan(plan, problem, notes, stacklevel):
    """The first engine of the plan that does not decline, and why it answered."""
    reason = plan.reason
    for k, engine in enumerate(plan.order):
        try:
            return engine.run(problem), reason
        except EngineDeclined as exc:
            if k + 1 == len(plan.order):
                raise InputError(
                    "the {name!r} engine cannot answer ({why}) and no other "
                    "engine can run on this data.",
                    name=engine.name,
                    why=exc.reason,
                ) from None
            nxt = plan.order[k + 1].name
            msg = (
                f"the {engine.name!r} engine cannot answer here ({exc.reason}); "
                f"used the {nxt!r} engine instead."
            )
            warnings.warn(msg, UserWarning, stacklevel=stacklevel)
            notes.append(msg)
            reason = f"fallback: {msg}"
    raise AssertionError("empty plan")  # plan_engines never returns one


def _floored_note(floored, keep, names) -> list:
    if floored.size == 0:
        return []
    labels = [feature_label(int(keep[j]), names) for j in floored[:_NAMED_FLOORED]]
    more = f" and {floored.size - _NAMED_FLOORED} more" if floored.size > 5 else ""
    return [
        f"{', '.join(labels)}{more}: variance carried by few rows (a sparse or "
        "very heavy-tailed feature); its weight in the effect and feature "
        "scores is capped by the effect's variance floor (still tested)."
    ]


def build_result(settings, prep, out, reason, notes, common) -> DriftResult:
    """The :class:`DriftResult` of an engine's output on the kept features."""
    comb = combine(out, settings.statistic, settings.alpha)
    keep, d_all = prep.keep, prep.d_all
    scores = np.zeros(d_all)
    scores[keep] = out.effect.feature_scores
    feature_p = np.ones(d_all)
    feature_p[keep] = comb.feature_p_values
    effect = float(out.effect.value)
    notes = notes + _floored_note(out.effect.floored, keep, prep.names)
    if out.beyond_resolution is not None:
        notes.append(out.beyond_resolution)
    if not np.isfinite(effect):
        effect = math.inf
        notes.append("the effect is beyond what float64 moment sums resolve.")
    significant = comb.p_value < settings.alpha
    big = settings.min_effect is None or effect >= settings.min_effect
    return DriftResult(
        statistic=float(comb.statistic),
        p_value=float(comb.p_value),
        is_drift=bool(significant and big),
        critical_value=float(comb.critical_value),
        effect=effect,
        effect_null_sd=float(out.effect.null_sd),
        feature_scores=scores,
        feature_p_values=feature_p,
        method=out.engine,
        method_reason=reason,
        null_distribution=comb.null_distribution,
        floored_features=tuple(int(keep[j]) for j in out.effect.floored),
        notes=tuple(notes),
        **common,
    )


def _all_constant(prep: Prepared, common) -> DriftResult:
    notes = prep.notes + [
        "every feature is constant with the same value in both samples: "
        "no evidence of drift."
    ]
    return DriftResult(
        statistic=0.0,
        p_value=1.0,
        is_drift=False,
        critical_value=math.inf,
        effect=0.0,
        effect_null_sd=0.0,
        feature_scores=np.zeros(prep.d_all),
        feature_p_values=np.ones(prep.d_all),
        method="none",
        method_reason="no feature varies",
        notes=tuple(notes),
        **common,
    )


def run_test(
    settings: Settings,
    ref: Sample,
    new: Sample,
    *,
    names=None,
    columns=None,
    seed: int = 0,
    window=None,
    label: str = "X",
    stacklevel: int = 2,
) -> DriftResult:
    """The drift test of ``new`` against ``ref`` (see the module docstring).

    ``stacklevel`` is what a ``warnings.warn`` call in this function would
    need to point at the user's line; ``label`` names the tested sample in
    errors (``'X'``, or ``'the window'`` of a scan). ``columns`` (a
    :class:`~._columns.TableTest`, for encoded tables) turns the result per
    feature into one per original column, after the combination.
    """
    prep = prepare(ref, new, names, stacklevel + 1)
    common = dict(
        n_ref=int(ref.stats.rows),
        n=int(new.stats.rows),
        alpha=settings.alpha,
        statistic_name=settings.statistic,
        feature_names=names,
        dropped_features=prep.dropped,
        reference_mean=ref.stats.mean,
        reference_sd=ref.stats.sd,
        current_mean=new.stats.mean,
        current_sd=new.stats.sd,
    )
    if window is not None:
        common.update(start=window[0], stop=window[1])
    if prep.d == 0:
        result = _all_constant(prep, common)
        if columns is not None:
            result = columns.attribute(result, prep, None, settings, seed)
        return result
    _check_rows(settings, prep, label)
    _check_permutation_memory(settings, prep.d)
    n1, n2 = int(prep.ref.stats.count), int(prep.new.stats.count)
    sizes = Sizes(
        n1,
        n2,
        prep.d,
        settings.covariance_type,
        settings.n_permutations,
        has_rows=ref.has_rows and new.has_rows,
        shrinkage=settings.shrinkage is not None,
    )
    plan = plan_engines(settings.method, sizes)
    if plan.order[0].exact:
        _check_splits(settings, n1, n2)
    notes = list(prep.notes)
    for msg in plan.warnings:
        warnings.warn(msg, UserWarning, stacklevel=stacklevel)
        notes.append(msg)
    problem = Problem(
        prep,
        settings.covariance_type,
        settings.shrinkage,
        settings.statistic,
        settings.n_permutations,
        seed,
        settings.n_jobs,
    )
    out, reason = _run_plan(plan, problem, notes, stacklevel + 1)
    result = build_result(settings, prep, out, reason, notes, common)
    if columns is not None:
        result = columns.attribute(result, prep, out, settings, seed)
    return result
