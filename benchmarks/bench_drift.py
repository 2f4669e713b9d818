"""Drift detection: power curves and runtime of GaussianDriftDetector vs peers.

Peers, all measured side by side in one run:

* a permutation MMD test with an RBF kernel and the median heuristic, written
  in numpy as alibi-detect's ``MMDDrift`` does it (kernel computed once,
  re-indexed per permutation, 100 permutations, unbiased MMD^2);
* Hotelling's T^2 (exact F test);
* each of skkl's statistics ('combined', 'lrt', 'mean', 'covariance'), all
  from the same permutations.

Shift types (the issue's three, then two dense ones that guard the default
combination against over-fitting them): a mean shift of ``delta`` (in sd) in
every feature; the variance of feature 0 multiplied by ``1 + delta``;
correlation ``delta`` between features 0 and 1; every variance multiplied by
``1 + delta`` ('scale_all'); correlation ``delta`` between every pair
('equicorr').

``--variants`` prints, on the same data sets, the power of the candidate
combinations of the permutation parts that were compared to choose the
default 'combined' statistic (weighted Tippett over the parts of
``skkl.drift._permutation.PARTS``; Fisher's combination was also compared
when the default was chosen and lost a third of the power on mean shifts).

Run ``python benchmarks/bench_drift.py [--quick] [--variants]``; the full run
takes about 8 minutes on 2 cores (the MMD at n=2000 dominates), ``--quick``
about 1 minute.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from scipy import stats
from threadpoolctl import threadpool_info

from skkl import GaussianDriftDetector
from skkl.drift._combine import npc, perm_p_value
from skkl.drift._engines import SplitSampler
from skkl.drift._permutation import (
    PARTS,
    STATISTICS,
    MomentSpec,
    moment_parts,
    pooled_ridge,
    split_sums,
)

ALPHA = 0.05
SKKL = ("combined", "lrt", "mean", "covariance")

# Candidate combinations: name -> ({part: weight}, how). 'current' is the
# default (skkl.drift._permutation.STATISTICS); 'previous' the one it replaced.
VARIANTS = {
    "previous: mean .5, cov .25, var_max .25": (
        {"mean": 0.5, "covariance": 0.25, "variance_max": 0.25},
        "tippett",
    ),
    "mean .5, var_max .25, corr_max .25": (
        {"mean": 0.5, "variance_max": 0.25, "correlation_max": 0.25},
        "tippett",
    ),
    "mean .5, var_max .2, var .1, corr .2": (
        {"mean": 0.5, "variance_max": 0.2, "variance": 0.1, "correlation": 0.2},
        "tippett",
    ),
    "mean .6, var_max .15, corr_max .15, cov .1": (
        {"mean": 0.6, "variance_max": 0.15, "correlation_max": 0.15, "covariance": 0.1},
        "tippett",
    ),
    "mean .7, var_max .15, corr_max .15": (
        {"mean": 0.7, "variance_max": 0.15, "correlation_max": 0.15},
        "tippett",
    ),
    "current: mean .6, var_max/corr_max/var/corr .1": (
        {
            "mean": 0.6,
            "variance_max": 0.1,
            "correlation_max": 0.1,
            "variance": 0.1,
            "correlation": 0.1,
        },
        "tippett",
    ),
    "mean .5, var_max/corr_max/var .1, corr .2": (
        {
            "mean": 0.5,
            "variance_max": 0.1,
            "correlation_max": 0.1,
            "variance": 0.1,
            "correlation": 0.2,
        },
        "tippett",
    ),
}


# -- peers -----------------------------------------------------------------------


def rbf_kernel_median(X, Y):
    """RBF kernel on the pooled sample, bandwidth by alibi-detect's median rule."""
    Z = np.vstack([X, Y])
    sq = np.einsum("ij,ij->i", Z, Z)
    D = np.maximum(sq[:, None] + sq[None, :] - 2 * Z @ Z.T, 0)
    m = X.shape[0]
    sigma2 = 0.5 * np.median(D[:m, m:])
    return np.exp(-D / (2 * sigma2))


