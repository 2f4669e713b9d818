"""Markup built from escaped text: every string is escaped unless marked safe.

:func:`tag` is the one way HTML is written in ``skkl._display``. Text given to
it is escaped; only :class:`Markup` (what :func:`tag` itself returns, or a
fragment produced by a trusted writer such as matplotlib's SVG backend) passes
unchanged. A feature name such as ``<script>`` therefore always reads as text.
"""

from __future__ import annotations

import html
from collections.abc import Iterable

__all__ = ["Markup", "attributes", "escape", "join", "tag"]

# Void elements have no closing tag in HTML.
_VOID = frozenset({"br", "hr", "img", "input", "link", "meta", "wbr"})


class Markup(str):
    """A string of HTML that is already safe to embed (never escaped again)."""

    __slots__ = ()


def escape(value) -> Markup:
    """``value`` as HTML text: ``str(value)`` escaped, Markup unchanged."""
    if isinstance(value, Markup):
        return value
    return Markup(html.escape(str(value), quote=True))


def _children(items) -> Iterable[Markup]:
    for item in items:
        if item is None or item is False:
            continue
        if isinstance(item, str):
            yield escape(item)
        elif isinstance(item, Iterable):
            yield from _children(item)
        else:
            yield escape(item)


def join(*items) -> Markup:
    """Concatenate children (strings escaped, nested iterables flattened)."""
    return Markup("".join(_children(items)))


def _attribute(name: str, value) -> str:
    # Python keywords and dashes: class_ -> class, aria_label -> aria-label.
    name = name.rstrip("_").replace("_", "-")
    if value is True:
        return f" {name}"
    return f' {name}="{html.escape(str(value), quote=True)}"'


def attributes(**values) -> Markup:
    """Escaped HTML attributes, each with a leading space (see :func:`tag`)."""
    return Markup(
        "".join(
            _attribute(k, v)
            for k, v in values.items()
            if v is not None and v is not False
        )
    )


def tag(element: str, /, *children, **attrs) -> Markup:
    """``<element attributes>children</element>``, text and attributes escaped.

    Attributes that are None or False are left out; True writes a bare
    attribute (``hidden``). Children may be strings, Markup, numbers, None
    (skipped) or nested iterables of those.

    Examples
    --------
    >>> tag("td", "<b>", class_="num")
    '<td class="num">&lt;b&gt;</td>'
    >>> tag("div", tag("b", "x"), None, hidden=True, title=None)
    '<div hidden><b>x</b></div>'
    """
    head = f"<{element}{attributes(**attrs)}>"
    if element in _VOID:
        return Markup(head)
    return Markup(f"{head}{join(children)}</{element}>")
