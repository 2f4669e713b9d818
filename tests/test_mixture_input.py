"""Hostile input to the mixture functions: each error names its argument.

Regression tests for issue 24 (items 5, 10 and 13 for mixtures, weights,
non-finite means, extreme scales): no silent real-cast, no raw numpy or
joblib error, no allocation that cannot succeed, results that scale with
the data or a clear error.
"""

from __future__ import annotations

import numpy as np
import pytest
from _builders import random_mixture
from sklearn.mixture import GaussianMixture

from skkl import (
    Gaussians,
    Mixture,
    mixture_divergence,
    mixture_js_monte_carlo,
    mixture_kl_bounds,
    mixture_kl_monte_carlo,
    pairwise_mixture_divergence,
)
from skkl._errors import InputError
from skkl.mixture import METHODS


def _mixture(K=3, d=2, seed=0, kind="full", scale=1.0):
    """Means times ``scale``, covariances times ``scale**2``: the data scaled."""
    rng = np.random.default_rng(seed)
    return random_mixture(rng, K, d, kind, spread=scale, scale=scale**2)


# -- item 5: complex input is refused, never cast ---------------------------------


def test_complex_weights_are_an_error_naming_weights():
    G = _mixture().gaussians
    w = np.full(3, 1 / 3)
    with pytest.raises(TypeError, match="weights is complex"):
        Mixture(w + 1j, G)
    with pytest.raises(TypeError, match="weights is complex"):
        Mixture(w + 0j, G)  # even a zero imaginary part is not dropped silently


def test_complex_points_are_an_error_naming_x():
    p = _mixture()
    X = np.zeros((4, 2))
    for call in (p.score_samples, p.component_log_densities):
        with pytest.raises(TypeError, match="X is complex"):
            call(X + 1j)


def test_complex_estimator_attributes_name_the_attribute():
    gm = GaussianMixture(2, random_state=0).fit(
        np.random.default_rng(0).normal(size=(60, 2))
    )
    gm.weights_ = gm.weights_ + 0j
    with pytest.raises(TypeError, match=r"GaussianMixture\.weights_ is complex"):
        Mixture.from_estimator(gm)
    gm = GaussianMixture(2, random_state=0).fit(
        np.random.default_rng(0).normal(size=(60, 2))
    )
    gm.means_ = gm.means_ + 1j
    with pytest.raises(TypeError, match=r"GaussianMixture\.means_ is complex"):
        Mixture.from_estimator(gm)


# -- item 13: strings, random_state, n_jobs, budgets ------------------------------


@pytest.mark.parametrize(
    "weights",
    [
        np.array(["a", "b", "c"], dtype=object),
        np.array(["0.5", "0.25", "0.25"]),  # numeric strings too: one rule
        "abc",
    ],
    ids=["object-strings", "numeric-strings", "str"],
)
def test_string_weights_are_an_error_naming_weights(weights):
    with pytest.raises(TypeError, match="weights must be a numeric"):
        Mixture(weights, _mixture().gaussians)


def test_string_points_are_an_error_naming_x():
    p = _mixture()
    with pytest.raises(TypeError, match="X must be a numeric"):
        p.score_samples(np.array([["x", "y"]], dtype=object))


@pytest.mark.parametrize("bad", ["x", -1, 1.5, True])
def test_sample_random_state_is_checked(bad):
    with pytest.raises(ValueError, match="random_state must be None, an integer"):
        _mixture().sample(5, random_state=bad)


def test_sample_random_state_accepts_seeds_and_generators():
    p = _mixture()
    a = p.sample(5, random_state=3)
    np.testing.assert_array_equal(a, p.sample(5, random_state=3))
    np.testing.assert_array_equal(a, p.sample(5, random_state=np.random.default_rng(3)))
    legacy = p.sample(5, random_state=np.random.RandomState(0))
    assert legacy.shape == (5, 2)


