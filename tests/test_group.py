"""Tests for skkl.GroupGaussians and the moment helpers in skkl._moments."""

import numpy as np
import pytest
from _builders import class_data
from numpy.testing import assert_allclose, assert_array_equal
from scipy.stats import multivariate_normal
from sklearn import config_context
from sklearn.cluster import KMeans
from sklearn.covariance import OAS, LedoitWolf, empirical_covariance, shrunk_covariance
from sklearn.datasets import load_breast_cancer, load_digits, load_wine, make_blobs
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
from sklearn.linear_model import LogisticRegression
from sklearn.mixture import GaussianMixture
from sklearn.mixture._gaussian_mixture import _compute_precision_cholesky
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import (
    check_set_output_transform,
    check_transformer_get_feature_names_out,
    parametrize_with_checks,
)

from skkl import Gaussians, GroupGaussians, divergence
from skkl._fit import SingularCovarianceWarning
from skkl._moments import group_moments, merge_moments

TYPES = ["full", "diag", "spherical", "tied"]


def _kmeans():
    return KMeans(3, n_init=1, random_state=0)


ESTIMATORS = [
    GroupGaussians(),
    GroupGaussians("diag", transform_kind="mahalanobis"),
    GroupGaussians("tied", transform_kind="proba"),
    GroupGaussians("spherical", shrinkage=0.3),
    GroupGaussians(shrinkage="ledoit_wolf", transform_kind="proba"),
    GroupGaussians("diag", shrinkage="oas"),
    GroupGaussians(clusterer=_kmeans()),
    GroupGaussians("tied", clusterer=_kmeans(), transform_kind="mahalanobis"),
    GroupGaussians("diag", clusterer=_kmeans(), transform_kind="proba"),
]


def _expected_failed_checks(estimator):
    if estimator.clusterer is not None:
        # KMeans(n_init=1) draws its initial centres from the data, so repeating
        # samples (instead of weighting them) changes the clusters and hence the
        # groups. scikit-learn lists the same check as an expected failure for
        # KMeans itself; without a clusterer GroupGaussians passes it.
        return {
            "check_sample_weight_equivalence_on_dense_data": (
                "the clusterer's labels are not invariant to repeating samples"
            )
        }
    return {}


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failed_checks)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


@pytest.mark.parametrize(
    "estimator", [ESTIMATORS[0], ESTIMATORS[2], ESTIMATORS[6]], ids=repr
)
@pytest.mark.parametrize(
    "check", [check_transformer_get_feature_names_out, check_set_output_transform]
)
def test_feature_names_and_set_output_checks(estimator, check):
    check(type(estimator).__name__, estimator)


# -- helpers: independent computations --------------------------------------


def _reference_gaussian_mixture(gg):
    """A GaussianMixture carrying gg's fitted parameters (sklearn's own maths)."""
    gmm = GaussianMixture(len(gg.classes_), covariance_type=gg.covariance_type)
    gmm.weights_ = gg.weights_
    gmm.means_ = np.array(gg.means_)
    gmm.covariances_ = np.array(gg.covariances_)
    gmm.precisions_cholesky_ = _compute_precision_cholesky(
        gmm.covariances_, gg.covariance_type
    )
    return gmm


def _class_covariance(Xg, kind, reg=0.0):
    """ML covariance of one class by np.cov, in the layout of ``kind``."""
    S = np.atleast_2d(np.cov(Xg, rowvar=False, bias=True))
    S = S + reg * np.eye(S.shape[0])
    if kind == "diag":
        return np.diag(S)
    if kind == "spherical":
        return np.diag(S).mean()
    return S


# -- moments -------------------------------------------------------------------


@pytest.mark.parametrize("weighted", [False, True])
def test_group_moments_match_per_group_numpy(weighted):
    X, y = class_data(n=200, d=3, K=4, seed=1)
    w = np.random.default_rng(2).uniform(0.1, 3.0, size=len(y)) if weighted else None
    mom = group_moments(X, y, 5, w, full=True, higher=True)  # group 4 is empty
    for g in range(4):
        Xg = X[y == g]
        wg = np.ones(len(Xg)) if w is None else w[y == g]
        m = np.average(Xg, axis=0, weights=wg)
        U = Xg - m
        r = (U**2).sum(1)
        assert_allclose(mom.weight[g], wg.sum())
        assert mom.count[g] == len(Xg)
        assert_allclose(mom.mean[g], m, rtol=1e-12)
        assert_allclose(mom.scatter[g], (U * wg[:, None]).T @ U, rtol=1e-10)
        assert_allclose(mom.third[g], (wg * r) @ U, rtol=1e-9, atol=1e-9)
        assert_allclose(mom.fourth[g], wg @ r**2, rtol=1e-10)
    assert mom.weight[4] == 0 and mom.count[4] == 0 and not mom.scatter[4].any()
    diag = group_moments(X, y, 5, w, full=False)
    assert_allclose(
        diag.scatter, np.diagonal(mom.scatter, axis1=1, axis2=2), rtol=1e-12
    )


