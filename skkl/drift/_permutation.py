"""Moment-feature permutation engine of the Gaussian two-sample test (private).

All group moments of every split come from one matrix product. Each row
becomes a row of moment features ``F = [w, w z, w second(z), w^2, t, u]``
(``second`` as in :mod:`._sums`; the last three columns are the effect's
squared-weight sums, see :mod:`._effect`); a ``(R, N)`` 0/1 membership
matrix (row 0 the observed split, then the permutations) selects the first
group of each split, so ``M @ F`` holds the weight, the first and the second
moment sums of that group for every split at once, and the second group is
``F.sum(0) - M @ F``. What is left per split is three small Cholesky
log-determinants, batched.

Memory is bounded: ``F`` is built and multiplied one block of rows at a time
(never ``N x d(d+1)/2`` at once), and splits are processed in chunks whose
sums and ``d x d`` matrices fit in scikit-learn's ``working_memory``.

Numerics. The data ``Z`` are standardised by the pooled sample (the same for
every split), and every covariance gets a ridge ``T / N`` (``T`` the pooled
covariance, ``N`` the total weight; plus ``RIDGE_DELTA diag(T) / N`` for
collinear features), also a function of the pooled sample only, so the
permutation test stays exact. In whitened coordinates the ridge is ``I / N``:
affine equivariant, far below the sampling noise of a variance
(``sqrt(2 / n)``), and it keeps every statistic finite when a feature is
constant within one group (a pixel that is 0 in every image of one half).
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.parallel import Parallel, delayed

from .._blas import blas_single_thread, blas_threads_for, get_chunk_n_rows, runs_inline
from .._linalg import cholesky, logdet_from_cholesky
from .._moments import shrink
from ._effect import (
    GroupSums,
    effect_from_splits,
    effect_values,
    metric_from_rows,
)
from ._engines import EFFECT_NULL_SPLITS, EngineResult, SplitSampler
from ._prepare import Standardiser
from ._sums import fill_moment_features, n_second, second_pairs

__all__ = [
    "PARTS",
    "STATISTICS",
    "MomentSpec",
    "moment_features",
    "part_statistics",
    "pooled_ridge",
    "run",
    "split_moments",
    "split_sums",
]

#: Statistics computed for every split, in this column order ('lrt' is the
#: sum of the first two: the likelihood-ratio statistic).
PARTS = (
    "mean",
    "covariance",
    "variance_max",
    "variance",
    "correlation",
    "correlation_max",
    "lrt",
)

#: Parts (and weights) of each ``statistic``. 'combined' is a weighted
#: Tippett combination; the weights come from the power study in
#: benchmarks/bench_drift.py (``--variants``): the mean part keeps most of
#: Hotelling's power on mean shifts; the largest per-feature variance part and
#: the largest Fisher-z correlation change catch changes confined to one
#: feature or one pair; the variance and correlation parts of the LRT catch
#: changes spread over many features.
STATISTICS = {
    "combined": {
        "mean": 0.6,
        "variance_max": 0.1,
        "correlation_max": 0.1,
        "variance": 0.1,
        "correlation": 0.1,
    },
    "lrt": {"lrt": 1.0},
    "mean": {"mean": 1.0},
    "covariance": {"covariance": 1.0},
}
#: Without correlations (diagonal model or one feature) the correlation parts
#: are identically 0: their weight goes to the variance parts.
STATISTICS_DIAG = {
    **STATISTICS,
    "combined": {"mean": 0.6, "variance_max": 0.2, "variance": 0.2},
}

#: Relative ridge on the diagonal of ``T / N``: pooled collinear features
#: (0/1 data summing to a constant) make ``T`` singular; 1e-8 of a variance
#: is invisible next to a variance's sampling noise. It grows as 1e-12 N so
#: that the rounding of sums over N rows stays below it.
RIDGE_DELTA = 1e-8
RIDGE_DELTA_PER_ROW = 1e-12
# Correlations are clipped to this before Fisher's z: closer to +-1 is
# collinear within rounding, and arctanh(1 - 1e-12) = 14.2 stays finite.
_MAX_CORRELATION = 1.0 - 1e-12
# Moment features are built in blocks of about this many bytes (cache sized).
_FEATURE_BLOCK_BYTES = 1 << 25
# Fixed chunk of splits for the part statistics (not a function of n_jobs,
# so results do not depend on the number of threads).
_SPLITS_PER_CHUNK = 256


class MomentSpec:
    """Feature layout for ``d`` features and one covariance type."""

    def __init__(self, d: int, covariance_type: str):
        self.d = d
        self.full = covariance_type == "full"
        self.covariance_type = covariance_type
        self.iu = second_pairs(d, covariance_type) if self.full else None
        i, j = second_pairs(d, covariance_type)
        self.diag_cols = np.flatnonzero(i == j)
        self.iu_strict = np.triu_indices(d, 1) if self.full else None
        self.n_second = n_second(d, covariance_type)
        self.n_moments = 1 + d + self.n_second
        # Three more columns for the effect: w^2, w^2 ||v||^2, w^2 ||v||^4.
        self.n_columns = self.n_moments + 3


def moment_features(Z, w, spec: MomentSpec, extra=None) -> np.ndarray:
    """Rows ``[w, w z, w second(z)]`` (and ``extra``, already weighted)."""
    n = Z.shape[0]
    cols = spec.n_moments if extra is None else spec.n_columns
    F = np.empty((n, cols))
    F[:, 0] = w
    fill_moment_features(Z, F[:, 1 : spec.n_moments], spec.covariance_type)
    F[:, 1 : spec.n_moments] *= w[:, None]
    if extra is not None:
        F[:, spec.n_moments :] = extra
    return F


def split_sums(Z, w, memberships, spec, extra=None):
    """Group-1 sums of the moment features for each row of ``memberships``.

    Streams row blocks of ``Z``: the features of a block are built, multiplied
    by the block's columns of ``memberships`` and dropped.

    Returns
    -------
    S1 : ndarray of shape (R, n_columns)
    total : ndarray of shape (n_columns,)
    """
    N = Z.shape[0]
    R = memberships.shape[0]
    p = spec.n_moments if extra is None else spec.n_columns
    rows = get_chunk_n_rows(row_bytes=8 * (2 * p + R), max_n_rows=N)
    rows = max(1, min(rows, _FEATURE_BLOCK_BYTES // (8 * max(R, p))))
    S1 = np.zeros((R, p))
    total = np.zeros(p)
    for start in range(0, N, rows):
        stop = min(N, start + rows)
        ex = None if extra is None else extra[start:stop]
        F = moment_features(Z[start:stop], w[start:stop], spec, ex)
        M = memberships[:, start:stop].astype(np.float64)
        with blas_threads_for(2.0 * R * (stop - start) * p):
            S1 += M @ F
        total += F.sum(axis=0)
    return S1, total


def _moments(S: np.ndarray, spec: MomentSpec, ridge: np.ndarray):
    """Weights, means and ridged ML covariances (full) or variances (diag).

    ``ridge`` is a (d, d) matrix (full) or a (d,) vector (diag).
    """
    d = spec.d
    n = S[:, 0]
    m = S[:, 1 : 1 + d] / n[:, None]
    second = S[:, 1 + d : spec.n_moments] / n[:, None]
    if spec.full:
        i, j = spec.iu
        C = np.empty((S.shape[0], d, d))
        C[:, i, j] = second
        C[:, j, i] = second
        C -= m[:, :, None] * m[:, None, :]
        k = np.arange(d)
        # Rounding can leave a zero variance slightly negative: clip, then ridge.
        C[:, k, k] = np.maximum(C[:, k, k], 0.0)
        C += ridge
    else:
        C = np.maximum(second - m * m, 0.0) + ridge
    return n, m, C


def pooled_ridge(total: np.ndarray, spec: MomentSpec) -> np.ndarray:
    """The ridge ``(T + delta diag(T)) / N`` from the pooled sums.

    ``T`` is the pooled ML covariance (its diagonal for 'diag') and
    ``delta = max(RIDGE_DELTA, RIDGE_DELTA_PER_ROW N)`` keeps the ridge
    positive definite when features are collinear in the pooled sample.
    """
    n = total[0]
    zero = np.zeros((1, spec.d, spec.d)) if spec.full else np.zeros((1, spec.d))
    _, _, T = _moments(total[None, :], spec, zero)
    T = T[0]
    delta = max(RIDGE_DELTA, RIDGE_DELTA_PER_ROW * n)
    if spec.full:
        R = T / n
        k = np.arange(spec.d)
        R[k, k] *= 1.0 + delta
        return R
    return T * (1.0 + delta) / n


def split_moments(S1, total, spec, ridge):
    """``(n, mean, cov)`` of group 1 and of group 2 for each row of ``S1``."""
    return _moments(S1, spec, ridge), _moments(total[None, :] - S1, spec, ridge)


def _logdet(C: np.ndarray, full: bool) -> np.ndarray:
    if full:
        # Ridged covariances are positive definite in exact arithmetic.
        hint = (
            "the pooled covariance is numerically singular; use "
            "shrinkage='ledoit_wolf' or covariance_type='diag'"
        )
        return logdet_from_cholesky(cholesky(C, name="group covariance", hint=hint))
    return np.log(C).sum(axis=1)


def _log_diag(C: np.ndarray, full: bool) -> np.ndarray:
    return np.log(np.diagonal(C, axis1=-2, axis2=-1) if full else C)


def _fisher_z(C: np.ndarray, iu) -> np.ndarray:
    """Fisher's z (``arctanh``) of the correlations above the diagonal."""
    sd = np.sqrt(np.diagonal(C, axis1=-2, axis2=-1))
    r = C[:, iu[0], iu[1]] / (sd[:, iu[0]] * sd[:, iu[1]])
    return np.arctanh(np.clip(r, -_MAX_CORRELATION, _MAX_CORRELATION))


