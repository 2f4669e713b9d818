"""Regression tests for hostile input in the core (issue 24, items 3, 5, 9, 13-18).

Each test names the item it guards. Scale tests use powers of two, for which
scaling the data is exact in float64: a result that scales with the data
must then scale exactly (bit for bit) or raise.
"""

import warnings

import numpy as np
import pytest
from _builders import random_spd
from numpy.testing import assert_allclose, assert_array_equal

from skkl import (
    Gaussians,
    KLMetric,
    divergence,
    kl_divergence,
    pairwise_divergence,
)
from skkl._errors import InputError

# -- item 3 and 14: W2 scales with the data ------------------------------------


@pytest.mark.parametrize("scale", [1e-300, 1e-200, 1e-156, 1e-100, 1e100, 1e154, 1e200])
def test_wasserstein_full_keeps_the_cross_term_at_every_scale(scale):
    # W2^2(N(0, s I), N(0, 4 s I)) = 2 (2 - 1)^2 s = 2 s in two dimensions;
    # the full layout dropped the cross term below ~1e-156 (1e-199 instead
    # of 2e-200) and called 1e154 a "variance ratio beyond 1e300".
    p, q = (np.zeros(2), scale * np.eye(2)), (np.zeros(2), 4 * scale * np.eye(2))
    full = float(divergence(p, q, "wasserstein"))
    diag = float(
        divergence(
            (np.zeros(2), scale * np.ones(2)),
            (np.zeros(2), 4 * scale * np.ones(2)),
            "wasserstein",
            covariance_type="diag",
        )
    )
    assert full == pytest.approx(2 * scale, rel=1e-14)
    assert diag == pytest.approx(2 * scale, rel=1e-14)


@pytest.mark.parametrize("k", [-500, -300, -100, 100, 300, 450])
def test_wasserstein_scales_exactly_by_powers_of_two(k):
    # Means scale by 2^k, covariances by 2^2k: W2^2 by exactly 2^2k.
    rng = np.random.default_rng(0)
    means, cov = rng.normal(size=(6, 3)), random_spd(rng, 3, (6,))
    D = pairwise_divergence(Gaussians(means, cov), kind="wasserstein")
    Dk = pairwise_divergence(
        Gaussians(np.ldexp(means, k), np.ldexp(cov, 2 * k)), kind="wasserstein"
    )
    assert_array_equal(np.ldexp(Dk, -2 * k), D)
    pk = (np.ldexp(means[0], k), np.ldexp(cov[0], 2 * k))
    qk = (np.ldexp(means[1], k), np.ldexp(cov[1], 2 * k))
    assert np.ldexp(float(divergence(pk, qk, "wasserstein")), -2 * k) == D[0, 1]


def test_wasserstein_overflow_names_the_distance_not_a_variance_ratio():
    # The answer itself (~1e400) is beyond float64: raise, in the right words.
    p, q = (np.zeros(2), np.eye(2)), (np.full(2, 1e200), np.eye(2))
    with pytest.raises(ValueError, match="2-Wasserstein distance overflows"):
        divergence(p, q, "wasserstein")
    with pytest.raises(ValueError, match="2-Wasserstein distance overflows"):
        pairwise_divergence(
            Gaussians([[0.0, 0.0], [1e200, 1e200]], np.ones((2, 2)), "diag"),
            kind="wasserstein",
        )


# -- item 15: huge covariances are not "not positive definite" ------------------


def test_huge_covariances_are_accepted_not_blamed_on_definiteness():
    # 0.5 * (S + S.T) overflowed for entries near 1e308.
    big = Gaussians(np.zeros((2, 2)), np.stack([1e308 * np.eye(2), 5e307 * np.eye(2)]))
    unit = Gaussians(np.zeros((2, 2)), np.stack([2 * np.eye(2), np.eye(2)]))
    # The package's accuracy (precisions near 1e-308 lose digits to
    # subnormal rounding, well within it).
    assert_allclose(pairwise_divergence(big), pairwise_divergence(unit), rtol=1e-10)
    X = np.random.default_rng(1).normal(size=(30, 2))
    G = Gaussians.from_samples(X, reg_covar=1e308)
    assert np.all(np.isfinite(G.cholesky)) and np.isfinite(G.logdet).all()
    # Within-tolerance asymmetry at that scale is symmetrised without overflow.
    S = np.array([[1e308, 1e307], [1e307 * (1 + 1e-14), 1e308]])
    assert np.isfinite(Gaussians(np.zeros(2), S).covariances).all()


# -- item 18: variances that underflow -----------------------------------------


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
def test_from_packed_refuses_variances_that_underflow(covariance_type):
    # std 1e-200 squares to 0: accepted before, then "allow_singular" was
    # suggested by the next divergence although it was never passed.
    row = (
        [0.0, 0.0, 1e-200, 0.0, 1e-200]
        if covariance_type == "full"
        else [0.0, 0.0, 1e-200, 1e-200]
    )
    with pytest.raises(ValueError, match=r"X\[0\].*below float64's range") as err:
        Gaussians.from_packed([row], covariance_type)
    assert "allow_singular" not in str(err.value)
    # 1e-150 squares to 1e-300: fine, and every divergence is finite.
    ok = (
        [0.0, 0.0, 1e-150, 0.0, 1e-150]
        if covariance_type == "full"
        else [0.0, 0.0, 1e-150, 1e-150]
    )
    G = Gaussians.from_packed([ok, ok], covariance_type)
    assert np.all(pairwise_divergence(G) == 0.0)


