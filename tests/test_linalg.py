"""Tests for the Cholesky core, against numpy/scipy/mpmath computations."""

import mpmath
import numpy as np
import pytest
from scipy.linalg import solve_triangular

from skkl._linalg import cholesky, expm1_minus_x, logdet_from_cholesky, solve_lower


def _spd_stack(rng, shape, d):
    A = rng.standard_normal((*shape, d, d))
    return A @ np.swapaxes(A, -1, -2) + d * np.eye(d)


@pytest.mark.parametrize("shape", [(), (4,), (2, 3)])
def test_cholesky_matches_numpy_and_reconstructs(shape):
    rng = np.random.default_rng(0)
    S = _spd_stack(rng, shape, 5)
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
    S = _spd_stack(rng, (2, 3), 3)
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
    S = _spd_stack(rng, (3, 2), 6)
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
    L = np.linalg.cholesky(_spd_stack(rng, l_shape, d))
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
    # shape and scalar handling
    assert expm1_minus_x(u.reshape(5, 17)).shape == (5, 17)
    assert expm1_minus_x(1e-8).shape == ()
