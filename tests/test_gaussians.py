"""Tests for ``skkl.Gaussians`` against explicit numpy computations."""

import pickle

import numpy as np
import pytest
from _builders import as_full, random_covariances

from skkl import COVARIANCE_TYPES, Gaussians, n_features_from_packed, packed_size

K, D = 4, 3


def _example(kind, rng=None, K=K, d=D):
    """means, covariances in ``kind``'s layout, and the equivalent full matrices."""
    rng = np.random.default_rng(0) if rng is None else rng
    means = rng.standard_normal((K, d))
    cov = random_covariances(rng, K, d, kind, low=0.2)
    return means, cov, as_full(cov, kind, K, d)


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_shapes_factors_and_logdet(kind):
    means, cov, full = _example(kind)
    G = Gaussians(means, cov, kind)
    assert len(G) == K and G.n_features == D and G.covariance_type == kind
    assert G.means.shape == (K, D) and G.means.dtype == np.float64
    np.testing.assert_array_equal(G.means, means)
    np.testing.assert_array_equal(G.covariances, cov)
    assert (
        G.cholesky.shape
        == {"full": (K, D, D), "tied": (D, D), "diag": (K, D), "spherical": (K,)}[kind]
    )
    Lf = G.full_cholesky()
    assert Lf.shape == (K, D, D)
    np.testing.assert_allclose(Lf @ np.swapaxes(Lf, 1, 2), full, rtol=1e-13)
    np.testing.assert_allclose(G.logdet, np.linalg.slogdet(full)[1], rtol=1e-13)
    if kind in ("diag", "spherical"):
        np.testing.assert_allclose(G.std() ** 2, np.diagonal(full, 0, 1, 2), rtol=1e-15)
    else:
        with pytest.raises(ValueError, match="std"):
            G.std()


@pytest.mark.parametrize(
    "kind, cov",
    [
        ("full", [[2.0, 0.5], [0.5, 1.0]]),
        ("diag", [2.0, 1.0]),
        ("spherical", 2.0),
        ("tied", [[2.0, 0.5], [0.5, 1.0]]),
    ],
)
def test_single_gaussian_with_1d_mean(kind, cov):
    G = Gaussians([1.0, -1.0], cov, kind)
    assert len(G) == 1 and G.n_features == 2
    np.testing.assert_array_equal(G.means, [[1.0, -1.0]])
    full = Gaussians([1.0, -1.0], cov, kind).to_full().covariances[0]
    expected = np.asarray(cov, float)
    expected = expected if expected.ndim == 2 else expected * np.eye(2)
    np.testing.assert_allclose(full, expected, rtol=1e-15)


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_indexing_slicing_len_repr(kind):
    means, cov, full = _example(kind)
    G = Gaussians(means, cov, kind)
    assert repr(G) == f"Gaussians(n=4, n_features=3, covariance_type={kind!r})"
    for key, idx in [
        (2, [2]),
        (-1, [3]),
        (-4, [0]),
        (slice(1, 3), [1, 2]),
        (np.array([3, 0, 3]), [3, 0, 3]),
        (np.array([True, False, True, False]), [0, 2]),
    ]:
        sub = G[key]
        assert isinstance(sub, Gaussians) and sub.covariance_type == kind
        assert len(sub) == len(idx)
        np.testing.assert_array_equal(sub.means, means[idx])
        np.testing.assert_array_equal(sub.logdet, G.logdet[idx])
        np.testing.assert_allclose(sub.to_full().covariances, full[idx], rtol=1e-13)
        if kind == "tied":
            np.testing.assert_array_equal(sub.covariances, cov)
    for bad in (4, -5):
        with pytest.raises(IndexError, match="out of range"):
            G[bad]
    with pytest.raises(IndexError, match="at least one"):
        G[2:2]


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_to_full(kind):
    means, cov, full = _example(kind)
    G = Gaussians(means, cov, kind).to_full()
    assert G.covariance_type == "full"
    np.testing.assert_array_equal(G.means, means)
    np.testing.assert_allclose(G.covariances, full, rtol=1e-14)
    np.testing.assert_allclose(G.logdet, np.linalg.slogdet(full)[1], rtol=1e-13)
    # the cached factor is consistent with an independent construction
    np.testing.assert_allclose(G.cholesky, Gaussians(means, full).cholesky, rtol=1e-12)


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_pack_from_packed_round_trip(kind):
    means, cov, full = _example(kind)
    G = Gaussians(means, cov, kind)
    X = G.pack()
    packed_kind = "full" if kind == "tied" else kind
    assert X.shape == (K, packed_size(D, packed_kind))
    assert n_features_from_packed(X.shape[1], packed_kind) == D
    np.testing.assert_array_equal(X[:, :D], means)
    H = Gaussians.from_packed(X, packed_kind)
    assert H.covariance_type == packed_kind and len(H) == K
    np.testing.assert_array_equal(H.means, means)
    np.testing.assert_allclose(H.to_full().covariances, full, rtol=1e-13)
    np.testing.assert_allclose(H.logdet, G.logdet, rtol=1e-13)
    np.testing.assert_array_equal(H.pack(), X)
    np.testing.assert_array_equal(
        Gaussians.from_packed(X[0], packed_kind).pack(), X[:1]
    )


