"""The pieces every display is built from: verdict box, facts, tables, bars.

Each function returns escaped :class:`~skkl._display._html.Markup`; the
renderers of each result type only choose what goes in them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from ._html import Markup, join, tag

__all__ = [
    "Column",
    "Shaded",
    "bar",
    "facts",
    "figure",
    "notes",
    "section",
    "table",
    "verdict",
]

#: Verdict kinds: the evidence says drift, it does not, the reader must look
#: closer (significant but below the effect asked for), or a summary that
#: passes no judgement.
VERDICT_KINDS = ("drift", "ok", "caution", "info")


def verdict(kind: str, label: str, *lines) -> Markup:
    """The verdict box: a one-line label, then sentences that back it.

    The label is text as well as colour, so the verdict survives a black and
    white print and a screen reader (``role="status"``).
    """
    if kind not in VERDICT_KINDS:  # pragma: no cover - internal misuse
        raise ValueError(f"verdict kind must be one of {VERDICT_KINDS}, got {kind!r}")
    return tag(
        "div",
        tag("div", label, class_="skkl-verdict-label"),
        [tag("p", line) for line in lines if line],
        class_=f"skkl-verdict skkl-verdict--{kind}",
        role="status",
    )


def facts(pairs) -> Markup:
    """A definition list of ``(name, value)`` pairs; None values are left out."""
    items = [(tag("dt", k), tag("dd", v)) for k, v in pairs if v is not None]
    return tag("dl", items, class_="skkl-facts")


@dataclass(frozen=True)
class Column:
    """A table column: its header and whether it holds numbers (right-aligned)."""

    label: str
    numeric: bool = False


@dataclass(frozen=True)
class Shaded:
    """A table cell tinted in proportion to ``fraction`` (a heat-map cell)."""

    content: object
    fraction: float

    def style(self) -> str:
        f = self.fraction
        f = 0.0 if not math.isfinite(f) else min(max(f, 0.0), 1.0)
        # A tint over the text colour's background: text stays readable at the
        # darkest shade in light and dark themes.
        return f"background:rgba(31,119,180,{0.05 + 0.5 * f:.3f})"


def _cell(column: Column, cell) -> Markup:
    css = "skkl-num" if column.numeric else None
    if isinstance(cell, Shaded):
        return tag("td", cell.content, class_=css, style=cell.style())
    return tag("td", cell, class_=css)


def table(
    columns: Sequence[Column],
    rows,
    *,
    caption: str | None = None,
    row_classes: Sequence[str | None] | None = None,
) -> Markup:
    """A table in a horizontally scrolling region (phones scroll the table only).

    The first cell of each row is its header (``<th scope="row">``). The
    scrolling region is focusable and labelled, so a keyboard can scroll it.
    """
    head = tag(
        "thead",
        tag(
            "tr",
            [
                tag(
                    "th", c.label, scope="col", class_="skkl-num" if c.numeric else None
                )
                for c in columns
            ],
        ),
    )
    body = []
    for i, row in enumerate(rows):
        cells = [tag("th", row[0], scope="row")]
        cells += [_cell(c, cell) for c, cell in zip(columns[1:], row[1:], strict=True)]
        body.append(tag("tr", cells, class_=row_classes[i] if row_classes else None))
    # The caption sits above the scrolling region, not in the table: a
    # <caption> is as wide as its table, so it would wrap beside a narrow
    # table and scroll away beside a wide one.
    return join(
        tag("div", caption, class_="skkl-caption") if caption else None,
        tag(
            "div",
            tag("table", head, tag("tbody", body), class_="skkl-table"),
            class_="skkl-scroll",
            role="region",
            tabindex="0",
            aria_label=caption or "table",
        ),
    )


def bar(fraction: float, *, highlight: bool = False) -> Markup:
    """A horizontal bar of ``fraction`` (clipped to [0, 1]) of a fixed track."""
    fraction = float(fraction)
    fraction = 0.0 if not math.isfinite(fraction) else min(max(fraction, 0.0), 1.0)
    inner = tag(
        "span",
        class_="skkl-bar skkl-bar--drift" if highlight else "skkl-bar",
        style=f"width:{100 * fraction:.1f}%",
    )
    return tag("span", inner, class_="skkl-track", aria_hidden="true")


def figure(svg: Markup | None, caption: str) -> Markup | None:
    """An inline SVG figure with its caption (None without a figure)."""
    if svg is None:
        return None
    return tag("figure", svg, tag("figcaption", caption), class_="skkl-figure")


def notes(items) -> Markup | None:
    """A bulleted list of notes (None when there are none)."""
    items = [tag("li", n) for n in items]
    return tag("ul", items, class_="skkl-notes") if items else None


def section(title: str, *content, level: int = 2) -> Markup:
    """A titled section; a section whose content is all None is left out."""
    if all(c is None for c in content):
        return Markup("")
    return tag("section", tag(f"h{level}", title), join(content))
