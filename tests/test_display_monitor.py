"""The online monitor's displays: text, notebook HTML, the report page, --report.

Numbers on the page are checked against the monitor's own objects (the
alarms, the calibration, the per-row statistics the states return), the
bounded timeline against a naive binning of every row's statistic, and the
command's page end to end through ``main([...])``.
"""

from __future__ import annotations

import functools
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn import config_context

from skkl import GaussianDriftMonitor
from skkl._display import (
    MonitorRun,
    monitor_report_html,
    monitor_state_html,
    write_monitor_report,
)
from skkl._display._monitor_view import ALARMS_KEPT, TIMELINE_BINS, Timeline
from skkl.cli import main
from tests._html_tree import parse, shows, tables

ALARM_TABLE = "Each alarm: where, since when, which part, what moved"
NOTEBOOK_LIMIT = 10


@functools.cache
def _monitor(calibration="resample", names=None):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 3))
    if names is not None:
        pd = pytest.importorskip("pandas")
        X = pd.DataFrame(X, columns=list(names))
    mon = GaussianDriftMonitor(ert=300, calibration=calibration, random_state=0)
    return mon.fit(X)


def _stream(n_quiet=150, n_shift=250, shift=(0.0, 1.5, 0.0), seed=2):
    rng = np.random.default_rng(seed)
    return np.vstack(
        [rng.normal(size=(n_quiet, 3)), rng.normal(size=(n_shift, 3)) + shift]
    )


def _feed(monitor, X, batch):
    """Every state of ``X`` fed in batches of ``batch`` rows (monitor reset)."""
    monitor.reset()
    return [monitor.update(X[i : i + batch]) for i in range(0, len(X), batch)]


def _same_ids(html: str) -> str:
    return re.sub(r"skkl-fig\d+-", "skkl-fig-", html)


def _facts(root) -> dict:
    return dict(
        zip(
            (n.text() for n in root.find_all("dt")),
            (n.text() for n in root.find_all("dd")),
            strict=True,
        )
    )


# -- the bounded timeline --------------------------------------------------------------


def _naive_bins(values, alarm_rows, width):
    n = len(values)
    starts = np.arange(0, n, width)
    maxima = [max(values[a : a + width]) for a in starts]
    alarms = [sum(a <= r < a + width for r in alarm_rows) for a in starts]
    return starts, maxima, alarms


