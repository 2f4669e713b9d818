"""Tests for skkl.pairwise: every entry against the pointwise divergence."""

import pickle
import tracemalloc
import warnings

import joblib
import numpy as np
import pytest
from _builders import random_gaussians
from _reference import mp_kl, naive_divergences
from numpy.testing import assert_allclose, assert_array_equal
from scipy.linalg import cho_solve

import skkl._kl_gemm as kl_gemm_module
import skkl._tiles as tiles_module
import skkl.pairwise as pairwise_module
from skkl import (
    COVARIANCE_TYPES,
    DIVERGENCES,
    Gaussians,
    divergence,
    pairwise_divergence,
    pairwise_divergence_chunked,
)

KINDS = sorted(DIVERGENCES)


def _naive(P, Q, kind, alpha=0.5):
    """Textbook float64 formulas (inv, slogdet, eigh), a naive loop over pairs.

    Returns the values and each entry's scale: the magnitude of the terms
    that cancel in the textbook formulas, whose rounding error is ~d eps
    cond(S) times that scale (cond < 1e3 for ``_random``).
    """
    values = np.empty((len(P), len(Q)))
    scale = np.empty((len(P), len(Q)))
    SP, SQ = P.to_full().covariances, Q.to_full().covariances
    for i in range(len(P)):
        for j in range(len(Q)):
            ref = naive_divergences(P.means[i], SP[i], Q.means[j], SQ[j], alpha)
            values[i, j] = ref[kind]
            scale[i, j] = ref["scale"]
    return values, scale


def _assert_matches_naive(D, P, Q, kind, alpha=0.5):
    expected, scale = _naive(P, Q, kind, alpha)
    d = P.n_features
    # 1e-10 relative, plus the textbook formulas' own rounding error
    # (d eps cond scale, cond <= 1e3) as an absolute term.
    atol = d * np.finfo(float).eps * 1e3 * scale
    if kind == "hellinger":  # sqrt(x) moves by dx / (2 sqrt(x)): use H^2
        D, expected = D**2, expected**2
    assert np.all(np.abs(D - expected) <= 1e-10 * np.abs(expected) + atol)


def _reference_batched(P, Q, kind, alpha=0.5):
    """Plumbing reference: the pointwise kernel on all index pairs in one call.

    The engine and :func:`skkl.divergence` share their kernels; this checks
    the blocking, the GEMM formula and the fallback routing, while the
    kernels themselves are checked against mpmath in test_divergence.py.
    """
    i, j = np.divmod(np.arange(len(P) * len(Q)), len(Q))
    return divergence(P[i], Q[j], kind, alpha=alpha).reshape(len(P), len(Q))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_and_type_matches_pointwise(kind, covariance_type):
    rng = np.random.default_rng(0)
    P = random_gaussians(rng, 6, 3, covariance_type)
    Q = random_gaussians(rng, 4, 3, covariance_type)
    _assert_matches_naive(pairwise_divergence(P, Q, kind), P, Q, kind)
    D = pairwise_divergence(P, None, kind)
    _assert_matches_naive(D, P, P, kind)
    assert_array_equal(np.diag(D), 0.0)
    if DIVERGENCES[kind].is_symmetric():
        assert_array_equal(D, D.T)


@pytest.mark.parametrize("alpha", [0.3, 0.5, 1.0, 1.2])
def test_renyi_alpha(alpha):
    rng = np.random.default_rng(1)
    base = random_gaussians(rng, 5, 2, "full")
    # Covariances within 10% of each other: finite for alpha up to ~10.
    cov = base.covariances[:1] * rng.uniform(1.0, 1.1, size=(5, 1, 1))
    P = Gaussians(base.means, cov + 0.01 * base.covariances)
    Q = Gaussians(P.means[:3] + 0.1, P.covariances[:3] * 1.05)
    _assert_matches_naive(
        pairwise_divergence(P, Q, "renyi", alpha=alpha), P, Q, "renyi", alpha
    )
    D = pairwise_divergence(P, kind="renyi", alpha=alpha)
    _assert_matches_naive(D, P, P, "renyi", alpha)
    assert np.array_equal(D, D.T) == (alpha == 0.5)