def part_statistics(S1, total, spec, shrinkage, ridge):
    """Statistics of the split ``S1`` / ``total - S1`` for each row of sums ``S1``.

    ``shrinkage`` is None or a tuple ``(a_total, a_1, a_2)`` of fixed
    intensities and ``ridge`` the fixed diagonal added to every covariance
    (functions of the pooled sample only, so every split gets the same
    statistic and the test stays exact).

    Returns
    -------
    parts : ndarray of shape (b, len(PARTS))
        Columns ``PARTS``: the mean part ``N log|T| - N log|W|`` and the
        covariance part ``N log|W| - n1 log|S1| - n2 log|S2|`` (their sum,
        the likelihood-ratio statistic, is the last column); the covariance
        part split into its
        variance part (the same with diagonal covariances) and its
        correlation part (the same with correlation matrices); the largest
        per-feature variance part and the largest squared difference of
        Fisher-z correlations over feature pairs (scaled by ``1/n1 + 1/n2``).
    features : ndarray of shape (b, d)
        Per-feature univariate likelihood-ratio statistics (mean and variance).
    """
    full = spec.full
    (n1, _, C1), (n2, _, C2) = split_moments(S1, total, spec, ridge)
    N, _, CT = _moments(total[None, :], spec, ridge)
    N = N[0]
    W = (
        (n1[:, None, None] * C1 + n2[:, None, None] * C2)
        if full
        else (n1[:, None] * C1 + n2[:, None] * C2)
    )
    W /= N
    # The per-feature and per-pair parts use the unshrunk moments: each is a
    # function of one feature's (one pair's) data, as in attribution.
    vt, vw = _log_diag(CT, full), _log_diag(W, full)
    v1, v2 = _log_diag(C1, full), _log_diag(C2, full)
    var_part = N * vw - n1[:, None] * v1 - n2[:, None] * v2
    parts = np.zeros((S1.shape[0], len(PARTS)))
    parts[:, 2] = var_part.max(axis=1)
    if full and spec.d > 1:
        iu = spec.iu_strict
        dz = _fisher_z(C1, iu) - _fisher_z(C2, iu)
        parts[:, 5] = np.square(dz).max(axis=1) / (1.0 / n1 + 1.0 / n2)
    features = N * (vt - vw) + var_part
    if shrinkage is not None:
        a_tot, a1, a2 = shrinkage
        CT, W = shrink(CT, a_tot), shrink(W, a_tot)
        C1, C2 = shrink(C1, a1), shrink(C2, a2)
        vw, v1, v2 = _log_diag(W, full), _log_diag(C1, full), _log_diag(C2, full)
    ld_t, ld_w = _logdet(CT, full), _logdet(W, full)
    ld_1, ld_2 = _logdet(C1, full), _logdet(C2, full)
    parts[:, 0] = N * (ld_t - ld_w)
    parts[:, 1] = N * ld_w - n1 * ld_1 - n2 * ld_2
    # log|C| = sum log diag(C) + log|corr(C)|: the same split of the LRT.
    parts[:, 3] = N * vw.sum(axis=1) - n1 * v1.sum(axis=1) - n2 * v2.sum(axis=1)
    parts[:, 4] = parts[:, 1] - parts[:, 3] if full else 0.0
    parts[:, 6] = parts[:, 0] + parts[:, 1]
    return parts, features


