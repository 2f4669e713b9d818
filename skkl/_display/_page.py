"""The two containers: a standalone page and a notebook output cell.

The page is one self-contained file: its styles are inline, its figures are
inline SVG, and its Content-Security-Policy forbids every load (scripts,
fonts, images from anywhere but ``data:``), so a page that tried to reach
the network would fail loudly in the browser instead of leaking a request.
The notebook fragment follows scikit-learn's estimator display: a
plain-text fallback shown by default and a ``hidden`` rich body that the
fragment's own style sheet reveals; no JavaScript in either.
"""

from __future__ import annotations

from datetime import datetime, timezone

from .._version import __version__
from ._html import Markup, join, tag
from ._style import COMPONENT_CSS, NOTEBOOK_CSS, PAGE_CSS

__all__ = ["CONTENT_SECURITY_POLICY", "notebook_fragment", "page"]

#: Nothing may load; inline styles (the page's and the SVGs') are allowed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "base-uri 'none'; form-action 'none'"
)


def page(title: str, *body, subtitle=None) -> str:
    """A complete HTML document: header, the body blocks and a footer."""
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    head = tag(
        "head",
        tag("meta", charset="utf-8"),
        tag("meta", name="viewport", content="width=device-width, initial-scale=1"),
        tag(
            "meta",
            http_equiv="Content-Security-Policy",
            content=CONTENT_SECURITY_POLICY,
        ),
        tag("meta", name="generator", content=f"skkl {__version__}"),
        # An empty icon: browsers would otherwise ask the server for one.
        tag("link", rel="icon", href="data:,"),
        tag("title", title),
        tag("style", Markup(COMPONENT_CSS + "\n" + PAGE_CSS)),
    )
    main = tag(
        "main",
        tag(
            "header",
            tag("h1", title),
            tag("p", subtitle, class_="skkl-muted") if subtitle else None,
        ),
        join(body),
        tag(
            "footer",
            tag("p", f"Written by skkl {__version__} on {stamp}.", class_="skkl-muted"),
        ),
        class_="skkl-page skkl-display",
    )
    return "<!DOCTYPE html>\n" + tag("html", head, tag("body", main), lang="en") + "\n"


def notebook_fragment(text: str, *body) -> str:
    """A notebook output: ``text`` as the fallback, ``body`` as the display."""
    return tag(
        "div",
        tag("style", Markup(COMPONENT_CSS + "\n" + NOTEBOOK_CSS)),
        tag("div", tag("pre", text), class_="skkl-fallback"),
        tag("div", join(body), class_="skkl-body", hidden=True),
        class_="skkl-display",
    )
