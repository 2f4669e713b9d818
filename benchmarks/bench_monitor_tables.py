"""GaussianDriftMonitor on a mixed table: false alarms without change, delays.

Table (synthetic, census-like): a skewed categorical column (levels with
frequencies .55/.25/.12/.05/.03), a numeric column with 10% missing cells, a
complete numeric column, a lognormal column, a boolean. Reference 2000 rows,
ERT 500, calibration 'resample'.

- false alarms: streams of ``ERT`` rows without change; the fraction with an
  alarm should be about ``1 - exp(-1) = 0.63`` (geometric run length), the
  mean rows to the first alarm (censored at 4 ERT) about ERT;
- delay: a change at row 200 -- one level's frequency +10 points, the missing
  rate 10% -> 30%, a new level in 10% of rows --, rows from the change to
  the alarm (median over streams), and the column named first.

Indicator features (levels, missing cells, booleans) count in the mean part
only (see ``skkl.drift._online_statistic.Stream.use_tail_factors``).

Run: ``python benchmarks/bench_monitor_tables.py [n_streams]``.
"""

import sys
import time
import warnings

import numpy as np
import pandas as pd

from skkl import GaussianDriftMonitor

ERT, N_REF, CHANGE = 500, 2000, 200
LEVELS = np.array(["a", "b", "c", "d", "e"], dtype=object)
P = np.array([0.55, 0.25, 0.12, 0.05, 0.03])


def table(rng, n, p=P, miss=0.1, new=0.0):
    c = rng.choice(LEVELS, size=n, p=p)
    if new:
        c = np.where(rng.random(n) < new, "new", c)
    x = rng.normal(size=n)
    x[rng.random(n) < miss] = np.nan
    return pd.DataFrame(
        {
            "cat": c,
            "x": x,
            "y": rng.normal(size=n),
            "income": rng.lognormal(sigma=1.0, size=n),
            "flag": rng.random(n) < 0.2,
        }
    )


def first_alarm(monitor, stream):
    monitor.reset()
    state = monitor.update(stream)
    return (state.alarms[0].row, state.alarms[0].features[0]) if state.alarm else None


def main(n_streams: int = 40) -> None:
    t0 = time.perf_counter()
    rng = np.random.default_rng(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        monitor = GaussianDriftMonitor(ert=ERT, random_state=0).fit(table(rng, N_REF))
    print(f"features: {list(monitor.encoding_.feature_names)}")
    print(f"threshold {monitor.threshold_:.2f}, fit {time.perf_counter() - t0:.1f} s")
    runs = []
    for _ in range(n_streams):
        hit = first_alarm(monitor, table(rng, 4 * ERT))
        runs.append(4 * ERT if hit is None else hit[0] + 1)
    runs = np.array(runs)
    print(
        f"no change, {n_streams} streams: P(alarm within ERT) = "
        f"{np.mean(runs <= ERT):.2f} (geometric: 0.63); mean run length "
        f"(censored at {4 * ERT}) = {runs.mean():.0f} (ratio to ERT "
        f"{runs.mean() / ERT:.2f}, target [0.8, 1.5]); P(RL <= ERT/10) = "
        f"{np.mean(runs <= ERT // 10):.2f} (target <= 0.15)"
    )
    p_up = P.copy()
    p_up[1] += 0.10
    p_up[0] -= 0.10
    changes = {
        "level b +10 points": dict(p=p_up),
        "missing 10% -> 30%": dict(miss=0.3),
        "new level in 10%": dict(new=0.1),
    }
    for name, kw in changes.items():
        delays, named = [], []
        for _ in range(n_streams):
            stream = pd.concat(
                [table(rng, CHANGE), table(rng, 2 * ERT, **kw)], ignore_index=True
            )
            hit = first_alarm(monitor, stream)
            if hit is not None and hit[0] >= CHANGE:
                delays.append(hit[0] - CHANGE + 1)
                named.append(hit[1])
        top = max(set(named), key=named.count) if named else "-"
        print(
            f"{name:>20}: detected {len(delays)}/{n_streams}, median delay "
            f"{np.median(delays) if delays else float('nan'):.0f} rows, column "
            f"named first: {top} ({named.count(top)}/{len(named)})"
        )
    print(f"total {time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 40)