def _chunks(R: int, spec: MomentSpec, fixed: int = _SPLITS_PER_CHUNK):
    """Slices of splits whose d x d work matrices fit in ``working_memory``."""
    row_bytes = 8 * (8 * spec.d * spec.d + 4 * spec.n_columns)
    chunk = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=fixed)
    return [slice(s, min(R, s + chunk)) for s in range(0, R, chunk)]


def moment_parts(S1, total, spec, shrinkage, ridge, n_jobs=None):
    """``PARTS`` of every row of ``S1`` (chunks of splits, threads over chunks)."""
    slices = _chunks(S1.shape[0], spec)
    work = 2.0 * S1.shape[0] * spec.d**3

    def run_chunk(sl):
        # Many d x d factorisations: one BLAS thread each (threads over chunks).
        with blas_single_thread():
            return part_statistics(S1[sl], total, spec, shrinkage, ridge)[0]

    if n_jobs in (None, 1) or len(slices) == 1 or runs_inline(work):
        out = [run_chunk(s) for s in slices]
    else:
        out = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(run_chunk)(s) for s in slices
        )
    return np.concatenate(out)


def diagonal_parts(S1, total, spec):
    """Per-feature (mean, variance) statistics from the sums' diagonal columns."""
    d = spec.d
    cols = np.r_[0, 1 : 1 + d, 1 + d + spec.diag_cols]
    dspec = MomentSpec(d, "diag")
    S1d, totald = S1[:, cols], total[cols]
    ridge = pooled_ridge(totald, dspec)
    out = [
        part_statistics(S1d[sl], totald, dspec, None, ridge)[1]
        for sl in _chunks(S1d.shape[0], dspec, fixed=S1d.shape[0])
    ]
    return np.concatenate(out)


