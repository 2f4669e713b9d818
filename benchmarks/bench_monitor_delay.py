"""Detection delay of GaussianDriftMonitor vs alibi-detect, at equal run length.

Reference rows are N(0, I_d). skkl's monitor is fitted at the target ERT and
its realised null mean run length is measured; each peer (MMDDriftOnline,
CVMDriftOnline, in the alibi venv through ``_alibi_online.py``) gets its
nominal ERT tuned (two rounds of measuring its null run length and scaling
the nominal ERT by target / measured) so that its realised run length
matches skkl's. Then every detector watches the same streams: ``--tau`` rows
without change, then a change, until the first alarm (censored at
``--cap`` rows after the change). Delay = alarm row - change row + 1, over the
runs without a false alarm before the change.

Changes: +0.5 sd in one feature, +0.2 sd in all, x1.3 scale of one feature,
correlation 0 -> 0.5 in one pair. Lorden's limit for a change known in
advance is log(ERT) / KL per row.

Usage::

    python benchmarks/bench_monitor_delay.py --quick
    python benchmarks/bench_monitor_delay.py --dims 10,100 --out delay.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

from skkl import GaussianDriftMonitor

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_monitor_calibration import ALIBI_PYTHON, run_peer

CHANGES = ("mean_one", "mean_all", "scale_one", "corr_pair")


def post_change(name: str, d: int, rng, k: int) -> np.ndarray:
    X = rng.standard_normal((k, d))
    if name == "mean_one":
        X[:, 0] += 0.5
    elif name == "mean_all":
        X += 0.2
    elif name == "scale_one":
        X[:, 0] *= 1.3
    elif name == "corr_pair":
        r = 0.5
        X[:, 1] = r * X[:, 0] + np.sqrt(1 - r * r) * X[:, 1]
    return X


def kl_per_row(name: str, d: int) -> float:
    return {
        "mean_one": 0.5 * 0.25,
        "mean_all": 0.5 * 0.04 * d,
        "scale_one": 0.5 * (1.69 - 1.0 - np.log(1.69)),
        "corr_pair": -0.5 * np.log(1 - 0.25),
    }[name]


def streams_for(change, d, n_streams, tau, cap, rng):
    if change == "null":
        return rng.standard_normal((n_streams, tau + cap, d))
    pre = rng.standard_normal((n_streams, tau, d))
    post = post_change(change, d, rng, n_streams * cap).reshape(n_streams, cap, d)
    return np.concatenate([pre, post], axis=1)


def skkl_first_alarms(mon, streams, batch=50) -> np.ndarray:
    out = np.full(len(streams), np.inf)
    for s, X in enumerate(streams):
        mon.reset()
        for a in range(0, len(X), batch):
            st = mon.update(X[a : a + batch])
            if st.alarm:
                out[s] = st.alarms[0].row + 1
                break
    return out


def delays(first: np.ndarray, tau: int, cap: int) -> dict:
    ok = first > tau
    d = np.minimum(first[ok], tau + cap) - tau
    return {
        "mean_delay": float(np.mean(d)) if ok.any() else float("nan"),
        "median_delay": float(np.median(d)) if ok.any() else float("nan"),
        "false_before_change": float(np.mean(~ok)),
        "censored": float(np.mean(~np.isfinite(first[ok]))) if ok.any() else 0.0,
    }


def peer_tuned(peer, ref, target, args, rng, d):
    """Rounds of (measure the null run length, rescale the nominal ERT).

    The nominal ERT used for the delays is the last one measured: its realised
    run length is reported beside the delays.
    """
    nominal, history = target, []
    for k in range(args.tune_rounds):
        if k:
            last = history[-1]
            nominal = float(
                np.clip(last["nominal"] * target / max(last["realised"], 1.0), 20, 1e5)
            )
        null = streams_for("null", d, args.null_streams, 0, int(6 * target), rng)
        res = run_peer(peer, ref[None], null[None], nominal, args.peer_window, 0)
        rl = np.minimum(np.array(res["run_lengths"], float), 6 * target)
        history.append(
            {
                "nominal": nominal,
                "realised": float(np.mean(rl)),
                "setup_s": res["setup_s"],
                "per_row_ms": res["per_row_ms"],
            }
        )
    return history[-1]["nominal"], history


def one_setup_peer(peer, ref, target, streams, base, args, rng, d) -> list:
    """No tuning (one costly setup): null and change streams in one run.

    The peer runs at nominal ERT = skkl's realised run length; its own
    realised null run length is reported beside its delays.
    """
    T = args.tau + args.cap
    null = streams_for("null", d, args.null_streams, 0, T, rng)
    stack = np.concatenate([null] + [streams[c] for c in CHANGES])[None]
    res = run_peer(peer, ref[None], stack, target, args.peer_window, 0)
    first = np.array(res["run_lengths"], float)
    realised = float(np.mean(np.minimum(first[: args.null_streams], T)))
    print(json.dumps({"d": d, "detector": peer, "null_rl": realised}), flush=True)
    out = []
    for k, c in enumerate(CHANGES):
        part = first[args.null_streams :].reshape(len(CHANGES), -1)[k]
        row = {**base, "detector": peer, "change": c, "nominal_ert": target}
        row.update(delays(part, args.tau, args.cap))
        row.update(
            peer_null_rl=realised,
            setup_s=res["setup_s"],
            per_row_ms=res["per_row_ms"],
            n_bootstraps=res["n_bootstraps"],
        )
        out.append(row)
        print(json.dumps(row), flush=True)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--dims", default="10,100")
    p.add_argument("--ert", type=float, default=500)
    p.add_argument("--n-ref", type=int, default=2000)
    p.add_argument("--streams", type=int, default=50)
    p.add_argument("--null-streams", type=int, default=30)
    p.add_argument("--tau", type=int, default=100)
    p.add_argument("--cap", type=int, default=1500)
    p.add_argument("--peers", default="MMDDriftOnline,CVMDriftOnline")
    p.add_argument("--peer-window", type=int, default=20)
    p.add_argument("--tune-rounds", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    args = p.parse_args()
    if args.quick:
        args.dims, args.streams, args.null_streams, args.tune_rounds = "10", 10, 10, 1
    rng = np.random.default_rng(args.seed)
    print(f"load: {os.getloadavg()}")
    rows = []
    t_all = time.perf_counter()
    for d in [int(v) for v in args.dims.split(",")]:
        ref = rng.standard_normal((args.n_ref, d))
        t0 = time.perf_counter()
        mon = GaussianDriftMonitor(ert=args.ert, random_state=0).fit(ref)
        setup = time.perf_counter() - t0
        null = streams_for("null", d, args.null_streams * 3, 0, int(6 * args.ert), rng)
        rl = np.minimum(skkl_first_alarms(mon, null), 6 * args.ert)
        target = float(np.mean(rl))
        base = {"d": d, "target_ert": args.ert, "realised_null_rl": target}
        print(json.dumps({**base, "detector": "skkl", "setup_s": setup}), flush=True)
        streams = {
            c: streams_for(c, d, args.streams, args.tau, args.cap, rng) for c in CHANGES
        }
        for c in CHANGES:
            res = delays(skkl_first_alarms(mon, streams[c]), args.tau, args.cap)
            row = {**base, "detector": "skkl", "change": c, **res}
            row["lorden"] = float(np.log(target) / kl_per_row(c, d))
            rows.append(row)
            print(json.dumps(row), flush=True)
        if not os.path.exists(ALIBI_PYTHON):
            continue
        for peer in filter(None, args.peers.split(",")):
            if args.tune_rounds == 0:
                rows += one_setup_peer(peer, ref, target, streams, base, args, rng, d)
                continue
            nominal, history = peer_tuned(peer, ref, target, args, rng, d)
            print(json.dumps({"d": d, "detector": peer, "tuning": history}), flush=True)
            stack = np.concatenate([streams[c] for c in CHANGES])[None]
            res = run_peer(peer, ref[None], stack, nominal, args.peer_window, 0)
            first = np.array(res["run_lengths"], float).reshape(len(CHANGES), -1)
            for k, c in enumerate(CHANGES):
                row = {**base, "detector": peer, "change": c, "nominal_ert": nominal}
                row.update(delays(first[k], args.tau, args.cap))
                row["realised_null_rl"] = history[-1]["realised"]
                row["setup_s"] = res["setup_s"]
                row["per_row_ms"] = res["per_row_ms"]
                rows.append(row)
                print(json.dumps(row), flush=True)
    print(f"total {time.perf_counter() - t_all:.0f} s; load: {os.getloadavg()}")
    if args.out:
        Path(args.out).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
