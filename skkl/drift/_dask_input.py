"""Drift test on sums: dask (or in-memory) samples reduced blockwise (internal).

A sample too large for one process reaches :class:`GaussianDriftDetector`
as a dask array or DataFrame. Two blockwise passes (each block reduced on its
worker, the summaries merged in a tree by :func:`skkl._dask.reduce_blocks`)
give everything the asymptotic engine needs:

1. :class:`FeatureStats`: weight, rows, per-feature minimum and maximum (of
   rows with positive weight), weighted mean and centred sum of squares
   (Chan merge). They give the reference's centre and scale, the constant
   features and the float64 resolution check.
2. :class:`~skkl.drift._asymptotic.MomentSums` of the rows centred and scaled
   by the reference's centre and scale.

The effect size needs no rows either: :func:`effect_from_sums` is the plug-in
symmetric KL divergence of the two Gaussian fits minus its delta-method bias
under "no drift", with the delta-method standard deviation.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace

import numpy as np

from .._dask import check_block_weights

__all__ = [
    "FeatureStats",
    "block_feature_stats",
    "effect_from_sums",
    "feature_stats",
    "moment_sums",
    "rescale_sums",
    "subset_sums",
]


@dataclass(frozen=True)
class FeatureStats:
    """Mergeable per-feature summary of a sample (weights as frequencies).

    Attributes
    ----------
    n : float
        Total weight.
    rows : int
        Number of rows (any weight).
    count : int
        Number of rows with positive weight.
    lo, hi : ndarray of shape (d,)
        Minimum and maximum over rows with positive weight.
    mean : ndarray of shape (d,)
        Weighted mean.
    m2 : ndarray of shape (d,)
        Weighted centred sum of squares.
    """

    n: float
    rows: int
    count: int
    lo: np.ndarray
    hi: np.ndarray
    mean: np.ndarray
    m2: np.ndarray

    @property
    def sd(self) -> np.ndarray:
        """Weighted (ML) standard deviation per feature."""
        return np.sqrt(self.m2 / self.n)

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Summary of the union of the rows (Chan et al. pairwise update)."""
        rows = self.rows + other.rows
        lo, hi = np.minimum(self.lo, other.lo), np.maximum(self.hi, other.hi)
        if other.n == 0 or self.n == 0:
            s = self if other.n == 0 else other
            return replace(s, rows=rows, lo=lo, hi=hi)
        n = self.n + other.n
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.n / n)
        m2 = self.m2 + other.m2 + delta * delta * (self.n * other.n / n)
        return FeatureStats(n, rows, self.count + other.count, lo, hi, mean, m2)


def _check_block(Xb, wb, n_features):
    from sklearn.utils.validation import check_array

    Xb = check_array(Xb, dtype=np.float64, ensure_min_samples=0, input_name="X")
    if Xb.shape[1] != n_features:
        raise ValueError(
            f"a block of X has {Xb.shape[1]} features, expected {n_features}."
        )
    return Xb, check_block_weights(wb, Xb.shape[0])


def block_feature_stats(Xb, wb=None, *, n_features: int) -> FeatureStats:
    """:class:`FeatureStats` of one block (validated on its worker)."""
    Xb, wb = _check_block(Xb, wb, n_features)
    d = n_features
    w = np.ones(Xb.shape[0]) if wb is None else wb
    pos = w > 0
    W = float(w.sum())
    if not np.any(pos) or W <= 0:
        inf = np.full(d, np.inf)
        z = np.zeros(d)
        return FeatureStats(0.0, Xb.shape[0], 0, inf, -inf, z, z)
    Xp, wp = Xb[pos], w[pos]
    lo, hi = Xp.min(axis=0), Xp.max(axis=0)
    # Divide by the largest magnitude first: no overflow in the squares.
    big = np.maximum(np.abs(lo), np.abs(hi))
    big = np.where(big > 0, big, 1.0)
    Xs = Xp / big
    m = wp @ Xs / W
    m2 = wp @ np.square(Xs - m)
    # A constant feature: its exact value and no spread (no rounding residue).
    const = lo == hi
    mean = np.where(const, lo, m * big)
    m2 = np.where(const, 0.0, m2 * big**2)
    return FeatureStats(W, Xb.shape[0], int(pos.sum()), lo, hi, mean, m2)


