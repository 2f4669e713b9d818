"""Tests for skkl.plotting's separability Displays (matplotlib Agg backend)."""

from __future__ import annotations

import sys

import numpy as np
import pytest

mpl = pytest.importorskip("matplotlib")
mpl.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402

from skkl.plotting import DivergenceMatrixDisplay, GaussianEllipsesDisplay  # noqa: E402


def _data(n=150, seed=0):
    rng = np.random.default_rng(seed)
    y = np.repeat(["a", "b", "c"], n)
    means = np.array([[0.0, 0, 0], [2, 1, 0], [2.5, 1, 1]])
    A = np.array([[1.0, 0.5, 0], [0, 1, 0.3], [0, 0, 0.5]])
    X = rng.normal(size=(3 * n, 3)) @ A + np.repeat(means, n, axis=0)
    return X, y


# -- DivergenceMatrixDisplay -----------------------------------------------------


def test_divergence_matrix_display_draws_matrix_labels_and_values():
    M = np.array([[0.0, 1.234, 5.0], [0.5, 0.0, 12.5], [3.0, 0.25, 0.0]])
    disp = DivergenceMatrixDisplay(M, display_labels=["x", "y", "z"], kind="kl")
    assert disp.plot(values_format=".2f") is disp
    np.testing.assert_array_equal(disp.im_.get_array(), M)
    assert disp.text_.shape == (3, 3)
    assert disp.text_[0, 1].get_text() == "1.23"
    # Text (i, j) sits at x=j, y=i, over cell M[i, j].
    assert disp.text_[1, 2].get_position() == (2, 1)
    assert disp.text_[1, 2].get_text() == "12.50"
    assert [t.get_text() for t in disp.ax_.get_xticklabels()] == ["x", "y", "z"]
    assert [t.get_text() for t in disp.ax_.get_yticklabels()] == ["x", "y", "z"]
    assert disp.ax_.get_title() == "kl(p, q)"
    assert disp.figure_ is disp.ax_.figure
    assert len(disp.figure_.axes) == 2  # heat map + colorbar
    assert disp.colorbar_.ax.get_ylabel() == "kl (nats)"
    # Light text on the darkest cells, dark text on the brightest.
    assert disp.text_[0, 0].get_color() == disp.im_.cmap(1.0)
    assert disp.text_[1, 2].get_color() == disp.im_.cmap(0.0)


def test_divergence_matrix_display_options_and_given_axes():
    M = np.array([[0.0, 0.123456], [0.654321, 0.0]])
    fig, ax = plt.subplots()
    disp = DivergenceMatrixDisplay(M).plot(ax=ax, colorbar=False, cmap="magma")
    assert disp.ax_ is ax and disp.figure_ is fig and len(fig.axes) == 1
    assert disp.im_.cmap.name == "magma"
    assert disp.text_[0, 1].get_text() == "0.123"  # default '.3g'
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1"]
    disp = DivergenceMatrixDisplay(M).plot(include_values=False)
    assert disp.text_ is None and len(disp.ax_.texts) == 0


def test_divergence_matrix_display_rejects_bad_matrix():
    with pytest.raises(ValueError, match="finite square"):
        DivergenceMatrixDisplay(np.zeros((2, 3))).plot()
    with pytest.raises(ValueError, match="finite square"):
        DivergenceMatrixDisplay(np.array([[0, np.nan], [1, 0]])).plot()
    with pytest.raises(ValueError, match="one label per row"):
        DivergenceMatrixDisplay(np.zeros((2, 2)), display_labels=["a"]).plot()
    with pytest.raises(ValueError, match=r"matrix is empty \(shape \(0, 0\)\)"):
        DivergenceMatrixDisplay(np.zeros((0, 0))).plot()
    with pytest.raises(TypeError, match="^matrix must be a numeric array-like"):
        DivergenceMatrixDisplay([["a", "b"], ["c", "d"]]).plot()


@pytest.mark.parametrize(
    "kind, label",
    [
        ("bhattacharyya", "bhattacharyya (nats)"),
        ("hellinger", "hellinger (no unit, in [0, 1])"),
        ("wasserstein", "wasserstein (squared units of X)"),
        (None, "divergence"),
    ],
)
def test_colorbar_says_the_unit(kind, label):
    disp = DivergenceMatrixDisplay(np.eye(2), kind=kind).plot()
    assert disp.colorbar_.ax.get_ylabel() == label
    assert DivergenceMatrixDisplay(np.eye(2)).plot(colorbar=False).colorbar_ is None


