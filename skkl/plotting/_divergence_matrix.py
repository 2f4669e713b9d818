"""``DivergenceMatrixDisplay``: a heat map of divergences between classes."""

from __future__ import annotations

from itertools import product

import numpy as np

from .._validation import as_float_array
from ._base import check_matplotlib_support, get_axes

__all__ = ["DivergenceMatrixDisplay"]

# What the colour bar measures, by kind (natural logarithms throughout).
_UNITS = {
    "kl": "nats",
    "reverse_kl": "nats",
    "jeffreys": "nats",
    "bhattacharyya": "nats",
    "renyi": "nats",
    "hellinger": "no unit, in [0, 1]",
    "wasserstein": "squared units of X",
}


def colorbar_label(kind: str | None) -> str:
    """The colour bar's label: the divergence and its unit."""
    if kind is None:
        return "divergence"
    unit = _UNITS.get(kind)
    return f"{kind} ({unit})" if unit else str(kind)


def _check_matrix(matrix, display_labels) -> tuple[np.ndarray, np.ndarray]:
    """A finite, non-empty square matrix and one label per row."""
    M = as_float_array(matrix, "matrix")  # text and complex are refused
    if M.ndim != 2 or M.shape[0] != M.shape[1] or not np.all(np.isfinite(M)):
        raise ValueError(f"matrix must be a finite square array, got shape {M.shape}.")
    if M.shape[0] == 0:
        raise ValueError(
            "matrix is empty (shape (0, 0)): there is nothing to plot; it "
            "needs one row and column per group."
        )
    n = M.shape[0]
    labels = np.arange(n) if display_labels is None else display_labels
    if len(labels) != n:
        raise ValueError(
            f"display_labels has {len(labels)} entries for a {n} x {n} matrix; "
            "pass one label per row."
        )
    return M, labels


