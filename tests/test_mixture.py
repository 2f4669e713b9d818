"""Divergences between Gaussian mixtures (skkl.mixture).

References are computed here, independently of skkl: plain Monte Carlo with
``scipy.stats.multivariate_normal.logpdf`` and ``scipy.special.logsumexp``,
``scipy.integrate.quad`` in one dimension (the exact reference), and
brute-force double sums of ``multivariate_normal.logpdf`` for the overlap
integrals behind the Cauchy-Schwarz divergence and the L2 distance.
"""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from _builders import as_full, random_mixture
from hypothesis import given, settings
from hypothesis import strategies as st
from joblib import parallel_config
from scipy import integrate
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm
from sklearn.datasets import load_wine
from sklearn.decomposition import PCA
from sklearn.mixture import BayesianGaussianMixture, GaussianMixture
from sklearn.preprocessing import StandardScaler

from skkl import (
    Gaussians,
    GroupGaussians,
    Mixture,
    mixture_divergence,
    mixture_js_monte_carlo,
    mixture_kl_bounds,
    mixture_kl_monte_carlo,
    pairwise_mixture_divergence,
)
from skkl.mixture import METHODS

# -- independent references ----------------------------------------------------


def _full_covs(G: Gaussians) -> np.ndarray:
    return as_full(G.covariances, G.covariance_type, *G.means.shape)


def ref_logpdf(mix: Mixture, X: np.ndarray) -> np.ndarray:
    covs = _full_covs(mix.gaussians)
    comps = [
        np.log(w) + multivariate_normal(m, S).logpdf(X).reshape(len(X))
        for w, m, S in zip(mix.weights, mix.gaussians.means, covs, strict=True)
    ]
    return logsumexp(np.column_stack(comps), axis=1)


def ref_sample(mix: Mixture, n: int, rng) -> np.ndarray:
    covs = _full_covs(mix.gaussians)
    counts = rng.multinomial(n, mix.weights)
    parts = [
        rng.multivariate_normal(m, S, size=c)
        for m, S, c in zip(mix.gaussians.means, covs, counts, strict=True)
    ]
    return np.vstack(parts)


def ref_kl_mc(p, q, n, seed):
    """Plain Monte Carlo KL(p || q): mean and standard error."""
    X = ref_sample(p, n, np.random.default_rng(seed))
    h = ref_logpdf(p, X) - ref_logpdf(q, X)
    return h.mean(), h.std(ddof=1) / np.sqrt(n)


def _pdf_1d(mix: Mixture):
    w = mix.weights
    m = mix.gaussians.means[:, 0]
    sd = np.sqrt(_full_covs(mix.gaussians)[:, 0, 0])
    return lambda x: float(np.sum(w * norm.pdf(x, m, sd)))


def _logpdf_1d(mix: Mixture):
    w = mix.weights
    m = mix.gaussians.means[:, 0]
    sd = np.sqrt(_full_covs(mix.gaussians)[:, 0, 0])
    return lambda x: float(logsumexp(np.log(w) + norm.logpdf(x, m, sd)))


def _support(p, q):
    means = np.concatenate([p.gaussians.means[:, 0], q.gaussians.means[:, 0]])
    sds = np.sqrt(
        np.concatenate(
            [_full_covs(p.gaussians)[:, 0, 0], _full_covs(q.gaussians)[:, 0, 0]]
        )
    )
    return means.min() - 14 * sds.max(), means.max() + 14 * sds.max(), means


def quad_kl(p, q):
    lp, lq = _logpdf_1d(p), _logpdf_1d(q)
    lo, hi, pts = _support(p, q)

    def f(x):
        a = lp(x)
        return np.exp(a) * (a - lq(x))

    return integrate.quad(f, lo, hi, points=sorted(pts), limit=500, epsabs=1e-12)[0]


