"""The fast paths of GroupGaussians.fit against a naive per-class numpy loop.

``group_moments`` copies each block of rows in group order (or gathers them
piece by piece when many groups make the block large), centres every piece
on a per-group shift and adds the products about that shift, restarting the
shift when a group drifts. These tests compare what ``fit`` returns with
``np.average`` / ``np.cov`` class by class, on data we did not generate
(scikit-learn's bundled datasets) and on hostile data, through every path.

Tolerances: the scatter of n rows summed in floating point carries a relative
error of at most about n * eps (recursive summation; BLAS blocking only
lowers it), times 1 + _DRIFT for the shift (see skkl._moments), measured
against sqrt(S_ii S_jj); the reference loop carries as much again.
"""

import tracemalloc
import warnings

import numpy as np
import pytest
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

import skkl._moments as moments
from skkl import GroupGaussians
from skkl._errors import InputError
from skkl._fit import SingularCovarianceWarning

EPS = np.finfo(np.float64).eps
DATASETS = {
    "digits": load_digits,  # 64 pixels, some constant within a class
    "breast_cancer": load_breast_cancer,  # features from 1e-3 to 4e3
    "wine": load_wine,
}


def naive(X, y, w=None):
    """(labels, means, ML covariances, total weights) by a loop over classes."""
    labels = np.unique(y)
    w = np.ones(len(y)) if w is None else w
    means, covs, totals = [], [], []
    for c in labels:
        Xc, wc = X[y == c], w[y == c]
        means.append(np.average(Xc, axis=0, weights=wc))
        U = Xc - means[-1]
        covs.append((U * wc[:, None]).T @ U / wc.sum())
        totals.append(wc.sum())
    return labels, np.array(means), np.array(covs), np.array(totals)


def bound(covs, n):
    """Elementwise error bound for covariances from n rows (see module doc)."""
    scale = np.sqrt(np.einsum("ki,kj->kij", *(np.diagonal(covs, 0, 1, 2),) * 2))
    return 2 * (1 + moments._DRIFT) * n * EPS * scale + 1e-300


def check_against_naive(gg, X, y, w=None):
    labels, means, covs, totals = naive(X, y, w)
    assert_array_equal(gg.classes_, labels)
    assert_allclose(gg.class_count_, totals, rtol=len(y) * EPS)
    spread = np.sqrt(np.diagonal(covs, 0, 1, 2))
    err = np.abs(gg.means_ - means)
    assert np.all(err <= len(y) * EPS * (np.abs(means) + spread) + 1e-300)
    ridge = gg.reg_covar * np.eye(X.shape[1])
    assert np.all(np.abs(gg.covariances_ - ridge - covs) <= bound(covs, len(y)))


@pytest.fixture(
    params=[
        {},  # the default: blocks copied whole in group order
        {"_SORTED_BLOCK_BYTES": 0},  # gathered piece by piece
        {"_PIECE_BYTES": 40 * 8 * 64, "_MIN_ROWS_PER_GROUP": 30},  # many pieces
        {"_PIECE_BYTES": 40 * 8 * 64, "_MIN_ROWS_PER_GROUP": 30, "_DRIFT": 0.0},
    ],
    ids=["sorted-block", "gathered", "small-pieces", "restart-every-piece"],
)
def path(request, monkeypatch):
    for name, value in request.param.items():
        monkeypatch.setattr(moments, name, value)
    return request.param


@pytest.mark.parametrize("name", sorted(DATASETS))
@pytest.mark.parametrize("n_jobs", [1, 2])
def test_fit_matches_a_naive_loop_on_bundled_data(name, n_jobs, path):
    X, y = DATASETS[name](return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularCovarianceWarning)  # digits
        gg = GroupGaussians(shrinkage=None, n_jobs=n_jobs).fit(X, y)
    check_against_naive(gg, X, y)


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_weighted_fit_matches_a_naive_loop(name, path):
    X, y = DATASETS[name](return_X_y=True)
    w = np.random.default_rng(0).uniform(0.0, 3.0, size=len(y))
    w[::7] = 0.0  # rows with no weight count for nothing
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SingularCovarianceWarning)
        gg = GroupGaussians(shrinkage=None, n_jobs=2).fit(X, y, sample_weight=w)
    check_against_naive(gg, X, y, w)


