"""Feature scoring when classes differ only in variance: skkl vs sklearn.

Synthetic data: 3 classes with equal means; the first ``k`` features have
class standard deviations (1, s, 1/s), the rest are pure noise. Each scorer
ranks the features; we report how many of the ``k`` informative features are
in its top ``k`` (recovery), the median score of the informative features
against the noise features' 95th percentile, and the time per call, all
measured side by side in one run. A second scenario, classes that differ only
in mean (the home turf of the ANOVA F test), checks that skkl does not lose
there.

Scorers: ``sklearn.feature_selection.f_classif`` (ANOVA F),
``sklearn.feature_selection.mutual_info_classif`` (k-NN estimator) and
``skkl.gaussian_divergence_score`` (Bhattacharyya distance of the per-class
univariate Gaussians, LRT p-values).

Usage::

    python benchmarks/bench_separability.py [--quick] [--blas-threads 1]
"""

from __future__ import annotations

import argparse
import time

import numpy as np
from sklearn.feature_selection import f_classif, mutual_info_classif
from threadpoolctl import threadpool_info, threadpool_limits

from skkl import gaussian_divergence_score


def make_data(n, d, k, effect, scenario, seed):
    rng = np.random.default_rng(seed)
    y = np.repeat([0, 1, 2], n)
    X = rng.normal(size=(3 * n, d))
    if scenario == "variance":
        scale = np.array([1.0, effect, 1.0 / effect])[y]
        X[:, :k] *= scale[:, None]
    else:
        shift = np.array([0.0, effect, -effect])[y]
        X[:, :k] += shift[:, None]
    return X, y


SCORERS = {
    "f_classif": lambda X, y: f_classif(X, y)[0],
    "mutual_info_classif": lambda X, y: mutual_info_classif(X, y, random_state=0),
    "skkl gaussian_divergence_score": lambda X, y: gaussian_divergence_score(X, y)[0],
}


def run(scenario, n, d, k, effect, seeds):
    print(
        f"\n== classes differ only in {scenario}: 3 x {n} samples, {d} features, "
        f"{k} informative, effect {effect} ({len(seeds)} seeds) =="
    )
    header = ("scorer", "top-k recovery", "signal/noise", "time/call")
    print("{:32s} {:>15s} {:>13s} {:>11s}".format(*header))
    times = {}
    for name, scorer in SCORERS.items():
        found, ratio, elapsed = [], [], []
        for seed in seeds:
            X, y = make_data(n, d, k, effect, scenario, seed)
            t0 = time.perf_counter()
            s = scorer(X, y)
            elapsed.append(time.perf_counter() - t0)
            found.append(len(set(np.argsort(s)[-k:]) & set(range(k))) / k)
            ratio.append(np.median(s[:k]) / max(np.percentile(s[k:], 95), 1e-300))
        times[name] = np.median(elapsed)
        print(
            f"{name:32s} {np.mean(found):15.1%} {np.median(ratio):13.2f} "
            f"{times[name] * 1e3:9.1f}ms"
        )
    base = times["skkl gaussian_divergence_score"]
    print(
        "time relative to skkl: "
        + ", ".join(f"{name} {t / base:.2g}x" for name, t in times.items())
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="smaller data, 3 seeds instead of 6"
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS threads (1 is steadier on a busy machine)",
    )
    args = parser.parse_args()
    with threadpool_limits(args.blas_threads):
        _main(args)


def _main(args):
    blas = [
        f"{i['internal_api']} {i.get('version')} ({i.get('architecture')}, "
        f"{i['num_threads']} threads)"
        for i in threadpool_info()
        if i["user_api"] == "blas"
    ]
    print("BLAS:", "; ".join(blas) or "unknown")
    seeds = range(3) if args.quick else range(6)
    n, d = (200, 100) if args.quick else (300, 200)
    run("variance", n, d, k=10, effect=1.5, seeds=seeds)
    run("mean", n, d, k=10, effect=0.25, seeds=seeds)
    print(
        "\nsignal/noise: median score of the informative features over the 95th "
        "percentile of the noise features' scores (> 1: separable by a threshold)."
    )


if __name__ == "__main__":
    main()
