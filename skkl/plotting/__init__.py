"""Displays in scikit-learn's style; matplotlib is the optional ``plot`` extra.

Each Display has ``from_estimator``-style constructors, a ``plot(ax=None,
...)`` method and the ``figure_`` and ``ax_`` attributes of the last plot.
"""

__all__: list[str] = []