@pytest.mark.parametrize("full", [True, False])
@pytest.mark.parametrize("n_threads", [1, 3])
def test_group_moments_over_many_blocks(monkeypatch, full, n_threads):
    # Pieces of 7 rows in blocks of 15: every group spans several pieces and
    # blocks that must be combined.
    monkeypatch.setattr("skkl._moments._PIECE_BYTES", 7 * 8 * 3)
    monkeypatch.setattr("skkl._moments._MIN_ROWS_PER_GROUP", 5)
    X, y = class_data(n=100, d=3, K=3, seed=25, offset=1e3)
    w = np.random.default_rng(26).uniform(0.0, 2.0, size=len(y))
    mom = group_moments(X, y, 3, w, full=full, higher=full, n_threads=n_threads)
    for g in range(3):
        Xg, wg = X[y == g], w[y == g]
        m = np.average(Xg, axis=0, weights=wg)
        U = Xg - m
        S = (U * wg[:, None]).T @ U
        assert_allclose(mom.mean[g], m, rtol=1e-13)
        assert_allclose(mom.scatter[g], S if full else np.diag(S), rtol=1e-9)
        if full:
            r = (U**2).sum(1)
            assert_allclose(mom.fourth[g], wg @ r**2, rtol=1e-9)
            assert_allclose(mom.third[g], (wg * r) @ U, rtol=1e-7, atol=1e-6)


def test_merge_moments_is_stable_far_from_origin():
    # Data at 1e8 with unit spread: raw sums of squares (sum x^2 - n m^2) would
    # lose every digit (error ~ eps * 1e16). The pairwise update only carries
    # the rounding of the batch means, eps * 1e8 relative to the spread.
    X, y = class_data(n=400, d=3, K=3, seed=3, offset=1e8)
    w = np.random.default_rng(4).uniform(0.5, 2.0, size=len(y))
    whole = group_moments(X, y, 3, w, higher=True)
    parts = [slice(0, 7), slice(7, 150), slice(150, 151), slice(151, 400)]
    merged = None
    for s in parts:
        b = group_moments(X[s], y[s], 3, w[s], higher=True)
        merged = b if merged is None else merge_moments(merged, b)
    assert_allclose(merged.mean, whole.mean, rtol=1e-14)
    for name in ("scatter", "third", "fourth"):
        ref = getattr(whole, name)
        atol = 1e-6 * abs(ref).max()
        assert_allclose(getattr(merged, name), ref, rtol=1e-6, atol=atol)


# -- fit: parameters against independent estimates --------------------------


@pytest.mark.parametrize("kind", TYPES)
def test_fit_matches_per_class_ml_estimates(kind):
    X, y = class_data()
    gg = GroupGaussians(kind, reg_covar=1e-3).fit(X, y)
    assert_array_equal(gg.classes_, [0, 1, 2])
    assert_allclose(gg.class_count_, np.bincount(y))
    assert_allclose(gg.weights_, np.bincount(y) / len(y))
    for g in range(3):
        assert_allclose(gg.means_[g], X[y == g].mean(0), rtol=1e-12)
    if kind == "tied":
        resid = X - gg.means_[y]
        expected = resid.T @ resid / len(y) + 1e-3 * np.eye(X.shape[1])
        assert_allclose(gg.covariances_, expected, rtol=1e-12)
    else:
        for g in range(3):
            assert_allclose(
                gg.covariances_[g], _class_covariance(X[y == g], kind, 1e-3), rtol=1e-12
            )
    assert isinstance(gg.gaussians_, Gaussians)
    assert gg.gaussians_.covariance_type == kind


@pytest.mark.parametrize("priors", [None, [0.6, 0.3, 0.1]])
def test_matches_quadratic_discriminant_analysis(priors):
    # scikit-learn >= 1.8 QDA stores the ML covariance (S^2 / n).
    X, y = class_data(n=200)
    gg = GroupGaussians(reg_covar=0, priors=priors, transform_kind="proba")
    gg.fit(X, y)
    qda = QuadraticDiscriminantAnalysis(priors=priors, store_covariance=True)
    qda.fit(X, y)
    assert_allclose(gg.means_, qda.means_, rtol=1e-12)
    assert_allclose(gg.covariances_, qda.covariance_, rtol=1e-10)
    Xt = X[:50] * 1.3
    assert_allclose(gg.transform(Xt), qda.predict_proba(Xt), rtol=1e-8, atol=1e-13)


