"""Tests for skkl.GaussianNeighbors and pairwise_divergence_chunked(reduce_func=)."""

import pickle
import tracemalloc

import numpy as np
import pytest
from _builders import random_gaussians
from hypothesis import given
from hypothesis import strategies as st
from joblib import parallel_config
from numpy.testing import assert_allclose, assert_array_equal
from scipy import sparse
from sklearn import config_context
from sklearn.cluster import DBSCAN, SpectralClustering
from sklearn.datasets import load_digits
from sklearn.manifold import Isomap
from sklearn.metrics import adjusted_rand_score
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import InvalidParameterError
from sklearn.utils.estimator_checks import parametrize_with_checks
from threadpoolctl import threadpool_limits

from skkl import (
    GaussianNeighbors,
    Gaussians,
    KLMetric,
    divergence,
    pairwise_divergence,
    pairwise_divergence_chunked,
)

# -- scikit-learn's estimator checks ----------------------------------------

# The checks feed random arrays (negative entries, any number of columns).
# Packed rows have a fixed length per dimension (d + d(d+1)/2 for 'full',
# d + 1 for 'spherical') and positive Cholesky diagonals / standard
# deviations, so a check whose random data violate that cannot apply: the
# estimator rightly raises a ValueError naming X. The same properties are
# tested on valid packed rows below (pickling, dtypes, read-only input,
# sample-order and subset invariance, n_features_in_).
_NOT_GAUSSIANS = (
    "the check's random rows are not packed Gaussians (negative standard "
    "deviation or Cholesky diagonal, or an impossible row length); tested on "
    "valid packed rows in this module"
)
_EXPECTED_FAILED = {
    "spherical": [
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
    ],
    "full": [
        "check_dict_unchanged",
        "check_dont_overwrite_parameters",
        "check_dtype_object",
        "check_estimators_dtypes",
        "check_estimators_fit_returns_self",
        "check_estimators_nan_inf",
        "check_estimators_overwrite_params",
        "check_estimators_pickle",
        "check_f_contiguous_array_estimator",
        "check_fit2d_1sample",
        "check_fit2d_predict1d",
        "check_fit_score_takes_y",
        "check_methods_sample_order_invariance",
        "check_methods_subset_invariance",
        "check_n_features_in_after_fitting",
        "check_pipeline_consistency",
        "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input",
    ],
}


def _expected_failed_checks(estimator):
    failed = dict.fromkeys(_EXPECTED_FAILED[estimator.covariance_type], _NOT_GAUSSIANS)
    # A packed row has at least 2 columns (mean and scale): the message names
    # the impossible row length instead of scikit-learn's "1 feature(s)".
    failed["check_fit2d_1feature"] = (
        "a one-column row is never a packed Gaussian; the error names the "
        "impossible row length"
    )
    return failed


@parametrize_with_checks(
    [GaussianNeighbors(covariance_type="spherical")],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible_estimator(estimator, check):
    check(estimator)


def test_estimator_properties_on_valid_packed_rows():
    # What the inapplicable checks test, on valid packed Gaussians.
    rng = np.random.default_rng(0)
    G, H = random_gaussians(rng, 20, 3), random_gaussians(rng, 7, 3)
    X, Y = G.pack(), H.pack()
    X_ro = X.copy()
    X_ro.setflags(write=False)
    nn = GaussianNeighbors(n_neighbors=4)
    assert nn.fit(X_ro) is nn
    assert nn.n_features_in_ == X.shape[1] and nn.n_samples_fit_ == 20
    assert_array_equal(X_ro, X)  # input untouched
    dist, ind = nn.kneighbors(Y)
    # float32 and int rows are computed in float64
    d32, i32 = (
        GaussianNeighbors(n_neighbors=4)
        .fit(X.astype(np.float32))
        .kneighbors(Y.astype(np.float32))
    )
    ref = pairwise_divergence(
        Gaussians.from_packed(Y.astype(np.float32).astype(float)),
        Gaussians.from_packed(X.astype(np.float32).astype(float)),
    )
    assert_allclose(d32, np.sort(ref, axis=1)[:, :4], rtol=1e-12)
    # sample order and subset invariance of the queries
    perm = rng.permutation(7)
    d_p, i_p = nn.kneighbors(Y[perm])
    assert_array_equal(i_p, ind[perm])
    # the engine centres the means of P and Q together: the sum order moves
    # the last bits only
    assert_allclose(d_p, dist[perm], rtol=1e-12)
    d_s, i_s = nn.kneighbors(Y[:3])
    assert_array_equal(i_s, ind[:3])
    # pickling keeps the fitted state
    clone = pickle.loads(pickle.dumps(nn))
    d_c, i_c = clone.kneighbors(Y)
    assert_array_equal(i_c, ind)
    assert_array_equal(d_c, dist)
    # a DataFrame of packed rows sets feature_names_in_
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=[f"c{i}" for i in range(X.shape[1])])
    nn_df = GaussianNeighbors(n_neighbors=4).fit(frame)
    assert list(nn_df.feature_names_in_) == list(frame.columns)
    assert_array_equal(nn_df.kneighbors(frame.iloc[:3])[1], nn.kneighbors(X[:3])[1])
    # refitting on Gaussians drops the names
    assert not hasattr(nn_df.fit(G), "feature_names_in_")


