"""The HTML toolkit of skkl._display: escaping, numbers, figures, containers."""

from __future__ import annotations

import math
import re
import sys
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from skkl._display._blocks import Column, Shaded, bar, facts, table, verdict
from skkl._display._figures import svg_figure
from skkl._display._html import Markup, escape, join, tag
from skkl._display._numbers import number, p_value, percent, plus_minus, ratio
from skkl._display._page import CONTENT_SECURITY_POLICY, notebook_fragment, page
from tests._html_tree import parse, tables

HOSTILE = [
    "<script>alert(1)</script>",
    'a"b',
    "x' onmouseover='alert(1)",
    "&amp; &lt;",
    "</td></tr></table>",
    "<!-- -->",
    "\u202eevil",
]


# -- escaping -------------------------------------------------------------------


@pytest.mark.parametrize("text", HOSTILE)
def test_text_and_attributes_read_back_exactly_as_given(text):
    markup = tag("div", text, title=text, class_="c")
    root = parse(markup)
    (div,) = root.find_all()
    assert div.text() == text
    assert div.attrs == {"title": text, "class": "c"}
    assert "<script" not in markup


@given(st.text())
def test_any_text_is_inert(text):
    root = parse(tag("p", text) + tag("b", "x", title=text))
    p, b = root.find_all()
    assert p.text() == text and b.attrs["title"] == text


def test_markup_is_not_escaped_twice_and_children_flatten():
    inner = tag("b", "<x>")
    assert escape(inner) is inner
    assert join("a<", [inner, None, False, (1, 2.5)]) == "a&lt;<b>&lt;x&gt;</b>12.5"
    assert tag("meta", charset="utf-8") == '<meta charset="utf-8">'
    assert tag("div", hidden=True, title=None, lang=False) == "<div hidden></div>"
    assert (
        tag("span", aria_label="x", class_="y")
        == '<span aria-label="x" class="y"></span>'
    )
    assert isinstance(tag("i"), Markup)


# -- numbers ----------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False, width=64)


@given(finite)
def test_number_keeps_three_significant_digits_at_any_scale(x):
    # Decimal reads "1.8e+308" (1.795e308 rounded) without overflowing.
    shown = Decimal(number(x))
    assert abs(shown - Decimal(x)) <= Decimal("5e-3") * abs(Decimal(x))


@given(st.floats(min_value=0, max_value=1))
def test_p_value_reads_back_within_its_digits(p):
    shown = float(p_value(p))
    assert shown == pytest.approx(p, rel=5e-3 if p >= 1e-3 else 5e-2, abs=0)


@given(finite, st.floats(min_value=1e-300, max_value=1e300))
def test_plus_minus_rounds_the_value_where_the_spread_is(value, spread):
    text = plus_minus(value, spread)
    shown_value, shown_spread = (Decimal(t) for t in text.split(" ± "))
    value, spread = Decimal(value), Decimal(spread)
    # The spread keeps two significant digits; the value is exact to the
    # spread's second digit (half a unit of the last shown place), or to three
    # significant digits when it is far larger than its spread.
    assert abs(shown_spread - spread) <= Decimal("0.05") * spread
    tolerance = max(Decimal("0.051") * spread, Decimal("5e-3") * abs(value))
    assert abs(shown_value - value) <= tolerance


def test_special_values_read_as_words():
    nan, inf = float("nan"), float("inf")
    assert [number(nan), number(inf), number(-inf)] == ["n/a", "inf", "-inf"]
    assert [p_value(nan), p_value(0.0), percent(nan), ratio(nan)] == [
        "n/a",
        "0",
        "n/a",
        "n/a",
    ]
    assert plus_minus(3.0, nan) == "3" and plus_minus(3.0, 0.0) == "3"
    assert plus_minus(nan, 1.0) == "n/a"
    assert percent(0.125) == "12.5%"
    assert ratio(1e20) == "1e+20"


# -- blocks -------------------------------------------------------------------------


def test_table_scrolls_in_a_labelled_region_with_numbers_right_aligned():
    markup = table(
        [Column("name"), Column("value", numeric=True)],
        [("<a>", "1"), ("b", Shaded("2", 0.5))],
        caption="Values & more",
    )
    root = parse(markup)
    region = root.find("div", "skkl-scroll")
    assert region.attrs["role"] == "region" and region.attrs["tabindex"] == "0"
    assert tables(root) == {
        "Values & more": [["name", "value"], ["<a>", "1"], ["b", "2"]]
    }
    assert root.find("div", "skkl-caption").text() == "Values & more"
    cells = root.find_all("td")
    assert all("skkl-num" in c.classes() for c in cells)
    assert "background:rgba" in cells[1].attrs["style"]
    row_headers = [th for th in root.find_all("th") if th.attrs.get("scope") == "row"]
    assert [th.text() for th in row_headers] == ["<a>", "b"]