@pytest.mark.parametrize("kind", ["full", "diag", "spherical", "tied"])
@pytest.mark.parametrize("shrinkage", ["ledoit_wolf", "oas", 0.25])
def test_shrinkage_matches_sklearn_covariance(kind, shrinkage):
    X, y = class_data(n=90, d=5, seed=5)
    gg = GroupGaussians(kind, shrinkage=shrinkage, reg_covar=0).fit(X, y)

    def reference(Z, assume_centered=False):
        if shrinkage == "ledoit_wolf":
            est = LedoitWolf(assume_centered=assume_centered).fit(Z)
        elif shrinkage == "oas":
            est = OAS(assume_centered=assume_centered).fit(Z)
        else:
            emp = empirical_covariance(Z, assume_centered=assume_centered)
            return shrunk_covariance(emp, shrinkage), shrinkage
        return est.covariance_, est.shrinkage_

    if kind == "tied":
        cov, a = reference(X - gg.means_[y], assume_centered=True)
        assert_allclose(gg.covariances_, cov, rtol=1e-10)
        assert_allclose(gg.shrinkage_, a, rtol=1e-10)
        return
    for g in range(3):
        cov, a = reference(X[y == g])
        assert 0 < a < 1
        assert_allclose(gg.shrinkage_[g], a, rtol=1e-10)
        expected = {"full": cov, "diag": np.diag(cov)}.get(kind, np.trace(cov) / 5)
        assert_allclose(gg.covariances_[g], expected, rtol=1e-10)


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("shrinkage", [None, "ledoit_wolf", "oas"])
def test_integer_sample_weight_equals_repetition(kind, shrinkage):
    X, y = class_data(n=60, seed=6)
    w = np.random.default_rng(7).integers(0, 4, size=len(y))
    w[[np.flatnonzero(y == g)[0] for g in range(3)]] = 1  # every class keeps weight
    a = GroupGaussians(kind, shrinkage=shrinkage).fit(X, y, sample_weight=w)
    b = GroupGaussians(kind, shrinkage=shrinkage).fit(X.repeat(w, 0), y.repeat(w))
    assert_allclose(a.covariances_, b.covariances_, rtol=1e-10)
    assert_allclose(a.means_, b.means_, rtol=1e-12)
    assert_allclose(a.shrinkage_, b.shrinkage_, rtol=1e-10, atol=1e-14)
    assert_allclose(a.transform(X), b.transform(X), rtol=1e-9)


def test_inputs_are_not_modified_and_float32_is_computed_in_float64():
    X, y = class_data(n=50)
    X32 = X.astype(np.float32)
    w = np.linspace(0.5, 2, len(y))
    X_copy, w_copy = X32.copy(), w.copy()
    gg = GroupGaussians().fit(X32, y, sample_weight=w)
    assert_array_equal(X32, X_copy)
    assert_array_equal(w, w_copy)
    ref = GroupGaussians().fit(X32.astype(np.float64), y, sample_weight=w)
    assert gg.means_.dtype == np.float64
    assert_allclose(gg.covariances_, ref.covariances_, rtol=1e-14)
    assert gg.transform(X32).dtype == np.float64


def test_no_y_and_no_clusterer_is_one_group():
    X, _ = class_data(n=80)
    gg = GroupGaussians(reg_covar=0).fit(X)
    ref = Gaussians.from_samples(X)
    assert_array_equal(gg.classes_, [0])
    assert_allclose(gg.means_, ref.means, rtol=1e-12)
    assert_allclose(gg.covariances_, ref.covariances, rtol=1e-12)


def test_clusterer_groups_and_y_is_ignored():
    X, _ = make_blobs(150, n_features=3, centers=3, random_state=0)
    labels = _kmeans().fit_predict(X)
    gg = GroupGaussians(clusterer=_kmeans()).fit(X, np.zeros(len(X)))
    ref = GroupGaussians().fit(X, labels)
    assert_array_equal(gg.classes_, [0, 1, 2])
    assert_allclose(gg.means_, ref.means_)
    assert_allclose(gg.covariances_, ref.covariances_)
    assert_array_equal(gg.clusterer_.labels_, labels)
    assert gg.clusterer.__dict__.get("labels_") is None  # the given one is unfitted
    assert not gg.__sklearn_tags__().target_tags.required
    assert GroupGaussians().__sklearn_tags__().target_tags.required


def test_thousands_of_groups():
    rng = np.random.default_rng(8)
    K, d = 2000, 3
    y = np.repeat(np.arange(K), 5)
    X = rng.normal(size=(len(y), d)) + 10 * rng.normal(size=(K, d))[y]
    gg = GroupGaussians(reg_covar=0).fit(X, y)
    for g in (0, 777, K - 1):
        assert_allclose(gg.covariances_[g], _class_covariance(X[y == g], "full"))
    assert gg.transform(X[:10]).shape == (10, K)