@pytest.mark.parametrize("bad", ["x", -1])
def test_monte_carlo_random_state_is_checked(bad):
    p, q = _mixture(seed=0), _mixture(seed=1)
    with pytest.raises(ValueError, match="random_state"):
        mixture_kl_monte_carlo(p, q, random_state=bad)


def test_n_jobs_zero_is_an_error_naming_n_jobs():
    P = [_mixture(seed=s) for s in range(3)]
    with pytest.raises(ValueError, match="'n_jobs' parameter"):
        pairwise_mixture_divergence(P, n_jobs=0)


@pytest.mark.parametrize("call", [mixture_kl_monte_carlo, mixture_js_monte_carlo])
def test_monte_carlo_budget_beyond_memory_is_refused_up_front(call):
    """10**12 draws: an error that says what fits, before any allocation."""
    p, q = _mixture(seed=0), _mixture(seed=1)
    with pytest.raises(InputError, match=r"n_samples=1000000000000 needs about") as e:
        call(p, q, 10**12, random_state=0)
    assert e.value.argument == "n_samples"
    message = str(e.value)
    assert "TiB" in message and "fits here" in message
    assert "target_error" in message  # a fix that exists
    # The same budget with a target error stops early and works.
    r = call(p, q, 10**12, target_error=0.05, random_state=0)
    assert r.n_samples < 10**6


def test_unknown_method_names_the_argument():
    p = _mixture()
    for call in (
        lambda: mixture_divergence(p, p, "kl"),
        lambda: pairwise_mixture_divergence([p], method="kl"),
    ):
        with pytest.raises(InputError, match="method must be one of") as e:
            call()
        assert e.value.argument == "method"


# -- weights and non-finite parameters -------------------------------------------


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ([0.0, 0.0, 0.0], r"weights\[0\] = 0.0"),
        ([-1.0, 1.0, 1.0], r"weights\[0\] = -1.0"),
        ([-0.5, -0.25, -0.25], r"weights\[0\] = -0.5"),
        ([1e-200] * 3, "weights sum to 3e-200, not 1"),
        ([np.nan, 0.5, 0.5], r"weights\[0\] is not finite"),
        ([np.inf, 0.5, 0.5], r"weights\[0\] is not finite"),
    ],
)
def test_weights_that_are_not_a_distribution(weights, message):
    with pytest.raises(ValueError, match=message):
        Mixture(weights, _mixture().gaussians)


def test_tiny_weights_normalised_by_the_user_are_fine():
    w = np.array([1e-200, 2e-200, 1e-200])
    m = Mixture(w / w.sum(), _mixture().gaussians)
    np.testing.assert_allclose(m.weights, [0.25, 0.5, 0.25], rtol=1e-15)


def test_nan_means_name_the_argument():
    G = _mixture().gaussians
    bad = np.array(G.means)
    bad[1, 0] = np.nan
    with pytest.raises(ValueError, match="means contains NaN"):
        Gaussians(bad, G.covariances)
    gm = GaussianMixture(2, random_state=0).fit(
        np.random.default_rng(0).normal(size=(60, 2))
    )
    gm.means_ = np.where(np.arange(4).reshape(2, 2) == 1, np.nan, gm.means_)
    with pytest.raises(ValueError, match=r"GaussianMixture\.means_ contains NaN"):
        Mixture.from_estimator(gm)
    with pytest.raises(ValueError, match="X contains NaN"):
        _mixture().score_samples([[np.nan, 0.0]])


def test_singular_components_are_refused():
    """A singular component has no density: refused, not a RuntimeWarning later."""
    S = np.array([[[1.0, 1.0], [1.0, 1.0]], [[1.0, 0.0], [0.0, 1.0]]])
    G = Gaussians(np.zeros((2, 2)), S, allow_singular=True)
    with pytest.raises(ValueError, match=r"gaussians\[0\] has a singular covariance"):
        Mixture([0.5, 0.5], G)


