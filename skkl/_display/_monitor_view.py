"""What the monitor displays show, read from a monitor and its states.

The one place in ``skkl._display`` that reads a
:class:`~skkl.GaussianDriftMonitor`, a :class:`~skkl.drift.MonitorState` or a
:class:`~skkl.drift.MonitorAlarm`. Public attributes are read, and two
private fields of a state that exist for its displays: ``_calibration`` (the
monitor's calibration when the state was made) and ``_names`` (every
feature's name). A state without them gives a view without the monitor's
guarantee, and feature names ``x0, x1, ...``.

:class:`MonitorRun` gathers a report of a whole stream batch by batch in
memory that does not grow with the stream: a :class:`Timeline` of the
statistic in a fixed number of bins, the first :data:`ALARMS_KEPT` alarms
and the count of the rest, and the last state.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = [
    "ALARMS_KEPT",
    "AlarmView",
    "MonitorRun",
    "MonitorSettings",
    "Timeline",
    "alarm_view",
    "monitor_settings",
]

#: Bins of a timeline: its memory, and the figure's resolution (about two
#: pixels per bin across a page-wide figure).
TIMELINE_BINS = 512
#: Alarms a report lists in full (the rest are counted, and marked on the
#: timeline).
ALARMS_KEPT = 100


class Timeline:
    """The statistic over a stream, kept in at most ``bins`` bins.

    Each bin holds the largest statistic over ``width`` consecutive rows and
    the number of alarms raised in them. When every bin is used, neighbours
    merge in pairs and the width doubles, so memory is fixed however long
    the stream is, and the bins depend on row numbers only: never on how
    the stream was cut into batches.

    Parameters
    ----------
    first_row : int, default=0
        Row number of the first statistic added.
    bins : int, default=TIMELINE_BINS
        Most bins held (even, at least 2).

    Examples
    --------
    >>> t = Timeline(bins=4)
    >>> t.add([1.0, 5.0, 2.0]); t.add([0.5, 3.0, 4.0, 9.0, 1.0], alarm_rows=[6])
    >>> t.width, t.starts().tolist(), t.maxima().tolist(), t.alarms().tolist()
    (2, [0, 2, 4, 6], [5.0, 2.0, 4.0, 9.0], [0, 0, 0, 1])
    """

    def __init__(self, first_row: int = 0, bins: int = TIMELINE_BINS):
        if bins < 2 or bins % 2:
            raise ValueError(f"bins must be even and at least 2, got {bins}.")
        self.first_row = int(first_row)
        self.width = 1
        self.n_rows = 0
        self._max = np.full(bins, -np.inf)
        self._alarms = np.zeros(bins, dtype=np.int64)
        self._used = 0

    def _coarsen(self) -> None:
        """Merge neighbouring bins in pairs (every bin is complete here)."""
        half = self._used // 2
        self._max[:half] = self._max[: 2 * half].reshape(half, 2).max(axis=1)
        self._alarms[:half] = self._alarms[: 2 * half].reshape(half, 2).sum(axis=1)
        self._max[half:] = -np.inf
        self._alarms[half:] = 0
        self._used = half
        self.width *= 2

    def add(self, statistics, alarm_rows=()) -> None:
        """Append the statistics of the next rows, and the rows that alarmed."""
        v = np.asarray(statistics, dtype=np.float64).ravel()
        i = 0
        while i < len(v):
            w, pos = self.width, self.n_rows % self.width
            if pos:  # fill the last, partial bin
                k = min(w - pos, len(v) - i)
                self._max[self._used - 1] = max(
                    self._max[self._used - 1], v[i : i + k].max()
                )
            elif self._used == len(self._max):
                self._coarsen()
                continue
            else:  # whole new bins, then at most one partial one
                k = min((len(v) - i) // w, len(self._max) - self._used) * w
                if k:
                    new = v[i : i + k].reshape(-1, w).max(axis=1)
                    self._max[self._used : self._used + len(new)] = new
                    self._used += len(new)
                else:
                    k = len(v) - i
                    self._max[self._used] = v[i:].max()
                    self._used += 1
            i += k
            self.n_rows += k
        rows = np.asarray(alarm_rows, dtype=np.int64) - self.first_row
        if rows.size and (rows.min() < 0 or rows.max() >= self.n_rows):
            raise ValueError("an alarm row lies outside the rows added")
        np.add.at(self._alarms, rows // self.width, 1)

    def starts(self) -> np.ndarray:
        """First row of each bin."""
        return self.first_row + self.width * np.arange(self._used)

    def stops(self) -> np.ndarray:
        """One past the last row of each bin (the last bin may be partial)."""
        return np.minimum(self.starts() + self.width, self.first_row + self.n_rows)

    def maxima(self) -> np.ndarray:
        """Largest statistic in each bin."""
        return self._max[: self._used].copy()

    def alarms(self) -> np.ndarray:
        """Alarms raised in each bin."""
        return self._alarms[: self._used].copy()

    def coarsened(self, bins: int) -> Timeline:
        """A copy in at most ``bins`` bins (merged in groups of a power of two)."""
        factor = 1
        while -(-self._used // factor) > bins:
            factor *= 2
        out = Timeline(self.first_row, max(2, bins + bins % 2))
        out.width, out.n_rows = self.width * factor, self.n_rows
        group = np.arange(self._used) // factor
        out._used = int(group[-1]) + 1 if self._used else 0
        np.maximum.at(out._max, group, self._max[: self._used])
        np.add.at(out._alarms, group, self._alarms[: self._used])
        return out


@dataclass(frozen=True)
class MonitorSettings:
    """The monitor's budget and how its threshold was set.

    Fields a source does not carry (a state knows its calibration but not
    the window) are None, and the displays leave them out.
    """

    ert: float
    threshold: float
    mode: str
    delta: float | None
    relative_se: float
    events: int
    simulated_rows: int
    replicates: int
    window: int | None = None
    n_ref: int | None = None
    n_features: int | None = None
    shrinkage: object = None
    parameters: str | None = None


def _from_calibration(cal, **extra) -> MonitorSettings:
    return MonitorSettings(
        ert=float(cal.ert),
        threshold=float(cal.threshold),
        mode=str(cal.mode),
        delta=None if cal.delta is None else float(cal.delta),
        relative_se=float(cal.relative_se),
        events=int(cal.events),
        simulated_rows=int(cal.rows),
        replicates=int(cal.replicates),
        **extra,
    )


def monitor_settings(monitor) -> MonitorSettings:
    """The settings of a fitted monitor."""
    return _from_calibration(
        monitor.calibration_,
        window=int(monitor.window_),
        n_ref=int(monitor.n_ref_),
        n_features=int(monitor.n_features_in_),
        shrinkage=monitor.shrinkage,
        parameters=repr(monitor),
    )


def state_settings(state) -> MonitorSettings | None:
    """What a state knows of its monitor's settings (None: nothing)."""
    cal = getattr(state, "_calibration", None)
    return None if cal is None else _from_calibration(cal)


