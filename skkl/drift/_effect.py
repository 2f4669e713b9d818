"""The effect size of a drift test: one definition, computed from sums.

Definition (the drift guide states it once, from here). With ``v`` the rows
whitened by the *effect metric* ``M`` (below) about the pooled mean, and
group ``g`` (reference or new) of weight ``W_g``, the effect is the
second-order symmetric KL divergence between the two samples' Gaussian fits,

    effect = 1/2 D^2 + 1/4 ||E_1[v v'] - E_2[v v']||_F^2,

estimated without bias by two-sample U-statistics over distinct pairs of
rows (those of Chen & Qin (2010) for the means, Li & Chen (2012) for the
second moments):

    T_mean   = U-statistic of ||E_1 v - E_2 v||^2,
    T_second = U-statistic of ||E_1 v v' - E_2 v v'||_F^2.

Both have expectation 0 over random splits of the pooled rows, for any
distribution: no bias. Their null law is skewed, though (a weighted sum of
centred chi-squares, its median below its mean by up to half a null sd when
a few directions dominate), so the reported effect is centred at the median
of its null -- the permuted splits' effects, or from sums the law above --
and reads as positive or negative with even odds without drift. The metric is the pooled
covariance, which holds the between-sample shift ``c delta delta'`` (``c =
W_1 W_2 / W^2``); the Mahalanobis distance in the *within*-sample metric is
recovered exactly by the rank-one identity ``D^2 = T / (1 - c T)`` applied to
``T = T_mean`` (so a large shift is not capped by its own variance).

The effect metric ``M`` is the pooled (maximum-likelihood) covariance, shrunk
when ``shrinkage`` is set, with a *variance floor*: a feature whose variance
is carried by few rows (the effective count ``k = (sum z^2)^2 / sum z^4``:
about the number of non-zero rows of a sparse feature) gets its metric
variance raised to ``EFFECT_MIN_ROWS / k`` times its variance, so a pixel
with two non-zero rows cannot dominate the effect of 60 well-measured ones.
The floor depends on the pooled sample only; permuted splits see the same
metric. ``RIDGE`` keeps ``M`` positive definite when features are collinear.

Where it is computed. Each engine supplies the U-statistics from its own
space: the moment engine from the group sums of every split (its membership
product), the Gram engine as two of its own part statistics (it whitens with
``M``), the asymptotic engine and dask input from :class:`MomentSums`. The
effect's null spread is the standard deviation over the permuted splits, or,
from sums, the U-statistics' variance under "no drift" from the empirical
fourth moments.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg import solve_triangular

from .._linalg import cholesky
from .._moments import ledoit_wolf_coefficient, oas_coefficient, shrink
from ._sums import FeatureStats, MomentSums, second_pairs

__all__ = [
    "EFFECT_MIN_ROWS",
    "EffectEstimate",
    "EffectMetric",
    "GroupSums",
    "effect_from_moment_sums",
    "effect_from_splits",
    "effect_values",
    "feature_scores",
    "feature_sums_from_rows",
    "metric_from_rows",
    "shrinkage_intensity",
    "ustatistics",
]

#: A feature whose variance is carried by fewer rows than this (effective
#: count, see the module docstring) has its metric variance raised in
#: proportion. A random half of 20 carrying rows holds 10 +- 2.2 of them: its
#: variance swings by ~45% between halves, as much as the effect resolves.
#: In small samples the bar is at most half a Gaussian feature's effective
#: count (N / 3, kurtosis 3): only features well below it are floored.
EFFECT_MIN_ROWS = 20
#: Relative ridge on the metric's diagonal: collinear features (a one-hot
#: block, a feature copied twice) leave the pooled covariance singular; 1e-8
#: of a variance changes whitened norms by ~5e-9 relative along every
#: direction the data span, far below sampling noise.
RIDGE = 1e-8
# Draws of the effect's asymptotic null law for its median (sums only): the
# median's Monte Carlo error is then about 1.25 / sqrt(4000) = 2% of a null sd.
_NULL_DRAWS = 4000
# Eigenvalues per block of those draws (bounds the draws' memory to 32 MiB).
_CHAOS_BLOCK = 1000


@dataclass(frozen=True)
class EffectMetric:
    """The whitening of the effect (and of the Gram engine).

    Attributes
    ----------
    factor : ndarray of shape (d, d) or (d,)
        Lower Cholesky factor of the metric ('full'), or its standard
        deviations ('diag').
    inflation : ndarray of shape (d,)
        Factor (>= 1) of each feature's variance floor.
    balance_factor : float
        ``1 - a`` for shrinkage intensity ``a``: the share of the pooled
        covariance (and so of the between-sample shift) left in the metric.
    """

    factor: np.ndarray
    inflation: np.ndarray
    balance_factor: float = 1.0

    @property
    def full(self) -> bool:
        return self.factor.ndim == 2

    @property
    def d(self) -> int:
        return self.factor.shape[0]

    @classmethod
    def from_moments(cls, cov, m2, m4, n, shrinkage=None) -> EffectMetric:
        """The metric of a pooled sample.

        Parameters
        ----------
        cov : ndarray of shape (d, d) or (d,)
            Pooled maximum-likelihood covariance (or variances for 'diag'), in
            the engine's coordinates.
        m2, m4 : ndarray of shape (d,)
            Pooled centred sums of squares and of fourth powers per feature
            (in any common unit per feature).
        n : float
            Pooled total weight.
        shrinkage : float or None
            Intensity ``a`` of the shrinkage towards ``mu I``.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            k_eff = np.where(m4 > 0, m2 * m2 / m4, np.inf)
        bar = min(EFFECT_MIN_ROWS, n / 6.0)
        inflation = np.maximum(1.0, bar / k_eff)
        full = np.ndim(cov) == 2
        var = np.diagonal(cov) if full else np.asarray(cov)
        a = 0.0 if shrinkage is None else float(shrinkage)
        cov = np.asarray(cov, dtype=np.float64)
        M = shrink(cov[None], a)[0] if a > 0 else cov.copy()
        extra = var * (inflation - 1.0 + RIDGE)
        if full:
            M[np.diag_indices_from(M)] += extra
            hint = "drop collinear features or set shrinkage"
            factor = cholesky(M, name="the pooled covariance", hint=hint)
        else:
            factor = np.sqrt(M + extra)
        return cls(factor, inflation, 1.0 - a)

    @classmethod
    def from_sums(cls, pooled: MomentSums, shrinkage=None) -> EffectMetric:
        """The metric from pooled moment sums (the asymptotic engine, dask)."""
        d = pooled.d
        cov = pooled.covariance(ddof=0)
        i, j = second_pairs(d, pooled.covariance_type)
        sq = d + np.flatnonzero(i == j)
        m2 = np.diagonal(pooled.scatter)[:d]
        m4 = np.maximum(_shift_feature_moments(pooled, pooled.mean[:d], sq), 0.0)
        return cls.from_moments(cov, m2, m4, pooled.n, shrinkage)

    def whiten(self, Z: np.ndarray) -> np.ndarray:
        """Rows ``Z`` (N, d) in the metric's whitened coordinates: a new array."""
        if not self.full:
            return Z / self.factor
        return solve_triangular(self.factor, Z.T, lower=True, check_finite=False).T

    def whiten_vectors(self, s: np.ndarray) -> np.ndarray:
        """Vectors ``s`` (R, d) in whitened coordinates."""
        return self.whiten(s)

    def whiten_matrices(self, Q: np.ndarray) -> np.ndarray:
        """``L^-1 Q L^-T`` for a stack (R, d, d) (or ``Q / sd^2`` for (R, d))."""
        if not self.full:
            return Q / (self.factor * self.factor)
        A = self.inverse_factor()
        return np.matmul(np.matmul(A, Q), A.T)

    def inverse_factor(self) -> np.ndarray:
        """``L^-1`` (d, d): one triangular solve, reused for stacks of matrices."""
        return solve_triangular(
            self.factor, np.eye(self.d), lower=True, check_finite=False
        )

    def feature_variances(self) -> np.ndarray:
        """Per-feature metric variances (diagonal of the metric)."""
        if self.full:
            return np.einsum("ij,ij->i", self.factor, self.factor)
        return self.factor * self.factor


