"""Notebook displays of separability results and Bayes-error bounds.

Only public attributes are read: ``matrix``, ``classes``, ``priors``,
``value``, ``hardest_pair``, ``kind`` and ``aggregate`` of a
:class:`~skkl.SeparabilityResult`; ``lower`` and ``upper`` of a
:class:`~skkl.BayesErrorBounds`.
"""

from __future__ import annotations

import numpy as np

from ._blocks import Column, Shaded, facts, table, verdict
from ._numbers import number, percent
from ._page import notebook_fragment

__all__ = ["bayes_error_html", "separability_html"]

#: Classes up to which the whole divergence matrix is shown.
MATRIX_CLASSES = 12
#: Error probabilities from which the bounds read as percentages.
PERCENT_FROM = 1e-3
#: Least separated pairs listed.
HARDEST_PAIRS = 5

_AGGREGATES = {
    "min": "smallest divergence between two classes",
    "mean": "mean divergence over ordered pairs of classes",
    "weighted": "prior-weighted mean divergence over ordered pairs of classes",
}


def _closest_pairs(D: np.ndarray, k: int) -> list:
    """``(i, j, min(D_ij, D_ji))`` for the k least separated pairs i < j."""
    iu, ju = np.triu_indices(D.shape[0], 1)
    closest = np.minimum(D[iu, ju], D[ju, iu])
    order = np.argsort(closest, kind="stable")[:k]
    return [(int(iu[o]), int(ju[o]), float(closest[o])) for o in order]


def _shade(D: np.ndarray):
    """Cell tint: log(1 + D) over its largest off-diagonal value (D spans decades)."""
    off = ~np.eye(D.shape[0], dtype=bool)
    finite = D[off][np.isfinite(D[off])]
    top = float(np.log1p(finite.max())) if finite.size and finite.max() > 0 else 1.0
    return lambda x: np.log1p(x) / top if np.isfinite(x) else 1.0


def _matrix_table(D, labels, kind):
    tint = _shade(D)
    columns = [Column("from \\ to")] + [Column(c, numeric=True) for c in labels]
    rows = [
        [labels[i]]
        + [
            "—" if i == j else Shaded(number(D[i, j]), tint(D[i, j]))
            for j in range(len(labels))
        ]
        for i in range(len(labels))
    ]
    return table(columns, rows, caption=f"{kind} divergence D(row ‖ column)")


def separability_html(result) -> str:
    """The notebook display of a SeparabilityResult (``_repr_html_``)."""
    D = np.asarray(result.matrix, dtype=np.float64)
    labels = [str(c) for c in np.asarray(result.classes, dtype=object).ravel()]
    pairs = _closest_pairs(D, HARDEST_PAIRS)
    a, b = (str(c) for c in result.hardest_pair)
    _, _, hardest = pairs[0]
    summary = verdict(
        "info",
        f"Least separated classes: {a} and {b}",
        f"{result.kind} divergence {number(hardest)} (the smaller direction) "
        f"among {len(labels)} classes.",
    )
    priors = np.asarray(result.priors, dtype=np.float64).ravel()
    what = _AGGREGATES.get(result.aggregate)
    info = facts(
        [
            ("divergence", result.kind),
            (
                "summary",
                None if result.value is None else f"{number(result.value)} ({what})",
            ),
            ("classes", str(len(labels))),
            (
                "priors",
                ", ".join(
                    f"{c}: {percent(p)}" for c, p in zip(labels, priors, strict=True)
                ),
            ),
        ]
    )
    hardest_table = table(
        [Column("pair"), Column("divergence (smaller direction)", numeric=True)],
        [(f"{labels[i]} – {labels[j]}", number(x)) for i, j, x in pairs],
        caption="Least separated pairs",
    )
    matrix = (
        _matrix_table(D, labels, result.kind) if len(labels) <= MATRIX_CLASSES else None
    )
    return notebook_fragment(repr(result), summary, info, matrix, hardest_table)


def bayes_error_html(bounds) -> str:
    """The notebook display of BayesErrorBounds (``_repr_html_``)."""
    lower, upper = float(bounds.lower), float(bounds.upper)
    # Both bounds in one unit: percentages read well down to 0.1%, below that
    # "9.7e-06%" does not, and plain probabilities do.
    as_text = percent if upper >= PERCENT_FROM else number
    summary = verdict(
        "info",
        f"Bayes error between {as_text(lower)} and {as_text(upper)}",
        "No classifier of these Gaussian class models errs less than the lower "
        "bound; the best one errs at most the upper bound (Bhattacharyya bounds).",
    )
    info = facts([("lower", number(lower, 4)), ("upper", number(upper, 4))])
    return notebook_fragment(repr(bounds), summary, info)
