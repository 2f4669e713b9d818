"""The drift engines' registry, cost models, choice and guards (issue 20).

Every guard must answer before anything large is allocated: the tests that
feed real data time nothing, but use sizes whose allocation would be
impossible (tens of GiB) or take minutes, so a missing guard fails loudly.
"""

from __future__ import annotations

import dataclasses
import math
import time
import warnings

import numpy as np
import pytest
from sklearn import config_context

from skkl import GaussianDriftDetector
from skkl._errors import InputError
from skkl.drift import AUTO_FLOPS, ENGINES, EngineInfo, engine_table
from skkl.drift._engines import (
    EngineResult,
    Sizes,
    min_permutations,
    plan_engines,
)


def test_registry_records_are_complete_and_dispatch_reads_them():
    names = [e.name for e in ENGINES]
    assert len(set(names)) == len(names) == 3
    allowed = GaussianDriftDetector._parameter_constraints["method"][0].options
    assert set(allowed) == {"auto", *names}
    for e in ENGINES:
        assert isinstance(e, EngineInfo) and dataclasses.is_dataclass(e)
        cost = e.cost(Sizes(500, 500, 10))
        assert cost.flops > 0 and cost.peak_bytes > 0
        assert e.summary and ":" in e.runner


@pytest.mark.parametrize(
    "n, d, want",
    [
        (284, 30, "permutation"),  # breast cancer halves: power first
        (898, 61, "permutation"),  # digits halves
        (2000, 100, "permutation"),
        (1000, 768, "gram"),  # embeddings: the moment engine costs 1e12
        (100, 500, "gram"),
        (1_000_000, 20, "asymptotic"),
    ],
)
def test_auto_chooses_by_power_then_cost(n, d, want):
    plan = plan_engines("auto", Sizes(n, n, d, shrinkage=d >= n))
    assert plan.order[0].name == want
    if want != "permutation":
        moment = next(e for e in ENGINES if e.name == "permutation")
        assert moment.cost(Sizes(n, n, d)).flops > AUTO_FLOPS


def test_engine_table_is_the_plan():
    table = engine_table()
    assert table.splitlines()[0].startswith("===")
    assert "permutation" in table and "gram" in table and "asymptotic" in table


def test_asymptotic_request_falls_back_where_its_q_by_q_matrix_cannot_fit():
    # Issue 20: d=384, 2000 + 2000 rows tried to allocate 41 GiB and died.
    sizes = Sizes(2000, 2000, 384)
    plan = plan_engines("asymptotic", sizes)
    assert plan.order[0].name == "gram" and "cannot run here" in plan.warnings[0]
    assert "74304" in plan.warnings[0] or "GiB" in plan.warnings[0]
    # The same on real (small) data with a small budget: a warning, an answer.
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(4500, 40)), rng.normal(size=(4500, 40))
    det = GaussianDriftDetector(method="asymptotic", n_permutations=50)
    # q = 860: its q x q sums need 34 MiB; the moment engine's rows 15 MiB.
    with config_context(working_memory=20), pytest.warns(UserWarning, match="20 MiB"):
        res = det.fit(X).test(Y)
    assert res.method != "asymptotic" and any("cannot run" in n for n in res.notes)


def test_gram_request_at_half_a_million_rows_raises_at_once():
    # Issue 20: ran past 180 s with 3.5 GB and climbing.
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(500_000, 2)), rng.normal(size=(500_000, 2))
    det = GaussianDriftDetector(method="gram").fit(X)
    start = time.process_time()
    with pytest.raises(InputError, match="method='gram' cannot test.*GiB") as info:
        det.test(Y)
    assert info.value.argument == "method"
    # d = 2: the moment engine is cheap and fits.
    assert "use method='permutation'" in str(info.value)
    assert time.process_time() - start < 30  # validation, no Gram matrix


def test_slow_explicit_engine_warns_with_the_predicted_figures():
    plan = plan_engines("permutation", Sizes(2000, 2000, 384))
    assert plan.order[0].name == "permutation"
    (msg,) = plan.warnings
    assert "flops" in msg and "'gram'" in msg