def feature_parts(Z, w, memberships):
    """Per-feature univariate likelihood-ratio statistics (mean and variance).

    From ``[w, w z, w z**2]`` only (``N x (1 + 2d)``): attribution on the
    engine's own splits for every engine.
    """
    spec = MomentSpec(Z.shape[1], "diag")
    S1, total = split_sums(Z, w, memberships, spec)
    return diagonal_parts(S1, total, spec)


def _vech_to_matrices(second: np.ndarray, spec: MomentSpec) -> np.ndarray:
    if not spec.full:
        return second
    i, j = spec.iu
    Q = np.empty((second.shape[0], spec.d, spec.d))
    Q[:, i, j] = second
    Q[:, j, i] = second
    return Q


def group_sums(S: np.ndarray, spec: MomentSpec, metric) -> GroupSums:
    """The effect's :class:`GroupSums` of rows of split sums (whitened)."""
    d, k = spec.d, spec.n_moments
    return GroupSums(
        S[:, 0],
        S[:, k],
        metric.whiten_vectors(S[:, 1 : 1 + d]),
        metric.whiten_matrices(_vech_to_matrices(S[:, 1 + d : k], spec)),
        S[:, k + 1],
        S[:, k + 2],
    )


def effect_of_splits(S1, total, spec, metric) -> np.ndarray:
    """The effect (see :mod:`._effect`) of every row of split sums ``S1``."""
    from ._effect import ustatistics

    g1 = group_sums(S1, spec, metric)
    g2 = group_sums(total[None, :] - S1, spec, metric)
    t_mean, t_second = ustatistics(g1, g2)
    W = g1.W + g2.W
    bf = metric.balance_factor
    return effect_values(t_mean, t_second, g1.W * g2.W / (W * W) * bf, bf)