# -- transform -------------------------------------------------------------------


@pytest.mark.parametrize("kind", TYPES)
def test_transform_matches_gaussian_mixture_maths(kind):
    X, y = class_data(seed=9)
    gg = GroupGaussians(kind, reg_covar=1e-2, priors=[0.2, 0.5, 0.3]).fit(X, y)
    gmm = _reference_gaussian_mixture(gg)
    Xt = X[:40] + 0.5
    loglik = gg.transform(Xt)
    assert_allclose(loglik, gmm._estimate_log_prob(Xt), rtol=1e-10)
    proba = gg.set_params(transform_kind="proba").transform(Xt)
    assert_allclose(proba, gmm.predict_proba(Xt), rtol=1e-8, atol=1e-12)
    assert_allclose(proba.sum(1), 1.0)
    maha = gg.set_params(transform_kind="mahalanobis").transform(Xt)
    d = X.shape[1]
    const = d * np.log(2 * np.pi) + gg.gaussians_.logdet
    assert_allclose(maha, -2 * loglik - const, rtol=1e-8)


def test_full_transform_matches_scipy():
    X, y = class_data(seed=10)
    gg = GroupGaussians(reg_covar=0).fit(X, y)
    Xt = X[:30]
    for g in range(3):
        S = gg.covariances_[g]
        dist = multivariate_normal(gg.means_[g], S)
        assert_allclose(gg.transform(Xt)[:, g], dist.logpdf(Xt), rtol=1e-10)
        D = Xt - gg.means_[g]
        maha = np.einsum("ij,ij->i", D, np.linalg.solve(S, D.T).T)
        gg.set_params(transform_kind="mahalanobis")
        assert_allclose(gg.transform(Xt)[:, g], maha, rtol=1e-9)
        gg.set_params(transform_kind="log_likelihood")


def test_proba_is_stable_far_from_every_group():
    X, y = class_data(seed=11)
    gg = GroupGaussians(transform_kind="proba").fit(X, y)
    P = gg.transform(X[:5] + 1e3)  # log-densities around -1e5: exp underflows
    assert np.all(np.isfinite(P))
    assert_allclose(P.sum(1), 1.0)


def test_zero_prior_gives_zero_posterior():
    X, y = class_data(seed=12)
    gg = GroupGaussians(transform_kind="proba", priors=[0.5, 0.0, 0.5]).fit(X, y)
    P = gg.transform(X)
    assert_array_equal(P[:, 1], 0.0)
    assert_allclose(P.sum(1), 1.0)


@pytest.mark.parametrize("kind", ["full", "tied", "diag"])
def test_transform_chunked_and_threaded_equals_single_block(kind):
    X, y = class_data(n=400, seed=13)
    gg = GroupGaussians(kind).fit(X, y)
    whole = gg.transform(X)
    with config_context(working_memory=0.002):  # about 40 rows per chunk
        gg.set_params(n_jobs=2)
        chunked = gg.transform(X)
    assert_allclose(chunked, whole, rtol=1e-12)


def test_pandas_output_and_feature_names():
    pd = pytest.importorskip("pandas")
    X, y = class_data(n=60)
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    labels = np.array(["cat", "dog", "eel"])[y]
    gg = GroupGaussians(transform_kind="mahalanobis").set_output(transform="pandas")
    out = gg.fit(df, labels).transform(df)
    assert_array_equal(gg.feature_names_in_, ["a", "b", "c", "d"])
    assert list(out.columns) == [
        "groupgaussians_mahalanobis_cat",
        "groupgaussians_mahalanobis_dog",
        "groupgaussians_mahalanobis_eel",
    ]
    assert_array_equal(out.index, df.index)
    assert_allclose(out.to_numpy(), gg.set_output(transform="default").transform(df))


# -- partial_fit ---------------------------------------------------------------


@pytest.mark.parametrize("kind", TYPES)
@pytest.mark.parametrize("shrinkage", [None, "ledoit_wolf", "oas"])
def test_partial_fit_equals_fit_on_concatenation(kind, shrinkage):
    X, y = class_data(n=300, seed=14, offset=50.0)
    w = np.random.default_rng(15).uniform(0.2, 2.0, size=len(y))
    order = np.argsort(y, kind="stable")  # first batches see only some classes
    X, y, w = X[order], y[order], w[order]
    params = dict(covariance_type=kind, shrinkage=shrinkage)
    stream = GroupGaussians(**params)
    for s in np.array_split(np.arange(len(y)), 7):
        stream.partial_fit(X[s], y[s], classes=[0, 1, 2], sample_weight=w[s])
    full = GroupGaussians(**params).fit(X, y, sample_weight=w)
    assert_allclose(stream.means_, full.means_, rtol=1e-12)
    assert_allclose(stream.covariances_, full.covariances_, rtol=1e-10)
    assert_allclose(stream.shrinkage_, full.shrinkage_, rtol=1e-10, atol=1e-15)
    assert_allclose(stream.class_count_, full.class_count_, rtol=1e-13)
    assert_allclose(stream.transform(X), full.transform(X), rtol=1e-10)


