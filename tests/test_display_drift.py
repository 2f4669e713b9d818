"""Drift results as notebook displays and report pages (skkl._display)."""

from __future__ import annotations

import dataclasses
import sys
import types
import warnings

import numpy as np
import pytest
from sklearn.datasets import load_wine

from skkl import GaussianDriftDetector
from skkl._display import (
    drift_report_html,
    drift_result_html,
    drift_scan_html,
    write_drift_report,
)
from skkl._display._drift_view import OPTIONAL_ATTRIBUTES, drift_view
from tests._html_tree import parse, shows, tables

FEATURE_TABLE = "Per-feature effects, strongest evidence first"


def _wine_halves(shift=1.5, columns=None):
    pd = pytest.importorskip("pandas")
    X = load_wine(as_frame=True).data
    if columns is not None:
        X = X.set_axis(columns, axis=1)
    idx = np.random.default_rng(0).permutation(len(X))
    ref, cur = X.iloc[idx[:89]], X.iloc[idx[89:]].copy()
    cur.iloc[:, 0] += shift
    assert isinstance(cur, pd.DataFrame)
    return ref, cur


def _result(shift=1.5, columns=None, **kw):
    ref, cur = _wine_halves(shift, columns)
    # 13 features: Holm needs p < 0.05 / 13, so B >= 260 for any to move.
    det = GaussianDriftDetector(n_permutations=999, random_state=0, **kw).fit(ref)
    return det.test(cur)


@pytest.fixture(scope="module")
def drifted():
    return _result()


def _feature_rows(html: str) -> list[list[str]]:
    found = {
        k: v for k, v in tables(parse(html)).items() if k.startswith(FEATURE_TABLE)
    }
    (rows,) = found.values()
    return rows


# -- the page --------------------------------------------------------------------


def test_page_shows_verdict_numbers_and_every_feature_as_the_result_says(
    drifted, no_figures
):
    res = drifted
    assert res.is_drift and res.feature_p_values[0] < res.alpha
    html = drift_report_html(res)
    root = parse(html)
    box = root.find("div", "skkl-verdict")
    assert "skkl-verdict--drift" in box.classes()
    assert box.find("div", "skkl-verdict-label").text() == "Drift detected"
    assert f"p = {res.p_value:.2g} < α = 0.05." in box.text()
    assert "Features that moved (Holm p < 0.05): alcohol." in box.text()
    # The verdict comes before every section.
    assert html.index("skkl-verdict") < html.index("<section")
    rows = _feature_rows(html)
    assert rows[0] == [
        "feature",
        "effect (nats)",
        "Holm p",
        "drifted",
        "reference mean",
        "reference sd",
        "current mean",
        "current sd",
    ]
    names = list(res.feature_names)
    assert sorted(r[0] for r in rows[1:]) == sorted(names)  # every feature, once
    order = sorted(
        range(len(names)),
        key=lambda j: (res.feature_p_values[j], -res.feature_scores[j], j),
    )
    assert [r[0] for r in rows[1:]] == [names[j] for j in order]
    for row, j in zip(rows[1:], order, strict=True):
        assert shows(row[1], res.feature_scores[j])
        assert shows(row[2], res.feature_p_values[j])
        assert row[3] == ("yes" if res.feature_p_values[j] < res.alpha else "no")
        assert shows(row[4], res.reference_mean[j])
        assert shows(row[5], res.reference_sd[j])
        assert shows(row[6], res.current_mean[j])
        assert shows(row[7], res.current_sd[j])
    facts = dict(
        zip(
            (n.text() for n in root.find_all("dt")),
            (n.text() for n in root.find_all("dd")),
            strict=True,
        )
    )
    assert facts["p-value"] == f"{res.p_value:.2g} (permutation, B = 999)"
    assert facts["engine"] == f"permutation: {res.method_reason}"
    assert facts["reference rows"] == "89" and facts["current rows"] == "89"
    assert facts["effect"].startswith(
        f"{res.effect:.2f} ± {res.effect_null_sd:.2f} nats"
    )
    assert "<script" not in html