def _effect_columns(Z, w, metric) -> np.ndarray:
    """Per-row ``[w^2, w^2 ||v||^2, w^2 ||v||^4]`` in the effect metric."""
    V = metric.whiten(Z)
    if metric.full:
        sq = np.einsum("ij,ij->i", V, V)
        fourth = sq * sq
    else:
        V2 = V * V
        sq, fourth = V2.sum(axis=1), np.einsum("ij,ij->i", V2, V2)
    w2 = w * w
    return np.column_stack([w2, w2 * sq, w2 * fourth])


def _group_shrinkage(a, N, n1w, n2w):
    """Fixed intensities ``(a_total, a_1, a_2)``: ``a`` scaled by N / n_g."""
    if a is None:
        return None
    return a, min(1.0, a * N / n1w), min(1.0, a * N / n2w)


def _splits_per_product(N: int, spec: MomentSpec, R: int) -> int:
    """Splits whose sums and float memberships fit in half the budget."""
    per_split = 8.0 * (spec.n_columns + 8 * spec.d) + N
    return int(get_chunk_n_rows(row_bytes=int(per_split), max_n_rows=R))


def run(problem) -> EngineResult:
    """The moment engine on a prepared problem (see :mod:`._engines`)."""
    prep = problem.prepared
    X = np.vstack([prep.ref.X, prep.new.X])
    w_ref = prep.ref.weights
    w = np.concatenate([w_ref, np.ones(prep.new.X.shape[0])])
    n1 = prep.ref.X.shape[0]
    Z = Standardiser.pooled(prep.ref.stats, prep.new.stats).apply(X)
    spec = MomentSpec(Z.shape[1], problem.covariance_type)
    metric, a = metric_from_rows(Z, w, spec.full, problem.shrinkage)
    extra = _effect_columns(Z, w, metric)
    N, n1w = float(w.sum()), float(w_ref.sum())
    shrinkage = _group_shrinkage(a, N, n1w, N - n1w)
    sampler = SplitSampler(Z.shape[0], n1, problem.n_permutations, problem.seed)
    E = min(sampler.n_rows, EFFECT_NULL_SPLITS + 1)
    step = max(_splits_per_product(Z.shape[0], spec, sampler.n_rows), E)
    parts, features, effects = [], [], []
    total = ridge = None
    while (M := sampler.take(step)).shape[0]:
        S1, total = split_sums(Z, w, M, spec, extra)
        ridge = pooled_ridge(total, spec) if ridge is None else ridge
        parts.append(moment_parts(S1, total, spec, shrinkage, ridge, problem.n_jobs))
        with blas_single_thread():  # stacks of small matrices
            features.append(diagonal_parts(S1, total, spec))
            if not len(effects):
                effects = effect_of_splits(S1[:E], total, spec, metric)
    effect = effect_from_splits(effects, Z, w, n1, metric)
    statistics = STATISTICS if spec.full and spec.d > 1 else STATISTICS_DIAG
    return EngineResult(
        engine="permutation",
        part_names=PARTS,
        effect=effect,
        values=np.concatenate(parts),
        part_weights=statistics,
        feature_values=np.concatenate(features),
    )
