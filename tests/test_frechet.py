"""Tests for skkl.frechet_distance and skkl.frechet_distance_from_moments."""

import warnings

import mpmath
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from numpy.testing import assert_allclose
from scipy import linalg
from sklearn import config_context
from sklearn.datasets import load_breast_cancer, load_digits, load_wine

from skkl import divergence, frechet_distance, frechet_distance_from_moments

mp = mpmath.mp


# -- independent references -----------------------------------------------------


def _mp_moments(X):
    n, d = X.shape
    rows = [[mp.mpf(float(v)) for v in row] for row in X]
    mean = [mp.fsum(r[j] for r in rows) / n for j in range(d)]
    cov = mp.matrix(d, d)
    for i in range(d):
        for j in range(i, d):
            s = mp.fsum((r[i] - mean[i]) * (r[j] - mean[j]) for r in rows) / (n - 1)
            cov[i, j] = cov[j, i] = s
    return mean, cov


def _mp_sqrt_psd(S):
    E, Q = mp.eigsy(S)
    d = S.rows
    D = mp.diag([mp.sqrt(max(E[i], 0)) for i in range(d)])
    return Q * D * Q.T


def _mp_frechet_moments(m1, S1, m2, S2):
    """The textbook formula at 50 digits: R = S1^1/2, tr (R S2 R)^1/2."""
    R = _mp_sqrt_psd(S1)
    E, _ = mp.eigsy(R * S2 * R)
    d = S1.rows
    trace = mp.fsum(mp.sqrt(max(E[i], 0)) for i in range(d))
    mean = mp.fsum((m1[i] - m2[i]) ** 2 for i in range(d))
    tr = mp.fsum(S1[i, i] + S2[i, i] for i in range(d))
    return mean + tr - 2 * trace


def _mp_frechet(X, Y, dps=50):
    with mp.workdps(dps):
        m1, S1 = _mp_moments(X)
        m2, S2 = _mp_moments(Y)
        return float(_mp_frechet_moments(m1, S1, m2, S2))


def _mp_frechet_from_arrays(m1, S1, m2, S2, dps=50):
    with mp.workdps(dps):

        def conv(S):
            return mp.matrix([[mp.mpf(float(v)) for v in row] for row in S])

        return float(
            _mp_frechet_moments(
                [mp.mpf(float(v)) for v in m1],
                conv(S1),
                [mp.mpf(float(v)) for v in m2],
                conv(S2),
            )
        )


def _svd_reference(X, Y):
    """Independent float64 route: the nuclear norm of the sample-space product.

    tr (S1^1/2 S2 S1^1/2)^1/2 = ||Yc Xc'||_* / sqrt((n1 - 1)(n2 - 1)), singular
    values by LAPACK's SVD (absolute error about eps times the largest).
    """
    Xc, Yc = X - X.mean(0), Y - Y.mean(0)
    n1, n2 = len(X), len(Y)
    trace = np.linalg.svd(Yc @ Xc.T, compute_uv=False).sum() / np.sqrt(
        (n1 - 1.0) * (n2 - 1.0)
    )
    diff = X.mean(0) - Y.mean(0)
    tr = (Xc**2).sum() / (n1 - 1) + (Yc**2).sum() / (n2 - 1)
    return diff @ diff + tr - 2 * trace


def _features(rng, n, d, scale=1.0):
    A = rng.normal(size=(d, d)) / np.sqrt(d) + np.eye(d)
    return scale * (rng.normal(size=(n, d)) @ A) + rng.normal(size=d)


# -- accuracy --------------------------------------------------------------------


@pytest.mark.parametrize("n1, n2, d", [(40, 30, 1), (50, 60, 3), (200, 150, 6)])
def test_matches_mpmath_well_conditioned(n1, n2, d):
    rng = np.random.default_rng(d)
    X = _features(rng, n1, d)
    Y = _features(rng, n2, d, scale=1.5)
    expected = _mp_frechet(X, Y)
    # The result is accurate to ~1e-10 relative (the internal switch); the
    # distance here is of the order of the traces, so no cancellation.
    assert frechet_distance(X, Y) == pytest.approx(expected, rel=1e-9)
    mX, SX = X.mean(0), np.cov(X, rowvar=False).reshape(d, d)
    mY, SY = Y.mean(0), np.cov(Y, rowvar=False).reshape(d, d)
    assert frechet_distance_from_moments(mX, SX, mY, SY) == pytest.approx(
        expected, rel=1e-9
    )


