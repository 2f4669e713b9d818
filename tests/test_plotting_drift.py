"""Tests for skkl.plotting.DriftDisplay (matplotlib Agg backend)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skkl import GaussianDriftDetector  # noqa: E402
from skkl.plotting import DriftDisplay  # noqa: E402


def _detector(**kw):
    rng = np.random.default_rng(0)
    det = GaussianDriftDetector(n_permutations=150, random_state=0, **kw)
    return det.fit(rng.normal(size=(300, 3))), rng


def test_from_result_draws_null_observed_threshold_and_bars():
    det, rng = _detector()
    X = rng.normal(size=(200, 3)) * [1.0, 1.6, 1.0]
    res = det.test(X)
    disp = DriftDisplay.from_result(res, feature_names=["a", "b", "c"])
    ax0, ax1 = disp.ax_
    heights = [p.get_height() for p in disp.hist_]
    assert sum(heights) == 150
    assert disp.observed_line_.get_xdata()[0] == pytest.approx(res.statistic)
    assert disp.threshold_line_.get_xdata()[0] == pytest.approx(res.threshold)
    bar_widths = [b.get_width() for b in disp.bars_]  # horizontal bars
    np.testing.assert_allclose(bar_widths, res.feature_scores)
    assert [t.get_text() for t in ax1.get_yticklabels()] == ["a", "b", "c"]
    # Feature 1 drifts: its bar has the drift colour, the others do not.
    colors = [b.get_facecolor() for b in disp.bars_]
    assert res.feature_p_values[1] < 0.05
    assert colors[1] == mpl.colors.to_rgba("C3") and colors[0] == mpl.colors.to_rgba(
        "C0"
    )
    assert disp.figure_ is ax0.figure


def test_from_result_without_null_has_no_histogram_and_uses_given_axes():
    import dataclasses

    det, rng = _detector()
    # The asymptotic engine gives no null distribution.
    res = dataclasses.replace(
        det.test(rng.normal(size=(200, 3))), null_distribution=None
    )
    fig, axes = plt.subplots(1, 2)
    disp = DriftDisplay.from_result(res, ax=axes)
    assert disp.hist_ is None and disp.figure_ is fig
    assert disp.ax_[0] is axes[0]
    assert [t.get_text() for t in disp.ax_[1].get_yticklabels()] == ["x0", "x1", "x2"]
    with pytest.raises(ValueError, match="two matplotlib Axes"):
        DriftDisplay.from_result(res, ax=axes[0])


def test_from_scan_plots_p_values_and_effects_over_time():
    det, rng = _detector()
    stream = rng.normal(size=(400, 3)) + np.repeat([0.0, 1.0], 200)[:, None]
    table = det.scan(stream, window=100, step=50).to_frame()
    disp = DriftDisplay.from_scan(table)
    np.testing.assert_allclose(disp.p_line_.get_ydata(), table["p_value"])
    np.testing.assert_allclose(disp.effect_line_.get_ydata(), table["effect"])
    np.testing.assert_allclose(disp.p_line_.get_xdata(), table["start"] + 50)
    assert disp.ax_[0].get_yscale() == "log"
    with pytest.raises(ValueError, match="result or a scan"):
        DriftDisplay().plot()


def test_missing_matplotlib_names_the_plot_extra(monkeypatch):
    det, rng = _detector()
    res = det.test(rng.normal(size=(100, 3)))
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"skkl\[plot\]"):
        DriftDisplay.from_result(res)


def test_from_scan_accepts_the_scan_list_without_pandas(monkeypatch):
    det, rng = _detector()
    stream = rng.normal(size=(300, 3)) + np.repeat([0.0, 2.0], 150)[:, None]
    monkeypatch.setitem(sys.modules, "pandas", None)
    results = det.scan(stream, window=100, step=50)
    assert isinstance(results, list) and len(results) == 5
    disp = DriftDisplay.from_scan(results)
    np.testing.assert_array_equal(disp.p_line_.get_xdata(), 50.0 + 50 * np.arange(5))
    np.testing.assert_allclose(disp.p_line_.get_ydata(), [r.p_value for r in results])
    np.testing.assert_allclose(
        disp.effect_line_.get_ydata(), [r.effect for r in results]
    )
    assert results[-1].is_drift  # the last window lies wholly after the shift
    with pytest.raises(ValueError, match="no window"):
        DriftDisplay.from_scan([])


def test_from_result_layout_legends_outside_and_explained_colours():
    det, rng = _detector()
    res = det.test(rng.normal(size=(200, 3)) * [1.0, 1.6, 1.0])
    names = ["alcohol", "a rather long feature name", "od280/od315_of_diluted_wines"]
    disp = DriftDisplay.from_result(res, feature_names=names)
    fig = disp.figure_
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    for ax in disp.ax_:
        legend = ax.get_legend()
        box, frame = legend.get_window_extent(renderer), ax.get_window_extent(renderer)
        assert box.y1 <= frame.y0  # under the axes: never over the bars
    texts = [t.get_text() for t in disp.ax_[1].get_legend().get_texts()]
    assert texts == ["drifted: Holm p < 0.05", "not significant"]
    # Both panels have the same height: no blank area under the histogram.
    h0 = disp.ax_[0].get_window_extent(renderer).height
    h1 = disp.ax_[1].get_window_extent(renderer).height
    assert h0 == pytest.approx(h1, rel=0.02)
    assert "nats" in disp.ax_[1].get_xlabel()


def test_bad_inputs_give_clear_errors():
    pd = pytest.importorskip("pandas")
    with pytest.raises(TypeError, match="result must be a DriftResult"):
        DriftDisplay.from_result(np.zeros(3))
    with pytest.raises(ValueError, match="scan table is empty"):
        DriftDisplay.from_scan(pd.DataFrame())
    with pytest.raises(ValueError, match=r"lacks the column\(s\) \['stop'"):
        DriftDisplay.from_scan(
            pd.DataFrame(
                {"start": [0], "p_value": [0.5], "is_drift": [0], "effect": [0]}
            )
        )
    with pytest.raises(TypeError, match="output of GaussianDriftDetector.scan"):
        DriftDisplay.from_scan(np.zeros((2, 2)))


def test_from_result_uses_the_dataframe_feature_names():
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(1)
    cols = ["alcohol", "ash", "hue"]
    det = GaussianDriftDetector(n_permutations=50, random_state=0)
    det.fit(pd.DataFrame(rng.normal(size=(100, 3)), columns=cols))
    res = det.test(pd.DataFrame(rng.normal(size=(80, 3)), columns=cols))
    assert list(res.feature_names) == cols
    disp = DriftDisplay.from_result(res)
    assert [t.get_text() for t in disp.ax_[1].get_yticklabels()] == cols
