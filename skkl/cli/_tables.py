"""Plain-text tables for the terminal."""

from __future__ import annotations

__all__ = ["fmt", "heading", "matrix_table", "table"]


def fmt(x: float, digits: int = 4) -> str:
    """``x`` rounded to ``digits`` significant digits."""
    return f"{float(x):.{digits}g}"


def table(rows, header=None, align=None) -> str:
    """Right-aligned columns (left-aligned first column) of pre-formatted cells.

    Examples
    --------
    >>> print(table([["a", 1], ["bb", 22]], header=["name", "n"]))
    name   n
    ----  --
    a      1
    bb    22
    """
    rows = [[str(c) for c in r] for r in rows]
    if header is not None:
        rows = [[str(c) for c in header], *rows]
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    align = align or ["<"] + [">"] * (len(widths) - 1)
    lines = [
        "  ".join(
            f"{c:{a}{w}}" for c, a, w in zip(r, align, widths, strict=True)
        ).rstrip()
        for r in rows
    ]
    if header is not None:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def matrix_table(M, labels, digits: int = 4) -> str:
    """A square matrix with its row and column labels."""
    labels = [str(label) for label in labels]
    rows = [
        [lab, *(fmt(v, digits) for v in row)]
        for lab, row in zip(labels, M, strict=True)
    ]
    return table(rows, header=["", *labels])


def heading(title: str) -> str:
    """``title`` underlined, after a blank line."""
    return f"\n{title}\n{'=' * len(title)}"
