"""``DriftDisplay``: the permutation null, per-feature scores and scans over time."""

from __future__ import annotations

import numbers

import numpy as np

from ._base import check_matplotlib_support, get_axes

__all__ = ["DriftDisplay"]

_RESULT_FIELDS = ("statistic", "p_value", "alpha", "feature_scores", "feature_p_values")
_SCAN_COLUMNS = ("start", "stop", "p_value", "is_drift", "effect")


# Legends sit under their panel, below the tick labels and the two-line axis
# label (about 46 points at the default font sizes), so they never hide the
# histogram or the bars; a fixed offset in points keeps that gap the same in a
# tall figure. One column keeps them narrower than a panel at any size.
_LEGEND_OFFSET_PT = 52


def _legend_below(ax, right=False, **kwargs):
    from matplotlib.transforms import ScaledTranslation

    below = ScaledTranslation(0, -_LEGEND_OFFSET_PT / 72, ax.figure.dpi_scale_trans)
    return ax.legend(
        fontsize="small",
        loc="upper right" if right else "upper center",
        bbox_to_anchor=(1.0 if right else 0.5, 0.0),
        bbox_transform=ax.transAxes + below,
        frameon=False,
        **kwargs,
    )


def _check_result(result) -> None:
    missing = [a for a in _RESULT_FIELDS if not hasattr(result, a)]
    if missing:
        raise TypeError(
            "result must be a DriftResult, the output of "
            f"GaussianDriftDetector.test(X), got {type(result).__name__}; for the "
            "output of scan() use DriftDisplay.from_scan."
        )


def feature_labels(result, feature_names=None) -> list:
    """One label per feature: ``feature_names``, the result's, or x0, x1, ..."""
    d = np.size(result.feature_scores)
    names = feature_names
    if names is None:
        names = getattr(result, "feature_names", None)
        if names is None:
            return [f"x{j}" for j in range(d)]
    elif isinstance(names, str):
        raise TypeError(
            f"feature_names must be a sequence of names, one per feature, got the "
            f"string {names!r}."
        )
    names = [str(n) for n in np.asarray(names, dtype=object).ravel()]
    if len(names) != d:
        raise ValueError(
            f"feature_names has {len(names)} name(s) but the result has {d} "
            "features: pass one name per feature, or None to use the result's."
        )
    return names


def _shown_features(result, max_features) -> np.ndarray:
    """Indices of the features to draw, in drawing order (top first)."""
    scores = np.asarray(result.feature_scores, dtype=np.float64)
    if max_features is not None and (
        isinstance(max_features, bool)
        or not isinstance(max_features, numbers.Integral)
        or max_features < 1
    ):
        raise ValueError(
            f"max_features must be a positive integer or None, got {max_features!r}."
        )
    if max_features is None or max_features >= scores.size:
        return np.arange(scores.size)
    return evidence_order(result.feature_p_values, scores)[:max_features]


def evidence_order(p_values, scores) -> np.ndarray:
    """Feature indices, strongest evidence first: smallest p, largest effect.

    Ties in both keep feature order; a nan effect counts as the smallest.
    """
    p = np.asarray(p_values, dtype=np.float64)
    effect = np.asarray(scores, dtype=np.float64)
    effect = np.where(np.isnan(effect), -np.inf, effect)
    return np.lexsort((np.arange(effect.size), -effect, p))


def _check_table(table) -> None:
    if isinstance(table, (list, tuple)):
        if not table:
            raise ValueError("the scan table is empty: no window was tested.")
        for r in table:
            _check_result(r)
        return
    columns = getattr(table, "columns", None)
    if columns is None:
        raise TypeError(
            "table must be the output of GaussianDriftDetector.scan (a pandas "
            f"DataFrame or a list of DriftResult), got {type(table).__name__}."
        )
    if len(table) == 0:
        raise ValueError("the scan table is empty: no window was tested.")
    missing = [c for c in _SCAN_COLUMNS if c not in columns]
    if missing:
        raise ValueError(
            f"table lacks the column(s) {missing} of GaussianDriftDetector.scan's "
            "output; pass what scan() returns."
        )


