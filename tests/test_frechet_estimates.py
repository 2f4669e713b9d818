"""Tests for the Fréchet estimates: bias, jackknife intervals, FID∞, per class."""

import numpy as np
import pytest
from numpy.testing import assert_allclose
from scipy import linalg, stats

from skkl import (
    FeatureMoments,
    frechet_difference,
    frechet_distance,
    frechet_distance_per_class,
    frechet_infinity,
    frechet_interval,
)
from skkl.frechet._jackknife import generator


def _sqrtm_fid(X, Y):
    """Independent reference: the textbook formula with scipy's sqrtm."""
    m1, m2 = X.mean(0), Y.mean(0)
    S1, S2 = np.cov(X, rowvar=False), np.cov(Y, rowvar=False)
    root = linalg.sqrtm(S1)
    cross = np.real(linalg.sqrtm(root @ S2 @ root))
    return float((m1 - m2) @ (m1 - m2) + np.trace(S1 + S2) - 2 * np.trace(cross))


def _gaussian_pair(rng, d, shift=0.3):
    A = np.eye(d) + 0.3 * rng.normal(size=(d, d))
    B = np.eye(d) * 1.2 + 0.2 * rng.normal(size=(d, d))
    return (np.zeros(d), A), (np.full(d, shift / np.sqrt(d)), B)


def _draw(rng, params, n):
    mean, A = params
    return rng.normal(size=(n, len(mean))) @ A.T + mean


def _population_fid(p, q):
    from skkl import frechet_distance_from_moments

    return frechet_distance_from_moments(p[0], p[1] @ p[1].T, q[0], q[1] @ q[1].T)


# -- bias ------------------------------------------------------------------------


def test_unbiased_mean_term_subtracts_its_exact_bias():
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(80, 5)), 2 * rng.normal(size=(50, 5)) + 1
    bias = (
        np.trace(np.cov(X, rowvar=False)) / 80 + np.trace(np.cov(Y, rowvar=False)) / 50
    )
    plain = frechet_distance(X, Y)
    assert frechet_distance(X, Y, unbiased_mean_term=True) == pytest.approx(
        plain - bias, rel=1e-12
    )
    # with moments that carry their count
    mom = FeatureMoments().update(X)
    assert frechet_distance(mom, Y, unbiased_mean_term=True) == pytest.approx(
        plain - bias, rel=1e-12
    )


# -- jackknife ---------------------------------------------------------------------


def _naive_jackknife(sets, statistic, n_groups, rng):
    """Delete-a-group jackknife written out, on the textbook FID (sqrtm)."""
    theta = statistic(*sets)
    bias, var, dfs = 0.0, 0.0, []
    for s, Z in enumerate(sets):
        G = min(n_groups, len(Z))
        reps = []
        for group in np.array_split(rng.permutation(len(Z)), G):
            rest = np.delete(Z, group, axis=0)
            reps.append(
                statistic(*[rest if k == s else sets[k] for k in range(len(sets))])
            )
        reps = np.array(reps)
        bias += (G - 1) * (reps.mean() - theta)
        v = (G - 1) / G * np.square(reps - reps.mean()).sum()
        var += v
        dfs.append((v, G))
    df = var**2 / sum(v * v / (G - 1) for v, G in dfs)
    return theta, theta - bias, np.sqrt(var), df


@pytest.mark.parametrize("n1, n2, d", [(60, 45, 3), (12, 9, 6)])  # n < d as well
def test_interval_matches_a_naive_jackknife(n1, n2, d):
    rng = np.random.default_rng(d)
    X = rng.normal(size=(n1, d))
    Y = rng.normal(size=(n2, d)) * 1.3 + 0.2
    res = frechet_interval(X, Y, n_groups=5, random_state=3, confidence_level=0.9)
    theta, est, se, df = _naive_jackknife([X, Y], _sqrtm_fid, 5, generator(3))
    assert res.plug_in == pytest.approx(theta, rel=1e-9)
    assert res.estimate == pytest.approx(est, rel=1e-8, abs=1e-10)
    assert res.standard_error == pytest.approx(se, rel=1e-7)
    assert res.df == pytest.approx(df, rel=1e-7)
    half = stats.t.ppf(0.95, df) * se
    assert res.high == pytest.approx(est + half, rel=1e-7)
    assert res.low == pytest.approx(max(est - half, 0.0), abs=1e-9)
    assert res.resampled == ("X", "Y")