def test_page_figure_is_inline_svg_and_absent_without_matplotlib(drifted, monkeypatch):
    pytest.importorskip("matplotlib")
    res = drifted
    root = parse(drift_report_html(res))
    (fig,) = root.find_all("figure", "skkl-figure")
    assert fig.find("svg").attrs["role"] == "img"
    for name in ("matplotlib", "matplotlib.figure", "matplotlib.pyplot"):
        monkeypatch.setitem(sys.modules, name, None)
    html = drift_report_html(res)
    root = parse(html)
    assert not root.find_all("figure") and "<svg" not in html
    assert len(_feature_rows(html)) == 1 + 13  # numbers and tables stay


def test_verdicts_no_drift_and_significant_below_min_effect(no_figures):
    calm = _result(shift=0.0)
    assert not calm.is_drift and calm.p_value >= calm.alpha
    box = parse(drift_report_html(calm)).find("div", "skkl-verdict")
    assert "skkl-verdict--ok" in box.classes()
    assert box.find("div", "skkl-verdict-label").text() == "No drift detected"
    assert "No single feature moved on its own" in box.text()
    held = _result(min_effect=1e6)
    assert not held.is_drift and held.p_value < held.alpha
    box = parse(drift_report_html(held)).find("div", "skkl-verdict")
    assert "skkl-verdict--caution" in box.classes()
    assert "below its min_effect" in box.text()


def test_hostile_feature_names_and_notes_are_text(no_figures):
    names = ["<script>alert(1)</script>", 'a"b', "c&d", "</td>", *map(str, range(9))]
    res = _result(columns=names)
    res = dataclasses.replace(res, notes=("<img src=x onerror=alert(1)> & more",))
    html = drift_report_html(res)
    assert "<script" not in html and "<img" not in html
    root = parse(html)
    assert sorted(r[0] for r in _feature_rows(html)[1:]) == sorted(names)
    assert root.find("ul", "skkl-notes").text() == "<img src=x onerror=alert(1)> & more"
    notebook = drift_result_html(res)
    assert "<script" not in notebook and "<img" not in notebook


def test_optional_fields_become_columns_and_category_tables(drifted, no_figures):
    res = drifted
    d = res.feature_scores.size
    rng = np.random.default_rng(0)
    extra = {
        "method_reason": "cheapest exact engine at this size",
        "reference_mean": rng.normal(size=d),
        "reference_sd": rng.uniform(1, 2, size=d),
        "current_mean": rng.normal(size=d),
        "current_sd": rng.uniform(1, 2, size=d),
        "reference_missing_rate": np.full(d, 0.1),
        "current_missing_rate": np.full(d, 0.25),
        "category_frequencies": {
            "colour <x>": {"red": (0.5, 0.25), "blue": (0.5, 0.75)}
        },
    }
    assert set(extra) == set(OPTIONAL_ATTRIBUTES.values())
    rich = types.SimpleNamespace(**{**dataclasses.asdict(res), **extra})
    html = drift_report_html(rich)
    rows = _feature_rows(html)
    assert rows[0][4:] == [
        "reference mean",
        "reference sd",
        "current mean",
        "current sd",
        "reference missing",
        "current missing",
    ]
    j = list(res.feature_names).index(rows[1][0])
    assert shows(rows[1][4], extra["reference_mean"][j], 4)
    assert shows(rows[1][7], extra["current_sd"][j], 4)
    assert rows[1][8:] == ["10%", "25%"]
    found = tables(parse(html))
    assert found["colour <x>: category frequencies"] == [
        ["level", "reference", "current", "change"],
        ["red", "50%", "25%", "-25 pts"],
        ["blue", "50%", "75%", "+25 pts"],
    ]
    facts = parse(html).find("dl").text()
    assert "permutation: cheapest exact engine at this size" in facts
    # Without them the columns are simply absent.
    bare = {**dataclasses.asdict(res), **dict.fromkeys(OPTIONAL_ATTRIBUTES.values())}
    assert len(_feature_rows(drift_report_html(types.SimpleNamespace(**bare)))[0]) == 4
    bad = types.SimpleNamespace(
        **{**dataclasses.asdict(res), "reference_mean": [1.0, 2.0]}
    )
    with pytest.raises(ValueError, match="reference_mean has 2 values for 13 features"):
        drift_report_html(bad)