def state_names(state) -> tuple:
    """Every feature's name, as the monitor names them."""
    names = tuple(getattr(state, "_names", ()) or ())
    scores = state.feature_scores
    d = 0 if scores is None else len(scores)
    return names if len(names) == d else tuple(f"x{j}" for j in range(d))


@dataclass(frozen=True)
class AlarmView:
    """An alarm, or the leading window at a state's last row (``alarm=False``)."""

    row: int
    change_point: int
    statistic: float
    part: str
    effect: float
    features: tuple  # the names the monitor reports as having moved most
    scores: tuple  # ((name, KL of the marginal), ...) for every feature
    alarm: bool = True

    @property
    def window(self) -> int:
        return self.row - self.change_point + 1

    def ranked(self) -> list:
        """``(name, score)`` by score, largest first (ties by column order)."""
        order = np.argsort([-s for _, s in self.scores], kind="stable")
        return [self.scores[j] for j in order]


def _scores(names, values) -> tuple:
    if values is None:
        return ()
    return tuple((n, float(s)) for n, s in zip(names, values, strict=True))


def alarm_view(alarm, names) -> AlarmView:
    """Read a MonitorAlarm (``names``: every feature's name)."""
    return AlarmView(
        row=int(alarm.row),
        change_point=int(alarm.change_point),
        statistic=float(alarm.statistic),
        part=str(alarm.part),
        effect=float(alarm.effect),
        features=tuple(str(f) for f in alarm.features),
        scores=_scores(names, alarm.feature_scores),
    )