def test_pack_layout_is_mean_then_row_major_lower_triangle():
    L = np.array([[2.0, 0.0], [1.0, 3.0]])
    G = Gaussians([[5.0, 6.0]], [L @ L.T])
    np.testing.assert_allclose(G.pack(), [[5.0, 6.0, 2.0, 1.0, 3.0]], rtol=1e-15)
    Gd = Gaussians([[5.0, 6.0]], [[4.0, 9.0]], "diag")
    np.testing.assert_allclose(Gd.pack(), [[5.0, 6.0, 2.0, 3.0]], rtol=1e-15)
    Gs = Gaussians([[5.0, 6.0]], [4.0], "spherical")
    np.testing.assert_allclose(Gs.pack(), [[5.0, 6.0, 2.0]], rtol=1e-15)


def test_packed_sizes_and_errors():
    for d in range(1, 7):
        assert packed_size(d, "full") == d + d * (d + 1) // 2
        assert packed_size(d, "diag") == 2 * d
        assert packed_size(d, "spherical") == d + 1
        for kind in ("full", "diag", "spherical"):
            assert n_features_from_packed(packed_size(d, kind), kind) == d
    with pytest.raises(ValueError, match="length 7 is impossible.*'full'"):
        n_features_from_packed(7, "full")
    with pytest.raises(ValueError, match="length 5 is impossible.*'diag'"):
        n_features_from_packed(5, "diag")
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        packed_size(3, "diagonal")
    with pytest.raises(ValueError, match="tied"):
        Gaussians.from_packed(np.ones((2, 5)), "tied")
    with pytest.raises(ValueError, match=r"X \(Cholesky diagonal\).*index \(0, 1\)"):
        Gaussians.from_packed([[0.0, 0.0, 1.0, 0.0, -1.0]], "full")
    with pytest.raises(ValueError, match=r"X \(standard deviation\)"):
        Gaussians.from_packed([[0.0, 0.0, 1.0, 0.0]], "diag")
    with pytest.raises(ValueError, match="X contains NaN"):
        Gaussians.from_packed([[0.0, np.nan, 1.0]], "spherical")


# -- from_samples -------------------------------------------------------------


@pytest.fixture
def samples():
    rng = np.random.default_rng(5)
    return rng.standard_normal((50, D)) @ rng.standard_normal((D, D)) + 3.0


def test_from_samples_ml_estimate(samples):
    X = samples
    ref_cov = np.cov(X.T, bias=True)
    G = Gaussians.from_samples(X)
    np.testing.assert_allclose(G.means, X.mean(0)[None], rtol=1e-14)
    np.testing.assert_allclose(G.covariances, ref_cov[None], rtol=1e-12)
    Gt = Gaussians.from_samples(X, "tied")
    assert Gt.covariances.shape == (D, D)
    np.testing.assert_allclose(Gt.covariances, ref_cov, rtol=1e-12)
    Gd = Gaussians.from_samples(X, "diag")
    np.testing.assert_allclose(Gd.covariances, [X.var(0)], rtol=1e-12)
    Gs = Gaussians.from_samples(X, "spherical")
    np.testing.assert_allclose(Gs.covariances, [X.var(0).mean()], rtol=1e-12)


