"""``GroupGaussians``: a transformer that fits one Gaussian per class or cluster."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from scipy.linalg import get_blas_funcs
from scipy.special import logsumexp
from sklearn.base import BaseEstimator, TransformerMixin, _fit_context, clone
from sklearn.utils import gen_batches
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import check_classification_targets, unique_labels
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._gaussians import Gaussians
from ._linalg import cholesky, logdet_from_cholesky, solve_lower
from ._moments import (
    group_moments,
    ledoit_wolf_coefficient,
    merge_moments,
    oas_coefficient,
)
from ._moments import shrink as shrink_covariances

__all__ = ["GroupGaussians"]

_KIND_ABBREV = {
    "log_likelihood": "loglik",
    "mahalanobis": "mahalanobis",
    "proba": "proba",
}
_LOG_2PI = np.log(2.0 * np.pi)
# With reg_covar=0, a feature whose variance left unexplained by the features
# before it is below this fraction is treated as collinear (singular covariance).
_COLLINEAR_RTOL = 1e-10
# Attributes built from the moments; partial_fit drops them until rebuilt.
_DERIVED_ATTRIBUTES = (
    "gaussians_",
    "means_",
    "covariances_",
    "weights_",
    "class_count_",
    "shrinkage_",
)


def _solve_lower_columns(L: np.ndarray, Xc: np.ndarray) -> np.ndarray:
    """``L^{-1} Xc.T`` (d, m) for a C-ordered scratch array ``Xc`` (m, d).

    One BLAS trsm on the Fortran view ``Xc.T``, overwriting ``Xc``: no copy,
    and on this workload about twice as fast as ``scipy.linalg.solve_triangular``
    (LAPACK trtrs plus copies), which ``solve_lower`` wraps.
    """
    (trsm,) = get_blas_funcs(("trsm",), (L, Xc))
    return trsm(1.0, L, Xc.T, lower=1, overwrite_b=1)


def _label(c) -> str:
    """A class label as the user wrote it (``7``, ``'cat'``), not ``np.int64(7)``."""
    return repr(c.item() if isinstance(c, np.generic) else c)


def _check_targets(y: np.ndarray) -> None:
    """Reject continuous or multilabel y; integer labels are always valid."""
    # check_classification_targets takes two np.unique passes: skip the sure case.
    if y.ndim != 1 or y.dtype.kind not in "iub":
        check_classification_targets(y)


def _encode(labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``np.unique(labels, return_inverse=True)``, in O(n) for small integer labels."""
    if labels.dtype.kind in "iub" and labels.size:
        low, high = labels.min(), labels.max()
        if int(high) - int(low) <= max(1 << 16, labels.size):
            offset = labels.astype(np.intp) - int(low)
            present = np.bincount(offset) > 0
            lookup = np.cumsum(present) - 1
            classes = (np.flatnonzero(present) + int(low)).astype(labels.dtype)
            return classes, lookup[offset]
    return np.unique(labels, return_inverse=True)


def _check_priors(priors, n_groups: int) -> np.ndarray:
    """``n_groups`` finite non-negative priors summing to 1 (to 1e-8), normalised."""
    try:
        p = np.asarray(priors, dtype=np.float64)
    except (TypeError, ValueError):
        p = np.full(n_groups, np.nan)  # reported below, like any other bad value
    if p.shape != (n_groups,) or not np.all(np.isfinite(p)) or np.any(p < 0):
        got = f"shape {p.shape}" if p.shape != (n_groups,) else f"{priors!r}"
        raise ValueError(
            f"priors must have one entry per group ({n_groups}): {n_groups} finite "
            f"non-negative numbers, got {got}."
        )
    if not np.isclose(p.sum(), 1.0, rtol=0, atol=1e-8):
        raise ValueError(f"priors must sum to 1, got sum {p.sum()!r}; divide by it.")
    return p / p.sum()


