"""Moment-feature permutation engine of the Gaussian two-sample test (private).

All group moments of every split come from one matrix product. Each sample
becomes a row of moment features ``F = [w, w z, w upper(z z')]`` (or ``w z**2``
for diagonal covariances); a ``(R, N)`` 0/1 membership matrix ``M`` (row 0 the
observed split, then the permutations) selects the first group of each split,
so ``M @ F`` holds the weight, the first and the second moment sums of that
group for every split at once, and the second group is ``F.sum(0) - M @ F``.
What is left per split is three small Cholesky log-determinants, batched.

Memory is bounded: ``F`` is built and multiplied one block of rows at a time
(never ``N x d(d+1)/2`` at once), splits are processed in chunks whose
``R x d(d+1)/2`` sums and ``d x d`` matrices fit in scikit-learn's
``working_memory``.

Numerics. The data ``Z`` are centred on the pooled mean (a function of the
pooled sample, so every split sees the same centring), and every covariance
gets a ridge ``T / N`` (``T`` the pooled covariance, ``N`` the total weight;
plus ``delta diag(T) / N`` with a tiny ``delta`` for collinear features),
also a function of the pooled sample only, so the permutation test stays
exact. In whitened coordinates the ridge is ``I / N``: affine equivariant
(the statistics stay invariant to linear changes of units), far below the
sampling noise of a variance (``sqrt(2 / n)``), and it keeps every statistic
finite when a feature is constant within one group (a pixel that is 0 in
every image of one half). It also bounds the rounding error of
``E[z^2] - m^2``: a group mean is at most ``sqrt(N T_jj / n_g)`` from the
pooled mean, so the error stays small relative to the ridge.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils.parallel import Parallel, delayed

from .._blas import blas_threads_for, get_chunk_n_rows
from .._linalg import cholesky, logdet_from_cholesky
from .._moments import shrink

__all__ = [
    "PARTS",
    "MomentSpec",
    "moment_features",
    "split_sums",
    "split_moments",
    "part_statistics",
    "moment_parts",
    "feature_parts",
    "diagonal_parts",
]

#: Statistics computed for every split, in this column order.
PARTS = (
    "mean",
    "covariance",
    "variance_max",
    "variance",
    "correlation",
    "correlation_max",
)


class MomentSpec:
    """Feature layout for ``d`` features and one covariance type."""

    def __init__(self, d: int, covariance_type: str):
        self.d = d
        self.full = covariance_type == "full"
        if self.full:
            self.iu = np.triu_indices(d)
            self.diag_cols = np.flatnonzero(self.iu[0] == self.iu[1])
            self.iu_strict = np.triu_indices(d, 1)
        else:
            self.iu = None
            self.diag_cols = np.arange(d)
        self.n_second = len(self.diag_cols) if not self.full else len(self.iu[0])
        self.n_columns = 1 + d + self.n_second


def moment_features(Z: np.ndarray, w: np.ndarray, spec: MomentSpec) -> np.ndarray:
    """Rows ``[w, w z, w second(z)]`` for already centred and scaled data ``Z``."""
    n, d = Z.shape
    F = np.empty((n, spec.n_columns))
    F[:, 0] = w
    F[:, 1 : 1 + d] = Z * w[:, None]
    Zw = F[:, 1 : 1 + d]
    if spec.full:
        # Row-major upper triangle, one column block per feature i: w z_i z_j
        # for j >= i (no fancy-indexed temporaries).
        col = 1 + d
        for i in range(d):
            np.multiply(Zw[:, i : i + 1], Z[:, i:], out=F[:, col : col + d - i])
            col += d - i
    else:
        np.multiply(Zw, Z, out=F[:, 1 + d :])
    return F


def split_sums(Z, w, memberships, spec, n_split_rows=None):
    """Group-1 moment sums of every split and the pooled sums.

    Streams row blocks of ``Z``: the moment features of a block are built,
    multiplied by the block's columns of ``memberships`` and dropped.

    Returns
    -------
    S1 : ndarray of shape (R, spec.n_columns)
    total : ndarray of shape (spec.n_columns,)
    """
    N = Z.shape[0]
    R = memberships.shape[0]
    p = spec.n_columns
    rows = get_chunk_n_rows(row_bytes=8 * (2 * p + R), max_n_rows=N)
    # Float membership blocks and feature blocks of at most ~32 MiB each stay
    # cache friendly, and keep the peak far below working_memory when only a
    # few splits are summed (the observed effect of a million-row sample).
    rows = max(1, min(rows, (1 << 22) // max(R, 1), (1 << 22) // p))
    S1 = np.zeros((R, p))
    total = np.zeros(p)
    for start in range(0, N, rows):
        stop = min(N, start + rows)
        F = moment_features(Z[start:stop], w[start:stop], spec)
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
    second = S[:, 1 + d :] / n[:, None]
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
    ``delta = max(1e-8, 1e-12 N)`` keeps the ridge positive definite when
    features are collinear in the pooled sample (see the module docstring).
    """
    n = total[0]
    zero = np.zeros((1, spec.d, spec.d)) if spec.full else np.zeros((1, spec.d))
    _, _, T = _moments(total[None, :], spec, zero)
    T = T[0]
    delta = max(1e-8, 1e-12 * n)
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
    return np.arctanh(np.clip(r, -1.0 + 1e-12, 1.0 - 1e-12))


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
        covariance part ``N log|W| - n1 log|S1| - n2 log|S2|`` (their sum is
        the likelihood-ratio statistic); the covariance part split into its
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
    return parts, features


