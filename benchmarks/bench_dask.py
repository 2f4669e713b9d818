"""Benchmark GroupGaussians.fit on a dask cluster against the in-memory fit.

n rows x d features (default 10^8 x 32, 10 classes) are generated lazily on a
``distributed.LocalCluster`` (2 workers x 1 thread, as processes and, with
``--modes processes threads``, as threads of this process) and never exist as
a whole anywhere: every chunk is generated, reduced to per-class moments in
the same task and dropped. Reported, side by side in one run:

* the in-memory numpy fit on ``--mem-rows`` rows (default 10^7) on one core
  (BLAS limited to one thread), before and after the cluster runs: rows per
  CPU second, the reference (the faster of the two measurements);
* on the cluster (the fewest CPU seconds of ``--cluster-repeats`` runs),
  for two generators of the same shape:

  - ``da.random`` (``dask.array.random.default_rng(0).standard_normal``):
    generating 32 normal deviates per row costs about three times as much as
    fitting them, so the CPU of generation alone is measured too and
    subtracted: the fit's own graph (the blocks of X and of the labels
    produced and reduced in one task each, the same merge tree) with a
    reduction that keeps one value of each block;
  - ``cheap``: each chunk is a cached random block plus a per-chunk shift
    (one addition per value), so less is subtracted;

  with the peak resident memory of each worker process (``VmHWM``) against
  the chunk size (the target: bounded by a few chunks, whatever n), and a
  profile of where the fit's tasks spend their time (compute, transfers
  between workers, the scheduler and client).

**The per-core ratio** (the target: >= 0.7) is one definition throughout:

    (rows / CPU seconds of the fit on the cluster) / (rows / CPU seconds of the
    in-memory fit on one core)

where the cluster's CPU seconds are those of every worker process plus this
process (which runs the scheduler and the client), for generation + fit,
minus those of generation alone. CPU seconds, not wall time, because the
machine is shared: wall time depends on the other jobs, CPU time much less.

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
import resource
import sys
import time

import numpy as np
from _common import blas_kernel, load_average
from threadpoolctl import threadpool_limits

from skkl import GroupGaussians
from skkl._dask import reduce_blocks


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


def _first_values(Xb, yb):
    return np.array([Xb[0, 0] + yb[0]])


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


def _fit_cpu_here(rows: int, d: int, K: int) -> float:
    """CPU seconds of the in-memory fit of ``rows`` rows in this process (the
    fewest of 2), on one BLAS thread: run inside each worker process, both at
    once, it is the reference under the workers' own conditions."""
    X = np.random.default_rng(2).standard_normal((rows, d))
    y = _labels(np.arange(rows), K)
    cpus = []
    with threadpool_limits(1):
        for _ in range(2):
            c0 = time.thread_time()
            GroupGaussians().fit(X, y)
            cpus.append(time.thread_time() - c0)
    return min(cpus)


def _transfers(dask_worker) -> tuple:
    """(count, bytes) of the data this worker has sent to other workers."""
    return (
        dask_worker.transfer_outgoing_count_total,
        dask_worker.transfer_outgoing_bytes_total,
    )


def _task_profile(stream: list) -> dict:
    """Seconds and counts per (task kind, action) of a task stream."""
    out: dict = {}
    for task in stream:
        key = task["key"][0] if isinstance(task["key"], tuple) else task["key"]
        kind = str(key).split("-")[0]
        for step in task["startstops"]:
            entry = out.setdefault((kind, step["action"]), [0, 0.0])
            entry[0] += 1
            entry[1] += step["stop"] - step["start"]
    return out


class _Meter:
    """CPU seconds of the cluster (workers and this process) and its transfers."""

    def __init__(self, client, processes: bool):
        self.client, self.processes = client, processes

    def cpu(self) -> float:
        if not self.processes:  # one process: the workers are its threads
            return _cpu_seconds()
        return sum(self.client.run(_cpu_seconds).values()) + _cpu_seconds()

    def run(self, func) -> dict:
        from distributed import get_task_stream

        t0 = self.client.run(_transfers)
        c0, here0, w0 = self.cpu(), _cpu_seconds(), time.perf_counter()
        with get_task_stream(self.client) as stream:
            func()
        wall = time.perf_counter() - w0
        cpu, here = self.cpu() - c0, _cpu_seconds() - here0
        t1 = self.client.run(_transfers)
        moved = [t1[a][i] - t0[a][i] for a in t1 for i in (0, 1)]
        return {
            "wall": wall,
            "cpu": cpu,
            "here": here,
            "tasks": _task_profile(stream.data),
            "transfers": (sum(moved[0::2]), sum(moved[1::2])),
        }


