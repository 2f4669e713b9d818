"""Divergences between Gaussian mixtures: speed against the usual recipe, accuracy.

Speed (side by side in one run), at every size of ``SIZES``: two related
full-covariance ``GaussianMixture`` (as fitted to two data sets; built from
their parameters to keep the run short), K_p and K_q components in d
dimensions, from 3 x 4 components at d=2 to 50 x 50 at d=32, separated and,
at the largest size, overlapping. The floor is the recipe most users copy (a
public Q&A answer with 12k+ views): sample 10^5 points from p and average
``p.score_samples(X) - q.score_samples(X)``, with no error bar. Against it:

- skkl's approximations, provable bounds and exact Cauchy-Schwarz
  divergence, each call starting from the fitted estimators
  (``Mixture.from_estimator`` and its validation timed, no cache reused);
- ``skkl.mixture_kl_monte_carlo`` asked for the recipe's standard error
  (``target_error``); if it misses it, its time is scaled up by the variance
  ratio (cost is linear in the number of draws) before the ratio is taken.

Targets: every closed-form call >= 100x faster than the recipe at every
size, ``mixture_kl_bounds`` on 3 x 4 components at d=2 <= 1 ms; Monte Carlo
>= 5x faster at equal standard error. Times are the minimum over repeats:
``--repeat`` for the recipe, at least 5 runs and 0.3 s of them for every
skkl call (on a loaded machine a few runs are not enough for a minimum).

Accuracy: on mixtures generated here (d in {1, 2, 8, 32}, 2-50 components,
overlapping and separated), every bound is checked against a plain Monte
Carlo reference computed with numpy alone (Cholesky log-densities,
log-sum-exp; 10^7 draws, 10^6 for the d=32 / 50-component case unless
``--full``) or, for d=1, ``scipy.integrate.quad``; the table gives each
bound, whether they bracket the reference, the approximation errors and
the Monte Carlo z-score.

Usage::

    python benchmarks/bench_mixture.py [--quick] [--full] [--repeat N] [--speed-only]

The BLAS library, kernel and thread count and the load average are printed.
It times only public calls, so it runs unchanged against an older checkout
(``PYTHONPATH=/path/to/old python benchmarks/bench_mixture.py``) for a
before/after table.
"""

from __future__ import annotations

import argparse
import os
import time
import tracemalloc

import numpy as np
from scipy import integrate
from scipy.linalg import solve_triangular
from scipy.special import logsumexp
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_info

import skkl
from skkl import (
    Gaussians,
    Mixture,
    mixture_divergence,
    mixture_kl_bounds,
    mixture_kl_monte_carlo,
)

# (K_p, K_q, d, spread of the means): separated components, and overlapping
# ones at the largest size.
SIZES = [
    (3, 4, 2, 1.5),
    (10, 8, 8, 1.5),
    (20, 20, 16, 1.5),
    (50, 50, 32, 1.5),
    (50, 50, 32, 0.25),
]
METHOD_ROWS = [
    "kl_variational",
    "kl_product",
    "kl_upper",
    "kl_lower",
    "mixture_kl_bounds",
    "cauchy_schwarz",
]
# Sub-millisecond calls are repeated until this much time has passed (and at
# least 5 times), so that their minimum is not one scheduler slice.
_MIN_TOTAL_S = 0.3

# -- speed ----------------------------------------------------------------------


def as_sklearn(weights, means, covs):
    """A GaussianMixture holding these parameters, as ``fit`` would leave it."""
    K, d = means.shape
    gm = GaussianMixture(K, covariance_type="full")
    gm.weights_, gm.means_, gm.covariances_ = weights, means, covs
    L = np.linalg.cholesky(covs)
    eye = np.eye(d)
    gm.precisions_cholesky_ = np.stack(
        [solve_triangular(Lk, eye, lower=True).T for Lk in L]
    )
    gm.precisions_ = gm.precisions_cholesky_ @ gm.precisions_cholesky_.transpose(
        0, 2, 1
    )
    gm.n_features_in_ = d
    gm.converged_, gm.n_iter_, gm.lower_bound_ = True, 1, 0.0
    return gm