def test_divergence_matrix_display_from_data_and_estimator():
    from skkl import GroupGaussians, separability_score

    X, y = _data()
    disp = DivergenceMatrixDisplay.from_data(X, y, kind="kl", covariance_type="diag")
    res = separability_score(X, y, kind="kl", covariance_type="diag", aggregate=None)
    np.testing.assert_allclose(disp.im_.get_array(), res.matrix)
    assert disp.matrix[0, 1] != disp.matrix[1, 0]  # KL is asymmetric
    assert [t.get_text() for t in disp.ax_.get_yticklabels()] == ["a", "b", "c"]

    est = GroupGaussians().fit(X, y)
    disp = DivergenceMatrixDisplay.from_estimator(est, kind="jeffreys", colorbar=False)
    np.testing.assert_allclose(disp.matrix, est.divergence_matrix(kind="jeffreys"))
    np.testing.assert_allclose(disp.im_.get_array(), disp.matrix)
    assert disp.kind == "jeffreys" and len(disp.figure_.axes) == 1
    with pytest.raises(TypeError, match="GroupGaussians"):
        DivergenceMatrixDisplay.from_estimator(PCA())


# -- GaussianEllipsesDisplay -----------------------------------------------------


def _rotated_cov(a, b, theta):
    R = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    return R @ np.diag([a**2, b**2]) @ R.T


def test_ellipses_have_the_geometry_of_the_covariances():
    theta = np.deg2rad(30.0)
    covs = np.stack([_rotated_cov(2.0, 0.5, theta), np.diag([0.25, 4.0])])
    means = np.array([[1.0, -1.0], [3.0, 2.0]])
    disp = GaussianEllipsesDisplay(
        means, covs, display_labels=["u", "v"], n_std=(1, 2.5)
    ).plot()
    assert disp.ellipses_.shape == (2, 2)
    e = disp.ellipses_[0, 1]
    assert e.center == pytest.approx((1.0, -1.0))
    assert e.width == pytest.approx(2 * 2.5 * 2.0)
    assert e.height == pytest.approx(2 * 2.5 * 0.5)
    assert np.mod(e.angle, 180) == pytest.approx(30.0)
    # Second: major axis along y (sd 2), minor along x (sd 0.5).
    e = disp.ellipses_[1, 0]
    assert (e.width, e.height) == pytest.approx((4.0, 1.0))
    assert np.mod(e.angle, 180) == pytest.approx(90.0)
    assert all(p in disp.ax_.patches for p in disp.ellipses_.ravel())
    np.testing.assert_allclose(disp.centers_.get_offsets(), means)
    assert [t.get_text() for t in disp.ax_.get_legend().get_texts()] == [
        "u",
        "v",
        "1 sd: 39% of the mass",
        "2.5 sd: 96% of the mass",
    ]
    assert disp.scatter_ is None


def test_ellipses_from_gaussian_mixture_marginals_and_scatter():
    X, y = _data()
    gm = GaussianMixture(3, init_params="random_from_data", random_state=0).fit(X)
    disp = GaussianEllipsesDisplay.from_estimator(gm, X, features=(2, 0), n_std=(1,))
    for k in range(3):
        marginal = gm.covariances_[k][np.ix_([2, 0], [2, 0])]
        vals = np.linalg.eigvalsh(marginal)
        e = disp.ellipses_[k, 0]
        assert (e.width, e.height) == pytest.approx(2 * np.sqrt(vals[::-1]))
        assert e.center == pytest.approx(gm.means_[k][[2, 0]])
    # No y: one grey scatter of the chosen columns.
    assert len(disp.scatter_) == 1
    np.testing.assert_allclose(disp.scatter_[0].get_offsets(), X[:, [2, 0]])
    assert disp.ax_.get_xlabel() == "feature 2"


def test_ellipses_from_group_gaussians_colour_points_by_class():
    from skkl import GroupGaussians

    X, y = _data()
    est = GroupGaussians(covariance_type="diag").fit(X, y)
    disp = GaussianEllipsesDisplay.from_estimator(est, X, y, features=(0, 1))
    assert len(disp.scatter_) == 3
    for k, label in enumerate(["a", "b", "c"]):
        np.testing.assert_allclose(disp.scatter_[k].get_offsets(), X[y == label][:, :2])
        e = disp.ellipses_[k, 2]
        sd = np.sqrt(est.gaussians_.covariances[k, :2])
        assert sorted([e.width, e.height]) == pytest.approx(sorted(6 * sd))


