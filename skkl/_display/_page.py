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

import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

from .._version import __version__
from ._html import Markup, join, tag
from ._style import COMPONENT_CSS, NOTEBOOK_CSS, PAGE_CSS

__all__ = [
    "CONTENT_SECURITY_POLICY",
    "check_page_path",
    "notebook_fragment",
    "page",
    "write_page",
]

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


def check_page_path(path, example: str = "report.html") -> Path:
    """``path`` as a Path where a page can be written, or an error saying why.

    Called before the work a page reports on (a command checks its
    ``--report`` first), and again by :func:`write_page`.
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a file name, got {type(path).__name__}.")
    path = Path(path)
    if path.is_dir():
        raise IsADirectoryError(
            f"path {str(path)!r} is a directory; give a file name such as "
            f"{str(path / example)!r}."
        )
    if not path.parent.is_dir():
        raise FileNotFoundError(
            f"path {str(path)!r}: the directory {str(path.parent)!r} does not exist; "
            "create it first."
        )
    return path


def write_page(path, build: Callable[[], str], example: str = "report.html") -> Path:
    """Write the page ``build()`` returns to ``path`` (replaced if it exists).

    The page is built completely before the file is opened: an error never
    leaves half a report behind.
    """
    path = check_page_path(path, example)
    text = build()
    path.write_text(text, encoding="utf-8")
    return path
