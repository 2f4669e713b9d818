"""Thresholds for a target expected run time (ERT), by simulation.

The run length RL is the number of rows until the first alarm on data
without change. Each simulated replicate draws the reference's estimation
error (a refitted bootstrap reference, or a parametric draw of its mean and
scatter) and runs one null stream through the same statistic as the
monitor, from a fresh start. One set of paths serves every candidate
threshold ``h``:

- warm-up (the first ``window`` rows, while candidate windows are still
  growing): the running maximum of each path gives ``P(RL <= t)`` exactly;
- afterwards the statistic is stationary, and the first-passage hazard is
  estimated as a constant: ``lambda(h) = #(rows with statistic >= h and none
  in the previous window) / #(rows with none in the previous window)``.
  Conditioning on the previous window (the statistic's memory) counts each
  cluster of exceedances once: the first-passage rate is below the
  exceedance rate.

Then ``E[RL](h) = sum_{t < window} P(RL > t) + P(RL > window) / lambda(h)``,
and ``h`` solves ``E[RL](h) = ERT``. Beyond the simulated events the hazard's
tail is extrapolated log-linearly in ``h`` (the statistic is evidence in
nats, whose tail is close to exponential).

Modes:

- ``'resample'`` (distribution-free): replicates refit the reference on rows
  resampled from it and stream rows resampled from it. The hazard pooled
  over replicates is the false-alarm rate averaged over reference samples:
  ``P(RL <= t) ~ t / ERT`` for ``t`` well below ERT, and the mean run length
  is at least ERT (more when the reference's estimation error varies much).
- ``'parametric'`` (Gaussian): the reference's mean and scatter are drawn
  from their normal and Wishart sampling laws (no rows), streams are
  Gaussian. Per-replicate hazards give the spread of the in-control ARL over
  reference samples (log-normal, its variance net of Poisson noise), and
  ``h`` is raised until ``P(ARL >= ERT) >= 1 - delta``.

The Monte Carlo error of the calibrated ERT is estimated by resampling the
replicates (it includes the reference-to-reference variation).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.ndimage import maximum_filter1d
from scipy.special import ndtr, ndtri

from .._blas import blas_single_thread
from .._errors import InputError, Setting
from ._online_reference import bootstrap_reference, parametric_reference
from ._online_statistic import Stream

__all__ = [
    "MAX_SIMULATED_ROWS",
    "MIN_EVENTS",
    "Calibration",
    "calibrate",
    "check_settings",
    "simulate_paths",
    "simulated_rows",
]

# Simulated rows after warm-up, as a multiple of the ERT (about this many
# first passages at the threshold: Monte Carlo error ~ 1 / sqrt of it).
DEFAULT_EVENTS = 40
# The parametric mode reads each replicate's hazard: ~5 events per replicate.
PARAMETRIC_EVENTS = 100
_MIN_REPLICATES = 20
_MAX_REPLICATES = 60
# Fewest pooled events at a level for its hazard to be read directly.
_TAIL_EVENTS = 25
# A hazard of 0 (no event at a level) would make the ERT 1/0: the floor
# keeps its logarithm finite and far beyond any ERT asked for.
_MIN_HAZARD = 1e-300
# Levels are nats; a top level of 0 (a degenerate stream) must not divide.
_MIN_LEVEL = 1e-9
_RESAMPLES = 200
#: Most rows one calibration simulates. The statistic of every simulated row
#: is held while it is counted (about 24 bytes a row at peak: ~0.5 GB here),
#: and simulation costs microseconds a row (minutes here, on one core).
MAX_SIMULATED_ROWS = 20_000_000
#: Fewest simulated first passages at the threshold for it to be read from
#: the simulation rather than extrapolated beyond it.
MIN_EVENTS = 10
#: Smallest target ERT (the monitor's parameter constraint): ``_levels``
#: reads thresholds that at most half the simulated rows exceed, so a mean
#: run length below 2 rows cannot be matched (measured: ERT 1.5 gives 2.1).
MIN_ERT = 2
# Measured peak bytes per simulated row (paths and their sorted copies).
_PEAK_BYTES_PER_ROW = 24


@dataclass(frozen=True)
class Calibration:
    """How the threshold was set.

    Attributes
    ----------
    threshold : float
    ert : float
        Target expected run time.
    mode : str
    delta : float or None
    hazard : float
        Estimated first-passage hazard per row after warm-up at the threshold
        (averaged over reference samples).
    relative_se : float
        Monte Carlo standard error of the estimated ERT at the threshold,
        relative to it.
    events : int
        Simulated first passages at the threshold (after warm-up).
    rows : int
        Simulated rows in all.
    replicates : int
        Simulated references.
    spread : float
        Standard deviation, over reference samples, of the log hazard (the
        parametric mode's allowance for the reference's estimation error;
        also estimated in the other mode).
    """

    threshold: float
    ert: float
    mode: str
    delta: float | None
    hazard: float
    relative_se: float
    events: int
    rows: int
    replicates: int
    spread: float


def _sizes(ert: float, window: int, n_rows: int | None, mode: str):
    """(replicates, rows per replicate after warm-up)."""
    if n_rows is None:
        per = PARAMETRIC_EVENTS if mode == "parametric" else DEFAULT_EVENTS
        n_rows = int(per * ert)
    total = int(n_rows)
    if mode == "parametric":  # each replicate's own hazard is estimated
        R = _MIN_REPLICATES
    else:
        R = int(
            np.clip(total // max(4 * window, 500), _MIN_REPLICATES, _MAX_REPLICATES)
        )
    return R, max(window, -(-total // R))


def simulated_rows(ert: float, window: int, n_rows: int | None, mode: str) -> int:
    """Rows one calibration simulates in all, warm-ups included."""
    R, stationary = _sizes(ert, window, n_rows, mode)
    return R * (window + stationary)


def check_settings(ert, window: int, n_ref: int, mode: str, n_rows=None) -> None:
    """Refuse, before anything is simulated, what cannot be calibrated.

    Raises
    ------
    InputError
        If the window is longer than the reference, or if the simulation
        would exceed ``MAX_SIMULATED_ROWS``.
    """
    if window > n_ref:
        raise InputError(
            "{given} is longer than the reference ({n} rows): a window is "
            "compared with the reference, whose own estimation error then "
            "dominates (a window of m rows weighs as m n / (m + n) < n rows), "
            "and it costs memory in proportion. Use a window of at most {n} "
            "rows, or a longer reference.",
            argument="window",
            given=Setting("window", window),
            n=n_ref,
        )
    rows = simulated_rows(ert, window, n_rows, mode)
    if rows > MAX_SIMULATED_ROWS:
        raise _too_many_rows(ert, window, mode, n_rows, rows)


def _number(value):
    """``value`` as an int when it is one (messages print 1e12, not 1e12.0)."""
    value = float(value)
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _too_many_rows(ert, window, mode, n_rows, rows) -> InputError:
    limit = MAX_SIMULATED_ROWS
    why = (
        "a calibration over {rows:.3g} simulated rows, beyond the limit of "
        "{limit:.3g} ({bytes} bytes a row are held while they are counted, and "
        "each takes microseconds to simulate)"
    )
    # Warm-ups alone: each simulated stream first fills the window.
    warm = simulated_rows(2.0, window, 1, mode)
    if warm > limit // 2:
        return InputError(
            "{given} needs " + why + ": every simulated stream first fills the "
            "window. Use a shorter window.",
            argument="window",
            given=Setting("window", window),
            rows=rows,
            limit=limit,
            bytes=_PEAK_BYTES_PER_ROW,
        )
    if n_rows is not None:
        return InputError(
            "{given} asks for " + why + ". Use at most {most} rows.",
            argument="n_simulated_rows",
            given=Setting("n_simulated_rows", n_rows),
            rows=rows,
            limit=limit,
            bytes=_PEAK_BYTES_PER_ROW,
            most=(limit - warm) // 2,
        )
    per = PARAMETRIC_EVENTS if mode == "parametric" else DEFAULT_EVENTS
    most = (limit - warm) // per
    while most > 1 and simulated_rows(most, window, None, mode) > limit:
        most = int(most * 0.99)
    other = ""
    if mode == "parametric" and ert <= (limit - warm) // DEFAULT_EVENTS:
        other = ", or {other} (it simulates {fewer} rows per row of the target)"
    return InputError(
        "{given} asks for " + why + ": {mode} simulates {per} rows per row of "
        "the target (about {per} false alarms at the threshold). Use a target "
        "of at most {most} rows with this window" + other + ".",
        argument="ert",
        given=Setting("ert", _number(ert)),
        rows=rows,
        limit=limit,
        bytes=_PEAK_BYTES_PER_ROW,
        mode=Setting("calibration", mode),
        per=per,
        most=most,
        other=Setting("calibration", "resample"),
        fewer=DEFAULT_EVENTS,
    )


def simulate_paths(
    reference, U_ref, layout, mode, n_replicates, length, rng, shrinkage=None
):
    """Statistic of ``n_replicates`` fresh null streams of ``length`` rows."""
    shrink = shrinkage
    truth = _truth_factor(reference) if mode == "parametric" else None
    stream = Stream(layout)
    paths = np.empty((n_replicates, length))
    # Many small products: one BLAS thread each (threads only contend here).
    with blas_single_thread():
        for r in range(n_replicates):
            _replicate(paths[r], stream, reference, U_ref, mode, truth, shrink, rng)
    return paths


def _replicate(out, stream, reference, U_ref, mode, truth, shrink, rng) -> None:
    """One simulated reference and the statistic of one null stream from it."""
    n, d, length = reference.n, reference.n_features, len(out)
    if mode == "parametric":
        ref = parametric_reference(truth, n, shrink, rng).gaussian()
    else:
        ref = bootstrap_reference(U_ref, shrink, rng)
    stream.reset()
    stream.use_tail_factors(*ref.tail_factors())
    for a in range(0, length, stream.chunk):
        b = min(length, a + stream.chunk)
        if mode == "parametric":
            rows = rng.standard_normal((b - a, d)) @ truth.T
        else:
            rows = U_ref[rng.integers(0, len(U_ref), size=b - a)]
        u, z = ref.standardise(rows)
        out[a:b] = stream.advance(u, z)[0]


def _truth_factor(reference) -> np.ndarray:
    """Cholesky factor of the parametric model's correlation (unshrunk if PD)."""
    try:
        return np.linalg.cholesky(reference.correlation)
    except np.linalg.LinAlgError:
        return reference.factor


