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
    assert disp.threshold_line_.get_xdata()[0] == pytest.approx(res.critical_value)
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


# -- layout and legends (issue 27) and feature_names (issue 24, item 13) -------


def _inside(box, frame, tol=0.5):
    return (
        box.x0 >= frame.x0 - tol
        and box.y0 >= frame.y0 - tol
        and box.x1 <= frame.x1 + tol
        and box.y1 <= frame.y1 + tol
    )


@pytest.mark.parametrize(
    "figure",
    [
        "own",  # the display's own figure
        "matplotlib-default",  # plt.subplots(1, 2) at matplotlib's default size
    ],
)
def test_every_label_and_legend_lies_inside_the_figure(figure):
    det, rng = _detector()
    res = det.test(rng.normal(size=(200, 3)) * [1.0, 1.6, 1.0])
    names = ["alcohol", "a rather long feature name", "od280/od315_of_diluted_wines"]
    if figure == "own":
        disp = DriftDisplay.from_result(res, feature_names=names)
    else:
        _, axes = plt.subplots(1, 2, layout="constrained")
        disp = DriftDisplay.from_result(res, feature_names=names, ax=axes)
    fig = disp.figure_
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    frame = fig.bbox
    for ax in disp.ax_:
        # Everything drawn for the panel: tick labels, axis labels, title.
        assert _inside(ax.get_tightbbox(renderer), frame)
        for text in (ax.xaxis.label, ax.yaxis.label, ax.title):
            assert _inside(text.get_window_extent(renderer), frame), text
        assert _inside(ax.get_legend().get_window_extent(renderer), frame)
    # Each legend is under its axis label, not over it.
    for ax in disp.ax_:
        legend_box = ax.get_legend().get_window_extent(renderer)
        assert legend_box.y1 <= ax.xaxis.label.get_window_extent(renderer).y0


def _legend_texts(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


def test_the_legend_names_only_the_colours_drawn():
    det, rng = _detector()
    calm = det.test(rng.normal(size=(200, 3)))
    assert not (calm.feature_p_values < calm.alpha).any()
    disp = DriftDisplay.from_result(calm)
    assert _legend_texts(disp.ax_[1]) == ["not significant"]
    assert all(b.get_facecolor() == mpl.colors.to_rgba("C0") for b in disp.bars_)
    moved = det.test(rng.normal(size=(200, 3)) * 3.0 + 2.0)
    assert (moved.feature_p_values < moved.alpha).all()
    disp = DriftDisplay.from_result(moved)
    assert _legend_texts(disp.ax_[1]) == ["drifted: Holm p < 0.05"]
    # The scan's legend too: no "drift" entry when no window drifted.
    scan = det.scan(rng.normal(size=(300, 3)), window=100)
    assert not any(r.is_drift for r in scan)
    disp = DriftDisplay.from_scan(scan)
    assert "drift" not in _legend_texts(disp.ax_[0])


def test_feature_names_of_the_wrong_length_name_the_argument():
    det, rng = _detector()
    res = det.test(rng.normal(size=(100, 3)))
    with pytest.raises(
        ValueError, match=r"feature_names has 1 name\(s\) but the result has 3 features"
    ):
        DriftDisplay.from_result(res, feature_names=["a"])
    with pytest.raises(ValueError, match=r"feature_names has 4 name\(s\)"):
        DriftDisplay.from_result(res, feature_names=list("abcd"))
    with pytest.raises(TypeError, match="sequence of names.*'abc'"):
        DriftDisplay.from_result(res, feature_names="abc")


def test_names_are_literal_text_never_mathtext():
    det, rng = _detector()
    res = det.test(rng.normal(size=(100, 3)))
    names = ["price $", "$x^2$", "cost_$a"]  # "$x^2$" would be typeset as math
    disp = DriftDisplay.from_result(res, feature_names=names)
    disp.figure_.canvas.draw()
    labels = disp.ax_[1].get_yticklabels()
    assert [t.get_text() for t in labels] == names
    assert not any(t._parse_math for t in labels)


def test_max_features_draws_the_strongest_evidence_first():
    det, rng = _detector()
    res = det.test(rng.normal(size=(200, 3)) * [1.0, 1.6, 1.0])
    order = sorted(
        range(3), key=lambda j: (res.feature_p_values[j], -res.feature_scores[j])
    )
    disp = DriftDisplay.from_result(res, feature_names=["a", "b", "c"], max_features=2)
    shown = [t.get_text() for t in disp.ax_[1].get_yticklabels()]
    assert shown == [["a", "b", "c"][j] for j in order[:2]]
    assert shown[0] == "b"  # the drifted feature
    np.testing.assert_allclose(
        [b.get_width() for b in disp.bars_], res.feature_scores[order[:2]]
    )
    assert "top 2 of 3 features" in disp.ax_[1].get_title(loc="right")
    # max_features at or above the number of features: all, in feature order.
    disp = DriftDisplay.from_result(res, max_features=5)
    assert [t.get_text() for t in disp.ax_[1].get_yticklabels()] == ["x0", "x1", "x2"]
    for bad in (0, 2.5, True, "3"):
        with pytest.raises(ValueError, match="max_features must be a positive integer"):
            DriftDisplay.from_result(res, max_features=bad)
