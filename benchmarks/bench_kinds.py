"""Benchmark: every divergence kind against a naive batched numpy loop, W2 against POT.

For each kind, side by side in one run on the same K Gaussians (full
covariances), it times

- ``skkl.pairwise_divergence(G, kind=...)`` (self-pairwise matrix);
- a naive batched numpy loop, one row i against all j at a time (the
  15-line loop of issue 14): KL family via ``np.linalg.solve`` with the
  Cholesky factors; Bhattacharyya / Hellinger / Rényi via a Cholesky of
  the mixture ``alpha S_j + (1 - alpha) S_i``; 2-Wasserstein via the
  symmetric square root ``R_i = S_i^{1/2}`` and ``eigvalsh(R_i S_j R_i)``;
- for 'wasserstein', POT's ``ot.gaussian.bures_wasserstein_distance``
  (squared), row by row, extrapolated from the rows done within a budget;
- optionally (``--baseline DIR``) the same skkl call from another checkout
  (e.g. the previous release), in a subprocess, for "x faster than before".

It prints times, ratios and the largest relative difference to the naive
loop (on entries above 1e-8, where the naive loop is itself accurate), the
BLAS library and kernel (threadpoolctl) and the peak traced memory of the
skkl call.

``--big K`` then times the non-GEMM kinds (``--big-kinds``, default
Bhattacharyya, Hellinger and 2-Wasserstein) on K Gaussians (K(K-1)/2 pairs,
the upper triangle of a symmetric matrix), each from raw arrays in a
process of its own: wall time, CPU time of the process (all threads), the
floor (the per-pair LAPACK factorisations alone at perfect thread scaling,
see ``_floor_per_pair``), the growth of the peak resident memory and the
load average, the issue-25 targets being 20 s (Bhattacharyya, Hellinger)
and 30 s (W2) at K=3000, d=32.

Usage::

    python benchmarks/bench_kinds.py [--K 300] [--d 32] [--repeat 3]
        [--kinds bhattacharyya,wasserstein] [--baseline /path/to/checkout]
        [--big 3000] [--big-kinds hellinger,wasserstein]
"""

from __future__ import annotations

import argparse
import json
import pathlib
import subprocess
import sys
import time
import tracemalloc

import numpy as np
from _common import blas_kernel, load_average

from skkl import DIVERGENCES, Gaussians, pairwise_divergence
from skkl._blas import blas_thread_count

ROOT = pathlib.Path(__file__).resolve().parents[1]


def make_gaussians(K, d, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(K, d, 2 * d))
    cov = X @ X.transpose(0, 2, 1) / (2 * d) + 0.1 * np.eye(d)
    return rng.normal(size=(K, d)), cov


# -- the naive batched loops ---------------------------------------------------


def _logdet(L):
    return 2.0 * np.log(np.diagonal(L, axis1=-2, axis2=-1)).sum(-1)


def naive(kind, m, S, alpha=0.5):
    K, d = m.shape
    L = np.linalg.cholesky(S)
    ld = _logdet(L)
    out = np.empty((K, K))
    if kind in ("kl", "reverse_kl", "jeffreys"):
        for i in range(K):
            # KL(i || j) and KL(j || i) for all j.
            A = np.linalg.solve(L, np.broadcast_to(L[i], L.shape))
            z = np.linalg.solve(L, (m[i] - m)[:, :, None])[..., 0]
            fwd = 0.5 * ((A * A).sum((1, 2)) + (z * z).sum(1) - d + ld - ld[i])
            if kind == "kl":
                out[i] = fwd
                continue
            B = np.linalg.solve(np.broadcast_to(L[i], L.shape), L)
            y = np.linalg.solve(L[i], (m - m[i]).T).T
            rev = 0.5 * ((B * B).sum((1, 2)) + (y * y).sum(1) - d + ld[i] - ld)
            out[i] = rev if kind == "reverse_kl" else fwd + rev
        return out
    if kind == "wasserstein":
        lam, V = np.linalg.eigh(S)
        R = (V * np.sqrt(lam)[:, None, :]) @ V.transpose(0, 2, 1)
        tr = np.trace(S, axis1=1, axis2=2)
        for i in range(K):
            mu = np.linalg.eigvalsh(R[i] @ S @ R[i])
            nuclear = np.sqrt(np.clip(mu, 0, None)).sum(1)
            out[i] = ((m - m[i]) ** 2).sum(1) + tr[i] + tr - 2 * nuclear
        return out
    a = 0.5 if kind != "renyi" else alpha
    for i in range(K):
        R = np.linalg.cholesky(a * S + (1 - a) * S[i])
        y = np.linalg.solve(R, (m - m[i])[:, :, None])[..., 0]
        val = a / 2 * (y * y).sum(1) + (_logdet(R) - (1 - a) * ld[i] - a * ld) / (
            2 * (1 - a)
        )
        if kind == "bhattacharyya":
            val = val / 2
        elif kind == "hellinger":
            val = np.sqrt(-np.expm1(-val / 2))
        out[i] = val
    return out


