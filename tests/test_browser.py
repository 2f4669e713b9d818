"""The report page and the notebook displays in a real browser.

Headless Chromium (``.ci/run`` installs Debian's ``chromium``) loads each page
from a file, driven over its DevTools pipe (``tests/_browser.py``). For every
page: no console error (script errors, console.error, the browser's log,
which carries Content-Security-Policy violations and failed loads), no request
for anything but the page itself, and the verdict, the figures and the tables
are drawn where the layout puts them (their boxes hold the expected colours or
text, not blank pixels). The pages (the drift report and the online
monitor's report) are also checked at a phone's width and under print media,
and the notebook fragments (drift result and scan, separability, Bayes
bounds, a monitor state and a fitted monitor) with their styles stripped
(the text fallback shows). Control pages prove that each check can fail.

Set ``SKKL_SCREENSHOT_DIR`` to keep the screenshots.
"""

from __future__ import annotations

import functools
import io
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from skkl import (
    GaussianDriftDetector,
    GaussianDriftMonitor,
    bayes_error_bounds,
    separability_score,
)
from skkl._display import MonitorRun, drift_report_html, monitor_report_html
from skkl._display._html import Markup, tag
from skkl._display._page import page
from tests._browser import Browser, find_browser

BROWSER = find_browser()
pytestmark = pytest.mark.skipif(
    BROWSER is None,
    reason="no Chromium found (install Debian's chromium, as .ci/run does, or set "
    "SKKL_CHROMIUM to a Chromium executable): browser tests skipped",
)
Image = pytest.importorskip(
    "PIL.Image", reason="Pillow (with matplotlib) reads screenshots"
)
pytest.importorskip("matplotlib", reason="the pages' figures need matplotlib")

DESKTOP, PHONE = (1000, 800), (390, 844)

# Bounding boxes in page coordinates, from the live layout.
BOXES = """
(() => {
  const box = (el) => {
    const r = el.getBoundingClientRect();
    return {x: r.left + scrollX, y: r.top + scrollY, w: r.width, h: r.height};
  };
  const all = (css) => Array.from(document.querySelectorAll(css)).map(box);
  return {
    verdict: all('.skkl-verdict'), figure: all('figure.skkl-figure svg'),
    table: all('.skkl-table'), fallback: all('.skkl-fallback pre'),
    body: all('.skkl-body'), viewport: {w: innerWidth, h: innerHeight},
    page_width: document.documentElement.scrollWidth,
  };
})()
"""


# -- the pages -------------------------------------------------------------------


@functools.cache
def _drift_result():
    from sklearn.datasets import load_wine

    X = load_wine().data
    idx = np.random.default_rng(0).permutation(len(X))
    ref, cur = X[idx[:89]], X[idx[89:]].copy()
    cur[:, 0] += 1.5
    det = GaussianDriftDetector(n_permutations=999, random_state=0).fit(ref)
    return det.test(cur)


@functools.cache
def _drift_scan():
    rng = np.random.default_rng(3)
    det = GaussianDriftDetector(n_permutations=99, random_state=0).fit(
        rng.normal(size=(200, 3))
    )
    stream = np.vstack(
        [rng.normal(size=(200, 3)), rng.normal(size=(200, 3)) + [1.5, 0, 0]]
    )
    return det.scan(stream, window=100)


@functools.cache
def _monitored():
    """A monitor, a stream whose second feature moves at row 300, every state."""
    rng = np.random.default_rng(0)
    monitor = GaussianDriftMonitor(ert=300, random_state=0)
    monitor.fit(rng.normal(size=(600, 3)))
    stream = rng.normal(size=(700, 3))
    stream[300:, 1] += 1.5
    states = [monitor.update(stream[i : i + 100]) for i in range(0, 700, 100)]
    return monitor, states


def _monitor_page() -> str:
    """The page ``skkl monitor --report`` writes, over batches of 100 rows."""
    monitor, states = _monitored()
    run = MonitorRun(
        monitor, reference="ref.csv", stream="stream.csv", rows_from=1, first_row=0
    )
    for state in states:
        run.add(state)
    return monitor_report_html(run)


def _notebook(*fragments, strip_styles=False):
    """A page standing in for a notebook: output cells one after another."""
    cells = []
    for fragment in fragments:
        if strip_styles:  # what a sanitising viewer leaves of a cell
            start, end = fragment.index("<style>"), fragment.index("</style>") + 8
            fragment = fragment[:start] + fragment[end:]
        cells.append(tag("div", Markup(fragment), class_="output"))
    body = tag("body", cells, style="margin:0;padding:12px;font-size:14px")
    return "<!DOCTYPE html>\n" + tag(
        "html", tag("head", tag("meta", charset="utf-8")), body
    )


# Each page is built by the tests that visit it: under pytest-xdist the tests
# of this module may run in two processes, and a figure costs a few tenths of
# a second to draw.


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("pages")