def quad_js(p, q):
    lp, lq = _logpdf_1d(p), _logpdf_1d(q)
    lo, hi, pts = _support(p, q)

    def f(x):
        a, b = lp(x), lq(x)
        m = np.logaddexp(a, b) - np.log(2)
        return 0.5 * (np.exp(a) * (a - m) + np.exp(b) * (b - m))

    return integrate.quad(f, lo, hi, points=sorted(pts), limit=500, epsabs=1e-12)[0]


def quad_products(p, q):
    fp, fq = _pdf_1d(p), _pdf_1d(q)
    lo, hi, pts = _support(p, q)
    kw = {"points": sorted(pts), "limit": 500, "epsabs": 1e-14}
    pq = integrate.quad(lambda x: fp(x) * fq(x), lo, hi, **kw)[0]
    pp = integrate.quad(lambda x: fp(x) ** 2, lo, hi, **kw)[0]
    qq = integrate.quad(lambda x: fq(x) ** 2, lo, hi, **kw)[0]
    return pp, qq, pq


def brute_log_overlap(p, q):
    """log int p q by the double sum over component pairs, one logpdf each."""
    Sp, Sq = _full_covs(p.gaussians), _full_covs(q.gaussians)
    terms = []
    for a in range(len(p)):
        for b in range(len(q)):
            lz = multivariate_normal(p.gaussians.means[a], Sp[a] + Sq[b]).logpdf(
                q.gaussians.means[b]
            )
            terms.append(np.log(p.weights[a]) + np.log(q.weights[b]) + lz)
    return logsumexp(terms)


# -- test mixtures ----------------------------------------------------------------

# (d, K_p, K_q, spread, kind_p, kind_q): overlapping (spread ~ 1) and separated
# (spread >> 1) components; d = 1 cases use quadrature as the exact reference.
CASES = [
    (1, 3, 2, 1.0, "spherical", "spherical"),
    (1, 6, 4, 8.0, "diag", "full"),
    (2, 4, 3, 1.0, "full", "full"),
    (2, 2, 7, 6.0, "diag", "spherical"),
    (8, 10, 8, 1.0, "full", "diag"),
    (8, 6, 6, 5.0, "tied", "tied"),
    (32, 3, 2, 0.5, "spherical", "full"),
    (32, 50, 50, 3.0, "full", "full"),
]
_IDS = [f"d{c[0]}-K{c[1]}x{c[2]}-s{c[3]:g}-{c[4]}-{c[5]}" for c in CASES]


def _pair(case, seed=0):
    d, kp, kq, spread, kind_p, kind_q = case
    rng = np.random.default_rng(1000 + seed + 7 * d + kp)
    p = random_mixture(rng, kp, d, kind_p, spread=spread)
    q = random_mixture(rng, kq, d, kind_q, spread=spread, scale=1.5)
    return p, q


def _reference(case):
    """Exact (quadrature, d = 1) or plain Monte Carlo reference: (value, se)."""
    p, q = _pair(case)
    if case[0] == 1:
        return quad_kl(p, q), 0.0
    d, kp, kq = case[:3]
    # As many reference samples as keep each case to a few seconds (the
    # benchmark runs 10^7-sample references for the report).
    n = int(max(20_000, min(250_000, 1e6 / (kp + kq) * max(1.0, 8.0 / d))))
    return ref_kl_mc(p, q, n, seed=12345)


# -- accuracy -------------------------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("case", CASES, ids=_IDS)
def test_bounds_bracket_reference_and_monte_carlo_agrees(case):
    p, q = _pair(case)
    ref, ref_se = _reference(case)
    tol = 4 * ref_se + 1e-9 * (1 + abs(ref))
    b = mixture_kl_bounds(p, q)
    for name, value in b.lower_bounds.items():
        assert value <= ref + tol, (name, value, ref)
    for name, value in b.upper_bounds.items():
        assert value >= ref - tol, (name, value, ref)
    assert b.lower == max(b.lower_bounds.values())
    assert b.upper == min(b.upper_bounds.values())
    assert mixture_divergence(p, q, "kl_lower") == pytest.approx(b.lower, abs=1e-12)
    assert mixture_divergence(p, q, "kl_upper") == pytest.approx(b.upper, abs=1e-12)
    mc = mixture_kl_monte_carlo(p, q, 20_000, random_state=3)
    z = (mc.estimate - ref) / np.hypot(mc.standard_error, ref_se)
    assert abs(z) < 3, (mc, ref, ref_se)
    assert mc.standard_error <= mc.plain_standard_error * 1.2


