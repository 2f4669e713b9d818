"""Benchmark: all-pairs KL with skkl against the GEMM floor, torch and the snippet.

For each configuration it times, side by side in one run,

- ``skkl.pairwise_divergence(G)`` (self-pairwise KL matrix, default rtol);
- the bare GEMM floor: one (K, n) x (n, K) product with n = d(d+1)/2 for
  full covariances and 2d for diagonal ones (the operand width of the
  one-GEMM formula);
- ``torch.distributions.kl_divergence`` batched over the same K^2 pairs
  (CPU, float64, in chunks; extrapolated from the chunks done when the full
  run would exceed the time budget);
- the classic ``kl_mvn`` snippet (inv/det, one Python call per pair, loaded
  from tests/_reference.py), extrapolated from a sample of pairs;

and prints the ratios and the maximum relative differences between methods.
A scaling run then streams K = 1000 ... 20000 (d=16, full) through
``pairwise_divergence_chunked`` and reports time and tracemalloc peak memory.

Usage::

    python benchmarks/bench_pairwise.py [--quick] [--repeat N] [--only K,d ...]

Each configuration alternates skkl and the floor ``--repeat`` times and
reports the min and the median of the times and of the paired ratios; the
floor is also timed with one BLAS thread (a loaded machine makes threaded
small GEMMs slow), and skkl / floor uses the faster of the two.
``--only K,d`` runs just that full-covariance configuration (repeatable)
and skips the scaling run.

The BLAS library and thread count in use are printed (threadpoolctl).
"""

from __future__ import annotations

import argparse
import datetime
import functools
import importlib.util
import pathlib
import platform
import time
import tracemalloc

import numpy as np
import scipy
import sklearn
from _common import blas_kernel, make_gaussians
from threadpoolctl import threadpool_limits

import skkl
from skkl import pairwise_divergence, pairwise_divergence_chunked

ROOT = pathlib.Path(__file__).resolve().parents[1]