def test_partial_fit_continues_after_fit_and_infers_classes():
    X, y = class_data(n=120, seed=16)
    gg = GroupGaussians().fit(X[:60], y[:60]).partial_fit(X[60:], y[60:])
    assert_allclose(gg.covariances_, GroupGaussians().fit(X, y).covariances_)
    first = GroupGaussians().partial_fit(X[:60], y[:60])  # classes from y
    assert_array_equal(first.classes_, [0, 1, 2])


def test_partial_fit_before_every_class_is_seen():
    X, y = class_data(n=90, seed=17)
    gg = GroupGaussians().partial_fit(X[y == 0], y[y == 0], classes=[0, 1, 2])
    with pytest.raises(ValueError, match=r"classes \[1, 2\] have received no samples"):
        gg.transform(X)
    gg.partial_fit(X[y != 0], y[y != 0])
    assert gg.transform(X).shape == (90, 3)


def test_partial_fit_errors():
    X, y = class_data(n=60, seed=18)
    gg = GroupGaussians().partial_fit(X[y < 2], y[y < 2])
    with pytest.raises(ValueError, match=r"labels \[2\] that are not in classes_"):
        gg.partial_fit(X, y)
    with pytest.raises(ValueError, match="differs from classes_"):
        gg.partial_fit(X[y < 2], y[y < 2], classes=[0, 1, 2])
    with pytest.raises(ValueError, match="X has 3 features"):
        gg.partial_fit(X[:, :3], y)
    clustered = GroupGaussians(clusterer=_kmeans())
    assert not hasattr(clustered, "partial_fit")
    with pytest.raises(AttributeError) as exc:
        clustered.partial_fit(X, y)
    assert "not supported with a clusterer" in str(exc.value.__cause__)


# -- errors ----------------------------------------------------------------------


def test_one_sample_class_without_regularisation_is_an_error():
    X, y = class_data(n=40, seed=19)
    y[5] = 7  # class 7 has one sample
    # One sample: shrinkage cannot help, so only reg_covar is suggested.
    one_sample = (
        r"class 7 has 1 sample\(s\).*least 5\); set reg_covar > 0 \(e.g. 1e-6\)\.$"
    )
    with pytest.raises(ValueError, match=one_sample):
        GroupGaussians(reg_covar=0).fit(X, y)
    with pytest.raises(ValueError, match=r"class 7 has 1 sample.*at least 2"):
        GroupGaussians("diag", reg_covar=0).fit(X, y)
    # Any ridge makes it a valid (if narrow) Gaussian.
    gg = GroupGaussians(reg_covar=1e-3).fit(X, y)
    assert_allclose(gg.covariances_[-1], 1e-3 * np.eye(4))
    assert np.all(np.isfinite(gg.transform(X)))


def test_too_few_samples_for_full_covariance():
    X, y = class_data(n=60, d=4, seed=20)
    y[:4] = 9  # 4 samples in 4 dimensions: rank 3
    with pytest.raises(
        ValueError,
        match=r"class 9 has 4 sample.*at least 5.*shrinkage or covariance_type=.diag.",
    ):
        GroupGaussians(reg_covar=0).fit(X, y)
    # Shrinkage towards mu * I makes it positive definite.
    gg = GroupGaussians(reg_covar=0, shrinkage="oas").fit(X, y)
    assert np.all(np.linalg.eigvalsh(gg.covariances_[-1]) > 0)
    with pytest.raises(ValueError, match=r"pooled \(tied\).*at least 7 samples"):
        GroupGaussians("tied", reg_covar=0).fit(X[:6], [0, 0, 1, 1, 2, 2])


def test_constant_feature_error_names_the_feature():
    pd = pytest.importorskip("pandas")
    X, y = class_data(n=60, seed=21)
    X[y == 1, 2] = 3.3
    with pytest.raises(ValueError, match=r"feature 2 is constant within class"):
        GroupGaussians(reg_covar=0).fit(X, y)
    df = pd.DataFrame(X, columns=["a", "b", "height", "d"])
    with pytest.raises(ValueError, match=r"feature 2 \('height'\) is constant"):
        GroupGaussians("diag", reg_covar=0).fit(df, y)
    with pytest.warns(SingularCovarianceWarning, match=r"class 1 .*height"):
        gg = GroupGaussians(reg_covar=1e-6, shrinkage=None).fit(df, y)
    assert gg.covariances_[1, 2, 2] == 1e-6
    X[:, 1] = 2.0
    with pytest.raises(ValueError, match=r"feature 1 is constant within every class"):
        GroupGaussians("tied", reg_covar=0).fit(X, y)


