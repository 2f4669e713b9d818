"""Cost of GaussianDriftMonitor: setup, per-row update, a 10^6-row stream.

- setup: ``fit`` (summary + calibration) at ERT=2000, d=100, 5000 reference
  rows, for both calibrations;
- update: microseconds per row at d=20 in batches of 1, 10, 100 and 10^4
  (floor: the whitening product alone, one GEMM per batch);
- stream: 10^6 rows at d=20 through ``update`` in batches of 10^4, and
  through ``skkl monitor`` on a CSV file (wall time and peak RSS, with a
  10^5-row file beside it to show memory is flat in the stream's length).

alibi-detect's setup at the same sizes is in ``bench_monitor_delay.py``
(measured while tuning the peers).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time

import numpy as np

from skkl import GaussianDriftMonitor


def setup_cost(d: int, n: int, ert: float, mode: str) -> dict:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d))
    t0 = time.perf_counter()
    c0 = time.process_time()
    mon = GaussianDriftMonitor(ert=ert, calibration=mode, random_state=0).fit(X)
    return {
        "what": f"setup {mode} d={d} n={n} ert={ert:g}",
        "wall_s": time.perf_counter() - t0,
        "cpu_s": time.process_time() - c0,
        "simulated_rows": mon.calibration_.rows,
        "relative_se": mon.calibration_.relative_se,
    }


def update_cost(d: int, batch: int, rows: int) -> dict:
    rng = np.random.default_rng(1)
    mon = GaussianDriftMonitor(
        ert=10**6, window=500, random_state=0, n_simulated_rows=20000
    )
    mon.fit(rng.standard_normal((5000, d)))
    Y = rng.standard_normal((rows, d))
    mon.update(Y[:batch])
    t0 = time.perf_counter()
    for a in range(0, rows, batch):
        mon.update(Y[a : a + batch])
    per_row = (time.perf_counter() - t0) / rows * 1e6
    Linv = mon.reference_.inverse_factor
    t0 = time.perf_counter()
    for a in range(0, rows, batch):
        Y[a : a + batch] @ Linv.T
    floor = (time.perf_counter() - t0) / rows * 1e6
    return {
        "what": f"update d={d} batch={batch}",
        "us_per_row": per_row,
        "floor_us_per_row": floor,
        "ratio": per_row / floor,
    }


def _peak_rss_mb(cmd) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of a child process."""
    t0 = time.perf_counter()
    subprocess.run(cmd, check=False, capture_output=True)
    wall = time.perf_counter() - t0
    return wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def stream_cost(d: int, rows: int, tmp: str) -> list[dict]:
    rng = np.random.default_rng(2)
    ref = rng.standard_normal((5000, d))
    mon = GaussianDriftMonitor(
        ert=10**6, window=500, random_state=0, n_simulated_rows=20000
    ).fit(ref)
    out = []
    t0 = time.perf_counter()
    for _ in range(0, rows, 10**4):
        mon.update(rng.standard_normal((10**4, d)))
    out.append({"what": f"API {rows} rows d={d}", "wall_s": time.perf_counter() - t0})
    import pandas as pd

    names = [f"f{j}" for j in range(d)]
    pd.DataFrame(ref, columns=names).to_csv(f"{tmp}/ref.csv", index=False)
    mon.save(f"{tmp}/ref.npz")
    for n_rows in (rows // 10, rows):
        path = f"{tmp}/s{n_rows}.csv"
        with open(path, "w") as fh:
            fh.write(",".join(names) + "\n")
            for a in range(0, n_rows, 10**5):
                k = min(10**5, n_rows - a)
                np.savetxt(fh, rng.standard_normal((k, d)), delimiter=",", fmt="%.6f")
        cmd = ["/usr/bin/time", "-v", sys.executable, "-m", "skkl", "monitor"]
        cmd += [f"{tmp}/ref.npz", path]
        t0 = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        rss = next(
            (
                int(line.split(":")[1]) / 1024
                for line in done.stderr.splitlines()
                if "Maximum resident" in line
            ),
            float("nan"),
        )
        out.append(
            {
                "what": f"CLI {n_rows} rows d={d} (saved reference)",
                "wall_s": wall,
                "peak_rss_mib": rss,
                "exit": done.returncode,
            }
        )
    return out


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true")
    args = p.parse_args()
    from threadpoolctl import threadpool_info

    kernels = {i.get("internal_api"): i.get("architecture") for i in threadpool_info()}
    print(f"BLAS: {kernels}; load: {os.getloadavg()}", flush=True)
    t_all = time.perf_counter()
    rows = []
    big = (100, 5000, 2000.0) if not args.quick else (20, 1000, 500.0)
    for mode in ("resample", "parametric"):
        rows.append(setup_cost(*big, mode))
        print(json.dumps(rows[-1]), flush=True)
    for batch in (1, 10, 100, 10**4):
        n = 2000 if batch == 1 else 20000
        rows.append(update_cost(20, batch, n))
        print(json.dumps(rows[-1]), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for row in stream_cost(20, 10**6 if not args.quick else 10**5, tmp):
            rows.append(row)
            print(json.dumps(row), flush=True)
    print(f"total {time.perf_counter() - t_all:.0f} s; load: {os.getloadavg()}")


if __name__ == "__main__":
    main()