@pytest.mark.parametrize("n1, n2, d", [(3, 4, 5), (2, 6, 6), (4, 4, 6), (6, 3, 4)])
def test_singular_covariances_n_below_d_match_mpmath(n1, n2, d):
    rng = np.random.default_rng(10 + n1 + d)
    X = _features(rng, n1, d)
    Y = _features(rng, n2, d, scale=0.7)
    expected = _mp_frechet(X, Y)
    assert frechet_distance(X, Y) == pytest.approx(expected, rel=1e-9)
    # from singular moments: eigenvalues below rounding level count as 0; an
    # eigenvalue error of eps ||S|| moves a square root by up to sqrt(eps ||S||)
    # (the covariance term is Hoelder-1/2 in S), hence the looser tolerance.
    SX, SY = np.cov(X, rowvar=False), np.cov(Y, rowvar=False)
    got = frechet_distance_from_moments(X.mean(0), SX, Y.mean(0), SY)
    assert got == pytest.approx(
        _mp_frechet_from_arrays(X.mean(0), SX, Y.mean(0), SY), rel=1e-7
    )


def test_exactly_singular_moments_match_mpmath():
    # Integer factors: the covariances are exact in float64 and of rank 2.
    rng = np.random.default_rng(3)
    A = rng.integers(-3, 4, size=(5, 2)).astype(float)
    B = rng.integers(-3, 4, size=(5, 3)).astype(float)
    S1, S2 = A @ A.T, B @ B.T
    m1, m2 = rng.integers(-2, 3, size=5).astype(float), np.zeros(5)
    expected = _mp_frechet_from_arrays(m1, S1, m2, S2)
    assert frechet_distance_from_moments(m1, S1, m2, S2) == pytest.approx(
        expected, rel=1e-9
    )


@given(
    n1=st.integers(2, 12),
    n2=st.integers(2, 12),
    d=st.integers(1, 4),
    scale=st.sampled_from([1e-3, 1.0, 1e3]),
    seed=st.integers(0, 2**16),
)
def test_hypothesis_against_mpmath(n1, n2, d, scale, seed):
    rng = np.random.default_rng(seed)
    X = _features(rng, n1, d, scale)
    Y = _features(rng, n2, d, scale * rng.uniform(0.5, 2.0))
    expected = _mp_frechet(X, Y, dps=40)
    got = frechet_distance(X, Y)
    assert got >= 0.0
    # relative 1e-9 of the result, or of the traces when the result is tiny
    # (a distance of 1e-12 of the traces carries no more digits of the data)
    tr = np.var(X, axis=0, ddof=1).sum() + np.var(Y, axis=0, ddof=1).sum()
    assert abs(got - expected) <= 1e-9 * abs(expected) + 1e-13 * tr


def test_nearly_identical_sets_are_accurate():
    # Y = X T with T = I + eps H symmetric positive definite: the optimal map
    # is T, so the distance is ||mean(X)(T - I)||^2 + ||Xc (T - I)||^2 / (n - 1)
    # exactly, about 1e-8 of the traces here, where the eigenvalue form
    # (and sqrtm) cancel to noise. mpmath at 50 digits on the actual arrays.
    rng = np.random.default_rng(5)
    n, d = 300, 6
    X = _features(rng, n, d)
    H = rng.normal(size=(d, d))
    T = np.eye(d) + 1e-4 * (H + H.T)
    Y = X @ T
    expected = _mp_frechet(X, Y)
    tr = np.var(X, axis=0, ddof=1).sum()
    assert expected < 1e-6 * tr
    assert frechet_distance(X, Y) == pytest.approx(expected, rel=1e-7)
    mX, SX = X.mean(0), np.cov(X, rowvar=False)
    mY, SY = Y.mean(0), np.cov(Y, rowvar=False)
    exp_m = _mp_frechet_from_arrays(mX, SX, mY, SY)
    assert frechet_distance_from_moments(mX, SX, mY, SY) == pytest.approx(
        exp_m, rel=1e-7
    )
    # n < d as well
    Xs = _features(rng, 4, d)
    Ys = Xs @ T
    assert frechet_distance(Xs, Ys) == pytest.approx(_mp_frechet(Xs, Ys), rel=1e-7)