# -- items 5, 13, 17: one rule for complex, strings and other objects ----------


_STRING_CASES = [
    pytest.param(lambda x: np.asarray(x, dtype=str), id="str dtype"),
    pytest.param(
        lambda x: np.asarray(x, dtype=object).astype(str).astype(object),
        id="object of numeric strings",
    ),
    pytest.param(
        lambda x: np.asarray(x, dtype=object).astype(str).astype(bytes),
        id="bytes dtype",
    ),
]


@pytest.mark.parametrize("as_text", _STRING_CASES)
def test_numeric_strings_are_refused_everywhere_naming_the_argument(as_text):
    # Item 17: one rule. Text is never parsed (Python reads '1_000' as 1000).
    m, S = np.zeros(2), np.eye(2)
    X = np.random.default_rng(2).normal(size=(10, 2))
    row = Gaussians(m, S).pack()[0]
    calls = {
        "means": lambda: Gaussians(as_text([[0.0, 1.0]]), S),
        "covariances": lambda: Gaussians(m, as_text(S)),
        "m0": lambda: kl_divergence(as_text(m), S, m, S),
        "S1": lambda: kl_divergence(m, S, m, as_text(S)),
        r"p\[0\] \(mean\)": lambda: divergence((as_text(m), S), (m, S)),
        "X": lambda: Gaussians.from_samples(as_text(X)),
        "sample_weight": lambda: Gaussians.from_samples(
            X, sample_weight=as_text(np.ones(10))
        ),
        "u": lambda: KLMetric()(as_text(row), row),
    }
    for name, call in calls.items():
        with pytest.raises(
            TypeError,
            match=rf"^{name} must be a numeric array-like"
            r" of real numbers, got strings.*np\.asarray",
        ):
            call()


def test_non_numeric_objects_name_the_argument_not_the_parser():
    # Item 13: "could not convert string to float: 'x'" named nothing.
    S = np.eye(2)
    obj = np.array([["a", "b"], ["c", "d"]], dtype=object)
    with pytest.raises(
        TypeError, match=r"^covariances must be .*got strings \(e.g. 'a'\)"
    ):
        Gaussians(np.zeros(2), obj)
    with pytest.raises(TypeError, match=r"^m1 must be a numeric array-like"):
        kl_divergence(np.zeros(2), S, np.array([0.0, {}], dtype=object), S)
    with pytest.raises(TypeError, match=r"^means must be .*got NoneType \(None\)"):
        Gaussians([[0.0, None]], S)  # not quietly a NaN


def test_complex_sample_weight_is_refused():
    # Item 5 (the Gaussians part): the imaginary part was dropped with only a
    # ComplexWarning.
    X = np.random.default_rng(3).normal(size=(10, 2))
    with pytest.raises(TypeError, match="^sample_weight is complex"):
        Gaussians.from_samples(X, sample_weight=np.ones(10) + 1j)
    with pytest.raises(TypeError, match="^sample_weight is complex"):
        Gaussians.from_samples(X, sample_weight=np.ones(10, dtype=complex))


def test_bool_int_float32_and_object_numbers_are_computed_in_float64():
    S = np.eye(2)
    ref = float(kl_divergence(np.array([1.0, 0.0]), S, np.zeros(2), S))
    for m0 in (
        np.array([True, False]),
        np.array([1, 0]),
        np.float32([1, 0]),
        np.array([1, 0.0], dtype=object),
    ):
        assert float(kl_divergence(m0, S, np.zeros(2), S)) == ref


# -- item 9: the symmetry trap warns (tests of its routes in test_metric.py) ------


def test_symmetry_trap_warning_only_for_asymmetric_kinds():
    from sklearn.metrics import pairwise_distances

    rng = np.random.default_rng(4)
    X = Gaussians(rng.normal(size=(5, 2)), random_spd(rng, 2, (5,))).pack()
    with pytest.warns(UserWarning, match="renyi"):
        pairwise_distances(X, metric=KLMetric("renyi", alpha=0.3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pairwise_distances(X, metric=KLMetric("renyi", alpha=0.5))
        pairwise_distances(X, metric=KLMetric("wasserstein"))


# -- errors that name other parameters carry them -------------------------------


def test_errors_naming_parameters_render_them_for_the_command_line():
    flags = {
        "reg_covar": "--reg-covar",
        "covariance_type": "--covariance-type",
        "alpha": "--order",
        "kind": "--kind",
    }
    with pytest.raises(InputError) as err:
        Gaussians(np.zeros(2), [[1.0, 2.0], [2.0, 1.0]])
    assert "reg_covar=1e-06" in str(err.value)
    assert "--reg-covar 1e-06" in err.value.render(flags)
    with pytest.raises(InputError) as err:
        KLMetric(covariance_type="tied")
    assert err.value.render(flags).endswith("use --covariance-type full.")
    with pytest.raises(InputError) as err:
        divergence((np.zeros(1), [[4.0]]), (np.zeros(1), [[1.0]]), "renyi", alpha=2.0)
    assert "0 < --order < 1" in err.value.render(flags)
    G = Gaussians(np.zeros((1, 2)), np.ones((1, 2, 2)), allow_singular=True)
    with pytest.raises(InputError) as err:
        pairwise_divergence(G, kind="kl")
    assert "--kind wasserstein" in err.value.render(flags)
