"""Run alibi-detect's online detectors on streams given as .npy files.

Runs in the alibi venv (numpy < 2, torch CPU), called by the monitor
benchmarks: ``python _alibi_online.py DIR SPEC_JSON``. ``DIR`` holds
``refs.npy`` (R, n, d) and ``streams.npy`` (R, S, T, d); for every reference
a detector is configured (timed), then each of its S streams is fed row by
row from a reset state until the first alarm (or T rows). Writes
``DIR/out.json``: run lengths (rows to the first alarm, inf if none), setup
seconds and milliseconds per row.
"""

from __future__ import annotations

import json
import os
import sys
import time
import warnings

import numpy as np

os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")
warnings.filterwarnings("ignore")


def make_detector(name: str, x_ref, ert: float, window: int, n_bootstraps: int):
    from alibi_detect.cd import CVMDriftOnline, MMDDriftOnline

    x_ref = x_ref.astype(np.float32)
    if name == "MMDDriftOnline":
        return MMDDriftOnline(
            x_ref,
            ert=ert,
            window_size=window,
            backend="pytorch",
            n_bootstraps=n_bootstraps,
            device="cpu",
            verbose=False,
        )
    if name == "CVMDriftOnline":
        return CVMDriftOnline(
            x_ref,
            ert=ert,
            window_sizes=[window],
            n_bootstraps=n_bootstraps,
            verbose=False,
        )
    raise ValueError(name)


def first_alarm(det, stream) -> tuple[float, int]:
    """(rows to the first alarm or inf, rows fed)."""
    det.reset_state()
    for t, x in enumerate(stream.astype(np.float32)):
        if det.predict(x, return_test_stat=False)["data"]["is_drift"]:
            return float(t + 1), t + 1
    return float("inf"), len(stream)


def main() -> None:
    import torch

    # One thread, as skkl's monitor runs at these sizes (and on a shared
    # machine spinning threads only slow both down).
    torch.set_num_threads(1)
    folder, spec = sys.argv[1], json.loads(sys.argv[2])
    refs = np.load(f"{folder}/refs.npy")
    streams = np.load(f"{folder}/streams.npy", mmap_mode="r")
    d = refs.shape[-1]
    # MMD: its docs' 10 x ERT. CVM targets a per-feature quantile 1 - 1/(d ERT)
    # at each step, which its quantile estimator refuses below d ERT samples.
    default = (
        10 * spec["ert"]
        if spec["detector"] == "MMDDriftOnline"
        else max(10000, 2 * d * spec["ert"])
    )
    n_boot = int(spec["n_bootstraps"]) or int(default)
    out = {"run_lengths": [], "setup_s": [], "rows": 0, "stream_s": 0.0}
    for r in range(len(refs)):
        t0 = time.perf_counter()
        det = make_detector(
            spec["detector"], refs[r], spec["ert"], spec["window"], n_boot
        )
        out["setup_s"].append(time.perf_counter() - t0)
        for s in range(streams.shape[1]):
            t0 = time.perf_counter()
            rl, fed = first_alarm(det, np.asarray(streams[r, s]))
            out["stream_s"] += time.perf_counter() - t0
            out["rows"] += fed
            out["run_lengths"].append(rl)
    out["per_row_ms"] = 1e3 * out["stream_s"] / max(out["rows"], 1)
    out["setup_s"] = float(np.mean(out["setup_s"]))
    out["n_bootstraps"] = n_boot
    with open(f"{folder}/out.json", "w") as fh:
        json.dump(out, fh)


if __name__ == "__main__":
    main()