def test_monte_carlo_z_scores_over_seeds_d1():
    """Calibration: over 30 seeds the z-scores against quadrature look N(0, 1)."""
    p, q = _pair(CASES[0])
    ref = quad_kl(p, q)
    z = []
    for seed in range(30):
        mc = mixture_kl_monte_carlo(p, q, 2_000, random_state=seed)
        z.append((mc.estimate - ref) / mc.standard_error)
    z = np.array(z)
    assert np.max(np.abs(z)) < 4
    assert 0.5 < np.std(z) < 1.6  # standard errors neither far too small nor large
    assert abs(np.mean(z)) < 3 / np.sqrt(len(z)) * 1.5


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == 1], ids=_IDS[:2])
def test_closed_forms_match_quadrature_d1(case):
    p, q = _pair(case)
    pp, qq, pq = quad_products(p, q)
    cs = -np.log(pq / np.sqrt(pp * qq))
    # Quadrature is accurate to ~1e-10 relative; the closed forms to ~1e-14.
    assert mixture_divergence(p, q, "cauchy_schwarz") == pytest.approx(
        cs, rel=1e-7, abs=1e-10
    )
    l2 = pp + qq - 2 * pq
    assert mixture_divergence(p, q, "l2_squared") == pytest.approx(
        l2, rel=1e-7, abs=1e-10 * pp
    )


@pytest.mark.parametrize("case", [c for c in CASES if c[1] * c[2] <= 100], ids=str)
def test_closed_forms_match_brute_force_double_sums(case):
    p, q = _pair(case)
    lpq, lpp, lqq = (
        brute_log_overlap(p, q),
        brute_log_overlap(p, p),
        brute_log_overlap(q, q),
    )
    cs = 0.5 * (lpp + lqq) - lpq
    # Absolute error of each log overlap ~ eps * (|logdet| + d log 2 pi + maha).
    scale = 1e-11 * (1 + abs(lpq) + abs(lpp) + abs(lqq))
    assert mixture_divergence(p, q, "cauchy_schwarz") == pytest.approx(cs, abs=scale)
    l2 = np.exp(lpp) + np.exp(lqq) - 2 * np.exp(lpq)
    top = np.exp(max(lpp, lqq))
    assert mixture_divergence(p, q, "l2_squared") == pytest.approx(
        l2, abs=scale * top * 10
    )


@pytest.mark.parametrize("case", [c for c in CASES if c[0] == 1], ids=_IDS[:2])
def test_js_monte_carlo_matches_quadrature(case):
    p, q = _pair(case)
    ref = quad_js(p, q)
    r = mixture_js_monte_carlo(p, q, 20_000, random_state=0)
    assert 0 <= ref <= np.log(2)
    assert abs(r.estimate - ref) < 3 * r.standard_error + 1e-12


def test_js_monte_carlo_matches_plain_reference_d8():
    p, q = _pair(CASES[4])
    rng = np.random.default_rng(5)
    n = 50_000
    Xp, Xq = ref_sample(p, n, rng), ref_sample(q, n, rng)
    lpp, lqp = ref_logpdf(p, Xp), ref_logpdf(q, Xp)
    lpq, lqq = ref_logpdf(p, Xq), ref_logpdf(q, Xq)
    hp = np.log(2) + lpp - np.logaddexp(lpp, lqp)
    hq = np.log(2) + lqq - np.logaddexp(lpq, lqq)
    ref = 0.5 * (hp.mean() + hq.mean())
    ref_se = 0.5 * np.hypot(hp.std() / np.sqrt(n), hq.std() / np.sqrt(n))
    r = mixture_js_monte_carlo(p, q, 20_000, random_state=1)
    assert abs(r.estimate - ref) < 3 * np.hypot(r.standard_error, ref_se)