# -- exactness against independent references --------------------------------


def _naive_kneighbors(Q, P, k, kind="kl", alpha=0.5, exclude_self=False):
    """Nearest by a Python loop over ``divergence`` (one query at a time)."""
    dist = np.empty((len(Q), k))
    ind = np.empty((len(Q), k), dtype=int)
    for i in range(len(Q)):
        row = np.atleast_1d(divergence(Q[i], P, kind, alpha=alpha)).astype(float)
        if exclude_self:
            row[i] = np.inf
        order = np.argsort(row, kind="stable")[:k]
        dist[i], ind[i] = row[order], order
    return dist, ind


@pytest.mark.parametrize(
    "covariance_type, kind",
    [
        ("full", "kl"),
        ("full", "reverse_kl"),
        ("diag", "kl"),
        ("spherical", "jeffreys"),
        ("tied", "kl"),
        ("full", "hellinger"),
        ("diag", "renyi"),
        ("full", "wasserstein"),
    ],
)
def test_kneighbors_match_precomputed_and_naive_loop(covariance_type, kind):
    rng = np.random.default_rng(1)
    P = random_gaussians(rng, 40, 3, covariance_type)
    Q = random_gaussians(rng, 13, 3, covariance_type)
    nn = GaussianNeighbors(n_neighbors=5, kind=kind, alpha=0.7).fit(P)
    dist, ind = nn.kneighbors(Q)
    # scikit-learn on the full matrix
    D = pairwise_divergence(Q, P, kind, alpha=0.7)
    D0 = pairwise_divergence(P, kind=kind, alpha=0.7)
    ref = NearestNeighbors(n_neighbors=5, metric="precomputed").fit(D0)
    dist_sk, ind_sk = ref.kneighbors(D)
    assert_array_equal(ind, ind_sk)
    assert_array_equal(dist, dist_sk)  # the engine's values, bit for bit
    # a loop over the pointwise kernel: same neighbours, the engine's rtol
    dist_naive, ind_naive = _naive_kneighbors(Q, P, 5, kind, alpha=0.7)
    assert_array_equal(ind, ind_naive)
    assert_allclose(dist, dist_naive, rtol=1e-9, atol=1e-300)
    # without X: each point is excluded from its own neighbours
    dist0, ind0 = nn.kneighbors()
    dist0_sk, ind0_sk = ref.kneighbors()
    assert_array_equal(ind0, ind0_sk)
    assert_array_equal(dist0, dist0_sk)
    assert not np.any(ind0 == np.arange(40)[:, None])
    assert_array_equal(nn.kneighbors(Q, return_distance=False), ind)