def mmd2_unbiased(K, m):
    n = K.shape[0] - m
    kxx, kyy, kxy = K[:m, :m], K[m:, m:], K[:m, m:]
    return (
        (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
        + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
        - 2 * kxy.mean()
    )


def mmd_test_reindex(X, Y, n_permutations=100, seed=0):
    """alibi-detect style: one kernel, ``K[idx][:, idx]`` per permutation."""
    rng = np.random.default_rng(seed)
    K = rbf_kernel_median(X, Y)
    m, N = X.shape[0], K.shape[0]
    obs = mmd2_unbiased(K, m)
    null = np.empty(n_permutations)
    for b in range(n_permutations):
        idx = rng.permutation(N)
        null[b] = mmd2_unbiased(K[idx][:, idx], m)
    return (1 + np.count_nonzero(null >= obs)) / (1 + n_permutations)


def mmd_test_gemm(X, Y, n_permutations=100, seed=0):
    """The same test (same statistic, same permutation law), as one GEMM.

    With membership vectors a (group X) the block sums are a'Ka, a'K1 and
    1'K1, so all permutations cost one (N x N) @ (N x B) product; used for
    the power study to keep the run short. RBF kernels have unit diagonal.
    """
    rng = np.random.default_rng(seed)
    K = rbf_kernel_median(X, Y)
    m, N = X.shape[0], K.shape[0]
    n = N - m
    A = np.zeros((N, n_permutations + 1))
    A[:m, 0] = 1
    for b in range(n_permutations):
        A[rng.permutation(N)[:m], b + 1] = 1
    KA = K @ A
    k1 = K.sum(axis=1)
    sxx = np.einsum("ib,ib->b", A, KA)
    sx1 = A.T @ k1
    syy = k1.sum() - 2 * sx1 + sxx
    sxy = sx1 - sxx
    mmd = (sxx - m) / (m * (m - 1)) + (syy - n) / (n * (n - 1)) - 2 * sxy / (m * n)
    return (1 + np.count_nonzero(mmd[1:] >= mmd[0])) / (1 + n_permutations)


def hotelling_p(X, Y):
    n1, n2 = len(X), len(Y)
    N, d = n1 + n2, X.shape[1]
    diff = X.mean(axis=0) - Y.mean(axis=0)
    Sp = ((n1 - 1) * np.cov(X.T) + (n2 - 1) * np.cov(Y.T)) / (N - 2)
    t2 = n1 * n2 / N * diff @ np.linalg.solve(Sp, diff)
    return stats.f.sf((N - d - 1) / (d * (N - 2)) * t2, d, N - d - 1)


def _engine_parts(X, Y, B, seed):
    """The moment engine's parts of the observed split and B permutations.

    The same calls as ``GaussianDriftDetector.test`` with the moment engine
    (which ``method='auto'`` picks at these sizes): pooled centring, random
    memberships, one product per block of rows.
    """
    Z = np.vstack([X, Y])
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    M = SplitSampler(len(Z), len(X), B, seed).all()
    spec = MomentSpec(X.shape[1], "full")
    S1, total = split_sums(Z, np.ones(len(Z)), M, spec)
    return moment_parts(S1, total, spec, None, pooled_ridge(total, spec))


def _statistic(parts, statistic, weights=None):
    weights = STATISTICS[statistic] if weights is None else weights
    cols = [PARTS.index(k) for k in weights]
    if len(cols) == 1:
        return parts[:, cols[0]]
    return npc(parts[:, cols], np.array(list(weights.values())))


def skkl_pvalues(X, Y, B, seed, variants=False):
    """p-values of every skkl statistic (and variant) from one set of permutations."""
    parts = _engine_parts(X, Y, B, seed)
    out = {}
    for s in SKKL:
        v = _statistic(parts, s)
        out[s] = perm_p_value(v[0], v[1:])
    for name, (spec_w, _how) in VARIANTS.items() if variants else ():
        v = _statistic(parts, None, spec_w)
        out[name] = perm_p_value(v[0], v[1:])
    return out


# -- data --------------------------------------------------------------------------


def draw(rng, n, d, shift, delta):
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, d))
    if shift == "mean":
        Y += delta
    elif shift == "variance":
        Y[:, 0] *= np.sqrt(1 + delta)
    elif shift == "scale_all":
        Y *= np.sqrt(1 + delta)
    else:
        C = np.eye(d)
        if shift == "correlation":
            C[0, 1] = C[1, 0] = delta
        else:  # equicorr
            C[:] = delta
            np.fill_diagonal(C, 1.0)
        Y = Y @ np.linalg.cholesky(C).T
    return X, Y


def power(n, d, shift, delta, R, B, seed=0, variants=False, mmd=True):
    rng = np.random.default_rng(seed)
    rej = {}
    for r in range(R):
        X, Y = draw(rng, n, d, shift, delta)
        pvals = skkl_pvalues(X, Y, B, r, variants)
        pvals["hotelling"] = hotelling_p(X, Y)
        if mmd:
            pvals["mmd"] = mmd_test_gemm(X, Y, 100, r)
        for k, p in pvals.items():
            rej[k] = rej.get(k, 0) + (p < ALPHA)
    return {k: v / R for k, v in rej.items()}


