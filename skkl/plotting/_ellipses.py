"""``GaussianEllipsesDisplay``: n-sigma ellipses of each group's Gaussian."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .._errors import InputError
from .._gaussians import Gaussians
from .._validation import as_float_array
from ._base import check_matplotlib_support, get_axes

__all__ = ["GaussianEllipsesDisplay"]

# Feature variances further apart than this make PCA follow the largest ones.
_SCALE_RATIO = 100.0
# Relative asymmetry |S_ij - S_ji| tolerated in a 2 x 2 covariance, against
# sqrt(S_ii S_jj), and relative negative eigenvalue tolerated (rounding).
_SYMMETRY_RTOL = 1e-8
_PSD_RTOL = 1e-10
# matplotlib squares coordinates when it lays out patches: an ellipse must
# extend less than the square root of the largest float (with a margin).
_MAX_EXTENT = np.sqrt(np.finfo(np.float64).max) / 16


def ring_label(n_std: float) -> str:
    """Legend text of the ellipse at Mahalanobis radius ``n_std``.

    In two dimensions the ellipse ``x' S^{-1} x = r^2`` holds a fraction
    ``1 - exp(-r^2 / 2)`` of the Gaussian's mass.

    Examples
    --------
    >>> ring_label(1), ring_label(2.0)
    ('1 sd: 39% of the mass', '2 sd: 86% of the mass')
    """
    mass = -np.expm1(-0.5 * float(n_std) ** 2)
    return f"{float(n_std):g} sd: {100 * mass:.0f}% of the mass"


def _check_finite(X, name: str) -> np.ndarray:
    X = as_float_array(X, name)  # text and complex are refused, never parsed
    bad = ~np.isfinite(np.atleast_2d(X)).all(axis=-1)
    if np.any(bad):
        raise ValueError(
            f"{name} has {int(bad.sum())} row(s) with NaN or infinite values "
            f"(first: row {int(np.argmax(bad))}); drop or impute them first."
        )
    return X


def _check_ellipses(means, covariances, n_std) -> tuple:
    """Validated (means, covariances, n_std) of :meth:`GaussianEllipsesDisplay.plot`.

    Every covariance must be finite, symmetric and positive semi-definite (a
    singular one is drawn flat), and every ring of finite size.
    """
    means = as_float_array(means, "means")
    covs = as_float_array(covariances, "covariances")
    K = means.shape[0] if means.ndim else 0
    if means.shape != (K, 2) or covs.shape != (K, 2, 2):
        raise ValueError(
            "means must have shape (n_groups, 2) and covariances "
            f"(n_groups, 2, 2), got {means.shape} and {covs.shape}."
        )
    for name, values in (("means", means), ("covariances", covs)):
        bad = ~np.isfinite(values.reshape(K, -1)).all(axis=1)
        if np.any(bad):
            raise InputError(
                "{argument}[{k}] has NaN or infinite entries; every group needs "
                "a finite mean and covariance.",
                argument=name,
                k=int(np.argmax(bad)),
            )
    scale = np.sqrt(np.abs(covs[:, 0, 0] * covs[:, 1, 1]))
    asym = np.abs(covs[:, 0, 1] - covs[:, 1, 0]) > _SYMMETRY_RTOL * scale
    if np.any(asym):
        k = int(np.argmax(asym))
        raise InputError(
            "{argument}[{k}] is not symmetric ({a!r} above and {b!r} below the "
            "diagonal); a covariance is symmetric.",
            argument="covariances",
            k=k,
            a=float(covs[k, 0, 1]),
            b=float(covs[k, 1, 0]),
        )
    vals = np.linalg.eigvalsh(covs) if K else np.zeros((0, 2))
    negative = vals[:, 0] < -_PSD_RTOL * np.maximum(vals[:, 1], 0.0)
    if np.any(negative):
        k = int(np.argmax(negative))
        raise InputError(
            "{argument}[{k}] is not positive semi-definite (eigenvalue {v:.3g}); "
            "it is not a covariance.",
            argument="covariances",
            k=k,
            v=float(vals[k, 0]),
        )
    try:
        radii = np.atleast_1d(np.asarray(n_std, dtype=np.float64))
    except (TypeError, ValueError):
        radii = np.array([np.nan])
    if radii.ndim != 1 or np.any(~np.isfinite(radii) | (radii <= 0)):
        raise InputError(
            "{argument} must be positive numbers, got {value!r}.",
            argument="n_std",
            value=n_std,
        )
    with np.errstate(over="ignore"):
        size = radii.max() * np.sqrt(np.maximum(vals[:, 1], 0.0)).max(initial=0.0)
        extent = size + np.abs(means).max(initial=0.0)
    if not extent < _MAX_EXTENT:
        raise InputError(
            "{argument}={value!r} gives ellipses too large to draw (radius times "
            f"the largest standard deviation exceeds {_MAX_EXTENT:.1e}); use "
            "radii of a few standard deviations, e.g. (1, 2, 3), or rescale the "
            "data.",
            argument="n_std",
            value=n_std,
        )
    return means, covs, radii


def _ellipse_geometry(cov2: np.ndarray, n_std: float) -> tuple[float, float, float]:
    """Width, height and angle (degrees) of the ``n_std`` ellipse of ``cov2``.

    The axes of the ellipse ``x' cov2^{-1} x = n_std^2`` are the eigenvectors of
    the 2 x 2 covariance, with half-lengths ``n_std * sqrt(eigenvalue)``.
    """
    vals, vecs = np.linalg.eigh(cov2)
    major = vecs[:, 1]
    angle = float(np.degrees(np.arctan2(major[1], major[0])))
    return 2 * n_std * np.sqrt(vals[1]), 2 * n_std * np.sqrt(vals[0]), angle


def _gaussians_of(estimator) -> tuple[Gaussians, np.ndarray, np.ndarray]:
    """The Gaussians, labels and weights of a fitted estimator."""
    if isinstance(getattr(estimator, "gaussians_", None), Gaussians):
        G = estimator.gaussians_
    elif all(hasattr(estimator, a) for a in ("means_", "covariances_")):
        # e.g. sklearn.mixture.GaussianMixture
        G = Gaussians(
            estimator.means_,
            estimator.covariances_,
            getattr(estimator, "covariance_type", "full"),
        )
    else:
        raise TypeError(
            "estimator must be fitted and expose Gaussians (skkl.GroupGaussians, "
            f"or means_ and covariances_ like GaussianMixture); got "
            f"{type(estimator).__name__}. Fit it first."
        )
    K = len(G)
    labels = np.asarray(getattr(estimator, "classes_", np.arange(K)))
    weights = getattr(estimator, "weights_", None)
    weights = np.full(K, 1.0 / K) if weights is None else np.asarray(weights, float)
    return G, labels, weights


def _feature_index(feature, estimator, d: int) -> int:
    if isinstance(feature, str):
        names = getattr(estimator, "feature_names_in_", None)
        if names is None or feature not in list(names):
            raise ValueError(
                f"feature {feature!r} is not a fitted feature name; pass an "
                "integer index or fit the estimator on a DataFrame."
            )
        return int(list(names).index(feature))
    if not isinstance(feature, numbers.Integral) or not -d <= feature < d:
        raise ValueError(
            f"features must hold two indices in [0, {d}) or feature names, "
            f"got {feature!r}."
        )
    return int(feature) % d


def _scale_note(variances: np.ndarray, estimator) -> str:
    """Warn when PCA would follow a few large-scale features; an axis note."""
    positive = variances[variances > 0]
    if positive.size < 2 or positive.max() <= _SCALE_RATIO * positive.min():
        return ""
    j = int(np.argmax(variances))
    from .._validation import format_feature  # loads scikit-learn: on use only

    name = format_feature(j, getattr(estimator, "feature_names_in_", None))
    ratio = positive.max() / positive.min()
    warnings.warn(
        f"the features' variances differ by a factor of {ratio:.3g} (largest: "
        f"{name}), so the principal axes follow the largest-scale features; "
        "standardise X (e.g. sklearn.preprocessing.StandardScaler) before fitting "
        "to compare features on one scale.",
        UserWarning,
        stacklevel=3,
    )
    return "; unscaled features"


def _pca_view(means, covs, weights, estimator):
    """(center, (d, 2) projection, axis labels) of the mixture's first two PCs."""
    if means.shape[1] < 2:
        raise ValueError("pca=True needs at least 2 features.")
    center = weights @ means
    dm = means - center
    mix_cov = np.einsum("k,kij->ij", weights, covs) + (dm.T * weights) @ dm
    vals, vecs = np.linalg.eigh(mix_cov)
    W = vecs[:, ::-1][:, :2]
    # Deterministic signs: the largest loading of each axis is positive.
    W = W * np.sign(W[np.argmax(np.abs(W), axis=0), [0, 1]])
    share = vals[::-1][:2] / vals.sum()
    note = _scale_note(np.diag(mix_cov), estimator)
    labels = tuple(f"PC{i + 1} ({100 * s:.0f}% var{note})" for i, s in enumerate(share))
    return center, W, labels


