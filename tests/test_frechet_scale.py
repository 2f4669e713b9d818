"""Fréchet distances scale with the data from 1e-200 to 1e200, or raise.

Regressions for issue 24: ``frechet_distance(1e-100 X, 1e-100 Y)`` was 5x the
scaled unit value (the cross term underflowed), 1e154 gave 0.074e308 for a
true ~2.5e308 and 1e160 gave inf, 1e80..1e152 raised scipy's
``LinAlgError: Internal Error.`` from ``eigh``, and so did
``frechet_distance_from_moments`` near 1e200.
"""

import warnings

import numpy as np
import pytest

from skkl import (
    FeatureMoments,
    frechet_distance,
    frechet_distance_from_moments,
    frechet_interval,
)

SCALES = [10.0**k for k in (-200, -160, -150, -100, -80, -50, 0, 50, 80, 100)]
SCALES += [10.0**k for k in (120, 152, 153, 154, 160, 200)]
_MAX, _TINY = np.finfo(np.float64).max, np.finfo(np.float64).tiny


def _sets(n, d=6, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) @ (np.eye(d) + 0.3 * rng.normal(size=(d, d)))
    Y = 1.4 * rng.normal(size=(n + 7, d)) + 0.5
    return X, Y


def _check_scaled(compute, base, s):
    """``compute()`` equals ``s**2 * base`` (to rounding), or raises clearly."""
    expected = base * s * s  # s * s may over/underflow: that is the point
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning, no LinAlgWarning
        if _TINY <= expected <= _MAX:
            # scaling the data by a non-power of two rounds every entry (eps);
            # the distance is well conditioned here, so ~1e-13 relative
            assert compute() == pytest.approx(expected, rel=1e-12)
        else:
            side = "overflows" if s > 1 else "underflows"
            with pytest.raises(ValueError, match=f"{side} float64.*rescale both"):
                compute()


@pytest.mark.parametrize("s", SCALES)
@pytest.mark.parametrize("n", [300, 4])  # n > d: moments; n < d: centred rows
def test_frechet_distance_scales_with_the_data(s, n):
    X, Y = _sets(n)
    base = frechet_distance(X, Y)
    _check_scaled(lambda: frechet_distance(s * X, s * Y), base, s)


@pytest.mark.parametrize("s", SCALES)
def test_from_moments_scales_with_the_data(s):
    X, Y = _sets(300)
    m1, S1, m2, S2 = (
        X.mean(0),
        np.cov(X, rowvar=False),
        Y.mean(0),
        np.cov(Y, rowvar=False),
    )
    base = frechet_distance_from_moments(m1, S1, m2, S2)
    with np.errstate(over="ignore", under="ignore"):
        args = (s * m1, (s * s) * S1, s * m2, (s * s) * S2)
    if not all(np.isfinite(a).all() for a in args) or (s * s) * S1.min() == 0:
        # the moments themselves are beyond float64 (covariances of data
        # beyond 1e154 or below 1e-162): nothing to compute from
        return
    _check_scaled(lambda: frechet_distance_from_moments(*args), base, s)


def test_singular_moments_and_streamed_moments_scale():
    X, Y = _sets(300)
    S_sing = np.outer(X[0], X[0])  # rank one
    base = frechet_distance_from_moments(X.mean(0), S_sing, Y.mean(0), np.eye(6))
    for s in (1e-100, 1e-50, 1e50, 1e100):
        got = frechet_distance_from_moments(
            s * X.mean(0), s * s * S_sing, s * Y.mean(0), s * s * np.eye(6)
        )
        # eigenvalues below rounding count as 0: Hoelder-1/2 sensitivity
        assert got == pytest.approx(base * s * s, rel=1e-7)
    for s in (2.0**-500, 1e-120, 1e120, 2.0**400):
        mom = FeatureMoments().update(s * X)
        expected = frechet_distance(X, Y) * s * s
        assert frechet_distance(mom, s * Y) == pytest.approx(expected, rel=1e-12)


def test_powers_of_two_give_scaled_distances_to_rounding():
    # Scaling by 2**k is exact and the rescaled data are X's own bits, but a
    # BLAS kernel may sum in another order for another memory alignment
    # (OPENBLAS_CORETYPE=Prescott does at 2**-500): the distance then moves
    # by the rounding of its own computation, a few ulps of the trace terms
    # (trace ~ 12 here against a distance ~ 3).
    X, Y = _sets(300)
    for n in (300, 4):
        base = frechet_distance(X[:n], Y[:n])
        for k in (-500, -400, 300, 500):
            got = frechet_distance(np.ldexp(X[:n], k), np.ldexp(Y[:n], k))
            assert got == pytest.approx(np.ldexp(base, 2 * k), rel=1e-13, abs=0)


def test_intervals_scale_too():
    X, Y = _sets(200)
    base = frechet_interval(X, Y, random_state=0)
    for s in (1e-100, 1e100):
        res = frechet_interval(s * X, s * Y, random_state=0)
        for field in ("plug_in", "estimate", "standard_error", "low", "high"):
            value = getattr(base, field) * s * s
            assert getattr(res, field) == pytest.approx(value, rel=1e-10)


def test_means_near_the_float64_limit_raise_cleanly():
    # A distance between rows near +-1e307 is beyond float64 whatever their
    # spread (a spread below eps * 1e307 is lost when the data are stored):
    # a clear error, and no overflow warning on the way.
    X, Y = _sets(300)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for A, B in ((1e295 * X + 1e307, 1e295 * Y + 1e307), (X - 1e307, Y + 1e307)):
            with pytest.raises(ValueError, match="overflows float64"):
                frechet_distance(A, B)
