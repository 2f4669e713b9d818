"""The drift effect size and the default test's coherence with it (issue 20).

Tables we did not generate: digits (all 64 pixels), breast cancer, wine,
diabetes, a sparse 0/1 table (d=100, 5% ones, 500+500) and a table with
features having 1, 2 and 5 non-zero rows (600 rows, 12 features).

1. Effect without drift, over random half splits: the median effect in units
   of ``effect_null_sd`` (target: |median| <= 0.25), and ``effect_null_sd``
   against the same on the table without its rare features (non-zero in
   fewer than 1% of rows; target: at most 2x).
2. Monotone: the effect with every feature of the second half shifted by 0,
   0.1, 0.25, 0.5 and 1 sd, on the same split: the share of splits where it
   increases at every step (target >= 95%), and the 0.25 sd shift in null sds
   (target > 5).
3. Coherence: breast cancer halves with 'mean radius' x1.1 and 'worst
   texture' +2, and each bundled table with one feature rescaled by 10%:
   how often the default test rejects at 0.05, and whether every case whose
   effect exceeds 10 null sds is rejected (target >= 95%).
4. One effect from every engine: the same data through 'permutation',
   'gram', 'asymptotic' and dask input; the largest difference in null sds.

Run ``python benchmarks/bench_drift_effect.py [--splits 100] [--quick]``.
"""

from __future__ import annotations

import argparse
import time
import warnings

import numpy as np
from _common import blas_kernel
from sklearn.datasets import load_breast_cancer, load_diabetes, load_digits, load_wine

from skkl import GaussianDriftDetector

SHIFTS = (0.0, 0.1, 0.25, 0.5, 1.0)


def _sparse(rng):
    return (rng.random((1000, 100)) < 0.05).astype(float)


def _few_rows(rng):
    X = rng.normal(size=(600, 12))
    for j, k in enumerate((1, 1, 2, 2, 5, 5)):
        X[:, j] = 0.0
        X[rng.choice(600, k, replace=False), j] = rng.normal(size=k) + 3
    return X


TABLES = {
    "digits": lambda rng: load_digits().data,
    "breast cancer": lambda rng: load_breast_cancer().data,
    "wine": lambda rng: load_wine().data,
    "diabetes": lambda rng: load_diabetes().data,
    "sparse 0/1 (d=100, 5%)": _sparse,
    "1, 2, 5 non-zero rows": _few_rows,
}


def _halves(X, rng):
    idx = rng.permutation(len(X))
    h = len(X) // 2
    return X[idx[:h]], X[idx[h:]]


def _test(A, B, seed, B_perm):
    det = GaussianDriftDetector(n_permutations=B_perm, random_state=seed)
    return det.fit(A).test(B)