# -- results scale with the data (1e-150 to 1e150) --------------------------------

_SCALES = [1e-150, 1e-100, 1e100, 1e150]
_SCALE_FREE = [m for m in METHODS if m != "l2_squared"]


@pytest.mark.parametrize("scale", _SCALES)
def test_scale_free_methods_do_not_move_with_the_scale(scale):
    """KL, its bounds and Cauchy-Schwarz are invariant under x -> s x."""
    p, q = _mixture(seed=0), _mixture(K=4, seed=1)
    ps, qs = _mixture(seed=0, scale=scale), _mixture(K=4, seed=1, scale=scale)
    for method in _SCALE_FREE:
        expected = mixture_divergence(p, q, method)
        # Each value is a difference of log terms of order 1-10: a few
        # hundred ulps of those terms, absolute.
        assert mixture_divergence(ps, qs, method) == pytest.approx(
            expected, rel=1e-10, abs=1e-12
        ), method
    b, bs = mixture_kl_bounds(p, q), mixture_kl_bounds(ps, qs)
    assert bs.lower == pytest.approx(b.lower, rel=1e-10, abs=1e-12)
    assert bs.upper == pytest.approx(b.upper, rel=1e-10, abs=1e-12)
    mc = mixture_kl_monte_carlo(p, q, 2000, random_state=0)
    mcs = mixture_kl_monte_carlo(ps, qs, 2000, random_state=0)
    assert mcs.estimate == pytest.approx(mc.estimate, rel=1e-9)
    assert mcs.standard_error == pytest.approx(mc.standard_error, rel=1e-6)


@pytest.mark.parametrize("scale", _SCALES)
def test_l2_scales_as_a_squared_density(scale):
    """int (f - g)^2 over x -> s x scales by s^-d (d=2), or is a clear error."""
    p, q = _mixture(seed=0), _mixture(K=4, seed=1)
    ps, qs = _mixture(seed=0, scale=scale), _mixture(K=4, seed=1, scale=scale)
    expected = mixture_divergence(p, q, "l2_squared") / scale**2
    assert mixture_divergence(ps, qs, "l2_squared") == pytest.approx(expected, rel=1e-9)


def test_l2_beyond_float64_is_an_error():
    ps, qs = _mixture(seed=0, scale=1e-160), _mixture(K=4, seed=1, scale=1e-160)
    with pytest.raises(ValueError, match="out of float64 range"):
        mixture_divergence(ps, qs, "l2_squared")
    assert np.isfinite(mixture_divergence(ps, qs, "cauchy_schwarz"))


def test_score_samples_shift_by_log_scale():
    """log f_s(s x) = log f(x) - d log s, exactly in log space."""
    p, ps = _mixture(seed=0), _mixture(seed=0, scale=1e100)
    X = p.sample(5, random_state=0)
    np.testing.assert_allclose(
        ps.score_samples(1e100 * X),
        p.score_samples(X) - 2 * np.log(1e100),
        rtol=1e-12,
    )


# -- item 10: tied mixtures with different covariances ---------------------------


def _tied_fits():
    rng = np.random.default_rng(0)
    X1 = rng.normal(size=(200, 3))
    X2 = rng.normal(size=(200, 3)) @ np.diag([1.0, 2.0, 0.5]) + 1.0
    return [
        GaussianMixture(k, covariance_type="tied", random_state=0).fit(X)
        for k, X in ((2, X1), (3, X2), (2, X2))
    ]


def test_pairwise_of_real_tied_fits():
    """Real tied fits (different shared covariances): was a shape ValueError.

    Synthetic tied families for every method are in test_mixture.py.
    """
    fits = _tied_fits()
    D = pairwise_mixture_divergence(fits, method="kl_upper")
    assert D.shape == (3, 3) and np.all(np.isfinite(D))
    assert D[0, 1] == pytest.approx(
        mixture_divergence(fits[0], fits[1], "kl_upper"), rel=1e-9
    )
