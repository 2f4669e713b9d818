"""Permutation engine of the Gaussian two-sample test (private).

All group moments of every permutation come from one matrix product. Each
sample becomes a row of moment features ``F = [w, w x, w upper(x x')]`` (or
``w x**2`` for diagonal covariances); a ``(B, N)`` 0/1 membership matrix ``M``
selects the first group of each permutation, so ``M @ F`` holds the weight,
the first and the second moment sums of that group for all B permutations at
once, and the second group is ``F.sum(0) - M @ F``. What is left per
permutation is three small Cholesky log-determinants, batched.
"""

from __future__ import annotations

import numpy as np
from sklearn.utils import check_random_state, gen_even_slices
from sklearn.utils._chunking import get_chunk_n_rows
from sklearn.utils.parallel import Parallel, delayed

from .._linalg import cholesky, logdet_from_cholesky
from .._moments import shrink

__all__ = ["PARTS", "MomentSpec", "moment_features", "part_statistics", "permute"]

#: Statistics computed for every permutation, in this column order.
PARTS = (
    "mean",
    "covariance",
    "variance_max",
    "variance",
    "correlation",
    "correlation_max",
)

_SHRINK_HINT = (
    "the group covariance is singular: use more samples per group, "
    "shrinkage='ledoit_wolf' (or 'oas', or a float in (0, 1]), or "
    "covariance_type='diag'"
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
    if spec.full:
        i, j = spec.iu
        F[:, 1 + d :] = Z[:, i] * Z[:, j] * w[:, None]
    else:
        F[:, 1 + d :] = Z * Z * w[:, None]
    return F


# A variance below this fraction of its raw second moment is lost in the
# rounding of ``E[z^2] - m^2`` (relative error ~ eps / fraction > 5e-4).
_RESOLUTION = 1e3 * np.finfo(np.float64).eps


def _check_resolution(var: np.ndarray, second: np.ndarray):
    """Raise when ``E[z^2] - m^2`` cannot resolve a variance in float64.

    The raw-sum formula is the price of evaluating every permutation with one
    matrix product; it fails when a sample's mean is ~1/sqrt(_RESOLUTION)
    (2e6) or more within-sample standard deviations from the centring point.
    """
    bad = ~(var > _RESOLUTION * second) & (second != 0)
    if np.any(bad):
        j = int(np.flatnonzero(bad.any(axis=0))[0])
        raise ValueError(
            f"the variance of feature {j} in a sample is below float64 "
            "resolution of its moment sums: the two samples' means are more than "
            f"~{1 / np.sqrt(_RESOLUTION):.0e} within-sample standard deviations "
            "apart (or the feature is constant within a sample), so float64 "
            "moment sums cannot resolve the covariances. A shift that large is "
            "drift beyond doubt; if it is unexpected, check the features' units "
            "and encodings (a unit change, a sentinel value such as 1e9). "
            "Rescaling does not help: the ratio is unit-free."
        )


def _moments(S: np.ndarray, spec: MomentSpec):
    """Weights, means and ML covariances (full) or variances (diag) from sums.

    Raises a ValueError when float64 cannot resolve a variance this way.
    """
    d = spec.d
    n = S[:, 0]
    m = S[:, 1 : 1 + d] / n[:, None]
    second = S[:, 1 + d :] / n[:, None]
    with np.errstate(invalid="ignore", over="ignore"):
        if spec.full:
            i, j = spec.iu
            C = np.empty((S.shape[0], d, d))
            C[:, i, j] = second
            C[:, j, i] = second
            C -= m[:, :, None] * m[:, None, :]
            var = np.diagonal(C, axis1=-2, axis2=-1)
        else:
            C = var = second - m * m
    _check_resolution(var, second[:, spec.diag_cols])
    return n, m, C


def _logdet(C: np.ndarray, full: bool) -> np.ndarray:
    if full:
        return logdet_from_cholesky(
            cholesky(C, name="group covariance", hint=_SHRINK_HINT)
        )
    if np.any(C <= 0):
        raise ValueError(f"a group variance is not positive; {_SHRINK_HINT}.")
    return np.log(C).sum(axis=1)


def _log_diag(C: np.ndarray, full: bool) -> np.ndarray:
    return np.log(np.diagonal(C, axis1=-2, axis2=-1) if full else C)


def _fisher_z(C: np.ndarray, iu) -> np.ndarray:
    """Fisher's z (``arctanh``) of the correlations above the diagonal."""
    sd = np.sqrt(np.diagonal(C, axis1=-2, axis2=-1))
    r = C[:, iu[0], iu[1]] / (sd[:, iu[0]] * sd[:, iu[1]])
    return np.arctanh(np.clip(r, -1.0 + 1e-12, 1.0 - 1e-12))


def part_statistics(S1: np.ndarray, total: np.ndarray, spec: MomentSpec, shrinkage):
    """Statistics of the split ``S1`` / ``total - S1`` for each row of sums ``S1``.

    ``shrinkage`` is None or a tuple ``(a_total, a_1, a_2)`` of fixed
    intensities (functions of the pooled sample only, so every permutation
    gets the same statistic and the test stays exact).

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
    n1, _, C1 = _moments(S1, spec)
    n2, _, C2 = _moments(total[None, :] - S1, spec)
    N, _, CT = _moments(total[None, :], spec)
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


_CONTROLLER = None
# Below this many flops a multi-threaded GEMM loses to thread start-up and, on
# a busy machine, to spinning threads (measured 6x slower at 200 x 1000 x 66).
_SINGLE_THREAD_FLOPS = 3e7


def _blas_single_thread():
    global _CONTROLLER
    if _CONTROLLER is None:
        from threadpoolctl import ThreadpoolController

        _CONTROLLER = ThreadpoolController()
    return _CONTROLLER.limit(limits=1, user_api="blas")


def _permuted_sums(F, n1, n_rows, seed, single_thread=False):
    """Group-1 sums of ``n_rows`` random splits: one (n_rows x N) @ (N x p) GEMM."""
    rng = np.random.default_rng(seed)
    N = F.shape[0]
    U = rng.random((n_rows, N))
    # The n1 smallest of N iid uniforms are a uniformly random n1-subset.
    kth = np.partition(U, n1 - 1, axis=1)[:, n1 - 1 : n1]
    M = (U <= kth).astype(np.float64)
    if single_thread or 2.0 * n_rows * N * F.shape[1] < _SINGLE_THREAD_FLOPS:
        with _blas_single_thread():
            return M @ F
    return M @ F


def permute(F1, F2, spec, shrinkage, n_permutations, random_state, n_jobs=None):
    """Observed and permutation statistics of the split ``F1`` vs ``F2``.

    Returns
    -------
    observed : tuple (parts (len(PARTS),), features (d,))
    null : tuple (parts (B, len(PARTS)), features (B, d))
    """
    F = np.vstack([F1, F2])
    total = F.sum(axis=0)
    obs_parts, obs_feat = part_statistics(
        F1.sum(axis=0)[None, :], total, spec, shrinkage
    )
    n1, N = F1.shape[0], F.shape[0]
    # Memory per permutation row: membership, uniforms and the moment matrices.
    row_bytes = 8 * (3 * N + 6 * spec.d * spec.d + 4 * spec.n_columns)
    # Fixed-size chunks: results do not depend on n_jobs, and threads get work.
    chunk = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=min(n_permutations, 256))
    n_chunks = -(-n_permutations // chunk)
    seeds = np.random.SeedSequence(
        check_random_state(random_state).randint(np.iinfo(np.int32).max)
    ).spawn(n_chunks)
    slices = list(gen_even_slices(n_permutations, n_chunks))

    threaded = n_jobs not in (None, 1) and n_chunks > 1

    def run(sl, seed):
        S1 = _permuted_sums(F, n1, sl.stop - sl.start, seed, single_thread=threaded)
        return part_statistics(S1, total, spec, shrinkage)

    if not threaded:
        out = [run(sl, seed) for sl, seed in zip(slices, seeds, strict=True)]
    else:
        out = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(run)(sl, seed) for sl, seed in zip(slices, seeds, strict=True)
        )
    null_parts = np.concatenate([o[0] for o in out])
    null_feat = np.concatenate([o[1] for o in out])
    return (obs_parts[0], obs_feat[0]), (null_parts, null_feat)