def _block_moment_sums(Xb, wb=None, *, n_features, covariance_type, shift, scale):
    from ._asymptotic import MomentSums

    Xb, wb = _check_block(Xb, wb, n_features)
    # Workers run blocks side by side: one thread per block.
    return MomentSums.from_rows(
        Xb,
        wb,
        covariance_type=covariance_type,
        shift=shift,
        scale=scale,
        n_jobs=1,
    )


def _reduce(func, merge, X, sample_weight):
    from .._dask import is_dask_collection, reduce_blocks

    if is_dask_collection(X):
        return reduce_blocks(
            func, merge, X, sample_weight, names=["X", "sample_weight"]
        )
    return func(X, sample_weight)


def feature_stats(X, sample_weight=None) -> FeatureStats:
    """:class:`FeatureStats` of X (a dask collection, blockwise, or in memory)."""
    d = X.shape[1]
    func = functools.partial(block_feature_stats, n_features=d)
    return _reduce(func, FeatureStats.merge, X, sample_weight)


def moment_sums(X, sample_weight, *, covariance_type, shift, scale, columns=None):
    """Moment sums of ``(X[:, columns] - shift) / scale``, blockwise for dask."""
    from ._asymptotic import MomentSums

    d = X.shape[1] if columns is None else len(columns)
    func = functools.partial(
        _block_moment_sums,
        n_features=d,
        covariance_type=covariance_type,
        shift=shift,
        scale=scale,
    )
    if columns is not None:
        func = functools.partial(_on_columns, func=func, columns=columns)
    return _reduce(func, MomentSums.merge, X, sample_weight)


def _on_columns(Xb, wb=None, *, func, columns):
    return func(np.asarray(Xb)[:, columns], wb)


def _pairs(d, covariance_type):
    """(i, j) of the second-moment features, in MomentSums' order."""
    if covariance_type == "full":
        return np.triu_indices(d)
    return np.arange(d), np.arange(d)


def _feature_index(d, covariance_type, columns):
    """Moment-feature indices of the features ``columns`` (in order)."""
    i, j = _pairs(d, covariance_type)
    inside = np.zeros(d, dtype=bool)
    inside[columns] = True
    second = np.flatnonzero(inside[i] & inside[j])
    return np.concatenate([np.asarray(columns), d + second])


def subset_sums(s, columns):
    """The moment sums of the features ``columns`` only (exact: a sub-block)."""
    columns = np.asarray(columns, dtype=np.intp)
    if columns.size == s.d and np.all(columns == np.arange(s.d)):
        return s
    k = _feature_index(s.d, s.covariance_type, columns)
    return replace(
        s,
        mean=s.mean[k],
        scatter=s.scatter[np.ix_(k, k)],
        m3=s.m3[k],
        m4=s.m4[k],
        d=int(columns.size),
    )


def rescale_sums(s, factor):
    """Sums of ``z * factor`` (per feature) from the sums of ``z``: exact."""
    factor = np.asarray(factor, dtype=np.float64)
    i, j = _pairs(s.d, s.covariance_type)
    g = np.concatenate([factor, factor[i] * factor[j]])
    return replace(
        s,
        mean=s.mean * g,
        scatter=s.scatter * np.outer(g, g),
        m3=s.m3 * g**3,
        m4=s.m4 * g**4,
    )


def _ridged(s, ridge, full):
    d = s.d
    C = s.scatter[:d, :d] / s.n
    if not full:
        C = np.diagonal(C).copy()
    return C + ridge