def test_symmetric_and_zero_for_identical_inputs():
    rng = np.random.default_rng(6)
    X, Y = _features(rng, 80, 5), _features(rng, 60, 5, 2.0)
    assert frechet_distance(X, Y) == pytest.approx(frechet_distance(Y, X), rel=1e-12)
    assert frechet_distance(X, X) == 0.0
    assert frechet_distance(X, X.copy()) == 0.0
    assert frechet_distance(X[:3], X[:3].copy()) == 0.0  # singular, n < d
    S = np.cov(X, rowvar=False)
    assert frechet_distance_from_moments(X.mean(0), S, X.mean(0), S) == 0.0
    # same covariance, shifted mean: exactly the mean term
    assert frechet_distance_from_moments(np.zeros(5), S, np.ones(5), S) == 5.0


def test_consistent_with_wasserstein_kind():
    rng = np.random.default_rng(7)
    X, Y = _features(rng, 100, 4), _features(rng, 90, 4, 0.5)
    m1, S1 = X.mean(0), np.cov(X, rowvar=False)
    m2, S2 = Y.mean(0), np.cov(Y, rowvar=False)
    w2 = float(divergence((m1, S1), (m2, S2), "wasserstein"))
    assert frechet_distance(X, Y) == pytest.approx(w2, rel=1e-10)


# -- data we did not generate --------------------------------------------------


def test_wine_classes_match_mpmath():
    X, y = load_wine(return_X_y=True)  # 13 features on scales from 0.1 to 1000
    got = frechet_distance(X[y == 0], X[y == 1])
    assert got == pytest.approx(_mp_frechet(X[y == 0], X[y == 1], dps=30), rel=1e-9)


@pytest.mark.parametrize("loader", [load_digits, load_breast_cancer])
def test_bundled_data_match_the_svd_route(loader):
    # digits: constant pixels make both covariances singular; breast cancer:
    # features on scales from 1e-3 to 1e3.
    X, y = loader(return_X_y=True)
    A, B = X[y == 0], X[y == 1]
    assert frechet_distance(A, B) == pytest.approx(_svd_reference(A, B), rel=1e-9)
    # the two halves of one class: a small distance
    half = len(A) // 2
    got = frechet_distance(A[:half], A[half:])
    assert got == pytest.approx(_svd_reference(A[:half], A[half:]), rel=1e-8)


# -- input handling ------------------------------------------------------------


def test_dtypes_chunks_and_inputs_untouched():
    rng = np.random.default_rng(8)
    X = _features(rng, 500, 4).astype(np.float32)
    Y = _features(rng, 300, 4).astype(np.float32)
    X_before = X.copy()
    full = frechet_distance(X, Y)
    assert_allclose(
        full, frechet_distance(X.astype(np.float64), Y.astype(np.float64)), rtol=0
    )
    assert np.array_equal(X, X_before)
    with config_context(working_memory=1e-3):  # 32-row chunks, merged
        chunked = frechet_distance(X, Y)
    assert chunked == pytest.approx(full, rel=1e-12)
    Xi = rng.integers(0, 5, size=(50, 3))
    Yi = rng.integers(0, 7, size=(40, 3))
    assert frechet_distance(Xi, Yi) == pytest.approx(
        frechet_distance(Xi.astype(float), Yi.astype(float)), rel=1e-12
    )
    pd = pytest.importorskip("pandas")
    assert frechet_distance(pd.DataFrame(X), Y) == full