def fitted_pair(K=50, d=32, spread=1.5, seed=0, K_q=None):
    """Two related mixtures (K and K_q components), as fitted to two data sets.

    q's components are p's (the first K_q, cycled if K_q > K) with their
    means moved by N(0, 0.3^2), covariances rotated and scaled by up to ~10%
    and weights re-drawn around p's.
    """
    K_q = K if K_q is None else K_q
    rng = np.random.default_rng(seed)
    w = rng.dirichlet(np.full(K, 5.0))
    means = rng.normal(scale=spread, size=(K, d))
    A = rng.normal(size=(K, d, d))
    covs = A @ A.transpose(0, 2, 1) / d + 0.2 * np.eye(d)
    take = np.arange(K_q) % K
    E = np.eye(d) + 0.1 * rng.normal(size=(K_q, d, d)) / np.sqrt(d)
    covs_q = E @ covs[take] @ E.transpose(0, 2, 1)
    w_q = rng.dirichlet(200 * w[take] / w[take].sum())
    means_q = means[take] + 0.3 * rng.normal(size=(K_q, d))
    return as_sklearn(w, means, covs), as_sklearn(w_q, means_q, covs_q)


def recipe(gp, gq, n=100_000):
    X, _ = gp.sample(n)
    h = gp.score_samples(X) - gq.score_samples(X)
    return h.mean(), h.std(ddof=1) / np.sqrt(n)


