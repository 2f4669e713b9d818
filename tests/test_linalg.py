"""Tests for the Cholesky core, against numpy/scipy/mpmath computations."""

import mpmath
import numpy as np
import pytest
from _builders import random_spd
from scipy.linalg import solve_triangular

from skkl._linalg import (
    cholesky,
    expm1_minus_x,
    inv_lower,
    logdet_from_cholesky,
    solve_lower,
)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_cholesky_matches_numpy_and_reconstructs(shape):
    rng = np.random.default_rng(0)
    S = random_spd(rng, 5, shape, ridge=5)
    before = S.copy()
    L = cholesky(S)
    assert L.shape == S.shape
    np.testing.assert_array_equal(S, before)  # input untouched
    np.testing.assert_allclose(L @ np.swapaxes(L, -1, -2), S, rtol=1e-13, atol=1e-13)
    assert np.all(np.triu(L, 1) == 0)
    assert np.all(np.diagonal(L, axis1=-2, axis2=-1) > 0)
    np.testing.assert_allclose(L, np.linalg.cholesky(S), rtol=1e-14, atol=1e-14)


def test_cholesky_int_and_float32_input_computed_in_float64():
    S32 = np.array([[4.0, 2.0], [2.0, 3.0]], dtype=np.float32)
    L = cholesky(S32)
    assert L.dtype == np.float64
    np.testing.assert_allclose(L, [[2.0, 0.0], [1.0, np.sqrt(2.0)]], rtol=1e-15)
    Li = cholesky(np.array([[4, 2], [2, 3]]))
    np.testing.assert_array_equal(L, Li)


def test_cholesky_error_names_first_bad_index_and_hint():
    rng = np.random.default_rng(1)
    S = random_spd(rng, 3, (2, 3), ridge=3)
    S[1, 2] = -np.eye(3)
    S[1, 0, 0, 0] = -1.0  # [1, 0] precedes [1, 2] in C order: reported first
    with pytest.raises(ValueError, match=r"covariances\[1, 0\].*reg_covar"):
        cholesky(S)
    with pytest.raises(ValueError, match=r"^sigma\[2\] is not positive.*do this"):
        cholesky(
            np.stack([np.eye(2), np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]),
            name="sigma",
            hint="do this",
        )
    # a single matrix: no index
    with pytest.raises(ValueError, match=r"^covariances is not positive definite"):
        cholesky(np.array([[1.0, 0.0], [0.0, 0.0]]))


def test_logdet_from_cholesky_matches_slogdet():
    rng = np.random.default_rng(2)
    S = random_spd(rng, 6, (3, 2), ridge=6)
    sign, ref = np.linalg.slogdet(S)
    assert np.all(sign == 1)
    np.testing.assert_allclose(logdet_from_cholesky(cholesky(S)), ref, rtol=1e-13)