def test_approximations_exact_for_single_gaussians_and_bounds_tight():
    """One component each: KL is the Gaussian KL; variational/matched are exact."""
    rng = np.random.default_rng(0)
    p, q = random_mixture(rng, 1, 5), random_mixture(rng, 1, 5)
    m0, m1 = p.gaussians.means[0], q.gaussians.means[0]
    S0, S1 = p.gaussians.covariances[0], q.gaussians.covariances[0]
    P1 = np.linalg.inv(S1)
    kl = 0.5 * (
        np.trace(P1 @ S0)
        + (m1 - m0) @ P1 @ (m1 - m0)
        - 5
        + np.linalg.slogdet(S1)[1]
        - np.linalg.slogdet(S0)[1]
    )
    assert mixture_divergence(p, q) == pytest.approx(kl, rel=1e-10)
    b = mixture_kl_bounds(p, q)
    assert b.upper_bounds["variational"] == pytest.approx(kl, rel=1e-10)
    assert b.upper_bounds["matched"] == pytest.approx(kl, rel=1e-10)
    mc = mixture_kl_monte_carlo(p, q, 2_000, random_state=0)
    # The controls span the integrand exactly: no Monte Carlo error left.
    assert mc.estimate == pytest.approx(kl, rel=1e-8)
    assert mc.standard_error < 1e-8


def test_identical_mixtures_give_zero():
    p, _ = _pair(CASES[4])
    assert mixture_divergence(p, p) == pytest.approx(0, abs=1e-12)
    assert mixture_divergence(p, p, "kl_product") == pytest.approx(0, abs=1e-12)
    assert mixture_divergence(p, p, "cauchy_schwarz") == pytest.approx(0, abs=1e-12)
    b = mixture_kl_bounds(p, p)
    assert b.lower == 0.0 and b.upper >= 0.0
    mc = mixture_kl_monte_carlo(p, p, 2_000, random_state=0)
    assert mc.estimate == 0.0 and mc.standard_error == 0.0
    js = mixture_js_monte_carlo(p, p, 2_000, random_state=0)
    assert js.estimate == pytest.approx(0, abs=1e-12)


def test_midpoint_of_jensen_bounds_is_mean_of_approximations():
    """Durrieu et al.: (lower + upper) / 2 = (variational + product) / 2."""
    p, q = _pair(CASES[2])
    b = mixture_kl_bounds(p, q)
    mid = 0.5 * (b.lower_bounds["jensen"] + b.upper_bounds["jensen"])
    approx = 0.5 * (mixture_divergence(p, q) + mixture_divergence(p, q, "kl_product"))
    assert mid == pytest.approx(approx, rel=1e-10, abs=1e-12)


def test_monte_carlo_target_error_and_reproducible():
    p, q = _pair(CASES[4])
    a = mixture_kl_monte_carlo(p, q, 200_000, target_error=0.01, random_state=0)
    b = mixture_kl_monte_carlo(p, q, 200_000, target_error=0.01, random_state=0)
    assert a == b
    assert a.n_samples < 200_000
    assert a.standard_error < 0.015  # the pilot's prediction, up to its own noise
    assert a.effective_n_samples == pytest.approx(a.n_samples * a.variance_reduction)
    lo, hi = a.confidence_interval(0.95)
    assert lo < a.estimate < hi
    with pytest.raises(ValueError, match="level"):
        a.confidence_interval(1.5)


def test_variance_reduction_on_separated_components():
    p, q = _pair(CASES[7])
    mc = mixture_kl_monte_carlo(p, q, 10_000, random_state=0)
    assert mc.variance_reduction > 10


