"""Hostile input for GroupGaussians, the separability scores, the ellipses
display and GaussianNeighbors (issue 24 items 4, 7, 8, 13, 16), and the
accuracy of the moments engine where raw sums would lose every digit."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_digits, load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import InvalidParameterError

from skkl import (
    GaussianNeighbors,
    Gaussians,
    GroupGaussians,
    bayes_error_bounds,
    gaussian_divergence_score,
)
from skkl._errors import InputError
from skkl._fit import SingularCovarianceWarning
from skkl._moments import encode_groups, group_codes, group_moments
from skkl.separability import bayes_error_bounds_gaussians


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


# -- item 4: zero priors ---------------------------------------------------------


def test_bayes_bounds_with_zero_priors_are_defined():
    X, y = load_wine(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        # One class has all the mass: the Bayes rule never errs.
        assert bayes_error_bounds(X, y, priors=[1, 0, 0]) == (0.0, 0.0)
        G = GroupGaussians().fit(X, y).gaussians_
        assert bayes_error_bounds_gaussians(G, [0, 1, 0]) == (0.0, 0.0)
        # A zero-prior class drops out: the bounds of the other two classes.
        three = bayes_error_bounds_gaussians(G, [0.5, 0.5, 0.0])
    two = bayes_error_bounds_gaussians(G[[0, 1]], [0.5, 0.5])
    assert_allclose(three, two, rtol=1e-12)


# -- item 7: the ellipses display and neighbours' parameters ----------------------


@pytest.mark.parametrize(
    ("cov", "n_std", "argument", "cause"),
    [
        ([[np.nan, 0.0], [0.0, 1.0]], (1,), "covariances", "NaN or infinite"),
        ([[1.0, 0.0], [0.0, -1.0]], (1,), "covariances", "positive semi-definite"),
        ([[1.0, 0.5], [0.0, 1.0]], (1,), "covariances", "not symmetric"),
        ([[1.0, 0.0], [0.0, 1.0]], (1e300,), "n_std", "too large to draw"),
        ([[1.0, 0.0], [0.0, 1.0]], (-1.0,), "n_std", "positive numbers"),
    ],
)
def test_ellipses_reject_what_is_not_a_covariance(cov, n_std, argument, cause):
    pytest.importorskip("matplotlib")
    from skkl.plotting import GaussianEllipsesDisplay

    disp = GaussianEllipsesDisplay(np.zeros((1, 2)), np.array([cov]), n_std=n_std)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with pytest.raises(InputError, match=cause) as exc:
            disp.plot()
    assert exc.value.argument == argument


def test_ellipses_draw_a_singular_covariance_flat():
    pytest.importorskip("matplotlib")
    from skkl.plotting import GaussianEllipsesDisplay

    disp = GaussianEllipsesDisplay(np.zeros((1, 2)), np.array([[[1.0, 1.0]] * 2]))
    assert disp.plot().ellipses_[0, 0].height == pytest.approx(0.0, abs=1e-7)


def test_neighbors_parameters_set_after_fit_are_checked_at_use():
    G = Gaussians(np.arange(6.0).reshape(3, 2), np.ones((3, 2)), "diag")
    nn = GaussianNeighbors(n_neighbors=1).fit(G)
    nn.set_params(direction="sideways")
    with pytest.raises(InvalidParameterError, match="'direction' parameter"):
        nn.kneighbors()
    with pytest.raises(InvalidParameterError, match="'direction' parameter"):
        nn.kneighbors_graph(G)


# -- item 8: digits without shrinkage ----------------------------------------------


def test_singular_class_covariances_warn_naming_classes_and_features(digits):
    X, y = digits
    # Pixel 0 is blank in every image: constant within every class.
    with pytest.warns(SingularCovarianceWarning, match=r"class 0 \(178 samples\)"):
        gg = GroupGaussians(shrinkage=None).fit(X, y)
    assert not gg.shrinkage_.any()
    with pytest.warns(SingularCovarianceWarning, match=r"feature 0, .* constant"):
        GroupGaussians(shrinkage=None).fit(X, y)
    # The default shrinks exactly the singular classes, and says so.
    with pytest.warns(SingularCovarianceWarning, match="applied OAS shrinkage"):
        auto = GroupGaussians().fit(X, y)
    assert np.all(auto.shrinkage_ > 0)
    # Well-determined classes (wine: 59-71 samples, 13 features) are untouched.
    Xw, yw = load_wine(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SingularCovarianceWarning)
        wine = GroupGaussians().fit(Xw, yw)
    assert not wine.shrinkage_.any()
    ml = GroupGaussians(shrinkage=None).fit(Xw, yw)
    assert_array_equal(wine.covariances_, ml.covariances_)


def test_default_pipeline_on_digits_is_sensible(digits):
    X, y = digits
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.3, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularCovarianceWarning)
        pipe = make_pipeline(
            StandardScaler(), GroupGaussians(), LogisticRegression(max_iter=1000)
        ).fit(Xtr, ytr)
        features = pipe[:2].transform(Xte)
    # Without shrinkage the log-densities reach -5e7 and the accuracy 0.37.
    assert features.min() > -1e6
    assert pipe.score(Xte, yte) > 0.9


# -- item 13: errors that name the argument ---------------------------------------


@pytest.mark.parametrize("make", [GroupGaussians, GaussianNeighbors])
def test_n_jobs_zero_names_the_argument(make):
    X = np.random.default_rng(0).normal(size=(20, 2))
    with pytest.raises(InvalidParameterError, match="'n_jobs' parameter"):
        make(n_jobs=0).fit(X, np.arange(20) % 2)


def test_feature_scores_on_digits_raise_no_overflow_warning(digits):
    X, y = digits
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)  # the constant pixels
        scores, pvalues = gaussian_divergence_score(X, y)
    assert np.all(np.isfinite(scores)) and np.all((pvalues >= 0) & (pvalues <= 1))


# -- item 16: scores scale with the data ------------------------------------------


@pytest.mark.parametrize("scale", [1e-200, 1e-120, 1e120, 1e200])
@pytest.mark.parametrize("kind", ["bhattacharyya", "kl", "wasserstein"])
def test_feature_scores_scale_with_the_data(scale, kind):
    X, y = load_wine(return_X_y=True)
    scores, pvalues = gaussian_divergence_score(X, y, kind=kind)
    # Scores are invariant to each feature's scale, except the squared
    # Wasserstein distance, which scales with its square: beyond the largest
    # float it is an error, below the smallest it underflows to 0.
    if kind == "wasserstein" and scale > 1e150:
        with pytest.raises(InputError, match="overflow float64"):
            gaussian_divergence_score(scale * X, y, kind=kind)
        return
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        s_scores, s_pvalues = gaussian_divergence_score(scale * X, y, kind=kind)
    with np.errstate(under="ignore"):
        expected = scores * (scale * scale if kind == "wasserstein" else 1.0)
    assert_allclose(s_scores, expected, rtol=1e-9, atol=1e-300)
    assert_allclose(s_pvalues, pvalues, rtol=1e-9, atol=1e-300)


def test_feature_scores_scale_with_dask_data():
    da = pytest.importorskip("dask.array")
    X, y = load_wine(return_X_y=True)
    scores, pvalues = gaussian_divergence_score(X, y)
    Xd = da.from_array(1e-200 * X, chunks=(50, -1))
    s_scores, s_pvalues = gaussian_divergence_score(Xd, y)
    assert_allclose(s_scores, scores, rtol=1e-9)
    assert_allclose(s_pvalues, pvalues, rtol=1e-9)


# -- the moments engine: accuracy, finiteness, labels -------------------------------


@pytest.mark.parametrize("n_threads", [1, 2])
def test_moments_keep_every_digit_under_a_large_common_offset(monkeypatch, n_threads):
    # Small integers plus 2**40 are exact floats, so the true covariance is the
    # covariance of the integers. Raw sums of squares (sum x^2 - n m^2) would
    # cancel 24 of the 16 significant digits.
    monkeypatch.setattr("skkl._moments._PIECE_BYTES", 40 * 8 * 3)
    monkeypatch.setattr("skkl._moments._MIN_ROWS_PER_GROUP", 30)
    rng = np.random.default_rng(0)
    Z = rng.integers(-50, 50, size=(3000, 3)).astype(np.float64)
    y = rng.integers(0, 4, size=3000)
    mom = group_moments(2.0**40 + Z, y, 4, n_threads=n_threads)
    for g in range(4):
        Zg = Z[y == g]
        U = Zg - Zg.mean(axis=0)
        assert_allclose(mom.mean[g] - 2.0**40, Zg.mean(axis=0), rtol=0, atol=1e-3)
        assert_allclose(mom.scatter[g], U.T @ U, rtol=1e-12)
    gg = GroupGaussians(reg_covar=0).fit(2.0**40 + Z, y)
    assert_allclose(gg.covariances_[0], np.cov(Z[y == 0].T, bias=True), rtol=1e-12)


@pytest.mark.parametrize(
    ("value", "message"),
    [(np.nan, "Input X contains NaN"), (np.inf, "Input X contains infinity")],
)
def test_non_finite_X_is_caught_on_the_moments(value, message):
    X = np.random.default_rng(0).normal(size=(50, 3))
    X[17, 1] = value
    with pytest.raises(ValueError, match=message):
        GroupGaussians().fit(X, np.arange(50) % 2)
    X[17, 1] = 1e300  # finite, but its square overflows
    with pytest.raises(ValueError, match="moments of X overflow"):
        GroupGaussians().fit(X, np.arange(50) % 2)


@pytest.mark.parametrize(
    "labels",
    [
        np.array([3, 1, 3, 7, 1]),
        np.array([-5, 2, 2, -5, 0]),
        np.array([0, 1, 2, 1, 0]),
        np.array([True, False, True]),
        np.array(["b", "a", "b"]),
        np.array([0, 10**9, 5]),
    ],
)
def test_encode_groups_matches_numpy_unique(labels):
    classes, groups = encode_groups(labels)
    expected_classes, expected_groups = np.unique(labels, return_inverse=True)
    assert_array_equal(classes, expected_classes)
    assert_array_equal(groups, expected_groups)


@pytest.mark.parametrize(
    ("labels", "classes"),
    [
        (np.array([0, 2, 1, 2]), np.array([0, 1, 2])),
        (np.array([0, 2, 1, 5]), np.array([0, 1, 2])),
        (np.array([-3, 7, 7]), np.array([-3, 4, 7])),
        (np.array([-3, 8, 7]), np.array([-3, 4, 7])),
        (np.array([0, 10**12]), np.array([0, 10**12])),
        (np.array(["b", "a", "z"]), np.array(["a", "b"])),
    ],
)
def test_group_codes_match_a_search_of_the_classes(labels, classes):
    codes, unknown = group_codes(labels, classes)
    known = np.isin(labels, classes)
    assert_array_equal(np.sort(unknown), np.sort(labels[~known]))
    assert_array_equal(classes[codes[known]], labels[known])