def test_dropped_constant_feature_and_its_note(no_figures):
    rng = np.random.default_rng(0)
    ref, cur = rng.normal(size=(100, 3)), rng.normal(size=(80, 3))
    ref[:, 1] = cur[:, 1] = 4.0
    det = GaussianDriftDetector(n_permutations=99, random_state=0).fit(ref)
    with pytest.warns(UserWarning, match="constant"):
        res = det.test(cur)
    html = drift_report_html(res)
    rows = {r[0]: r for r in _feature_rows(html)[1:]}
    assert rows["x1"][3] == "dropped (constant)"
    root = parse(html)
    assert "dropped as constant" in root.find("dl").text()
    assert any(
        "feature 1" in li.text() for li in root.find("ul", "skkl-notes").find_all("li")
    )


def test_asymptotic_and_all_constant_results_render(no_figures):
    rng = np.random.default_rng(1)
    det = GaussianDriftDetector(method="asymptotic").fit(rng.normal(size=(3000, 2)))
    res = det.test(rng.normal(size=(3000, 2)) + [0.3, 0.0])
    assert res.null_distribution is None and res.method == "asymptotic"
    facts = parse(drift_report_html(res)).find("dl").text()
    assert "(asymptotic)" in facts and "B =" not in facts
    ref = np.ones((20, 2))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        flat = GaussianDriftDetector(n_permutations=99).fit(ref).test(ref[:10])
    assert flat.method == "none" and np.isinf(flat.critical_value)
    html = drift_report_html(flat)
    assert "critical value inf" in parse(html).find("dl").text()
    assert "No drift detected" in html


def test_a_result_without_effect_says_so(drifted, no_figures):
    d = drifted.feature_scores.size
    bare = dataclasses.replace(
        drifted, effect=np.nan, effect_null_sd=np.nan, feature_scores=np.full(d, np.nan)
    )
    root = parse(drift_report_html(bare))
    assert "Effect: not computed." in root.find("div", "skkl-verdict").text()
    assert {r[1] for r in _feature_rows(drift_report_html(bare))[1:]} == {"n/a"}


def test_many_features_draw_the_top_30_and_list_all():
    pytest.importorskip("matplotlib")
    rng = np.random.default_rng(2)
    d = 120
    det = GaussianDriftDetector(
        n_permutations=99, random_state=0, covariance_type="diag"
    )
    det.fit(rng.normal(size=(150, d)))
    res = det.test(rng.normal(size=(150, d)) + np.r_[1.0, np.zeros(d - 1)])
    html = drift_report_html(res)
    assert len(_feature_rows(html)) == 1 + d
    caption = parse(html).find("figcaption").text()
    assert "the 30 with the strongest evidence" in caption
    notebook = drift_result_html(res)
    rows = tables(parse(notebook))
    (key,) = rows
    assert key.endswith("(top 10 of 120)") and len(rows[key]) == 11


# -- notebooks ---------------------------------------------------------------------


def test_notebook_display_has_a_short_text_fallback(drifted):
    res = drifted
    root = parse(res._repr_html_())
    fallback = root.find("pre").text()
    lines = fallback.splitlines()
    assert lines[0] == f"DriftResult: drift (p={res.p_value:.2g}, alpha=0.05)"
    assert len(lines) <= 3 and max(map(len, lines)) < 120
    assert "moved: alcohol" in fallback
    body = root.find("div", "skkl-body")
    assert "hidden" in body.attrs
    assert body.find("div", "skkl-verdict-label").text() == "Drift detected"
    assert not root.find_all("figure")  # a notebook result shows bars, not a figure
    assert root.find_all("span", "skkl-bar")


