"""The drift effect size: its definition, one value from every engine, robustness.

References are independent of the code under test: U-statistics as explicit
double loops over pairs of rows, the metric from numpy's Cholesky, the
permutation mean by exhaustive enumeration of every split, and population
values in closed form.
"""

from __future__ import annotations

import itertools
import warnings

import numpy as np
import pytest
from _builders import table

from skkl import GaussianDriftDetector
from skkl.drift._effect import (
    EFFECT_MIN_ROWS,
    RIDGE,
    EffectMetric,
    effect_values,
    metric_from_rows,
)


def _naive_metric(X, w):
    """The effect metric by its definition, on raw rows (no shrinkage)."""
    W = w.sum()
    m = w @ X / W
    Xc = X - m
    T = (Xc * w[:, None]).T @ Xc / W
    m2 = w @ Xc**2
    m4 = w @ Xc**4
    k_eff = m2**2 / m4
    infl = np.maximum(1.0, min(EFFECT_MIN_ROWS, W / 6) / k_eff)
    M = T + np.diag(np.diag(T) * (infl - 1.0 + RIDGE))
    return m, np.linalg.cholesky(M)


def _naive_ustats(X, w, n1):
    """T_mean and T_second by explicit loops over pairs of whitened rows."""
    m, L = _naive_metric(X, w)
    V = np.linalg.solve(L, (X - m).T).T
    groups = [range(n1), range(n1, len(X))]
    t_mean = t_second = 0.0
    for g in groups:
        num_m = num_s = den = 0.0
        for i, j in itertools.permutations(g, 2):
            k = V[i] @ V[j]
            num_m += w[i] * w[j] * k
            num_s += w[i] * w[j] * k * k
            den += w[i] * w[j]
        t_mean += num_m / den
        t_second += num_s / den
    cm = cs = den = 0.0
    for i in groups[0]:
        for j in groups[1]:
            k = V[i] @ V[j]
            cm += w[i] * w[j] * k
            cs += w[i] * w[j] * k * k
            den += w[i] * w[j]
    t_mean -= 2 * cm / den
    t_second -= 2 * cs / den
    W1, W = w[:n1].sum(), w.sum()
    balance = W1 * (W - W1) / W**2
    return t_mean, t_second, effect_values(t_mean, t_second, balance)


def _engine_effect(method, X_ref, X_new, w=None, B=30):
    """The engine's :class:`EffectEstimate` on the prepared samples."""
    from skkl.drift import ENGINES
    from skkl.drift._engines import Problem
    from skkl.drift._pipeline import normalise_weights
    from skkl.drift._prepare import Sample, prepare

    ref = Sample.from_rows(X_ref, None if w is None else normalise_weights(w))
    prep = prepare(ref, Sample.from_rows(X_new))
    engine = next(e for e in ENGINES if e.name == method)
    return engine.run(Problem(prep, n_permutations=B, seed=0)).effect


def _data(rng, n1=34, n2=31, d=3):
    X = rng.normal(size=(n1 + n2, d)) @ rng.normal(size=(d, d))
    X[n1:] = X[n1:] * 1.3 + 0.4
    X[:, -1] = 0.0
    X[[3, 40], -1] = 2.0  # two non-zero rows: floored
    return X


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("method", ["permutation", "gram"])
def test_effect_is_the_u_statistic_of_pairs(method, weighted):
    rng = np.random.default_rng(0)
    X = _data(rng)
    n1 = 34
    w = rng.uniform(0.5, 2.0, size=n1) if weighted else np.ones(n1)
    w_all = np.r_[w * (n1 / w.sum()), np.ones(len(X) - n1)]
    *_, want = _naive_ustats(X, w_all, n1)
    got = _engine_effect(method, X[:n1], X[n1:], w if weighted else None)
    assert got.uncentred == pytest.approx(want, rel=1e-9)
    det = GaussianDriftDetector(method=method, n_permutations=30, random_state=0)
    res = det.fit(X[:n1], sample_weight=w if weighted else None).test(X[n1:])
    assert res.method == method
    assert res.floored_features == (2,) and any("floor" in n for n in res.notes)