def _feature_view(features, estimator, d: int):
    """(center, (d, 2) projection, axis labels) of two chosen features."""
    if len(features) != 2:
        raise ValueError(f"features must be a pair, got {features!r}.")
    idx = [_feature_index(f, estimator, d) for f in features]
    if idx[0] == idx[1]:
        raise ValueError(f"features must be two different features, got {features!r}.")
    names = getattr(estimator, "feature_names_in_", None)
    labels = tuple(str(names[i]) if names is not None else f"feature {i}" for i in idx)
    return np.zeros(d), np.eye(d)[:, idx], labels


class GaussianEllipsesDisplay:
    """Ellipses of constant density of each group's Gaussian, in a 2-D view.

    Build it with :meth:`from_estimator`. The view is either two chosen
    features (the Gaussians' exact marginals) or the first two principal
    axes of the mixture of the Gaussians (means and covariances projected
    exactly: ``W' S W``).

    Parameters
    ----------
    means : array-like of shape (n_groups, 2)
    covariances : array-like of shape (n_groups, 2, 2)
    display_labels : array-like of shape (n_groups,), default=None
    n_std : sequence of float, default=(1, 2, 3)
        Draw the ellipse at Mahalanobis radius ``n_std`` for each entry.
    X : array-like of shape (n_samples, 2), default=None
        Points to scatter, already in the 2-D view.
    y : array-like of shape (n_samples,), default=None
        Group label of each point of ``X`` (colours it like its group).
    axis_labels : tuple of str, default=None

    Attributes
    ----------
    ellipses_ : ndarray of shape (n_groups, len(n_std)) of matplotlib Ellipse
    centers_ : matplotlib PathCollection
        The group means.
    scatter_ : list of matplotlib PathCollection, or None
        The points of ``X``.
    ax_ : matplotlib Axes
    figure_ : matplotlib Figure

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skkl import GroupGaussians
    >>> from skkl.plotting import GaussianEllipsesDisplay
    >>> X, y = load_iris(return_X_y=True)
    >>> est = GroupGaussians().fit(X, y)
    >>> disp = GaussianEllipsesDisplay.from_estimator(est, X, y, features=(2, 3))
    >>> disp.ellipses_.shape
    (3, 3)
    >>> e = disp.ellipses_[0, 0]
    >>> [round(float(v), 3) for v in (*e.center, e.width, e.height)]
    [1.462, 0.246, 0.354, 0.191]
    >>> [t.get_text() for t in disp.ax_.get_legend().get_texts()][3:]
    ['1 sd: 39% of the mass', '2 sd: 86% of the mass', '3 sd: 99% of the mass']
    """

    def __init__(
        self,
        means,
        covariances,
        *,
        display_labels=None,
        n_std=(1, 2, 3),
        X=None,
        y=None,
        axis_labels=None,
    ):
        self.means = means
        self.covariances = covariances
        self.display_labels = display_labels
        self.n_std = n_std
        self.X = X
        self.y = y
        self.axis_labels = axis_labels

    def plot(
        self, *, ax=None, ellipse_kw: dict | None = None, scatter_kw: dict | None = None
    ) -> GaussianEllipsesDisplay:
        """Draw the ellipses (and the points, if ``X`` is set).

        Parameters
        ----------
        ax : matplotlib Axes, default=None
        ellipse_kw : dict, default=None
            Extra keywords for :class:`matplotlib.patches.Ellipse`.
        scatter_kw : dict, default=None
            Extra keywords for ``ax.scatter`` of ``X``.

        Returns
        -------
        self : GaussianEllipsesDisplay
        """
        check_matplotlib_support("GaussianEllipsesDisplay.plot")
        from matplotlib.patches import Ellipse

        means, covs, n_std = _check_ellipses(self.means, self.covariances, self.n_std)
        K = len(means)
        labels = np.arange(K) if self.display_labels is None else self.display_labels
        labels = np.asarray(labels)
        fig, ax = get_axes(ax, "GaussianEllipsesDisplay.plot")

        self.scatter_ = None
        if self.X is not None:
            X = _check_finite(self.X, "X")
            kw = {"s": 8, "alpha": 0.5, **(scatter_kw or {})}
            if self.y is None:
                self.scatter_ = [ax.scatter(X[:, 0], X[:, 1], color="0.5", **kw)]
            else:
                y = np.asarray(self.y)
                self.scatter_ = [
                    ax.scatter(*X[y == lab].T, color=f"C{k % 10}", **kw)
                    for k, lab in enumerate(labels)
                ]
                rest = ~np.isin(y, labels)
                if np.any(rest):
                    self.scatter_.append(ax.scatter(*X[rest].T, color="0.5", **kw))

        self.ellipses_ = np.empty((K, len(n_std)), dtype=object)
        for k in range(K):
            for s, r in enumerate(n_std):
                width, height, angle = _ellipse_geometry(covs[k], r)
                kw = {
                    "fill": False,
                    "edgecolor": f"C{k % 10}",
                    "alpha": 1.0 / (1 + s),
                    "label": str(labels[k]) if s == 0 else None,
                    **(ellipse_kw or {}),
                }
                patch = Ellipse(means[k], width, height, angle=angle, **kw)
                self.ellipses_[k, s] = ax.add_patch(patch)
        self.centers_ = ax.scatter(
            means[:, 0], means[:, 1], c=[f"C{k % 10}" for k in range(K)], marker="x"
        )
        if self.axis_labels is not None:
            ax.set(xlabel=self.axis_labels[0], ylabel=self.axis_labels[1])
        ax.autoscale_view()
        # One entry per group, then one per ring saying what it encloses.
        from matplotlib.lines import Line2D

        handles, _ = ax.get_legend_handles_labels()
        handles += [
            Line2D([], [], color="0.3", alpha=1.0 / (1 + s), label=ring_label(r))
            for s, r in enumerate(n_std)
        ]
        # 'best' placement scans every point: slow under a large scatter.
        ax.legend(
            handles=handles,
            loc="best" if self.X is None else "upper right",
            fontsize="small",
        )
        self.figure_, self.ax_ = fig, ax
        return self

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X=None,
        y=None,
        *,
        features=(0, 1),
        n_std=(1, 2, 3),
        pca: bool = False,
        **plot_kw,
    ) -> GaussianEllipsesDisplay:
        """Ellipses of a fitted estimator's Gaussians in two features or PCs.

        Parameters
        ----------
        estimator : GroupGaussians or GaussianMixture
            Fitted; its Gaussians come from ``gaussians_`` (or ``means_`` and
            ``covariances_``), labels from ``classes_`` when present.
        X : array-like of shape (n_samples, n_features), default=None
            Points to scatter under the ellipses.
        y : array-like of shape (n_samples,), default=None
            Labels of ``X``, to colour points like their group.
        features : pair of int or str, default=(0, 1)
            Features on the x and y axes (ignored when ``pca=True``).
        n_std : sequence of float, default=(1, 2, 3)
            Mahalanobis radii of the ellipses.
        pca : bool, default=False
            Show the first two principal axes of the mixture of the Gaussians
            (weighted by ``weights_``); for Gaussians fitted by maximum
            likelihood that mixture's covariance is the data's covariance.
            When the features' variances differ by more than a factor of 100,
            a ``UserWarning`` suggests standardising and the axis labels say
            "unscaled features".
        **plot_kw
            Passed to :meth:`plot`.

        Returns
        -------
        display : GaussianEllipsesDisplay
        """
        check_matplotlib_support("GaussianEllipsesDisplay.from_estimator")
        G, labels, weights = _gaussians_of(estimator)
        d = G.n_features
        means, covs = G.means, G.to_full().covariances
        if pca:
            center, W, axis_labels = _pca_view(means, covs, weights, estimator)
        else:
            center, W, axis_labels = _feature_view(features, estimator, d)
        X2 = None
        if X is not None:
            X = _check_finite(X, "X")
            if X.ndim != 2 or X.shape[1] != d:
                raise ValueError(
                    f"X must have shape (n_samples, {d}) like the estimator's "
                    f"training data, got {X.shape}."
                )
            X2 = (X - center) @ W
        disp = cls(
            (means - center) @ W,
            np.swapaxes(W, 0, 1) @ covs @ W,
            display_labels=labels,
            n_std=n_std,
            X=X2,
            y=None if y is None else np.asarray(y),
            axis_labels=axis_labels,
        )
        return disp.plot(**plot_kw)