def test_default_fit_on_full_rank_data_is_the_ml_estimate():
    # shrinkage='auto' leaves non-singular classes alone: the default call
    # returns the naive estimate (plus the ridge). (In breast_cancer, a class
    # has a feature collinear up to the ridge, which 'auto' shrinks.)
    X, y = load_wine(return_X_y=True)
    gg = GroupGaussians().fit(X, y)
    assert_array_equal(gg.shrinkage_, 0.0)
    check_against_naive(gg, X, y)


@pytest.mark.parametrize(
    "relabel",
    [
        lambda y: np.array(["malignant", "benign"])[y],  # strings
        lambda y: np.where(y == 0, 10**9, -7),  # sparse integer range
        lambda y: (y * 3 - 1).astype(np.int8),  # small negative integers
    ],
    ids=["strings", "wide-int", "int8"],
)
def test_labels_unsorted_string_and_int(relabel, path):
    X, y = load_breast_cancer(return_X_y=True)
    order = np.random.default_rng(1).permutation(len(y))  # unsorted labels
    X, y = X[order], relabel(y[order])
    with warnings.catch_warnings():  # feature 19 of a class is near-collinear
        warnings.simplefilter("ignore", SingularCovarianceWarning)
        gg = GroupGaussians(shrinkage=None).fit(X, y)
    check_against_naive(gg, X, y)


def test_a_class_with_one_row(path):
    X, y = load_wine(return_X_y=True)
    y = y.copy()
    y[100] = 7  # a class of one row, in the middle of the data
    with pytest.warns(SingularCovarianceWarning, match=r"class 7 \(1 sample\)"):
        gg = GroupGaussians(shrinkage=None).fit(X, y)
    check_against_naive(gg, X, y)
    assert_array_equal(gg.means_[-1], X[100])
    with pytest.raises(InputError, match=r"class 7 has 1 sample\(s\)"):
        GroupGaussians(reg_covar=0).fit(X, y)


@pytest.mark.parametrize("scale", [1e-150, 1e150])
def test_results_scale_with_the_data(scale, path):
    X, y = load_wine(return_X_y=True)
    ref = GroupGaussians(reg_covar=0, shrinkage=None).fit(X, y)
    gg = GroupGaussians(reg_covar=0, shrinkage=None).fit(scale * X, y)
    assert_allclose(gg.means_, scale * ref.means_, rtol=len(y) * EPS)
    bnd = bound(ref.covariances_, len(y)) * scale**2
    assert np.all(np.abs(gg.covariances_ - scale**2 * ref.covariances_) <= bnd)


def test_beyond_float64_squares():
    X, y = load_wine(return_X_y=True)
    ref = GroupGaussians(shrinkage=None).fit(X, y)
    # At 1e-200 the variances (1e-400) underflow: the means still scale and
    # the covariances are the ridge alone, which the warning says.
    with pytest.warns(SingularCovarianceWarning, match="constant"):
        tiny = GroupGaussians(shrinkage=None).fit(1e-200 * X, y)
    assert_allclose(tiny.means_, 1e-200 * ref.means_, rtol=len(y) * EPS)
    assert_allclose(tiny.covariances_, np.broadcast_to(1e-6 * np.eye(13), (3, 13, 13)))
    # At 1e200 they overflow: a clear error naming X and the fix.
    with pytest.raises(InputError, match="moments of X overflow.*rescale X"):
        GroupGaussians().fit(1e200 * X, y)


def test_drifting_classes_keep_every_digit(monkeypatch):
    # Rows sorted by time, with a trend 1000 sds long on a 2**30 offset: every
    # piece of a class lies far from the shift set by the first one.
    monkeypatch.setattr(moments, "_PIECE_BYTES", 50 * 8 * 3)
    monkeypatch.setattr(moments, "_MIN_ROWS_PER_GROUP", 40)
    rng = np.random.default_rng(2)
    n = 4000
    y = rng.integers(0, 3, size=n)
    X = 2.0**30 + np.linspace(0, 1000, n)[:, None] + rng.normal(size=(n, 3))
    X = np.round(X * 64) / 64  # exact in float64 at this offset
    for n_jobs in (1, 2):
        gg = GroupGaussians(shrinkage=None, reg_covar=0, n_jobs=n_jobs).fit(X, y)
        Z = X - 2.0**30  # exact
        _, means, covs, _ = naive(Z, y)
        assert_allclose(gg.means_ - 2.0**30, means, atol=2**30 * EPS)
        assert np.all(np.abs(gg.covariances_ - covs) <= bound(covs, n))