@pytest.mark.parametrize("kind", ["full", "tied"])
def test_collinear_features_without_regularisation_are_an_error(kind):
    X, y = class_data(n=90, seed=24)
    X[:, 3] = X[:, 0] - 2 * X[:, 1]
    with pytest.raises(ValueError, match="linear|linearly dependent"):
        GroupGaussians(kind, reg_covar=0).fit(X, y)
    X[:, 3] = X[:, 0]  # exact copy: the pivot is rounding noise or negative
    with pytest.raises(ValueError, match="linear|linearly dependent"):
        GroupGaussians(kind, reg_covar=0).fit(X, y)
    gg = GroupGaussians(kind, reg_covar=1e-6).fit(X, y)
    assert np.all(np.isfinite(gg.transform(X)))


def test_other_input_errors():
    X, y = class_data(n=60, seed=22)
    w = np.ones(len(y))
    w[y == 2] = 0
    with pytest.raises(ValueError, match=r"class 2 has zero total sample_weight"):
        GroupGaussians().fit(X, y, sample_weight=w)
    with pytest.raises(ValueError, match=r"one entry per group \(3\)"):
        GroupGaussians(priors=[0.5, 0.5]).fit(X, y)
    with pytest.raises(ValueError, match="priors must sum to 1"):
        GroupGaussians(priors=[0.5, 0.5, 0.5]).fit(X, y)
    with pytest.raises(ValueError, match="shrinkage"):
        GroupGaussians(shrinkage=1.5).fit(X, y)
    with pytest.raises(ValueError, match="Unknown label type"):
        GroupGaussians().fit(X, X[:, 0])
    with pytest.raises(ValueError, match="moments of X overflow float64"):
        GroupGaussians().fit(X * 1e160, y)
    gg = GroupGaussians().fit(X, y)
    with pytest.raises(ValueError, match="densities overflowed float64"):
        gg.transform(X * 1e160)
    with pytest.raises(ValueError, match="X has 2 features"):
        gg.transform(X[:, :2])


# -- divergences between groups ----------------------------------------------


@pytest.mark.parametrize("kind", TYPES)
def test_divergence_matrix_matches_pointwise_divergence(kind):
    X, y = class_data(seed=23)
    gg = GroupGaussians(kind).fit(X, y)
    G = gg.gaussians_
    for div, kwargs in [("kl", {}), ("jeffreys", {}), ("renyi", {"alpha": 0.3})]:
        D = gg.divergence_matrix(div, **kwargs)
        expected = [
            [divergence(G[i], G[j], kind=div, **kwargs)[0] for j in range(3)]
            for i in range(3)
        ]
        assert_allclose(D, expected, rtol=1e-9, atol=1e-12)
    assert np.all(np.diag(D) == 0) and D[0, 1] > 0


# -- pipelines -----------------------------------------------------------------


def _grid_scores(X, y, gg_grid, qda_grid, cv):
    pipe = Pipeline(
        [
            ("scale", StandardScaler()),
            ("gg", GroupGaussians(transform_kind="proba")),
            ("lr", LogisticRegression()),
        ]
    )
    gg_search = GridSearchCV(pipe, gg_grid, cv=cv).fit(X, y)
    qda = Pipeline(
        [("scale", StandardScaler()), ("qda", QuadraticDiscriminantAnalysis())]
    )
    qda_search = GridSearchCV(qda, qda_grid, cv=cv).fit(X, y)
    return gg_search, qda_search


# Small grids keep this fast: wine searches covariance_type x shrinkage, digits
# (64 features, 10 classes) only shrinkage of the best type, 'full'.
PIPELINE_GRIDS = {
    "wine": {"gg__covariance_type": ["full", "tied"], "gg__shrinkage": ["oas", 0.1]},
    "digits": {"gg__covariance_type": ["full"], "gg__shrinkage": ["oas", 0.1]},
}


# QDA's reg_param: in a 5-fold search over [0, 0.01, 0.03, 0.1, 0.3, 0.5, 0.9]
# the best was 0.01 on wine (0.994) and 0.1 on digits (0.977); on digits each
# QDA fit is a 64-d SVD per class, so only the best value is refitted here.
QDA_REG_PARAMS = {"wine": [0.01, 0.1, 0.3], "digits": [0.1]}