def _split_chunks(R: int, spec: MomentSpec, fixed: int = 256):
    """Slices of splits whose d x d work matrices fit in ``working_memory``.

    Fixed-size chunks (not a function of ``n_jobs``), so results do not
    depend on the number of threads.
    """
    row_bytes = 8 * (8 * spec.d * spec.d + 4 * spec.n_columns)
    chunk = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=fixed)
    return [slice(s, min(R, s + chunk)) for s in range(0, R, chunk)]


def moment_parts(Z, w, memberships, spec, shrinkage, n_jobs=None):
    """``PARTS`` of every split (row 0 of ``memberships`` the observed one).

    Parameters
    ----------
    Z : ndarray of shape (N, d)
        Pooled data, centred on its (weighted) pooled mean and scaled.
    w : ndarray of shape (N,)
        Sample weights (mean 1 within each sample).
    memberships : ndarray of shape (R, N), bool
        Group-1 rows of each split.
    spec : MomentSpec
    shrinkage : None or tuple (a_total, a_1, a_2)
    n_jobs : int or None
        Threads over chunks of splits.

    Returns
    -------
    parts : ndarray of shape (R, len(PARTS))
    sums : tuple (S1, total, ridge)
        The split sums, reused for the effect size.
    """
    S1, total = split_sums(Z, w, memberships, spec)
    ridge = pooled_ridge(total, spec)
    slices = _split_chunks(S1.shape[0], spec)
    threaded = n_jobs not in (None, 1) and len(slices) > 1

    def run(sl):
        return part_statistics(S1[sl], total, spec, shrinkage, ridge)[0]

    if threaded:
        out = Parallel(n_jobs=n_jobs, prefer="threads")(delayed(run)(s) for s in slices)
    else:
        out = [run(s) for s in slices]
    return np.concatenate(out), (S1, total, ridge)


def diagonal_parts(S1, total, ridge, spec):
    """Per-feature statistics from full (or diagonal) moment sums.

    The columns ``[w, w z, w z**2]`` of the sums give the per-feature
    univariate statistics of :func:`feature_parts` without another product.

    Returns
    -------
    features : ndarray of shape (R, d)
    sums : tuple (S1, total, spec, ridge)
        The diagonal sums, for the per-feature effect.
    """
    d = spec.d
    cols = np.r_[0, 1 : 1 + d, 1 + d + spec.diag_cols]
    dspec = MomentSpec(d, "diag")
    S1d, totald = S1[:, cols], total[cols]
    ridged = pooled_ridge(totald, dspec)
    out = [
        part_statistics(S1d[sl], totald, dspec, None, ridged)[1]
        for sl in _split_chunks(S1d.shape[0], dspec, fixed=4096)
    ]
    return np.concatenate(out), (S1d, totald, dspec, ridged)


def feature_parts(Z, w, memberships):
    """Per-feature univariate likelihood-ratio statistics (mean and variance).

    Uses ``[w, w z, w z**2]`` only (``N x (1 + 2d)``), so it is cheap for
    every engine and gives attribution on the engine's own splits.

    Returns
    -------
    features : ndarray of shape (R, d)
    sums : tuple (S1, total, spec, ridge)
        The diagonal sums, reused for the per-feature effect.
    """
    spec = MomentSpec(Z.shape[1], "diag")
    S1, total = split_sums(Z, w, memberships, spec)
    ridge = pooled_ridge(total, spec)
    out = [
        part_statistics(S1[sl], total, spec, None, ridge)[1]
        for sl in _split_chunks(S1.shape[0], spec, fixed=4096)
    ]
    return np.concatenate(out), (S1, total, spec, ridge)