def test_a_light_wide_start_does_not_set_the_shift_for_a_narrow_bulk(monkeypatch):
    """The review's case: the first rows of a class weigh nothing and spread
    wide, the weighted bulk sits two of their sds away with a tiny spread.
    A drift rule bounded by the first piece's variance kept centring the bulk
    on the first shift, and the final correction cancelled (0.5% error)."""
    monkeypatch.setattr(moments, "_PIECE_BYTES", 200 * 8 * 2)
    monkeypatch.setattr(moments, "_MIN_ROWS_PER_GROUP", 400)
    rng = np.random.default_rng(4)
    n1, n2 = 3000, 12000
    X = np.r_[rng.normal(0, 1, (n1, 2)), 1.9 + 1e-6 * rng.normal(size=(n2, 2))]
    w = np.r_[np.full(n1, 1e-12), np.ones(n2)]
    y = np.ones(n1 + n2, dtype=int)
    y[::50] = 0
    gg = GroupGaussians(reg_covar=0, shrinkage=None).fit(X, y, sample_weight=w)
    check_against_naive(gg, X, y, w)


@pytest.mark.parametrize("weight", [1e-200, 1.0, 1e160])
def test_drift_rule_holds_at_any_weight_scale(monkeypatch, weight):
    """The rule works per unit weight: squares of total weights (which
    overflow beyond ~1e154 and underflow below ~1e-154) never enter it, so a
    trend restarts the shift whatever the weights' scale."""
    monkeypatch.setattr(moments, "_PIECE_BYTES", 50 * 8 * 3)
    monkeypatch.setattr(moments, "_MIN_ROWS_PER_GROUP", 40)
    restarts = []
    restart = moments._Pass._restart

    def counted(self, *args):
        restarts.append(1)
        return restart(self, *args)

    monkeypatch.setattr(moments._Pass, "_restart", counted)
    rng = np.random.default_rng(5)
    n = 3000
    X = np.linspace(0, 1000, n)[:, None] + rng.normal(size=(n, 3))
    y = np.zeros(n, dtype=int)
    w = np.full(n, weight)
    gg = GroupGaussians(shrinkage=None, reg_covar=0).fit(X, y, sample_weight=w)
    assert len(restarts) > 5
    _, means, covs, _ = naive(X, y)
    assert_allclose(gg.means_, means, rtol=n * EPS)
    assert np.all(np.abs(gg.covariances_ - covs) <= bound(covs, n))


def test_input_is_not_modified_and_memory_does_not_grow_with_n():
    rng = np.random.default_rng(3)
    peaks = []
    for n in (50_000, 200_000):
        X = rng.normal(size=(n, 8)) + 1e3
        y = rng.integers(0, 3, size=n)
        w = rng.uniform(0.5, 1.5, size=n)
        before = (X.copy(), y.copy(), w.copy())
        GroupGaussians(n_jobs=1).fit(X, y, sample_weight=w)
        tracemalloc.start()
        GroupGaussians(n_jobs=1).fit(X, y, sample_weight=w)
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
        for a, b in zip(before, (X, y, w), strict=True):
            assert_array_equal(a, b)
    # Blocks of bounded size, and labels: 4x the rows (X of 12.8 MB) add at
    # most the labels' int64 copies, far less than one copy of X.
    assert peaks[1] - peaks[0] < 150_000 * 8 * 4
    assert peaks[1] < 200_000 * 8 * 8 / 2


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_ledoit_wolf_matches_scikit_learn_per_class(name, path):
    # The Ledoit-Wolf intensity needs the fourth moments about the mean, which
    # pieces summed about a shift carry through their residuals.
    from sklearn.covariance import ledoit_wolf

    X, y = DATASETS[name](return_X_y=True)
    gg = GroupGaussians(shrinkage="ledoit_wolf", reg_covar=0, n_jobs=2).fit(X, y)
    for k, c in enumerate(gg.classes_):
        cov, coef = ledoit_wolf(X[y == c])
        assert_allclose(gg.shrinkage_[k], coef, rtol=1e-9)
        assert_allclose(gg.covariances_[k], cov, rtol=1e-9, atol=1e-12 * cov.max())