class DriftDisplay:
    """Plots of :class:`~skkl.GaussianDriftDetector` results.

    :meth:`from_result` draws one test: the permutation distribution of the
    statistic with the observed value and the critical value, next to a
    horizontal bar chart of the per-feature effects (bars of features whose
    Holm-adjusted p-value is below ``alpha`` take ``drift_color``, red by
    default; a legend under each panel says so). :meth:`from_scan` draws the
    table returned by :meth:`~skkl.GaussianDriftDetector.scan`: p-values over
    time (log scale, ``alpha`` dashed, drifting windows marked) and the effect
    size.

    Parameters
    ----------
    result : DriftResult, default=None
        A single test result.
    table : DriftScan, pandas.DataFrame or list of DriftResult, default=None
        Output of ``scan`` (or its ``to_frame()``).
    feature_names : array-like of str, default=None
        Bar labels; the result's ``feature_names`` (the detector was fitted
        on a DataFrame), else ``x0, x1, ...``, when None.

    Attributes
    ----------
    ax_ : ndarray of two matplotlib Axes
    figure_ : matplotlib Figure
    hist_ : list of matplotlib Patch or None
        Histogram bars of the null distribution (None in asymptotic mode).
    observed_line_, threshold_line_ : matplotlib Line2D
        The observed statistic and its critical value (:meth:`from_result`).
    bars_ : matplotlib BarContainer
        Per-feature effects as horizontal bars, first feature on top
        (:meth:`from_result`).
    p_line_, effect_line_ : matplotlib Line2D
        p-values and effects over time (:meth:`from_scan`).

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import GaussianDriftDetector
    >>> from skkl.plotting import DriftDisplay
    >>> rng = np.random.default_rng(0)
    >>> det = GaussianDriftDetector(n_permutations=200, random_state=0)
    >>> det = det.fit(rng.normal(size=(300, 3)))
    >>> res = det.test(rng.normal(size=(200, 3)) * [1, 1.5, 1])
    >>> disp = DriftDisplay.from_result(res)
    >>> len(disp.hist_) > 0, len(disp.bars_)
    (True, 3)
    >>> stream = rng.normal(size=(400, 3)) + np.repeat([0.0, 1.0], 200)[:, None]
    >>> disp = DriftDisplay.from_scan(det.scan(stream, window=100))
    >>> disp.p_line_.get_xdata().tolist()
    [50.0, 150.0, 250.0, 350.0]
    """

    def __init__(self, *, result=None, table=None, feature_names=None):
        self.result = result
        self.table = table
        self.feature_names = feature_names

    # -- single test ----------------------------------------------------------

    @classmethod
    def from_result(
        cls, result, *, feature_names=None, max_features=None, ax=None, **kwargs
    ) -> DriftDisplay:
        """Plot one :class:`~skkl.DriftResult`.

        Parameters
        ----------
        result : DriftResult
            Output of :meth:`~skkl.GaussianDriftDetector.test`.
        feature_names : array-like of str, default=None
            Bar labels, one per feature; the result's ``feature_names`` (the
            detector was fitted on a DataFrame), else ``x0, x1, ...``, when
            None.
        max_features : int, default=None
            Draw only this many features, those with the strongest evidence
            (smallest Holm p-value, then largest effect) first; every feature
            in its own order when None.
        ax : sequence of two matplotlib Axes, default=None
            Panels for the null distribution and the per-feature effects; a
            new figure when None.
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : DriftDisplay
        """
        display = cls(result=result, feature_names=feature_names)
        return display.plot(ax=ax, max_features=max_features, **kwargs)

    @classmethod
    def from_scan(cls, table, *, ax=None, **kwargs) -> DriftDisplay:
        """Plot the output of :meth:`~skkl.GaussianDriftDetector.scan`.

        Parameters
        ----------
        table : DriftScan, pandas.DataFrame or list of DriftResult
            What ``scan`` returns (or its ``to_frame()``); results are plotted
            at their window centres (the window number for results without
            ``start``/``stop``).
        ax : sequence of two matplotlib Axes, default=None
            Panels for the p-values and the effect sizes over time; a new
            figure when None.
        **kwargs
            Passed to :meth:`plot`.

        Returns
        -------
        display : DriftDisplay
        """
        return cls(table=table).plot(ax=ax, **kwargs)

    def plot(
        self,
        *,
        ax=None,
        bins="auto",
        color="C0",
        drift_color="C3",
        max_features=None,
    ) -> DriftDisplay:
        """Draw the result or the scan table given at construction.

        Parameters
        ----------
        ax : sequence of two matplotlib Axes, default=None
            New figure with two panels when None.
        bins : int or str, default='auto'
            Histogram bins of the null distribution.
        color, drift_color : str
            Colours of the normal and the drifting elements.
        max_features : int, default=None
            For a result: draw only this many features, the strongest
            evidence first (see :meth:`from_result`).

        Returns
        -------
        display : DriftDisplay
        """
        if self.result is None and self.table is None:
            raise ValueError("DriftDisplay needs a result or a scan table to plot.")
        shown = None
        if self.result is not None:
            _check_result(self.result)
            shown = _shown_features(self.result, max_features)
            labels = feature_labels(self.result, self.feature_names)
        else:
            _check_table(self.table)
        if ax is None:
            plt = check_matplotlib_support("DriftDisplay.plot")
            height = 4.2
            if shown is not None:  # one horizontal bar per feature
                height = max(height, 2.2 + 0.25 * shown.size)
            fig, ax = plt.subplots(1, 2, figsize=(10, height), layout="constrained")
        else:
            ax = np.asarray(ax, dtype=object).ravel()
            if ax.size != 2:
                raise ValueError(f"ax must be two matplotlib Axes, got {ax.size}.")
            fig, _ = get_axes(ax[0], "DriftDisplay.plot")
        self.ax_, self.figure_ = np.asarray(ax, dtype=object).ravel(), fig
        if self.result is not None:
            self._plot_null(bins, color, drift_color)
            self._plot_features(shown, labels, color, drift_color)
        else:
            self._plot_scan(color, drift_color)
        return self

    def _plot_null(self, bins, color, drift_color):
        res, ax0 = self.result, self.ax_[0]
        self.hist_ = None
        if res.null_distribution is not None:
            _, _, self.hist_ = ax0.hist(
                res.null_distribution,
                bins=bins,
                color=color,
                alpha=0.6,
                label=f"permutation null (B={res.null_distribution.size})",
            )
        obs_color = drift_color if res.is_drift else "k"
        self.observed_line_ = ax0.axvline(
            res.statistic,
            color=obs_color,
            lw=2,
            label=f"observed, p={res.p_value:.3g}",
        )
        threshold = res.critical_value if np.isfinite(res.critical_value) else np.nan
        self.threshold_line_ = ax0.axvline(
            threshold,
            color="k",
            ls="--",
            label=f"critical value at alpha={res.alpha:g}",
        )
        # Two short lines: one long line is wider than a panel at matplotlib's
        # default figure size and is cut at the figure's edge.
        ax0.set_xlabel(f"statistic: {res.statistic_name}\n({res.method} engine)")
        ax0.set_ylabel("count")
        _legend_below(ax0)
        ax0.set_title(f"p-value = {res.p_value:.3g}")

    def _plot_features(self, shown, labels, color, drift_color):
        res, ax1 = self.result, self.ax_[1]
        scores = np.asarray(res.feature_scores, dtype=np.float64)[shown]
        drifted = np.asarray(res.feature_p_values)[shown] < res.alpha
        # Horizontal bars: long feature names stay readable without rotation,
        # and both panels keep the same height.
        pos = np.arange(shown.size)
        self.bars_ = ax1.barh(
            pos, scores, color=[drift_color if d else color for d in drifted]
        )
        # Names are text, never mathtext: a '$' in a column name is literal.
        ax1.set_yticks(pos, [labels[j] for j in shown], parse_math=False)
        ax1.invert_yaxis()  # first feature on top
        ax1.axvline(0, color="k", lw=0.8)
        # Long feature names leave this panel narrow: its label, title and
        # legend end at its right edge and extend left under the names, where
        # they cannot run off the figure.
        ax1.set_xlabel(
            "effect per feature (nats)\nbias-corrected symmetric KL", loc="right"
        )
        title = f"effect = {res.effect:.3g} nats"
        if shown.size < len(labels):
            title += f"\ntop {shown.size} of {len(labels)} features"
        ax1.set_title(title, loc="right")
        from matplotlib.patches import Patch

        # The legend explains only the colours that are drawn.
        handles = []
        if drifted.any():
            handles.append(
                Patch(color=drift_color, label=f"drifted: Holm p < {res.alpha:g}")
            )
        if not drifted.all():
            handles.append(Patch(color=color, label="not significant"))
        _legend_below(ax1, handles=handles, right=True)

    def _plot_scan(self, color, drift_color):
        ax0, ax1 = self.ax_
        table = self.table
        if isinstance(table, (list, tuple)):
            if not table:
                raise ValueError("the scan table is empty: no window was tested.")
            if all(getattr(r, "start", None) is not None for r in table):
                mid = np.array([(r.start + r.stop) / 2.0 for r in table])
                xlabel = "window centre (sample index)"
            else:
                mid = np.arange(len(table))
                xlabel = "window (scan order)"
            p = np.array([r.p_value for r in table], dtype=np.float64)
            drift = np.array([r.is_drift for r in table], dtype=bool)
            effect = np.array([r.effect for r in table], dtype=np.float64)
            alpha = table[0].alpha
        else:
            mid = (table["start"].to_numpy() + table["stop"].to_numpy()) / 2.0
            p = table["p_value"].to_numpy()
            drift = table["is_drift"].to_numpy(dtype=bool)
            effect = table["effect"].to_numpy()
            alpha = table.attrs.get("alpha", 0.05)
            xlabel = "window centre (sample index)"
        (self.p_line_,) = ax0.plot(mid, p, marker="o", color=color, label="p-value")
        # A legend entry only for what is drawn: no "drift" when none drifted.
        ax0.scatter(
            mid[drift],
            p[drift],
            color=drift_color,
            zorder=3,
            label="drift" if drift.any() else "_nolegend_",
        )
        ax0.axhline(alpha, color="k", ls="--", label=f"alpha={alpha:g}")
        ax0.set_yscale("log")
        ax0.set_xlabel(xlabel)
        ax0.set_ylabel("p-value")
        ax0.legend(fontsize="small")
        (self.effect_line_,) = ax1.plot(mid, effect, marker="o", color=color)
        ax1.axhline(0, color="k", lw=0.8)
        ax1.set_xlabel(xlabel)
        ax1.set_ylabel("effect (nats)")