def _gaussian_fisher(mean, C, pairs, full):
    """Fisher information and Jacobian of the Gaussian's (mean, covariance).

    Parameters ``theta = (mu, Sigma_ab for (a, b) in pairs)`` as functions of
    the moment features' means ``(E z, E z_a z_b)``: ``dSigma_ab = dM_ab -
    mu_a dmu_b - mu_b dmu_a``. The Fisher information of the covariance
    entries is ``tr(P dSigma P dSigma) / 2`` (P the precision), i.e. ``h_k
    h_l (P_ac P_bd + P_ad P_bc)`` with ``h = 1/2`` on the diagonal.
    """
    d = mean.size
    a, b = pairs
    p = a.size
    if full:
        P = np.linalg.pinv(C, hermitian=True)
    else:
        P = np.diag(1.0 / C)
    h = np.where(a == b, 0.5, 1.0)
    F = np.zeros((d + p, d + p))
    F[:d, :d] = P
    F[d:, d:] = np.outer(h, h) * (
        P[np.ix_(a, a)] * P[np.ix_(b, b)] + P[np.ix_(a, b)] * P[np.ix_(b, a)]
    )
    J = np.eye(d + p)
    rows = d + np.arange(p)
    J[rows, b] -= mean[a]
    J[rows, a] -= mean[b]
    return F, J


def _delta_bias(G, mean, C, pairs, full, c):
    """Delta-method mean and sd of the plug-in symmetric KL under no drift.

    With ``theta_1 - theta_2 ~ N(0, c J G J')`` (``c = 1/n1 + 1/n2``, G the
    pooled covariance of the moment features: fourth moments, no Gaussian
    assumption), the divergence is ``x' F x / 2`` to second order, with mean
    ``tr(F K) / 2`` and variance ``tr((F K)^2) / 2``.
    """
    F, J = _gaussian_fisher(mean, C, pairs, full)
    K = c * (J @ G @ J.T)
    FK = F @ K
    return 0.5 * float(np.trace(FK)), float(np.sqrt(0.5 * np.sum(FK * FK.T)))


def effect_from_sums(ref, new):
    """Effect, its null sd and per-feature scores from two samples' sums.

    The effect is the plug-in symmetric KL divergence between the two
    Gaussian fits (ML covariances with the permutation engine's pooled
    ridge, as the in-memory asymptotic engine computes it) minus its
    delta-method bias under no drift (:func:`_delta_bias`); the null sd is
    the delta-method sd. Feature scores are the same for each feature's
    1-D fits.
    """
    from ._combine import symmetric_kl

    d, full = ref.d, ref.covariance_type == "full"
    n1, n2 = ref.n, new.n
    N = n1 + n2
    pooled = ref.merge(new)
    T = pooled.scatter[:d, :d] / N
    delta = max(1e-8, 1e-12 * N)
    if full:
        ridge = T / N
        ridge[np.diag_indices(d)] *= 1.0 + delta
    else:
        ridge = np.diagonal(T) * (1.0 + delta) / N
    m1, m2 = ref.location(), new.location()
    C1, C2 = _ridged(ref, ridge, full), _ridged(new, ridge, full)
    observed = symmetric_kl(
        (np.array([n1]), m1[None], C1[None]),
        (np.array([n2]), m2[None], C2[None]),
        full,
    )[0]
    # Under no drift: the pooled within-sample moments.
    nu = max(N - 2.0, 1.0)
    G = (ref.scatter + new.scatter) / nu
    W = (ref.scatter[:d, :d] + new.scatter[:d, :d]) / N
    W = W if full else np.diagonal(W).copy()
    W = W + ridge
    mean = (n1 * m1 + n2 * m2) / N
    c = 1.0 / n1 + 1.0 / n2
    pairs = _pairs(d, ref.covariance_type)
    bias, sd = _delta_bias(G, mean, W, pairs, full, c)
    # Per feature: the 1-D fits of (z_j, z_j^2).
    a, b = pairs
    sq = d + np.flatnonzero(a == b)
    Wd = np.diagonal(W) if full else W
    Cd1 = np.diagonal(C1) if full else C1
    Cd2 = np.diagonal(C2) if full else C2
    dm = m1 - m2
    feat_obs = 0.25 * (Cd1 / Cd2 + Cd2 / Cd1 - 2.0 + dm * dm * (1.0 / Cd1 + 1.0 / Cd2))
    feat_bias = np.empty(d)
    one = (np.array([0]), np.array([0]))
    for f in range(d):
        k = np.array([f, sq[f]])
        feat_bias[f] = _delta_bias(
            G[np.ix_(k, k)], mean[f : f + 1], Wd[f : f + 1], one, False, c
        )[0]
    return float(observed - bias), sd, feat_obs - feat_bias