def test_every_engine_and_the_sums_give_one_effect():
    rng = np.random.default_rng(1)
    X, Y = rng.normal(size=(3000, 4)), rng.normal(size=(2500, 4)) * [1, 1.1, 1, 1]
    Y[:, 0] += 0.1
    got = {}
    for method in ("permutation", "gram", "asymptotic"):
        det = GaussianDriftDetector(method=method, n_permutations=100, random_state=0)
        res = det.fit(X).test(Y)
        assert res.method == method
        got[method] = res
    base = got["permutation"]
    for res in got.values():
        # Centred at the null's median: by resampling (B = 100) or from the
        # sums' null law: within a quarter of a null sd.
        assert abs(res.effect - base.effect) < 0.25 * base.effect_null_sd
        np.testing.assert_allclose(res.feature_scores, base.feature_scores, rtol=1e-8)
        # The null spread: permutations (B = 100, ~7% error) or the U-statistic
        # variance from the sums.
        assert res.effect_null_sd == pytest.approx(base.effect_null_sd, rel=0.3)
    # Before centring, no resampling: equal to rounding.
    raw = [_engine_effect(m, X, Y).uncentred for m in got]
    np.testing.assert_allclose(raw, raw[0], rtol=1e-9)


def test_permutation_mean_is_exactly_zero_over_all_splits():
    # Exhaustive enumeration: the 252 splits of 10 rows into 5 + 5.
    from skkl.drift._permutation import MomentSpec, effect_of_splits, split_sums

    rng = np.random.default_rng(2)
    Z = rng.standard_t(3, size=(10, 2))
    Z -= Z.mean(axis=0)
    w = np.ones(10)
    metric, _ = metric_from_rows(Z, w, True)
    M = np.zeros((252, 10), dtype=bool)
    for r, idx in enumerate(itertools.combinations(range(10), 5)):
        M[r, list(idx)] = True
    spec = MomentSpec(2, "full")
    from skkl.drift._permutation import _effect_columns

    S1, total = split_sums(Z, w, M, spec, _effect_columns(Z, w, metric))
    from skkl.drift._effect import ustatistics
    from skkl.drift._permutation import group_sums

    t_mean, t_second = ustatistics(
        group_sums(S1, spec, metric), group_sums(total[None] - S1, spec, metric)
    )
    scale = np.abs(t_second).max()
    assert abs(t_mean.mean()) < 1e-12 * np.abs(t_mean).max()
    assert abs(t_second.mean()) < 1e-12 * scale
    assert effect_of_splits(S1, total, spec, metric).shape == (252,)


def test_population_values_of_mean_and_variance_changes():
    # Large samples: the effect converges to the second-order symmetric KL
    # of the populations in the within-sample metric.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(40000, 2))
    Y = rng.normal(size=(40000, 2)) * [1.0, np.sqrt(3.0)]
    Y[:, 0] += 1.0  # a shift of a full sd: the rank-one identity matters
    res = GaussianDriftDetector(n_permutations=50, random_state=0).fit(X).test(Y)
    # Mean: 1/2 * 1^2; variance 1 -> 3 in the pooled variance 2: 1/4 (2/2)^2.
    assert res.effect == pytest.approx(0.5 + 0.25, rel=0.03)


def test_analytic_null_sd_matches_the_permutation_spread():
    rng = np.random.default_rng(4)
    for X, Y in (
        (rng.normal(size=(4000, 3)), rng.normal(size=(4000, 3))),
        (rng.poisson(2.0, (4000, 3)) * 1.0, rng.poisson(2.0, (4000, 3)) * 1.0),
    ):
        a = GaussianDriftDetector(method="asymptotic").fit(X).test(Y)
        p = GaussianDriftDetector(n_permutations=400, random_state=0)
        p = p.fit(X).test(Y)
        # 200 permuted splits estimate the sd to ~5%, the median to ~0.1 sd.
        assert a.effect_null_sd == pytest.approx(p.effect_null_sd, rel=0.2)
        assert abs(a.effect - p.effect) < 0.25 * p.effect_null_sd