def print_power_table(title, n, d, grid, R, B):
    names = [*SKKL, "hotelling", "mmd"]
    print(f"\n## {title}: n={n}+{n}, d={d}, R={R}, skkl B={B}, MMD B=100")
    print("| shift | size | " + " | ".join(names) + " |")
    print("|---" * (len(names) + 2) + "|")
    for shift, deltas in grid.items():
        for delta in deltas:
            t0 = time.perf_counter()
            res = power(n, d, shift, delta, R, B)
            row = " | ".join(f"{res[k]:.2f}" for k in names)
            print(f"| {shift} | {delta:g} | {row} |  ({time.perf_counter() - t0:.0f}s)")


def print_variant_table(n, d, grid, R, B):
    """Power of every candidate combination, on the same data sets."""
    cases = [(shift, delta) for shift, deltas in grid.items() for delta in deltas]
    results = [power(n, d, s, dl, R, B, variants=True, mmd=False) for s, dl in cases]
    print(f"\n## Combination variants: n={n}+{n}, d={d}, R={R}, B={B}")
    print("| variant | " + " | ".join(f"{s} {dl:g}" for s, dl in cases) + " |")
    print("|---" * (len(cases) + 1) + "|")
    for name in [*VARIANTS, "mean", "covariance", "hotelling"]:
        print(f"| {name} | " + " | ".join(f"{r[name]:.2f}" for r in results) + " |")


# -- runtime ------------------------------------------------------------------------


def best_time(f, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        f()
        best = min(best, time.perf_counter() - t0)
    return best


def runtime_table(configs, mmd_perms):
    print("\n## Runtime (best of 3): skkl test() vs alibi-style re-indexed MMD")
    print(
        "| n per group | d | B | skkl test (s) | skkl per perm (ms) "
        "| MMD per perm (ms) | per-perm ratio |"
    )
    print("|---|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    mmd_cache = {}
    for n, d, B in configs:
        X, Y = rng.standard_normal((n, d)), rng.standard_normal((n, d))
        det = GaussianDriftDetector(n_permutations=B, random_state=0).fit(X)
        t_skkl = best_time(lambda det=det, Y=Y: det.test(Y))
        # Permutation cost only: the engine call inside test() (memberships,
        # B permuted splits and all their statistics), without validation,
        # attribution and effects.
        t_perm = best_time(lambda X=X, Y=Y, B=B: _engine_parts(X, Y, B, 0))
        t_perm /= B
        if (n, d) not in mmd_cache:
            K = rbf_kernel_median(X, Y)
            idx_rng = np.random.default_rng(1)

            def one(K=K, idx_rng=idx_rng, n=n):
                idx = idx_rng.permutation(K.shape[0])
                mmd2_unbiased(K[idx][:, idx], n)

            mmd_cache[n, d] = (
                best_time(lambda: [one() for _ in range(mmd_perms)]) / mmd_perms
            )
        t_mmd = mmd_cache[n, d]
        print(
            f"| {n} | {d} | {B} | {t_skkl:.3f} | {1e3 * t_perm:.3f} "
            f"| {1e3 * t_mmd:.2f} | {t_mmd / t_perm:.0f}x |"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small run (~1 min)")
    parser.add_argument(
        "--variants", action="store_true", help="power of candidate combinations"
    )
    args = parser.parse_args()
    for info in threadpool_info():
        print(
            f"# BLAS: {info.get('internal_api')} {info.get('version')} "
            f"{info.get('architecture')} threads={info.get('num_threads')}"
        )
    if args.variants:
        grid = {
            "mean": [0.05],
            "variance": [0.3],
            "correlation": [0.2],
            "scale_all": [0.1],
            "equicorr": [0.05],
        }
        print_variant_table(500, 10, grid, R=50 if args.quick else 300, B=500)
        return
    if args.quick:
        runtime_table([(500, 10, 200), (2000, 10, 1000)], mmd_perms=3)
        grid = {"mean": [0.1], "variance": [0.3], "correlation": [0.2]}
        print_power_table("Power curves", 500, 10, grid, R=30, B=200)
        head = {"mean": [0.05], "variance": [0.15], "correlation": [0.1]}
        print_power_table("Headline (issue 7)", 2000, 10, head, R=20, B=500)
        return
    runtime_table(
        [
            (500, 10, 1000),
            (2000, 10, 200),
            (2000, 10, 1000),
            (2000, 5, 1000),
            (2000, 20, 1000),
            (4000, 10, 1000),
        ],
        mmd_perms=5,
    )
    grid = {
        "mean": [0.05, 0.1, 0.15],
        "variance": [0.15, 0.3, 0.5],
        "correlation": [0.1, 0.2, 0.3],
        "scale_all": [0.1],
        "equicorr": [0.05],
    }
    print_power_table("Power curves", 500, 10, grid, R=100, B=500)
    head = {"mean": [0.05], "variance": [0.15], "correlation": [0.1]}
    print_power_table("Headline (issue 7)", 2000, 10, head, R=100, B=500)


if __name__ == "__main__":
    main()
