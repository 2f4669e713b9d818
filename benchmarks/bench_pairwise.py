"""Benchmark: all-pairs KL from raw arrays against the one floor, torch and the snippet.

The floor (one definition, stated wherever a ratio to it is quoted): the bare
GEMM of the one-GEMM formula, one ``(K, n) @ (n, K)`` product of two random
float64 operands with n = d(d+1)/2 for full covariances and 2d for diagonal
ones, timed with the default BLAS threads and with one BLAS thread, the
faster of the two (on a loaded machine BLAS threads can slow a small product
down several times).

For each configuration it times, side by side in one run,

- ``skkl.pairwise_divergence(Gaussians(M, S))`` from raw arrays, validation
  and factorisation included (self-pairwise KL matrix, default rtol);
- the floor above;
- ``torch.distributions.kl_divergence`` batched over the same K^2 pairs
  (CPU, float64, in chunks; extrapolated from the chunks done when the full
  run would exceed the time budget);
- the classic ``kl_mvn`` snippet (inv/det, one Python call per pair) from
  tests/_reference.py, extrapolated from a sample of pairs;

and prints the ratios and the largest relative differences between methods.
A small-call table times one ``kl_divergence`` call against one ``kl_mvn``
call at d = 2, 8, 32 (min over many short batches, interleaved), and a
scaling run streams K = 1000 ... 20000 (d=16, full) through
``pairwise_divergence_chunked`` with time and tracemalloc peak memory.

Usage::

    python benchmarks/bench_pairwise.py [--quick] [--repeat N] [--only K,d ...]

Each configuration alternates skkl and the floor ``--repeat`` times and
reports the min and the median of the times and of the paired ratios.
``--only K,d`` runs just that full-covariance configuration (repeatable)
and skips the other tables. The BLAS library and kernel (threadpoolctl),
the load average before and after, and the total time are printed.
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
from _common import blas_kernel, load_average, make_arrays, make_gaussians
from threadpoolctl import threadpool_limits

import skkl
from skkl import (
    Gaussians,
    kl_divergence,
    pairwise_divergence,
    pairwise_divergence_chunked,
)

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


def _header(args, torch):
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
    print(f"- load average (1 / 5 / 15 min) at start: {load_average()}")
    print(
        "- floor: one (K, n) @ (n, K) float64 product, n = d(d+1)/2 (full) or "
        "2d (diag), the faster of default BLAS threads and one thread\n"
    )


def _alternate(M, S, covariance_type, kind, n, repeat):
    """skkl from raw arrays and the floor, alternated: (times, floors, matrix)."""
    K = len(M)
    t_skkl, t_floor, D = [], [], None
    for _ in range(repeat):
        t, D = best_time(
            lambda: pairwise_divergence(Gaussians(M, S, covariance_type), kind=kind),
            1,
        )
        t_skkl.append(t)
        threaded = gemm_floor(K, n, 1)
        with threadpool_limits(1, user_api="blas"):
            single = gemm_floor(K, n, 1)
        t_floor.append(min(threaded, single))
    return np.array(t_skkl), np.array(t_floor), D


def _peers(G, D, torch, kl_mvn, budget, n_pairs):
    """Cells for torch and the snippet: times, ratios and largest differences."""
    cells = {}
    if torch is not None:
        t_torch, frac, rows = torch_kl(G, budget)
        cells["diff_torch"] = max(
            max_rel_diff(
                v[_off_diagonal(r0, v.shape)],
                D[r0 : r0 + len(v)][_off_diagonal(r0, v.shape)],
            )
            for r0, v in rows.items()
        )
        extrapolated = "" if frac >= 1 else f" (extrap. {frac:.0%})"
        cells["torch"] = f"{t_torch:.3g}{extrapolated}"
        cells["t_torch"] = t_torch
    if kl_mvn is not None:
        t_snip, i, j, values = snippet_kl(G, kl_mvn, n_pairs)
        off = i != j
        cells["diff_snip"] = max_rel_diff(values[off], D[i, j][off])
        cells["snippet"] = f"{t_snip:.3g}"
        cells["t_snip"] = t_snip
    return cells


def _configs(args):
    configs = [
        ("full", 1000, 32),
        ("full", 2000, 64),
        ("full", 500, 64),
        ("full", 300, 16),
        ("diag", 5000, 64),
    ]
    if args.quick:
        configs = [("full", 300, 32), ("full", 200, 64), ("full", 300, 16)]
        configs.append(("diag", 2000, 64))
    if args.only:
        configs = [("full", *map(int, kd.split(","))) for kd in args.only]
    return configs


def _main_table(args, torch, kl_mvn):
    repeat = args.repeat or (5 if args.quick else 11)
    budget = 3.0 if args.quick else 15.0
    n_pairs = 100 if args.quick else 300
    print(
        "| cov | K | d | skkl from arrays (s) min / med | floor (s) min / med "
        "| skkl / floor min / med | torch (s) | torch / skkl (med) "
        "| snippet (s, extrap.) | snippet / skkl (med) | recomputed "
        "| max rel diff torch | max rel diff snippet |"
    )
    print("|" + "---|" * 13)
    for covariance_type, K, d in _configs(args):
        M, S = make_arrays(K, d, covariance_type)
        n = d * (d + 1) // 2 if covariance_type == "full" else 2 * d
        t_skkl, t_floor, D = _alternate(M, S, covariance_type, args.kind, n, repeat)
        ratio = t_skkl / t_floor
        G = Gaussians(M, S, covariance_type)
        if args.kind != "kl":  # the peers compute KL: compare with skkl's KL
            D = pairwise_divergence(G)
        cells = _peers(G, D, torch, kl_mvn, budget, n_pairs)
        med = np.median(t_skkl)
        torch_ratio = f"{cells['t_torch'] / med:.0f}x" if "t_torch" in cells else "n/a"
        snip_ratio = f"{cells['t_snip'] / med:.0f}x" if "t_snip" in cells else "n/a"
        print(
            f"| {covariance_type} | {K} | {d} | {t_skkl.min():.4f} / {med:.4f} "
            f"| {t_floor.min():.4f} / {np.median(t_floor):.4f} "
            f"| {ratio.min():.2f} / {np.median(ratio):.2f} "
            f"| {cells.get('torch', 'n/a')} | {torch_ratio} "
            f"| {cells.get('snippet', 'n/a')} | {snip_ratio} | {_count_recomputed(G)} "
            f"| {cells.get('diff_torch', float('nan')):.1e} "
            f"| {cells.get('diff_snip', float('nan')):.1e} |",
            flush=True,
        )


def _per_call(func, batch=10, rounds=300):
    """Least time per call over many short interleavable batches (seconds)."""
    best = np.inf
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(batch):
            func()
        best = min(best, (time.perf_counter() - t0) / batch)
    return best


def _small_calls(kl_mvn):
    print("\n### One pair: `kl_divergence` against the `kl_mvn` snippet\n")
    print("| d | snippet (us) | kl_divergence (us) | kl_divergence / snippet |")
    print("|---|---|---|---|")
    for d in (2, 8, 32):
        M, S = make_arrays(2, d, "full", seed=d)
        pair = (M[0], S[0], M[1], S[1])
        # Interleaved rounds: a burst of load hits both alike.
        snip, ours = [], []
        for _ in range(10):
            snip.append(_per_call(lambda p=pair: kl_mvn(*p), rounds=30))
            ours.append(_per_call(lambda p=pair: kl_divergence(*p), rounds=30))
        a, b = min(snip), min(ours)
        print(f"| {d} | {a * 1e6:.1f} | {b * 1e6:.1f} | {b / a:.2f} |", flush=True)


def _scaling(quick):
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


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="smaller, faster run")
    parser.add_argument(
        "--only",
        metavar="K,d",
        action="append",
        help="run only this full-covariance configuration (repeatable); "
        "skips the other tables",
    )
    parser.add_argument("--repeat", type=int, help="repeats of skkl and the floor")
    parser.add_argument(
        "--kind",
        default="kl",
        choices=["kl", "reverse_kl", "jeffreys"],
        help="GEMM kind for the skkl / floor ratio (torch and the snippet are KL)",
    )
    args = parser.parse_args()
    start = time.perf_counter()
    kl_mvn = load_snippet()
    try:
        import torch
    except ImportError:  # pragma: no cover
        torch = None
    _header(args, torch)
    if torch is not None:
        print(f"- torch threads: {torch.get_num_threads()}\n")
    _main_table(args, torch, kl_mvn)
    if not args.only:
        if kl_mvn is not None:
            _small_calls(kl_mvn)
        _scaling(args.quick)
    print(f"\n- load average at end: {load_average()}")
    print(f"- total time: {time.perf_counter() - start:.0f} s")


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