@pytest.mark.parametrize("kind", ["kl", "renyi", "jeffreys"])
def test_fitted_first_direction_is_the_column_of_pairwise(kind):
    rng = np.random.default_rng(2)
    P = random_gaussians(rng, 50, 2, "diag")
    Q = random_gaussians(rng, 9, 2, "full")
    nn = GaussianNeighbors(
        n_neighbors=6, kind=kind, alpha=0.3, direction="fitted_first"
    )
    # tiny blocks: the running merge across many blocks is exercised (the
    # references use the same blocks, hence the same bits)
    with config_context(working_memory=1e-3):
        dist, ind = nn.fit(P).kneighbors(Q)
        dist0, ind0 = nn.kneighbors()
        DT = pairwise_divergence(P, Q, kind, alpha=0.3).T  # rows: queries
        D0 = pairwise_divergence(P, kind=kind, alpha=0.3).T
    order = np.argsort(DT, axis=1, kind="stable")[:, :6]
    assert_array_equal(ind, order)
    assert_array_equal(dist, np.take_along_axis(DT, order, axis=1))
    np.fill_diagonal(D0, np.inf)
    order0 = np.argsort(D0, axis=1, kind="stable")[:, :6]
    assert_array_equal(ind0, order0)
    assert_array_equal(dist0, np.take_along_axis(D0, order0, axis=1))
    if kind == "jeffreys":  # symmetric: the direction does not matter
        same = nn.set_params(direction="query_first").kneighbors(Q)
        assert_array_equal(same[1], ind)
        assert_allclose(same[0], dist, rtol=1e-12)


def test_symmetry_trap_regression():
    # 60 random 3-d Gaussians: scikit-learn mirrors one triangle of KL when
    # the query is the fitted array and returns wrong neighbours.
    rng = np.random.default_rng(0)
    K, d = 60, 3
    A = rng.normal(size=(K, d, d))
    G = Gaussians(rng.normal(size=(K, d)), A @ A.transpose(0, 2, 1) + np.eye(d))
    X = G.pack()
    truth_dist, truth_ind = _naive_kneighbors(G, G, 3)
    trapped = NearestNeighbors(n_neighbors=3, metric=KLMetric(), algorithm="brute")
    # one Python call per pair: tiny solves, far faster on one BLAS thread
    with threadpool_limits(1, user_api="blas"):
        trapped_ind = trapped.fit(X).kneighbors(X, return_distance=False)
        copy_ind = trapped.kneighbors(X.copy(), return_distance=False)
        wrong_rows = np.any(trapped_ind != truth_ind, axis=1).sum()
    assert wrong_rows >= 20  # 38 of 60 rows with this seed
    # the copy avoids the trap, and the new estimator is right either way
    assert_array_equal(copy_ind, truth_ind)
    for query in (X, G):
        dist, ind = GaussianNeighbors(n_neighbors=3).fit(X).kneighbors(query)
        assert_array_equal(ind, truth_ind)
        assert_allclose(dist, truth_dist, rtol=1e-9, atol=1e-300)


@given(
    K=st.integers(2, 30),
    n_queries=st.integers(1, 8),
    d=st.integers(1, 4),
    k=st.integers(1, 5),
    seed=st.integers(0, 2**16),
    covariance_type=st.sampled_from(["full", "diag", "spherical"]),
    direction=st.sampled_from(["query_first", "fitted_first"]),
    memory=st.sampled_from([1e-4, 1e-2, None]),
)
def test_kneighbors_are_the_sorted_rows(
    K, n_queries, d, k, seed, covariance_type, direction, memory
):
    rng = np.random.default_rng(seed)
    P = random_gaussians(rng, K, d, covariance_type)
    Q = random_gaussians(rng, n_queries, d, covariance_type)
    # duplicates: ties broken by the lower index
    P = Gaussians.from_packed(
        np.vstack([P.pack(), P[0].pack()]), covariance_type=covariance_type
    )
    k = min(k, K)
    nn = GaussianNeighbors(n_neighbors=k, direction=direction).fit(P)
    with config_context(working_memory=memory or 1024):
        dist, ind = nn.kneighbors(Q)
        dist0, ind0 = nn.kneighbors()
        if direction == "query_first":
            D, D0 = pairwise_divergence(Q, P), pairwise_divergence(P)
        else:
            D, D0 = pairwise_divergence(P, Q).T, pairwise_divergence(P).T
    order = np.argsort(D, axis=1, kind="stable")[:, :k]
    assert_array_equal(ind, order)
    assert_array_equal(dist, np.take_along_axis(D, order, axis=1))
    np.fill_diagonal(D0, np.inf)
    order0 = np.argsort(D0, axis=1, kind="stable")[:, :k]
    assert_array_equal(ind0, order0)


