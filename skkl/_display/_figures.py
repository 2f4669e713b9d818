"""Matplotlib figures as inline SVG: no file, no network, no pyplot state.

A figure is drawn on a bare :class:`matplotlib.figure.Figure` (never
registered with pyplot, so nothing leaks into the user's open figures) and
written as SVG with its glyphs as paths: it renders the same in every browser
without a font. Without matplotlib :func:`svg_figure` returns None and the
page shows its numbers and tables alone.
"""

from __future__ import annotations

import io
import itertools
import re

from ._html import Markup, attributes

__all__ = ["svg_figure"]

# Element ids must be unique in one HTML document, and matplotlib numbers them
# from 1 in every figure (figure_1, DejaVuSans-30, ...): each figure's ids get
# their own prefix, from a counter as scikit-learn numbers its containers.
_FIGURE_IDS = itertools.count(1)
_ID = re.compile(r'\bid="([^"]+)"')
_HREF = re.compile(r'\b((?:xlink:)?href)="#([^"]+)"')
_URL = re.compile(r"url\(#([^)]+)\)")
# The XML prolog and DTD are not allowed inside HTML; the RDF metadata block
# only names the producer.
_PROLOG = re.compile(r"\A.*?(?=<svg\b)", re.S)
_METADATA = re.compile(r"\s*<metadata>.*?</metadata>", re.S)
_SIZE = re.compile(r'<svg\b([^>]*?)\swidth="([\d.]+)pt"\s+height="([\d.]+)pt"')


def _prefix_ids(svg: str, prefix: str) -> str:
    svg = _ID.sub(lambda m: f'id="{prefix}{m[1]}"', svg)
    svg = _HREF.sub(lambda m: f'{m[1]}="#{prefix}{m[2]}"', svg)
    return _URL.sub(lambda m: f"url(#{prefix}{m[1]})", svg)


def _responsive(svg: str, label: str) -> str:
    """Scale to the container's width, never beyond the drawn size."""
    match = _SIZE.search(svg)
    if match is None:  # pragma: no cover - matplotlib always writes both
        return svg
    attrs = attributes(role="img", aria_label=label)
    return (
        svg[: match.start()]
        + f'<svg{match[1]}{attrs} style="max-width:{match[2]}pt"'
        + svg[match.end() :]
    )


def svg_figure(draw, *, figsize, label: str) -> Markup | None:
    """Draw with ``draw(figure)`` and return the figure as inline SVG markup.

    Parameters
    ----------
    draw : callable
        Called with a new constrained-layout Figure of size ``figsize``.
    figsize : tuple of float
        Width and height in inches (the SVG's largest size on screen).
    label : str
        What the figure shows, for screen readers (``aria-label``).

    Returns
    -------
    svg : Markup or None
        None when matplotlib is not installed.
    """
    try:
        from matplotlib import rc_context
        from matplotlib.figure import Figure
    except ImportError:
        return None
    # A fixed salt keeps matplotlib's clip-path ids (hashes) reproducible.
    with rc_context({"svg.fonttype": "path", "svg.hashsalt": "skkl"}):
        fig = Figure(figsize=figsize, layout="constrained")
        draw(fig)
        buffer = io.StringIO()
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    svg = _METADATA.sub("", _PROLOG.sub("", buffer.getvalue()))
    svg = _prefix_ids(svg, f"skkl-fig{next(_FIGURE_IDS)}-")
    return Markup(_responsive(svg.strip(), label))
