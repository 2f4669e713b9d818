"""Tests of the Gram-space (high-dimensional) permutation engine of the drift test.

References: explicit double sums over pairs (the U-statistics as written by
Chen & Qin 2010 and Li & Chen 2012), closed forms for two-point samples, the
observed statistic of permuted data, exact binomial bands for the level.
"""

import math
import tracemalloc

import numpy as np
import pytest
from _builders import table
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from skkl.drift import _gram
from skkl.drift._gram import GRAM_PARTS, gram_flops, gram_parts, gram_peak_bytes

EPS = np.finfo(np.float64).eps


# -- references ---------------------------------------------------------------


def naive_parts(Z, n1, w=None):
    """The three parts by explicit sums over pairs (math.fsum, exact rounding)."""
    Z = np.asarray(Z, dtype=np.float64)
    N = Z.shape[0]
    w = np.ones(N) if w is None else np.asarray(w, dtype=np.float64)
    g1, g2 = range(n1), range(n1, N)

    def dot(i, j):
        return math.fsum(Z[i] * Z[j])

    def pair_sum(P, I, J, same):
        return math.fsum(
            w[i] * w[j] * P(i, j) for i in I for j in J if not (same and i == j)
        )

    W1, W2 = math.fsum(w[:n1]), math.fsum(w[n1:])
    D1 = math.fsum(w[i] * w[j] for i in g1 for j in g1 if i != j)
    D2 = math.fsum(w[i] * w[j] for i in g2 for j in g2 if i != j)
    out = []
    for P in (dot, lambda i, j: dot(i, j) ** 2):
        out.append(
            pair_sum(P, g1, g1, True) / D1
            + pair_sum(P, g2, g2, True) / D2
            - 2.0 * pair_sum(P, g1, g2, False) / (W1 * W2)
        )
    t1 = math.fsum(w[i] * dot(i, i) for i in g1) / W1
    t2 = math.fsum(w[i] * dot(i, i) for i in g2) / W2
    out.append((t1 - t2) ** 2)
    return np.array(out)


def tolerance(Z, n1, w=None):
    """Rounding bound for each part, from the sums the engine forms.

    Each U-statistic is a combination of sums ``q``, ``r``, ``S`` of at most
    ``N^2`` terms ``w_i w_j P_ij`` (``|P_ij| <= m``), each accumulated as
    two length-N dot products in sequence (``U P0``, then the row-wise product
    with ``U``: error <= 2 N eps per term), then divided by
    denominators of order ``n_g^2 w_min^2``; four such sums enter. The trace
    part is the square of a difference of two weighted means of ``||z||^2``.
    """
    Z = np.asarray(Z, dtype=np.float64)
    N = Z.shape[0]
    w = np.ones(N) if w is None else np.asarray(w, dtype=np.float64)
    n_min = min(n1, N - n1)
    ratio = (w.max() / w.min()) ** 2 * (N / (n_min - 1)) ** 2
    norms = np.einsum("ij,ij->i", Z, Z)
    m = norms.max()
    # The bound must hold for every split it is applied to (null rows too),
    # not only the observed one: a difference of two weighted means of
    # values in [0, m] is at most m.
    t = m
    err_t = 4 * N * EPS * m * (w.max() / w.min())
    return np.array(
        [
            32 * N * EPS * ratio * m,
            32 * N * EPS * ratio * m * m,
            2 * t * err_t + err_t**2,
        ]
    )


