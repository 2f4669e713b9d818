"""Weighted per-group moments in one pass, their streaming merge, and shrinkage.

``group_moments`` computes, for every group at once, the total sample weight,
the weighted mean and the weighted *centred* scatter ``sum_i w_i (x_i - m)
(x_i - m)'`` (never raw sums of squares, which cancel). Samples are sorted by
group (a radix sort for up to 65536 groups) and processed in blocks of about
2 MiB of rows of one group: each block is gathered into a cache-resident
buffer, centred on its own mean and multiplied in one BLAS call (syrk), and
the blocks of a group are then combined exactly. The cost is about one
``X.T @ X`` plus one gather of ``X``, and no Python loop runs over samples.

``merge_moments`` combines the moments of two batches with the pairwise
update of Chan, Golub & LeVeque (1979), extended to the third and fourth
central moments that the Ledoit-Wolf shrinkage needs, so streaming through
``partial_fit`` equals fitting on the concatenation to rounding error.

``covariances_from_moments`` turns moments into maximum-likelihood
covariances in any layout of :data:`skkl.COVARIANCE_TYPES`, shrunk if asked:
the one fitter behind :class:`~skkl.GroupGaussians` and
:meth:`skkl.Gaussians.from_samples`.

``ledoit_wolf_coefficient`` and ``oas_coefficient`` are the formulas of
:func:`sklearn.covariance.ledoit_wolf_shrinkage` and
:class:`sklearn.covariance.OAS` written in terms of these moments, with the
number of samples replaced by the total sample weight (so integer weights act
as repetitions).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
from threadpoolctl import threadpool_limits

__all__ = [
    "GroupMoments",
    "covariances_from_moments",
    "group_moments",
    "merge_moments",
    "ledoit_wolf_coefficient",
    "oas_coefficient",
    "shrink",
]


@dataclass(frozen=True)
class GroupMoments:
    """Sufficient statistics of K groups of d-dimensional weighted samples.

    Attributes
    ----------
    weight : ndarray of shape (K,)
        Total sample weight of each group.
    count : ndarray of shape (K,), int64
        Number of samples with positive weight in each group.
    mean : ndarray of shape (K, d)
        Weighted means (0 for a group of zero weight).
    scatter : ndarray of shape (K, d, d) or (K, d)
        ``sum_i w_i (x_i - m)(x_i - m)'`` for each group, or only its
        diagonal when the moments were computed with ``full=False``.
    third : ndarray of shape (K, d) or None
        ``sum_i w_i ||x_i - m||^2 (x_i - m)`` (``higher=True`` only).
    fourth : ndarray of shape (K,) or None
        ``sum_i w_i ||x_i - m||^4`` (``higher=True`` only).
    """

    weight: np.ndarray
    count: np.ndarray
    mean: np.ndarray
    scatter: np.ndarray
    third: np.ndarray | None = None
    fourth: np.ndarray | None = None

    @property
    def full(self) -> bool:
        """Whether ``scatter`` holds full (d, d) matrices."""
        return self.scatter.ndim == 3

    @property
    def higher(self) -> bool:
        """Whether third and fourth moments are available."""
        return self.fourth is not None


# Rows per block: blocks of about 2 MiB stay in cache while they are gathered,
# centred and multiplied, so X itself is read from memory once.
_BLOCK_BYTES = 1 << 21


def _sort_by_group(groups: np.ndarray, n_groups: int):
    """Permutation that sorts samples by group, and each group's slice bounds."""
    # numpy's stable sort is a radix sort for integers of 16 bits or fewer.
    small = groups.astype(np.uint16) if n_groups <= 1 << 16 else groups
    order = np.argsort(small, kind="stable")
    bounds = np.zeros(n_groups + 1, dtype=np.intp)
    np.cumsum(np.bincount(groups, minlength=n_groups), out=bounds[1:])
    return order, bounds


