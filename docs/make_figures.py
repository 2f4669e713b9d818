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


def drift_report_screenshots(static: Path) -> list[Path]:
    sys.path.insert(0, str(ROOT))
    from tests._browser import Browser, find_browser

    executable = find_browser()
    if executable is None:
        print(
            "no Chromium found (install Debian's chromium): report screenshots skipped"
        )
        return []
    result = _drifted_wine()
    pages = static.parent / "_build" / "report_pages"
    pages.mkdir(parents=True, exist_ok=True)
    report = result.to_html(pages / "drift_report.html")
    cell = pages / "drift_notebook.html"
    cell.write_text(
        '<!DOCTYPE html><html><head><meta charset="utf-8"></head>'
        '<body style="margin:0;padding:12px;font-size:14px">'
        f"{result._repr_html_()}</body></html>",
        encoding="utf-8",
    )
    # (page, viewport, phone, whole page or first screen, file)
    shots = [
        (report, (960, 900), False, True, "drift_report.png"),
        (report, (390, 844), True, False, "drift_report_phone.png"),
        (cell, (820, 400), False, True, "drift_notebook.png"),
    ]
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


def main() -> None:
    STATIC.mkdir(parents=True, exist_ok=True)
    out = STATIC / "separability_wine.png"
    separability_wine(out)
    print(f"wrote {out}")
    for out in drift_report_screenshots(STATIC):
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