def _has_no_clusterer(estimator) -> bool:
    if estimator.clusterer is not None:
        raise AttributeError(
            "partial_fit is not supported with a clusterer: clusters are found "
            "on the whole data by clusterer.fit_predict; use fit, or pass labels "
            "y with clusterer=None."
        )
    return True


class GroupGaussians(TransformerMixin, BaseEstimator):
    """Fit one Gaussian per class (or cluster) and map samples to per-group scores.

    ``fit`` groups the samples by ``y`` (or by the labels of ``clusterer``),
    computes every group's weighted mean and centred scatter in one pass over
    ``X``, optionally shrinks each covariance, adds ``reg_covar`` to its
    diagonal and factors it once. ``transform`` then returns, for each sample,
    one column per group: its log-density, squared Mahalanobis distance or
    posterior probability. The fitted Gaussians are available as a
    :class:`~skkl.Gaussians` (``gaussians_``) for divergence computations,
    e.g. :meth:`divergence_matrix`.

    Parameters
    ----------
    covariance_type : {'full', 'diag', 'spherical', 'tied'}, default='full'
        'full': one covariance matrix per group; 'diag': per-feature
        variances per group; 'spherical': one variance per group (the mean of
        its per-feature variances); 'tied': one covariance shared by all
        groups, the pooled within-group covariance (groups weighted by their
        total sample weight).
    shrinkage : None, 'ledoit_wolf', 'oas' or float in [0, 1], default=None
        Shrinks each group's maximum-likelihood covariance S towards
        ``mu * I`` with ``mu = trace(S) / n_features``:
        ``(1 - a) * S + a * mu * I``, as
        :func:`sklearn.covariance.shrunk_covariance`. 'ledoit_wolf' and 'oas'
        pick ``a`` per group with the formulas of
        :class:`sklearn.covariance.LedoitWolf` and
        :class:`sklearn.covariance.OAS` (the number of samples being the
        group's total sample weight); for 'tied' the pooled covariance is
        shrunk. For 'diag', the diagonal of the shrunk matrix is used; for
        'spherical' shrinkage has no effect (the target is already spherical).
    reg_covar : float >= 0, default=1e-6
        Added to the diagonal of every covariance after shrinkage, as in
        :class:`sklearn.mixture.GaussianMixture`. With ``reg_covar=0``, a group
        with too few samples or a feature that is constant within a group is
        an error.
    clusterer : estimator with ``fit_predict`` or None, default=None
        If given (unfitted, e.g. ``KMeans(3)``), the groups are the labels of
        ``clone(clusterer).fit_predict(X)`` and ``y`` is ignored.
    transform_kind : {'log_likelihood', 'mahalanobis', 'proba'}, \
            default='log_likelihood'
        What :meth:`transform` returns per group: the log-density of each
        sample under the group's Gaussian, its squared Mahalanobis distance to
        the group mean, or the posterior probability of the group given the
        sample (with prior ``weights_``).
    priors : array-like of shape (n_groups,) or None, default=None
        Group prior probabilities used by ``transform_kind='proba'``; None uses
        the groups' shares of the total sample weight.
    n_jobs : int or None, default=None
        Number of threads over blocks of rows in :meth:`fit` and
        :meth:`partial_fit` (results do not depend on it) and over row chunks
        in :meth:`transform`, and the default ``n_jobs`` of
        :meth:`divergence_matrix`. ``None`` means 1 unless in a
        :func:`joblib.parallel_config` context; -1 means all cores.

    Attributes
    ----------
    classes_ : ndarray of shape (n_groups,)
        Group labels: the classes of ``y``, the cluster labels, or ``[0]`` when
        fitted without ``y`` and without clusterer (one group).
    gaussians_ : Gaussians
        The fitted Gaussians, one per group, in the order of ``classes_``.
    means_ : ndarray of shape (n_groups, n_features)
    covariances_ : ndarray
        (n_groups, n_features, n_features) for 'full', (n_groups, n_features)
        for 'diag', (n_groups,) for 'spherical', (n_features, n_features) for
        'tied'; shrinkage and ``reg_covar`` included.
    weights_ : ndarray of shape (n_groups,)
        Group priors used by ``transform_kind='proba'``.
    class_count_ : ndarray of shape (n_groups,)
        Total sample weight of each group (the number of samples when
        unweighted).
    shrinkage_ : ndarray of shape (n_groups,)
        Shrinkage coefficient applied to each group (one shared value for
        'tied').
    clusterer_ : estimator
        The fitted clone of ``clusterer`` (only when ``clusterer`` is given).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Defined only when ``X`` has feature names that are all strings.

    See Also
    --------
    sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis :
        A classifier built on the same per-class Gaussians.
    skkl.Gaussians : The container of the fitted Gaussians.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from skkl import GroupGaussians
    >>> X, y = load_iris(return_X_y=True)
    >>> gg = GroupGaussians().fit(X, y)
    >>> gg.transform(X[:2]).round(2)  # log-density under each class
    array([[  2.67, -56.77, -92.5 ],
           [  1.84, -40.71, -77.73]])
    >>> gg.get_feature_names_out()
    array(['groupgaussians_loglik_0', 'groupgaussians_loglik_1',
           'groupgaussians_loglik_2'], dtype=object)
    >>> gg.set_params(transform_kind="proba").transform(X[:1]).round(3)
    array([[1., 0., 0.]])
    >>> gg.divergence_matrix("kl").round(1)  # KL(class i || class j)
    array([[  0. ,  53.8,  87.7],
           [167.9,   0. ,   7.6],
           [367. ,  10.7,   0. ]])
    """

    _parameter_constraints: dict = {
        "covariance_type": [StrOptions({"full", "diag", "spherical", "tied"})],
        "shrinkage": [
            None,
            StrOptions({"ledoit_wolf", "oas"}),
            Interval(Real, 0, 1, closed="both"),
        ],
        "reg_covar": [Interval(Real, 0, None, closed="left")],
        "clusterer": [None, HasMethods(["fit_predict"])],
        "transform_kind": [StrOptions(set(_KIND_ABBREV))],
        "priors": ["array-like", None],
        "n_jobs": [Integral, None],
    }

    def __init__(
        self,
        covariance_type="full",
        *,
        shrinkage=None,
        reg_covar=1e-6,
        clusterer=None,
        transform_kind="log_likelihood",
        priors=None,
        n_jobs=None,
    ):
        self.covariance_type = covariance_type
        self.shrinkage = shrinkage
        self.reg_covar = reg_covar
        self.clusterer = clusterer
        self.transform_kind = transform_kind
        self.priors = priors
        self.n_jobs = n_jobs

    # -- fitting ------------------------------------------------------------
    def _moment_layout(self) -> tuple[bool, bool]:
        """(full scatter needed, third/fourth moments needed)."""
        full = self.covariance_type in ("full", "tied") or self.shrinkage in (
            "ledoit_wolf",
            "oas",
        )
        return full, self.shrinkage == "ledoit_wolf"

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None, sample_weight=None):
        """Fit one Gaussian per group.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training samples.
        y : array-like of shape (n_samples,), default=None
            Class labels. Ignored when ``clusterer`` is given; with neither,
            all samples form one group.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; integer weights act as repetitions.

        Returns
        -------
        self : GroupGaussians
            Fitted estimator.
        """
        if self.clusterer is not None or y is None:
            X = validate_data(self, X, dtype=np.float64)
        else:
            X, y = validate_data(self, X, y, dtype=np.float64)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        if self.clusterer is not None:
            self.clusterer_ = clone(self.clusterer)
            kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
            try:
                labels = self.clusterer_.fit_predict(X, **kwargs)
            except TypeError as exc:
                if sample_weight is None:
                    raise
                raise TypeError(
                    f"clusterer {type(self.clusterer).__name__}.fit_predict does "
                    f"not accept sample_weight ({exc}); fit without sample_weight "
                    "or use a clusterer that supports it (e.g. KMeans)."
                ) from None
            classes, groups = _encode(np.asarray(labels))
        elif y is not None:
            _check_targets(y)
            classes, groups = _encode(y)
        else:
            classes, groups = np.array([0]), None
        self.classes_ = classes
        if self.clusterer is None:
            self.__dict__.pop("clusterer_", None)
        full, higher = self._moment_layout()
        self._moments = group_moments(
            X,
            groups,
            len(classes),
            sample_weight,
            full=full,
            higher=higher,
            n_threads=effective_n_jobs(self.n_jobs),
        )
        empty = np.flatnonzero(self._moments.weight <= 0)
        if empty.size:
            raise ValueError(
                f"class {_label(classes[empty[0]])} has zero total sample_weight; give "
                "it positive weight or drop its samples."
            )
        self._set_gaussians()
        return self

    @available_if(_has_no_clusterer)
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y, classes=None, sample_weight=None):
        """Update the group Gaussians with one more batch of samples.

        Counts, means and centred scatter matrices of the batch are merged with
        those seen so far by the pairwise update of Chan et al., so a stream of
        batches gives the same model as :meth:`fit` on their concatenation (to
        rounding error). Not available with a ``clusterer``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            Class labels; each must be one of ``classes``.
        classes : array-like of shape (n_classes,), default=None
            All class labels of the stream. Used on the first call (defaults to
            the labels of the first batch, so pass it when a later batch may
            bring a new class); on later calls it must match ``classes_``.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : GroupGaussians
            The updated estimator. Until every class has received positive
            weight, the Gaussians are not built and ``transform`` raises. If
            they cannot be built yet (e.g. ``reg_covar=0`` and a class with
            too few samples), the error is raised but the batch's statistics
            are kept, so later batches can complete them.
        """
        first_call = not hasattr(self, "_moments")
        X, y = validate_data(self, X, y, dtype=np.float64, reset=first_call)
        _check_targets(y)
        if first_call:
            self.classes_ = unique_labels(y if classes is None else classes)
        elif classes is not None and not np.array_equal(
            unique_labels(classes), self.classes_
        ):
            raise ValueError(
                f"classes={classes!r} differs from classes_={self.classes_!r} of "
                "the previous calls; call fit to start over."
            )
        unknown = np.setdiff1d(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels {unknown.tolist()} that are not in "
                f"classes_={self.classes_.tolist()}; pass every label in "
                "`classes` on the first call to partial_fit."
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        full, higher = self._moment_layout()
        batch = group_moments(
            X,
            np.searchsorted(self.classes_, y),
            len(self.classes_),
            sample_weight,
            full=full,
            higher=higher,
            n_threads=effective_n_jobs(self.n_jobs),
        )
        if not first_call:
            prev = self._moments
            if prev.full != full or prev.higher != higher:
                raise ValueError(
                    "covariance_type or shrinkage changed between calls to "
                    "partial_fit in a way that needs other statistics; call fit."
                )
            batch = merge_moments(prev, batch)
        self._moments = batch
        for name in _DERIVED_ATTRIBUTES:
            self.__dict__.pop(name, None)
        if np.all(batch.weight > 0):
            self._set_gaussians()
        return self

    # -- from moments to Gaussians -------------------------------------------
    def _set_gaussians(self):
        mom = self._moments
        kind = self.covariance_type
        K, d = mom.mean.shape
        W = mom.weight
        if kind == "tied":
            covs = mom.scatter.sum(axis=0)[None] / W.sum()
            weight = np.array([W.sum()])
            fourth = None if mom.fourth is None else mom.fourth.sum(keepdims=True)
        elif mom.full:
            covs = mom.scatter / W[:, None, None]
            weight, fourth = W, mom.fourth
        else:
            covs = mom.scatter / W[:, None]  # per-feature variances
            weight, fourth = W, None

        if self.shrinkage is None:
            shrink = np.zeros(len(weight))
        elif self.shrinkage == "ledoit_wolf":
            shrink = ledoit_wolf_coefficient(weight, covs, fourth)
        elif self.shrinkage == "oas":
            shrink = oas_coefficient(weight, covs)
        else:
            shrink = np.full(len(weight), float(self.shrinkage))

        covs = shrink_covariances(covs, shrink)
        if covs.ndim == 3:
            variances = np.diagonal(covs, axis1=1, axis2=2)
            if kind == "diag" or kind == "spherical":
                covs = variances.copy()
        else:
            variances = covs
        if kind == "spherical":
            covs = covs.mean(axis=1)

        weights = self._priors(W)
        if not np.all(np.isfinite(covs)):
            raise ValueError(
                "the covariances overflowed float64; rescale X (e.g. with "
                "StandardScaler) before fitting."
            )
        if self.reg_covar == 0:
            self._check_estimable(mom, variances, shrink)
        if covs.ndim == 3:
            covs[:, np.arange(d), np.arange(d)] += self.reg_covar
            factor = self._cholesky(covs, mom.count)
            logdet = logdet_from_cholesky(factor)
            if kind == "tied":
                covs, factor, logdet = covs[0], factor[0], np.full(K, logdet[0])
        else:
            covs = covs + self.reg_covar
            factor = np.sqrt(covs)
            logdet = np.log(covs)
            logdet = logdet.sum(axis=1) if kind == "diag" else d * logdet

        self.gaussians_ = Gaussians._from_parts(
            mom.mean.copy(), covs, kind, factor, logdet
        )
        self.means_ = self.gaussians_.means
        self.covariances_ = self.gaussians_.covariances
        self.class_count_ = W.copy()
        self.shrinkage_ = np.broadcast_to(shrink, (K,)).copy()
        self.weights_ = weights

    def _priors(self, W):
        if self.priors is None:
            return W / W.sum()
        return _check_priors(self.priors, len(W))

    def _feature_label(self, j: int) -> str:
        names = getattr(self, "feature_names_in_", None)
        return f"feature {j}" + ("" if names is None else f" ({names[j]!r})")

    def _check_estimable(self, mom, variances, shrink):
        """With reg_covar=0: clear errors for too few samples or constant features."""
        kind = self.covariance_type
        d = mom.mean.shape[1]
        hint = "set reg_covar > 0 (e.g. 1e-6)"
        eps = np.finfo(np.float64).eps
        if kind == "tied":
            n, K = int(mom.count.sum()), len(mom.count)
            need = d + K if shrink[0] == 0 else K + 1
            if n < need:
                raise ValueError(
                    f"the pooled (tied) covariance of {K} classes from {n} samples "
                    f"is singular: it needs at least {need} samples; {hint} or "
                    "use shrinkage."
                )
            scale = (n * eps * np.abs(mom.mean).max(axis=0)) ** 2
            const = np.flatnonzero(variances[0] <= scale)
            if const.size:
                raise ValueError(
                    f"{self._feature_label(const[0])} is constant within every "
                    f"class: its pooled variance is 0; {hint} or drop the feature."
                )
            return
        for g, c in enumerate(self.classes_):
            n = int(mom.count[g])
            need = d + 1 if kind == "full" and shrink[g] == 0 else 2
            if n < need:
                fixes = hint
                if n >= 2:
                    fixes += ", use shrinkage or covariance_type='diag'"
                raise ValueError(
                    f"class {_label(c)} has {n} sample(s): too few for a {kind!r} "
                    f"covariance in {d} dimensions (needs at least {need}); {fixes}."
                )
            scale = (n * eps * np.abs(mom.mean[g])) ** 2
            const = variances[g] <= scale
            if kind == "spherical" and np.all(const):
                raise ValueError(
                    f"every feature is constant within class {_label(c)}: its variance "
                    f"is 0; {hint}."
                )
            if kind != "spherical" and np.any(const):
                raise ValueError(
                    f"{self._feature_label(np.flatnonzero(const)[0])} is constant "
                    f"within class {_label(c)} ({n} samples): its variance is 0; "
                    f"{hint} or drop the feature."
                )

    def _cholesky(self, covs, counts):
        """Cholesky factors, or an error that names the group that failed."""
        try:
            L = cholesky(covs)
        except ValueError:
            L = None
        if L is not None and self.reg_covar > 0:
            return L
        if L is not None:
            # Without a ridge, a pivot L_kk^2 that is a rounding-level fraction
            # of S_kk means feature k is a linear combination of the features
            # before it: the factorisation only "succeeded" through rounding.
            diag = np.diagonal(covs, axis1=1, axis2=2)
            unexplained = np.diagonal(L, axis1=1, axis2=2) ** 2 / diag
            if np.all(unexplained > _COLLINEAR_RTOL):
                return L
            g, k = np.argwhere(unexplained <= _COLLINEAR_RTOL)[0]
            where = (
                "every class (pooled covariance)"
                if self.covariance_type == "tied"
                else f"class {_label(self.classes_[g])} ({int(counts[g])} samples)"
            )
            raise ValueError(
                f"{self._feature_label(k)} is a linear combination of the features "
                f"before it within {where}, so the covariance is singular; set "
                "reg_covar > 0 (e.g. 1e-6), use shrinkage, or drop the feature."
            )
        if self.reg_covar == 0:
            hint = (
                "some features are linearly dependent; set reg_covar > 0 (e.g. "
                "1e-6), use shrinkage, or drop redundant features"
            )
        else:
            hint = (
                f"increase reg_covar (now {self.reg_covar!r}), use shrinkage, or "
                "standardise X"
            )
        if self.covariance_type == "tied":
            raise ValueError(
                f"the pooled (tied) covariance is not positive definite; {hint}."
            ) from None
        for g in range(len(covs)):
            try:
                cholesky(covs[g])
            except ValueError:
                raise ValueError(
                    f"the covariance of class {_label(self.classes_[g])} "
                    f"({int(counts[g])} samples) is not positive definite; {hint}."
                ) from None
        raise AssertionError("unreachable: no single covariance failed")

    # -- transforming -------------------------------------------------------
    def _check_gaussians(self):
        check_is_fitted(self, "classes_")
        if not hasattr(self, "gaussians_"):
            missing = self.classes_[self._moments.weight <= 0]
            raise ValueError(
                f"classes {missing.tolist()} have received no samples yet; call "
                "partial_fit with samples of every class before transform."
            )

    def _mahalanobis(self, X: np.ndarray) -> np.ndarray:
        """Squared Mahalanobis distance of every row of X to every group mean."""
        G = self.gaussians_
        kind = G.covariance_type
        out = np.empty((X.shape[0], len(G)))
        if kind == "tied":
            # One solve for all groups: L^{-1}(x - m) = L^{-1}x - L^{-1}m.
            Z = _solve_lower_columns(G.cholesky, X - G.means.mean(axis=0))
            M = solve_lower(G.cholesky, (G.means - G.means.mean(axis=0)).T)
            for g in range(len(G)):
                D = Z - M[:, g : g + 1]
                out[:, g] = np.einsum("ij,ij->j", D, D)
        elif kind == "full":
            for g in range(len(G)):
                Z = _solve_lower_columns(G.cholesky[g], X - G.means[g])
                out[:, g] = np.einsum("ij,ij->j", Z, Z)
        else:
            std = G.std()
            for g in range(len(G)):
                D = (X - G.means[g]) / std[g]
                out[:, g] = np.einsum("ij,ij->i", D, D)
        return out

    def _transform_chunk(self, X: np.ndarray, kind: str) -> np.ndarray:
        # Overflow (samples absurdly far from every group) is reported by
        # transform; errstate is thread-local, hence set here in the worker.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._transform_values(X, kind)

    def _transform_values(self, X: np.ndarray, kind: str) -> np.ndarray:
        maha = self._mahalanobis(X)
        if kind == "mahalanobis":
            return maha
        G = self.gaussians_
        loglik = -0.5 * (maha + (G.n_features * _LOG_2PI + G.logdet))
        if kind == "log_likelihood":
            return loglik
        logprior = np.full(len(G), -np.inf)
        np.log(self.weights_, out=logprior, where=self.weights_ > 0)
        joint = loglik + logprior
        return np.exp(joint - logsumexp(joint, axis=1, keepdims=True))

    def transform(self, X):
        """Per-group log-density, squared Mahalanobis distance or posterior.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_groups)
            Column j refers to ``classes_[j]``; what it holds is set by
            ``transform_kind``.
        """
        self._check_gaussians()
        kind = self.transform_kind
        if kind not in _KIND_ABBREV:
            raise ValueError(
                f"transform_kind must be one of {sorted(_KIND_ABBREV)}, got {kind!r}."
            )
        X = validate_data(self, X, reset=False, dtype=np.float64)
        n, d = X.shape
        K = len(self.classes_)
        rows = get_chunk_n_rows(row_bytes=8 * (3 * d + 3 * K), max_n_rows=n)
        batches = list(gen_batches(n, rows))
        if len(batches) == 1:
            out = self._transform_chunk(X, kind)
        else:
            parts = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(self._transform_chunk)(X[s], kind) for s in batches
            )
            out = np.concatenate(parts, axis=0)
        if not np.all(np.isfinite(out)):
            raise ValueError(
                "transform overflowed float64 (samples extremely far from every "
                "group); rescale X or use transform_kind='proba'."
            )
        return out

    def get_feature_names_out(self, input_features=None):
        """Output feature names: ``groupgaussians_<kind>_<class>``.

        ``<kind>`` is 'loglik', 'mahalanobis' or 'proba' after
        ``transform_kind``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Only checked against the feature names seen in ``fit``.

        Returns
        -------
        feature_names_out : ndarray of str objects
        """
        check_is_fitted(self, "classes_")
        _check_feature_names_in(self, input_features, generate_names=False)
        abbrev = _KIND_ABBREV.get(self.transform_kind, str(self.transform_kind))
        return np.asarray(
            [f"groupgaussians_{abbrev}_{c}" for c in self.classes_], dtype=object
        )

    @property
    def _n_features_out(self):
        return len(self.classes_)

    def divergence_matrix(self, kind: str = "kl", **kwargs) -> np.ndarray:
        """Pairwise divergences between the fitted group Gaussians.

        Parameters
        ----------
        kind : str, default='kl'
            Any kind of :data:`skkl.DIVERGENCES` ('kl', 'jeffreys',
            'bhattacharyya', 'hellinger', 'renyi', 'wasserstein', ...).
        **kwargs
            Passed to :func:`skkl.pairwise.pairwise_divergence` (``alpha``,
            ``rtol``, ``working_memory``, ``n_jobs``; ``n_jobs`` defaults to
            this estimator's).

        Returns
        -------
        D : ndarray of shape (n_groups, n_groups)
            ``D[i, j]`` is the divergence of group ``classes_[i]`` from group
            ``classes_[j]``, e.g. KL(i || j).
        """
        self._check_gaussians()
        from .pairwise import pairwise_divergence

        kwargs.setdefault("n_jobs", self.n_jobs)
        return pairwise_divergence(self.gaussians_, kind=kind, **kwargs)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Supervised unless the groups come from a clusterer.
        tags.target_tags.required = self.clusterer is None
        return tags