def group_moments(
    X: np.ndarray,
    groups: np.ndarray | None = None,
    n_groups: int = 1,
    sample_weight: np.ndarray | None = None,
    *,
    full: bool = True,
    higher: bool = False,
    n_threads: int = 1,
) -> GroupMoments:
    """Weighted counts, means and centred scatter of every group in one pass.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), float64
        Samples (already validated; never modified).
    groups : ndarray of shape (n_samples,) of ints in ``[0, n_groups)`` or None
        Group of each sample; None puts every sample in one group.
    n_groups : int, default=1
        Number of groups K (groups without samples get zero weight).
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative weights; None means unit weights.
    full : bool, default=True
        Compute full (d, d) scatter matrices; otherwise only their diagonals.
    higher : bool, default=False
        Also compute the third and fourth central moments (requires ``full``).
    n_threads : int, default=1
        Threads over blocks of rows, each with single-threaded BLAS (the
        blocks are small: threads inside BLAS would only synchronise). The
        result does not depend on it.

    Returns
    -------
    GroupMoments

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._moments import group_moments
    >>> X = np.array([[0.0, 1.0], [2.0, 1.0], [5.0, 5.0]])
    >>> mom = group_moments(X, np.array([0, 0, 1]), 2)
    >>> mom.weight, mom.mean
    (array([2., 1.]), array([[1., 1.],
           [5., 5.]]))
    >>> mom.scatter[0]
    array([[2., 0.],
           [0., 0.]])
    """
    if higher and not full:
        raise ValueError("higher moments require full=True.")
    n, d = X.shape
    K = int(n_groups)
    if groups is None:
        if K != 1:
            raise ValueError("groups=None puts all samples in one group: n_groups=1.")
        order, bounds = None, np.array([0, n])
    else:
        order, bounds = _sort_by_group(groups, K)
    # Blocks of at most `rows` samples of one group each, in sorted order.
    rows = max(16, _BLOCK_BYTES // (8 * max(d, 1)))
    block_group = np.repeat(np.arange(K), -(-np.diff(bounds) // rows))
    n_blocks = len(block_group)
    weight = np.zeros(n_blocks)
    count = np.zeros(n_blocks, dtype=np.int64)
    mean = np.zeros((n_blocks, d))
    scatter = np.zeros((n_blocks, d, d) if full else (n_blocks, d))
    third = np.zeros((n_blocks, d)) if higher else None
    fourth = np.zeros(n_blocks) if higher else None
    tasks = [
        (start, min(start + rows, bounds[g + 1]))
        for g in range(K)
        for start in range(bounds[g], bounds[g + 1], rows)
    ]

    def run(indices):
        buffer = np.empty((min(rows, n), d))
        ones = np.ones(len(buffer))  # column sums as a GEMV: 5x faster than .sum(0)
        # errstate is per thread: overflow is reported once, below.
        with np.errstate(over="ignore", invalid="ignore"):
            _run_blocks(indices, buffer, ones)

    def _run_blocks(indices, buffer, ones):
        for i in indices:
            start, stop = tasks[i]
            # A cache-resident copy, centred in place: X is never modified.
            Xb = buffer[: stop - start]
            if order is None:
                Xb[...] = X[start:stop]
                wb = None if sample_weight is None else sample_weight[start:stop]
            else:
                idx = order[start:stop]
                np.take(X, idx, axis=0, out=Xb, mode="clip")
                wb = None if sample_weight is None else sample_weight[idx]
            count[i] = stop - start if wb is None else np.count_nonzero(wb)
            weight[i], mean[i], scatter[i], t3, q4 = _one_block(
                Xb, wb, ones, full, higher
            )
            if higher:
                third[i], fourth[i] = t3, q4

    # Overflow (|X| beyond ~1e154) is reported once, below, not warned about.
    with np.errstate(over="ignore", invalid="ignore"):
        n_threads = max(1, min(int(n_threads), n_blocks))
        if n_threads == 1:
            run(range(n_blocks))
        else:
            # Every block writes only its own rows of the outputs.
            with threadpool_limits(1), ThreadPoolExecutor(n_threads) as pool:
                list(
                    pool.map(
                        run, [range(k, n_blocks, n_threads) for k in range(n_threads)]
                    )
                )
        blocks = GroupMoments(weight, count, mean, scatter, third, fourth)
        out = _reduce_by_group(blocks, block_group, K)
    if not (np.all(np.isfinite(out.scatter)) and np.all(np.isfinite(out.mean))):
        raise ValueError(
            "the moments of X overflow float64 (|X| is too large); rescale X, e.g. "
            "with StandardScaler, before fitting."
        )
    return out


def _one_block(Xb, wb, ones, full: bool, higher: bool):
    """(weight, mean, scatter, third, fourth) of one block; centres Xb in place.

    ``wb`` holds the block's weights, None for unit weights; ``ones`` is a
    vector of ones at least as long as the block.
    """
    m = Xb.shape[0]
    unit = wb is None
    W = float(m) if unit else float(wb.sum())
    if W <= 0:
        return 0.0, 0.0, 0.0, 0.0, 0.0
    mean = ((ones[:m] if unit else wb) @ Xb) / W
    Xb -= mean
    # Xw' Xw with Xw = sqrt(w) * (X - m): numpy hands A.T @ A to syrk.
    Xw = Xb if unit else Xb * np.sqrt(wb)[:, None]
    scatter = Xw.T @ Xw if full else np.einsum("ij,ij->j", Xw, Xw)
    if not higher:
        return W, mean, scatter, None, None
    r = np.einsum("ij,ij->i", Xb, Xb)
    wr = r if unit else wb * r
    return W, mean, scatter, wr @ Xb, float(wr @ r)


def _shift(mom: GroupMoments, delta: np.ndarray):
    """Central moments of ``mom`` taken about ``mean + delta`` instead of ``mean``.

    With u = x - m (sum of w u = 0) and x - (m + delta) = u - delta, the
    cross terms that are odd in u vanish.
    """
    W = mom.weight
    S = mom.scatter
    dd = np.einsum("ki,kj->kij", delta, delta) if mom.full else delta * delta
    S_new = S + W[:, None, None] * dd if mom.full else S + W[:, None] * dd
    if not mom.higher:
        return S_new, None, None
    # ||u - delta||^2 = ||u||^2 - 2 u'delta + ||delta||^2
    tr = np.trace(S, axis1=1, axis2=2)
    nd2 = np.einsum("ki,ki->k", delta, delta)
    Sd = np.einsum("kij,kj->ki", S, delta)
    dSd = np.einsum("ki,ki->k", delta, Sd)
    dT = np.einsum("ki,ki->k", delta, mom.third)
    fourth = mom.fourth - 4 * dT + 4 * dSd + 2 * nd2 * tr + W * nd2 * nd2
    third = mom.third - 2 * Sd - tr[:, None] * delta - (W * nd2)[:, None] * delta
    return S_new, third, fourth


def _reduce_by_group(parts: GroupMoments, group: np.ndarray, K: int) -> GroupMoments:
    """Combine the moments of disjoint parts (row i belongs to group[i]) per group.

    The exact multi-way form of the pairwise update of Chan et al.: the group
    mean is the weighted mean of the part means, and each part's central
    moments are shifted to it by the small differences ``m_group - m_part``
    (never through raw sums of powers), then summed.
    """
    W = np.bincount(group, weights=parts.weight, minlength=K)
    count = np.bincount(group, weights=parts.count, minlength=K).astype(np.int64)
    mean = np.zeros((K, parts.mean.shape[1]))
    np.add.at(mean, group, parts.weight[:, None] * parts.mean)
    mean /= np.where(W > 0, W, 1.0)[:, None]
    S, T, Q = _shift(parts, mean[group] - parts.mean)

    def total(values):
        if values is None:
            return None
        out = np.zeros((K, *values.shape[1:]))
        np.add.at(out, group, values)
        return out

    return GroupMoments(W, count, mean, total(S), total(T), total(Q))


def merge_moments(a: GroupMoments, b: GroupMoments) -> GroupMoments:
    """Moments of the union of two batches (Chan et al. pairwise update).

    Both batches must describe the same K groups with the same layout
    (``full``, ``higher``). Each batch's central moments are shifted to the
    merged mean, never recomputed from raw sums of powers.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._moments import group_moments, merge_moments
    >>> X = np.random.default_rng(0).normal(size=(10, 3))
    >>> g = np.arange(10) % 2
    >>> both = merge_moments(group_moments(X[:4], g[:4], 2),
    ...                      group_moments(X[4:], g[4:], 2))
    >>> np.allclose(both.scatter, group_moments(X, g, 2).scatter)
    True
    """
    if a.scatter.shape != b.scatter.shape or a.higher != b.higher:
        raise ValueError(
            "cannot merge moments of different layouts: "
            f"{a.scatter.shape} (higher={a.higher}) and "
            f"{b.scatter.shape} (higher={b.higher})."
        )
    K = len(a.weight)

    def stack(x, y):
        return None if x is None else np.concatenate([x, y])

    both = GroupMoments(
        *(
            stack(getattr(a, f), getattr(b, f))
            for f in GroupMoments.__dataclass_fields__
        )
    )
    return _reduce_by_group(both, np.tile(np.arange(K), 2), K)


def _mean_eigenvalue_and_frobenius2(covariance: np.ndarray):
    """``tr(S) / d`` and ``||S||_F^2`` of each (d, d) matrix of a (K, d, d) stack."""
    d = covariance.shape[-1]
    mu = np.trace(covariance, axis1=1, axis2=2) / d
    return mu, np.einsum("kij,kij->k", covariance, covariance)


def ledoit_wolf_coefficient(
    weight: np.ndarray, covariance: np.ndarray, fourth: np.ndarray
) -> np.ndarray:
    """Ledoit-Wolf shrinkage of covariances given their fourth moments.

    Same value as :func:`sklearn.covariance.ledoit_wolf_shrinkage` on the
    samples: with S the ML covariance, n the total weight, mu = tr(S)/d and
    Q = sum_i w_i ||x_i - m||^4,
    ``beta = (Q / n - ||S||_F^2) / (d n)``, ``delta = ||S - mu I||_F^2 / d``,
    shrinkage ``min(beta, delta) / delta`` (0 when it is 0/0).

    Parameters
    ----------
    weight : ndarray of shape (K,)
    covariance : ndarray of shape (K, d, d)
        ML covariances (scatter / weight).
    fourth : ndarray of shape (K,)

    Returns
    -------
    shrinkage : ndarray of shape (K,), values in [0, 1]
        0 when d == 1: a single variance already equals its target mu.
    """
    d = covariance.shape[-1]
    if d == 1:
        return np.zeros(len(weight))
    mu, fro2 = _mean_eigenvalue_and_frobenius2(covariance)
    n = np.where(weight > 0, weight, 1.0)
    beta = (fourth / n - fro2) / (d * n)
    delta = (fro2 - d * mu * mu) / d
    beta = np.clip(np.minimum(beta, delta), 0.0, None)
    safe = np.where(delta > 0, delta, 1.0)
    return np.where(beta > 0, beta / safe, 0.0)


def oas_coefficient(weight: np.ndarray, covariance: np.ndarray) -> np.ndarray:
    """Oracle Approximating Shrinkage coefficient, as :class:`sklearn.covariance.OAS`.

    With alpha = mean(S**2), mu = tr(S)/d and n the total weight,
    ``min((alpha + mu^2) / ((n + 1) (alpha - mu^2 / d)), 1)`` (1 when the
    denominator is 0).

    Parameters
    ----------
    weight : ndarray of shape (K,)
    covariance : ndarray of shape (K, d, d)

    Returns
    -------
    shrinkage : ndarray of shape (K,), values in [0, 1]
    """
    d = covariance.shape[-1]
    if d == 1:
        return np.zeros(len(weight))
    mu, fro2 = _mean_eigenvalue_and_frobenius2(covariance)
    alpha = fro2 / (d * d)
    num = alpha + mu * mu
    den = (weight + 1) * (alpha - mu * mu / d)
    safe = np.where(den != 0, den, 1.0)
    return np.where(den != 0, np.minimum(num / safe, 1.0), 1.0)


def shrink(covariances: np.ndarray, shrinkage) -> np.ndarray:
    """``(1 - a) S + a mu I`` per group, ``mu = trace(S) / d``: a new array.

    The target of :func:`sklearn.covariance.shrunk_covariance`, for full
    (K, d, d) covariances or (K, d) variances (the diagonal of the same).

    Parameters
    ----------
    covariances : ndarray of shape (K, d, d) or (K, d)
    shrinkage : float or ndarray of shape (K,)
        Intensity ``a`` in [0, 1] of each group.

    Returns
    -------
    shrunk : ndarray of the shape of ``covariances``

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._moments import shrink
    >>> shrink(np.array([[1.0, 3.0]]), 0.5)
    array([[1.5, 2.5]])
    """
    S = np.asarray(covariances, dtype=np.float64)
    a = np.broadcast_to(np.asarray(shrinkage, dtype=np.float64), S.shape[:1])
    if S.ndim == 3:
        d = S.shape[-1]
        mu = np.trace(S, axis1=1, axis2=2) / d
        out = (1.0 - a)[:, None, None] * S
        out[:, np.arange(d), np.arange(d)] += (a * mu)[:, None]
        return out
    return (1.0 - a)[:, None] * S + (a * S.mean(axis=1))[:, None]


def covariances_from_moments(mom: GroupMoments, covariance_type: str, shrinkage=None):
    """Maximum-likelihood covariances of every group, optionally shrunk.

    Parameters
    ----------
    mom : GroupMoments
        With ``full`` scatter for 'full' and 'tied' or any ``shrinkage`` other
        than None/float, and ``higher`` moments for 'ledoit_wolf'. Every group
        must have positive weight.
    covariance_type : {'full', 'diag', 'spherical', 'tied'}
    shrinkage : None, 'ledoit_wolf', 'oas' or float in [0, 1], default=None
        Shrinks each covariance towards ``trace(S) / d * I`` (the pooled one
        for 'tied'); see :func:`shrink`.

    Returns
    -------
    covariances : ndarray
        (K, d, d) for 'full', (1, d, d) for 'tied', (K, d) for 'diag', (K,)
        for 'spherical'; without any ridge.
    variances : ndarray of shape (K, d), or (1, d) for 'tied'
        The per-feature variances (the diagonal of the shrunk covariance).
    coefficients : ndarray of shape (K,), or (1,) for 'tied'
        The shrinkage intensity applied to each covariance.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._moments import covariances_from_moments, group_moments
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
    >>> covs, _, _ = covariances_from_moments(group_moments(X), "spherical")
    >>> covs
    array([1.])
    """
    W = mom.weight
    if covariance_type == "tied":
        covs = mom.scatter.sum(axis=0)[None] / W.sum()
        weight = np.array([W.sum()])
        fourth = None if mom.fourth is None else mom.fourth.sum(keepdims=True)
    elif mom.full:
        covs = mom.scatter / W[:, None, None]
        weight, fourth = W, mom.fourth
    else:
        covs = mom.scatter / W[:, None]  # per-feature variances
        weight, fourth = W, None

    if shrinkage is None:
        coef = np.zeros(len(weight))
    elif shrinkage == "ledoit_wolf":
        coef = ledoit_wolf_coefficient(weight, covs, fourth)
    elif shrinkage == "oas":
        coef = oas_coefficient(weight, covs)
    else:
        coef = np.full(len(weight), float(shrinkage))

    covs = shrink(covs, coef)
    if covs.ndim == 3:
        variances = np.diagonal(covs, axis1=1, axis2=2).copy()
        if covariance_type in ("diag", "spherical"):
            covs = variances.copy()
    else:
        variances = covs
    if covariance_type == "spherical":
        covs = covs.mean(axis=1)
    return covs, variances, coef