@pytest.mark.parametrize("d", [3, 60])  # vectorised substitution / LAPACK loop
@pytest.mark.parametrize(
    "l_shape, b_shape",
    [((), (4,)), ((5,), (5,)), ((5,), ()), ((2, 1), (1, 3)), ((1,), (2, 3))],
)
def test_solve_lower_matches_scipy_with_broadcasting(d, l_shape, b_shape):
    rng = np.random.default_rng(3)
    L = np.linalg.cholesky(random_spd(rng, d, l_shape, ridge=d))
    B = rng.standard_normal((*b_shape, d, 2))
    L0, B0 = L.copy(), B.copy()
    X = solve_lower(L, B)
    batch = np.broadcast_shapes(l_shape, b_shape)
    assert X.shape == (*batch, d, 2)
    Lb = np.broadcast_to(L, (*batch, d, d))
    Bb = np.broadcast_to(B, (*batch, d, 2))
    for idx in np.ndindex(*batch):
        ref = solve_triangular(Lb[idx], Bb[idx], lower=True)
        np.testing.assert_allclose(X[idx], ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(L, L0)
    np.testing.assert_array_equal(B, B0)


def _ill_conditioned_lower(rng, n, d, cond):
    """Lower-triangular matrices with 2-norm condition number ``cond``.

    ``A = U diag(s) V'`` has singular values ``s``; with ``A' = Q R``,
    ``L = R'`` is lower triangular with the same singular values.
    """
    U, _ = np.linalg.qr(rng.standard_normal((n, d, d)))
    V, _ = np.linalg.qr(rng.standard_normal((n, d, d)))
    s = np.logspace(0, -np.log10(cond), d)
    A = (U * s) @ np.swapaxes(V, -1, -2)
    _, R = np.linalg.qr(np.swapaxes(A, -1, -2))
    L = np.swapaxes(R, -1, -2)
    return L * np.sign(np.diagonal(L, axis1=-2, axis2=-1))[..., None, :]


@pytest.mark.parametrize("d", [1, 2, 3, 5, 8, 16, 33, 64])
@pytest.mark.parametrize("cond", [1e2, 1e6, 1e10])
def test_inv_lower_matches_solve_lower_on_ill_conditioned(d, cond):
    rng = np.random.default_rng(d)
    L = _ill_conditioned_lower(rng, 6, d, cond)
    L0 = L.copy()
    W = inv_lower(L)
    ref = solve_lower(L, np.eye(d))
    np.testing.assert_array_equal(L, L0)
    assert W.shape == L.shape and W.dtype == np.float64
    assert np.all(np.triu(W, 1) == 0)
    eye = np.eye(d)
    norm = np.linalg.norm
    for Li, Wi, Ri in zip(L, W, ref, strict=True):
        scale = norm(Li, 2) * norm(Wi, 2)
        # Backward-stable residuals, both sides, like those of the solves.
        assert norm(Li @ Wi - eye, 2) <= 20 * d * np.finfo(float).eps * scale
        assert norm(Wi @ Li - eye, 2) <= 20 * d * np.finfo(float).eps * scale
        # Forward error bounded by the condition number, as for solve_lower.
        kappa = np.linalg.cond(Li)
        assert kappa < 2 * cond
        assert norm(Wi - Ri, 2) <= 20 * d * np.finfo(float).eps * kappa * norm(Ri, 2)


def test_inv_lower_batch_shapes_exact_small_and_upper_ignored():
    # Exactly representable case, ignoring anything above the diagonal.
    L = np.array([[2.0, 7.0], [1.0, 4.0]])
    np.testing.assert_array_equal(inv_lower(L), [[0.5, 0.0], [-0.125, 0.25]])
    rng = np.random.default_rng(5)
    Ls = np.linalg.cholesky(random_spd(rng, 7, (2, 3), ridge=7))
    W = inv_lower(Ls)
    assert W.shape == (2, 3, 7, 7)
    for idx in np.ndindex(2, 3):
        ref = solve_triangular(Ls[idx], np.eye(7), lower=True)
        np.testing.assert_allclose(W[idx], ref, rtol=1e-13, atol=1e-15)
    assert inv_lower(np.zeros((0, 3, 3))).shape == (0, 3, 3)
    with pytest.raises(ValueError, match=r"L must have shape \(\.\.\., d, d\)"):
        inv_lower(np.ones((2, 3)))


def test_expm1_minus_x_against_mpmath():
    u = np.concatenate(
        [
            -np.logspace(-12, 1.5, 40),
            [0.0, 0.0999999, 0.1, 0.1000001, -0.1],
            np.logspace(-12, 2, 40),
        ]
    )
    out = expm1_minus_x(u)
    with mpmath.workdps(50):
        ref = np.array([float(mpmath.expm1(mpmath.mpf(x)) - mpmath.mpf(x)) for x in u])
    assert np.all(out >= 0)
    assert out[u == 0][0] == 0.0
    np.testing.assert_allclose(out, ref, rtol=4e-16 * 8, atol=0)
    # A few entries at a time take the Python-float path: the same accuracy.
    few = np.concatenate([expm1_minus_x(u[k : k + 3]) for k in range(0, u.size, 3)])
    np.testing.assert_allclose(few, ref, rtol=4e-16 * 8, atol=0)
    assert expm1_minus_x(np.array([800.0]))[0] == np.inf  # overflow, no exception
    # shape and scalar handling
    assert expm1_minus_x(u.reshape(5, 17)).shape == (5, 17)
    assert expm1_minus_x(1e-8).shape == ()


def test_psd_factor_reconstructs_singular_matrices_and_refuses_indefinite():
    from skkl._linalg import psd_factor

    rng = np.random.default_rng(5)
    d = 7
    F = rng.integers(-3, 4, size=(3, d, 4)).astype(float)
    S = F @ F.transpose(0, 2, 1)  # exact integers, rank 4 < d
    S[2] = S[2] + np.eye(d)  # this one is positive definite
    L, singular = psd_factor(S)
    assert singular.tolist() == [True, True, False]
    assert np.array_equal(L, np.tril(L))
    assert np.all(np.diagonal(L, axis1=1, axis2=2) >= 0)
    # Backward stable: eigh and QR each reconstruct to ~d eps ||S||_2.
    for k in range(3):
        norm = np.linalg.norm(S[k], 2)
        np.testing.assert_allclose(
            L[k] @ L[k].T, S[k], rtol=0, atol=8 * (d + 1) * np.finfo(float).eps * norm
        )
    np.testing.assert_array_equal(L[2], np.linalg.cholesky(S[2]))  # PD: Cholesky
    bad = np.stack([np.eye(2), np.array([[1.0, 2.0], [2.0, 1.0]])])
    with pytest.raises(ValueError, match=r"M\[1\] is not positive semi-definite"):
        psd_factor(bad, name="M")


def test_logdet_from_variances_and_diagonal_factor():
    from skkl._linalg import diagonal_factor, logdet_from_variances

    v = np.array([[0.5, 2.0, 4.0]])
    np.testing.assert_allclose(logdet_from_variances(v), [np.log(4.0)], rtol=1e-15)
    np.testing.assert_allclose(
        logdet_from_variances(np.array([2.0]), n_features=3), [3 * np.log(2.0)]
    )
    L = diagonal_factor(np.sqrt(v))
    np.testing.assert_allclose(L[0] @ L[0].T, np.diag(v[0]), rtol=1e-15)


@pytest.mark.parametrize("d, m", [(40, 50), (32, 32), (8, 3), (31, 33)])
def test_solve_lower_narrow_solves_match_scipy(d, m):
    # Small solves that OpenBLAS would thread are split into narrower ones
    # (skkl._linalg._TRSM_THREADED): the result is the same solve.
    rng = np.random.default_rng(d * m)
    L = np.linalg.cholesky(random_spd(rng, d, ridge=d))
    B = rng.standard_normal((d, m))
    np.testing.assert_allclose(
        solve_lower(L, B), solve_triangular(L, B, lower=True), rtol=1e-12, atol=1e-14
    )