# -- scans -------------------------------------------------------------------------


def _scan(n_windows=4, step=None):
    rng = np.random.default_rng(3)
    det = GaussianDriftDetector(n_permutations=99, random_state=0).fit(
        rng.normal(size=(200, 3))
    )
    half = 50 * n_windows
    stream = np.vstack(
        [rng.normal(size=(half, 3)), rng.normal(size=(half, 3)) + [1.5, 0, 0]]
    )
    return det.scan(stream, window=100, step=step)


def test_scan_page_timeline_windows_and_strongest_window(no_figures):
    scan = _scan()
    html = drift_report_html(scan)
    root = parse(html)
    box = root.find("div", "skkl-verdict")
    k = sum(r.is_drift for r in scan)
    first = next(r for r in scan if r.is_drift)
    assert f"{k} of 4 windows drifted" in box.text()
    assert f"first at rows {first.start}-{first.stop}" in box.text()
    windows = tables(root)["Windows"]
    assert [w[0] for w in windows[1:]] == [f"{r.start}-{r.stop}" for r in scan]
    assert [w[3] for w in windows[1:]] == ["yes" if r.is_drift else "no" for r in scan]
    best = min(scan, key=lambda r: (r.p_value, -r.effect))
    titles = [h.text() for h in root.find_all("h2")]
    assert (
        f"The window with the strongest evidence (rows {best.start}-{best.stop})"
        in titles
    )


def test_scan_notebook_lists_the_first_windows_and_says_how_many(no_figures):
    scan = _scan(n_windows=8, step=25)
    assert len(scan) > 12
    root = parse(drift_scan_html(scan))
    (key,) = tables(root)
    assert key == f"Windows (first 12 of {len(scan)})"
    assert root.find("pre").text().startswith(f"DriftScan: {len(scan)} windows")


def test_empty_scan_and_skipped_rows(no_figures):
    from skkl.drift import DriftScan

    empty = DriftScan([], alpha=0.05)
    assert "No window tested" in drift_report_html(empty)
    assert "No window tested" in empty._repr_html_()
    rng = np.random.default_rng(4)
    det = GaussianDriftDetector(n_permutations=99, random_state=0).fit(
        rng.normal(size=(200, 2))
    )
    with pytest.warns(UserWarning, match="not tested"):
        scan = det.scan(rng.normal(size=(250, 2)), window=100)
    notes = parse(drift_report_html(scan)).find("ul", "skkl-notes").text()
    assert "Rows 200-249 were in no tested window." in notes


# -- writing ---------------------------------------------------------------------------


def test_to_html_writes_the_page_and_errors_name_the_path(
    drifted, tmp_path, no_figures
):
    res = drifted
    out = res.to_html(tmp_path / "drift.html")
    assert out == tmp_path / "drift.html"
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and "Drift detected" in text
    scan = _scan()
    assert write_drift_report(scan, str(tmp_path / "scan.html")).read_text().count(
        "<svg"
    ) in (0, 2)
    with pytest.raises(IsADirectoryError, match="is a directory; give a file name"):
        write_drift_report(res, tmp_path)
    with pytest.raises(FileNotFoundError, match="does not exist; create it first"):
        write_drift_report(res, tmp_path / "no" / "drift.html")
    with pytest.raises(TypeError, match="path must be a file name"):
        write_drift_report(res, 3)
    with pytest.raises(TypeError, match="result must be a DriftResult.*ndarray"):
        write_drift_report(np.zeros(3), tmp_path / "x.html")
    with pytest.raises(TypeError, match=r"scan\[1\] must be a DriftResult"):
        write_drift_report([res, "x"], tmp_path / "x.html")
    assert not (tmp_path / "x.html").exists()


def test_view_reads_public_attributes_only(drifted):
    """Plumbing: the adapter takes any object with a DriftResult's attributes."""
    res = drifted
    fake = types.SimpleNamespace(**dataclasses.asdict(res))
    assert drift_view(fake).features == drift_view(res).features