def test_errors_name_the_argument():
    X = np.ones((5, 3)) + np.arange(15).reshape(5, 3) ** 1.5
    with pytest.raises(ValueError, match=r"X contains NaN or infinity .*\(3, 1\)"):
        bad = X.copy()
        bad[3, 1] = np.nan
        frechet_distance(bad, X)
    with pytest.raises(ValueError, match=r"Y contains NaN or infinity .*\(40, 0\)"):
        big = np.ones((50, 3)) + np.arange(150).reshape(50, 3) ** 1.5
        big[40, 0] = np.inf
        with config_context(working_memory=1e-3):  # the offset of a later chunk
            frechet_distance(X, big)
    with pytest.raises(ValueError, match="X has 3 features but Y has 2"):
        frechet_distance(X, X[:, :2])
    with pytest.raises(ValueError, match="Y has 1 sample"):
        frechet_distance(X, X[:1])
    with pytest.raises(ValueError, match="X must be 2-D"):
        frechet_distance(X[0], X)
    with pytest.raises(TypeError, match="^X is complex"):
        frechet_distance(X.astype(complex), X)
    with pytest.raises(TypeError, match="^Y must be a numeric array-like of real"):
        frechet_distance(X, np.array([["a", "b", "c"]] * 3))
    S = np.eye(3)
    with pytest.raises(ValueError, match="mu2 has 2 features"):
        frechet_distance_from_moments(np.zeros(3), S, np.zeros(2), np.eye(2))
    with pytest.raises(ValueError, match=r"sigma1 must have shape \(3, 3\)"):
        frechet_distance_from_moments(np.zeros(3), np.eye(2), np.zeros(3), S)
    with pytest.raises(ValueError, match="sigma2 is not symmetric"):
        frechet_distance_from_moments(np.zeros(3), S, np.zeros(3), np.triu(S + 1))
    with pytest.raises(ValueError, match="sigma2 is not positive semi-definite"):
        frechet_distance_from_moments(
            np.zeros(3), S, np.zeros(3), np.diag([1.0, -0.5, 1.0]) + 0.6
        )
    with pytest.raises(ValueError, match="sigma1 has a negative variance"):
        frechet_distance_from_moments(np.zeros(3), -S, np.zeros(3), S)
    with pytest.raises(ValueError, match="mu1 contains NaN"):
        frechet_distance_from_moments(np.full(3, np.nan), S, np.zeros(3), S)
    with pytest.raises(ValueError, match="mu1 must be 1-D"):
        frechet_distance_from_moments(np.zeros((3, 1)), S, np.zeros(3), S)


# -- pytorch-fid, on its own statistics files ------------------------------------------


def _pytorch_fid():
    """pytorch-fid's calculate_frechet_distance, or skip when not installed.

    The function is run from pytorch-fid's installed source file: its module
    imports torch and torchvision (seconds, and broken where torchvision was
    built for another torch), while the function needs only numpy and scipy.
    """
    import ast
    import importlib.util

    spec = importlib.util.find_spec("pytorch_fid")
    if spec is None:
        pytest.skip("pytorch-fid is not installed")
    origin = spec.submodule_search_locations[0] + "/fid_score.py"
    with open(origin, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    node = next(
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name == "calculate_frechet_distance"
    )
    namespace = {"np": np, "linalg": linalg}
    exec(compile(ast.Module([node], []), origin, "exec"), namespace)
    return namespace["calculate_frechet_distance"]


@pytest.mark.parametrize("n", [400, 40])  # n > d, and n < d (singular)
def test_agrees_with_pytorch_fid_on_its_statistics_files(tmp_path, n):
    from skkl import FeatureMoments

    fid = _pytorch_fid()
    rng = np.random.default_rng(n)
    d = 64
    W = np.linalg.qr(rng.normal(size=(d, d)))[0] / np.sqrt(1 + np.arange(d))
    paths = []
    for k, scale in enumerate((1.0, 1.1)):
        act = np.maximum(rng.normal(size=(n, d)) @ (scale * W).T + 0.3, 0)
        act = act.astype(np.float32)  # pytorch-fid's activations
        path = tmp_path / f"stats{k}.npz"
        # pytorch-fid's calculate_activation_statistics and save_fid_stats
        np.savez_compressed(
            path, mu=np.mean(act, axis=0), sigma=np.cov(act, rowvar=False)
        )
        paths.append(path)
    stored = []
    for path in paths:
        with np.load(path) as f:
            stored += [f["mu"][:], f["sigma"][:]]
    with warnings.catch_warnings():  # pytorch-fid passes sqrtm's deprecated disp
        warnings.simplefilter("ignore", DeprecationWarning)
        theirs = float(fid(*stored))
    ours = frechet_distance(*(FeatureMoments.load(p) for p in paths))
    # pytorch-fid's sqrtm of the singular product S1 S2 keeps ~7 digits
    assert ours == pytest.approx(theirs, rel=1e-6)
    assert frechet_distance_from_moments(*stored) == pytest.approx(ours, rel=1e-12)
    if n > d:  # well conditioned: an independent high-accuracy reference
        S1, S2 = stored[1], stored[3]
        root = linalg.sqrtm(S1)
        cross = np.real(linalg.sqrtm(root @ S2 @ root)).trace()
        diff = stored[0].astype(float) - stored[2]
        ref = diff @ diff + np.trace(S1) + np.trace(S2) - 2 * cross
        assert ours == pytest.approx(ref, rel=1e-10)