# -- constructors ---------------------------------------------------------------


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("cls", [GaussianMixture, BayesianGaussianMixture])
def test_from_estimator_matches_sklearn_score_samples(cls, kind):
    X = StandardScaler().fit_transform(load_wine().data)[:, :5]
    est = cls(n_components=3, covariance_type=kind, random_state=0, max_iter=300)
    est.fit(X)
    mix = Mixture.from_estimator(est)
    assert mix.n_components == 3 and mix.covariance_type == kind
    if cls is GaussianMixture:
        # (BayesianGaussianMixture.score_samples is a variational expectation,
        # not the density of its point estimate.)
        np.testing.assert_allclose(
            mix.score_samples(X), est.score_samples(X), rtol=1e-9
        )
    np.testing.assert_allclose(mix.score_samples(X), ref_logpdf(mix, X), rtol=1e-9)
    # The estimators themselves are accepted wherever a Mixture is.
    assert mixture_divergence(est, mix) == pytest.approx(0, abs=1e-10)


def test_from_estimator_min_weight_drops_unused_components():
    X = StandardScaler().fit_transform(load_wine().data)[:, :3]
    bgm = BayesianGaussianMixture(
        n_components=5, weight_concentration_prior=1e-3, random_state=0
    ).fit(X)
    small = bgm.weights_ < 0.01
    assert small.any()
    mix = Mixture.from_estimator(bgm, min_weight=0.01)
    assert mix.n_components == (~small).sum()
    assert mix.weights.sum() == pytest.approx(1.0)
    with pytest.raises(ValueError, match="min_weight"):
        Mixture.from_estimator(bgm, min_weight=0.999)


@pytest.mark.parametrize("kind", ["full", "tied", "diag", "spherical"])
def test_from_group_gaussians(kind):
    data = load_wine()
    X = StandardScaler().fit_transform(data.data)[:, :4]
    gg = GroupGaussians(covariance_type=kind).fit(X, data.target)
    mix = Mixture.from_estimator(gg)
    np.testing.assert_allclose(mix.weights, np.bincount(data.target) / len(X))
    np.testing.assert_allclose(mix.score_samples(X), ref_logpdf(mix, X), rtol=1e-9)


