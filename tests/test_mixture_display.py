"""Plain and HTML displays of MonteCarloEstimate and MixtureKLBounds (issue 27).

The HTML is checked with the standard library's parser: well formed (every
tag closed in order), self-contained (no script, no external resource), the
key number first with its uncertainty, every piece of text escaped. The
fragments come from the shared toolkit (skkl._display): a plain-text
fallback, then the rich body.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

import pytest

from skkl import (
    Gaussians,
    Mixture,
    mixture_js_monte_carlo,
    mixture_kl_bounds,
    mixture_kl_monte_carlo,
)
from skkl.mixture import MixtureKLBounds, MonteCarloEstimate

_VOID = {"br", "hr", "img", "meta", "link", "input", "col", "wbr"}


class _Checker(HTMLParser):
    """Collects tags, attributes and text; fails on a mis-nested or open tag."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.tags, self.attrs, self.text = [], [], [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs += attrs
        if tag not in _VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (self.stack, tag)
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def _parse(html: str) -> _Checker:
    checker = _Checker()
    checker.feed(html)
    checker.close()
    assert checker.stack == [], f"unclosed tags {checker.stack}"
    return checker


def _assert_self_contained(checker: _Checker, html: str):
    assert "script" not in checker.tags
    assert not {"link", "img", "iframe", "object"} & set(checker.tags)
    for name, value in checker.attrs:
        assert not name.startswith("on"), name  # no event handlers
        assert name not in ("src", "href"), name
        assert "url(" not in (value or "")
    assert "http" not in html


def _body_text(checker: _Checker, fallback: str) -> str:
    """The rich body's text: everything after the plain-text fallback."""
    text = "".join(checker.text)
    assert fallback in text  # the fallback comes first
    return text.split(fallback, 1)[1]


def _mixtures():
    f = Mixture([0.5, 0.5], Gaussians([[-2.0], [2.0]], [1.0, 1.0], "spherical"))
    g = Mixture([0.3, 0.7], Gaussians([[-2.0], [2.5]], [1.0, 1.5], "spherical"))
    return f, g


def test_monte_carlo_html_leads_with_the_estimate_and_its_error():
    r = mixture_kl_monte_carlo(*_mixtures(), 20_000, random_state=0)
    html = r._repr_html_()
    checker = _parse(html)
    _assert_self_contained(checker, html)
    body = _body_text(checker, repr(r))
    head = body.split("95% interval")[0]
    assert re.search(r"KL\(p ‖ q\) = 0\.1\d+ ± 0\.000\d\d nats", head)
    low, high = r.confidence_interval(0.95)
    for value in (low, high):
        assert f"{value:.4g}" in body
    assert f"{r.standard_error:.3g}" in body
    assert f"{r.n_samples:,}" in body


def test_monte_carlo_rounds_the_estimate_to_its_error():
    r = MonteCarloEstimate(0.185312345, 0.0012345, 20000, 0.0051, "KL(p || q)")
    text = repr(r)
    assert text == (
        "MonteCarloEstimate(KL(p || q) = 0.1853 ± 0.0012, "
        "95% CI [0.1829, 0.1877], n_samples=20000)"
    )
    exact = MonteCarloEstimate(0.69314718056, 0.0, 2000, 0.0, "JS(p, q)")
    assert "JS(p, q) = 0.693147 ± 0," in repr(exact)  # no error: six digits
    html = exact._repr_html_()
    _parse(html)
    assert "inf" in html  # the variance reduction of an exact estimate


def test_monte_carlo_display_of_js_and_unnamed():
    r = mixture_js_monte_carlo(*_mixtures(), 4000, random_state=0)
    assert repr(r).startswith("MonteCarloEstimate(JS(p, q) = ")
    plain = MonteCarloEstimate(1.0, 0.1, 100, 0.2)
    assert "divergence = 1.00 ± 0.10" in repr(plain)


def test_bounds_html_leads_with_lower_value_upper():
    b = mixture_kl_bounds(*_mixtures())
    html = b._repr_html_()
    checker = _parse(html)
    _assert_self_contained(checker, html)
    body = _body_text(checker, repr(b))
    head = re.search(r"(\S+) ≤ KL\(p ‖ q\) ≤ (\S+) nats", body)
    assert head and float(head[1]) == pytest.approx(b.lower, rel=1e-3, abs=1e-12)
    assert float(head[2]) == pytest.approx(b.upper, rel=1e-3)
    table = body.split("Every bound", 1)[1]
    for side, bounds in (("lower", b.lower_bounds), ("upper", b.upper_bounds)):
        for name, value in bounds.items():
            assert re.search(f"{name}{side}{value:.4g}", table.replace(",", ""))
    assert table.count("best") == 2


def test_bounds_repr_is_short_and_names_the_best():
    b = mixture_kl_bounds(*_mixtures())
    text = repr(b)
    assert "\n" not in text and len(text) < 120
    assert f"{b.lower:.4g} <= KL(p || q) <= {b.upper:.4g}" in text
    best_upper = min(b.upper_bounds, key=b.upper_bounds.get)
    assert f"best upper: {best_upper}" in text


def test_text_is_escaped():
    evil = "<script>alert('x')</script>&"
    r = MonteCarloEstimate(1.0, 0.1, 100, 0.2, evil)
    b = MixtureKLBounds(
        lower=0.1, upper=0.2, lower_bounds={evil: 0.1}, upper_bounds={"u": 0.2}
    )
    for html in (r._repr_html_(), b._repr_html_()):
        checker = _parse(html)
        assert "script" not in checker.tags
        assert "&lt;script&gt;" in html and "&amp;" in html
        assert evil in "".join(checker.text)  # shown as text, intact