def test_interval_with_fixed_reference_statistics():
    rng = np.random.default_rng(1)
    X, R = rng.normal(size=(100, 4)), rng.normal(size=(300, 4)) + 0.2
    ref = FeatureMoments().update(R)
    res = frechet_interval(X, ref, n_groups=6, random_state=0)
    rng_naive = generator(0)
    fixed = lambda A: _sqrtm_fid(A, R)  # noqa: E731
    theta, est, se, _ = _naive_jackknife([X], fixed, 6, rng_naive)
    assert res.resampled == ("X",)
    assert (res.plug_in, res.estimate, res.standard_error) == pytest.approx(
        (theta, est, se), rel=1e-8
    )


@pytest.mark.slow
def test_interval_coverage_small():
    # A small version of the benchmark's coverage study: Gaussian
    # populations with a known distance, 120 repeats (exact band for 0.95:
    # 0.89-0.99 holds with probability > 0.99).
    rng = np.random.default_rng(2)
    p, q = _gaussian_pair(rng, 3)
    truth = _population_fid(p, q)
    hits = 0
    for r in range(120):
        X, Y = _draw(rng, p, 150), _draw(rng, q, 150)
        res = frechet_interval(X, Y, random_state=r)
        hits += res.low <= truth <= res.high
    assert 0.89 <= hits / 120 <= 0.99


def test_difference_is_paired_through_the_reference():
    rng = np.random.default_rng(3)
    R = rng.normal(size=(60, 4))  # a small, noisy reference
    A = rng.normal(size=(4000, 4)) + 0.5
    B = rng.normal(size=(4000, 4)) * 1.05 + 0.5
    res = frechet_difference(A, B, R, random_state=0)
    assert res.difference.plug_in == pytest.approx(res.a.plug_in - res.b.plug_in)
    assert res.difference.estimate == pytest.approx(res.a.estimate - res.b.estimate)
    assert res.a.resampled == ("A", "reference")
    assert res.difference.resampled == ("A", "B", "reference")
    # the reference's noise cancels in the difference
    unpaired = np.hypot(res.a.standard_error, res.b.standard_error)
    assert res.difference.standard_error < 0.5 * unpaired
    naive = _naive_jackknife(
        [A, B, R], lambda a, b, r: _sqrtm_fid(a, r) - _sqrtm_fid(b, r), 10, generator(0)
    )
    assert res.difference.standard_error == pytest.approx(naive[2], rel=1e-6)


def test_interval_errors():
    X = np.random.default_rng(4).normal(size=(20, 3))
    mom = FeatureMoments().update(X)
    with pytest.raises(ValueError, match="needs feature rows for at least one"):
        frechet_interval(mom, mom)
    with pytest.raises(ValueError, match="n_groups"):
        frechet_interval(X, X, n_groups=1)
    with pytest.raises(ValueError, match="confidence_level"):
        frechet_interval(X, X, confidence_level=1.0)
    with pytest.raises(ValueError, match="Y has 2 features but X has 3"):
        frechet_interval(X, X[:, :2])
    with pytest.raises(ValueError, match="X has 2 sample"):
        frechet_interval(X[:2], X)


# -- FID∞ -------------------------------------------------------------------------


def test_infinity_matches_a_naive_extrapolation():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(90, 4)) * 1.2
    R = rng.normal(size=(200, 4))
    res = frechet_infinity(X, R, n_sizes=3, random_state=7)
    draws = generator(7)
    curve = [_sqrtm_fid(X, R)]
    for k in (2, 3):
        parts = np.array_split(draws.permutation(90), k)
        curve.append(np.mean([_sqrtm_fid(X[np.sort(p)], R) for p in parts]))
    sizes = 90 / np.arange(1, 4)
    slope, value = np.polyfit(1 / sizes, curve, 1)
    assert_allclose(res.distances, curve, rtol=1e-9)
    assert_allclose(res.sizes, sizes)
    assert res.value == pytest.approx(value, rel=1e-8)
    assert res.slope == pytest.approx(slope, rel=1e-8)
    assert res.plug_in == res.distances[0]
    # the standard error: the jackknife of the plain distance, drawn next
    naive = _naive_jackknife([X, R], _sqrtm_fid, 10, draws)
    assert res.standard_error == pytest.approx(naive[2], rel=1e-7)