def _write(folder: Path, name: str, text: str) -> Path:
    path = folder / f"{name}.html"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def report(folder):
    return _write(folder, "report", drift_report_html(_drift_result()))


@pytest.fixture(scope="module")
def monitor_report(folder):
    return _write(folder, "monitor", _monitor_page())


def _cells():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    monitor, states = _monitored()
    alarmed = next(s for s in states if s.alarm)
    return [
        _drift_result()._repr_html_(),
        _drift_scan()._repr_html_(),
        separability_score(X, y)._repr_html_(),
        bayes_error_bounds(X, y)._repr_html_(),
        alarmed._repr_html_(),
        monitor._repr_html_(),
    ]


@pytest.fixture(scope="module")
def browser():
    b = Browser(BROWSER)
    yield b
    b.close()


def _visit(browser, path: Path, size=DESKTOP, mobile=False, media=None, shot=True):
    """Load ``path``; return the page, its layout boxes and its screenshot."""
    tab = browser.new_page(*size, mobile=mobile)
    if media is not None:
        tab.send("Emulation.setEmulatedMedia", {"media": media})
    tab.goto(path)
    boxes = tab.evaluate(BOXES)
    if not shot:
        return tab, boxes, None
    png = tab.screenshot()
    keep = os.environ.get("SKKL_SCREENSHOT_DIR")
    if keep:
        suffix = "" if size == DESKTOP else f"-{size[0]}px"
        Path(keep).mkdir(parents=True, exist_ok=True)
        (Path(keep) / f"{path.stem}{suffix}.png").write_bytes(png)
    pixels = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.int16)
    return tab, boxes, pixels


def _crop(pixels, box):
    x, y = int(box["x"]), int(box["y"])
    return pixels[y : y + int(box["h"]), x : x + int(box["w"])]


def _ink(region) -> float:
    """Fraction of pixels that are not the white page."""
    return float(np.mean(np.any(region < 235, axis=-1))) if region.size else 0.0


def _share(region, colour) -> float:
    """Fraction of pixels of a hue: 'blue' (C0 and its tints), 'red' (C3), 'dark'."""
    if not region.size:
        return 0.0
    r, g, b = (region[..., i] for i in range(3))
    test = {
        "blue": (b - r > 50) & (b - g > 20),
        "red": (r - g > 80) & (r - b > 80),
        "dark": region.max(axis=-1) < 100,
    }[colour]
    return float(np.mean(test))


def _clean(tab):
    assert tab.console_errors() == []
    assert tab.foreign_requests() == []


# -- the report ------------------------------------------------------------------


def test_report_page_is_clean_and_draws_verdict_figure_and_table(browser, report):
    tab, boxes, pixels = _visit(browser, report)
    _clean(tab)
    (verdict,) = boxes["verdict"]
    assert verdict["y"] < boxes["viewport"]["h"]  # the verdict is on the first screen
    # Drift: the verdict's left border is red, its box tinted.
    assert _share(_crop(pixels, verdict), "red") > 0.005
    (figure,) = boxes["figure"]
    assert figure["w"] > 600 and figure["h"] > 250
    drawn = _crop(pixels, figure)
    assert _ink(drawn) > 0.05
    # The null histogram and bars (blue), the observed line and drifted bar (red).
    assert _share(drawn, "blue") > 0.05 and _share(drawn, "red") > 0.002
    (features,) = boxes["table"]
    assert features["h"] > 13 * 20  # a row per feature
    text = _crop(pixels, features)
    assert _ink(text) > 0.03 and _share(text, "dark") > 0.01
    assert boxes["page_width"] <= boxes["viewport"]["w"]
    tab.close()


def test_scan_page_is_clean_and_draws_the_timeline(browser, folder):
    scan = _write(folder, "scan", drift_report_html(_drift_scan()))
    tab, boxes, pixels = _visit(browser, scan)
    _clean(tab)
    assert len(boxes["figure"]) == 2  # timeline and the strongest window
    for figure in boxes["figure"]:
        assert _ink(_crop(pixels, figure)) > 0.03
    assert len(boxes["table"]) == 2  # windows and features
    for table in boxes["table"]:
        assert _ink(_crop(pixels, table)) > 0.02
    tab.close()


def test_monitor_page_is_clean_and_draws_verdict_timeline_and_tables(
    browser, monitor_report
):
    tab, boxes, pixels = _visit(browser, monitor_report)
    _clean(tab)
    (verdict,) = boxes["verdict"]
    assert verdict["y"] < boxes["viewport"]["h"]  # the verdict is on the first screen
    assert _share(_crop(pixels, verdict), "red") > 0.005  # alarms: a red verdict
    (figure,) = boxes["figure"]
    assert figure["w"] > 600 and figure["h"] > 200
    drawn = _crop(pixels, figure)
    assert _ink(drawn) > 0.03
    # The statistic (blue steps), the alarms and the first alarm's window
    # (red), the dashed threshold and the axes (dark).
    assert _share(drawn, "blue") > 0.005 and _share(drawn, "red") > 0.002
    assert _share(drawn, "dark") > 0.005
    assert len(boxes["table"]) == 3  # alarms; features at the first, latest alarm
    for table in boxes["table"]:
        region = _crop(pixels, table)
        assert table["h"] > 3 * 20 and _ink(region) > 0.02
        assert _share(region, "dark") > 0.005
    assert boxes["page_width"] <= boxes["viewport"]["w"]
    tab.close()


