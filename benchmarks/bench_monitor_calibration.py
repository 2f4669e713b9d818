"""Calibration of GaussianDriftMonitor (and alibi-detect's online detectors).

For each data set and target ERT, ``--references`` reference samples are
drawn; on each, a monitor is fitted and ``--streams`` null streams (drawn
from the same distribution as the reference) are run to their first alarm
(censored at ``--cap`` x ERT). Printed per row: mean run length / ERT
(censored runs count as the cap: a lower bound), P(RL <= ERT/10) (a
geometric run length gives 0.095), the share of references whose own mean
run length (ARL) reaches ERT (the parametric mode promises >= 1 - delta), and
the time spent.

The peers (alibi-detect's MMDDriftOnline and CVMDriftOnline, torch CPU) run
in their own venv (/work/venvs/alibi, numpy < 2) through
``_alibi_online.py``, exchanging arrays by .npy files, in the same run.

Usage::

    python benchmarks/bench_monitor_calibration.py --quick     # minutes
    python benchmarks/bench_monitor_calibration.py             # the full table
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from skkl import GaussianDriftMonitor

HERE = Path(__file__).resolve().parent
ALIBI_PYTHON = "/work/venvs/alibi/bin/python"


def _breast_cancer():
    from sklearn.datasets import load_breast_cancer

    return load_breast_cancer().data


def make_sampler(name: str):
    """``draw(rng, k)``: k i.i.d. rows of the data set ``name``."""
    if name == "gaussian":
        return lambda rng, k: rng.standard_normal((k, 10))
    if name == "t5":
        return lambda rng, k: rng.standard_t(5, size=(k, 10))
    if name == "lognormal":
        return lambda rng, k: rng.lognormal(size=(k, 5))
    if name == "breast_cancer":
        data = _breast_cancer()
        return lambda rng, k: data[rng.integers(0, len(data), size=k)]
    raise ValueError(name)


def run_lengths(monitor, draw, n_streams: int, cap: float, rng) -> np.ndarray:
    """Rows to the first alarm of ``n_streams`` null streams (inf if censored)."""
    batch = int(max(50, min(2000, monitor.ert // 4)))
    out = np.full(n_streams, np.inf)
    for s in range(n_streams):
        monitor.reset()
        seen = 0
        while seen < cap:
            state = monitor.update(draw(rng, batch))
            if state.alarm:
                out[s] = state.alarms[0].row + 1
                break
            seen += batch
    return out


def summarise(rl: np.ndarray, arl: np.ndarray, ert: float, cap: float) -> dict:
    capped = np.minimum(rl, cap * ert)
    return {
        "mean_rl_over_ert": float(np.mean(capped) / ert),
        "se": float(np.std(capped) / np.sqrt(len(capped)) / ert),
        "p_rl_le_ert_10": float(np.mean(rl <= ert / 10)),
        "share_arl_ge_ert": float(np.mean(arl >= ert)),
        "median_arl_over_ert": float(np.median(arl) / ert),
        "censored": float(np.mean(~np.isfinite(rl))),
    }


def skkl_row(data, ert, mode, args, rng) -> dict:
    draw = make_sampler(data)
    rls, arls, setup = [], [], []
    for r in range(args.references):
        X_ref = draw(rng, args.n_ref)
        t0 = time.perf_counter()
        mon = GaussianDriftMonitor(ert=ert, calibration=mode, random_state=r)
        mon.fit(X_ref)
        setup.append(time.perf_counter() - t0)
        rl = run_lengths(mon, draw, args.streams, args.cap * ert, rng)
        rls.append(rl)
        arls.append(np.mean(np.minimum(rl, args.cap * ert)))
    out = summarise(np.concatenate(rls), np.array(arls), ert, args.cap)
    out.update(setup_s=float(np.mean(setup)), window=int(mon.window_))
    return out


def run_peer(detector, refs, streams, ert, window, n_bootstraps) -> dict:
    """Run an alibi-detect detector in its venv on .npy files; its out.json."""
    with tempfile.TemporaryDirectory() as tmp:
        np.save(f"{tmp}/refs.npy", refs)
        np.save(f"{tmp}/streams.npy", streams)
        spec = {
            "detector": detector,
            "ert": ert,
            "window": window,
            "n_bootstraps": n_bootstraps,
        }
        cmd = [ALIBI_PYTHON, str(HERE / "_alibi_online.py"), tmp, json.dumps(spec)]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(done.stderr.strip()[-2000:])
        return json.loads(Path(f"{tmp}/out.json").read_text())


def alibi_row(data, ert, detector, args, rng) -> dict | None:
    """The peer's null run lengths, measured in the alibi venv (None if absent)."""
    if not os.path.exists(ALIBI_PYTHON):
        return None
    draw = make_sampler(data)
    R, S = args.peer_references, args.peer_streams
    T = int(args.cap * ert)
    refs = np.stack([draw(rng, args.n_ref) for _ in range(R)])
    streams = draw(rng, R * S * T).reshape(R, S, T, -1)
    res = run_peer(detector, refs, streams, ert, args.peer_window, args.peer_bootstraps)
    rl = np.array(res["run_lengths"], dtype=float).reshape(R, S)
    arl = np.mean(np.minimum(rl, args.cap * ert), axis=1)
    out = summarise(rl.ravel(), arl, ert, args.cap)
    out.update(
        setup_s=res["setup_s"],
        per_row_ms=res["per_row_ms"],
        n_bootstraps=res["n_bootstraps"],
        window=args.peer_window,
    )
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="small sizes (CI-like)")
    p.add_argument("--references", type=int, default=20)
    p.add_argument("--streams", type=int, default=300)
    p.add_argument("--n-ref", type=int, default=2000)
    p.add_argument("--cap", type=float, default=10.0)
    p.add_argument("--erts", default="500,2000")
    p.add_argument("--data", default="gaussian,t5,lognormal,breast_cancer")
    p.add_argument("--peers", default="MMDDriftOnline,CVMDriftOnline")
    p.add_argument("--peer-references", type=int, default=3)
    p.add_argument("--peer-streams", type=int, default=20)
    p.add_argument("--peer-window", type=int, default=20)
    p.add_argument("--peer-bootstraps", type=int, default=0, help="0: 10 x ERT")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None, help="write the rows as JSON here")
    args = p.parse_args()
    if args.quick:
        args.references, args.streams, args.erts = 4, 40, "500"
        args.peer_references, args.peer_streams = 1, 10
    rng = np.random.default_rng(args.seed)
    from threadpoolctl import threadpool_info

    kernels = {i.get("internal_api"): i.get("architecture") for i in threadpool_info()}
    print(f"BLAS: {kernels}; load: {os.getloadavg()}")
    rows = []
    t_all = time.perf_counter()
    for ert in [float(e) for e in args.erts.split(",")]:
        for data in args.data.split(","):
            modes = ["resample"] + (["parametric"] if data == "gaussian" else [])
            for mode in modes:
                t0 = time.perf_counter()
                res = skkl_row(data, ert, mode, args, rng)
                res.update(data=data, ert=ert, detector=f"skkl {mode}")
                res["wall_s"] = time.perf_counter() - t0
                rows.append(res)
                print(json.dumps(res), flush=True)
            for peer in filter(None, args.peers.split(",")):
                t0 = time.perf_counter()
                res = alibi_row(data, ert, peer, args, rng)
                if res is None:
                    continue
                res.update(data=data, ert=ert, detector=peer)
                res["wall_s"] = time.perf_counter() - t0
                rows.append(res)
                print(json.dumps(res), flush=True)
    print(f"total {time.perf_counter() - t_all:.0f} s; load: {os.getloadavg()}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    sys.exit(main())
