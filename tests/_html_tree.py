"""Read HTML back with the standard library's parser, for the display tests.

:func:`parse` fails on markup that does not nest (an end tag that closes
nothing open), so every test that parses a page also checks it is
well formed; the helpers find elements and read tables back as text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from html.parser import HTMLParser

VOID = {"br", "hr", "img", "input", "link", "meta", "wbr"}


@dataclass
class Node:
    tag: str
    attrs: dict
    children: list = field(default_factory=list)

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def classes(self) -> set:
        return set((self.attrs.get("class") or "").split())

    def find_all(self, tag: str | None = None, cls: str | None = None) -> list:
        out = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (
                    cls is None or cls in child.classes()
                ):
                    out.append(child)
                out.extend(child.find_all(tag, cls))
        return out

    def find(self, tag: str | None = None, cls: str | None = None):
        found = self.find_all(tag, cls)
        assert found, f"no <{tag}> with class {cls!r}"
        return found[0]


class _Builder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs))
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        open_tag = self.stack[-1].tag
        if open_tag != tag:
            raise AssertionError(
                f"</{tag}> closes <{open_tag}>: the markup does not nest"
            )
        self.stack.pop()

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(markup: str) -> Node:
    """The element tree of ``markup`` (asserting every element is closed)."""
    builder = _Builder()
    builder.feed(markup)
    builder.close()
    assert len(builder.stack) == 1, f"unclosed: {[n.tag for n in builder.stack[1:]]}"
    return builder.root


def table_rows(table: Node) -> list[list[str]]:
    """The text of each cell, row by row (header row first)."""
    return [
        [
            " ".join(cell.text().split())
            for cell in row.children
            if isinstance(cell, Node)
        ]
        for row in table.find_all("tr")
    ]


def tables(root: Node) -> dict[str, list[list[str]]]:
    """Each table's rows, keyed by its caption (its scrolling region's label)."""
    return {
        region.attrs["aria-label"]: table_rows(region.find("table"))
        for region in root.find_all("div", "skkl-scroll")
    }


def shows(text: str, value: float, digits: int = 3) -> bool:
    """The first number in ``text`` is ``value`` to ``digits`` significant digits."""
    shown = Decimal(re.search(r"-?[\d,.]+(?:e[+-]\d+)?", text)[0].replace(",", ""))
    x = Decimal(float(value))
    return abs(shown - x) <= Decimal(5) * Decimal(10) ** (-digits) * max(
        abs(x), Decimal("1e-300")
    )
