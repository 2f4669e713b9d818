"""Write the README and guide figures to docs/_static/ (run from anywhere).

    python docs/make_figures.py

- ``separability_wine.png``: the wine data set (3 cultivars, 13 features):
  Bhattacharyya distances between the class Gaussians, and the classes'
  1/2/3-sigma ellipses on the first two principal axes.
- ``drift_report.png``, ``drift_report_phone.png``, ``drift_notebook.png``:
  screenshots of a drift report page (the wine data with the alcohol sensor
  reading 1.5 points high in the second half), at a desktop's and a phone's
  width, and of the same result's notebook display, taken in headless
  Chromium (the harness of ``tests/test_browser.py``; skipped with a message
  when no Chromium is installed).
- ``monitor_report.png``: the page ``skkl monitor --report`` writes for a
  stream of four sensors whose pressure reads half a standard deviation
  high from data row 4,001 (ERT 5,000 rows), taken the same way.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from skkl import GroupGaussians, bayes_error_bounds, separability_score
from skkl.plotting import DivergenceMatrixDisplay, GaussianEllipsesDisplay

STATIC = Path(__file__).resolve().parent / "_static"
ROOT = STATIC.parent.parent


def separability_wine(path: Path) -> None:
    data = load_wine()
    # Divergences are invariant to rescaling features; the PCA view is not.
    X = StandardScaler().fit_transform(data.data)
    labels = data.target_names[data.target]
    est = GroupGaussians(covariance_type="full", reg_covar=1e-6).fit(X, labels)
    res = separability_score(X, labels)
    lower, upper = bayes_error_bounds(X, labels)

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.6))
    DivergenceMatrixDisplay.from_estimator(
        est, kind="bhattacharyya", ax=ax0, values_format=".2f", cmap="viridis"
    )
    ax0.set_title(
        f"Bhattacharyya distance between class Gaussians\n"
        f"hardest pair {res.hardest_pair}: {res.value:.2f}; "
        f"Bayes error in [{lower:.1e}, {upper:.1e}]",
        fontsize=10,
    )
    GaussianEllipsesDisplay.from_estimator(est, X, labels, pca=True, ax=ax1)
    ax1.set_title("class Gaussians, 1/2/3-sigma, first two principal axes", fontsize=10)
    fig.suptitle("skkl: class separability of the wine data set", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _drifted_wine():
    """Wine halves; the second half's alcohol reads 1.5 points high."""
    import numpy as np
    from sklearn.datasets import load_wine

    from skkl import GaussianDriftDetector

    X = load_wine(as_frame=True).data
    idx = np.random.default_rng(0).permutation(len(X))
    reference, current = X.iloc[idx[:89]], X.iloc[idx[89:]].copy()
    current["alcohol"] += 1.5
    return GaussianDriftDetector(random_state=0).fit(reference).test(current)


def _save_png(png: bytes, path: Path) -> None:
    """A screenshot with an adaptive 128-colour palette (a fraction of the size)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    image.quantize(colors=128, method=Image.Quantize.MEDIANCUT).save(
        path, optimize=True
    )


def _pages(static: Path) -> Path:
    pages = static.parent / "_build" / "report_pages"
    pages.mkdir(parents=True, exist_ok=True)
    return pages


def screenshots(static: Path, shots) -> list[Path]:
    """Screenshots of pages in headless Chromium, checked clean on the way.

    ``shots``: ``(page, (width, height), phone, whole page, file name)``
    tuples. Returns the files written (none without Chromium).
    """
    sys.path.insert(0, str(ROOT))
    from tests._browser import Browser, find_browser

    executable = find_browser()
    if executable is None:
        print("no Chromium found (install Debian's chromium): screenshots skipped")
        return []
    browser, written = Browser(executable), []
    try:
        for page, (width, height), mobile, whole, name in shots:
            tab = browser.new_page(width, height, mobile=mobile)
            tab.goto(page)
            errors = tab.console_errors() + tab.foreign_requests()
            if errors:
                raise RuntimeError(f"{page.name}: {errors}")
            _save_png(tab.screenshot(full_page=whole), static / name)
            tab.close()
            written.append(static / name)
    finally:
        browser.close()
    return written


def drift_report_screenshots(static: Path) -> list[Path]:
    result = _drifted_wine()
    pages = _pages(static)
    report = result.to_html(pages / "drift_report.html")
    cell = pages / "drift_notebook.html"
    cell.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="margin:0;padding:12px;font-size:14px">'
        f"{result._repr_html_()}</body></html>",
        encoding="utf-8",
    )
    return screenshots(
        static,
        [
            (report, (960, 900), False, True, "drift_report.png"),
            (report, (390, 844), True, False, "drift_report_phone.png"),
            (cell, (820, 400), False, True, "drift_notebook.png"),
        ],
    )


SENSORS = ["temperature", "pressure", "flow", "vibration"]


def _sensor_rows(rng, n: int):
    """Four sensors in their units; flow follows pressure (correlation 0.8)."""
    z = rng.standard_normal((n, 4))
    z[:, 2] = 0.8 * z[:, 1] + 0.6 * z[:, 2]
    return z * [2.0, 0.5, 10.0, 0.1] + [60.0, 3.0, 120.0, 1.0]


def monitor_report_screenshot(static: Path) -> list[Path]:
    """The page of ``skkl monitor --report`` on a sensor stream that drifts.

    False alarms come about once every ERT rows (here 0.8 are expected
    before the change): this seed's stream has none, so the page shows the
    change alone.
    """
    import os

    import pandas as pd
    from numpy.random import default_rng

    from skkl.cli import main as skkl

    rng = default_rng(1)
    pages = _pages(static)
    pd.DataFrame(_sensor_rows(rng, 2000), columns=SENSORS).to_csv(
        pages / "reference.csv", index=False
    )
    rows = _sensor_rows(rng, 6000)
    rows[4000:, 1] += 0.5 * 0.5  # pressure: half its standard deviation high
    pd.DataFrame(rows, columns=SENSORS).to_csv(pages / "stream.csv", index=False)
    here = os.getcwd()
    os.chdir(pages)  # the page names the files as typed
    try:
        args = ["reference.csv", "stream.csv", "--ert", "5000"]
        status = skkl(["monitor", *args, "--report", "monitor_report.html"])
    finally:
        os.chdir(here)
    if status not in (0, 1):
        raise RuntimeError(f"skkl monitor exited with {status}")
    page = pages / "monitor_report.html"
    # The first screen: verdict, guarantee and timeline (the alarms table runs on).
    return screenshots(
        static, [(page, (960, 1240), False, False, "monitor_report.png")]
    )


def main() -> None:
    STATIC.mkdir(parents=True, exist_ok=True)
    out = STATIC / "separability_wine.png"
    separability_wine(out)
    print(f"wrote {out}")
    for out in drift_report_screenshots(STATIC) + monitor_report_screenshot(STATIC):
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