def load_snippet():
    """``kl_mvn`` from tests/_reference.py, loaded by path at run time."""
    path = ROOT / "tests" / "_reference.py"
    if not path.exists():
        return None
    spec = importlib.util.spec_from_file_location("_reference", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.kl_mvn


def best_time(func, repeat):
    best, out = np.inf, None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = func()
        best = min(best, time.perf_counter() - t0)
    return best, out


@functools.cache
def _floor_operands(K, n):
    rng = np.random.default_rng(1)
    return rng.normal(size=(K, n)), rng.normal(size=(K, n))


def gemm_floor(K, n, repeat):
    """Best time of one (K, n) x (n, K) product (distinct operands: no SYRK)."""
    A, B = _floor_operands(K, n)
    return best_time(lambda: A @ B.T, repeat)[0]


def torch_kl(G, budget):
    """KL over all K^2 pairs with torch, row block by row block, within budget.

    Returns (seconds extrapolated to all pairs, fraction done, values of the
    rows done).
    """
    import torch

    torch.set_default_dtype(torch.float64)
    from torch.distributions import (
        Independent,
        MultivariateNormal,
        Normal,
        kl_divergence,
    )

    K, d = G.means.shape
    loc = torch.from_numpy(G.means.copy())
    if G.covariance_type == "full":
        tril = torch.from_numpy(G.cholesky.copy())
    else:
        scale = torch.from_numpy(G.std().copy())
    pair_bytes = 8 * (6 * d * d if G.covariance_type == "full" else 8 * d)
    rows = max(1, min(K, (256 * 2**20 // pair_bytes) // K))
    order = np.random.default_rng(2).permutation(np.arange(0, K, rows))
    done, out, elapsed = 0, {}, 0.0
    j = torch.arange(K)
    with torch.no_grad():
        for r0 in order:
            r1 = min(r0 + rows, K)
            i = torch.arange(r0, r1).repeat_interleave(K)
            jj = j.repeat(r1 - r0)
            t0 = time.perf_counter()
            if G.covariance_type == "full":
                p = MultivariateNormal(loc[i], scale_tril=tril[i])
                q = MultivariateNormal(loc[jj], scale_tril=tril[jj])
            else:
                p = Independent(Normal(loc[i], scale[i]), 1)
                q = Independent(Normal(loc[jj], scale[jj]), 1)
            values = kl_divergence(p, q).numpy().reshape(r1 - r0, K)
            elapsed += time.perf_counter() - t0
            out[int(r0)] = values
            done += r1 - r0
            if elapsed > budget:
                break
    return elapsed * K / done, done / K, out


def snippet_kl(G, kl_mvn, n_pairs):
    K, d = G.means.shape
    rng = np.random.default_rng(3)
    i, j = rng.integers(0, K, n_pairs), rng.integers(0, K, n_pairs)
    S = G.covariances if G.covariance_type == "full" else None
    t0 = time.perf_counter()
    values = np.empty(n_pairs)
    for k in range(n_pairs):
        if S is not None:
            S0, S1 = S[i[k]], S[j[k]]
        else:
            S0, S1 = np.diag(G.covariances[i[k]]), np.diag(G.covariances[j[k]])
        values[k] = kl_mvn(G.means[i[k]], S0, G.means[j[k]], S1)
    per_pair = (time.perf_counter() - t0) / n_pairs
    return per_pair * K * K, i, j, values


def max_rel_diff(a, b):
    a, b = np.asarray(a), np.asarray(b)
    keep = np.maximum(np.abs(a), np.abs(b)) > 0
    return float(np.max(np.abs(a - b)[keep] / np.maximum(np.abs(a), np.abs(b))[keep]))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    parser.add_argument(
        "--only",
        metavar="K,d",
        action="append",
        help="run only this full-covariance configuration (repeatable); "
        "skips the scaling run",
    )
    parser.add_argument("--repeat", type=int, help="repeats of skkl and the floor")
    parser.add_argument(
        "--kind",
        default="kl",
        choices=["kl", "reverse_kl", "jeffreys"],
        help="GEMM kind for the skkl / floor ratio (torch and the snippet are KL)",
    )
    args = parser.parse_args()
    quick = args.quick
    kl_mvn = load_snippet()
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None

    print(f"## Pairwise KL benchmark (skkl / floor for kind={args.kind!r})\n")
    print(f"- date: {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC")
    print(
        f"- machine: {platform.machine()} {platform.processor() or ''}, "
        f"{platform.system()} {platform.release()}"
    )
    print(
        f"- versions: python {platform.python_version()}, skkl {skkl.__version__}, "
        f"numpy {np.__version__}, scipy {scipy.__version__}, "
        f"scikit-learn {sklearn.__version__}, "
        f"torch {torch.__version__ if torch else 'absent'}"
    )
    print(f"- BLAS: {blas_kernel(with_file=True)}")
    if torch is not None:
        print(f"- torch threads: {torch.get_num_threads()}")
    print()

    configs = [
        ("full", 1000, 32),
        ("full", 2000, 64),
        ("full", 500, 64),
        ("full", 300, 16),
        ("diag", 5000, 64),
    ]
    if quick:
        configs = [
            ("full", 300, 32),
            ("full", 200, 64),
            ("full", 300, 16),
            ("diag", 2000, 64),
        ]
    if args.only:
        configs = [("full", *map(int, kd.split(","))) for kd in args.only]
    repeat = args.repeat or (5 if quick else 11)
    budget = 3.0 if quick else 15.0
    n_pairs = 100 if quick else 300

    print(
        "| cov | K | d | skkl (s) min / med | GEMM floor (s) min / med "
        "| floor, 1 BLAS thread (s) | skkl / floor min / med | torch (s) "
        "| torch / skkl min / med | snippet (s, extrap.) | snippet / skkl min / med "
        "| recomputed | max rel diff torch | max rel diff snippet |"
    )
    print("|" + "---|" * 13)
    for covariance_type, K, d in configs:
        G = make_gaussians(K, d, covariance_type)
        n = d * (d + 1) // 2 if covariance_type == "full" else 2 * d
        # Alternate skkl and the floor; each skkl / floor ratio pairs runs
        # made back to back, so a burst of load on a shared machine hits
        # both alike. Min and median over the repeats are reported.
        t_skkl, t_floor, t_floor1 = [], [], []
        for _ in range(repeat):
            t, D = best_time(lambda G=G: pairwise_divergence(G, kind=args.kind), 1)
            t_skkl.append(t)
            t_floor.append(gemm_floor(K, n, 1))
            with threadpool_limits(1, user_api="blas"):
                t_floor1.append(gemm_floor(K, n, 1))
        t_skkl, t_floor = np.array(t_skkl), np.array(t_floor)
        # Strict: against the faster of the threaded and 1-thread floors.
        ratio = t_skkl / np.minimum(t_floor, t_floor1)
        s_min, s_med = t_skkl.min(), np.median(t_skkl)
        recomputed = _count_recomputed(G)
        if args.kind != "kl":  # the peers compute KL: compare with skkl's KL
            D = pairwise_divergence(G)
        if torch is not None:
            t_torch, frac, rows = torch_kl(G, budget)
            diff_torch = max(
                max_rel_diff(
                    v[_off_diagonal(r0, v.shape)],
                    D[r0 : r0 + len(v)][_off_diagonal(r0, v.shape)],
                )
                for r0, v in rows.items()
            )
            torch_cell = f"{t_torch:.3g}" + (
                "" if frac >= 1 else f" (extrap. {frac:.0%})"
            )
            torch_ratio = f"{t_torch / s_min:.0f}x / {t_torch / s_med:.0f}x"
        else:
            torch_cell, torch_ratio, diff_torch = "n/a", "n/a", float("nan")
        if kl_mvn is not None:
            t_snip, i, j, values = snippet_kl(G, kl_mvn, n_pairs)
            off = i != j
            diff_snip = max_rel_diff(values[off], D[i, j][off])
            snip_cell = f"{t_snip:.3g}"
            snip_ratio = f"{t_snip / s_min:.0f}x / {t_snip / s_med:.0f}x"
        else:
            snip_cell, snip_ratio, diff_snip = "n/a", "n/a", float("nan")
        print(
            f"| {covariance_type} | {K} | {d} | {s_min:.4f} / {s_med:.4f} "
            f"| {t_floor.min():.4f} / {np.median(t_floor):.4f} | {min(t_floor1):.4f} "
            f"| {ratio.min():.2f} / {np.median(ratio):.2f} | {torch_cell} "
            f"| {torch_ratio} | {snip_cell} | {snip_ratio} | {recomputed} "
            f"| {diff_torch:.1e} | {diff_snip:.1e} |",
            flush=True,
        )
    if args.only:
        return

    print("\n### Scaling: pairwise_divergence_chunked, full, d=16, ", end="")
    print("working_memory=64 MiB\n")
    print("| K | time (s) | tracemalloc peak (MiB) | full matrix (MiB) | checksum |")
    print("|---|---|---|---|---|")
    Ks = [1000, 2000, 5000] if quick else [1000, 2000, 5000, 10000, 20000]
    for K in Ks:
        G = make_gaussians(K, 16, "full", seed=K)
        tracemalloc.start()
        t0 = time.perf_counter()
        total, r0 = 0.0, 0
        for block in pairwise_divergence_chunked(G, working_memory=64):
            n = len(block)
            block[np.arange(n), r0 + np.arange(n)] = np.inf  # skip the diagonal
            total += float(block.min(axis=1).sum())
            r0 += n
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        print(
            f"| {K} | {elapsed:.2f} | {peak / 2**20:.1f} | {K * K * 8 / 2**20:.0f} "
            f"| {total:.6g} |",
            flush=True,
        )


def _off_diagonal(r0, shape):
    mask = np.ones(shape, dtype=bool)
    n = shape[0]
    mask[np.arange(n), r0 + np.arange(n)] = False
    return mask


def _count_recomputed(G):
    """Entries the default rtol sends to the pointwise kernel."""
    import skkl._tiles as module

    count = [0]
    original = module.pointwise

    def counting(plan, i, j):
        count[0] += i.size
        return original(plan, i, j)

    module.pointwise = counting
    try:
        pairwise_divergence(G)
    finally:
        module.pointwise = original
    return count[0]


if __name__ == "__main__":
    main()
