"""Online drift monitoring with a false-alarm budget: :class:`GaussianDriftMonitor`.

The estimator holds parameters and the fitted reference and calibration; the
statistic lives in ``_online_statistic``, the reference's standardisation in
``_online_reference``, the threshold's simulation in ``_online_calibration``
and the portable file in ``_online_io``.
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data

from .._errors import InputError
from ._encode import reference_encoding
from ._online_calibration import MIN_ERT, calibrate
from ._online_reference import fit_reference
from ._online_statistic import Stream, indicator_mask, make_layout, window_summary
from ._table import is_table

__all__ = ["GaussianDriftMonitor", "MonitorAlarm", "MonitorState"]

# Fewer simulated first passages at the threshold than this: a warning (the
# log-linear tail extrapolation underestimates heavy tails far out).
_MIN_EVENTS = 10
# Features named in an alarm's summary.
_TOP_FEATURES = 3
# Default window: at most this many rows, a quarter of the reference (beyond
# that the reference's own estimation error dominates long windows) and half
# the ERT (a window longer than the run length is never filled).
_MAX_WINDOW = 500


def default_window(n_ref: int, ert: float) -> int:
    """``min(500, n_ref // 4, ert // 2)``, at least 1."""
    return int(max(1, min(_MAX_WINDOW, n_ref // 4, ert // 2)))


@dataclass(frozen=True)
class MonitorAlarm:
    """Where the monitor's statistic crossed its threshold, and what moved.

    Attributes
    ----------
    row : int
        Index (from 0, counted since ``fit`` or ``reset``) of the row at which
        the statistic crossed the threshold.
    change_point : int
        Index of the first row of the window that moved: the estimated
        change point.
    statistic : float
        The statistic at ``row`` (evidence in nats).
    part : str
        The part of the statistic that crossed: 'mean', 'feature', 'scale'
        or 'pair'.
    effect : float
        KL divergence per row, in nats, of the window's Gaussian fit from the
        reference (whitened coordinates; the window covariance counts two
        rows at the reference's, so a short window stays defined). The delay
        to detect a change is about ``threshold / effect`` rows.
    feature_scores : ndarray of shape (n_features,) or (n_columns,)
        The same KL for each feature's marginal; for a table monitor, one
        per column (see :class:`GaussianDriftMonitor`, Notes).
    features : tuple of str
        The (up to) three features with the largest scores.
    """

    row: int
    change_point: int
    statistic: float
    part: str
    effect: float
    feature_scores: np.ndarray = field(repr=False)
    features: tuple

    @property
    def window(self) -> int:
        """Rows from the change point to the alarm."""
        return self.row - self.change_point + 1

    def __repr__(self) -> str:
        from .._display import monitor_alarm_text

        return monitor_alarm_text(self)


@dataclass(frozen=True)
class MonitorState:
    """What :meth:`GaussianDriftMonitor.update` returns.

    Attributes
    ----------
    n_rows : int
        Rows seen since ``fit`` or ``reset`` (this batch included).
    statistic : float
        The statistic at the batch's last row (-inf for an empty batch).
    statistics : ndarray of shape (n_batch_rows,)
        The statistic at every row of the batch.
    threshold : float
        The calibrated threshold: an alarm when the statistic reaches it.
    alarms : tuple of MonitorAlarm
        Alarms raised in this batch. After an alarm the monitor starts a new
        run at the next row (its windows begin empty).
    change_point, part :
        For the first alarm of the batch if any, else for the window that
        leads at the batch's last row (None for an empty batch).
    """

    n_rows: int
    statistic: float
    statistics: np.ndarray = field(repr=False)
    threshold: float
    alarms: tuple
    change_point: int | None
    part: str | None
    _rows: np.ndarray | None = field(default=None, repr=False, compare=False)
    _factor: np.ndarray | None = field(default=None, repr=False, compare=False)
    _names: tuple = field(default=(), repr=False, compare=False)
    _calibration: object = field(default=None, repr=False, compare=False)
    _groups: np.ndarray | None = field(default=None, repr=False, compare=False)

    @property
    def alarm(self) -> bool:
        """Whether the statistic reached the threshold in this batch."""
        return bool(self.alarms)

    def __repr__(self) -> str:
        from .._display import monitor_state_text

        return monitor_state_text(self)

    def _repr_html_(self) -> str:
        from .._display import monitor_state_html

        return monitor_state_html(self)

    def to_html(self, path):
        """Write this batch as a self-contained HTML report page.

        The verdict (alarm or not, since which row), the alarms with their
        change points, parts, effects and features, the monitor's guarantee
        and threshold, the statistic over the batch against the threshold
        (a figure with matplotlib, a table without) and the notes, in one
        file that loads nothing from the network. ``skkl monitor --report``
        writes the same page for a whole stream.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced if it exists).

        Returns
        -------
        path : pathlib.Path
        """
        from .._display import write_monitor_report

        return write_monitor_report(self, path)

    @cached_property
    def _summary(self):
        if self.alarms:
            a = self.alarms[0]
            return a.effect, a.feature_scores, a.features
        if self._rows is None:
            return float("nan"), None, ()
        return _summarise(self._rows, self._factor, self._names, self._groups)

    @property
    def effect(self) -> float:
        """KL per row (nats) of the leading window's fit (see MonitorAlarm)."""
        return self._summary[0]

    @property
    def feature_scores(self) -> np.ndarray | None:
        """Per-feature KL of the leading window (see MonitorAlarm)."""
        return self._summary[1]

    @property
    def features(self) -> tuple:
        """Names of the features that moved most in the leading window."""
        return self._summary[2]


def _summarise(rows, factor, names, groups=None):
    S1, S2 = rows.sum(axis=0), rows.T @ rows
    effect, scores = window_summary(S1, S2, len(rows), factor, groups)
    order = np.argsort(-scores, kind="stable")[:_TOP_FEATURES]
    return effect, scores, tuple(names[j] for j in order)


class GaussianDriftMonitor(BaseEstimator):
    """Online drift monitor with a calibrated expected run time (ERT).

    Rows (or batches of rows) arrive one :meth:`update` at a time; the
    monitor raises an alarm when the evidence that the recent rows differ
    from the reference, in mean, spread or correlation, reaches a threshold
    chosen so that, without any change, an alarm comes on average once every
    ``ert`` rows. See the user guide, "Online monitoring".

    Parameters
    ----------
    ert : float, default=1000
        Target expected run time: rows until a false alarm on data without
        change; at least 2. Without change the run length is close to geometric:
        ``P(RL <= t) ~ t / ert`` for ``t`` well below ``ert``.
    window : int or None, default=None
        Longest candidate post-change window, in rows. Longer windows detect
        smaller changes (a change of KL ``k`` nats per row needs about
        ``log(ert) / k`` rows) but cost memory and are more sensitive to the
        reference's own estimation error. None: ``min(500, n_ref // 4, ert //
        2)``.
    calibration : {'resample', 'parametric'}, default='resample'
        'resample' (distribution-free): thresholds from null streams resampled
        from the reference, the reference refitted on each resample, so its
        estimation error is simulated: the false-alarm rate averaged over
        reference samples is ``1 / ert``. 'parametric' (Gaussian data):
        the reference's mean and scatter are drawn from their sampling laws,
        and the threshold guarantees ``P(ARL >= ert) >= 1 - delta`` over
        reference samples, ARL being the in-control average run length given
        the reference.
    delta : float, default=0.05
        Allowed probability, over reference samples, of an ARL below ``ert``
        ('parametric' only).
    shrinkage : None, 'ledoit_wolf', 'oas' or float in [0, 1], default=None
        Shrinkage of the reference's correlation matrix towards the identity
        (needed when the reference has few rows per feature).
    n_simulated_rows : int or None, default=None
        Rows simulated for the calibration after each replicate's warm-up;
        None: ``40 * ert`` (about 40 simulated false alarms at the threshold,
        a Monte Carlo error of the ERT of about 15%, reported in
        ``calibration_``).
    random_state : int, RandomState instance or None, default=None
        Seed of the calibration.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when the reference has string column names.
    n_ref_ : int
        Rows of the reference.
    window_ : int
        The window used.
    threshold_ : float
        The statistic's threshold (evidence, in nats).
    calibration_ : Calibration
        How the threshold was set, with its Monte Carlo error.
    n_rows_ : int
        Rows seen since ``fit`` or ``reset``.
    n_alarms_ : int
        Alarms raised since ``fit`` or ``reset``.
    encoding_ : TableEncoding or None
        How a table reference's columns became features; None for arrays.

    Notes
    -----
    A table reference (a DataFrame with categorical, boolean or text columns
    or missing cells) is encoded once, from the reference alone, as the
    detector encodes tables (user guide, "Mixed tables"): a numeric column
    is its value (missing cells filled with the observed mean) plus a
    missingness indicator, a categorical column one indicator per level but
    the most frequent (rare levels pooled into ``(other)``, where unseen
    levels go too). Every :meth:`update` batch is encoded the same way.
    Indicator features (levels, missing cells, booleans) count in the mean
    part only: an indicator's variance is a function of its mean, and a
    rare level's Gaussian variance ratio would raise false alarms of its
    own. Use ``calibration='resample'``: indicators are not Gaussian.

    Per-column scores: an alarm's ``feature_scores`` then hold one score
    per original column, the KL divergence (nats per row) of the Gaussian
    fit of the alarm window's features of that column (their joint marginal
    in ``u`` coordinates) from the reference's (mean 0, the reference's
    correlation of those features). A column of one feature scores that
    feature's marginal KL, as for arrays.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import GaussianDriftMonitor
    >>> rng = np.random.default_rng(0)
    >>> monitor = GaussianDriftMonitor(ert=200, random_state=0)
    >>> monitor = monitor.fit(rng.normal(size=(1000, 3)))
    >>> monitor.update(rng.normal(size=(20, 3))).alarm
    False
    >>> state = monitor.update(rng.normal(loc=[1.5, 0, 0], size=(100, 3)))
    >>> alarm = state.alarms[0]
    >>> alarm.features[0], alarm.part, 20 <= alarm.change_point <= alarm.row < 60
    ('x0', 'mean', True)
    """

    _parameter_constraints: dict = {
        "ert": [Interval(numbers.Real, MIN_ERT, None, closed="left")],
        "window": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "calibration": [StrOptions({"resample", "parametric"})],
        "delta": [Interval(numbers.Real, 0, 1, closed="neither")],
        "shrinkage": [
            None,
            StrOptions({"ledoit_wolf", "oas"}),
            Interval(numbers.Real, 0, 1, closed="both"),
        ],
        "n_simulated_rows": [None, Interval(numbers.Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        ert: float = 1000,
        window: int | None = None,
        calibration: str = "resample",
        delta: float = 0.05,
        shrinkage=None,
        n_simulated_rows: int | None = None,
        random_state=None,
    ):
        self.ert = ert
        self.window = window
        self.calibration = calibration
        self.delta = delta
        self.shrinkage = shrinkage
        self.n_simulated_rows = n_simulated_rows
        self.random_state = random_state

    # -- fitting -----------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X_ref, y=None) -> GaussianDriftMonitor:
        """Summarise the reference and calibrate the threshold.

        Parameters
        ----------
        X_ref : array-like of shape (n_samples, n_features) or DataFrame
            Reference rows (at least 2, finite), or a table (categorical,
            boolean or text columns, missing cells), encoded as the class
            docstring's Notes say.
        y : None
            Ignored.

        Returns
        -------
        self : GaussianDriftMonitor
        """
        if is_table(X_ref):
            X = self._fit_encoding(X_ref)
            names = tuple(self.encoding_.feature_names)
        else:
            X = validate_data(
                self,
                X_ref,
                dtype=np.float64,
                ensure_min_samples=2,
                ensure_all_finite=False,
            )
            _check_finite(X, "X_ref")
            self.encoding_ = None
            names = self._names()
        self.reference_ = fit_reference(X, self.shrinkage, names)
        if self.calibration == "parametric":
            self.reference_ = self.reference_.gaussian()
        n, d = X.shape
        self.n_ref_ = n
        self.window_ = (
            int(self.window)
            if self.window is not None
            else default_window(n, float(self.ert))
        )
        layout = make_layout(
            d,
            n,
            self.window_,
            table=self.encoding_ is not None,
            indicators=indicator_mask(self.encoding_),
        )
        # Unclipped: streams are resampled from these, then clipped as data are.
        U_ref = (
            self.reference_.standardise(np.ldexp(X, -self.reference_.exponent), False)[
                0
            ]
            if self.calibration == "resample"
            else None
        )
        self.calibration_ = calibrate(
            self.reference_,
            U_ref,
            layout,
            ert=float(self.ert),
            mode=self.calibration,
            delta=float(self.delta),
            rng=np.random.default_rng(
                check_random_state(self.random_state).randint(2**31 - 1)
            ),
            shrinkage=self.shrinkage,
            n_rows=self.n_simulated_rows,
        )
        self.threshold_ = self.calibration_.threshold
        if self.calibration_.events < _MIN_EVENTS:
            warnings.warn(
                f"the threshold was extrapolated beyond the simulation (only "
                f"{self.calibration_.events} simulated false alarms at it): the "
                "realised ERT may be far from the target. Leave n_simulated_rows="
                "None (40 * ert) or raise it.",
                UserWarning,
                stacklevel=2,
            )
        self._stream = Stream(layout)
        self._stream.use_tail_factors(*self.reference_.tail_factors())
        self.reset()
        return self

    def _fit_encoding(self, X_ref) -> np.ndarray:
        """The encoded rows of a table reference; sets ``encoding_``."""
        validate_data(self, X_ref, reset=True, skip_check_array=True)
        encoding = reference_encoding(X_ref, name="X_ref")
        X = encoding.encode(X_ref, "X_ref")
        if len(X) < 2:
            raise InputError(
                "{argument} has {n} row(s); the monitor needs at least 2.",
                argument="X_ref",
                n=len(X),
            )
        if encoding.n_features == 0:
            raise InputError(
                "no column of {argument} varies in enough rows to be watched (a "
                "categorical column needs a second level in at least {rows} rows); "
                "give a larger reference or other columns.",
                argument="X_ref",
                rows=int(encoding.threshold),
            )
        if self.calibration == "parametric":
            warnings.warn(
                "calibration='parametric' assumes Gaussian features; a table's "
                "indicator features (levels, missing cells) are not: the ERT may "
                "be far from its target. Use calibration='resample' for tables.",
                UserWarning,
                stacklevel=3,
            )
        self.encoding_ = encoding
        return X

    def _groups(self):
        """Column of each encoded feature (tables), or None (one per feature)."""
        encoding = getattr(self, "encoding_", None)
        return None if encoding is None else encoding.column_of

    def _html_repr(self) -> str:
        from .._display import monitor_html

        return monitor_html(self)

    def _names(self) -> tuple:
        names = getattr(self, "feature_names_in_", None)
        if names is not None:
            return tuple(str(v) for v in names)
        return tuple(f"x{j}" for j in range(self.n_features_in_))

    def reset(self) -> GaussianDriftMonitor:
        """Forget the stream (keeps the reference and the threshold).

        Returns
        -------
        self : GaussianDriftMonitor
        """
        check_is_fitted(self, "threshold_")
        self._stream.reset()
        self.n_rows_ = 0
        self.n_alarms_ = 0
        self._run_start = 0
        return self

    # -- monitoring ----------------------------------------------------------------

    def _prepare(self, X, name: str = "X"):
        """Validated rows of ``X`` as ``(u, z)``: the one map from input to numbers."""
        if getattr(self, "encoding_", None) is not None:
            return self.reference_.transform(self._encode(X, name))
        X = validate_data(
            self,
            X,
            dtype=np.float64,
            reset=False,
            ensure_all_finite=False,
            ensure_2d=False,
            ensure_min_samples=0,
        )
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if X.ndim != 2 or X.shape[1] != self.n_features_in_:
            raise InputError(
                "{argument} has {got} features per row; the monitor was fitted on "
                "{d}. Pass rows with the reference's columns, in the same order.",
                argument=name,
                got=X.shape[-1],
                d=self.n_features_in_,
            )
        _check_finite(X, name, offset=self.n_rows_)
        return self.reference_.transform(X)

    def _encode(self, X, name: str) -> np.ndarray:
        """A batch of a table monitor, encoded as the reference was."""
        if not hasattr(X, "iloc") and np.ndim(X) == 1:
            X = np.asarray(X, dtype=object).reshape(1, -1)
        elif hasattr(X, "to_frame") and not hasattr(X, "columns"):  # a Series
            X = X.to_frame().T
        validate_data(self, X, reset=False, skip_check_array=True)
        return self.encoding_.encode(X, name)

    def update(self, X) -> MonitorState:
        """Feed rows; return the state, with any alarm they raised.

        Parameters
        ----------
        X : array-like of shape (n_rows, n_features) or (n_features,)
            A batch of rows, or one row, without missing values. The result
            does not depend on how the stream is cut into batches.

        Returns
        -------
        state : MonitorState
        """
        check_is_fitted(self, "threshold_")
        U, Z = self._prepare(X)
        stream, h = self._stream, self.threshold_
        stats = np.empty(len(U))
        alarms = []
        i = 0
        part = length = None
        while i < len(U):
            b = min(len(U), i + stream.chunk)
            ev, parts, lengths = stream.advance(U[i:b], Z[i:b])
            hit = np.flatnonzero(ev >= h)
            stop = b if not hit.size else i + hit[0] + 1
            stats[i:stop] = ev[: stop - i]
            part, length = parts[stop - i - 1], lengths[stop - i - 1]
            if hit.size:
                alarms.append(
                    self._alarm(stream.t - (b - stop) - 1, ev[hit[0]], part, length)
                )
                stream.reset()
                self._run_start = self.n_rows_ + stop
            i = stop
        return self._state(len(U), stats, tuple(alarms), part, length)

    def _alarm(self, run_row: int, statistic: float, part: int, length: int):
        rows = self._stream.window_rows(run_row, int(length))
        effect, scores, features = _summarise(
            rows, self.reference_.factor, self._names(), self._groups()
        )
        row = self._run_start + run_row
        self.n_alarms_ += 1
        return MonitorAlarm(
            row=int(row),
            change_point=int(row - length + 1),
            statistic=float(statistic),
            part=self._stream.layout.part_names[part],
            effect=effect,
            feature_scores=scores,
            features=features,
        )

    def _state(self, n, stats, alarms, part, length) -> MonitorState:
        self.n_rows_ += n
        shown = {
            "_names": self._names(),
            "_calibration": self.calibration_,
            "_groups": self._groups(),
        }
        if alarms:
            a = alarms[0]
            return MonitorState(
                self.n_rows_,
                float(stats[-1]),
                stats,
                self.threshold_,
                alarms,
                a.change_point,
                a.part,
                **shown,
            )
        if n == 0:
            return MonitorState(
                self.n_rows_,
                float("-inf"),
                stats,
                self.threshold_,
                (),
                None,
                None,
                **shown,
            )
        run_row = self._stream.t - 1
        return MonitorState(
            self.n_rows_,
            float(stats[-1]),
            stats,
            self.threshold_,
            (),
            int(self.n_rows_ - length),
            self._stream.layout.part_names[part],
            self._stream.window_rows(run_row, int(length)),
            self.reference_.factor,
            **shown,
        )

    # -- persistence ----------------------------------------------------------------

    def save(self, path) -> None:
        """Write the fitted monitor to a portable ``.npz`` file (no pickle).

        The file holds the reference's summary (``O(d^2)`` numbers, never its
        rows), the calibration, the parameters and the stream's state, so
        :meth:`load` resumes monitoring where it stopped.

        Parameters
        ----------
        path : str or path-like
        """
        from ._online_io import save_monitor

        check_is_fitted(self, "threshold_")
        save_monitor(self, path)

    @classmethod
    def load(cls, path) -> GaussianDriftMonitor:
        """Read a monitor written by :meth:`save`.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        monitor : GaussianDriftMonitor
        """
        from ._online_io import load_monitor

        return load_monitor(cls, path)


def _check_finite(X: np.ndarray, name: str, offset: int = 0) -> None:
    """An error naming the first row and column with a missing or infinite value."""
    bad = ~np.isfinite(X)
    if not bad.any():
        return
    row, col = np.argwhere(bad)[0]
    n_bad = int(bad.any(axis=1).sum())
    raise InputError(
        "{argument} has {n_bad} row(s) with a missing (NaN) or infinite value, "
        "the first at row {first_row}, feature {col}; the monitor needs complete "
        "rows: drop or impute them first.",
        argument=name,
        row=int(row) + offset,
        first_row=int(row) + offset,
        column=int(col),
        n_bad=n_bad,
        col=int(col),
    )