def test_extreme_scales_give_the_same_effect():
    rng = np.random.default_rng(5)
    X, Y = rng.normal(size=(300, 3)), rng.normal(size=(300, 3)) + 0.2
    base = GaussianDriftDetector(random_state=0).fit(X).test(Y)
    for scale in (1e-200, 1e200):
        res = GaussianDriftDetector(random_state=0).fit(X * scale).test(Y * scale)
        assert res.effect == pytest.approx(base.effect, rel=1e-9)
        assert res.effect_null_sd == pytest.approx(base.effect_null_sd, rel=1e-9)


def test_floor_inflation_follows_the_rows_that_carry_a_feature():
    # A feature with k non-zero rows has effective count about k.
    rng = np.random.default_rng(6)
    N = 1000
    Z = rng.normal(size=(N, 4))
    for j, k in ((1, 2), (2, 5), (3, 200)):
        Z[:, j] = 0.0
        Z[rng.choice(N, k, replace=False), j] = 1.0
    Z -= Z.mean(axis=0)
    metric, _ = metric_from_rows(Z, np.ones(N), True)
    infl = metric.inflation
    assert infl[0] == 1.0 and infl[3] == 1.0
    # k = 2: (sum z^2)^2 / sum z^4 ~ 2 (minus the rows at -mean): 20 / 2.
    assert infl[1] == pytest.approx(EFFECT_MIN_ROWS / 2, rel=0.01)
    assert infl[2] == pytest.approx(EFFECT_MIN_ROWS / 5, rel=0.02)
    assert isinstance(metric, EffectMetric)


# -- robustness on tables we did not generate (issue 20) -------------------------


def _sparse_table(rng):
    return (rng.random((1000, 100)) < 0.05).astype(float)


def _few_rows_table(rng):
    X = rng.normal(size=(600, 12))
    for j, k in enumerate((1, 1, 2, 2, 5, 5)):
        X[:, j] = 0.0
        X[rng.choice(600, k, replace=False), j] = rng.normal(size=k) + 3
    return X


TABLES = {
    "digits": lambda rng: table("digits"),
    "breast_cancer": lambda rng: table("breast_cancer"),
    "wine": lambda rng: table("wine"),
    "diabetes": lambda rng: table("diabetes"),
    "sparse 0/1": _sparse_table,
    "1, 2, 5 rows": _few_rows_table,
}


def _no_drift_effects(X, rng, splits, keep=None):
    out = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropped constant pixels
        for r in range(splits):
            idx = rng.permutation(len(X))
            h = len(X) // 2
            A, B = X[idx[:h]], X[idx[h:]]
            if keep is not None:
                A, B = A[:, keep], B[:, keep]
            det = GaussianDriftDetector(n_permutations=40, random_state=r)
            res = det.fit(A).test(B)
            out.append((res.effect, res.effect_null_sd))
    return np.array(out)


@pytest.mark.slow
@pytest.mark.parametrize("name", list(TABLES))
def test_effect_is_centred_and_sparse_features_do_not_dominate(name):
    rng = np.random.default_rng(7)
    X = TABLES[name](rng)
    eff = _no_drift_effects(X, rng, 25)
    sd = np.median(eff[:, 1])
    # Centred at the null median: the median of 25 effects is within ~0.25
    # sd (its own error is ~0.25 sd at 25 splits: allow 0.6).
    assert abs(np.median(eff[:, 0])) <= 0.6 * sd, name
    # The null spread is that of the table without its rare features.
    common = np.mean(X != np.median(X, axis=0), axis=0) >= 0.01
    common &= X.std(axis=0) > 0
    ref = _no_drift_effects(X, rng, 10, keep=common)
    assert sd <= 2.0 * np.median(ref[:, 1]), name


@pytest.mark.parametrize("name", ["wine", "diabetes", "sparse 0/1"])
def test_effect_grows_with_a_shift(name):
    rng = np.random.default_rng(8)
    X = TABLES[name](rng)
    sd = X.std(axis=0)
    idx = rng.permutation(len(X))
    h = len(X) // 2
    A, B = X[idx[:h]], X[idx[h:]]
    det = GaussianDriftDetector(n_permutations=50, random_state=0).fit(A)
    effects = [det.test(B + s * sd).effect for s in (0, 0.1, 0.25, 0.5, 1.0)]
    assert np.all(np.diff(effects) > 0), effects
