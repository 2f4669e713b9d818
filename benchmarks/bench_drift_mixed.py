"""Drift on mixed tables: false-positive rate, and power side by side with alibi-detect.

Data (``_mixed_tables``): a census-like table (numeric, five categorical
columns with 2-50 levels including rare ones, booleans, 10% missing in three
columns) and scikit-learn's bundled tables with 10% of their cells removed
at random.

* ``fpr``: random splits of one sample into two halves (no drift), tested at
  alpha = 0.05 with the defaults (``method='auto'``); the rate must lie in
  the exact binomial 95% band of ``splits`` draws.
* ``power``: a reference and a tested sample drawn independently, the tested
  one with a planted change (``_mixed_tables.SCENARIOS``): the share of data
  sets in which skkl (defaults) and alibi-detect's ``TabularDrift``
  (chi-square per categorical column, Kolmogorov-Smirnov per numeric one,
  Bonferroni, after the preprocessing of ``_mixed_tables.to_codes``) call
  drift at 0.05. The same data sets go to both: alibi-detect runs in its own
  environment (it pins numpy < 2), in a subprocess reading the data sets from
  a file, in the same run.

``python benchmarks/bench_drift_mixed.py [--part fpr|power|all] [--splits
200] [--reps 100] [--n 1000] [--alibi /work/venvs/alibi/bin/python]``. A
full run takes about an hour on 2 idle cores (each skkl test of the census
table, 48 encoded features, ~1 s). The last run's tables are in
``bench_drift_mixed.md``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import warnings

import numpy as np
from _common import blas_kernel
from _mixed_tables import SCENARIOS, census, holed, to_codes
from scipy import stats
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine

from skkl import GaussianDriftDetector

ALPHA = 0.05
HERE = os.path.dirname(os.path.abspath(__file__))


def band(k: int, alpha: float = ALPHA) -> tuple:
    """Exact binomial 95% band of the rejection count's rate over ``k`` draws."""
    lo = stats.binom.ppf(0.025, k, alpha) / k
    hi = stats.binom.ppf(0.975, k, alpha) / k
    return lo, hi


def _skkl_drift(ref, cur, seed) -> tuple:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = GaussianDriftDetector(random_state=seed).fit(ref).test(cur)
    return res.is_drift, res.method


def fpr_tables(rng):
    """Name -> a function drawing the pooled sample to split."""
    bundled = {
        "breast_cancer": load_breast_cancer().data,
        "wine": load_wine().data,
        "diabetes": load_diabetes().data,
        "digits": load_digits().data,
    }
    tables = {"census-like, 1000+1000": lambda: census(2000, rng)}
    for name, X in bundled.items():
        tables[f"{name}, 10% cells missing"] = lambda X=X: holed(X, rng)
    return tables


def run_fpr(splits: int, rng) -> list:
    rows = []
    for name, draw in fpr_tables(rng).items():
        start = time.perf_counter()
        hits, methods = 0, set()
        frame = draw()
        for s in range(splits):
            if name.startswith("census"):
                frame = draw()  # a fresh table per split
            perm = rng.permutation(len(frame))
            half = len(frame) // 2
            a, b = frame.iloc[perm[:half]], frame.iloc[perm[half:]]
            drift, method = _skkl_drift(a, b, s)
            hits += drift
            methods.add(method)
        rate = hits / splits
        lo, hi = band(splits)
        rows.append(
            (name, rate, lo, hi, "/".join(sorted(methods)), time.perf_counter() - start)
        )
        print(f"  {name}: {rate:.3f} [{lo:.3f}, {hi:.3f}]", flush=True)
    return rows


def _alibi(pairs, categorical, python) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        arrays = {"categorical": np.asarray(categorical)}
        for k, (a, b) in enumerate(pairs):
            arrays[f"ref_{k}"], arrays[f"cur_{k}"] = a, b
        np.savez(src, **arrays)
        env = dict(os.environ, OMP_NUM_THREADS="1")
        subprocess.run(
            [python, os.path.join(HERE, "_alibi_tabular.py"), src, dst],
            check=True,
            env=env,
            capture_output=True,
        )
        out = np.load(dst)
        return out["is_drift"].astype(bool), float(np.mean(out["seconds"]))


def _cases(n: int) -> list:
    """(label, planted change, rows per sample): the scenarios, the joint one
    also at half the rows (where neither test is sure), and no change."""
    cases = [(name, plant, n) for name, plant in SCENARIOS.items()]
    joint = list(SCENARIOS)[-1]
    cases.append((f"{joint}, {n // 2}+{n // 2}", SCENARIOS[joint], n // 2))
    cases.append(("no change (false positives)", lambda frame, rng: frame, n))
    return cases


def run_power(reps: int, n: int, python: str, rng) -> list:
    rows = []
    for name, plant, rows_per_sample in _cases(n):
        start = time.perf_counter()
        skkl, coded, categorical = [], [], None
        for r in range(reps):
            m = rows_per_sample
            ref, cur = census(m, rng), plant(census(m, rng), rng)
            skkl.append(_skkl_drift(ref, cur, r)[0])
            Xr, Xc, categorical = to_codes(ref, cur)
            coded.append((Xr, Xc))
        t_skkl = (time.perf_counter() - start) / reps
        peer, t_peer = (
            _alibi(coded, categorical, python) if python else (None, float("nan"))
        )
        rows.append(
            (
                name,
                float(np.mean(skkl)),
                float("nan") if peer is None else float(np.mean(peer)),
                t_skkl,
                t_peer,
            )
        )
        print(f"  {name}: skkl {np.mean(skkl):.2f}", flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", choices=("fpr", "power", "all"), default="all")
    ap.add_argument("--splits", type=int, default=200)
    ap.add_argument("--reps", type=int, default=100)
    ap.add_argument("--n", type=int, default=2000, help="rows per sample (power)")
    ap.add_argument("--alibi", default="/work/venvs/alibi/bin/python")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    python = args.alibi if args.alibi and os.path.exists(args.alibi) else None
    print(f"BLAS: {blas_kernel()}; load: {os.getloadavg()[0]:.1f}")
    t0 = time.perf_counter()
    if args.part in ("fpr", "all"):
        print(f"\nFalse-positive rate, {args.splits} no-drift splits, alpha={ALPHA}")
        rows = run_fpr(args.splits, rng)
        print("\n| data | FPR | 95% band | engine | seconds |\n|---|---|---|---|---|")
        for name, rate, lo, hi, method, sec in rows:
            print(f"| {name} | {rate:.3f} | {lo:.3f}-{hi:.3f} | {method} | {sec:.0f} |")
    if args.part in ("power", "all"):
        print(
            f"\nPower, {args.reps} data sets of {args.n}+{args.n} rows, alpha={ALPHA}"
        )
        rows = run_power(args.reps, args.n, python, rng)
        print(
            "\n| change | skkl | alibi TabularDrift | s/test skkl | s/test alibi |"
            "\n|---|---|---|---|---|"
        )
        for name, a, b, ta, tb in rows:
            print(f"| {name} | {a:.2f} | {b:.2f} | {ta:.2f} | {tb:.3f} |")
    print(f"\ntotal {time.perf_counter() - t0:.0f} s; load {os.getloadavg()[0]:.1f}")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