def on_cluster(args, processes: bool):
    import dask
    import dask.array as da
    from distributed import Client, LocalCluster

    # The workers' statistical profiler samples every thread each 10 ms: a
    # diagnostics cost, not part of the fit.
    dask.config.set({"distributed.worker.profile.enabled": False})

    n, d, K, chunk, w = args.rows, args.d, args.classes, args.chunk_rows, args.workers
    results = {}
    with (
        LocalCluster(
            n_workers=w,
            threads_per_worker=1,
            processes=processes,
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
        meter = _Meter(client, processes)
        for name, make in generators.items():
            if name not in args.generators:
                continue
            X = make()
            # Generation alone: the fit's own graph (blocks of X and y
            # produced and reduced in one task each, the same merge tree)
            # with a reduction that keeps one value of each block.
            first = functools.partial(
                reduce_blocks, _first_values, np.add, X, y, compute=False
            )
            # The fewest CPU seconds of a few runs of each: the others are
            # slowed by the other jobs on the machine.
            gens, totals = [], []
            for _ in range(args.cluster_repeats):
                gens.append(meter.run(lambda first=first: first().compute()))
                fits = []
                totals.append(
                    meter.run(lambda X=X, f=fits: f.append(GroupGaussians().fit(X, y)))
                )
                assert fits[0].class_count_.sum() == n
            gen = min(gens, key=lambda m: m["cpu"])
            total = min(totals, key=lambda m: m["cpu"])
            results[name] = (gen, total)
            print(
                f"  {'processes' if processes else 'threads'} {name:<10s} generation "
                f"alone {gen['wall']:7.2f} s ({gen['cpu']:.1f} CPU s), generation "
                f"+ fit {total['wall']:7.2f} s ({total['cpu']:.1f} CPU s); "
                f"load {load_average()}",
                flush=True,
            )
        peak = client.run(_peak_rss_bytes)
        # Control: the in-memory fit inside the workers, all at once.
        rows = min(n, 2_000_000)
        here = client.run(_fit_cpu_here, rows, d, K)
        results["control"] = rows / np.mean(list(here.values()))
    return results, base, peak


def _print_profile(mode: str, name: str, gen: dict, total: dict, n_blocks: int):
    """Where the fit's time goes: per task kind, transfers, scheduler/client."""
    print(f"\n{mode}, {name}: fit tasks (task stream; compute is wall time in task)")
    for (kind, action), (count, seconds) in sorted(total["tasks"].items()):
        print(
            f"  {kind:<14s} {action:<12s} {count:5d} x {1e3 * seconds / count:7.1f} ms"
        )
    count, nbytes = total["transfers"]
    print(
        f"  moved between workers: {count} objects, {nbytes / 2**10:,.0f} KiB "
        f"({nbytes / max(count, 1) / 2**10:,.1f} KiB each)"
    )
    if mode == "processes":
        # The workers' CPU and this process's (scheduler and client), each
        # net of generation alone: together, the fit's CPU of the table.
        workers = (total["cpu"] - total["here"]) - (gen["cpu"] - gen["here"])
        extra = total["here"] - gen["here"]
        print(
            f"  worker processes: {1e3 * workers / n_blocks:.1f} CPU ms per block "
            "for the fit (generation alone subtracted)"
        )
        print(
            f"  scheduler + client process: {total['here']:.2f} CPU s for the fit "
            f"({1e3 * total['here'] / n_blocks:.1f} ms per block; "
            f"{1e3 * extra / n_blocks:+.1f} ms per block against generation alone)"
        )


def _parse_args(argv) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000_000)
    parser.add_argument("--d", type=int, default=32)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--chunk-rows", type=int, default=250_000)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="3GiB")
    parser.add_argument("--mem-rows", type=int, default=10_000_000)
    parser.add_argument("--repeats", type=int, default=2, help="in-memory fits")
    parser.add_argument(
        "--cluster-repeats",
        type=int,
        default=3,
        help="runs of generation alone and of generation + fit on the cluster "
        "(the fewest CPU seconds of each are kept)",
    )
    parser.add_argument("--quick", action="store_true", help="10^6 rows")
    parser.add_argument(
        "--generators",
        nargs="+",
        choices=["da.random", "cheap"],
        default=["da.random", "cheap"],
        help="which lazily generated data to fit",
    )
    parser.add_argument(
        "--modes",
        nargs="+",
        choices=["processes", "threads"],
        default=["processes"],
        help="workers as processes, and/or as threads of this process "
        "(processes=False: no serialisation; memory is then this process's)",
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.rows, args.mem_rows, args.chunk_rows = 1_000_000, 1_000_000, 100_000
    return args


def _print_table(runs: dict, n: int, w: int, mem_rate: float) -> None:
    """The per-core ratio of every mode and generator, as a markdown table."""
    print(
        "\n| workers | run | wall time | CPU s | rows per CPU s | per-core ratio "
        "(target >= 0.7) |"
    )
    print("|---|---|---|---|---|---|")
    for mode, (results, _, _) in runs.items():
        for name, (gen, total) in results.items():
            fit = {k: total[k] - gen[k] for k in ("wall", "cpu")}
            for label, m in [
                (f"{name}: generation + fit", total),
                (f"{name}: fit (minus generation alone)", fit),
            ]:
                print(
                    f"| {w} {mode} | {label} | {m['wall']:.1f} s | {m['cpu']:.1f} | "
                    f"{n / m['cpu']:,.0f} | {n / m['cpu'] / mem_rate:.2f} |"
                )


def _print_memory(runs: dict, n: int, d: int, chunk_bytes: int) -> None:
    """Peak resident memory of every worker process against the chunk size."""
    for mode, (_, base, peak) in runs.items():
        if mode != "processes":
            continue
        print("\npeak resident memory per worker process (after warm-up):")
        for addr in peak:
            start = base.get(addr, 0)
            grown = peak[addr] - start
            print(
                f"  {addr}: {peak[addr] / 2**20:,.0f} MiB (start {start / 2**20:,.0f} "
                f"MiB; grew {grown / 2**20:,.0f} MiB = {grown / chunk_bytes:.1f} "
                f"chunks); the data: {n * d * 8 / 2**30:,.1f} GiB"
            )


def main(argv=None):
    args = _parse_args(argv)
    n, d, K, w = args.rows, args.d, args.classes, args.workers
    n_blocks = -(-n // args.chunk_rows)
    chunk_bytes = args.chunk_rows * d * 8
    print(f"BLAS: {blas_kernel(all_libraries=True)}")
    print(f"load: {load_average()} (1, 5, 15 min)")
    print(
        f"data: n={n:,} x d={d}, {K} classes, {n_blocks} chunks of "
        f"{args.chunk_rows:,} rows ({chunk_bytes / 2**20:.0f} MiB); {w} workers "
        "x 1 thread"
    )
    rates = []

    def reference(when):
        t_mem, cpu_mem = in_memory(args.mem_rows, d, K, args.repeats)
        rates.append(args.mem_rows / cpu_mem)
        print(
            f"in-memory numpy fit {when}, {args.mem_rows:,} rows, 1 core: "
            f"{t_mem:.2f} s wall, {cpu_mem:.2f} CPU s: {rates[-1]:,.0f} rows per "
            f"CPU second; load {load_average()}",
            flush=True,
        )

    reference("before")
    print("\ncluster:")
    runs = {mode: on_cluster(args, mode == "processes") for mode in args.modes}
    reference("after")
    mem_rate = max(rates)

    controls = {mode: r[0].pop("control") for mode, r in runs.items()}
    _print_table(runs, n, w, mem_rate)
    for mode, (results, _, _) in runs.items():
        for name, (gen, total) in results.items():
            _print_profile(mode, name, gen, total, n_blocks)
    print(
        f"\nin process, one block: the in-memory fit of {args.chunk_rows:,} rows "
        f"costs {1e3 * args.chunk_rows / mem_rate:.1f} CPU ms"
    )
    for mode, rate in controls.items():
        print(
            f"control, {mode}: the in-memory fit run inside every worker at once: "
            f"{rate:,.0f} rows per CPU s ({rate / mem_rate:.2f} of the reference, "
            f"{1e3 * args.chunk_rows / rate:.1f} CPU ms per block: what the "
            "workers' environment and the shared cores cost without dask's "
            "runtime)"
        )
    _print_memory(runs, n, d, chunk_bytes)


if __name__ == "__main__":
    main()
