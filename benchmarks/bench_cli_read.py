"""Reading a 1,000,000 x 20 numeric CSV with the CLI's reader, by engine.

Side by side in one run: the CLI's table reader with each of its C parsers
(pyarrow, pandas, numpy.loadtxt: the last is what an install without pandas
and pyarrow uses), and the standard library's csv module (the reader before
the split) on a 10% slice, scaled. Also the peak memory of each read
(growth of the peak resident set size over the process after imports)
and the end-to-end wall time of each in a fresh process. Target (issue 12):
at most 5 s per file.

Usage: python benchmarks/bench_cli_read.py [--rows N] [--dir DIR]
"""

import argparse
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

CODE = """
import resource, sys, time
from skkl.cli._readers import DelimitedTable, open_table
DelimitedTable.engines = ({engine!r},)
t = open_table({path!r})
for m in ("pandas", "pyarrow.csv"):  # the baseline RSS includes the imports
    try:
        __import__(m)
    except ImportError:
        pass
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
t0, c0 = time.perf_counter(), cpu()
X = t.read(t.columns, progress=False).numeric
dt, dc = time.perf_counter() - t0, cpu() - c0
peak = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - rss0) * 1024
print(dt, peak, X.shape[0], dc, float(X.sum()))
"""


def run(path, engine):
    code = CODE.format(engine=engine, path=str(path))
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    return float(out[0]), float(out[1]), float(out[3]), float(out[4])


def csv_module(path, fraction=0.1):
    n_total = sum(1 for _ in open(path)) - 1
    limit = int(n_total * fraction)
    c0 = time.process_time()
    t0 = time.perf_counter()
    with open(path, newline="") as fh:
        reader = csv.reader(fh)
        next(reader)
        rows = [r for _, r in zip(range(limit), reader, strict=False)]
    np.array(rows, dtype=np.float64)
    wall = (time.perf_counter() - t0) / fraction
    return wall, (time.process_time() - c0) / fraction


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--dir", default="/tmp/skkl_bench_read")
    args = parser.parse_args()
    d = Path(args.dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / f"X_{args.rows}x20.csv"
    if not path.exists():
        rng = np.random.default_rng(0)
        X = rng.normal(size=(args.rows, 20))
        # pandas' to_csv format: the shortest repr of each float (~19 chars).
        with open(path, "w") as fh:
            fh.write(",".join(f"f{j}" for j in range(20)) + "\n")
            for row in X.tolist():
                fh.write(",".join(map(repr, row)) + "\n")
    size = path.stat().st_size / 1e6
    from threadpoolctl import threadpool_info

    kernels = {i.get("internal_api"): i.get("architecture") for i in threadpool_info()}
    print(f"file: {path} ({size:.0f} MB); BLAS: {kernels}")
    results = {}
    for engine in ("pyarrow", "pandas", "numpy"):
        try:
            results[engine] = run(path, engine)
        except subprocess.CalledProcessError as exc:  # engine not installed
            print(f"{engine}: unavailable ({exc.stderr.strip().splitlines()[-1]})")
    t_csv, c_csv = csv_module(path)
    sums = [r[3] for r in results.values()]
    assert max(sums) - min(sums) <= 1e-9 * args.rows, sums  # same numbers
    target = 5.0
    rows = [(f"{e} C parser", t, m, c) for e, (t, m, c, _) in results.items()]
    rows.append(("csv module (old reader, 10% scaled)", t_csv, float("nan"), c_csv))
    with open("/proc/loadavg") as fh:
        print(f"load average: {fh.read().split()[0]} on {os.cpu_count()} cores")
    print(f"{'engine':38s} {'wall s':>8s} {'CPU s':>8s} {'peak MB':>8s}  <= {target} s")
    for name, t, m, c in rows:
        mark = "met" if t <= target else "missed"
        print(f"{name:38s} {t:8.2f} {c:8.2f} {m / 1e6:8.0f}  {mark}")
    base = min(r[1] for r in rows)
    ratios = ", ".join(f"{r[0]}: {r[1] / base:.1f}x" for r in rows)
    print(f"time / fastest: {ratios}")


if __name__ == "__main__":
    main()