@pytest.mark.parametrize(
    "types",
    [("diag", "full"), ("spherical", "diag"), ("tied", "full"), ("full", "spherical")],
)
@pytest.mark.parametrize("kind", ["kl", "jeffreys", "hellinger", "wasserstein"])
def test_mixed_covariance_types(types, kind):
    rng = np.random.default_rng(2)
    P = random_gaussians(rng, 4, 3, types[0])
    Q = random_gaussians(rng, 3, 3, types[1])
    _assert_matches_naive(pairwise_divergence(P, Q, kind), P, Q, kind)
    _assert_matches_naive(pairwise_divergence(Q, P, kind), Q, P, kind)


def test_tied_with_different_covariances():
    rng = np.random.default_rng(3)
    P, Q = random_gaussians(rng, 4, 3, "tied"), random_gaussians(rng, 5, 3, "tied")
    for kind in ("kl", "reverse_kl", "jeffreys"):
        _assert_matches_naive(pairwise_divergence(P, Q, kind), P, Q, kind)


def _far_clusters(rng, covariance_type, d=4, per=5):
    """Tight, nearly equal Gaussians (variances ~1e-4) in clusters ~1e4 apart."""
    centres = np.random.default_rng(99).normal(size=(3, d)) * 1e4
    parts = []
    for c in centres:
        g = random_gaussians(rng, 1, d, covariance_type, scale=1e-4)
        jitter = 1 + 1e-3 * rng.uniform(size=per)
        cov = (
            g.covariances
            if covariance_type == "tied"
            else (g.covariances * jitter.reshape(-1, *([1] * (g.covariances.ndim - 1))))
        )
        parts.append((c + 1e-4 * rng.normal(size=(per, d)), cov))
    means = np.vstack([m for m, _ in parts])
    if covariance_type == "tied":
        return Gaussians(means, parts[0][1], "tied")
    return Gaussians(means, np.concatenate([c for _, c in parts]), covariance_type)


