"""``GroupGaussians``: a transformer that fits one Gaussian per class or cluster."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from scipy.linalg import get_blas_funcs
from scipy.special import logsumexp
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils import gen_batches
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.parallel import Parallel, delayed
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from . import _dask
from ._blas import get_chunk_n_rows
from ._gaussians import gaussians_from_parts
from ._linalg import cholesky, logdet_from_cholesky, solve_lower
from ._moments import covariances_from_moments, group_moments, merge_moments
from ._validation import check_class_labels, check_priors, format_label

__all__ = ["GroupGaussians"]

_TRANSFORM_ABBREV = {
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


def _has_no_clusterer(estimator) -> bool:
    if estimator.clusterer is not None:
        raise AttributeError(
            "partial_fit is not supported with a clusterer: clusters are found "
            "on the whole data by clusterer.fit_predict; use fit, or pass labels "
            "y with clusterer=None."
        )
    return True


def _is_supervised(estimator) -> bool:
    if estimator.clusterer is not None:
        raise AttributeError(
            "score is not available with a clusterer: predict returns cluster "
            "labels, which have no reference to be scored against."
        )
    return True


class GroupGaussians(ClassifierMixin, TransformerMixin, BaseEstimator):
    """Fit one Gaussian per class (or cluster); transform, classify, compare.

    ``fit`` groups the samples by ``y`` (or by the labels of ``clusterer``),
    computes every group's weighted mean and centred scatter in one pass over
    ``X``, optionally shrinks each covariance, adds ``reg_covar`` to its
    diagonal and factors it once. ``transform`` then returns, for each sample,
    one column per group: its log-density, squared Mahalanobis distance or
    posterior probability. The fitted Gaussians are available as a
    :class:`~skkl.Gaussians` (``gaussians_``) for divergence computations,
    e.g. :meth:`divergence_matrix`.

    It is also a classifier, as
    :class:`~sklearn.discriminant_analysis.LinearDiscriminantAnalysis` is:
    :meth:`predict` is the maximum a posteriori rule with the priors
    ``weights_`` (quadratic discriminant analysis with shrinkage, weights
    and ``partial_fit``). With a ``clusterer`` it predicts cluster labels and
    has no ``score``.

    ``fit``, ``partial_fit``, ``transform`` and the ``predict`` methods accept
    dask arrays and DataFrames: the moments are computed block by block on
    the workers and merged in a tree (X is never gathered), and ``transform``
    and ``predict*`` return lazy dask arrays.

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
    >>> gg.predict(X[[0, 60, 120]]), round(gg.score(X, y), 3)
    (array([0, 1, 2]), 0.98)
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
        "transform_kind": [StrOptions(set(_TRANSFORM_ABBREV))],
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
        if _dask.is_dask_collection(X):
            return self._fit_dask(X, y, sample_weight)
        y, sample_weight = (
            _dask.compute_if_dask(y),
            _dask.compute_if_dask(sample_weight),
        )
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
            check_class_labels(y)
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
        return self._finish_fit()

    def _fit_dask(self, X, y, sample_weight):
        """``fit`` on a dask collection: blockwise moments merged in a tree."""
        if self.clusterer is not None:
            raise TypeError(
                "a clusterer needs X in one process (clusterer.fit_predict), but X "
                "is a dask collection; cluster first (e.g. with dask-ml) and pass "
                "the cluster labels as y with clusterer=None."
            )
        X = _dask.validate_features(self, X, reset=True)
        classes = np.array([0]) if y is None else _dask.unique_labels(y, "y")
        self.classes_ = classes
        self.__dict__.pop("clusterer_", None)
        full, higher = self._moment_layout()
        self._moments = _dask.group_moments(
            X, y, sample_weight, classes, full=full, higher=higher
        )
        return self._finish_fit()

    def _finish_fit(self):
        empty = np.flatnonzero(self._moments.weight <= 0)
        if empty.size:
            raise ValueError(
                f"class {format_label(self.classes_[empty[0]])} has zero total "
                "sample_weight; give it positive weight or drop its samples."
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
        full, higher = self._moment_layout()
        if _dask.is_dask_collection(X):
            X = _dask.validate_features(self, X, reset=first_call)
            if classes is not None:
                classes = unique_labels(classes)
            if first_call:
                self.classes_ = (
                    _dask.unique_labels(y, "y") if classes is None else classes
                )
            self._check_same_classes(classes, first_call)
            batch = _dask.group_moments(
                X, y, sample_weight, self.classes_, full=full, higher=higher
            )
            return self._merge_batch(batch, first_call)
        y, sample_weight = (
            _dask.compute_if_dask(y),
            _dask.compute_if_dask(sample_weight),
        )
        X, y = validate_data(self, X, y, dtype=np.float64, reset=first_call)
        check_class_labels(y)
        if first_call:
            self.classes_ = unique_labels(y if classes is None else classes)
        self._check_same_classes(classes, first_call)
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
        batch = group_moments(
            X,
            np.searchsorted(self.classes_, y),
            len(self.classes_),
            sample_weight,
            full=full,
            higher=higher,
            n_threads=effective_n_jobs(self.n_jobs),
        )
        return self._merge_batch(batch, first_call)

    def _check_same_classes(self, classes, first_call):
        if first_call or classes is None:
            return
        if not np.array_equal(unique_labels(classes), self.classes_):
            raise ValueError(
                f"classes={classes!r} differs from classes_={self.classes_!r} of "
                "the previous calls; call fit to start over."
            )

    def _merge_batch(self, batch, first_call):
        """Merge one batch's moments into the stream and rebuild the Gaussians."""
        full, higher = batch.full, batch.higher
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
        covariance_type = self.covariance_type
        K, d = mom.mean.shape
        W = mom.weight
        covs, variances, shrink = covariances_from_moments(
            mom, covariance_type, self.shrinkage
        )
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
            if covariance_type == "tied":
                covs, factor, logdet = covs[0], factor[0], np.full(K, logdet[0])
        else:
            covs = covs + self.reg_covar
            factor = np.sqrt(covs)
            logdet = np.log(covs)
            logdet = logdet.sum(axis=1) if covariance_type == "diag" else d * logdet

        self.gaussians_ = gaussians_from_parts(
            mom.mean.copy(), covs, covariance_type, factor, logdet
        )
        self.means_ = self.gaussians_.means
        self.covariances_ = self.gaussians_.covariances
        self.class_count_ = W.copy()
        self.shrinkage_ = np.broadcast_to(shrink, (K,)).copy()
        self.weights_ = weights

    def _priors(self, W):
        if self.priors is None:
            return W / W.sum()
        return check_priors(self.priors, len(W))

    def _feature_label(self, j: int) -> str:
        names = getattr(self, "feature_names_in_", None)
        return f"feature {j}" + ("" if names is None else f" ({names[j]!r})")

    def _check_estimable(self, mom, variances, shrink):
        """With reg_covar=0: clear errors for too few samples or constant features."""
        covariance_type = self.covariance_type
        d = mom.mean.shape[1]
        hint = "set reg_covar > 0 (e.g. 1e-6)"
        eps = np.finfo(np.float64).eps
        if covariance_type == "tied":
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
            need = d + 1 if covariance_type == "full" and shrink[g] == 0 else 2
            if n < need:
                fixes = hint
                if n >= 2:
                    fixes += ", use shrinkage or covariance_type='diag'"
                raise ValueError(
                    f"class {format_label(c)} has {n} sample(s): too few for a "
                    f"{covariance_type!r} covariance in {d} dimensions (needs at "
                    f"least {need}); {fixes}."
                )
            scale = (n * eps * np.abs(mom.mean[g])) ** 2
            const = variances[g] <= scale
            if covariance_type == "spherical" and np.all(const):
                raise ValueError(
                    "every feature is constant within class "
                    f"{format_label(c)}: its variance is 0; {hint}."
                )
            if covariance_type != "spherical" and np.any(const):
                raise ValueError(
                    f"{self._feature_label(np.flatnonzero(const)[0])} is constant "
                    f"within class {format_label(c)} ({n} samples): its variance is 0; "
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
                else f"class {format_label(self.classes_[g])} "
                f"({int(counts[g])} samples)"
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
                    f"the covariance of class {format_label(self.classes_[g])} "
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
        covariance_type = G.covariance_type
        out = np.empty((X.shape[0], len(G)))
        if covariance_type == "tied":
            # One solve for all groups: L^{-1}(x - m) = L^{-1}x - L^{-1}m.
            Z = _solve_lower_columns(G.cholesky, X - G.means.mean(axis=0))
            M = solve_lower(G.cholesky, (G.means - G.means.mean(axis=0)).T)
            for g in range(len(G)):
                D = Z - M[:, g : g + 1]
                out[:, g] = np.einsum("ij,ij->j", D, D)
        elif covariance_type == "full":
            for g in range(len(G)):
                Z = _solve_lower_columns(G.cholesky[g], X - G.means[g])
                out[:, g] = np.einsum("ij,ij->j", Z, Z)
        else:
            std = G.std()
            for g in range(len(G)):
                D = (X - G.means[g]) / std[g]
                out[:, g] = np.einsum("ij,ij->i", D, D)
        return out

    def _chunk_values(self, X: np.ndarray, what: str) -> np.ndarray:
        """Per-group values of the rows of one chunk (see ``_row_values``)."""
        # Overflow (samples absurdly far from every group) is reported by the
        # caller; errstate is thread-local, hence set here in the worker.
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            maha = self._mahalanobis(X)
            if what == "mahalanobis":
                return maha
            G = self.gaussians_
            loglik = -0.5 * (maha + (G.n_features * _LOG_2PI + G.logdet))
            if what == "log_likelihood":
                return loglik
            logprior = np.full(len(G), -np.inf)
            np.log(self.weights_, out=logprior, where=self.weights_ > 0)
            joint = loglik + logprior
            if what == "joint":
                return joint
            log_proba = joint - logsumexp(joint, axis=1, keepdims=True)
            return log_proba if what == "log_proba" else np.exp(log_proba)

    def _row_values(self, X: np.ndarray, what: str) -> np.ndarray:
        """(n, n_groups) values for validated X, in row chunks over threads.

        ``what``: 'mahalanobis', 'log_likelihood', 'proba' (posterior),
        'log_proba' or 'joint' (log-likelihood plus log-prior).
        """
        n, d = X.shape
        K = len(self.classes_)
        rows = get_chunk_n_rows(row_bytes=8 * (3 * d + 3 * K), max_n_rows=max(n, 1))
        batches = list(gen_batches(n, rows))
        if len(batches) <= 1:
            out = self._chunk_values(X, what)
        else:
            parts = Parallel(n_jobs=self.n_jobs, prefer="threads")(
                delayed(self._chunk_values)(X[s], what) for s in batches
            )
            out = np.concatenate(parts, axis=0)
        # A zero prior gives log-posterior -inf legitimately; anything else
        # non-finite is overflow.
        finite = (
            np.isfinite(out)
            if what not in ("log_proba", "joint")
            else (~np.isnan(out) & (out < np.inf))
        )
        if not np.all(finite) or (
            what in ("log_proba", "joint")
            and out.size
            and not np.all(np.isfinite(out.max(axis=1)))
        ):
            raise ValueError(
                "the densities overflowed float64 (samples extremely far from "
                "every group); rescale X, or use transform_kind='proba'."
            )
        return out

    def _block_values(self, X, what: str) -> np.ndarray:
        """``_row_values`` on one block of a dask collection (validated here)."""
        X = check_array(X, dtype=np.float64, ensure_min_samples=0)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        if what == "predict":
            return self._predict_array(X)
        return self._row_values(X, what)

    def _predict_array(self, X: np.ndarray) -> np.ndarray:
        return self.classes_[np.argmax(self._row_values(X, "joint"), axis=1)]

    def _apply(self, X, what: str):
        """Validate X and compute ``what``; a dask X gives a lazy dask array."""
        self._check_gaussians()
        if _dask.is_dask_collection(X):
            X = _dask.validate_features(self, X, reset=False)
            if what == "predict":
                return _dask.map_row_blocks(
                    self._block_values, X, what, n_out=None, dtype=self.classes_.dtype
                )
            return _dask.map_row_blocks(
                self._block_values, X, what, n_out=len(self.classes_)
            )
        X = validate_data(self, X, reset=False, dtype=np.float64)
        if what == "predict":
            return self._predict_array(X)
        return self._row_values(X, what)

    def transform(self, X):
        """Per-group log-density, squared Mahalanobis distance or posterior.

        Parameters
        ----------
        X : array-like or dask collection of shape (n_samples, n_features)
            A dask array or DataFrame gives a lazy dask array, computed
            block by block.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_groups)
            Column j refers to ``classes_[j]``; what it holds is set by
            ``transform_kind``.
        """
        if self.transform_kind not in _TRANSFORM_ABBREV:
            raise ValueError(
                f"transform_kind must be one of {sorted(_TRANSFORM_ABBREV)}, got "
                f"{self.transform_kind!r}."
            )
        return self._apply(X, self.transform_kind)

    # -- classifying --------------------------------------------------------
    def predict(self, X):
        """The most probable group of each sample (maximum a posteriori).

        The group maximising ``log p(x | group) + log weights_[group]``: the
        rule of :class:`~sklearn.discriminant_analysis.QuadraticDiscriminantAnalysis`
        (with the covariance model, shrinkage and ``priors`` of this
        estimator). With a ``clusterer``, the groups are clusters and the
        prediction is a cluster label, as ``GaussianMixture.predict``.

        Parameters
        ----------
        X : array-like or dask collection of shape (n_samples, n_features)

        Returns
        -------
        y_pred : ndarray of shape (n_samples,)
            Labels from ``classes_`` (a lazy dask array for dask input).
        """
        return self._apply(X, "predict")

    def predict_proba(self, X):
        """Posterior probability of every group, ``weights_`` being the priors.

        Parameters
        ----------
        X : array-like or dask collection of shape (n_samples, n_features)

        Returns
        -------
        proba : ndarray of shape (n_samples, n_groups)
            Column j refers to ``classes_[j]``; rows sum to 1.
        """
        return self._apply(X, "proba")

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed without underflow.

        Parameters
        ----------
        X : array-like or dask collection of shape (n_samples, n_features)

        Returns
        -------
        log_proba : ndarray of shape (n_samples, n_groups)
            ``-inf`` for a group of prior 0.
        """
        return self._apply(X, "log_proba")

    @available_if(_is_supervised)
    def score(self, X, y, sample_weight=None):
        """Mean accuracy of :meth:`predict` on ``X`` against ``y``.

        Not available with a ``clusterer`` (cluster labels are not classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
        """
        return super().score(X, y, sample_weight=sample_weight)

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
        abbrev = _TRANSFORM_ABBREV.get(self.transform_kind, str(self.transform_kind))
        return np.asarray(
            [f"groupgaussians_{abbrev}_{c}" for c in self.classes_], dtype=object
        )

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
        # A classifier unless the groups come from a clusterer (then only a
        # transformer whose predict gives cluster labels).
        tags.target_tags.required = self.clusterer is None
        if self.clusterer is not None:
            tags.estimator_type = None
            tags.classifier_tags = None
        return tags
