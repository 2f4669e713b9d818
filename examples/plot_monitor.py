"""
Watching a stream with a false-alarm budget
===========================================

:class:`skkl.GaussianDriftMonitor` raises an alarm when the recent rows of a
stream differ from a reference, with a threshold calibrated so that, without
change, alarms come once every ``ert`` rows on average. Here the stream is
unchanged for 3000 rows, then one feature's spread grows by 50%.
"""

import matplotlib.pyplot as plt
import numpy as np

from skkl import GaussianDriftMonitor

rng = np.random.default_rng(0)
d = 6
reference = rng.standard_t(df=6, size=(3000, d))  # heavy tails: not Gaussian
monitor = GaussianDriftMonitor(ert=5000, random_state=0).fit(reference)
cal = monitor.calibration_
print(f"threshold {cal.threshold:.2f} nats of evidence; Monte Carlo error of the ")
print(f"ERT {100 * cal.relative_se:.0f}% from {cal.rows} simulated rows")

stream = rng.standard_t(df=6, size=(4000, d))
stream[3000:, 4] *= 1.5

# %%
# Feed the stream in batches of 100 rows (any size gives the same result).
statistics, alarms = [], []
for start in range(0, len(stream), 100):
    state = monitor.update(stream[start : start + 100])
    statistics.append(state.statistics)
    alarms += state.alarms
statistics = np.concatenate(statistics)
for a in alarms:
    print(
        f"alarm at row {a.row} ({a.part} part), change from row {a.change_point}, "
        f"effect {a.effect:.3f} nats/row, features {a.features}"
    )

# %%
# The statistic (evidence, in nats) against its threshold. After each alarm
# the monitor starts a new run, so a persisting change keeps alarming. Before
# the change a false alarm is no surprise: with ``ert=5000`` the chance of
# one in 3000 rows is ``1 - exp(-3000 / 5000)``, 45%.
fig, ax = plt.subplots(figsize=(8, 3))
ax.plot(statistics, lw=0.6)
ax.axhline(monitor.threshold_, color="C3", ls="--", label="threshold")
ax.axvline(3000, color="k", lw=0.8, label="change")
for a in alarms:
    ax.plot(a.row, statistics[a.row], "o", color="C3", ms=3)
ax.set_xlabel("row")
ax.set_ylabel("evidence (nats)")
ax.legend(loc="upper left")
fig.tight_layout()
plt.show()
