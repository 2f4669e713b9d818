"""Tests for skkl.metric.KLMetric with scikit-learn's metric consumers."""

import pickle
import warnings

import numpy as np
import pytest
from _builders import random_gaussians
from numpy.testing import assert_allclose, assert_array_equal
from sklearn.cluster import DBSCAN
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

from skkl import DIVERGENCES, Gaussians, KLMetric, divergence, pairwise_divergence


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical"])
@pytest.mark.parametrize("kind", sorted(DIVERGENCES))
def test_call_matches_divergence(kind, covariance_type):
    rng = np.random.default_rng(0)
    G = random_gaussians(rng, 2, 3, covariance_type)
    X = G.pack()
    metric = KLMetric(kind, covariance_type, alpha=0.7)
    value = metric(X[0], X[1])
    assert isinstance(value, float)
    expected = float(divergence(G[0], G[1], kind, alpha=0.7)[0])
    assert value == pytest.approx(expected, rel=1e-12)
    assert metric.symmetric == DIVERGENCES[kind].is_symmetric(0.7)


def test_tied_gaussians_pack_as_full_rows():
    rng = np.random.default_rng(1)
    G = Gaussians(rng.normal(size=(3, 2)), [[2.0, 0.5], [0.5, 1.0]], "tied")
    X = G.pack()
    assert_allclose(KLMetric().pairwise(X), pairwise_divergence(G), rtol=1e-12)


def test_bad_rows_raise():
    metric = KLMetric()
    with pytest.raises(ValueError, match="packed row of length 4 is impossible"):
        metric(np.ones(4), np.ones(4))
    with pytest.raises(ValueError, match="two packed rows of equal length"):
        metric(np.ones(5), np.ones(9))
    with pytest.raises(ValueError, match="not a valid packed Gaussian"):
        metric(np.array([0.0, 0.0, -1.0, 0.0, 1.0]), np.array([0, 0, 1.0, 0, 1]))
    with pytest.raises(ValueError, match="not a valid packed Gaussian"):
        KLMetric(covariance_type="diag")(np.array([0.0, 1.0]), np.array([0.0, np.nan]))
    with pytest.raises(ValueError, match="covariance_type='tied'"):
        KLMetric(covariance_type="tied")
    with pytest.raises(ValueError, match="kind must be one of"):
        KLMetric(kind="cosine")
    with pytest.raises(ValueError, match="impossible"):
        KLMetric().pairwise(np.ones((3, 4)))
    with pytest.raises(ValueError, match="dimensions"):
        KLMetric(covariance_type="diag").pairwise(np.ones((2, 4)), np.ones((2, 6)))


def test_pairwise_distances_with_copy_matches_engine():
    rng = np.random.default_rng(2)
    G = random_gaussians(rng, 12, 3)
    X = G.pack()
    D = pairwise_distances(X, X.copy(), metric=KLMetric())
    assert_allclose(D, pairwise_divergence(G), rtol=1e-12, atol=1e-300)
    H = random_gaussians(rng, 5, 3)
    D = pairwise_distances(X, H.pack(), metric=KLMetric())
    assert_allclose(D, pairwise_divergence(G, H), rtol=1e-12)
    assert_allclose(KLMetric().pairwise(X, H.pack()), D, rtol=1e-12)


def test_symmetry_trap_and_guarded_routes():
    rng = np.random.default_rng(3)
    G = random_gaussians(rng, 8, 3)
    X = G.pack()
    truth = pairwise_divergence(G)
    assert not np.allclose(truth, truth.T)  # KL is asymmetric
    # The trap: Y=None (or Y is X) with one job mirrors the upper triangle,
    # and the metric says so (issue 24, item 9).
    with pytest.warns(UserWarning, match="mirrored half is wrong"):
        trapped = pairwise_distances(X, metric=KLMetric())
    upper = np.triu(truth, 1)
    assert_allclose(trapped, upper + upper.T, rtol=1e-12)
    assert not np.allclose(trapped, truth)
    with pytest.warns(UserWarning, match=r"KLMetric\(kind='kl'.*\.pairwise\(X\)"):
        assert_allclose(pairwise_distances(X, X, metric=KLMetric()), trapped, rtol=0)
    # Guarded routes give the asymmetric matrix, without a false alarm.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert_allclose(KLMetric().pairwise(X), truth, rtol=1e-12)
        assert_allclose(KLMetric().pairwise(X, X), truth, rtol=1e-12)
        assert_allclose(pairwise_distances(truth, metric="precomputed"), truth)
        correct = pairwise_distances(X, X.copy(), metric=KLMetric())
        assert_allclose(correct, truth, rtol=1e-12)
        two_jobs = pairwise_distances(X, metric=KLMetric(), n_jobs=2)
        assert_allclose(two_jobs, truth, rtol=1e-12)
        # Views of one buffer are two arrays: every pair is computed.
        assert_allclose(
            pairwise_distances(X[:4], X[4:], metric=KLMetric()),
            truth[:4, 4:],
            rtol=1e-12,
        )
        # Symmetric kinds are safe with the shortcut.
        for kind in ("jeffreys", "hellinger"):
            metric = KLMetric(kind)
            assert metric.symmetric
            assert_allclose(
                pairwise_distances(X, metric=metric), metric.pairwise(X), rtol=1e-12
            )


def _brute_force_neighbors(D, n_neighbors):
    order = np.argsort(D, axis=1, kind="stable")[:, :n_neighbors]
    return order, np.take_along_axis(D, order, axis=1)