@dataclass
class _Table:
    """Warm-up and stationary counts of every path, on a grid of levels."""

    levels: np.ndarray  # (G,)
    warm_mean: np.ndarray  # (G,) E[min(RL, window)]
    survive: np.ndarray  # (G,) P(RL > window)
    events: np.ndarray  # (R, G)
    at_risk: np.ndarray  # (R, G)


def _count(paths: np.ndarray, window: int, levels: np.ndarray) -> _Table:
    R, T = paths.shape
    W = min(window, T - 1)
    G = len(levels)
    first = np.empty((R, G))
    events = np.empty((R, G))
    at_risk = np.empty((R, G))
    for r in range(R):
        p = paths[r]
        run = np.maximum.accumulate(p[:W])
        first[r] = np.minimum(np.searchsorted(run, levels, side="left") + 1, W)
        trail = maximum_filter1d(p, size=W, origin=(W - 1) // 2, mode="nearest")
        prev, cur = trail[W - 1 : T - 1], p[W:]
        both = np.sort(np.minimum(prev, cur))
        n_cur = len(cur) - np.searchsorted(np.sort(cur), levels, side="left")
        n_both = len(both) - np.searchsorted(both, levels, side="left")
        n_prev = len(prev) - np.searchsorted(np.sort(prev), levels, side="left")
        events[r] = n_cur - n_both
        at_risk[r] = len(prev) - n_prev
    warm_max = np.max(paths[:, :W], axis=1)
    survive = np.mean(warm_max[:, None] < levels[None, :], axis=0)
    return _Table(levels, first.mean(axis=0), survive, events, at_risk)


def _levels(paths: np.ndarray, window: int, ert: float) -> np.ndarray:
    """Candidate thresholds: stationary quantiles from ~100/ERT down to the max."""
    tail = paths[:, window:].ravel()
    probs = np.geomspace(min(0.5, 100.0 / ert), 1.0 / len(tail), 400)
    return np.unique(np.quantile(tail, 1.0 - probs))


def _pooled_hazard(table: _Table) -> np.ndarray:
    """Pooled hazard at each level, extrapolated log-linearly where events are few."""
    ev = table.events.sum(axis=0)
    risk = np.maximum(table.at_risk.sum(axis=0), 1.0)
    lam = ev / risk
    h = table.levels
    rich = ev >= _TAIL_EVENTS
    if not np.any(rich) or np.all(rich):
        return np.maximum(lam, _MIN_HAZARD)
    # Log-linear fit over the last decade of well-populated levels.
    top = np.flatnonzero(rich)[-1]
    fit = rich & (ev <= 10 * ev[top])
    x, y = h[fit], np.log(lam[fit])
    slope = np.polyfit(x, y, 1)[0] if fit.sum() >= 3 and np.ptp(x) > 0 else -1.0
    slope = min(slope, -0.1)  # a hazard never grows with the threshold
    out = lam.copy()
    out[top + 1 :] = lam[top] * np.exp(slope * (h[top + 1 :] - h[top]))
    return np.maximum(out, _MIN_HAZARD)


def _spread(table: _Table) -> np.ndarray:
    """sd over replicates of the log hazard at each level, net of Poisson noise.

    Read where replicates average at least 3 events; above, grown in
    proportion to the level (a reference's error shifts the statistic, which
    multiplies tail rates more the higher the level).
    """
    e = table.events + 0.5
    log_rate = np.log(e / np.maximum(table.at_risk, 1.0))
    var = np.var(log_rate, axis=0, ddof=1) - np.mean(1.0 / e, axis=0)
    tau = np.sqrt(np.maximum(var, 0.0))
    ok = np.flatnonzero(table.events.mean(axis=0) >= 3)
    if not len(ok):
        return np.zeros_like(tau)
    top = ok[-1]
    tau = np.maximum.accumulate(tau)  # never less spread higher up
    h = table.levels
    tau[top + 1 :] = tau[top] * np.maximum(1.0, h[top + 1 :] / max(h[top], _MIN_LEVEL))
    return tau


def _ert_curve(table: _Table, lam: np.ndarray) -> np.ndarray:
    return table.warm_mean + table.survive / lam


def _solve(levels: np.ndarray, curve: np.ndarray, ert: float) -> float:
    """Smallest level whose (log-interpolated) curve reaches ``ert``."""
    above = np.flatnonzero(curve >= ert)
    if not len(above):
        return float(levels[-1])
    g = above[0]
    if g == 0:
        return float(levels[0])
    x0, x1 = levels[g - 1], levels[g]
    y0, y1 = np.log(curve[g - 1]), np.log(curve[g])
    frac = (np.log(ert) - y0) / (y1 - y0) if y1 > y0 else 1.0
    return float(x0 + frac * (x1 - x0))


def _check_delta(table: _Table, lam, tau, h: float, ert: float, delta: float):
    """Refuse a ``delta`` whose threshold lies beyond the simulated false alarms.

    The spread over reference samples is read where replicates saw events;
    a smaller ``delta`` pushes the threshold up to where the pooled hazard is
    extrapolated, not measured. The smallest ``delta`` it resolves puts the
    threshold at the highest level with ``MIN_EVENTS`` simulated events.
    """
    events = table.events.sum(axis=0)
    g = min(np.searchsorted(table.levels, h), len(table.levels) - 1)
    rich = np.flatnonzero(events >= MIN_EVENTS)
    if events[g] >= MIN_EVENTS or not len(rich):
        return
    top = rich[-1]
    room = table.survive[top] / (lam[top] * max(ert - table.warm_mean[top], 1.0))
    if tau[top] <= 0 or not room > 0:
        return  # delta does not move the threshold: not its fault
    z = (np.log(room) + tau[top] ** 2 / 2) / tau[top]
    least = float(ndtr(-z))
    if not delta < least < 0.5:
        return
    scale = 10.0 ** (np.floor(np.log10(least)) - 1)
    fix = float(np.ceil(least / scale) * scale)  # two digits, rounded up
    raise InputError(
        "{given} puts the threshold beyond the simulated false alarms (only "
        "{n} at it, for the allowance over reference samples that {given} "
        "asks); the calibration can honour a delta of about {least:.2g} or "
        "more: use {fix}.",
        argument="delta",
        given=Setting("delta", delta),
        n=int(events[g]),
        least=least,
        fix=Setting("delta", fix),
    )


def _relative_se(table: _Table, h: float, rng) -> float:
    """Replicate-bootstrap relative SE of the estimated ERT at level ``h``."""
    g = min(np.searchsorted(table.levels, h), len(table.levels) - 1)
    e, a = table.events[:, g], table.at_risk[:, g]
    R = len(e)
    idx = rng.integers(0, R, size=(_RESAMPLES, R))
    lam = e[idx].sum(axis=1) / np.maximum(a[idx].sum(axis=1), 1.0)
    if e.sum() == 0:
        return float("inf")
    inv = 1.0 / np.maximum(lam, _MIN_HAZARD)
    return float(np.std(np.log(inv)))


def calibrate(
    reference,
    U_ref,
    layout,
    *,
    ert: float,
    mode: str,
    delta: float,
    rng,
    shrinkage=None,
    n_rows: int | None = None,
) -> Calibration:
    """Threshold of the statistic for a target ERT (see the module docstring)."""
    W = layout.window
    check_settings(ert, W, reference.n, mode, n_rows)
    R, stationary = _sizes(ert, W, n_rows, mode)
    paths = simulate_paths(
        reference, U_ref, layout, mode, R, W + stationary, rng, shrinkage
    )
    levels = _levels(paths, W, ert)
    table = _count(paths, W, levels)
    lam = _pooled_hazard(table)
    tau = _spread(table)
    if mode == "parametric":
        lam_q = lam * np.exp(ndtri(1.0 - delta) * tau - tau**2 / 2)
        curve = table.warm_mean + table.survive / lam_q
        _check_delta(table, lam, tau, _solve(levels, curve, ert), ert, delta)
    else:
        curve = _ert_curve(table, lam)
    h = _solve(levels, curve, ert)
    g = min(np.searchsorted(levels, h), len(levels) - 1)
    return Calibration(
        threshold=h,
        ert=float(ert),
        mode=mode,
        delta=float(delta) if mode == "parametric" else None,
        hazard=float(lam[g]),
        relative_se=_relative_se(table, h, rng),
        events=int(table.events[:, g].sum()),
        rows=int(paths.size),
        replicates=R,
        spread=float(tau[g]),
    )