def test_from_samples_reg_covar_and_weights(samples):
    X = samples
    X0 = X.copy()
    ref_cov = np.cov(X.T, bias=True)
    G = Gaussians.from_samples(X, reg_covar=0.25)
    np.testing.assert_allclose(G.covariances[0], ref_cov + 0.25 * np.eye(D), rtol=1e-12)
    Gd = Gaussians.from_samples(X, "diag", reg_covar=0.25)
    np.testing.assert_allclose(Gd.covariances[0], X.var(0) + 0.25, rtol=1e-12)
    # integer weights == repeated rows; weights are scale invariant
    w = np.arange(len(X)) % 3
    Xr = np.repeat(X, w, axis=0)
    Gw = Gaussians.from_samples(X, sample_weight=w)
    np.testing.assert_allclose(Gw.means, Xr.mean(0)[None], rtol=1e-13)
    np.testing.assert_allclose(Gw.covariances[0], np.cov(Xr.T, bias=True), rtol=1e-12)
    np.testing.assert_allclose(
        Gaussians.from_samples(X, sample_weight=7.5 * w).covariances,
        Gw.covariances,
        rtol=1e-13,
    )
    np.testing.assert_allclose(
        np.cov(X.T, aweights=w, bias=True), Gw.covariances[0], rtol=1e-12
    )
    np.testing.assert_array_equal(X, X0)  # inputs untouched
    np.testing.assert_array_equal(w, np.arange(len(X)) % 3)
    assert not np.shares_memory(Gw.means, X)


def test_from_samples_bad_input(samples):
    X = samples
    with pytest.raises(ValueError, match="reg_covar"):
        Gaussians.from_samples(X, reg_covar=-1.0)
    with pytest.raises(ValueError, match="sample_weight"):
        Gaussians.from_samples(X, sample_weight=np.ones(3))
    with pytest.raises(ValueError, match="sample_weight"):
        Gaussians.from_samples(X, sample_weight=-np.ones(len(X)))
    with pytest.raises(ValueError, match="sample_weight"):
        Gaussians.from_samples(X, sample_weight=np.zeros(len(X)))
    with pytest.raises(ValueError, match="X must be 2-D"):
        Gaussians.from_samples(X[None])
    with pytest.raises(ValueError, match="X must have at least 2"):
        Gaussians.from_samples(X[0])
    # a degenerate sample: non-PD, the message suggests reg_covar
    with pytest.raises(ValueError, match="covariances.*reg_covar"):
        Gaussians.from_samples(np.ones((5, 2)))
    G = Gaussians.from_samples(np.ones((5, 2)), reg_covar=1e-6)
    np.testing.assert_allclose(G.covariances[0], 1e-6 * np.eye(2), rtol=1e-12)


# -- immutability, copies, pickling, dtypes -----------------------------------


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_immutable_and_float64_inputs_shared_read_only(kind):
    # float64 C-contiguous input is not copied (issue 25): the attributes are
    # read-only views of it, and the caller's own arrays keep their flags
    # and values.
    means, cov, _ = _example(kind)
    means_in, cov_in = means.copy(), cov.copy()
    G = Gaussians(means_in, cov_in, kind)
    np.testing.assert_array_equal(means_in, means)
    np.testing.assert_array_equal(cov_in, cov)
    assert means_in.flags.writeable and cov_in.flags.writeable
    assert np.shares_memory(G.means, means_in)
    assert np.shares_memory(G.covariances, cov_in)
    for arr in (G.means, G.covariances, G.cholesky, G.logdet):
        assert not arr.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            arr[...] = 0.0
    with pytest.raises(AttributeError, match="immutable"):
        G.means = means
    with pytest.raises(AttributeError, match="immutable"):
        G.extra = 1


