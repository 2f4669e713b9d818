"""Displays in scikit-learn's style; matplotlib is the optional ``plot`` extra.

Each Display has ``from_estimator``-style constructors, a ``plot(ax=None,
...)`` method and the ``figure_`` and ``ax_`` attributes of the last plot.
"""

from ._divergence_matrix import DivergenceMatrixDisplay
from ._drift import DriftDisplay
from ._ellipses import GaussianEllipsesDisplay

__all__: list[str] = [
    "DivergenceMatrixDisplay",
    "DriftDisplay",
    "GaussianEllipsesDisplay",
]
