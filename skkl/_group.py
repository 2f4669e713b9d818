"""``GroupGaussians``: a transformer that fits one Gaussian per class or cluster."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from joblib import effective_n_jobs
from sklearn.base import (
    BaseEstimator,
    ClassifierMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import unique_labels
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from . import _classifier, _dask
from ._blas import blas_thread_count
from ._fit import fit_gaussians, moment_layout
from ._moments import encode_groups, group_codes, group_moments, merge_moments
from ._validation import check_class_labels, check_no_text

__all__ = ["GroupGaussians"]

_TRANSFORM_ABBREV = {
    "log_likelihood": "loglik",
    "mahalanobis": "mahalanobis",
    "proba": "proba",
}
# Attributes built from the moments; partial_fit drops them until rebuilt.
_DERIVED_ATTRIBUTES = (
    "gaussians_",
    "means_",
    "covariances_",
    "weights_",
    "class_count_",
    "shrinkage_",
)


def _n_threads(n_jobs) -> int:
    """Threads for the moments: ``n_jobs``, or by default the BLAS's own count."""
    return blas_thread_count() if n_jobs is None else effective_n_jobs(n_jobs)


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
    shrinkage : 'auto', None, 'ledoit_wolf', 'oas' or float in [0, 1], \
            default='auto'
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
        'auto' keeps the maximum-likelihood covariance of every group except
        those that are singular up to ``reg_covar`` (fewer samples than
        features, a feature constant within the group, collinear features:
        the ridge would set some variance), which get 'oas' ('full' and
        'tied'; 'diag' and 'spherical' are never shrunk). A
        ``SingularCovarianceWarning`` names those groups and features, with
        'auto' and with None alike. On the digits data every class has blank
        pixels: without shrinkage the log-densities reach -5e7 and
        ``make_pipeline(StandardScaler(), GroupGaussians(),
        LogisticRegression())`` scores 0.37 in 5-fold cross-validation; with
        'auto', 0.93.
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
        Threads over blocks of rows in :meth:`fit` and :meth:`partial_fit`
        (results do not depend on it): ``None`` uses as many as the BLAS may
        (``threadpoolctl`` limits are honoured), as a BLAS product on the
        same data would; -1 means all cores. Also the number of joblib
        threads over row chunks in :meth:`transform` (``None``: 1 unless in
        a :func:`joblib.parallel_config` context) and the default ``n_jobs``
        of :meth:`divergence_matrix`. 0 is an error.

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
            StrOptions({"auto", "ledoit_wolf", "oas"}),
            Interval(Real, 0, 1, closed="both"),
        ],
        "reg_covar": [Interval(Real, 0, None, closed="left")],
        "clusterer": [None, HasMethods(["fit_predict"])],
        "transform_kind": [StrOptions(set(_TRANSFORM_ABBREV))],
        "priors": ["array-like", None],
        "n_jobs": [
            None,
            Interval(Integral, 1, None, closed="left"),
            Interval(Integral, None, -1, closed="right"),
        ],
    }

    def __init__(
        self,
        covariance_type="full",
        *,
        shrinkage="auto",
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
        # Finiteness is checked on the moments (a nan or inf in X makes them
        # non-finite, and then X is checked for the message), saving a pass
        # over X; a clusterer sees X first, so it gets X checked.
        finite = self.clusterer is None
        check_no_text(X)
        if self.clusterer is not None or y is None:
            X = validate_data(self, X, dtype=np.float64, ensure_all_finite=not finite)
        else:
            X, y = validate_data(
                self, X, y, dtype=np.float64, ensure_all_finite=not finite
            )
        if sample_weight is not None:
            check_no_text(sample_weight, "sample_weight")
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        if self.clusterer is not None:
            classes, groups = encode_groups(self._cluster_labels(X, sample_weight))
        elif y is not None:
            check_class_labels(y)
            classes, groups = encode_groups(y)
        else:
            classes, groups = np.array([0]), None
        self.classes_ = classes
        if self.clusterer is None:
            self.__dict__.pop("clusterer_", None)
        full, higher = moment_layout(self.covariance_type, self.shrinkage)
        self._moments = group_moments(
            X,
            groups,
            len(classes),
            sample_weight,
            full=full,
            higher=higher,
            n_threads=_n_threads(self.n_jobs),
        )
        self._set_gaussians()
        return self

    def _cluster_labels(self, X, sample_weight) -> np.ndarray:
        """Labels of ``clone(clusterer).fit_predict(X)``; sets ``clusterer_``."""
        self.clusterer_ = clone(self.clusterer)
        kwargs = {} if sample_weight is None else {"sample_weight": sample_weight}
        try:
            return np.asarray(self.clusterer_.fit_predict(X, **kwargs))
        except TypeError as exc:
            if sample_weight is None:
                raise
            raise TypeError(
                f"clusterer {type(self.clusterer).__name__}.fit_predict does "
                f"not accept sample_weight ({exc}); fit without sample_weight "
                "or use a clusterer that supports it (e.g. KMeans)."
            ) from None

    def _fit_dask(self, X, y, sample_weight):
        """``fit`` on a dask collection: blockwise moments merged in a tree."""
        if self.clusterer is not None:
            raise TypeError(
                "a clusterer needs X in one process (clusterer.fit_predict), but X "
                "is a dask collection; cluster first (e.g. with dask-ml) and pass "
                "the cluster labels as y with clusterer=None."
            )
        X = _dask.validate_features(self, X, reset=True)
        full, higher = moment_layout(self.covariance_type, self.shrinkage)
        # One pass: each block's labels and their moments, merged.
        fitted = _dask.class_moments(X, y, sample_weight, full=full, higher=higher)
        self.classes_ = fitted.classes
        self.__dict__.pop("clusterer_", None)
        self._moments = fitted.moments
        self._set_gaussians(stacklevel=4)
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
        full, higher = moment_layout(self.covariance_type, self.shrinkage)
        if _dask.is_dask_collection(X):
            X = _dask.validate_features(self, X, reset=first_call)
            if classes is not None:
                classes = unique_labels(classes)
            self._check_same_classes(classes, first_call)
            known = classes if first_call else self.classes_
            batch = _dask.class_moments(
                X, y, sample_weight, full=full, higher=higher, classes=known
            )
            if first_call:
                self.classes_ = batch.classes
            return self._merge_batch(batch.moments, first_call)
        y, sample_weight = (
            _dask.compute_if_dask(y),
            _dask.compute_if_dask(sample_weight),
        )
        check_no_text(X)
        X, y = validate_data(self, X, y, dtype=np.float64, reset=first_call)
        check_class_labels(y)
        if first_call:
            self.classes_ = unique_labels(y if classes is None else classes)
        self._check_same_classes(classes, first_call)
        groups, unknown = group_codes(y, self.classes_)
        if unknown.size:
            raise ValueError(
                f"y contains labels {np.unique(unknown).tolist()} that are not in "
                f"classes_={self.classes_.tolist()}; pass every label in "
                "`classes` on the first call to partial_fit."
            )
        if sample_weight is not None:
            check_no_text(sample_weight, "sample_weight")
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        batch = group_moments(
            X,
            groups,
            len(self.classes_),
            sample_weight,
            full=full,
            higher=higher,
            n_threads=_n_threads(self.n_jobs),
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
            self._set_gaussians(stacklevel=4)
        return self

    # -- from moments to Gaussians -------------------------------------------
    def _set_gaussians(self, stacklevel: int = 3):
        """Build the Gaussians from ``_moments`` (warnings point ``stacklevel``
        frames above this method: the user's call of fit)."""
        fit = fit_gaussians(
            self._moments,
            self.classes_,
            covariance_type=self.covariance_type,
            shrinkage=self.shrinkage,
            reg_covar=self.reg_covar,
            priors=self.priors,
            feature_names=getattr(self, "feature_names_in_", None),
            stacklevel=stacklevel,
        )
        self.gaussians_ = fit.gaussians
        self.means_ = fit.gaussians.means
        self.covariances_ = fit.gaussians.covariances
        self.class_count_ = fit.class_count
        self.shrinkage_ = fit.shrinkage
        self.weights_ = fit.weights

    # -- transforming -------------------------------------------------------
    def _check_gaussians(self):
        check_is_fitted(self, "classes_")
        if not hasattr(self, "gaussians_"):
            missing = self.classes_[self._moments.weight <= 0]
            raise ValueError(
                f"classes {missing.tolist()} have received no samples yet; call "
                "partial_fit with samples of every class before transform."
            )

    def _values(self, X: np.ndarray, what: str) -> np.ndarray:
        """``what`` ('predict' or one of ``_classifier.ROW_VALUES``) of rows X."""
        G, weights = self.gaussians_, self.weights_
        if what == "predict":
            return _classifier.predict(G, weights, self.classes_, X, self.n_jobs)
        return _classifier.row_values(G, weights, X, what, self.n_jobs)

    def _block_values(self, X, what: str) -> np.ndarray:
        """``_row_values`` on one block of a dask collection (validated here)."""
        X = check_array(X, dtype=np.float64, ensure_min_samples=0)
        if X.shape[1] != self.n_features_in_:
            raise ValueError(
                f"X has {X.shape[1]} features, but {type(self).__name__} is "
                f"expecting {self.n_features_in_} features as input."
            )
        return self._values(X, what)

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
        check_no_text(X)
        X = validate_data(self, X, reset=False, dtype=np.float64)
        return self._values(X, what)

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