def test_nothing_fits_names_every_engine():
    with config_context(working_memory=1):
        with pytest.raises(InputError) as info:
            plan_engines("auto", Sizes(200_000, 200_000, 300))
    msg = str(info.value)
    assert all(e.name in msg for e in ENGINES) and "working_memory" in msg


@pytest.mark.parametrize("alpha", [1e-30, 1e-300, 5e-324])
def test_tiny_alpha_answers_at_once(alpha):
    # Issue 20: alpha=1e-30 looped forever; 5e-324 raised OverflowError.
    X = np.random.default_rng(2).normal(size=(50, 2))
    start = time.process_time()
    with pytest.raises(InputError, match="n_permutations=1000 can never reject"):
        GaussianDriftDetector(alpha=alpha).fit(X)
    assert time.process_time() - start < 1
    assert math.isinf(min_permutations(5e-324)) or min_permutations(alpha) > 1e29


def test_tiny_alpha_with_the_asymptotic_test():
    rng = np.random.default_rng(3)
    X, Y = rng.normal(size=(3000, 2)), rng.normal(size=(3000, 2)) + 1.0
    res = GaussianDriftDetector(alpha=1e-300, method="asymptotic").fit(X).test(Y)
    assert res.method == "asymptotic" and res.is_drift == (res.p_value < 1e-300)


@pytest.mark.parametrize("scale", [1e308, 1e-320])
def test_weights_are_relative_at_any_scale(scale):
    # Issue 20: 1e308 gave "0 rows with positive weight", 1e-320 "singular".
    rng = np.random.default_rng(4)
    X, Y = rng.normal(size=(80, 3)), rng.normal(size=(70, 3)) + 0.3
    base = GaussianDriftDetector(random_state=0).fit(X).test(Y)
    res = GaussianDriftDetector(random_state=0)
    res = res.fit(X, sample_weight=np.full(80, scale)).test(Y)
    assert res.p_value == base.p_value
    assert res.effect == pytest.approx(base.effect, rel=1e-9)


def test_every_engine_returns_one_named_type():
    # Plumbing: the pipeline reads EngineResult fields only.
    from skkl.drift._engines import Problem
    from skkl.drift._prepare import Sample, prepare

    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(2000, 3)), rng.normal(size=(2000, 3))
    prep = prepare(Sample.from_rows(X), Sample.from_rows(Y))
    for e in ENGINES:
        out = e.run(Problem(prep, n_permutations=30, seed=0))
        assert isinstance(out, EngineResult) and out.engine == e.name
        assert set(out.part_weights) == {"combined", "lrt", "mean", "covariance"}
        for weights in out.part_weights.values():
            assert sum(weights.values()) == pytest.approx(1.0)
            assert set(weights) <= set(out.part_names)


def test_n_jobs_reaches_every_engine_without_changing_results():
    rng = np.random.default_rng(6)
    X, Y = rng.normal(size=(3000, 4)), rng.normal(size=(3000, 4))
    for method in ("permutation", "gram", "asymptotic"):
        a = GaussianDriftDetector(method=method, n_permutations=60, random_state=1)
        b = GaussianDriftDetector(
            method=method, n_permutations=60, random_state=1, n_jobs=2
        )
        ra, rb = a.fit(X).test(Y), b.fit(X).test(Y)
        assert ra.p_value == pytest.approx(rb.p_value, rel=1e-12)
        assert ra.effect == pytest.approx(rb.effect, rel=1e-10)


def test_the_method_reason_says_why():
    rng = np.random.default_rng(7)
    X, Y = rng.normal(size=(200, 10)), rng.normal(size=(200, 10))
    res = GaussianDriftDetector(n_permutations=30).fit(X).test(Y)
    assert res.method == "permutation" and "affordable" in res.method_reason
    res = GaussianDriftDetector(method="gram", n_permutations=30).fit(X).test(Y)
    assert res.method_reason == "requested"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        res = GaussianDriftDetector(method="asymptotic", n_permutations=30)
        res = res.fit(X).test(Y)
    assert "fallback" in res.method_reason
