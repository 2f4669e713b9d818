"""Benchmark GroupGaussians.fit and .transform against their natural floors and peers.

Fit: n samples, d features, K classes (default 10^6 x 32, 10 classes), timed
side by side in one run against

* one ``X.T @ X`` (the BLAS floor: every class scatter together is one Gram
  matrix of the same size; target ratio <= 2),
* ``QuadraticDiscriminantAnalysis().fit`` (per-class SVD),
* ``GaussianMixture(K, max_iter=1).fit`` (k-means init + one EM step).

Transform: throughput of ``GroupGaussians.transform`` (log-likelihood and
posterior) against ``QuadraticDiscriminantAnalysis.predict_log_proba``, and of
``GroupGaussians.predict`` against ``QuadraticDiscriminantAnalysis.predict``.

Each timing is the best of ``--repeats`` runs (one run for GaussianMixture);
ratios are the numbers to read, absolute times on a shared machine are noisy.

Usage::

    python benchmarks/bench_fit.py            # full size, a few minutes at most
    python benchmarks/bench_fit.py --quick    # 10^5 samples, seconds
"""

from __future__ import annotations

import argparse
import os
import time
import warnings

import numpy as np
from _common import blas_kernel
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from skkl import GroupGaussians

CLOCK = time.perf_counter


def best_time(func, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = CLOCK()
        func()
        times.append(CLOCK() - t0)
    return min(times)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^5 samples")
    parser.add_argument("--n", type=int, default=None, help="number of samples")
    parser.add_argument("--d", type=int, default=32, help="number of features")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--n-transform", type=int, default=200_000, help="rows for transform"
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        default=None,
        help="limit BLAS threads (on a busy shared machine, 1 gives stable ratios)",
    )
    parser.add_argument("--skip-gmm", action="store_true", help="skip GaussianMixture")
    parser.add_argument(
        "--clock",
        choices=["wall", "cpu"],
        default="wall",
        help="cpu: process CPU time, for ratios on one core (--blas-threads 1) "
        "on a machine shared with other jobs, where wall time measures the queue",
    )
    args = parser.parse_args(argv)
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.blas_threads is not None:
        with threadpool_limits(args.blas_threads):
            return run(args)
    return run(args)


def run(args):
    n = args.n or (100_000 if args.quick else 1_000_000)
    d, K = args.d, args.classes
    n_t = min(args.n_transform, n) if not args.quick else min(50_000, n)
    r = args.repeats

    print(f"BLAS: {blas_kernel(all_libraries=True, with_file=True)}")
    print(f"data: n={n:,}, d={d}, classes={K}, float64; clock: {args.clock}")
    print(f"load: {os.getloadavg()[0]:.1f} (1-min average)")
    rng = np.random.default_rng(0)
    y = rng.integers(0, K, size=n)
    X = rng.standard_normal((n, d)) + 3.0 * rng.standard_normal((K, d))[y]

    t_gram = best_time(lambda: X.T @ X, r)
    t_fit = best_time(lambda: GroupGaussians().fit(X, y), r)
    # X.T @ X uses every core through BLAS; fit's blocks use them via n_jobs.
    t_fit_par = best_time(lambda: GroupGaussians(n_jobs=-1).fit(X, y), r)
    t_diag = best_time(lambda: GroupGaussians("diag").fit(X, y), r)
    t_lw = best_time(lambda: GroupGaussians(shrinkage="ledoit_wolf").fit(X, y), r)
    w = rng.uniform(0.5, 2.0, size=n)
    t_weighted = best_time(lambda: GroupGaussians().fit(X, y, sample_weight=w), r)

    def stream():
        gg = GroupGaussians()
        for chunk in np.array_split(np.arange(n), 10):
            gg.partial_fit(X[chunk], y[chunk], classes=np.arange(K))

    t_stream = best_time(stream, r)
    t_qda = best_time(lambda: QuadraticDiscriminantAnalysis().fit(X, y), r)
    t_gmm = np.nan
    if not args.skip_gmm:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            t_gmm = best_time(
                lambda: GaussianMixture(K, max_iter=1, random_state=0).fit(X), 1
            )

    print("\nfit times (best of runs) and ratios to one X.T @ X:")
    rows = [
        ("X.T @ X (floor)", t_gram),
        ("GroupGaussians('full').fit", t_fit),
        ("GroupGaussians('full', n_jobs=-1).fit", t_fit_par),
        ("GroupGaussians('diag').fit", t_diag),
        ("GroupGaussians(shrinkage='ledoit_wolf').fit", t_lw),
        ("GroupGaussians().fit(sample_weight=w)", t_weighted),
        ("GroupGaussians().partial_fit x 10 batches", t_stream),
        ("QuadraticDiscriminantAnalysis().fit", t_qda),
        (f"GaussianMixture({K}, max_iter=1).fit", t_gmm),
    ]
    for name, t in rows:
        print(f"  {name:<46s} {t:8.3f} s   {t / t_gram:6.2f} x floor")
    print(
        f"\n  fit vs X.T @ X: {t_fit / t_gram:.2f}x, with n_jobs=-1 "
        f"{t_fit_par / t_gram:.2f}x (target <= 2); "
        f"QDA.fit / GroupGaussians.fit: {t_qda / t_fit:.1f}x; "
        f"GaussianMixture(max_iter=1) / GroupGaussians.fit: {t_gmm / t_fit:.1f}x"
    )

    Xt = X[:n_t]
    gg = GroupGaussians().fit(X, y)
    qda = QuadraticDiscriminantAnalysis().fit(X, y)
    t_ll = best_time(lambda: gg.transform(Xt), r)
    gg_p = GroupGaussians(transform_kind="proba").fit(X, y)
    t_p = best_time(lambda: gg_p.transform(Xt), r)
    t_q = best_time(lambda: qda.predict_log_proba(Xt), r)
    t_pred = best_time(lambda: gg.predict(Xt), r)
    t_qpred = best_time(lambda: qda.predict(Xt), r)
    print(f"\ntransform throughput on {n_t:,} rows (rows per second):")
    for name, t in [
        ("GroupGaussians.transform (log_likelihood)", t_ll),
        ("GroupGaussians.transform (proba)", t_p),
        ("QuadraticDiscriminantAnalysis.predict_log_proba", t_q),
        ("GroupGaussians.predict", t_pred),
        ("QuadraticDiscriminantAnalysis.predict", t_qpred),
    ]:
        print(f"  {name:<50s} {n_t / t:12,.0f}   ({t:.3f} s)")
    print(
        f"\n  transform speed-up over QDA.predict_log_proba: "
        f"log_likelihood {t_q / t_ll:.2f}x, proba {t_q / t_p:.2f}x; "
        f"predict over QDA.predict: {t_qpred / t_pred:.2f}x"
    )


if __name__ == "__main__":
    main()