def effect_rows(splits, B_perm):
    print("\n## Effect without drift, and with every feature shifted")
    print(
        "| table | median / null sd | null sd | null sd, rare removed | ratio "
        "| monotone | 0.25 sd shift (null sds) |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, make in TABLES.items():
        rng = np.random.default_rng(0)
        X = make(rng)
        sd = X.std(axis=0)
        common = (np.mean(X != np.median(X, axis=0), axis=0) >= 0.01) & (sd > 0)
        eff, null, null_r, mono, at25 = [], [], [], [], []
        for r in range(splits):
            A, B = _halves(X, rng)
            curve = [_test(A, B + s * sd, r, B_perm) for s in SHIFTS]
            eff.append(curve[0].effect)
            null.append(curve[0].effect_null_sd)
            mono.append(np.all(np.diff([c.effect for c in curve]) > 0))
            at25.append(curve[2].effect / curve[2].effect_null_sd)
            null_r.append(_test(A[:, common], B[:, common], r, B_perm).effect_null_sd)
        sd_null, sd_r = np.median(null), np.median(null_r)
        print(
            f"| {name} | {np.median(eff) / sd_null:+.3f} | {sd_null:.3g} | "
            f"{sd_r:.3g} | {sd_null / sd_r:.2f} | {np.mean(mono):.2f} | "
            f"{np.median(at25):.1f} |",
            flush=True,
        )


def bc_recalibrated():
    """Breast cancer, with changes of the second sample: 'mean radius' x1.1,
    and that with 'worst texture' +2 (the issue-20 recalibrated sensor)."""
    bc = load_breast_cancer()
    names = list(bc.feature_names)
    radius, texture = names.index("mean radius"), names.index("worst texture")

    def radius_only(A, B):
        B = B.copy()
        B[:, radius] *= 1.1
        return A, B

    def change(A, B):
        A, B = radius_only(A, B)
        B[:, texture] += 2
        return A, B

    return bc.data, radius_only, change


def _rescaled_cases(rng):
    X, _, recalibrated = bc_recalibrated()
    yield "breast cancer: mean radius x1.1, worst texture +2", X, recalibrated
    for name in ("wine", "diabetes", "digits"):
        X = TABLES[name](rng)
        j, rescale = rescale_one(X)
        yield f"{name}: feature {j} x1.1", X, rescale


def rescale_one(X):
    """The feature with the largest mean in sds (where x1.1 moves the most),
    and a change that rescales it by 10% in the second sample."""
    sd = X.std(axis=0)
    j = int(np.argmax(np.abs(X.mean(axis=0)) / np.where(sd > 0, sd, 1)))

    def rescale(A, B):
        B = B.copy()
        B[:, j] *= 1.1
        return A, B

    return j, rescale


def coherence_rows(splits, B_perm):
    print("\n## Coherence: the default test against its own effect")
    print("| case | rejected at 0.05 | median effect (null sds) | engine |")
    print("|---|---|---|---|")
    big, big_rejected = 0, 0
    rng = np.random.default_rng(1)
    for label, X, change in _rescaled_cases(rng):
        rej, z, engines = [], [], set()
        for r in range(splits):
            A, B = change(*_halves(X, rng))
            res = _test(A, B, r, B_perm)
            rej.append(res.p_value < 0.05)
            z.append(res.effect / res.effect_null_sd)
            engines.add(res.method)
            if z[-1] > 10:
                big += 1
                big_rejected += rej[-1]
        print(
            f"| {label} | {np.mean(rej):.2f} | {np.median(z):.1f} | "
            f"{', '.join(sorted(engines))} |",
            flush=True,
        )
    share = big_rejected / big if big else float("nan")
    print(f"\nEffect > 10 null sds in {big} cases; rejected in {share:.3f} of them.")


def engines_row():
    print("\n## One effect from every engine (same data)")
    rng = np.random.default_rng(2)
    X = rng.standard_t(6, size=(4000, 5))
    Y = rng.standard_t(6, size=(4000, 5)) * [1.1, 1, 1, 1, 1]
    Y[:, 1] += 0.05
    out = {}
    for method in ("permutation", "gram", "asymptotic"):
        res = GaussianDriftDetector(method=method, random_state=0).fit(X).test(Y)
        out[method] = res
    try:
        import dask.array as da

        det = GaussianDriftDetector().fit(da.from_array(X, chunks=(1000, -1)))
        out["dask"] = det.test(da.from_array(Y, chunks=(1000, -1)))
    except ImportError:
        pass
    base = out["permutation"]
    print("| engine | effect | null sd | difference (null sds) |")
    print("|---|---|---|---|")
    for name, res in out.items():
        diff = abs(res.effect - base.effect) / base.effect_null_sd
        print(f"| {name} | {res.effect:.6g} | {res.effect_null_sd:.3g} | {diff:.1e} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--splits", type=int, default=100)
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="10 splits")
    args = parser.parse_args()
    splits = 10 if args.quick else args.splits
    print(f"# BLAS: {blas_kernel()}; {splits} splits, B={args.permutations}")
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # dropped constant pixels
        engines_row()
        effect_rows(splits, args.permutations)
        coherence_rows(splits, args.permutations)
    print(f"\n(total {time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
