"""False-positive rates of GaussianDriftDetector on data we did not generate.

The full study behind tests/test_drift_calibration.py (which keeps a 100-split
version): over ``--reps`` random no-drift splits (200 by default) at
alpha = 0.05 and B = 20 permutations, the number of rejections must lie in the
exact binomial 95% band of Binomial(reps, 0.05) (4 to 16 for 200). Cases:

- scikit-learn's bundled tables (breast cancer, wine, diabetes, digits as
  300 + 300 random images of all 64 pixels), lognormal (sigma = 2) and
  Poisson(1.5) draws, for method='auto' and method='gram';
- d > n: Student t(5) rows, 100 + 100, Ledoit-Wolf shrinkage, for 'gram'
  at d = 500 and 'permutation' at d = 150.

Same seeds as the tests: a test's 100 splits are the first 100 here.
Run ``python benchmarks/bench_drift_calibration.py [--reps 200] [--quick]``
(``--quick``: the tables only, no d > n). Prints one row per case and the
total time; exits 1 when a count leaves its band.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

import numpy as np
from _common import blas_kernel, load_average
from scipy import stats
from sklearn import datasets
from threadpoolctl import threadpool_limits

from skkl import GaussianDriftDetector

ALPHA = 0.05
DATA = ["breast_cancer", "wine", "diabetes", "digits", "lognormal", "poisson"]


def band(reps: int) -> tuple[int, int]:
    """The narrowest band of Binomial(reps, ALPHA) holding > 95%, centred on
    the mean among equally narrow ones: [4, 16] for 200, [1, 9] for 100."""
    best = None
    for low in range(int(reps * ALPHA) + 1):
        high = low
        while (
            stats.binom.cdf(high, reps, ALPHA) - stats.binom.cdf(low - 1, reps, ALPHA)
            <= 0.95
        ):
            high += 1
            if high > reps:  # no band from this low on
                return best[1]
        key = (high - low, abs(low + high - 2 * reps * ALPHA))
        if best is None or key < best[0]:
            best = key, (low, high)
    return best[1]


def _splits(name, rng):
    if name == "lognormal":
        return rng.lognormal(sigma=2.0, size=(100, 5)), rng.lognormal(
            sigma=2.0, size=(100, 5)
        )
    if name == "poisson":
        return rng.poisson(1.5, size=(100, 5)), rng.poisson(1.5, size=(100, 5))
    X = getattr(datasets, f"load_{name}")().data
    if name == "digits":
        X = X[rng.choice(len(X), 600, replace=False)]
    idx = rng.permutation(len(X))
    h = len(X) // 2
    return X[idx[:h]], X[idx[h:]]


def table_rejections(name, method, reps):
    rng = np.random.default_rng(100 + DATA.index(name))
    det = GaussianDriftDetector(n_permutations=20, method=method)
    count = 0
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.filterwarnings("ignore", "dropped", UserWarning)
        warnings.filterwarnings("ignore", "method='asymptotic'", UserWarning)
        for r in range(reps):
            X, Y = _splits(name, rng)
            count += det.set_params(random_state=r).fit(X).test(Y).p_value < ALPHA
    return count


def wide_rejections(method, reps):
    rng = np.random.default_rng(7)
    d = 500 if method == "gram" else 150
    det = GaussianDriftDetector(n_permutations=20, shrinkage="ledoit_wolf")
    count = 0
    with threadpool_limits(1):
        for r in range(reps):
            X = rng.standard_t(5, size=(100, d))
            Y = rng.standard_t(5, size=(100, d))
            res = det.set_params(random_state=r, method=method).fit(X).test(Y)
            count += res.p_value < ALPHA
    return count


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=200)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    low, high = band(args.reps)
    print(f"BLAS: {blas_kernel()}; load {load_average()}")
    print(f"{args.reps} splits, alpha {ALPHA}: band [{low}, {high}] rejections")
    cases = [(n, m) for m in ("auto", "gram") for n in DATA]
    if not args.quick:
        cases += [("d > n", "gram"), ("d > n", "permutation")]
    start, bad = time.perf_counter(), 0
    for name, method in cases:
        t0 = time.perf_counter()
        if name == "d > n":
            count = wide_rejections(method, args.reps)
        else:
            count = table_rejections(name, method, args.reps)
        ok = low <= count <= high
        bad += not ok
        print(
            f"{name:>14} {method:>11}: {count:3d} ({count / args.reps:.3f}) "
            f"{'in band' if ok else 'OUT OF BAND'}  {time.perf_counter() - t0:6.1f} s"
        )
    print(f"total {time.perf_counter() - start:.0f} s; {bad} case(s) out of band")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