@settings(max_examples=60, deadline=None)
@given(
    values=st.lists(
        st.floats(-5, 50, allow_nan=False, width=32), min_size=1, max_size=300
    ),
    cuts=st.lists(st.integers(0, 300), max_size=8),
    bins=st.sampled_from([2, 4, 6, 16]),
    data=st.data(),
)
def test_timeline_is_the_naive_binning_whatever_the_batches(values, cuts, bins, data):
    n = len(values)
    alarm_rows = sorted(
        data.draw(st.lists(st.integers(0, n - 1), max_size=5, unique=True))
    )
    t = Timeline(first_row=7, bins=bins)
    edges = [0, *sorted(c for c in cuts if c < n), n]
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        t.add(values[a:b], [7 + r for r in alarm_rows if a <= r < b])
    width = 1
    while -(-n // width) > bins:  # the smallest power of two that fits
        width *= 2
    starts, maxima, alarms = _naive_bins(values, alarm_rows, width)
    assert t.width == width and t.n_rows == n
    assert t.starts().tolist() == [7 + s for s in starts]
    assert t.stops()[-1] == 7 + n
    assert t.maxima().tolist() == [float(np.float64(m)) for m in maxima]
    assert t.alarms().tolist() == alarms
    for k in (2, 4):
        c = t.coarsened(k)
        cs, cm, ca = _naive_bins(values, alarm_rows, c.width)
        assert len(cs) <= k and c.maxima().tolist() == [float(m) for m in cm]
        assert c.alarms().tolist() == ca and c.starts().tolist() == [7 + s for s in cs]


def test_timeline_memory_is_fixed_however_long_the_stream():
    t = Timeline()
    rng = np.random.default_rng(0)
    for _ in range(40):
        t.add(rng.normal(size=25_000))
    assert t.n_rows == 1_000_000 and len(t._max) == TIMELINE_BINS
    assert len(t.maxima()) <= TIMELINE_BINS and t.width == 2048


def test_timeline_rejects_what_it_cannot_hold():
    with pytest.raises(ValueError, match="even"):
        Timeline(bins=3)
    t = Timeline(first_row=10)
    t.add([1.0, 2.0])
    with pytest.raises(ValueError, match="outside"):
        t.add([3.0], alarm_rows=[9])


# -- what a run records ----------------------------------------------------------------


def test_run_records_every_row_and_alarm_whatever_the_batches():
    mon = _monitor()
    X = _stream()
    runs, every = [], None
    for batch in (7, 64, 400):
        states = _feed(mon, X, batch)
        run = MonitorRun(mon, first_row=0)
        for s in states:
            run.add(s)
        runs.append(run)
        stats = np.concatenate([s.statistics for s in states])
        alarms = [a for s in states for a in s.alarms]
        if every is None:
            every = (stats, alarms)
        # The statistic does not depend on batches (up to rounding: prefix
        # sums), so neither does the run.
        np.testing.assert_allclose(stats, every[0], rtol=1e-10, atol=1e-10)
        assert [a.row for a in alarms] == [a.row for a in every[1]]
    first = runs[0]
    assert first.n_rows == len(X) and first.n_alarms == len(every[1]) > 1
    starts, maxima, counts = _naive_bins(
        every[0], [a.row for a in every[1]], first.timeline.width
    )
    assert first.timeline.maxima().tolist() == list(maxima)
    assert first.timeline.alarms().tolist() == counts
    assert [a.row for a in first.alarms] == [a.row for a in every[1]]
    assert first.latest.row == every[1][-1].row
    for run in runs[1:]:
        np.testing.assert_allclose(
            run.timeline.maxima(), first.timeline.maxima(), rtol=1e-10, atol=1e-10
        )
        assert [a.row for a in run.alarms] == [a.row for a in first.alarms]


def test_run_keeps_the_first_alarms_counts_the_rest_and_refuses_gaps():
    mon = _monitor()
    X = _stream(n_quiet=0, n_shift=1000, shift=(1.5, 0.0, 0.0))
    states = _feed(mon, X, 500)
    run = MonitorRun(mon, rows_from=1, first_row=0)
    for s in states:
        run.add(s)
    n_alarms = sum(len(s.alarms) for s in states)
    assert n_alarms > ALARMS_KEPT
    assert run.n_alarms == n_alarms and len(run.alarms) == ALARMS_KEPT
    assert run.latest.row == states[-1].alarms[-1].row
    assert run.timeline.alarms().sum() == n_alarms  # every alarm on the timeline
    html = monitor_report_html(run)
    assert f"the first {ALARMS_KEPT} of {n_alarms:,}" in html
    with pytest.raises(ValueError, match="in order"):
        MonitorRun(mon, first_row=0).add(states[1])
    with pytest.raises(ValueError, match="rows_from"):
        MonitorRun(mon, rows_from=2)


# -- plain text ------------------------------------------------------------------------


def test_reprs_are_one_short_line_with_the_verdict_first():
    mon = _monitor()
    quiet, alarmed = _feed(mon, _stream(), 150)[:2]
    text = repr(quiet)
    assert text.startswith("MonitorState(no alarm: n_rows=150, ")
    assert "\n" not in text and len(text) < 160
    assert f"leading window from row {quiet.change_point}, {quiet.part} part" in text
    assert alarmed.alarm
    a = alarmed.alarms[0]
    text = repr(alarmed)
    assert "\n" not in text and len(text) < 200
    head = f"MonitorState(ALARM: {len(alarmed.alarms)} alarms, the first at row {a.row}"
    assert text.startswith(head if len(alarmed.alarms) > 1 else "MonitorState(ALARM")
    assert f"change from row {a.change_point} ({a.part} part; " in text
    assert ", ".join(a.features) in text
    alarm = repr(a)
    assert alarm.startswith(f"MonitorAlarm(row={a.row}, change_point={a.change_point}")
    shown = dict(re.findall(r"(statistic|effect)=([-\d.e+]+)", alarm))
    assert shows(shown["statistic"], a.statistic) and shows(shown["effect"], a.effect)
    empty = mon.update(np.zeros((0, 3)))
    assert repr(empty).startswith("MonitorState(no alarm, empty batch; ")


# -- notebook displays -----------------------------------------------------------------


def test_state_display_shows_verdict_threshold_alarms_and_features(no_figures):
    mon = _monitor()
    states = _feed(mon, _stream(), 400)
    (state,) = states
    assert len(state.alarms) > NOTEBOOK_LIMIT
    html = state._repr_html_()
    assert html == monitor_state_html(state)
    root = parse(html)
    assert root.find("pre").text() == repr(state)  # the text fallback
    box = root.find("div", "skkl-verdict")
    assert "skkl-verdict--drift" in box.classes()
    a = state.alarms[0]
    assert box.find("div", "skkl-verdict-label").text() == (
        f"{len(state.alarms)} alarms raised"
    )
    assert f"First alarm at row {a.row}: " in box.text()
    assert f"change since row {a.change_point} ({a.window} rows, {a.part} part)" in (
        box.text()
    )
    cal = mon.calibration_
    facts = _facts(root)
    assert shows(facts["threshold"], cal.threshold)
    assert f"an ERT of {cal.ert:,.0f} rows" in facts["threshold"]
    assert f"± {100 * cal.relative_se:.2g}% Monte Carlo error" in facts["threshold"]
    assert facts["alarms"] == str(len(state.alarms))
    found = tables(root)
    alarm_rows = next(v for k, v in found.items() if k.startswith(ALARM_TABLE))
    assert len(alarm_rows) == 1 + NOTEBOOK_LIMIT  # the first ten, in order
    for row, alarm in zip(alarm_rows[1:], state.alarms, strict=False):
        assert int(row[1]) == alarm.row and int(row[2]) == alarm.change_point
        assert row[4] == alarm.part and shows(row[5], alarm.statistic)
        assert shows(row[6], alarm.effect) and row[7] == ", ".join(alarm.features)
    features = found["Features at the first alarm"]
    scores = dict(zip(("x0", "x1", "x2"), a.feature_scores, strict=True))
    assert [r[0] for r in features[1:]] == sorted(scores, key=lambda k: -scores[k])
    assert features[1][0] == "x1"  # the shifted feature leads
    for name, value in features[1:]:
        assert shows(value, scores[name])


def test_state_without_alarm_says_so_and_shows_no_feature_table(no_figures):
    mon = _monitor()
    state = _feed(mon, _stream(), 100)[0]
    assert not state.alarm
    root = parse(state._repr_html_())
    box = root.find("div", "skkl-verdict")
    assert "skkl-verdict--ok" in box.classes()
    largest = box.text().split("largest value ")[1]
    assert shows(largest, np.max(state.statistics))
    assert "would be expected in 100 rows" in box.text()
    assert not tables(root)  # no alarm: no feature moved enough for a table
    assert not root.find_all("figure")  # without matplotlib: no figure
    assert "leading window" in _facts(root)


def test_fitted_monitor_shows_its_guarantee_and_unfitted_stays_sklearns():
    unfitted = GaussianDriftMonitor(ert=300)
    assert "sk-estimator" in unfitted._repr_html_()  # scikit-learn's diagram
    mon = _monitor()
    html = mon._repr_html_()
    assert mon._repr_mimebundle_()["text/html"] == html
    root = parse(html)
    facts = _facts(root)
    cal = mon.calibration_
    assert shows(facts["threshold"], cal.threshold)
    assert facts["window"] == f"{mon.window_} rows at most"
    assert f"± {100 * cal.relative_se:.2g}%" in facts["ERT"]
    assert f"{cal.replicates} simulated references" in facts["calibration"]
    assert facts["parameters"] == repr(mon)
    assert "false alarms come at a rate of 1 per 300 rows" in facts["guarantee"]
    assert "<script" not in html
    with config_context(display="text"):
        assert "text/html" not in mon._repr_mimebundle_()
        assert not hasattr(mon, "_repr_html_")


def test_parametric_guarantee_is_stated_as_its_probability():
    mon = _monitor("parametric")
    facts = _facts(parse(mon._repr_html_()))
    assert "P(ARL ≥ ERT) ≥ 0.95" in facts["guarantee"]
    assert "For Gaussian data" in facts["guarantee"]


# -- the page --------------------------------------------------------------------------


def test_state_page_numbers_match_the_monitor(tmp_path, no_figures):
    mon = _monitor()
    state = _feed(mon, _stream(), 400)[0]
    path = state.to_html(tmp_path / "m.html")
    html = path.read_text("utf-8")
    assert _page_body(path) == _page_body(write_monitor_report(state, tmp_path / "n"))
    root = parse(html)
    assert html.startswith("<!DOCTYPE html>") and "<script" not in html
    assert [h.text() for h in root.find_all("h2")] == [
        "The stream",
        "The monitor and its guarantee",
        "Timeline",
        "Alarms",
        "Features",
        "Notes",
    ]
    found = tables(root)
    alarm_rows = next(v for k, v in found.items() if k.startswith(ALARM_TABLE))
    assert len(alarm_rows) == 1 + len(state.alarms)  # the page lists every alarm
    # Without matplotlib the timeline is a table of the same numbers.
    (timeline,) = [v for k, v in found.items() if k.startswith("The statistic")]
    run = MonitorRun.from_state(state).timeline.coarsened(20)
    assert [r[0] for r in timeline[1:]] == [
        f"{a}–{b - 1}" for a, b in zip(run.starts(), run.stops(), strict=True)
    ]
    for row, m, k in zip(timeline[1:], run.maxima(), run.alarms(), strict=True):
        assert shows(row[1], m) and int(row[2]) == k
    assert sum(int(r[2]) for r in timeline[1:]) == len(state.alarms)
    assert "Features at the latest alarm" in " ".join(found)


def test_timeline_figure_with_matplotlib_in_page_and_notebook():
    pytest.importorskip("matplotlib")
    mon = _monitor()
    state = _feed(mon, _stream(), 400)[0]
    for html in (monitor_report_html(state), state._repr_html_()):
        root = parse(html)
        (fig,) = root.find_all("figure", "skkl-figure")
        svg = fig.find("svg")
        assert svg.attrs["role"] == "img" and "threshold" in svg.attrs["aria-label"]
        assert not [k for k in tables(root) if k.startswith("The statistic")]


def test_feature_names_are_escaped(no_figures):
    evil = ("<script>alert(1)</script>", 'b"&', "c")
    mon = _monitor(names=evil)
    pd = pytest.importorskip("pandas")
    X = pd.DataFrame(_stream(), columns=list(evil))
    state = _feed(mon, X, 400)[0]
    for html in (state._repr_html_(), monitor_report_html(state)):
        parse(html)  # well formed
        assert "<script" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "b&quot;&amp;" in html
    features = tables(parse(monitor_report_html(state)))["Features at the first alarm"]
    assert {r[0] for r in features[1:]} == set(evil)  # read back intact


def test_empty_batch_page_and_bad_paths(tmp_path, no_figures):
    mon = _monitor()
    mon.reset()
    state = mon.update(np.zeros((0, 3)))
    root = parse(monitor_report_html(state))
    assert root.find("div", "skkl-verdict-label").text() == "No rows watched"
    with pytest.raises(FileNotFoundError, match="does not exist"):
        state.to_html(tmp_path / "no" / "m.html")
    with pytest.raises(IsADirectoryError, match="monitor.html"):
        state.to_html(tmp_path)


# -- skkl monitor --report -------------------------------------------------------------


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    pd = pytest.importorskip("pandas")
    tmp = tmp_path_factory.mktemp("monitor_report")
    rng = np.random.default_rng(0)
    ref = tmp / "ref.csv"
    pd.DataFrame(rng.normal(size=(600, 3)), columns=list("abc")).to_csv(
        ref, index=False
    )
    Y = rng.normal(size=(900, 3))
    Y[600:, 1] += 1.5
    stream = tmp / "stream.csv"
    pd.DataFrame(Y, columns=list("abc")).to_csv(stream, index=False)
    saved = tmp / "ref.npz"
    assert (
        main(
            [
                "monitor",
                str(ref),
                str(stream),
                "--ert",
                "300",
                "--save-reference",
                str(saved),
                "--json",
            ]
        )
        == 1
    )
    return {"tmp": tmp, "stream": str(stream), "saved": str(saved)}


def _page_body(path) -> str:
    """The page without its footer's time stamp."""
    text = re.sub(r"on \d{4}-\d\d-\d\d \d\d:\d\d UTC", "", path.read_text("utf-8"))
    return _same_ids(text)


def test_cli_report_end_to_end(files, capsys):
    page = files["tmp"] / "monitor.html"
    args = ["monitor", files["saved"], files["stream"], "--report", str(page)]
    assert main([*args, "--batch-size", "128"]) == 1
    out, err = capsys.readouterr()
    assert f"report: {page}" in err
    printed = [
        (int(m[1]), int(m[2]))
        for m in re.finditer(r"ALARM at data row (\d+): change from row (\d+)", out)
    ]
    root = parse(page.read_text("utf-8"))
    assert "skkl-verdict--drift" in root.find("div", "skkl-verdict").classes()
    assert "reference " + files["saved"] in root.find("header").text()
    found = tables(root)
    alarm_rows = next(v for k, v in found.items() if k.startswith(ALARM_TABLE))
    assert alarm_rows[0][1] == "data row"
    shown = [
        (int(r[1].replace(",", "")), int(r[2].replace(",", ""))) for r in alarm_rows[1:]
    ]
    assert shown == printed  # the page numbers rows as the command prints them
    facts = _facts(root)
    assert "900 rows" in root.find("header").text()
    assert facts["alarms"] == str(len(printed))
    # The page does not depend on how the stream was read.
    first = _page_body(page)
    assert main([*args, "--batch-size", "1000"]) == 1
    assert _page_body(page) == first


def test_cli_report_path_is_checked_before_any_work(files, capsys):
    bad = files["tmp"] / "missing" / "m.html"
    assert main(["monitor", files["saved"], files["stream"], "--report", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == "" and "does not exist" in err
    assert not bad.parent.exists()


def test_cli_quiet_stream_report(files, capsys):
    page = files["tmp"] / "quiet.html"
    quiet = files["tmp"] / "quiet.csv"
    rows = np.random.default_rng(5).normal(size=(50, 3))
    quiet.write_text("a,b,c\n" + "\n".join(",".join(map(str, r)) for r in rows))
    assert main(["monitor", files["saved"], str(quiet), "--report", str(page)]) == 0
    root = parse(page.read_text("utf-8"))
    assert root.find("div", "skkl-verdict-label").text() == "No alarm"
    facts = _facts(root)
    assert facts["alarms"] == "0"
    assert facts["leading window"].startswith("data row")
