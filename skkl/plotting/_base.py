"""What every Display shares: the optional matplotlib import and axes set-up."""

from __future__ import annotations


def check_matplotlib_support(caller: str):
    """Import and return ``matplotlib.pyplot``, or explain how to install it.

    Raises
    ------
    ImportError
        Naming ``caller`` and the ``plot`` extra when matplotlib is missing.
    """
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib; install it with `pip install 'skkl[plot]'`."
        ) from exc
    return plt


def get_axes(ax, caller: str):
    """Return ``(figure, ax)``, creating a new figure when ``ax`` is None."""
    plt = check_matplotlib_support(caller)
    if ax is None:
        _, ax = plt.subplots()
    return ax.figure, ax