@pytest.mark.parametrize(
    ("fraction", "width"),
    [(0.5, "50.0%"), (2.0, "100.0%"), (-1, "0.0%"), (math.nan, "0.0%")],
)
def test_bar_width_is_clipped_to_its_track(fraction, width):
    inner = parse(bar(fraction, highlight=True)).find("span", "skkl-bar")
    assert inner.attrs["style"] == f"width:{width}"
    assert "skkl-bar--drift" in inner.classes()


def test_verdict_and_facts_say_it_in_words():
    root = parse(
        verdict("drift", "Drift detected", "p < 0.05", None)
        + facts([("a", "1"), ("b", None)])
    )
    box = root.find("div", "skkl-verdict")
    assert box.attrs["role"] == "status" and "skkl-verdict--drift" in box.classes()
    assert [p.text() for p in box.find_all("p")] == ["p < 0.05"]
    assert [n.text() for n in root.find_all("dt")] == ["a"]


# -- figures --------------------------------------------------------------------


def _draw_line(fig):
    ax = fig.subplots()
    ax.plot([0, 1], [0, 1])
    ax.set_title("<b>&")


def test_svg_figures_are_inline_with_unique_resolvable_ids():
    pytest.importorskip("matplotlib")
    a = svg_figure(_draw_line, figsize=(3, 2), label="a <line>")
    b = svg_figure(_draw_line, figsize=(3, 2), label="b")
    for svg in (a, b):
        assert svg.startswith("<svg") and "<?xml" not in svg and "DOCTYPE" not in svg
        assert "<metadata" not in svg
        ids = re.findall(r'\bid="([^"]+)"', svg)
        assert len(ids) == len(set(ids))
        refs = re.findall(r'href="#([^"]+)"', svg) + re.findall(r"url\(#([^)]+)\)", svg)
        assert refs and set(refs) <= set(ids)  # every reference resolves here
    assert not set(re.findall(r'\bid="([^"]+)"', a)) & set(
        re.findall(r'\bid="([^"]+)"', b)
    )
    svg = parse(a).find("svg")
    assert svg.attrs["role"] == "img" and svg.attrs["aria-label"] == "a <line>"
    assert svg.attrs["style"] == "max-width:216pt" and "width" not in svg.attrs
    assert "viewbox" in svg.attrs  # scales with its container


def test_svg_figure_is_none_without_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    assert svg_figure(_draw_line, figsize=(3, 2), label="x") is None


def test_svg_figure_leaves_pyplot_alone():
    plt = pytest.importorskip("matplotlib.pyplot")
    before = plt.get_fignums()
    svg_figure(_draw_line, figsize=(3, 2), label="x")
    assert plt.get_fignums() == before


# -- containers -----------------------------------------------------------------


def test_page_is_self_contained_responsive_and_printable():
    text = page("Title <1>", tag("p", "body"), subtitle="sub & title")
    root = parse(text)
    assert text.startswith("<!DOCTYPE html>")
    metas = {
        m.attrs.get("name") or m.attrs.get("http-equiv") or "charset": m.attrs
        for m in root.find_all("meta")
    }
    assert metas["viewport"]["content"] == "width=device-width, initial-scale=1"
    assert metas["Content-Security-Policy"]["content"] == CONTENT_SECURITY_POLICY
    assert "default-src 'none'" in CONTENT_SECURITY_POLICY
    assert root.find("title").text() == "Title <1>"
    assert root.find("h1").text() == "Title <1>"
    style = root.find("style").text()
    assert "@media print" in style and "@media (max-width: 40em)" in style
    assert "<script" not in text and "@import" not in style and "url(" not in style
    # The only link is the empty inline icon (no favicon request).
    assert [link.attrs["href"] for link in root.find_all("link")] == ["data:,"]


def test_notebook_fragment_shows_text_until_its_style_applies():
    text = "Result(x=1)\n  <line>"
    root = parse(notebook_fragment(text, tag("p", "rich")))
    top = root.find("div", "skkl-display")
    assert root.find("pre").text() == text
    body = root.find("div", "skkl-body")
    assert "hidden" in body.attrs and body.text() == "rich"
    style = top.find("style").text()
    assert ".skkl-display .skkl-fallback { display: none; }" in style
    assert ".skkl-display .skkl-body { display: block !important; }" in style
    assert "<script" not in notebook_fragment(text)