def leading_view(state) -> AlarmView | None:
    """The window that leads at the last row of an alarm-free state, or None."""
    if state.alarms or state.change_point is None:
        return None
    return AlarmView(
        row=int(state.n_rows) - 1,
        change_point=int(state.change_point),
        statistic=float(state.statistic),
        part=str(state.part),
        effect=float(state.effect),
        features=tuple(str(f) for f in state.features),
        scores=_scores(state_names(state), state.feature_scores),
        alarm=False,
    )


class MonitorRun:
    """A monitored stream as a report shows it, gathered batch by batch.

    Memory is bounded whatever the stream's length: the timeline's bins, the
    first :data:`ALARMS_KEPT` alarms, the latest alarm and the last state
    (its batch's statistics and leading window).

    Parameters
    ----------
    monitor : GaussianDriftMonitor or None
        The fitted monitor whose states are added (None: settings from the
        states, as far as they carry them).
    reference, stream : str, optional
        What the reference and the stream were (file names), for the page.
    rows_from : {0, 1}, default=0
        How rows are numbered on the page: 0 as the monitor counts them
        (since fit or reset), 1 as data rows of a file (the header excluded).
    first_row : int or None
        The row number of the first row added; None: the monitor's rows
        seen so far (0 without a monitor).
    """

    def __init__(
        self, monitor=None, *, reference=None, stream=None, rows_from=0, first_row=None
    ):
        if rows_from not in (0, 1):
            raise ValueError(f"rows_from must be 0 or 1, got {rows_from!r}.")
        self.settings = None if monitor is None else monitor_settings(monitor)
        if first_row is None:
            first_row = 0 if monitor is None else int(monitor.n_rows_)
        self.timeline = Timeline(first_row)
        self.reference, self.stream, self.rows_from = reference, stream, rows_from
        self.alarms: list[AlarmView] = []
        self.latest: AlarmView | None = None
        self.n_alarms = 0
        self.last = None

    @classmethod
    def from_state(cls, state, **kwargs) -> MonitorRun:
        """The run of one batch: what ``state.to_html`` shows."""
        run = cls(first_row=int(state.n_rows) - len(state.statistics), **kwargs)
        run.settings = state_settings(state)
        return run.add(state)

    def add(self, state) -> MonitorRun:
        """Record the next state (states must follow one another)."""
        stats = np.asarray(state.statistics, dtype=np.float64)
        if self.timeline.first_row + self.timeline.n_rows + len(stats) != state.n_rows:
            raise ValueError(
                f"the state ends at row {state.n_rows}; the run holds rows up to "
                f"{self.timeline.first_row + self.timeline.n_rows}: add every "
                "state of the stream, in order."
            )
        self.timeline.add(stats, [a.row for a in state.alarms])
        names = state_names(state) if state.alarms else ()
        for a in state.alarms[: max(0, ALARMS_KEPT - len(self.alarms))]:
            self.alarms.append(alarm_view(a, names))
        if state.alarms:
            self.latest = alarm_view(state.alarms[-1], names)
        self.n_alarms += len(state.alarms)
        if self.settings is None:
            self.settings = state_settings(state)
        self.last = state
        return self

    @property
    def n_rows(self) -> int:
        """Rows recorded."""
        return self.timeline.n_rows

    @property
    def leading(self) -> AlarmView | None:
        """The leading window at the last row of a run without alarms, or None.

        A state with an alarm reports the alarm instead, so after one the
        leading window would depend on where the stream was cut into batches.
        """
        if self.n_alarms or self.last is None:
            return None
        return leading_view(self.last)

    def shown_rows(self) -> tuple[int, int] | None:
        """The first and last rows recorded, as the page numbers them."""
        if not self.n_rows:
            return None
        first = self.timeline.first_row
        return self.row(first), self.row(first + self.n_rows - 1)

    def row(self, r: int) -> int:
        """Row ``r`` (as the monitor counts) as the page numbers it."""
        return int(r) + self.rows_from