def timed(fn, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return float(np.min(times)), float(np.median(times)), out


def timed_fast(fn):
    """Minimum time of ``fn`` over at least 5 runs and ``_MIN_TOTAL_S``."""
    times, out, start = [], None, time.perf_counter()
    while len(times) < 5 or time.perf_counter() - start < _MIN_TOTAL_S:
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
        if len(times) >= 2000:
            break
    return float(np.min(times)), out


def _call(name):
    if name == "mixture_kl_bounds":
        return mixture_kl_bounds
    return lambda p, q: mixture_divergence(p, q, name)


def speed(kp, kq, d, spread, repeat):
    """One size: the recipe, every closed form and Monte Carlo; the ratios."""
    gp, gq = fitted_pair(K=kp, d=d, spread=spread, K_q=kq)
    label = "separated" if spread >= 1 else "overlapping"
    print(
        f"\n== speed: {kp} x {kq} full-covariance components, d={d}, {label} "
        f"(means spread {spread}) =="
    )
    t_rec, t_rec_med, (est, se) = timed(lambda: recipe(gp, gq), repeat)
    print(
        f"recipe (10^5 samples, score_samples): {t_rec * 1e3:9.1f} ms "
        f"(median {t_rec_med * 1e3:.1f}); KL = {est:.4f} +- {se:.4f}"
    )
    print(f"{'method':28s} {'time':>10s} {'recipe/skkl':>12s} {'target':>8s} value")
    ratios = {}
    for name in METHOD_ROWS:
        fn = _call(name)
        t, value = timed_fast(
            lambda fn=fn: fn(Mixture.from_estimator(gp), Mixture.from_estimator(gq))
        )
        ratios[name] = ratio = t_rec / t
        if isinstance(value, float):
            shown = f"{value:.4f}"
        else:
            shown = f"[{value.lower:.4f}, {value.upper:.4f}]"
        met = ratio >= 100 and (
            name != "mixture_kl_bounds" or (kp, kq, d) != (3, 4, 2) or t <= 1e-3
        )
        print(
            f"{name:28s} {t * 1e3:8.3f}ms {ratio:11.0f}x "
            f"{'met' if met else 'MISSED':>8s} {shown}"
        )

    def mc():
        p, q = Mixture.from_estimator(gp), Mixture.from_estimator(gq)
        return mixture_kl_monte_carlo(
            p, q, 10**6, target_error=se, random_state=np.random.default_rng(1)
        )

    t_mc, r = timed_fast(mc)
    tracemalloc.start()
    mc()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    # Cost is at least linear in the draws: when the estimate missed the
    # recipe's error, scale its time up to equal error; when it beat it, the
    # plain ratio understates the gain.
    scale = max(1.0, (r.standard_error / se) ** 2)
    ratios["monte carlo @ recipe SE"] = ratio = t_rec / (t_mc * scale)
    print(
        f"{'monte carlo @ recipe SE':28s} {t_mc * 1e3:8.3f}ms {ratio:11.1f}x "
        f"{'met' if ratio >= 5 else 'MISSED':>8s} {r.estimate:.4f} +- "
        f"{r.standard_error:.4f} ({r.n_samples} draws, variance reduction "
        f"{r.variance_reduction:.3g}x, peak {peak / 2**20:.0f} MiB)"
    )
    return ratios


def summary(all_ratios):
    """Ratios (recipe time / skkl time) of every call at every size."""
    names = METHOD_ROWS + ["monte carlo @ recipe SE"]
    heads = [f"{kp}x{kq} d={d} s={s:g}" for kp, kq, d, s in all_ratios]
    print("\n== summary: recipe time / skkl time (targets: 100x; Monte Carlo 5x) ==")
    print(f"{'method':26s}" + "".join(f"{h:>20s}" for h in heads))
    for name in names:
        cells = "".join(f"{r[name]:19.0f}x" for r in all_ratios.values())
        print(f"{name:26s}{cells}")


# -- accuracy ---------------------------------------------------------------------


def make_mixture(rng, K, d, spread, kind="full", scale=1.0):
    w = rng.dirichlet(np.ones(K)) * 0.9 + 0.1 / K
    means = rng.normal(scale=spread, size=(K, d))
    if kind == "full":
        A = rng.normal(size=(K, d, d))
        cov = scale * (A @ A.transpose(0, 2, 1) / d + 0.2 * np.eye(d))
    elif kind == "diag":
        cov = scale * rng.uniform(0.3, 2.0, size=(K, d))
    else:
        cov = scale * rng.uniform(0.3, 2.0, size=K)
    return Mixture(w / w.sum(), Gaussians(means, cov, kind))


def _params(mix):
    """Weights, means and full covariances as plain arrays (no skkl code)."""
    G = mix.gaussians
    K, d = G.means.shape
    if G.covariance_type == "full":
        S = np.array(G.covariances)
    elif G.covariance_type == "diag":
        S = np.stack([np.diag(v) for v in G.covariances])
    else:
        S = np.stack([v * np.eye(d) for v in G.covariances])
    return np.array(mix.weights), np.array(G.means), S


def ref_logpdf(params, X):
    w, M, S = params
    d = X.shape[1]
    cols = []
    for wk, m, Sk in zip(w, M, S, strict=True):
        L = np.linalg.cholesky(Sk)
        z = solve_triangular(L, (X - m).T, lower=True)
        ld = 2 * np.log(np.diag(L)).sum()
        cols.append(np.log(wk) - 0.5 * (d * np.log(2 * np.pi) + ld + (z * z).sum(0)))
    return logsumexp(np.column_stack(cols), axis=1)


def ref_kl(p, q, n, seed, chunk=500_000):
    pp, pq = _params(p), _params(q)
    rng = np.random.default_rng(seed)
    total, total2, done = 0.0, 0.0, 0
    while done < n:
        m = min(chunk, n - done)
        counts = rng.multinomial(m, pp[0])
        X = np.vstack(
            [
                mu + rng.standard_normal((c, len(mu))) @ np.linalg.cholesky(S).T
                for mu, S, c in zip(pp[1], pp[2], counts, strict=True)
            ]
        )
        h = ref_logpdf(pp, X) - ref_logpdf(pq, X)
        total += h.sum()
        total2 += (h * h).sum()
        done += m
    mean = total / n
    return mean, np.sqrt((total2 / n - mean**2) / n)


def quad_kl(p, q):
    pp, pq = _params(p), _params(q)

    def logpdf(params, x):
        return ref_logpdf(params, np.array([[x]]))[0]

    lo = min(pp[1].min(), pq[1].min()) - 14 * np.sqrt(max(pp[2].max(), pq[2].max()))
    hi = max(pp[1].max(), pq[1].max()) + 14 * np.sqrt(max(pp[2].max(), pq[2].max()))

    def f(x):
        a = logpdf(pp, x)
        return np.exp(a) * (a - logpdf(pq, x))

    pts = sorted(np.concatenate([pp[1].ravel(), pq[1].ravel()]))
    return integrate.quad(f, lo, hi, points=pts, limit=500, epsabs=1e-12)[0]


CASES = [
    (1, 3, 2, 1.0, "spherical"),
    (1, 8, 5, 6.0, "diag"),
    (2, 4, 3, 1.0, "full"),
    (2, 6, 6, 5.0, "full"),
    (8, 10, 8, 1.0, "full"),
    (8, 20, 15, 4.0, "diag"),
    (32, 3, 2, 0.5, "full"),
    (32, 50, 50, 3.0, "full"),
]


def accuracy(n_ref, n_big, quick):
    print(f"\n== accuracy: reference = quad (d=1) or plain MC (n={n_ref:.0e}) ==")
    head = (
        "case",
        "reference",
        "lower",
        "upper",
        "bracket",
        "variational",
        "product",
        "MC (2e4) z",
    )
    print("{:22s} {:>18s} {:>9s} {:>9s} {:>7s} {:>12s} {:>12s} {:>10s}".format(*head))
    for d, kp, kq, spread, kind in CASES:
        if quick and d == 32 and kp == 50:
            continue
        rng = np.random.default_rng(100 * d + kp)
        p = make_mixture(rng, kp, d, spread, kind)
        q = make_mixture(rng, kq, d, spread, kind, scale=1.5)
        if d == 1:
            ref, ref_se = quad_kl(p, q), 0.0
        else:
            n = n_big if kp * kq > 1000 else n_ref
            ref, ref_se = ref_kl(p, q, n, seed=7)
        b = mixture_kl_bounds(p, q)
        tol = 4 * ref_se + 1e-9 * (1 + abs(ref))
        ok = all(v <= ref + tol for v in b.lower_bounds.values()) and all(
            v >= ref - tol for v in b.upper_bounds.values()
        )
        var = mixture_divergence(p, q, "kl_variational")
        prod = mixture_divergence(p, q, "kl_product")
        mc = mixture_kl_monte_carlo(p, q, 20_000, random_state=3)
        z = (mc.estimate - ref) / np.hypot(mc.standard_error, ref_se)
        name = f"d{d} K{kp}x{kq} s{spread:g} {kind}"
        print(
            f"{name:22s} {ref:9.4f}+-{ref_se:7.4f} {b.lower:9.4f} {b.upper:9.4f} "
            f"{'yes' if ok else 'NO':>7s} {var - ref:+12.4f} {prod - ref:+12.4f} "
            f"{z:+10.2f}"
        )
        detail = ", ".join(
            [f"L_{k}={v:.4f}" for k, v in b.lower_bounds.items()]
            + [f"U_{k}={v:.4f}" for k, v in b.upper_bounds.items()]
        )
        print(f"    {detail}; MC VR {mc.variance_reduction:.0f}x")


def _environment():
    for info in threadpool_info():
        print(
            f"BLAS: {info['internal_api']} {info.get('version')} kernel="
            f"{info.get('architecture')} threads={info['num_threads']}"
        )
    print(f"skkl from {os.path.dirname(skkl.__file__)}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small references")
    parser.add_argument("--full", action="store_true", help="10^7 everywhere")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--speed-only", action="store_true", help="skip accuracy")
    args = parser.parse_args()
    _environment()
    start = time.perf_counter()
    repeat = 1 if args.quick else args.repeat
    all_ratios = {size: speed(*size, repeat) for size in SIZES}
    summary(all_ratios)
    if not args.speed_only:
        n_ref = 10**5 if args.quick else 10**7
        n_big = n_ref if args.full else min(n_ref, 10**6)
        accuracy(n_ref, n_big, args.quick)
    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"total time {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