def test_nearest_neighbors_match_brute_force():
    rng = np.random.default_rng(4)
    fit, query = random_gaussians(rng, 15, 2), random_gaussians(rng, 6, 2)
    nn = NearestNeighbors(n_neighbors=4, metric=KLMetric(), algorithm="brute")
    nn.fit(fit.pack())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a query of other Gaussians: no alarm
        dist, ind = nn.kneighbors(query.pack())
    order, expected = _brute_force_neighbors(pairwise_divergence(query, fit), 4)
    assert_array_equal(ind, order)
    assert_allclose(dist, expected, rtol=1e-12)


def test_kneighbors_without_x_trap_and_precomputed_route():
    rng = np.random.default_rng(5)
    G = random_gaussians(rng, 10, 2)
    truth = pairwise_divergence(G)
    masked = truth + np.diag(np.full(len(G), np.inf))  # a point is not its neighbour
    order, expected = _brute_force_neighbors(masked, 3)
    callable_nn = NearestNeighbors(n_neighbors=3, metric=KLMetric(), algorithm="brute")
    with pytest.warns(UserWarning, match="mirrored half is wrong"):
        dist_trap, _ = callable_nn.fit(G.pack()).kneighbors()
    assert not np.allclose(dist_trap, expected)  # mirrored distances
    nn = NearestNeighbors(n_neighbors=3, metric="precomputed").fit(truth)
    dist, ind = nn.kneighbors()
    assert_array_equal(ind, order)
    assert_allclose(dist, expected, rtol=1e-12)


def test_dbscan_with_symmetric_kind():
    rng = np.random.default_rng(6)
    centres = np.repeat([[0.0, 0.0], [8.0, 8.0]], 5, axis=0)
    G = Gaussians(centres + 0.1 * rng.normal(size=(10, 2)), np.ones((10, 2)), "diag")
    metric = KLMetric("hellinger", covariance_type="diag")
    labels = DBSCAN(eps=0.2, min_samples=2, metric=metric, algorithm="brute").fit(
        G.pack()
    )
    expected = DBSCAN(eps=0.2, min_samples=2, metric="precomputed").fit(
        metric.pairwise(G.pack())
    )
    assert_array_equal(labels.labels_, expected.labels_)
    assert_array_equal(labels.labels_, np.repeat([0, 1], 5))


def test_pickle_round_trip():
    rng = np.random.default_rng(7)
    X = random_gaussians(rng, 3, 2, "diag").pack()
    metric = KLMetric("renyi", "diag", alpha=0.3)
    clone = pickle.loads(pickle.dumps(metric))
    assert clone == metric and hash(clone) == hash(metric)
    assert repr(clone) == "KLMetric(kind='renyi', covariance_type='diag', alpha=0.3)"
    assert clone(X[0], X[1]) == metric(X[0], X[1])
    assert_array_equal(clone.pairwise(X), metric.pairwise(X))


def test_parameters_are_read_only_so_call_and_pairwise_agree():
    # __call__ used a lookup cached at construction while pairwise read
    # self.kind: after `metric.kind = ...` the two silently disagreed.
    X = random_gaussians(np.random.default_rng(3), 3, 2).pack()
    metric = KLMetric()
    for name, value in [("kind", "jeffreys"), ("covariance_type", "diag")]:
        with pytest.raises(AttributeError):
            setattr(metric, name, value)
    with pytest.raises(AttributeError):
        metric.alpha = 2.0
    assert (metric.kind, metric.covariance_type, metric.alpha) == ("kl", "full", 0.5)
    assert metric(X[1], X[0]) == pytest.approx(metric.pairwise(X)[1, 0], rel=1e-12)


def test_pairwise_errors_name_y_and_mismatched_row_lengths():
    rng = np.random.default_rng(4)
    X = random_gaussians(rng, 3, 3).pack()  # 9 columns
    Y = random_gaussians(rng, 2, 2).pack()  # 5 columns: valid rows for d=2
    with pytest.raises(ValueError, match=r"X has rows of 9 columns.*but Y of 5"):
        KLMetric().pairwise(X, Y)
    bad = X.copy()
    bad[0, 3] = -1.0  # first Cholesky diagonal entry
    with pytest.raises(ValueError, match=r"^Y \(Cholesky diagonal\)"):
        KLMetric().pairwise(X, bad)
    with pytest.raises(ValueError, match=r"^X \(Cholesky diagonal\)"):
        KLMetric().pairwise(bad, X)
    # alpha is only read for 'renyi' (as everywhere): a stray one is harmless
    assert KLMetric("kl", alpha="unused")(X[0], X[1]) == KLMetric()(X[0], X[1])


@pytest.mark.parametrize("kind", sorted(DIVERGENCES))
def test_every_kind_pickles(kind):
    # Joblib's process workers and joblib.dump of a fitted NearestNeighbors
    # pickle the metric: the registry's derived kinds were local lambdas.
    X = random_gaussians(np.random.default_rng(8), 3, 2).pack()
    metric = KLMetric(kind, alpha=0.7)
    clone = pickle.loads(pickle.dumps(metric))
    assert clone == metric
    assert clone(X[0], X[2]) == metric(X[0], X[2])
    info = pickle.loads(pickle.dumps(DIVERGENCES[kind]))
    assert info.name == kind and info.symmetric == DIVERGENCES[kind].symmetric