@dataclass(frozen=True)
class GroupSums:
    """Sums of one group of rows in whitened coordinates, for R splits at once.

    With weights ``w`` and whitened rows ``v`` (about the pooled mean):
    ``W = sum w``, ``V = sum w^2``, ``s = sum w v`` (R, d), ``Q = sum w v v'``
    (R, d, d; (R, d) for a diagonal metric), ``t = sum w^2 ||v||^2`` and
    ``u = sum w^2 ||v||^4`` (``sum w^2 sum_j v_j^4`` for a diagonal metric).
    """

    W: np.ndarray
    V: np.ndarray
    s: np.ndarray
    Q: np.ndarray
    t: np.ndarray
    u: np.ndarray


def _inner(A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Row-wise inner products of two stacks (R, ...) of arrays."""
    R = A.shape[0]
    return np.einsum("ri,ri->r", A.reshape(R, -1), B.reshape(R, -1))


def ustatistics(g1: GroupSums, g2: GroupSums):
    """``(T_mean, T_second)`` of every split (see the module docstring).

    Pairs ``i != j`` of a group are weighted by ``w_i w_j``, normalised by
    ``D = W^2 - V``, their total weight; cross pairs by ``W_1 W_2``.
    """
    D1, D2 = g1.W * g1.W - g1.V, g2.W * g2.W - g2.V
    cross = g1.W * g2.W
    ss = np.einsum("rj,rj->r", g1.s, g2.s)
    t_mean = (
        (np.einsum("rj,rj->r", g1.s, g1.s) - g1.t) / D1
        + (np.einsum("rj,rj->r", g2.s, g2.s) - g2.t) / D2
        - 2.0 * ss / cross
    )
    t_second = (
        (_inner(g1.Q, g1.Q) - g1.u) / D1
        + (_inner(g2.Q, g2.Q) - g2.u) / D2
        - 2.0 * _inner(g1.Q, g2.Q) / cross
    )
    return t_mean, t_second


def effect_values(t_mean, t_second, balance, shrink_factor=1.0):
    """The effect from its U-statistics.

    ``balance`` is ``c (1 - a)`` and ``shrink_factor`` is ``1 - a`` for
    shrinkage intensity ``a``. ``T / (1 - c T)`` turns the pooled-metric
    distance into the within-sample one; ``c T < 1`` holds for every split
    (the U-statistic is below the plug-in distance, which the pooled
    covariance bounds by ``1 / c``). Shrunk fits differ in covariance by
    ``(1 - a)`` times the samples' difference, hence ``(1 - a)^2`` on the
    second-moment part.
    """
    denom = np.maximum(1.0 - balance * t_mean, np.finfo(np.float64).eps)
    return 0.5 * t_mean / denom + 0.25 * shrink_factor**2 * t_second


@dataclass(frozen=True)
class EffectEstimate:
    """The effect of one test, as every engine reports it.

    Attributes
    ----------
    value : float
        The effect in nats (see the module docstring), centred at the median
        of its null.
    null_sd : float
        Its standard deviation without drift.
    feature_scores : ndarray of shape (d,)
        The same for each feature's marginal (univariate metric).
    floored : ndarray of int
        Features whose metric variance was raised (few rows carry them).
    uncentred : float
        The unbiased estimate before centring (equal from every engine to
        rounding).
    """

    value: float
    null_sd: float
    feature_scores: np.ndarray
    floored: np.ndarray
    uncentred: float = float("nan")


def effect_from_splits(effects, Z, w, n1, metric) -> EffectEstimate:
    """The effect of a row engine from its split effects (observed first).

    ``effects[0]`` is the observed split's, the rest permuted splits': the
    estimate is centred at their median and their sd is the null spread.
    ``Z`` (N, d) and ``w`` are the pooled standardised rows and weights, the
    first ``n1`` the reference's, for the per-feature scores.
    """
    scores = feature_scores(
        feature_sums_from_rows(Z[:n1], w[:n1]),
        feature_sums_from_rows(Z[n1:], w[n1:]),
        metric.inflation,
        1.0,
    )
    return EffectEstimate(
        float(effects[0] - np.median(effects[1:])),
        float(np.std(effects[1:], ddof=1)) if effects.size > 2 else float("nan"),
        scores,
        np.flatnonzero(metric.inflation > 1.0),
        float(effects[0]),
    )


# -- per-feature scores ---------------------------------------------------------


def feature_scores(stats1, stats2, inflation, balance_factor):
    """Per-feature effects from per-feature group sums (univariate metrics).

    ``stats1``, ``stats2`` are tuples ``(W, V, s, q, t, u)`` of shape (d,)
    (``s = sum w z``, ``q = sum w z^2``, ``t = sum w^2 z^2``, ``u = sum w^2
    z^4``), about the pooled mean; the metric variance of each feature is its
    pooled variance times ``inflation``.
    """
    W1, V1, s1, q1, t1, u1 = stats1
    W2, V2, s2, q2, t2, u2 = stats2
    W = W1 + W2
    var = (q1 + q2) / W - np.square((s1 + s2) / W)
    tau = np.where(var > 0, var, 1.0) * inflation
    D1, D2 = W1 * W1 - V1, W2 * W2 - V2
    cross = W1 * W2
    t_mean = ((s1 * s1 - t1) / D1 + (s2 * s2 - t2) / D2 - 2.0 * s1 * s2 / cross) / tau
    t_second = ((q1 * q1 - u1) / D1 + (q2 * q2 - u2) / D2 - 2.0 * q1 * q2 / cross) / (
        tau * tau
    )
    balance = W1 * W2 / (W * W) * balance_factor
    return effect_values(t_mean, t_second, balance)


def feature_sums_from_rows(Z: np.ndarray, w: np.ndarray):
    """``(W, V, s, q, t, u)`` per feature of rows ``Z`` (about the pooled mean)."""
    w2 = w * w
    Z2 = Z * Z
    return (
        float(w.sum()),
        float(w2.sum()),
        w @ Z,
        w @ Z2,
        w2 @ Z2,
        w2 @ (Z2 * Z2),
    )


# -- from moment sums (asymptotic engine, dask) ------------------------------------


def _about(s: MomentSums, centre: np.ndarray):
    """``(W, sum z, sum z z')`` of ``s`` about ``centre`` (engine coordinates)."""
    d, n = s.d, s.n
    m = s.mean[:d] - centre
    i, j = second_pairs(d, s.covariance_type)
    full = s.covariance_type == "full"
    C = s.scatter[:d, :d] / n
    if full:
        Q = n * (C + np.outer(m, m))
    else:
        Q = n * (np.diagonal(C) + m * m)
    return n, n * m, Q


def _quadratic_sums(s: MomentSums, centre, P):
    """``sum w q`` and ``sum w q^2`` of ``q = (z - centre)' P (z - centre)``.

    ``q`` is an affine function ``alpha . f + kappa`` of the moment features
    ``f = [z, second(z)]``, so both sums follow from their mean and scatter.
    """
    d = s.d
    i, j = second_pairs(d, s.covariance_type)
    full = s.covariance_type == "full"
    Pm = P @ centre if full else P * centre
    alpha = np.concatenate(
        [-2.0 * Pm, (P[i, j] * np.where(i == j, 1.0, 2.0)) if full else P]
    )
    kappa = float(centre @ Pm)
    mean_q = float(alpha @ s.mean) + kappa
    var_q = float(alpha @ s.scatter @ alpha) / s.n
    return s.n * mean_q, s.n * (mean_q * mean_q + max(var_q, 0.0))


def _fourth_sum_diag(s: MomentSums, centre, prec):
    """``sum w sum_j prec_j^2 (z_j - c_j)^4`` for a diagonal metric."""
    d = s.d
    i, j = second_pairs(d, s.covariance_type)
    sq = d + np.flatnonzero(i == j)
    shifted = _shift_feature_moments(s, centre, sq)
    return float(np.sum(prec * prec * shifted))


def _shift_feature_moments(s, centre, sq):
    """Per-feature ``sum w (z - centre)^4`` of moment sums (exact algebra).

    ``E z^2``, ``E z^3`` and ``E z^4`` come from the means of ``z`` and
    ``z^2`` and their scatter (the ``z x z^2`` and ``z^2 x z^2`` entries).
    """
    d, n = s.d, s.n
    mz = s.mean[:d]
    ez2 = s.mean[sq]
    ez3 = s.scatter[np.arange(d), sq] / n + mz * ez2
    ez4 = s.scatter[sq, sq] / n + ez2 * ez2
    c = centre
    return n * (ez4 - 4 * c * ez3 + 6 * c * c * ez2 - 4 * c**3 * mz + c**4)


def _group_from_sums(s: MomentSums, centre, metric: EffectMetric, w2_ratio: float):
    """:class:`GroupSums` (R = 1) of a sample from its moment sums.

    ``w2_ratio`` is ``sum w^2 / sum w`` of the sample (1 for unit weights);
    the squared-weight sums ``t`` and ``u`` are taken as that ratio times the
    weighted ones (exact when the weights are equal).
    """
    W, s_z, Q_z = _about(s, centre)
    if metric.full:
        A = metric.inverse_factor()
        P = A.T @ A
        t1, u1 = _quadratic_sums(s, centre, P)
        sv, Qv = metric.whiten_vectors(s_z[None]), metric.whiten_matrices(Q_z[None])
    else:
        prec = 1.0 / (metric.factor * metric.factor)
        t1, _ = _quadratic_sums(s, centre, prec)
        u1 = _fourth_sum_diag(s, centre, prec)
        sv, Qv = s_z[None] / metric.factor, Q_z[None] * prec
    V = W * w2_ratio
    return GroupSums(
        np.array([W]), np.array([V]), sv, Qv, np.array([t1 * w2_ratio]),
        np.array([u1 * w2_ratio]),
    )  # fmt: skip


def _null_from_sums(pooled: MomentSums, centre, metric, n1, n2):
    """Median and sd of the effect without drift, from the pooled moments.

    A two-sample U-statistic of ``||E_1 h - E_2 h||^2`` with ``Cov(h) = G``
    has variance ``2 tr(G^2) k``, ``k = 1/(n1 (n1-1)) + 1/(n2 (n2-1)) + 2/(n1
    n2)``, under "same distribution" (Chen & Qin 2010), and is asymptotically
    ``sqrt(k) sum_j lambda_j (chi2_1 - 1)`` over the eigenvalues of ``G``;
    here ``h = [v / sqrt 2, vec(v v') / 2]`` and ``G`` comes from the pooled
    moment covariance mapped to whitened coordinates (its fourth moments: no
    Gaussian assumption). The median of that law is taken from
    ``_NULL_DRAWS`` draws with a fixed seed (deterministic).
    """
    d = pooled.d
    i, j = second_pairs(d, pooled.covariance_type)
    full = pooled.covariance_type == "full"
    if full:
        A = metric.inverse_factor()
    else:
        A = np.diag(1.0 / metric.factor)
    J = _whitening_jacobian(A, centre, i, j, full)
    S = pooled.scatter / pooled.n
    G = J @ S @ J.T
    weight = np.concatenate([np.full(d, 0.5), 0.25 * np.where(i == j, 1.0, 2.0)])
    root = np.sqrt(weight)
    Gw = G * root[:, None] * root[None, :]
    k = 1.0 / (n1 * (n1 - 1)) + 1.0 / (n2 * (n2 - 1)) + 2.0 / (n1 * n2)
    lam = np.linalg.eigvalsh((Gw + Gw.T) * 0.5)
    lam = lam[lam > 0]
    sd = float(np.sqrt(2.0 * np.sum(lam * lam) * k))
    return _chaos_median(lam) * np.sqrt(k), sd


def _chaos_median(lam: np.ndarray) -> float:
    """Median of ``sum_j lam_j (chi2_1 - 1)`` (skewed: below its mean 0)."""
    rng = np.random.default_rng(0)
    draws = np.zeros(_NULL_DRAWS)
    for start in range(0, lam.size, _CHAOS_BLOCK):
        block = lam[start : start + _CHAOS_BLOCK]
        z = rng.standard_normal((_NULL_DRAWS, block.size))
        draws += (z * z - 1.0) @ block
    return float(np.median(draws))


def _whitening_jacobian(A, centre, i, j, full):
    """Linear part of ``f(z) -> [v, second(v)]`` with ``v = A (z - centre)``."""
    d = A.shape[0]
    p = i.size
    J = np.zeros((d + p, d + p))
    J[:d, :d] = A
    if full:
        # v_k v_l = sum_ab A_ka A_lb (z_a - c_a)(z_b - c_b); the pair (a, b),
        # a < b, collects A_ka A_lb + A_kb A_la.
        Ai, Aj = A[i], A[j]  # (p, d): rows k, l of each output pair
        coef = Ai[:, i] * Aj[:, j] + np.where(i != j, Ai[:, j] * Aj[:, i], 0.0)
        J[d:, d:] = coef
        # Linear terms: -(A_k . c) A_l - (A_l . c) A_k, as coefficients of z.
        Ac = A @ centre
        J[d:, :d] = -(Ac[i][:, None] * Aj + Ac[j][:, None] * Ai)
    else:
        a = np.diagonal(A)
        J[d:, d:] = np.diag(a * a)
        J[d:, :d] = np.diag(-2.0 * a * a * centre)
    return J


def effect_from_moment_sums(
    ref: MomentSums, new: MomentSums, metric: EffectMetric, w2_ratio=(1.0, 1.0)
) -> EffectEstimate:
    """The effect of two samples from their moment sums (same coordinates).

    The U-statistics equal the row-based computation to rounding; the null
    median and sd come from their law under no drift (:func:`_null_from_sums`).
    """
    pooled = ref.merge(new)
    centre = pooled.location()
    g1 = _group_from_sums(ref, centre, metric, w2_ratio[0])
    g2 = _group_from_sums(new, centre, metric, w2_ratio[1])
    t_mean, t_second = ustatistics(g1, g2)
    W1, W2 = ref.n, new.n
    bf = metric.balance_factor
    balance = W1 * W2 / (W1 + W2) ** 2 * bf
    value = float(effect_values(t_mean, t_second, balance, bf)[0])
    n1, n2 = W1 / w2_ratio[0], W2 / w2_ratio[1]
    median, sd = _null_from_sums(pooled, centre, metric, n1, n2)
    scores = feature_scores(
        _feature_sums(ref, centre, w2_ratio[0]),
        _feature_sums(new, centre, w2_ratio[1]),
        metric.inflation,
        1.0,
    )
    floored = np.flatnonzero(metric.inflation > 1.0)
    return EffectEstimate(value - median, sd, scores, floored, value)


def _feature_sums(s: MomentSums, centre, w2_ratio):
    d = s.d
    i, j = second_pairs(d, s.covariance_type)
    sq = d + np.flatnonzero(i == j)
    W, sz, Q = _about(s, centre)
    q = np.diagonal(Q).copy() if Q.ndim == 2 else Q
    u = _shift_feature_moments(s, centre, sq)
    return (W, W * w2_ratio, sz, q, q * w2_ratio, u * w2_ratio)


def shrinkage_intensity(shrinkage, weight: float, cov: np.ndarray, fourth: float):
    """Intensity ``a`` of ``shrinkage`` (None, 'ledoit_wolf', 'oas' or a float).

    The estimators' own formulas on the pooled sample (ML covariance ``cov``,
    ``fourth = sum w ||z - m||^4``), as :mod:`skkl._moments` computes them.
    """
    if shrinkage is None:
        return None
    if isinstance(shrinkage, str):
        W = np.array([weight])
        if shrinkage == "ledoit_wolf":
            a = ledoit_wolf_coefficient(W, cov[None], np.array([fourth]))
        else:
            a = oas_coefficient(W, cov[None])
        return float(a[0])
    return float(shrinkage)


def metric_from_rows(Z: np.ndarray, w: np.ndarray, full: bool, shrinkage=None):
    """The effect metric of pooled rows ``Z`` (centred on their weighted mean).

    Returns the metric and the shrinkage intensity it used (None without).
    """
    W = float(w.sum())
    stats = FeatureStats.from_rows(Z, w)
    cov = np.square(stats.sd)
    a = None
    if full or isinstance(shrinkage, str):
        Zw = Z * np.sqrt(w)[:, None]
        cov_full = Zw.T @ Zw / W
        sq = np.einsum("ij,ij->i", Z, Z)
        a = shrinkage_intensity(shrinkage, W, cov_full, float(w @ (sq * sq)))
        cov = cov_full if full else cov
    elif shrinkage is not None:
        a = float(shrinkage)
    return EffectMetric.from_moments(cov, stats.m2, stats.m4, W, a), a