def test_on_class_gaussians_of_digits():
    # Data we did not generate: one diagonal Gaussian per digit and per
    # quarter of each class (constant pixels need the ridge).
    X, y = load_digits(return_X_y=True)
    parts = []
    for c in range(10):
        rows = X[y == c]
        for chunk in np.array_split(rows, 4):
            parts.append(Gaussians.from_samples(chunk, "diag", reg_covar=1e-2).pack())
    packed = np.vstack(parts)
    nn = GaussianNeighbors(n_neighbors=3, covariance_type="diag").fit(packed)
    dist, ind = nn.kneighbors()
    G = Gaussians.from_packed(packed, "diag")
    truth_dist, truth_ind = _naive_kneighbors(G, G, 3, exclude_self=True)
    assert_array_equal(ind, truth_ind)
    assert_allclose(dist, truth_dist, rtol=1e-9)
    # most nearest Gaussians are quarters of the same digit
    assert np.mean(ind[:, 0] // 4 == np.arange(40) // 4) > 0.8


# -- radius queries and graphs ----------------------------------------------


@pytest.mark.parametrize("direction", ["query_first", "fitted_first"])
def test_radius_neighbors_match_naive(direction):
    rng = np.random.default_rng(3)
    P = random_gaussians(rng, 30, 2, "diag")
    Q = random_gaussians(rng, 8, 2, "diag")
    nn = GaussianNeighbors(radius=1.5, direction=direction).fit(P)
    with config_context(working_memory=1e-3):
        dist, ind = nn.radius_neighbors(Q)
        dist_s, ind_s = nn.radius_neighbors(Q, sort_results=True)
        dist0, ind0 = nn.radius_neighbors(radius=1.0, sort_results=True)
    if direction == "query_first":
        D, D0 = pairwise_divergence(Q, P), pairwise_divergence(P)
    else:
        D, D0 = pairwise_divergence(P, Q).T, pairwise_divergence(P).T
    np.fill_diagonal(D0, np.inf)
    for i in range(8):
        expected = np.flatnonzero(D[i] <= 1.5)
        assert_array_equal(ind[i], expected)  # index order
        assert_array_equal(dist[i], D[i, expected])
        order = np.argsort(D[i, expected], kind="stable")
        assert_array_equal(ind_s[i], expected[order])
        assert np.all(np.diff(dist_s[i]) >= 0)
    for i in range(30):
        expected = np.flatnonzero(D0[i] <= 1.0)
        assert_array_equal(np.sort(ind0[i]), expected)
        assert i not in ind0[i]
        assert_array_equal(dist0[i], np.sort(D0[i, expected]))
    # the boundary is included
    r = float(dist_s[0][-1])
    assert ind_s[0][-1] in nn.radius_neighbors(Q, radius=r)[1][0]
    assert_array_equal(nn.radius_neighbors(Q, return_distance=False)[3], ind[3])


def test_graphs_structure():
    rng = np.random.default_rng(4)
    P = random_gaussians(rng, 25, 3)
    Q = random_gaussians(rng, 6, 3)
    nn = GaussianNeighbors(n_neighbors=4, radius=3.0).fit(P)
    A = nn.kneighbors_graph(Q, mode="distance")
    assert sparse.issparse(A) and A.format == "csr" and A.shape == (6, 25)
    dist, ind = nn.kneighbors(Q)
    assert_array_equal(A.indices.reshape(6, 4), ind)
    assert_array_equal(A.data.reshape(6, 4), dist)
    C = nn.kneighbors_graph()
    assert C.shape == (25, 25) and np.all(C.data == 1.0)
    assert C.diagonal().sum() == 0 and np.all(C.sum(axis=1) == 4)
    R = nn.radius_neighbors_graph(mode="distance", sort_results=True)
    D = pairwise_divergence(P)
    np.fill_diagonal(D, np.inf)
    dense = np.where(D <= 3.0, D, 0.0)
    assert_allclose(R.toarray(), dense, rtol=0)
    for row in range(25):  # rows sorted by divergence
        assert np.all(np.diff(R.data[R.indptr[row] : R.indptr[row + 1]]) >= 0)
    Rc = nn.radius_neighbors_graph(Q, radius=0.0)  # nothing within 0
    assert Rc.shape == (6, 25) and Rc.nnz == 0


def _clustered(rng, per=8, d=2):
    centres = np.repeat(np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]]), per, 0)
    G = random_gaussians(
        rng, 3 * per, d, "diag", means=centres + 0.3 * rng.normal(size=(3 * per, d))
    )
    return G, np.repeat([0, 1, 2], per)