@pytest.mark.parametrize("dataset", ["wine", "digits"])
def test_pipeline_accuracy_close_to_qda(dataset):
    # Both sides are the best cross-validated accuracy of a small grid on the
    # same folds: the GroupGaussians pipeline over PIPELINE_GRIDS, QDA (same
    # StandardScaler) over reg_param. Observed: wine 0.994 vs 0.989, digits
    # 0.977 vs 0.978.
    X, y = (load_wine if dataset == "wine" else load_digits)(return_X_y=True)
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    qda_grid = {"qda__reg_param": QDA_REG_PARAMS[dataset]}
    gg_search, qda_search = _grid_scores(X, y, PIPELINE_GRIDS[dataset], qda_grid, cv)
    print(
        dataset, gg_search.best_score_, gg_search.best_params_, qda_search.best_score_
    )
    assert gg_search.best_score_ >= qda_search.best_score_ - 0.02
    # The fitted pipeline's GroupGaussians step exposes its Gaussians.
    step = gg_search.best_estimator_.named_steps["gg"]
    assert len(step.gaussians_) == len(np.unique(y))


def test_priors_validated_by_one_helper_shared_with_separability():
    from skkl.separability import bayes_error_bounds_gaussians

    X, y = class_data(n=30, seed=5)
    for bad in ([0.5, 0.7, -0.2], [0.5, np.nan, 0.5], ["a", "b", "c"]):
        with pytest.raises(ValueError, match=r"priors must have one entry per group"):
            GroupGaussians(priors=bad).fit(X, y)
    G = GroupGaussians().fit(X, y).gaussians_
    with pytest.raises(ValueError, match=r"priors must have one entry per group"):
        bayes_error_bounds_gaussians(G, [0.5, 0.7, -0.2])
    gg = GroupGaussians(priors=[0.2, 0.3, 0.5 + 1e-9]).fit(X, y)
    np.testing.assert_allclose(gg.weights_.sum(), 1.0, rtol=0, atol=1e-15)


def test_shrink_helper_matches_sklearn_shrunk_covariance():
    from sklearn.covariance import shrunk_covariance

    from skkl._moments import shrink

    rng = np.random.default_rng(6)
    A = rng.normal(size=(3, 4, 4))
    S = A @ A.transpose(0, 2, 1)
    a = np.array([0.0, 0.3, 1.0])
    S_in = S.copy()
    out = shrink(S, a)
    ref = [shrunk_covariance(S[k], a[k]) for k in range(3)]
    np.testing.assert_allclose(out, ref, rtol=1e-14, atol=1e-14)
    diag = np.diagonal(S, axis1=1, axis2=2)
    np.testing.assert_allclose(shrink(diag, a), np.diagonal(out, axis1=1, axis2=2))
    np.testing.assert_array_equal(S, S_in)  # input untouched


@pytest.mark.parametrize("covariance_type", ["full", "diag"])
@pytest.mark.parametrize("shrinkage", [None, "ledoit_wolf"])
def test_threaded_fit_matches_serial(covariance_type, shrinkage):
    # Enough rows for many blocks per group, so threads share the work. The
    # blocks and their merge order are the same; only the BLAS threading of
    # each block's sums differs (one thread per block vs the caller's), which
    # reorders sums of a few thousand terms: relative error ~ block * eps.
    rng = np.random.default_rng(3)
    X = rng.normal(size=(30_000, 12)) * rng.uniform(0.5, 3, size=12) + 100.0
    y = rng.integers(4, size=len(X))
    w = rng.uniform(0.1, 2.0, size=len(X))
    params = dict(covariance_type=covariance_type, shrinkage=shrinkage)
    serial = GroupGaussians(**params).fit(X, y, sample_weight=w)
    threaded = GroupGaussians(**params, n_jobs=2).fit(X, y, sample_weight=w)
    np.testing.assert_allclose(threaded.means_, serial.means_, rtol=1e-12)
    # off-diagonal entries near 0 are judged against the largest variance
    scale = np.abs(serial.covariances_).max()
    np.testing.assert_allclose(
        threaded.covariances_, serial.covariances_, rtol=1e-11, atol=1e-12 * scale
    )
    streamed = GroupGaussians(**params, n_jobs=2)
    for part in np.array_split(np.arange(len(X)), 3):
        streamed.partial_fit(
            X[part], y[part], classes=np.arange(4), sample_weight=w[part]
        )
    np.testing.assert_allclose(streamed.covariances_, serial.covariances_, rtol=1e-10)


# -- the classifier --------------------------------------------------------------