def _strided(x):
    """A non-contiguous float64 view with the values of ``x``."""
    return np.stack([x, x], axis=-1)[..., 0]


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_converted_or_non_contiguous_inputs_are_copied(kind):
    means, cov, _ = _example(kind)
    for m_in, c_in in [
        (means.astype(np.float32), cov.astype(np.float32)),
        (_strided(means), _strided(cov)),
        (means.tolist(), cov.tolist()),
    ]:
        G = Gaussians(m_in, c_in, kind)
        for arr in (G.means, G.covariances):
            assert not np.shares_memory(arr, np.asarray(m_in))
            assert not np.shares_memory(arr, np.asarray(c_in))
    # Within-tolerance asymmetric float64 input: a symmetrised copy.
    S = np.array([[2.0, 0.5], [0.5 + 1e-12, 1.0]])
    G = Gaussians([0.0, 0.0], S)
    assert not np.shares_memory(G.covariances, S)


def test_from_packed_does_not_alias_input():
    X = Gaussians(*_example("full")[:2]).pack().copy()
    X0 = X.copy()
    H = Gaussians.from_packed(X)
    X[:] = 0.0
    np.testing.assert_array_equal(H.pack(), X0)


def test_symmetrises_within_tolerance_without_modifying_input():
    S = np.array([[2.0, 0.5], [0.5 + 1e-12, 1.0]])
    S0 = S.copy()
    G = Gaussians([0.0, 0.0], S)
    np.testing.assert_array_equal(S, S0)
    np.testing.assert_array_equal(G.covariances[0], G.covariances[0].T)
    assert G.covariances[0, 0, 1] == 0.5 * (0.5 + 0.5 + 1e-12)


@pytest.mark.parametrize("kind", COVARIANCE_TYPES)
def test_pickle_round_trip(kind):
    G = Gaussians(*_example(kind)[:2], kind)
    H = pickle.loads(pickle.dumps(G))
    assert type(H) is Gaussians and repr(H) == repr(G)
    for name in ("means", "covariances", "cholesky", "logdet"):
        np.testing.assert_array_equal(getattr(H, name), getattr(G, name))
        assert not getattr(H, name).flags.writeable
    with pytest.raises(AttributeError):
        H.means = None


@pytest.mark.parametrize("dtype", [np.float32, np.int64, np.int32])
def test_float32_and_int_input_computed_in_float64(dtype):
    means = np.array([[1, 2], [3, 4]], dtype=dtype)
    cov = np.array([[[4, 2], [2, 3]], [[9, 0], [0, 1]]], dtype=dtype)
    G = Gaussians(means, cov)
    ref = Gaussians(means.astype(np.float64), cov.astype(np.float64))
    for name in ("means", "covariances", "cholesky", "logdet"):
        assert getattr(G, name).dtype == np.float64
        np.testing.assert_array_equal(getattr(G, name), getattr(ref, name))
    np.testing.assert_allclose(G.logdet, [np.log(8.0), np.log(9.0)], rtol=1e-15)
    Gd = Gaussians(np.float32([0.1, 0.2]), np.float32([0.3, 0.7]), "diag")
    np.testing.assert_array_equal(
        Gd.covariances[0], np.float32([0.3, 0.7]).astype(float)
    )


# -- bad input ------------------------------------------------------------------