# three separated clusters: the k-nearest-neighbour graph is disconnected
@pytest.mark.filterwarnings("ignore:Graph is not fully connected:UserWarning")
def test_graphs_feed_dbscan_spectral_and_isomap():
    rng = np.random.default_rng(5)
    G, truth = _clustered(rng)
    nn = GaussianNeighbors(n_neighbors=6, kind="jeffreys").fit(G)
    # DBSCAN on the radius graph equals DBSCAN on the dense matrix
    D = pairwise_divergence(G, kind="jeffreys")
    eps = 8.0
    graph = nn.radius_neighbors_graph(radius=eps, mode="distance", sort_results=True)
    labels = DBSCAN(eps=eps, min_samples=3, metric="precomputed").fit(graph).labels_
    dense = DBSCAN(eps=eps, min_samples=3, metric="precomputed").fit(D).labels_
    assert_array_equal(labels, dense)
    assert adjusted_rand_score(truth, labels) == 1.0
    # spectral clustering on the k-nearest-neighbour graph
    # scikit-learn's convention for precomputed graphs (KNeighborsTransformer):
    # each row holds the sample itself at distance 0, so query explicitly.
    knn = nn.kneighbors_graph(G, mode="distance")
    assert_array_equal(knn.indices.reshape(-1, 6)[:, 0], np.arange(len(G)))
    assert np.all(knn.data.reshape(-1, 6)[:, 0] == 0.0)
    spectral = SpectralClustering(
        n_clusters=3,
        affinity="precomputed_nearest_neighbors",
        n_neighbors=5,
        random_state=0,
    ).fit(knn)
    assert adjusted_rand_score(truth, spectral.labels_) == 1.0
    # Isomap on the sparse graph equals Isomap on the dense matrix
    rng = np.random.default_rng(6)
    t = np.linspace(0, 3, 40)
    H = random_gaussians(rng, 40, 2, "spherical", means=np.c_[np.cos(t), np.sin(t)] * 5)
    D = pairwise_divergence(H, kind="wasserstein")
    sparse_graph = (
        GaussianNeighbors(n_neighbors=6, kind="wasserstein")
        .fit(H)
        .kneighbors_graph(H, mode="distance")
    )
    emb_sparse = Isomap(
        n_neighbors=5, metric="precomputed", n_components=1
    ).fit_transform(sparse_graph)
    emb_dense = Isomap(
        n_neighbors=5, metric="precomputed", n_components=1
    ).fit_transform(D)
    assert_allclose(np.abs(emb_sparse), np.abs(emb_dense), rtol=1e-8, atol=1e-8)


# -- memory ------------------------------------------------------------------


def test_blocks_and_peak_memory_stay_within_working_memory():
    rng = np.random.default_rng(7)
    K, d, budget_mib = 2000, 4, 0.25
    G = random_gaussians(rng, K, d, "diag")
    shapes = []

    def record(D, start):
        shapes.append(D.shape)
        return D.min(axis=1)

    with config_context(working_memory=budget_mib):
        list(pairwise_divergence_chunked(G, reduce_func=record))
        nn = GaussianNeighbors(n_neighbors=5).fit(G)
        nn.kneighbors()  # warm-up (imports, caches)
        tracemalloc.start()
        tracemalloc.reset_peak()
        dist, ind = nn.kneighbors()
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    # the engine's blocks (value + flag room: 16 bytes per entry) fit the budget
    assert len(shapes) > 1 and all(r * K * 16 <= budget_mib * 2**20 for r, _ in shapes)
    assert sum(r for r, _ in shapes) == K
    full_matrix = K * K * 8  # 32 MB
    operands = 4 * K * (2 * d + 2) * 8  # per-Gaussian operands and results
    assert peak < 2 * budget_mib * 2**20 + operands + 2 * dist.nbytes
    assert peak < full_matrix / 20
    # exact all the same
    ref = pairwise_divergence(G[:50], G)
    ref[np.arange(50), np.arange(50)] = np.inf
    assert_array_equal(ind[:50], np.argsort(ref, axis=1, kind="stable")[:, :5])


# -- reduce_func -------------------------------------------------------------