@pytest.mark.parametrize("page_name", ["report", "monitor_report"])
def test_pages_fit_a_phone_and_print_their_tables_whole(browser, page_name, request):
    report = request.getfixturevalue(page_name)
    tab, boxes, pixels = _visit(browser, report, size=PHONE, mobile=True)
    _clean(tab)
    width = boxes["viewport"]["w"]
    assert width == PHONE[0]
    assert boxes["page_width"] <= width  # nothing pushes the page sideways
    (figure,) = boxes["figure"]
    assert figure["w"] <= width and _ink(_crop(pixels, figure)) > 0.05
    scrolls = tab.evaluate(
        "Array.from(document.querySelectorAll('.skkl-scroll'))"
        ".map(r => [r.clientWidth, r.scrollWidth, getComputedStyle(r).overflowX])"
    )
    for client, _, overflow in scrolls:
        assert client <= width and overflow == "auto"  # wide tables scroll alone
    assert any(scroll > client for client, scroll, _ in scrolls)  # a wide table
    tab.close()
    tab, boxes, _ = _visit(browser, report, media="print", shot=False)
    overflow = tab.evaluate(
        "Array.from(document.querySelectorAll('.skkl-scroll'))"
        ".map(r => getComputedStyle(r).overflowX)"
    )
    assert overflow and set(overflow) == {"visible"}  # printed whole, not clipped
    tab.close()


# -- notebooks -------------------------------------------------------------------


def test_notebook_displays_show_the_rich_body_and_fall_back_to_text(browser, folder):
    cells = _cells()
    tab, boxes, pixels = _visit(browser, _write(folder, "notebook", _notebook(*cells)))
    _clean(tab)
    assert len(boxes["body"]) == len(cells) == 6
    assert all(b["h"] > 40 for b in boxes["body"])
    assert all(f["h"] == 0 for f in boxes["fallback"])  # hidden by the cells' style
    assert len(boxes["verdict"]) == 6  # one per display, drawn
    assert all(_ink(_crop(pixels, v)) > 0.05 for v in boxes["verdict"])
    # The scan's timeline, then the monitor state's (statistic in blue,
    # alarms in red).
    scan, state = boxes["figure"]
    assert _ink(_crop(pixels, scan)) > 0.03
    drawn = _crop(pixels, state)
    assert _ink(drawn) > 0.03
    assert _share(drawn, "blue") > 0.005 and _share(drawn, "red") > 0.002
    for table in boxes["table"]:
        assert _ink(_crop(pixels, table)) > 0.02
    tab.close()
    # Where a viewer strips styles, the plain-text fallback shows instead.
    stripped = _write(folder, "stripped", _notebook(*cells, strip_styles=True))
    tab, boxes, pixels = _visit(browser, stripped)
    _clean(tab)
    assert len(boxes["fallback"]) == 6
    for pre in boxes["fallback"]:
        assert pre["h"] > 10 and _ink(_crop(pixels, pre)) > 0.01
    assert all(b["h"] == 0 for b in boxes["body"])  # the rich body stays hidden
    tab.close()


# -- controls: the checks above can fail -----------------------------------------------


def test_controls_trip_every_check(browser, folder):
    outside = Markup('<img src="http://127.0.0.1:9/x.png" alt="">')
    leak = _write(folder, "leak", f"<!DOCTYPE html><html><body>{outside}</body></html>")
    tab, _, _ = _visit(browser, leak, shot=False)
    assert tab.foreign_requests() == ["http://127.0.0.1:9/x.png"]
    tab.close()
    # The report's Content-Security-Policy blocks the same load, and says so.
    blocked = _write(folder, "blocked", page("control", outside))
    tab, _, _ = _visit(browser, blocked, shot=False)
    assert any("Content Security Policy" in e for e in tab.console_errors())
    tab.close()
    script = "<script>console.error('boom')</script>"
    console = _write(
        folder, "console", f"<!DOCTYPE html><html><body>{script}</body></html>"
    )
    tab, _, pixels = _visit(browser, console)
    assert tab.console_errors() == ["boom"]
    assert _ink(pixels) == 0.0  # a blank page has no ink
    tab.close()


def test_browser_is_found_where_ci_installs_it():
    """Plumbing: the executable the tests drive (skipped above when absent)."""
    assert shutil.which(BROWSER) or Path(BROWSER).exists()
