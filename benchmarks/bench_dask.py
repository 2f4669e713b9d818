"""Benchmark GroupGaussians.fit on a dask cluster against the in-memory fit.

n rows x d features (default 10^8 x 32, 10 classes) are generated lazily on a
``distributed.LocalCluster`` (2 worker processes, 1 thread each) and never
exist as a whole anywhere: every chunk is generated, reduced to per-class
moments on its worker and dropped. Reported, side by side in one run:

* the in-memory numpy fit on ``--mem-rows`` rows (default 10^7) on one core
  (BLAS limited to one thread): rows/s per core, the reference;
* on the cluster, for two generators of the same shape:

  - ``da.random`` (``dask.array.random.default_rng(0).standard_normal``):
    the lazily generated data the issue asks for. Generating 32 normal
    deviates per row costs about as much as fitting them, so the wall time
    is also measured for generation alone (a blockwise sum of the same
    array) and the fit's own throughput is rows / (total - generation);
  - ``cheap``: each chunk is a cached random block plus a per-chunk shift
    (one addition per value), so the wall time is the fit itself;

  with rows/s, rows/s per worker core (the target: >= 0.7x the in-memory
  fit per core) and the peak resident memory of each worker process
  (``ru_maxrss``, whole lifetime) against the chunk size (the target: bounded
  by a few chunks, whatever n).

The labels come from a blockwise hash of the row index (10 classes).

Usage::

    python benchmarks/bench_dask.py                     # 10^8 rows
    python benchmarks/bench_dask.py --rows 10000000     # scaled down
    python benchmarks/bench_dask.py --quick             # seconds
"""

from __future__ import annotations

import argparse
import functools
import gc
import os
import resource
import sys
import time

import numpy as np
from _common import blas_kernel
from threadpoolctl import threadpool_limits

from skkl import GroupGaussians


def _labels(idx: np.ndarray, n_classes: int) -> np.ndarray:
    """A fixed pseudo-random class per row index (multiplicative hash)."""
    h = (idx.astype(np.uint64) * np.uint64(2654435761)) % np.uint64(2**32)
    return (h % np.uint64(n_classes)).astype(np.int64)


@functools.lru_cache(maxsize=4)
def _base_block(rows: int, d: int) -> np.ndarray:
    return np.random.default_rng(12345).standard_normal((rows, d))


def _cheap_block(block, block_info=None, *, d: int):
    """A chunk of (rows, d): a cached random block plus a per-chunk shift."""
    rows = len(block)
    k = block_info[0]["chunk-location"][0] if block_info else 0
    return _base_block(rows, d) + 1e-3 * k