def _decisions_agree(pred, ref_pred, ref_decision, rtol=1e-7):
    """Same labels wherever the reference's top two scores are not tied."""
    if ref_decision.ndim == 1:  # binary: the log-odds of class 1 against 0
        ref_decision = np.column_stack([np.zeros_like(ref_decision), ref_decision])
    top2 = np.sort(ref_decision, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    tied = margin <= rtol * (1.0 + np.abs(top2).max(axis=1))
    assert np.all((pred == ref_pred) | tied)
    return int(tied.sum())


@pytest.mark.parametrize("loader", [load_wine, load_breast_cancer], ids=["wine", "bc"])
@pytest.mark.parametrize("shrinkage", [None, 0.2])
def test_predict_matches_sklearn_qda(loader, shrinkage):
    # QDA's 'eigen' solver uses the maximum-likelihood covariance (shrunk by
    # sklearn.covariance.shrunk_covariance for a float): the same model. Its
    # rank check (tol) is relative to 1: breast cancer's covariance eigenvalues
    # span more than 1e4 but are all positive.
    X, y = loader(return_X_y=True)
    K = len(np.unique(y))
    priors = np.full(K, 1.0 / K)
    qda = QuadraticDiscriminantAnalysis(
        solver="eigen", shrinkage=shrinkage, priors=priors, tol=1e-14
    ).fit(X, y)
    gg = GroupGaussians(shrinkage=shrinkage, reg_covar=0.0, priors=priors).fit(X, y)
    n_tied = _decisions_agree(gg.predict(X), qda.predict(X), qda.decision_function(X))
    assert n_tied <= 2
    # Posteriors agree where they are not at the rounding level of 0 or 1.
    assert_allclose(gg.predict_proba(X), qda.predict_proba(X), rtol=1e-5, atol=1e-8)
    assert gg.score(X, y) == pytest.approx(qda.score(X, y), abs=n_tied / len(y))


def test_predict_is_map_rule_with_priors():
    X, y = class_data(n=400, seed=31)
    gg = GroupGaussians(priors=[0.7, 0.2, 0.1]).fit(X, y)
    loglik = GroupGaussians().fit(X, y).transform(X)  # log-densities, no priors
    joint = loglik + np.log([0.7, 0.2, 0.1])
    assert_array_equal(gg.predict(X), gg.classes_[np.argmax(joint, axis=1)])
    post = np.exp(joint - joint.max(axis=1, keepdims=True))
    post /= post.sum(axis=1, keepdims=True)
    assert_allclose(gg.predict_proba(X), post, rtol=1e-10, atol=1e-15)
    assert_allclose(np.exp(gg.predict_log_proba(X)), post, rtol=1e-10, atol=1e-15)
    # A class of prior 0 is never predicted; its log-posterior is -inf.
    gg0 = GroupGaussians(priors=[0.5, 0.5, 0.0]).fit(X, y)
    assert not np.any(gg0.predict(X) == 2)
    assert np.all(gg0.predict_log_proba(X)[:, 2] == -np.inf)


def test_string_labels_and_partial_fit_classifier():
    X, y = class_data(n=300, seed=32)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    gg = GroupGaussians(shrinkage="oas")
    for s in np.array_split(np.arange(300), 3):
        gg.partial_fit(X[s], names[s], classes=np.unique(names))
    full = GroupGaussians(shrinkage="oas").fit(X, names)
    assert_array_equal(gg.predict(X), full.predict(X))
    assert set(gg.predict(X)) <= set(names)
    assert gg.score(X, names) > 0.9


def test_clusterer_mode_predicts_cluster_labels():
    X, _ = make_blobs(300, centers=3, random_state=0)
    gg = GroupGaussians(clusterer=_kmeans()).fit(X)
    labels = gg.clusterer_.labels_
    # Well-separated blobs: the MAP group is the k-means cluster.
    assert np.mean(gg.predict(X) == labels) > 0.99
    assert not hasattr(gg, "score")
    with pytest.raises(AttributeError, match="no attribute 'score'"):
        gg.score(X, labels)
    tags = gg.__sklearn_tags__()
    assert tags.estimator_type is None and tags.classifier_tags is None
    assert GroupGaussians().__sklearn_tags__().estimator_type == "classifier"


def test_mixed_string_and_number_labels_rejected():
    X, y = class_data(n=60, seed=33)
    mixed = np.where(y == 0, "a", y).astype(object)
    mixed[y != 0] = y[y != 0]  # ints next to the string 'a'
    with pytest.raises(
        TypeError, match=r"y mixes string and non-string.*astype\(str\)"
    ):
        GroupGaussians().fit(X, mixed)
    with pytest.raises(TypeError, match="y mixes string and non-string"):
        GroupGaussians().partial_fit(X, mixed)
    # The fix in the message works.
    GroupGaussians().fit(X, np.asarray(mixed).astype(str))