def test_infinity_removes_most_of_the_bias():
    # d=12, n=300: the plain distance's bias is several times its noise.
    rng = np.random.default_rng(6)
    _, q = _gaussian_pair(rng, 12)
    p = (q[0] + 0.5 / np.sqrt(12), q[1])  # the same covariance, a shifted mean
    truth = _population_fid(p, q)
    ref = FeatureMoments.from_moments(q[0], q[1] @ q[1].T, n_samples=10**9)
    plain, inf = [], []
    for r in range(25):
        X = _draw(rng, p, 300)
        res = frechet_infinity(X, ref, random_state=r, n_groups=2)
        plain.append(res.plug_in)
        inf.append(res.value)
    # the plain distance's bias is many standard errors of its mean
    assert np.mean(plain) - truth > 10 * np.std(plain) / np.sqrt(25)
    assert abs(np.mean(inf) - truth) < 0.2 * (np.mean(plain) - truth)


def test_infinity_errors():
    X = np.random.default_rng(7).normal(size=(11, 3))
    with pytest.raises(ValueError, match="X must be feature rows"):
        frechet_infinity(FeatureMoments().update(X), X)
    with pytest.raises(ValueError, match="n_sizes=4 needs at least 12"):
        frechet_infinity(X, X)
    with pytest.raises(ValueError, match="n_sizes"):
        frechet_infinity(X, X, n_sizes=1)


# -- per class -------------------------------------------------------------------


def test_per_class_matches_one_distance_per_class():
    rng = np.random.default_rng(8)
    y_ref = rng.choice(["cat", "dog", "owl"], size=600)
    R = rng.normal(size=(600, 3)) + (y_ref == "dog")[:, None] * 2.0
    y = rng.choice(["cat", "dog"], size=300)
    X = rng.normal(size=(300, 3)) * 1.1 + (y == "dog")[:, None] * 2.0
    res = frechet_distance_per_class(X, y, R, y_ref)
    assert list(res.classes) == ["cat", "dog"]
    expected = [_sqrtm_fid(X[y == c], R[y_ref == c]) for c in res.classes]
    assert_allclose(res.distances, expected, rtol=1e-9)
    assert res.mean == pytest.approx(np.mean(expected))
    assert list(res.n_samples) == [np.sum(y == "cat"), np.sum(y == "dog")]
    assert res.to_dict() == pytest.approx(
        dict(zip(["cat", "dog"], expected, strict=True))
    )
    # statistics per class: FeatureMoments or (mean, covariance)
    stats_ref = {
        "cat": FeatureMoments().update(R[y_ref == "cat"]),
        "dog": (R[y_ref == "dog"].mean(0), np.cov(R[y_ref == "dog"], rowvar=False)),
    }
    again = frechet_distance_per_class(X, y, stats_ref)
    assert_allclose(again.distances, expected, rtol=1e-9)


def test_per_class_errors():
    rng = np.random.default_rng(9)
    X, R = rng.normal(size=(30, 2)), rng.normal(size=(30, 2))
    y = np.repeat([0, 1, 2], 10)
    with pytest.raises(ValueError, match="no statistics for class.*2"):
        frechet_distance_per_class(X, y, R, np.repeat([0, 1], 15))
    with pytest.raises(ValueError, match="class.*7.*fewer than 2 rows"):
        frechet_distance_per_class(X, np.r_[y[:-1], 7], R, y)
    with pytest.raises(ValueError, match="y must hold one label per row"):
        frechet_distance_per_class(X, y[:5], R, y)
    with pytest.raises(ValueError, match="y_reference is needed"):
        frechet_distance_per_class(X, y, R)
    with pytest.raises(TypeError, match="must be a FeatureMoments or a"):
        frechet_distance_per_class(X, y, {0: R, 1: R, 2: R})