def _peak_rss_bytes() -> int:
    """Peak resident memory of this process since the last reset (Linux: VmHWM)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    # ru_maxrss (never reset) is in KiB on Linux, bytes on macOS.
    scale = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def _cpu_seconds() -> float:
    """User + system CPU time of this process, all threads."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _reset_peak_rss() -> int:
    """Reset the peak to the current resident memory (Linux) and return it."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    return _peak_rss_bytes()


def _labels_dask(n: int, chunk: int, n_classes: int):
    import dask.array as da

    idx = da.arange(n, chunks=chunk, dtype=np.int64)
    return idx.map_blocks(_labels, n_classes, dtype=np.int64)


def in_memory(n: int, d: int, K: int, repeats: int) -> float:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    y = _labels(np.arange(n), K)
    times, cpus = [], []
    with threadpool_limits(1):
        for _ in range(repeats):
            c0, t0 = _cpu_seconds(), time.perf_counter()
            GroupGaussians().fit(X, y)
            times.append(time.perf_counter() - t0)
            cpus.append(_cpu_seconds() - c0)
    del X, y
    gc.collect()
    return min(times), min(cpus)


def on_cluster(args):
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    # The workers' statistical profiler samples every thread each 10 ms: a
    # diagnostics cost, not part of the fit.
    dask.config.set({"distributed.worker.profile.enabled": False})

    n, d, K, chunk, w = args.rows, args.d, args.classes, args.chunk_rows, args.workers
    chunk_bytes = chunk * d * 8
    results = {}
    with (
        LocalCluster(
            n_workers=args.workers,
            threads_per_worker=1,
            processes=not args.threads,
            dashboard_address=":0",
            memory_limit=args.worker_memory,
        ) as cluster,
        Client(cluster) as client,
    ):
        # Warm up: imports and first calls on every worker are not timed.
        # Random rows: constant ones would make every covariance singular.
        warm = da.random.default_rng(1).standard_normal(
            (4 * w * 1000, d), chunks=(1000, d)
        )
        GroupGaussians().fit(warm, _labels_dask(len(warm), 1000, K))
        base = client.run(_reset_peak_rss)
        y = _labels_dask(n, chunk, K)
        generators = {
            "da.random": lambda: da.random.default_rng(0).standard_normal(
                (n, d), chunks=(chunk, d)
            ),
            "cheap": lambda: da.zeros((n, d), chunks=(chunk, d)).map_blocks(
                _cheap_block, d=d, dtype=np.float64
            ),
        }

        def cpu_now():
            if args.threads:  # one process: the workers are its threads
                return _cpu_seconds()
            return sum(client.run(_cpu_seconds).values()) + _cpu_seconds()

        def timed(func):
            """(wall seconds, CPU seconds of the workers and of this process)."""
            c0, t0 = cpu_now(), time.perf_counter()
            func()
            wall = time.perf_counter() - t0
            return wall, cpu_now() - c0

        for name, make in generators.items():
            if name not in args.generators:
                continue
            X = make()
            gen = timed(lambda X=X: X.sum(axis=0).compute())
            fits = []
            total = timed(lambda X=X, f=fits: f.append(GroupGaussians().fit(X, y)))
            assert fits[0].class_count_.sum() == n
            results[name] = (gen, total)
            print(
                f"  {name:<10s} generation alone {gen[0]:7.2f} s "
                f"({gen[1]:.1f} CPU s), generation + fit {total[0]:7.2f} s "
                f"({total[1]:.1f} CPU s)",
                flush=True,
            )
        peak = client.run(_peak_rss_bytes)
    return results, base, peak, chunk_bytes


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="3GiB")
    parser.add_argument("--mem-rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="10^6 rows")
    parser.add_argument(
        "--generators",
        nargs="+",
        choices=["da.random", "cheap"],
        default=["da.random", "cheap"],
        help="which lazily generated data to fit",
    )
    parser.add_argument(
        "--threads",
        action="store_true",
        help="workers as threads of this process (processes=False): no "
        "serialisation between workers; memory is then this process's",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.mem_rows, args.chunk_rows = 1_000_000, 1_000_000, 100_000

    n, d, K, w = args.rows, args.d, args.classes, args.workers
    print(f"BLAS: {blas_kernel(all_libraries=True)}")
    print(f"load: {os.getloadavg()[0]:.1f} (1-min average)")
    print(
        f"data: n={n:,} x d={d}, {K} classes, chunks of {args.chunk_rows:,} rows "
        f"({args.chunk_rows * d * 8 / 2**20:.0f} MiB); {w} worker processes x 1 thread"
    )
    t_mem, cpu_mem = in_memory(args.mem_rows, d, K, args.repeats)
    mem_rate = args.mem_rows / cpu_mem
    print(
        f"\nin-memory numpy fit, {args.mem_rows:,} rows, 1 core: {t_mem:.2f} s "
        f"wall, {cpu_mem:.2f} CPU s: {mem_rate:,.0f} rows per CPU second"
    )
    print("\ncluster:")
    results, base, peak, chunk_bytes = on_cluster(args)

    # On a shared machine wall time depends on the other jobs; CPU seconds
    # (workers plus scheduler/client) are what the fit costs per core.
    print(
        "\n| run | wall time | CPU s | rows/s (wall) | rows per CPU s | "
        "vs in-memory per core (target >= 0.7) |"
    )
    print("|---|---|---|---|---|---|")
    for name, (gen, total) in results.items():
        fit = (total[0] - gen[0], total[1] - gen[1])
        for label, (wall, cpu) in [
            (f"{name}: generation + fit", total),
            (f"{name}: fit (minus generation alone)", fit),
        ]:
            print(
                f"| {label} | {wall:.1f} s | {cpu:.1f} | {n / wall:,.0f} | "
                f"{n / cpu:,.0f} | {n / cpu / mem_rate:.2f} |"
            )
    print("\npeak resident memory per worker process (after warm-up):")
    for addr in peak:
        start = base.get(addr, 0)
        grown = peak[addr] - start
        print(
            f"  {addr}: {peak[addr] / 2**20:,.0f} MiB (start {start / 2**20:,.0f} "
            f"MiB; grew {grown / 2**20:,.0f} MiB = {grown / chunk_bytes:.1f} "
            f"chunks); the data: {n * d * 8 / 2**30:,.1f} GiB"
        )


if __name__ == "__main__":
    main()