class DivergenceMatrixDisplay:
    """Annotated heat map of a divergence matrix between groups.

    Build it with :meth:`from_estimator` (a fitted
    :class:`~skkl.GroupGaussians`) or :meth:`from_data` (``X`` and ``y``);
    every parameter is stored as an attribute. Rows are the first argument
    ``p`` of the divergence, columns the second ``q``: ``matrix[i, j] =
    D(p_i || q_j)``, which matters for asymmetric kinds such as 'kl'.

    Parameters
    ----------
    matrix : array-like of shape (n_groups, n_groups)
        Divergences (finite, non-negative).
    display_labels : array-like of shape (n_groups,), default=None
        Tick labels; ``0 .. n_groups - 1`` when None.
    kind : str, default=None
        Name of the divergence, used in the title and, with its unit (nats
        for the KL family), in the colour bar's label.

    Attributes
    ----------
    im_ : matplotlib AxesImage
        The heat map.
    colorbar_ : matplotlib Colorbar or None
        The colour bar; None when ``colorbar=False``.
    text_ : ndarray of shape (n_groups, n_groups) of matplotlib Text, or None
        The annotations; None when ``include_values=False``.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skkl.plotting import DivergenceMatrixDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> disp = DivergenceMatrixDisplay.from_data(X, y, kind="bhattacharyya")
    >>> disp.matrix.round(1)
    array([[ 0. , 13.5, 25.5],
           [13.5,  0. ,  2. ],
           [25.5,  2. ,  0. ]])
    >>> [t.get_text() for t in disp.text_[0]]
    ['0', '13.5', '25.5']
    >>> disp.colorbar_.ax.get_ylabel()
    'bhattacharyya (nats)'
    """

    def __init__(self, matrix, *, display_labels=None, kind: str | None = None):
        self.matrix = matrix
        self.display_labels = display_labels
        self.kind = kind

    def plot(
        self,
        *,
        ax=None,
        cmap="viridis",
        values_format: str | None = None,
        colorbar: bool = True,
        include_values: bool = True,
        xticks_rotation="horizontal",
        im_kw: dict | None = None,
        text_kw: dict | None = None,
    ) -> DivergenceMatrixDisplay:
        """Draw the heat map.

        Parameters
        ----------
        ax : matplotlib Axes, default=None
            Axes to draw on; a new figure when None.
        cmap : str or matplotlib Colormap, default='viridis'
        values_format : str, default=None
            Format spec of the annotations; '.3g' when None.
        colorbar : bool, default=True
        include_values : bool, default=True
            Write each value in its cell.
        xticks_rotation : {'vertical', 'horizontal'} or float, default='horizontal'
        im_kw, text_kw : dict, default=None
            Extra keywords for ``ax.imshow`` and ``ax.text``.

        Returns
        -------
        self : DivergenceMatrixDisplay
        """
        plt = check_matplotlib_support("DivergenceMatrixDisplay.plot")
        M, labels = _check_matrix(self.matrix, self.display_labels)
        n = M.shape[0]
        fig, ax = get_axes(ax, "DivergenceMatrixDisplay.plot")
        self.im_ = ax.imshow(
            M, **{"interpolation": "nearest", "cmap": cmap, **(im_kw or {})}
        )
        self.text_ = None
        if include_values:
            fmt = values_format or ".3g"
            low, high = self.im_.cmap(0.0), self.im_.cmap(1.0)
            threshold = (M.max() + M.min()) / 2.0
            self.text_ = np.empty((n, n), dtype=object)
            for i, j in product(range(n), range(n)):
                # Light text on dark cells and dark text on light ones.
                color = high if M[i, j] < threshold else low
                kw = {"ha": "center", "va": "center", "color": color, **(text_kw or {})}
                self.text_[i, j] = ax.text(j, i, format(M[i, j], fmt), **kw)
        self.colorbar_ = None
        if colorbar:
            self.colorbar_ = fig.colorbar(self.im_, ax=ax)
            self.colorbar_.set_label(colorbar_label(self.kind))
        ax.set(
            xticks=np.arange(n),
            yticks=np.arange(n),
            xticklabels=labels,
            yticklabels=labels,
            xlabel="q (column)",
            ylabel="p (row)",
            title=f"{self.kind}(p, q)" if self.kind else "D(p, q)",
        )
        ax.set_ylim((n - 0.5, -0.5))
        plt.setp(ax.get_xticklabels(), rotation=xticks_rotation)
        self.figure_, self.ax_ = fig, ax
        return self

    @classmethod
    def from_estimator(
        cls, estimator, *, kind: str = "kl", alpha: float = 0.5, **plot_kw
    ) -> DivergenceMatrixDisplay:
        """Plot the divergence matrix of a fitted :class:`~skkl.GroupGaussians`.

        Parameters
        ----------
        estimator : GroupGaussians
            Fitted; anything with ``classes_`` and ``divergence_matrix``.
        kind : str, default='kl'
            A divergence of ``skkl.DIVERGENCES``.
        alpha : float, default=0.5
            Order of the Rényi divergence.
        **plot_kw
            Passed to :meth:`plot`.

        Returns
        -------
        display : DivergenceMatrixDisplay
        """
        check_matplotlib_support("DivergenceMatrixDisplay.from_estimator")
        if not hasattr(estimator, "divergence_matrix"):
            raise TypeError(
                "estimator must be a fitted skkl.GroupGaussians (it needs a "
                f"divergence_matrix method), got {type(estimator).__name__}."
            )
        matrix = estimator.divergence_matrix(kind=kind, alpha=alpha)
        disp = cls(matrix, display_labels=estimator.classes_, kind=kind)
        return disp.plot(**plot_kw)

    @classmethod
    def from_data(
        cls,
        X,
        y,
        *,
        kind: str = "kl",
        covariance_type: str = "full",
        shrinkage=None,
        reg_covar: float = 1e-6,
        alpha: float = 0.5,
        **plot_kw,
    ) -> DivergenceMatrixDisplay:
        """Fit one Gaussian per class of ``y`` and plot their divergences.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        kind, covariance_type, shrinkage, reg_covar, alpha
            As in :func:`skkl.separability_score`.
        **plot_kw
            Passed to :meth:`plot`.

        Returns
        -------
        display : DivergenceMatrixDisplay
        """
        check_matplotlib_support("DivergenceMatrixDisplay.from_data")
        from ..separability import separability_score

        res = separability_score(
            X,
            y,
            kind=kind,
            covariance_type=covariance_type,
            shrinkage=shrinkage,
            reg_covar=reg_covar,
            aggregate=None,
            alpha=alpha,
        )
        disp = cls(res.matrix, display_labels=res.classes, kind=kind)
        return disp.plot(**plot_kw)