def test_class_conditional_mixtures_on_digits():
    """Data we did not generate: digits (constant pixels) after PCA."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    Z = PCA(8, random_state=0).fit_transform(X)
    fits = [GaussianMixture(3, random_state=0).fit(Z[y == c]) for c in (1, 7)]
    p, q = (Mixture.from_estimator(f) for f in fits)
    b = mixture_kl_bounds(p, q)
    mc = mixture_kl_monte_carlo(p, q, 20_000, random_state=0)
    assert b.lower - 4 * mc.standard_error <= mc.estimate
    assert mc.estimate <= b.upper + 4 * mc.standard_error


def test_unfitted_estimator_and_wrong_types():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        Mixture.from_estimator(GaussianMixture(2))
    with pytest.raises(NotFittedError):
        Mixture.from_estimator(GroupGaussians())
    with pytest.raises(TypeError, match="estimator"):
        Mixture.from_estimator(object())
    with pytest.raises(TypeError, match="gaussians"):
        Mixture([1.0], np.zeros((1, 2)))
    with pytest.raises(TypeError, match="p must be"):
        mixture_divergence(
            "nope", Mixture([1.0], Gaussians([[0.0]], [1.0], "spherical"))
        )


# -- errors -----------------------------------------------------------------------


def _g(K, d=2):
    return Gaussians(np.zeros((K, d)), np.ones(K), "spherical")


def test_weights_errors_and_renormalisation():
    w = np.array([0.25, 0.75 + 5e-11])
    m = Mixture(w, _g(2))
    assert m.weights.sum() == pytest.approx(1.0, abs=1e-15)
    assert w[1] == 0.75 + 5e-11  # input untouched
    with pytest.raises(ValueError, match="weights sum to 1.1"):
        Mixture([0.5, 0.6], _g(2))
    with pytest.raises(ValueError, match=r"weights\[1\] = 0.0"):
        Mixture([1.0, 0.0], _g(2))
    with pytest.raises(ValueError, match=r"weights\[0\] = -0.5"):
        Mixture([-0.5, 1.5], _g(2))
    with pytest.raises(ValueError, match=r"weights must have shape \(2,\)"):
        Mixture([1.0], _g(2))
    with pytest.raises(ValueError, match=r"weights\[0\] is not finite"):
        Mixture([np.nan, 1.0], _g(2))


def test_non_pd_components_name_the_argument():
    bad = np.array([[[1.0, 2.0], [2.0, 1.0]]])
    with pytest.raises(ValueError, match=r"covariances\[0\] is not positive definite"):
        Mixture([1.0], Gaussians(np.zeros((1, 2)), bad))
    gm = GaussianMixture(1).fit(np.random.default_rng(0).normal(size=(50, 2)))
    gm.covariances_ = bad
    with pytest.raises(ValueError, match=r"GaussianMixture.covariances_"):
        Mixture.from_estimator(gm)


def test_dimension_mismatch_and_budget_errors():
    p, q = Mixture([1.0], _g(1, 2)), Mixture([1.0], _g(1, 3))
    for method in METHODS:
        with pytest.raises(ValueError, match="p has 2 features but q has 3"):
            mixture_divergence(p, q, method)
    with pytest.raises(ValueError, match="p has 2 features"):
        mixture_kl_monte_carlo(p, q)
    with pytest.raises(ValueError, match=r"Q\[0\]|P has 2 features"):
        pairwise_mixture_divergence([p], [q])
    with pytest.raises(ValueError, match=r"P\[1\] has 3 features"):
        pairwise_mixture_divergence([p, q])
    big = Mixture(np.full(10, 0.1), _g(10))
    with pytest.raises(ValueError, match="n_samples=100 is too small"):
        mixture_kl_monte_carlo(big, big, 100)
    with pytest.raises(ValueError, match="n_samples"):
        mixture_kl_monte_carlo(big, big, 0)
    with pytest.raises(ValueError, match="method"):
        mixture_divergence(big, big, "kl")
    with pytest.raises(ValueError, match="P is empty"):
        pairwise_mixture_divergence([])
    with pytest.raises(TypeError, match="list of skkl.Mixture"):
        pairwise_mixture_divergence(big)


def test_l2_out_of_range_is_an_error_not_zero():
    d = 200
    p = Mixture([1.0], Gaussians(np.zeros((1, d)), [100.0], "spherical"))
    q = Mixture([1.0], Gaussians(np.ones((1, d)), [100.0], "spherical"))
    with pytest.raises(ValueError, match="cauchy_schwarz"):
        mixture_divergence(p, q, "l2_squared")
    assert np.isfinite(mixture_divergence(p, q, "cauchy_schwarz"))


# -- all pairs ----------------------------------------------------------------------


def _family(n=5, d=3):
    rng = np.random.default_rng(7)
    kinds = ["full", "diag", "spherical", "tied", "full"]
    return [
        random_mixture(rng, int(rng.integers(1, 5)), d, kinds[i % 5], spread=2.0)
        for i in range(n)
    ]


def _tied_family(n=3, d=3):
    """Tied mixtures, each with its own shared covariance, and two sharing one.

    Pairwise on these raised a shape ValueError (issue 24, item 10).
    """
    rng = np.random.default_rng(11)
    P = [
        random_mixture(rng, int(rng.integers(2, 5)), d, "tied", spread=2.0)
        for _ in range(n)
    ]
    P.append(Mixture([0.5, 0.5], P[0].gaussians[:2]))
    return P


@pytest.mark.parametrize("family", [_family, _tied_family], ids=["mixed", "tied"])
@pytest.mark.parametrize("method", sorted(METHODS))
def test_pairwise_matches_pairs(method, family):
    """Plumbing: the all-pairs engine against the single-pair calls."""
    P = family()
    D = pairwise_mixture_divergence(P, method=method)
    assert np.all(np.diag(D) == 0)
    for i, p in enumerate(P):
        for j, q in enumerate(P):
            if i != j:
                assert D[i, j] == pytest.approx(
                    mixture_divergence(p, q, method), rel=1e-9, abs=1e-12
                )


def test_pairwise_chunked_and_parallel_agree():
    """Plumbing: block size and workers do not change the matrix."""
    P = _family(6)
    Q = _family(4, 3)[::-1]
    full = pairwise_mixture_divergence(P, Q, "kl_upper")
    tiny = pairwise_mixture_divergence(P, Q, "kl_upper", working_memory=1e-4)
    with parallel_config(backend="threading"):
        par = pairwise_mixture_divergence(
            P, Q, "kl_upper", n_jobs=2, working_memory=1e-4
        )
    np.testing.assert_allclose(tiny, full, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(par, full, rtol=1e-12, atol=1e-14)
    assert full.shape == (6, 4)


def test_pairwise_cs_is_symmetric_and_matches_brute_force():
    P = _family(4, 2)
    D = pairwise_mixture_divergence(P, method="cauchy_schwarz")
    np.testing.assert_allclose(D, D.T, atol=1e-12)
    for i in range(4):
        for j in range(4):
            if i != j:
                ref = 0.5 * (
                    brute_log_overlap(P[i], P[i]) + brute_log_overlap(P[j], P[j])
                ) - brute_log_overlap(P[i], P[j])
                assert D[i, j] == pytest.approx(ref, abs=1e-11)


@settings(max_examples=20)
@given(
    w=st.floats(0.01, 0.99),
    shift=st.floats(-5, 5),
    scale=st.floats(0.1, 10),
)
def test_bounds_order_and_cs_properties(w, shift, scale):
    G = Gaussians([[0.0], [2.0]], [1.0, 0.5], "spherical")
    H = Gaussians([[shift], [shift + 1.0]], [scale, 1.0], "spherical")
    p, q = Mixture([w, 1 - w], G), Mixture([0.5, 0.5], H)
    b = mixture_kl_bounds(p, q)
    assert 0 <= b.lower <= b.upper
    cs = mixture_divergence(p, q, "cauchy_schwarz")
    assert cs >= 0
    assert cs == pytest.approx(mixture_divergence(q, p, "cauchy_schwarz"), abs=1e-12)


# -- the Mixture type ------------------------------------------------------------


def test_sample_moments_and_pickle():
    p, _ = _pair(CASES[2])
    X = p.sample(40_000, random_state=0)
    mean = p.weights @ p.gaussians.means
    cov = sum(
        w * (S + np.outer(m - mean, m - mean))
        for w, m, S in zip(
            p.weights, p.gaussians.means, _full_covs(p.gaussians), strict=True
        )
    )
    se = np.sqrt(np.diag(cov) / len(X))
    assert np.all(np.abs(X.mean(0) - mean) < 5 * se)
    with pytest.raises(AttributeError, match="immutable"):
        p.weights = np.ones(4) / 4
    q = pickle.loads(pickle.dumps(p))
    np.testing.assert_array_equal(q.score_samples(X[:10]), p.score_samples(X[:10]))
    with pytest.raises(ValueError, match="n_samples"):
        p.sample(0)
    with pytest.raises(ValueError, match=r"X must have shape \(n, 2\)"):
        p.score_samples(np.zeros((3, 4)))


def test_score_samples_far_from_every_component():
    """Log space: no underflow where every density is below 1e-308."""
    p, _ = _pair(CASES[6])
    X = np.full((2, 32), 100.0)
    np.testing.assert_allclose(p.score_samples(X), ref_logpdf(p, X), rtol=1e-10)
    assert np.all(p.score_samples(X) < -1000)