def _naive_kl(P, Q):
    """The one-GEMM formula without recomputation (textbook float64)."""
    d = P.n_features
    L = Q.full_cholesky()
    prec = np.stack([cho_solve((Lj, True), np.eye(d)) for Lj in L])
    S = P.to_full().covariances
    A = S + P.means[:, :, None] * P.means[:, None, :]
    trace = A.reshape(len(P), -1) @ prec.reshape(len(Q), -1).T
    v = np.einsum("kij,kj->ki", prec, Q.means)
    return 0.5 * (
        trace
        - 2 * P.means @ v.T
        + np.sum(Q.means * v, axis=1)
        + Q.logdet
        - P.logdet[:, None]
        - d
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("kind", ["kl", "reverse_kl", "jeffreys"])
def test_cancellation_far_apart_tight_clusters(kind, covariance_type):
    rng = np.random.default_rng(4)
    P = _far_clusters(rng, covariance_type)
    Q = _far_clusters(rng, covariance_type)
    for A, B in [(P, Q), (P, None)]:
        B_ = A if B is None else B
        expected = _reference_batched(A, B_, kind)
        D = pairwise_divergence(A, B, kind)
        assert_allclose(D, expected, rtol=1e-10, atol=1e-300)
        assert np.all(D >= 0)
    # The fast formula alone loses every digit within a cluster.
    naive, truth = _naive_kl(P, P), _reference_batched(P, P, "kl")
    off = ~np.eye(len(P), dtype=bool)
    assert np.max(np.abs(naive - truth)[off] / truth[off]) > 1.0


@pytest.mark.parametrize("kind", ["kl", "jeffreys"])
def test_far_clusters_blocked_inverse_many_operand_blocks(kind, monkeypatch):
    # d = 13 pads the batched triangular inverse (to 16) and runs its
    # recursion; tiny operand blocks (8 Gaussians) split the batches into
    # several blocks; the diagonal batch is promoted to full factors when
    # mixed with the full one.
    monkeypatch.setattr(kl_gemm_module, "_OPERAND_BLOCK_BYTES", 1)
    rng = np.random.default_rng(14)
    P = _far_clusters(rng, "full", d=13, per=14)
    Q = _far_clusters(rng, "diag", d=13, per=3)
    for A, B in [(P, None), (P, Q), (Q, P)]:
        B_ = A if B is None else B
        D = pairwise_divergence(A, B, kind)
        assert_allclose(D, _reference_batched(A, B_, kind), rtol=1e-10, atol=1e-300)
        assert np.all(D >= 0)


def test_nearly_equal_gaussians_and_exact_zero():
    rng = np.random.default_rng(5)
    base = random_gaussians(rng, 1, 5, "full")
    means = base.means + 1e-9 * rng.normal(size=(4, 5))
    cov = base.covariances * (1 + 1e-9 * np.arange(4))[:, None, None]
    P = Gaussians(means, cov)
    Q = Gaussians(np.vstack([means[:2], base.means]), np.vstack([cov[:2], cov[:1]]))
    for kind in ("kl", "jeffreys"):
        D = pairwise_divergence(P, Q, kind)
        expected = _reference_batched(P, Q, kind)
        assert_allclose(D, expected, rtol=1e-10, atol=1e-300)
        assert D[0, 0] == 0.0 and D[1, 1] == 0.0  # identical Gaussians
        assert np.all(D[:, 2] > 0)


def test_rtol_zero_recomputes_everything():
    rng = np.random.default_rng(6)
    P = random_gaussians(rng, 5, 3, "full")
    D = pairwise_divergence(P, kind="kl", rtol=0)
    # The pointwise kernel: within a few eps of the exact value for these
    # well-conditioned pairs (cond < 1e3, d = 3: 1e-13 covers d eps cond).
    S = P.covariances
    expected = np.array(
        [
            [mp_kl(P.means[i], S[i], P.means[j], S[j]) for j in range(5)]
            for i in range(5)
        ]
    )
    assert_allclose(D, expected, rtol=1e-13, atol=0)


@pytest.mark.parametrize("kind", ["kl", "jeffreys", "wasserstein", "renyi"])
def test_chunking_gives_identical_results(kind):
    rng = np.random.default_rng(7)
    P = random_gaussians(rng, 13, 3, "full")
    Q = random_gaussians(rng, 7, 3, "full")
    for B in (Q, None):
        D = pairwise_divergence(P, B, kind, alpha=0.7)
        tiny = pairwise_divergence(P, B, kind, alpha=0.7, working_memory=3e-4)
        blocks = list(
            pairwise_divergence_chunked(P, B, kind, alpha=0.7, working_memory=3e-4)
        )
        assert len(blocks) > 2
        # The generator and the matrix share their blocks: bit-identical.
        assert_array_equal(np.vstack(blocks), tiny)
        # Other block sizes may differ in the last bit: BLAS and numpy pick
        # their kernels by shape and batch size.
        assert_allclose(tiny, D, rtol=1e-13, atol=1e-300)
        if B is None:
            assert_array_equal(np.diag(tiny), 0.0)
            if DIVERGENCES[kind].is_symmetric(0.7):
                assert_array_equal(tiny, tiny.T)


def test_n_jobs_two_equals_one():
    rng = np.random.default_rng(8)
    P = random_gaussians(rng, 40, 3, "full")
    # Threads keep the test fast; process workers receive the pickled plan,
    # checked below without paying for a process pool.
    with joblib.parallel_config(backend="threading"):
        for kind in ("kl", "jeffreys", "hellinger", "renyi"):
            D1 = pairwise_divergence(P, kind=kind, alpha=0.7, working_memory=0.005)
            D2 = pairwise_divergence(
                P, kind=kind, alpha=0.7, working_memory=0.005, n_jobs=2
            )
            assert_array_equal(D1, D2)


def test_work_plan_pickles():
    rng = np.random.default_rng(8)
    P, Q = random_gaussians(rng, 6, 3, "full"), random_gaussians(rng, 4, 3, "diag")
    plan = pairwise_module.make_plan(P, Q, "jeffreys", 0.5, 1e-10, None)
    clone = pickle.loads(pickle.dumps(plan))
    assert_array_equal(
        tiles_module.tile(clone, 0, 6, 0, 4), pairwise_divergence(P, Q, "jeffreys")
    )


def test_dask_backend():
    pytest.importorskip("dask")
    distributed = pytest.importorskip("distributed")
    rng = np.random.default_rng(9)
    P = random_gaussians(rng, 30, 3, "diag")
    Q = random_gaussians(rng, 20, 3, "full")
    expected = pairwise_divergence(P, Q, "kl", working_memory=0.002)
    with (
        distributed.LocalCluster(
            processes=False, n_workers=1, threads_per_worker=2, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster),
        joblib.parallel_config(backend="dask"),
    ):
        D = pairwise_divergence(P, Q, "kl", working_memory=0.002)
        blocks = list(
            pairwise_divergence_chunked(P, None, "hellinger", working_memory=0.002)
        )
    assert_array_equal(D, expected)
    assert_allclose(
        np.vstack(blocks), _reference_batched(P, P, "hellinger"), rtol=1e-10
    )


@pytest.mark.parametrize("kind", ["kl", "wasserstein"])
def test_generator_memory_stays_within_working_memory(kind):
    rng = np.random.default_rng(10)
    K = 2000 if kind == "kl" else 700
    P = random_gaussians(rng, K, 2, "diag")
    working_memory = 1.0  # MiB; the full matrix alone is K^2 * 8 bytes
    assert K * K * 8 > 3 * 2**20
    tracemalloc.start()
    try:
        n_rows = 0
        for block in pairwise_divergence_chunked(P, kind=kind, working_memory=1.0):
            n_rows += block.shape[0]
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert n_rows == K
    # Intermediates within working_memory, plus per-Gaussian operands (a few
    # rows of 2d + 3 floats per Gaussian) and bookkeeping.
    operands = 8 * K * 4 * (2 * 2 + 3)
    assert peak < 2 * working_memory * 2**20 + operands + 2**20


def test_chunk_matches_pointwise_on_sample():
    rng = np.random.default_rng(11)
    P = random_gaussians(rng, 9, 2, "spherical")
    Q = random_gaussians(rng, 5, 2, "diag")
    row = 0
    for block in pairwise_divergence_chunked(
        P, Q, "bhattacharyya", working_memory=1e-4
    ):
        assert_allclose(
            block,
            _reference_batched(P[row : row + len(block)], Q, "bhattacharyya"),
            rtol=1e-12,
        )
        row += len(block)
    assert row == len(P)


def test_recomputation_is_batched(monkeypatch):
    """Flagged entries reach the pointwise kernel as index arrays, not one by one."""
    calls = []
    original = tiles_module.pointwise

    def spy(plan, i, j):
        calls.append(i.size)
        return original(plan, i, j)

    monkeypatch.setattr(tiles_module, "pointwise", spy)
    rng = np.random.default_rng(12)
    P = _far_clusters(rng, "full")
    pairwise_divergence(P, kind="kl")
    assert len(calls) == 1 and calls[0] >= 3 * 5 * 4  # every within-cluster pair


def test_input_validation():
    rng = np.random.default_rng(13)
    P = random_gaussians(rng, 3, 2, "full")
    with pytest.raises(TypeError, match="P must be a skkl.Gaussians"):
        pairwise_divergence(P.means)
    with pytest.raises(TypeError, match="Q must be a skkl.Gaussians"):
        pairwise_divergence(P, (P.means, P.covariances))
    with pytest.raises(ValueError, match="P has 2 features but Q has 3"):
        pairwise_divergence(P, random_gaussians(rng, 2, 3, "diag"))
    with pytest.raises(ValueError, match="kind must be one of"):
        pairwise_divergence(P, kind="euclid")
    with pytest.raises(ValueError, match="alpha must be"):
        pairwise_divergence(P, kind="renyi", alpha=-1.0)
    with pytest.raises(ValueError, match="rtol must be"):
        pairwise_divergence(P, rtol=2.0)
    with pytest.raises(ValueError, match="working_memory must be"):
        list(pairwise_divergence_chunked(P, working_memory=0))


def test_renyi_infinite_pair_raises():
    P = Gaussians(np.zeros((2, 1)), [[1.0], [10.0]], "diag")
    Q = Gaussians(np.zeros((1, 1)), [[1.0]], "diag")
    with pytest.raises(ValueError, match="Renyi divergence is infinite"):
        pairwise_divergence(P, Q, "renyi", alpha=2.0)


@pytest.mark.parametrize("kind", ["kl", "jeffreys"])
@pytest.mark.parametrize("covariance_type", ["spherical", "full"])
def test_overflow_is_a_clear_error_not_inf(kind, covariance_type):
    d = 2
    var = np.array([1e300, 1e-300])
    if covariance_type == "full":
        var = var[:, None, None] * np.eye(d)
    G = Gaussians([[0.0, 0.0], [1.0, 0.0]], var, covariance_type)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no RuntimeWarning either
        with pytest.raises(ValueError, match="overflows float64"):
            pairwise_divergence(G, kind=kind)


def test_alpha_is_ignored_by_kinds_without_it():
    G = Gaussians([[0.0], [1.0]], [1.0, 2.0], "spherical")
    np.testing.assert_array_equal(
        pairwise_divergence(G, kind="kl", alpha="unused"), pairwise_divergence(G)
    )


@pytest.mark.parametrize("covariance_type", ["spherical", "diag", "full"])
def test_extreme_variance_ratio_bhattacharyya_hellinger_are_finite(covariance_type):
    # 1e300 I vs 1e-300 I: KL overflows, but the Bhattacharyya distance is
    # log((1e300 + 1e-300) / 2) + 1 / (8 * 5e299), about 689.8, and every
    # covariance layout must give it (issue 16: diag gave Hellinger 1.0
    # while full raised an overflow error).
    import mpmath

    d = 2
    var = np.array([1e300, 1e-300])
    if covariance_type == "full":
        var = var[:, None, None] * np.eye(d)
    elif covariance_type == "diag":
        var = var[:, None] * np.ones(d)
    G = Gaussians([[0.0, 0.0], [1.0, 0.0]], var, covariance_type)
    with mpmath.workdps(50):
        mix = (mpmath.mpf(1e300) + mpmath.mpf(1e-300)) / 2
        expected = float(d * mpmath.log(mix) / 2 + 1 / (8 * mix))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        B = pairwise_divergence(G, kind="bhattacharyya")
        H = pairwise_divergence(G, kind="hellinger")
        pointwise = divergence(G[0], G[1], "hellinger")
    # The log-determinants (~690) carry ~eps relative error each.
    assert_allclose(B[0, 1], expected, rtol=8 * np.finfo(float).eps)
    assert_array_equal(H, [[0.0, 1.0], [1.0, 0.0]])
    assert_array_equal(pointwise, [1.0])


@pytest.mark.parametrize("n_jobs", ["a", 1.5, 0, True])
def test_bad_n_jobs_is_a_clear_error(n_jobs):
    G = Gaussians(np.zeros((2, 1)), [1.0, 2.0], "spherical")
    with pytest.raises(ValueError, match="n_jobs must be None or a non-zero integer"):
        pairwise_divergence(G, n_jobs=n_jobs)
    with pytest.raises(ValueError, match="n_jobs must be None or a non-zero integer"):
        next(pairwise_divergence_chunked(G, n_jobs=n_jobs))


@pytest.mark.parametrize("working_memory", [np.inf, -np.inf, np.nan, 0, "64", True])
def test_bad_working_memory_is_a_clear_error(working_memory):
    G = Gaussians(np.zeros((2, 1)), [1.0, 2.0], "spherical")
    with pytest.raises(ValueError, match="working_memory must be a finite positive"):
        pairwise_divergence(G, working_memory=working_memory)


def _exact_low_rank(rng, d, rank):
    """Integer factors: S = F F' is exact in float64 and exactly of rank ``rank``."""
    F = rng.integers(-3, 4, size=(d, rank)).astype(float)
    return F @ F.T


def _mp_w2_psd(m0, S0, m1, S1):
    """W2^2 at 50 digits for positive semi-definite covariances (eigsy, clip 0)."""
    import mpmath

    def mat(a):
        return mpmath.matrix([[mpmath.mpf(float(x)) for x in row] for row in a])

    with mpmath.workdps(50):
        P, Q = mat(S0), mat(S1)
        E, V = mpmath.eigsy(P)
        R = V * mpmath.diag([mpmath.sqrt(max(e, 0)) for e in E]) * V.T
        M = R * Q * R
        mu = mpmath.eigsy((M + M.T) / 2)[0]
        nuclear = mpmath.fsum(mpmath.sqrt(max(e, 0)) for e in mu)
        tr = mpmath.fsum(P[i, i] + Q[i, i] for i in range(P.rows))
        dist = mpmath.fsum(
            (mpmath.mpf(a) - mpmath.mpf(b)) ** 2 for a, b in zip(m0, m1, strict=True)
        )
        return float(dist + tr - 2 * nuclear)


def test_wasserstein_accepts_singular_covariances():
    # Sample covariances with n < d are singular, as in many FID evaluations.
    rng = np.random.default_rng(30)
    d, K = 6, 5
    covs = np.stack([_exact_low_rank(rng, d, r) for r in (2, 3, 6, 1, 4)])
    means = rng.normal(size=(K, d))
    with pytest.raises(ValueError, match="not positive definite"):
        Gaussians(means, covs)
    G = Gaussians(means, covs, allow_singular=True)
    assert G.singular.tolist() == [True, True, False, True, True]
    assert np.all(np.isneginf(G.logdet[G.singular]))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        D = pairwise_divergence(G, kind="wasserstein")
        pointwise = divergence(G[0], G[1], "wasserstein")
    ref = np.array(
        [
            [_mp_w2_psd(means[i], covs[i], means[j], covs[j]) for j in range(K)]
            for i in range(K)
        ]
    )
    # A factor of a singular matrix is only sqrt-stable: rounding of S by
    # eps ||S|| moves a zero singular value of the factor by ~sqrt(eps ||S||),
    # so the nuclear norm (sqrt(d)-Lipschitz in the factor) moves by about
    # d sqrt(d eps) sqrt(||S0|| ||S1||).
    tr = np.trace(covs, axis1=1, axis2=2)
    atol = d * np.sqrt(d * np.finfo(float).eps) * np.sqrt(np.outer(tr, tr))
    assert np.all(np.abs(D - ref) <= 1e-10 * ref + atol)
    assert_allclose(pointwise[0], D[0, 1], rtol=1e-12)
    assert_array_equal(np.diag(D), 0.0)
    assert np.all(D >= 0)


@pytest.mark.parametrize("kind", [k for k in KINDS if k != "wasserstein"])
def test_other_kinds_refuse_singular_covariances(kind):
    rng = np.random.default_rng(31)
    G = Gaussians(
        np.zeros((2, 3)),
        np.stack([_exact_low_rank(rng, 3, 2), np.eye(3)]),
        allow_singular=True,
    )
    with pytest.raises(
        ValueError, match="needs positive definite covariances.*reg_covar"
    ):
        pairwise_divergence(G, kind=kind)
    with pytest.raises(ValueError, match="needs positive definite covariances"):
        divergence(G[0], G[1], kind)


def test_allow_singular_still_refuses_indefinite_and_diag_zero_variance():
    with pytest.raises(
        ValueError, match=r"covariances\[1\] is not positive semi-definite"
    ):
        Gaussians(
            np.zeros((2, 2)),
            np.stack([np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]),
            allow_singular=True,
        )
    G = Gaussians(
        np.zeros((2, 2)), [[0.0, 1.0], [1.0, 1.0]], "diag", allow_singular=True
    )
    assert G.singular.tolist() == [True, False]
    assert_allclose(
        pairwise_divergence(G, kind="wasserstein"), [[0, 1], [1, 0]], rtol=1e-15
    )
    with pytest.raises(TypeError, match="allow_singular must be True or False"):
        Gaussians(np.zeros((1, 2)), np.eye(2)[None], allow_singular="yes")


def test_from_packed_overflow_and_metric_rows_are_clear_errors():
    from skkl import KLMetric

    X = np.array([[0.0, 0.0, 1e200, 0.0, 1.0], [1.0, 0.0, 1.0, 0.0, 1.0]])
    with pytest.raises(
        ValueError, match=r"X\[0\] describes a covariance beyond float64"
    ):
        Gaussians.from_packed(X)
    for kind in ("wasserstein", "kl", "hellinger"):
        metric = KLMetric(kind)
        with pytest.raises(ValueError, match="beyond float64"):
            metric.pairwise(X)
        with pytest.raises(ValueError, match=r"u describes a covariance beyond"):
            metric(X[0], X[1])


def test_registry_drives_dispatch_a_new_kind_in_one_place(monkeypatch):
    # Plumbing: one record added to the registry is enough for divergence,
    # pairwise_divergence (chunked too) and KLMetric. Here KL without its
    # GEMM directions: the pair-kernel engine must agree with the GEMM one.
    from skkl import DivergenceInfo, KLMetric
    from skkl._kernels import kl_diag, kl_full

    info = DivergenceInfo(
        name="kl_by_pairs",
        full=kl_full,
        diag=kl_diag,
        symmetric=False,
        description="KL through the pair kernels",
    )
    monkeypatch.setitem(DIVERGENCES, "kl_by_pairs", info)
    rng = np.random.default_rng(40)
    P, Q = random_gaussians(rng, 7, 3, "full"), random_gaussians(rng, 5, 3, "diag")
    gemm = pairwise_divergence(P, Q, "kl")
    assert_allclose(pairwise_divergence(P, Q, "kl_by_pairs"), gemm, rtol=1e-12)
    chunks = list(
        pairwise_divergence_chunked(P, None, "kl_by_pairs", working_memory=1e-4)
    )
    assert_allclose(np.vstack(chunks), pairwise_divergence(P), rtol=1e-12, atol=1e-300)
    assert_allclose(divergence(P[0], Q[1], "kl_by_pairs"), gemm[0, 1], rtol=1e-12)
    X = P.pack()
    assert KLMetric("kl_by_pairs")(X[0], X[1]) == pytest.approx(
        pairwise_divergence(P)[0, 1], rel=1e-12
    )
    with pytest.raises(TypeError):  # records are built with keywords only
        DivergenceInfo("x", kl_full, kl_diag, False, False, "positional")


def test_nearly_equal_pairs_take_the_stable_forms_and_match_mpmath():
    # Covariances and means within ~1e-6 of each other: the direct forms
    # (mixture Cholesky, eigenvalue W2) cancel to rounding noise here, so
    # the error bound must route every pair to the whitened series /
    # Procrustes forms.
    from _reference import mp_divergences

    rng = np.random.default_rng(41)
    d, K = 3, 3
    base = random_gaussians(rng, 1, d, "full")
    E = 1e-6 * rng.normal(size=(K, d, d))
    cov = base.covariances + 0.5 * (E + E.transpose(0, 2, 1))
    G = Gaussians(base.means + 1e-6 * rng.normal(size=(K, d)), cov)
    kinds = ["bhattacharyya", "hellinger", "renyi", "wasserstein"]
    D = {k: pairwise_divergence(G, kind=k, alpha=0.7) for k in kinds}
    for i in range(K):
        for j in range(K):
            if i == j:
                continue
            ref = mp_divergences(G.means[i], cov[i], G.means[j], cov[j], alphas=(0.7,))
            ref["renyi"] = ref[("renyi", 0.7)]
            for k in kinds:
                # The stable forms work with differences of size ~1e-6
                # formed to ~d eps: relative error ~2 d eps / 1e-6 ~ 1e-9 on
                # the squared quantities (half that for Hellinger ~ sqrt).
                assert abs(D[k][i, j] - ref[k]) <= 1e-8 * ref[k], (k, i, j)
    # The direct form's bound is far above the routing threshold here.
    from skkl import _kernels, _renyi

    quad, log_term, err = _renyi._renyi_direct(
        cov[0], cov[1], G.logdet[0], G.logdet[1], G.means[1] - G.means[0], 0.5
    )
    assert err > 1e3 * _kernels.NEAR_RTOL * (quad + max(log_term, 0.0))