def test_ellipses_after_pca_match_sklearn_pca():
    from skkl import GroupGaussians

    X, y = _data()
    est = GroupGaussians(reg_covar=0.0).fit(X, y)
    disp = GaussianEllipsesDisplay.from_estimator(est, X, y, pca=True)
    # For ML class Gaussians the mixture's covariance is the data's covariance.
    pca = PCA(2).fit(X)
    Z = pca.transform(X)
    got = np.vstack([np.asarray(s.get_offsets()) for s in disp.scatter_])
    expected = np.vstack([Z[y == c] for c in ["a", "b", "c"]])
    signs = np.sign(got[0] / expected[0])
    np.testing.assert_allclose(got, expected * signs, atol=1e-8)
    W = pca.components_.T * signs
    for k, c in enumerate(["a", "b", "c"]):
        cov2 = W.T @ np.cov(X[y == c].T, bias=True) @ W
        vals = np.linalg.eigvalsh(cov2)
        e = disp.ellipses_[k, 0]
        assert (e.width, e.height) == pytest.approx(2 * np.sqrt(vals[::-1]), rel=1e-6)
        assert e.center == pytest.approx(Z[y == c].mean(axis=0) * signs, abs=1e-8)
    assert disp.ax_.get_xlabel().startswith("PC1 (")


def test_ellipses_input_errors():
    X, y = _data(n=30)
    gm = GaussianMixture(2, init_params="random_from_data", random_state=0).fit(X)
    with pytest.raises(ValueError, match="two indices"):
        GaussianEllipsesDisplay.from_estimator(gm, features=(0, 3))
    with pytest.raises(ValueError, match="two different"):
        GaussianEllipsesDisplay.from_estimator(gm, features=(1, 1))
    with pytest.raises(ValueError, match="not a fitted feature name"):
        GaussianEllipsesDisplay.from_estimator(gm, features=("a", 0))
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 3\)"):
        GaussianEllipsesDisplay.from_estimator(gm, X[:, :2])
    with pytest.raises(TypeError, match="Fit it first"):
        GaussianEllipsesDisplay.from_estimator(GaussianMixture())
    with pytest.raises(ValueError, match="n_std"):
        GaussianEllipsesDisplay(np.zeros((1, 2)), np.eye(2)[None], n_std=(0,)).plot()


# -- optional dependency -----------------------------------------------------------


def test_missing_matplotlib_names_the_plot_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"skkl\[plot\]"):
        DivergenceMatrixDisplay(np.zeros((2, 2))).plot()
    with pytest.raises(ImportError, match="GaussianEllipsesDisplay"):
        GaussianEllipsesDisplay(np.zeros((1, 2)), np.eye(2)[None]).plot()
    with pytest.raises(ImportError, match=r"skkl\[plot\]"):
        DivergenceMatrixDisplay.from_data(np.zeros((4, 2)), [0, 0, 1, 1])


def test_ring_legend_states_the_enclosed_mass():
    from scipy.stats import chi2

    disp = GaussianEllipsesDisplay(
        np.zeros((1, 2)), np.eye(2)[None], display_labels=["g"], n_std=(1, 2, 3)
    ).plot()
    texts = [t.get_text() for t in disp.ax_.get_legend().get_texts()]
    assert texts[0] == "g"
    # In 2-D the radius-r ellipse holds P(chi2_2 <= r^2) of the mass.
    for r, text in zip((1, 2, 3), texts[1:], strict=True):
        assert text == f"{r} sd: {100 * chi2.cdf(r**2, df=2):.0f}% of the mass"


def test_nan_in_x_is_an_error():
    from skkl import GroupGaussians

    X, y = _data(n=30)
    est = GroupGaussians().fit(X, y)
    X_bad = X.copy()
    X_bad[5, 1] = np.nan
    with pytest.raises(ValueError, match=r"X has 1 row\(s\) with NaN .*row 5"):
        GaussianEllipsesDisplay.from_estimator(est, X_bad, y)
    with pytest.raises(ValueError, match="NaN or infinite"):
        GaussianEllipsesDisplay(
            np.zeros((1, 2)), np.eye(2)[None], X=[[0.0, np.inf]]
        ).plot()


def test_pca_on_unscaled_features_hints_to_standardise():
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler

    from skkl import GroupGaussians

    X, y = load_wine(return_X_y=True)  # proline is ~1000x larger than the rest
    with pytest.warns(UserWarning, match=r"standardise X .*StandardScaler"):
        disp = GaussianEllipsesDisplay.from_estimator(
            GroupGaussians().fit(X, y), pca=True
        )
    assert disp.ax_.get_xlabel().endswith("; unscaled features)")
    Z = StandardScaler().fit_transform(X)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        disp = GaussianEllipsesDisplay.from_estimator(
            GroupGaussians().fit(Z, y), pca=True
        )
    assert "unscaled" not in disp.ax_.get_xlabel()