def test_reduce_func_like_pairwise_distances_chunked():
    rng = np.random.default_rng(8)
    P, Q = random_gaussians(rng, 30, 2), random_gaussians(rng, 11, 2)
    D = pairwise_divergence(P, Q)
    starts = []

    def reduce(chunk, start):
        starts.append(start)
        return chunk.argmin(axis=1), chunk.min(axis=1)

    with config_context(working_memory=1e-3):
        out = list(pairwise_divergence_chunked(P, Q, reduce_func=reduce))
        assert starts == sorted(starts) and starts[0] == 0 and len(out) > 1
        assert_array_equal(np.concatenate([o[0] for o in out]), D.argmin(axis=1))
        # through Parallel too (threads: process workers take seconds to start)
        with parallel_config(backend="threading"):
            par = list(pairwise_divergence_chunked(P, Q, reduce_func=reduce, n_jobs=2))
    assert_array_equal(np.concatenate([o[1] for o in par]), D.min(axis=1))
    assert all(
        o is None
        for o in pairwise_divergence_chunked(P, Q, reduce_func=lambda c, s: None)
    )
    with pytest.raises(ValueError, match="length 1 for a block of"):
        list(pairwise_divergence_chunked(P, Q, reduce_func=lambda c, s: c[:1]))
    with pytest.raises(TypeError, match="reduce_func returned float"):
        list(pairwise_divergence_chunked(P, Q, reduce_func=lambda c, s: 1.0))
    with pytest.raises(TypeError, match="reduce_func must be a callable"):
        list(pairwise_divergence_chunked(P, Q, reduce_func="min"))


def test_n_jobs_gives_the_same_neighbours():
    rng = np.random.default_rng(9)
    P = random_gaussians(rng, 60, 3)
    nn = GaussianNeighbors(n_neighbors=3).fit(P)
    with config_context(working_memory=1e-2):
        dist, ind = nn.kneighbors()
        with parallel_config(backend="threading"):
            dist2, ind2 = nn.set_params(n_jobs=2).kneighbors()
    assert_array_equal(ind, ind2)
    assert_array_equal(dist, dist2)


# -- validation --------------------------------------------------------------


def test_errors_name_the_argument():
    rng = np.random.default_rng(10)
    P = random_gaussians(rng, 5, 2)
    nn = GaussianNeighbors(n_neighbors=3).fit(P)
    with pytest.raises(ValueError, match=r"n_neighbors=5 but only 4 .* other than"):
        nn.kneighbors(n_neighbors=5)
    with pytest.raises(ValueError, match=r"n_neighbors=6 but only 5"):
        nn.kneighbors(P, n_neighbors=6)
    with pytest.raises(ValueError, match="n_neighbors must be an integer >= 1"):
        nn.kneighbors(n_neighbors=0)
    with pytest.raises(ValueError, match="X holds Gaussians of dimension 3"):
        nn.kneighbors(random_gaussians(rng, 2, 3))
    with pytest.raises(ValueError, match="X has 9 features, but GaussianNeighbors"):
        GaussianNeighbors().fit(P.pack()).kneighbors(random_gaussians(rng, 2, 3).pack())
    with pytest.raises(ValueError, match="mode must be 'connectivity' or 'distance'"):
        nn.kneighbors_graph(mode="weights")
    with pytest.raises(ValueError, match="mode must be"):
        nn.radius_neighbors_graph(mode="weights")
    with pytest.raises(ValueError, match="radius must be a finite real number >= 0"):
        nn.radius_neighbors(radius=-1.0)
    with pytest.raises(ValueError, match="return_distance must be True"):
        nn.radius_neighbors(return_distance=False, sort_results=True)
    with pytest.raises(ValueError, match="sort_results=True needs mode='distance'"):
        nn.radius_neighbors_graph(sort_results=True)
    with pytest.raises(InvalidParameterError, match="'direction' parameter"):
        GaussianNeighbors(direction="both").fit(P)
    with pytest.raises(InvalidParameterError, match="'kind' parameter"):
        GaussianNeighbors(kind="cosine").fit(P)
    with pytest.raises(InvalidParameterError, match="'n_neighbors' parameter"):
        GaussianNeighbors(n_neighbors=0).fit(P)
    with pytest.raises(InvalidParameterError, match="'covariance_type' parameter"):
        GaussianNeighbors(covariance_type="tied").fit(P.pack())
    bad = P.pack()
    bad[1, 2] = -1.0
    with pytest.raises(ValueError, match=r"X \(Cholesky diagonal\)"):
        GaussianNeighbors().fit(bad)
    with pytest.raises(ValueError, match="impossible"):
        GaussianNeighbors().fit(np.ones((4, 4)))
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        GaussianNeighbors().kneighbors(P)