def test_bad_input_messages_name_the_argument():
    m, S = np.zeros((2, 2)), np.stack([np.eye(2)] * 2)
    with pytest.raises(ValueError, match=r"means contains NaN.*\(1, 0\)"):
        Gaussians([[0.0, 0.0], [np.nan, 0.0]], S)
    with pytest.raises(ValueError, match="covariances contains NaN or infinity"):
        Gaussians(m, np.stack([np.eye(2), [[np.inf, 0.0], [0.0, 1.0]]]))
    with pytest.raises(ValueError, match=r"covariances must have shape \(2, 2, 2\)"):
        Gaussians(m, np.eye(2))
    with pytest.raises(ValueError, match=r"covariances must have shape \(2, 2\)"):
        Gaussians(m, np.ones(2), "diag")
    with pytest.raises(ValueError, match=r"covariances must have shape \(2,\)"):
        Gaussians(m, np.ones((2, 2)), "spherical")
    with pytest.raises(ValueError, match=r"covariances must have shape \(2, 2\)"):
        Gaussians(m, np.ones((3, 3)), "tied")
    with pytest.raises(ValueError, match=r"means must have shape \(K, d\)"):
        Gaussians(np.zeros((2, 2, 2)), S)
    with pytest.raises(ValueError, match="means is empty"):
        Gaussians(np.zeros((0, 2)), np.zeros((0, 2, 2)))
    with pytest.raises(ValueError, match="covariances is not symmetric"):
        Gaussians(m, np.stack([np.eye(2), [[1.0, 0.5], [0.0, 1.0]]]))
    with pytest.raises(
        ValueError, match=r"covariances\[1\] is not positive.*reg_covar"
    ):
        Gaussians(m, np.stack([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]))
    with pytest.raises(ValueError, match=r"covariances has a non-positive.*reg_covar"):
        Gaussians(m, np.stack([np.eye(2), np.diag([1.0, 0.0])]))
    with pytest.raises(
        ValueError, match=r"covariances has a non-positive variance.*\(1, 1\)"
    ):
        Gaussians(m, [[1.0, 1.0], [1.0, -2.0]], "diag")
    with pytest.raises(
        ValueError, match=r"covariances has a non-positive variance.*\(0,\)"
    ):
        Gaussians(m, [0.0, 1.0], "spherical")
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        Gaussians(m, S, "diagonal")
    with pytest.raises(TypeError, match="means must be a numeric"):
        Gaussians([["a", "b"]], np.eye(2))
    with pytest.raises(TypeError, match="covariances must be a numeric"):
        Gaussians([[0.0, 0.0]], [["a", "b"], ["c", "d"]])


def test_more_bad_input_names_the_argument():
    with pytest.raises((ValueError, TypeError), match="covariances"):
        Gaussians([[0.0, 0.0]], [[1.0, 0.0], [0.0]])  # ragged
    X = np.random.default_rng(0).normal(size=(10, 2))
    with pytest.raises((ValueError, TypeError), match="sample_weight"):
        Gaussians.from_samples(X, sample_weight="abc")
    for bad in (np.inf, np.nan, True, "1e-6", None):
        with pytest.raises(ValueError, match="reg_covar must be a"):
            Gaussians.from_samples(X, reg_covar=bad)


def test_huge_and_tiny_variances_validate_without_overflow_warning():
    # The symmetry tolerance sqrt(S_ii S_jj) must not overflow for S_ii ~ 1e300
    # (pytest turns RuntimeWarnings raised in skkl into errors).
    S = np.array([[1e300, 1e299], [1e299, 1e300]])
    G = Gaussians(np.zeros(2), S)
    np.testing.assert_allclose(G.logdet, np.log(1e300) * 2 + np.log(0.99))


def test_packed_size_helpers_reject_non_counts():
    # int(2.7) == 2 and packed_size(-1, 'full') == -1 used to pass silently.
    for bad in (0, -1, 2.7, "3", True, None):
        with pytest.raises(ValueError, match="n_features must be an integer >= 1"):
            packed_size(bad, "full")
    for bad in (9.5, -9, "9", None):
        with pytest.raises(ValueError, match="n_columns must be an integer >= 1"):
            n_features_from_packed(bad, "full")
    assert packed_size(np.int64(3), "full") == 9
    assert n_features_from_packed(np.int32(9), "full") == 3


def test_from_samples_fewer_samples_than_features_with_allow_singular():
    # n < d: the sample covariance is singular; refused by default with the
    # ridge hint, accepted (for 'wasserstein') with allow_singular=True.
    X = np.random.default_rng(0).normal(size=(3, 5))
    with pytest.raises(ValueError, match="not positive definite.*reg_covar"):
        Gaussians.from_samples(X)
    G = Gaussians.from_samples(X, allow_singular=True)
    assert G.singular.tolist() == [True]
    S = G.covariances[0]
    # eigh and QR are backward stable: L L' = S + O(d eps ||S||_2) each.
    atol = 8 * (5 + 1) * np.finfo(float).eps * np.linalg.norm(S, 2)
    np.testing.assert_allclose(G.cholesky[0] @ G.cholesky[0].T, S, rtol=0, atol=atol)
    np.testing.assert_allclose(S, np.cov(X.T, bias=True), rtol=1e-13, atol=atol)