def pot_w2(m, S, budget):
    """POT's squared W2, row by row, within ``budget`` seconds (extrapolated)."""
    from ot.gaussian import bures_wasserstein_distance

    K = len(m)
    elapsed, done, rows = 0.0, 0, {}
    for i in np.random.default_rng(1).permutation(K):
        t0 = time.perf_counter()
        W = bures_wasserstein_distance(m[i : i + 1], m, S[i : i + 1], S)
        elapsed += time.perf_counter() - t0
        rows[int(i)] = np.asarray(W).reshape(-1) ** 2
        done += 1
        if elapsed > budget:
            break
    return elapsed * K / done, done / K, rows


def best(func, repeat):
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        times.append(time.perf_counter() - t0)
    return min(times), out


def rel_diff(a, b, floor=1e-8):
    keep = np.maximum(np.abs(a), np.abs(b)) > floor
    return float(np.max(np.abs(a - b)[keep] / np.abs(b)[keep]))


def baseline_times(directory, K, d, kinds, repeat):
    """skkl from another checkout, in a subprocess: best time per kind."""
    code = (
        "import sys, json, time, numpy as np\n"
        f"sys.path.insert(0, {str(directory)!r})\n"
        f"sys.path.insert(1, {str(ROOT / 'benchmarks')!r})\n"
        "from bench_kinds import make_gaussians\n"
        "from skkl import Gaussians, pairwise_divergence\n"
        f"m, S = make_gaussians({K}, {d})\n"
        "G = Gaussians(m, S)\n"
        "out = {}\n"
        f"for kind in {list(kinds)!r}:\n"
        "    best = np.inf\n"
        f"    for _ in range({repeat}):\n"
        "        t0 = time.perf_counter(); pairwise_divergence(G, kind=kind)\n"
        "        best = min(best, time.perf_counter() - t0)\n"
        "    out[kind] = best\n"
        "print(json.dumps(out))\n"
    )
    res = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    return json.loads(res.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--K", type=int, default=300)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--kinds", default=",".join(sorted(DIVERGENCES)))
    parser.add_argument("--baseline", type=pathlib.Path, default=None)
    parser.add_argument("--pot-budget", type=float, default=20.0)
    parser.add_argument(
        "--big", type=int, default=0, help="also time the non-GEMM kinds at this K"
    )
    parser.add_argument("--big-kinds", default="bhattacharyya,hellinger,wasserstein")
    parser.add_argument("--one-big", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one_big:
        _one_big(args.one_big, args.K, args.d)
        return
    K, d, kinds = args.K, args.d, args.kinds.split(",")
    m, S = make_gaussians(K, d)
    G = Gaussians(m, S)
    print(f"## Pairwise kinds, K={K}, d={d}, full covariances\n")
    print(f"- BLAS: {blas_kernel(with_file=True)}")
    base = None
    if args.baseline is not None:
        base = baseline_times(args.baseline, K, d, kinds, args.repeat)
        print(f"- baseline: skkl from {args.baseline}")
    print()
    print(
        "| kind | skkl (s) | naive loop (s) | naive / skkl | baseline (s) "
        "| baseline / skkl | max rel diff | peak MiB |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        t_skkl, D = best(lambda k=kind: pairwise_divergence(G, kind=k), args.repeat)
        t_naive, N = best(lambda k=kind: naive(k, m, S), args.repeat)
        tracemalloc.start()
        pairwise_divergence(G, kind=kind)
        peak = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
        b = "n/a" if base is None else f"{base[kind]:.3g}"
        br = "n/a" if base is None else f"{base[kind] / t_skkl:.1f}x"
        print(
            f"| {kind} | {t_skkl:.3g} | {t_naive:.3g} | {t_naive / t_skkl:.1f}x "
            f"| {b} | {br} | {rel_diff(D, N):.1e} | {peak:.0f} |",
            flush=True,
        )
    if "wasserstein" in kinds:
        try:
            t_pot, frac, rows = pot_w2(m, S, args.pot_budget)
        except ImportError:
            print("\nPOT not installed: no W2 peer.")
        else:
            D = pairwise_divergence(G, kind="wasserstein")
            t_skkl, _ = best(lambda: pairwise_divergence(G, kind="wasserstein"), 1)
            diff = max(rel_diff(D[i], v) for i, v in rows.items())
            print(
                f"\nW2 vs POT bures_wasserstein_distance (squared), K={K}, d={d}: "
                f"POT {t_pot:.3g} s (extrapolated from {frac:.0%} of the rows), "
                f"skkl {t_skkl:.3g} s: POT / skkl {t_pot / t_skkl:.1f}x, "
                f"max rel diff {diff:.1e}"
            )
    if args.big:
        big_run(args.big, d, args.big_kinds.split(","))


# Matrices in the floor's sample stack: enough that the per-matrix time of
# the stacked LAPACK call is steady, few enough to take about a second.
_FLOOR_SAMPLE = 20_000
# Its best of this many runs: one run on a shared machine can be slowed 1.5x.
_FLOOR_REPEAT = 7


def _floor_per_pair(kind, S, threads):
    """Seconds per pair of the factorisations alone, at perfect thread scaling.

    The one floor of the non-GEMM kinds: numpy's stacked LAPACK on the
    matrices each pair needs (a Cholesky of the (d + 1) x (d + 1) augmented
    mixture for the Renyi family, a symmetric eigenvalue problem of d x d for
    2-Wasserstein), timed on one thread over a sample stack, divided by the
    BLAS threads the skkl call may use. Forming those matrices is not in it.
    """
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(2)
    i, j = rng.integers(0, len(S), size=(2, _FLOOR_SAMPLE))
    d = S.shape[-1]
    if kind == "wasserstein":
        stack = S[i] + S[j]
        solve = np.linalg.eigvalsh
    else:
        stack = np.zeros((_FLOOR_SAMPLE, d + 1, d + 1))
        stack[:, :d, :d] = 0.5 * (S[i] + S[j])
        stack[:, d, d] = 1.0
        solve = np.linalg.cholesky
    with threadpool_limits(1):
        t = best(lambda: solve(stack), _FLOOR_REPEAT)[0]
    return t / _FLOOR_SAMPLE / threads


def _one_big(kind, K, d):
    """One kind in this process: JSON of wall, CPU, floor and peak RSS growth."""
    import resource

    m, S = make_gaussians(K, d, seed=1)
    threads = blas_thread_count()  # what the skkl call shares its pairs over
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    load = load_average()
    t0, c0 = time.perf_counter(), time.process_time()
    pairwise_divergence(Gaussians(m, S), kind=kind)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - base) / 2**10
    # After the call: the floor's sample stack must not count in its peak.
    floor = _floor_per_pair(kind, S, threads) * (K * (K - 1) // 2)
    print(json.dumps(dict(wall=wall, cpu=cpu, floor=floor, peak=peak, load=load)))


def big_run(K, d, kinds):
    """Each non-GEMM kind on K Gaussians from raw arrays, in its own process.

    Time of ``pairwise_divergence(Gaussians(m, S), kind)`` (validation
    included), CPU of all threads, the floor of :func:`_floor_per_pair`
    for the same pairs, and the growth of the peak resident memory during
    the call (a fresh process per kind, so one kind's peak is not another's).
    """
    n_pairs = K * (K - 1) // 2
    print(f"\n### Non-GEMM kinds at K={K}, d={d} ({n_pairs} pairs)\n")
    print(f"- BLAS: {blas_kernel()}\n")
    print(
        "| kind | wall (s) | CPU (s, all threads) | floor (s) | wall / floor "
        "| us per pair (wall) | peak RSS growth (MiB) | load at start |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for kind in kinds:
        res = subprocess.run(
            [sys.executable, __file__, "--one-big", kind, "--K", str(K), "--d", str(d)],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(res.stdout.strip().splitlines()[-1])
        print(
            f"| {kind} | {r['wall']:.1f} | {r['cpu']:.1f} | {r['floor']:.1f} "
            f"| {r['wall'] / r['floor']:.2f} | {r['wall'] / n_pairs * 1e6:.2f} "
            f"| {r['peak']:.0f} | {r['load']} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
