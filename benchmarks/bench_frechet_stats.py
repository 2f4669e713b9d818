"""Benchmark: the statistics of Fréchet distances -- FID∞ and interval coverage.

Cases (``--cases``, comma-separated; all by default):

``infinity``
    Two synthetic "models" against one reference whose plain FID ranks them
    in opposite orders at N=5,000 and N=50,000 generated samples: model A
    has the reference's covariance and a mean shift along low-variance
    directions (no extra bias), model B drops variance in the spectrum's
    tail (a smaller FID bias slope) and is truly a little farther. d=256,
    reference spectrum 1/i, a reference sample of 10^5 rows (held fixed, as
    FID∞ does). Reported: plain FID, ``frechet_infinity`` and
    ``frechet_interval``'s bias-corrected estimate at both N, over
    ``--repeats`` independent draws. Targets: FID∞ ranks A and B the same at
    both N, and its value is flat in N within 2 standard errors.
``coverage``
    Interval coverage: pools of 10^6 (d=64) and 4 x 10^5 (d=256) rows of
    Inception-like (non-Gaussian, ReLU) features from two "models" and a
    reference; 200 repeats draw n rows from each pool, and the nominal 95%
    ``frechet_interval`` is checked against the pools' own distance (the
    distance between the distributions the rows are drawn from). The paired
    ``frechet_difference`` of two candidates against one reference is
    checked the same way, with its width against the unpaired interval's.
    Target: 92-98% coverage.

No timing floor: these are statistical properties. Usage::

    python benchmarks/bench_frechet_stats.py [--quick] [--cases ...]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
from _common import blas_kernel
from threadpoolctl import threadpool_limits

from skkl import (
    frechet_difference,
    frechet_distance,
    frechet_infinity,
    frechet_interval,
)

# -- FID∞: two models whose plain FIDs swap ranks with N ------------------------


def swap_models(d: int, rng, gap: float = 0.008):
    """(reference factor, A sampler, B sampler, true FIDs) for the swap."""
    spectrum = 1.0 / (1.0 + np.arange(d))
    Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
    L_ref = Q * np.sqrt(spectrum)
    tail = spectrum.copy()
    tail[8:] *= 0.25  # B: the spectrum's tail at a quarter of its variance
    L_b = Q * np.sqrt(tail)
    S_ref = L_ref @ L_ref.T
    from skkl import frechet_distance_from_moments

    fid_b = frechet_distance_from_moments(np.zeros(d), L_b @ L_b.T, np.zeros(d), S_ref)
    u = Q[:, -32:] @ rng.normal(size=32)  # A: shifted along low-variance axes
    mean_a = np.sqrt(fid_b - gap) * u / np.linalg.norm(u)

    def sample_a(n, r):
        return r.normal(size=(n, d)) @ L_ref.T + mean_a

    def sample_b(n, r):
        return r.normal(size=(n, d)) @ L_b.T

    return L_ref, sample_a, sample_b, (fid_b - gap, fid_b)


def run_infinity(args, rng):
    d = 256
    L_ref, sample_a, sample_b, (true_a, true_b) = swap_models(d, rng)
    reference = rng.normal(size=(args.n_reference, d)) @ L_ref.T
    print(
        f"\n## FID∞: d={d}, reference {args.n_reference} rows; true FID A "
        f"{true_a:.4f} < B {true_b:.4f}"
    )
    print("| N | draw | FID A | FID B | FID∞ A | FID∞ B | jackknife A | jackknife B |")
    print("|---|---|---|---|---|---|---|---|")
    rows = {}
    for N in (5000, 50000):
        for r in range(args.repeats):
            draw = np.random.default_rng([N, r])
            A, B = sample_a(N, draw), sample_b(N, draw)
            fa, fb = frechet_distance(A, reference), frechet_distance(B, reference)
            ia = frechet_infinity(A, reference, random_state=r)
            ib = frechet_infinity(B, reference, random_state=r)
            ja = frechet_interval(A, reference, random_state=r)
            jb = frechet_interval(B, reference, random_state=r)
            rows[N, r] = (fa, fb, ia, ib, ja, jb)
            print(
                f"| {N} | {r} | {fa:.4f} | {fb:.4f} | {ia.value:.4f} ± "
                f"{ia.standard_error:.4f} | {ib.value:.4f} ± {ib.standard_error:.4f} "
                f"| {ja.estimate:.4f} ± {ja.standard_error:.4f} | {jb.estimate:.4f}"
                f" ± {jb.standard_error:.4f} |"
            )
    _infinity_targets(rows, args.repeats)


def _infinity_targets(rows, repeats):
    swapped = all(
        (rows[5000, r][0] > rows[5000, r][1])
        and (rows[50000, r][0] < rows[50000, r][1])
        for r in range(repeats)
    )
    print(
        f"\n- plain FID ranks A and B oppositely at 5k and 50k in every draw: {swapped}"
    )
    same = all(
        rows[N, r][2].value < rows[N, r][3].value
        for N in (5000, 50000)
        for r in range(repeats)
    )
    print(
        f"- FID∞ ranks A < B at both N in every draw: {same} "
        f"({'met' if same else 'MISSED'})"
    )
    worst = 0.0
    for k, label in ((2, "A"), (3, "B")):
        for r in range(repeats):
            small, large = rows[5000, r][k], rows[50000, r][k]
            z = abs(small.value - large.value) / small.standard_error
            worst = max(worst, z)
            print(
                f"  {label} draw {r}: FID∞(5k) - FID∞(50k) = "
                f"{small.value - large.value:+.4f} = {z:.2f} standard errors (5k)"
            )
    print(
        f"- FID∞ flat in N within 2 standard errors: worst {worst:.2f} "
        f"({'met' if worst <= 2 else 'MISSED'})"
    )


# -- coverage ------------------------------------------------------------------


def _pool(n, d, W, shift, rng, chunk=100_000):
    """n rows of ReLU features x = max(W z + shift, 0), float32."""
    out = np.empty((n, d), dtype=np.float32)
    for a in range(0, n, chunk):
        b = min(a + chunk, n)
        Z = rng.standard_normal((b - a, W.shape[1])) @ W.T + shift
        np.maximum(Z, 0.0, out=Z)
        out[a:b] = Z
    return out


def _pools(d, n_pool, rng):
    U = np.linalg.qr(rng.normal(size=(d, d)))[0]
    W = U * (1.0 / np.sqrt(1.0 + np.arange(d)))
    W_a = W @ (np.eye(d) + 0.2 * np.diag(rng.uniform(-1, 1, d)))
    W_b = W @ (np.eye(d) + 0.25 * np.diag(rng.uniform(-1, 1, d)))
    return (
        _pool(n_pool, d, W, 0.3, rng),
        _pool(n_pool, d, W_a, 0.32, rng),
        _pool(n_pool, d, W_b, 0.28, rng),
    )


def run_coverage(args, rng):
    for d, n_pool, n in args.coverage_settings:
        t0 = time.perf_counter()
        ref, a, b = _pools(d, n_pool, rng)
        # Draws come from the pools' empirical distributions, whose distance
        # is the pools' own (plain) FID.
        truth_a, truth_b = frechet_distance(a, ref), frechet_distance(b, ref)
        hits = {"X vs reference": 0, "paired A - B": 0}
        ses = {"paired": [], "unpaired": []}
        lows, highs = [], []
        for r in range(args.coverage_repeats):
            draw = np.random.default_rng([d, r])
            take = [draw.choice(n_pool, n, replace=False) for _ in range(3)]
            R, A, B = ref[take[0]], a[take[1]], b[take[2]]
            res = frechet_difference(A, B, R, random_state=r)
            one = res.a
            hits["X vs reference"] += one.low <= truth_a <= one.high
            diff = res.difference
            hits["paired A - B"] += diff.low <= truth_a - truth_b <= diff.high
            ses["paired"].append(diff.standard_error)
            ses["unpaired"].append(np.hypot(res.a.standard_error, res.b.standard_error))
            lows.append(one.low > truth_a)
            highs.append(one.high < truth_a)
        R_ = args.coverage_repeats
        print(
            f"\n## Coverage, d={d}, pools of {n_pool} rows, n={n} per set, "
            f"{R_} repeats ({time.perf_counter() - t0:.0f} s)"
        )
        print(f"pool distances: A {truth_a:.4f}, B {truth_b:.4f}")
        print("| interval | nominal | coverage | target |")
        print("|---|---|---|---|")
        for key, k in hits.items():
            cov = k / R_
            verdict = "met" if 0.92 <= cov <= 0.98 else "MISSED"
            print(f"| {key} | 0.95 | {cov:.3f} | 0.92-0.98 ({verdict}) |")
        print(
            f"intervals entirely above / below the truth (X vs reference): "
            f"{int(np.sum(lows))} / {int(np.sum(highs))}; mean standard error of the "
            f"difference: paired {np.mean(ses['paired']):.4f}, unpaired "
            f"(A and B as if independent) {np.mean(ses['unpaired']):.4f}"
        )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", default="infinity,coverage")
    parser.add_argument("--repeats", type=int, default=3, help="FID∞ draws")
    parser.add_argument("--n-reference", type=int, default=100_000)
    parser.add_argument("--coverage-repeats", type=int, default=200)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    threadpool_limits(args.threads)
    args.coverage_settings = [(64, 1_000_000, 1000), (256, 400_000, 5000)]
    if args.quick:
        args.repeats, args.coverage_repeats = 1, 40
        args.coverage_settings = [(16, 100_000, 500)]
    print(f"BLAS: {blas_kernel()}; load average {os.getloadavg()[0]:.1f}")
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    cases = args.cases.split(",")
    if "infinity" in cases:
        run_infinity(args, rng)
    if "coverage" in cases:
        run_coverage(args, rng)
    print(
        f"\ntotal time {time.perf_counter() - t0:.0f} s; load average "
        f"{os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