def assert_close(actual, expected, tol):
    """|actual - expected| <= tol element-wise (tol broadcasts over the parts)."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    err = np.abs(actual - expected)
    assert np.all(err <= tol), f"error {err.max(axis=0)} > tolerance {tol}"


def random_memberships(rng, B, N, n1):
    return np.argsort(rng.random((B, N)), axis=1) < n1


def standardise(X):
    """What the caller does: pooled centring and scaling, constant columns dropped."""
    X = np.asarray(X, dtype=np.float64)
    sd = X.std(axis=0)
    keep = sd > 0
    return (X[:, keep] - X[:, keep].mean(axis=0)) / sd[keep]


def tippett_p_value(observed, null):
    """Permutation p-value of min_k p_k over the parts (observed is row 0).

    Partial p-values are ``#{rows >= value} / R`` per part. Their minimum ties
    often (steps of 1/R), which makes the test conservative; a Fisher sum
    scaled far below one step breaks the ties. The score is one fixed function
    of each row, so the permutation p-value stays exact.
    """
    values = np.vstack([observed, null])
    R = values.shape[0]
    partial = (values[None, :, :] >= values[:, None, :]).sum(axis=1) / R
    score = -np.log(partial.min(axis=1)) - 1e-6 * np.log(partial).sum(axis=1)
    return np.count_nonzero(score >= score[0]) / R, partial[0]


# -- the statistics against references ------------------------------------------


@pytest.mark.parametrize("d", [3, 40])  # mean part through Z (d < N) and K
@pytest.mark.parametrize("weighted", [False, True])
def test_observed_parts_match_naive_pair_sums(d, weighted):
    rng = np.random.default_rng(d + 10 * weighted)
    N, n1 = 24, 10
    Z = rng.standard_t(4, size=(N, d))
    Z[n1:] += 0.3
    w = rng.uniform(0.2, 3.0, size=N) if weighted else None
    A = random_memberships(rng, 4, N, n1)
    observed, null = gram_parts(Z, n1, A, sample_weight=w)
    assert observed.shape == (len(GRAM_PARTS),) and null.shape == (4, 3)
    assert_close(observed, naive_parts(Z, n1, w), tolerance(Z, n1, w))


def test_observed_parts_on_digits_match_naive_pair_sums():
    X = table("digits")[:30]
    Z = standardise(X)  # drops the pixels constant in these rows
    A = random_memberships(np.random.default_rng(0), 3, 30, 13)
    observed, _ = gram_parts(Z, 13, A)
    assert_close(observed, naive_parts(Z, 13), tolerance(Z, 13))


def test_two_point_samples_closed_form():
    # Group 1 all at x, group 2 all at y: the U-statistics are exact,
    # ||x - y||^2, ||x x' - y y'||_F^2 and (||x||^2 - ||y||^2)^2.
    x, y = np.array([1.0, -2.0, 0.5]), np.array([0.0, 1.0, 3.0])
    Z = np.vstack([np.tile(x, (5, 1)), np.tile(y, (7, 1))])
    A = random_memberships(np.random.default_rng(1), 2, 12, 5)
    observed, _ = gram_parts(Z, 5, A)
    expected = [
        np.sum((x - y) ** 2),
        np.sum((np.outer(x, x) - np.outer(y, y)) ** 2),
        (x @ x - y @ y) ** 2,
    ]
    np.testing.assert_allclose(observed, expected, rtol=1e-13, atol=1e-13)


@given(
    N=st.integers(6, 30),
    d=st.integers(1, 45),
    frac=st.floats(0.2, 0.8),
    weighted=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_null_rows_are_observed_parts_of_permuted_data_property(
    N, d, frac, weighted, seed
):
    rng = np.random.default_rng(seed)
    n1 = min(max(2, round(frac * N)), N - 2)
    Z = rng.lognormal(0.0, 1.0, size=(N, d))
    w = rng.uniform(0.5, 2.0, size=N) if weighted else None
    A = random_memberships(rng, 5, N, n1)
    _, null = gram_parts(Z, n1, A, sample_weight=w)
    for b in range(A.shape[0]):
        # Move the permuted reference group to the top: its observed parts.
        order = np.concatenate([np.flatnonzero(A[b]), np.flatnonzero(~A[b])])
        wb = None if w is None else w[order]
        observed_b, _ = gram_parts(Z[order], n1, A[:1], sample_weight=wb)
        assert_close(null[b], observed_b, 2 * tolerance(Z[order], n1, wb))


@given(c=st.floats(0.01, 100.0), seed=st.integers(0, 2**32 - 1))
def test_constant_weights_equal_unweighted_property(c, seed):
    rng = np.random.default_rng(seed)
    Z = rng.normal(size=(20, 7))
    A = random_memberships(rng, 3, 20, 8)
    o1, n1 = gram_parts(Z, 8, A)
    o2, n2 = gram_parts(Z, 8, A, sample_weight=np.full(20, c))
    tol = 2 * tolerance(Z, 8)
    assert_close(o1, o2, tol)
    assert_close(n1, n2, tol)


def test_integer_and_float32_input_computed_in_float64():
    X = table("digits")[:40]
    Z = standardise(X)
    A = random_memberships(np.random.default_rng(2), 3, 40, 20)
    Zi = np.round(Z * 4).astype(np.int64)
    o_int, _ = gram_parts(Zi, 20, A)
    o_f64, _ = gram_parts(Zi.astype(np.float64), 20, A)
    np.testing.assert_array_equal(o_int, o_f64)
    o_f32, _ = gram_parts(Z.astype(np.float32), 20, A)
    o_ref, _ = gram_parts(Z.astype(np.float32).astype(np.float64), 20, A)
    np.testing.assert_array_equal(o_f32, o_ref)


# -- memory and tiling --------------------------------------------------------------


@pytest.mark.parametrize("d", [5, 80])
@pytest.mark.parametrize("weighted", [False, True])
def test_plumbing_tiled_matches_one_tile(d, weighted):
    rng = np.random.default_rng(d)
    N, n1 = 70, 30
    Z = rng.normal(size=(N, d))
    w = rng.uniform(0.5, 2.0, size=N) if weighted else None
    A = random_memberships(rng, 40, N, n1)
    o_big, n_big = gram_parts(Z, n1, A, sample_weight=w, working_memory=64)
    # Blocks of 8 or 6 rows and chunks of a few membership rows.
    o_small, n_small = gram_parts(Z, n1, A, sample_weight=w, working_memory=16 / 1024)
    tol = 2 * tolerance(Z, n1, w)
    assert_close(o_small, o_big, tol)
    assert_close(n_small, n_big, tol)


def test_plumbing_mean_through_features_matches_gram(monkeypatch):
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(40, 10))
    A = random_memberships(rng, 6, 40, 15)
    o_z, n_z = gram_parts(Z, 15, A)
    monkeypatch.setattr(_gram, "_mean_via_features", lambda n, d: False)
    o_k, n_k = gram_parts(Z, 15, A)
    tol = 2 * tolerance(Z, 15)
    assert_close(o_z, o_k, tol)
    assert_close(n_z, n_k, tol)


@pytest.mark.parametrize("d", [50, 1300])  # mean part through Z, through K
def test_peak_memory_within_documented_bound(d):
    rng = np.random.default_rng(4)
    N, B, budget = 1200, 60, 1.0  # K would be 11 MiB; the budget is 1 MiB
    Z = rng.normal(size=(N, d))
    A = random_memberships(rng, B, N, N // 2)
    bound = gram_peak_bytes(N, d, B, working_memory=budget)
    # within the budget, up to the memberships, <= 8 tasks' sums and vectors
    small = (B + 1) * N + 16 * 8 * (B + 1 + N) + 8 * (8 * N + 20 * (B + 1) + d)
    assert bound <= budget * 2**20 + small
    tracemalloc.start()
    try:
        gram_parts(Z, N // 2, A, working_memory=budget)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak <= bound + 64 * 1024  # small Python objects
    assert peak < 8 * N * N / 4


def test_flops_formula():
    # One block (N < 256): F = N^2; 2 F d to form K, 2 F R with K o K, and
    # the mean part through Z (2 R N d) or through K (2 F R).
    assert gram_flops(10, 3, 4) == 2 * 100 * 3 + 2 * 100 * 5 + 2 * 5 * 10 * 3
    assert gram_flops(10, 30, 4) == 2 * 100 * 30 + 4 * 100 * 5
    # Blocks of 256 rows: 600 = 256 + 256 + 88, upper triangle by hand.
    F = 256 * 256 * 3 + 256 * 88 * 2 + 88 * 88
    assert gram_flops(600, 1000, 9) == 2 * F * 1000 + 4 * F * 10


# -- input checks -------------------------------------------------------------------


def _ok():
    rng = np.random.default_rng(5)
    return rng.normal(size=(10, 3)), 4, random_memberships(rng, 3, 10, 4)


@pytest.mark.parametrize(
    "change, err, match",
    [
        (lambda Z, n1, A, w: (Z[:, 0], n1, A, w), ValueError, "Z must be a 2-d"),
        (lambda Z, n1, A, w: (Z.astype(complex), n1, A, w), TypeError, "Z must hold"),
        (
            lambda Z, n1, A, w: (np.where(np.eye(10, 3) > 0, np.nan, Z), n1, A, w),
            ValueError,
            "non-finite value at row 0, column 0",
        ),
        (lambda Z, n1, A, w: (Z * 1e80, n1, A, w), ValueError, "centre and scale Z"),
        (lambda Z, n1, A, w: (Z, 1, A, w), ValueError, r"n1 must be in \[2, N - 2\]"),
        (lambda Z, n1, A, w: (Z, 9, A, w), ValueError, r"n1 must be in \[2, N - 2\]"),
        (lambda Z, n1, A, w: (Z, 4.0, A, w), TypeError, "n1 must be an int"),
        (
            lambda Z, n1, A, w: (Z, n1, A.astype(int), w),
            TypeError,
            "memberships must be a boolean",
        ),
        (
            lambda Z, n1, A, w: (Z, n1, A[:, :9], w),
            ValueError,
            r"memberships must have shape \(B, N\)",
        ),
        (
            lambda Z, n1, A, w: (Z, n1, np.vstack([A, np.ones((1, 10), bool)]), w),
            ValueError,
            "row 3 has 10",
        ),
        (
            lambda Z, n1, A, w: (Z, n1, A, np.ones(9)),
            ValueError,
            r"sample_weight must have shape \(N,\)",
        ),
        (
            lambda Z, n1, A, w: (Z, n1, A, np.r_[np.ones(9), 0.0]),
            ValueError,
            r"sample_weight\[9\] = 0.0. Drop rows with zero weight",
        ),
        (
            lambda Z, n1, A, w: (Z, n1, A, np.r_[-1.0, np.ones(9)]),
            ValueError,
            "finite and positive",
        ),
    ],
)
def test_invalid_input_raises_naming_the_argument(change, err, match):
    Z, n1, A, w = change(*_ok(), None)
    with pytest.raises(err, match=match):
        gram_parts(Z, n1, A, sample_weight=w)


def test_inputs_not_modified():
    Z, n1, A = _ok()
    w = np.linspace(1, 2, 10)
    copies = Z.copy(), A.copy(), w.copy()
    gram_parts(Z, n1, A, sample_weight=w)
    for before, after in zip(copies, (Z, A, w), strict=True):
        np.testing.assert_array_equal(before, after)


# -- calibration and power ------------------------------------------------------------


def _digits_rows(rng, N):
    X = table("digits")
    return X[rng.choice(X.shape[0], N, replace=False)]


DATA = {
    "gaussian d=20, 50+50": (lambda rng: rng.normal(size=(100, 20)), 50),
    "lognormal sigma=2 d=10, 60+40": (
        lambda rng: rng.lognormal(0.0, 2.0, size=(100, 10)),
        60,
    ),
    "digits pixels, 100+100": (lambda rng: _digits_rows(rng, 200), 100),
    "gaussian d=500, 100+100": (lambda rng: rng.normal(size=(200, 500)), 100),
    "lognormal sigma=2 d=500, 100+100": (
        lambda rng: rng.lognormal(0.0, 2.0, size=(200, 500)),
        100,
    ),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(DATA))
def test_tippett_fpr_in_exact_binomial_band(name):
    make, n1 = DATA[name]
    rng = np.random.default_rng(sum(map(ord, name)))
    n_splits, B, alpha = 200, 99, 0.05
    rejections = 0
    for _ in range(n_splits):
        Z = standardise(make(rng))
        A = random_memberships(rng, B, Z.shape[0], n1)
        observed, null = gram_parts(Z, n1, A)
        p, _ = tippett_p_value(observed, null)
        rejections += p <= alpha
    # alpha (B + 1) is an integer: the exact permutation test has level alpha.
    lo, hi = stats.binom.interval(0.99, n_splits, alpha)
    assert lo <= rejections <= hi, (name, rejections / n_splits)


@pytest.mark.slow
@pytest.mark.parametrize(
    "shift, part",
    [("mean 0.1 sd", "mean"), ("scale x1.1", "trace")],
)
def test_power_at_embedding_dimension(shift, part):
    rng = np.random.default_rng(7)
    n, d, B = 1000, 768, 199
    for _ in range(2):
        X, Y = rng.normal(size=(n, d)), rng.normal(size=(n, d))
        Y = Y + 0.1 if shift.startswith("mean") else Y * 1.1
        Z = standardise(np.vstack([X, Y]))
        A = random_memberships(rng, B, 2 * n, n)
        observed, null = gram_parts(Z, n, A)
        p, partial = tippett_p_value(observed, null)
        assert p <= 0.05
        # the part built for this change is as extreme as B permutations allow
        assert partial[GRAM_PARTS.index(part)] == 1 / (B + 1)


def test_no_memberships_gives_observed_and_empty_null():
    Z, n1, A = _ok()
    observed, null = gram_parts(Z, n1, A[:0])
    assert null.shape == (0, 3)
    assert_close(observed, naive_parts(Z, n1), tolerance(Z, n1))
