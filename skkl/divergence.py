"""Pointwise divergences between Gaussians, broadcasting over batch axes.

Every kind is computed from the Cholesky factors ``L0`` of p and ``L1`` of q
through ``A = L1^{-1} L0`` and the whitened mean difference
``z = L1^{-1}(m1 - m0)``, in forms whose terms are all non-negative, so that
nearly equal Gaussians give small accurate values instead of rounding noise
(see the user guide for the derivations). No inverse, no determinant.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from ._gaussians import (
    Gaussians,
    _check_covariance_type,
    _check_real,
    validate_covariances,
    validate_means,
)
from ._linalg import cholesky, expm1_minus_x, logdet_from_cholesky, solve_lower

__all__ = ["DIVERGENCES", "DivergenceInfo", "divergence", "kl_divergence"]


@dataclass(frozen=True)
class _Operand:
    """Validated Gaussians as broadcastable arrays.

    ``mean`` is (Bm..., d). ``factor`` is (Bc..., d, d) lower Cholesky factors
    when ``structure == 'full'`` and (Bc..., d) standard deviations when
    ``structure == 'diag'``.
    """

    mean: np.ndarray
    factor: np.ndarray
    structure: str

    @property
    def cov_batch(self) -> tuple[int, ...]:
        return self.factor.shape[: -2 if self.structure == "full" else -1]

    def as_full(self) -> _Operand:
        if self.structure == "full":
            return self
        d = self.factor.shape[-1]
        L = np.zeros((*self.factor.shape, d))
        idx = np.arange(d)
        L[..., idx, idx] = self.factor
        return _Operand(self.mean, L, "full")


def _operand_from_gaussians(G: Gaussians) -> _Operand:
    if G.covariance_type in ("full", "tied"):
        return _Operand(G.means, G.cholesky, "full")
    return _Operand(G.means, G.std(), "diag")


def _operand_from_arrays(mean, cov, covariance_type, mean_name, cov_name) -> _Operand:
    kind = _check_covariance_type(covariance_type)
    m = validate_means(mean, mean_name)
    d = m.shape[-1]
    _, factor, _ = validate_covariances(cov, kind, d, cov_name)
    if kind in ("full", "tied"):
        return _Operand(m, factor, "full")
    if kind == "spherical":
        factor = np.broadcast_to(factor[..., None], (*factor.shape, d))
    return _Operand(m, factor, "diag")


def _as_operand(x, covariance_type: str, name: str) -> _Operand:
    if isinstance(x, Gaussians):
        return _operand_from_gaussians(x)
    if isinstance(x, tuple) and len(x) == 2:
        return _operand_from_arrays(
            x[0], x[1], covariance_type, f"{name}[0] (mean)", f"{name}[1] (covariance)"
        )
    raise TypeError(
        f"{name} must be a skkl.Gaussians or a (mean, covariance) tuple, "
        f"got {type(x).__name__}."
    )


def _align(p: _Operand, q: _Operand, names=("p", "q")) -> tuple[_Operand, _Operand]:
    """Check dimensions and broadcasting; give both operands one structure."""
    dp, dq = p.mean.shape[-1], q.mean.shape[-1]
    if dp != dq:
        raise ValueError(
            f"{names[0]} has {dp} features but {names[1]} has {dq}; "
            "divergences need Gaussians of the same dimension."
        )
    try:
        np.broadcast_shapes(
            p.mean.shape[:-1], p.cov_batch, q.mean.shape[:-1], q.cov_batch
        )
    except ValueError:
        raise ValueError(
            f"batch shapes do not broadcast: {names[0]} has means "
            f"{p.mean.shape[:-1]} and covariances {p.cov_batch}, {names[1]} has "
            f"means {q.mean.shape[:-1]} and covariances {q.cov_batch}."
        ) from None
    if p.structure != q.structure:
        p, q = p.as_full(), q.as_full()
    return p, q


def _solve_vec(L: np.ndarray, v: np.ndarray) -> np.ndarray:
    return solve_lower(L, v[..., None])[..., 0]


def _diag(L: np.ndarray) -> np.ndarray:
    return np.diagonal(L, axis1=-2, axis2=-1)


# -- kernels: (p, q, alpha) -> divergence, on operands of one structure -------


def _kl_full(p: _Operand, q: _Operand, alpha=None) -> np.ndarray:
    L0, L1 = p.factor, q.factor
    A = solve_lower(L1, L0)
    # tr(A A') - d - log det(A A') split into non-negative terms.
    u = 2.0 * np.log(_diag(L0) / _diag(L1))
    cov = expm1_minus_x(u).sum(-1) + np.square(np.tril(A, -1)).sum((-2, -1))
    z = _solve_vec(L1, q.mean - p.mean)
    return 0.5 * (cov + np.square(z).sum(-1))


def _kl_diag(p: _Operand, q: _Operand, alpha=None) -> np.ndarray:
    u = 2.0 * np.log(p.factor / q.factor)
    z = (q.mean - p.mean) / q.factor
    return 0.5 * (expm1_minus_x(u).sum(-1) + np.square(z).sum(-1))


_RENYI_HINT = (
    "the Renyi divergence is infinite for this pair: use 0 < alpha < 1, for which "
    "it is always finite"
)


def _log_mix_over_c(mu: np.ndarray, c: float, log1p_mu=None) -> np.ndarray:
    """``(log1p(c mu) - c log1p(mu)) / c`` elementwise, accurate for small ``mu``.

    Per eigenvalue ``1 + mu`` of S1^{-1} S0, this is the Renyi log-determinant
    term with ``c = 1 - alpha`` (requires ``c != 0`` and ``1 + c mu > 0``).
    ``log1p_mu``, when given, is ``log1p(mu)`` known more accurately than ``mu``
    (``mu = expm1(t)`` loses ``t`` for ``t << 0``).
    """
    mu = np.asarray(mu, dtype=np.float64)
    log1p_mu = np.log1p(mu) if log1p_mu is None else log1p_mu
    out = np.empty_like(mu)
    small = np.abs(mu) * max(1.0, abs(c)) < 0.1
    big = ~small
    out[big] = (np.log1p(c * mu[big]) - c * log1p_mu[big]) / c
    # sum_{n>=2} (1 - c^(n-1)) (-mu)^n / n: terms shrink >= 10x, 20 suffice.
    ms = mu[small]
    power, c_pow, total = -ms, 1.0, np.zeros_like(ms)
    for n in range(2, 22):
        power = power * -ms
        c_pow *= c
        total += (1.0 - c_pow) * power / n
    out[small] = total
    return out


def _renyi_full(p: _Operand, q: _Operand, alpha: float) -> np.ndarray:
    if alpha == 1.0:
        return _kl_full(p, q)
    L0, L1 = p.factor, q.factor
    d = L0.shape[-1]
    A = solve_lower(L1, L0)
    # M = L1^{-1} (alpha S1 + (1 - alpha) S0) L1^{-T}
    M = (1.0 - alpha) * (A @ np.swapaxes(A, -1, -2))
    M[..., np.arange(d), np.arange(d)] += alpha
    if not np.all(np.isfinite(M)):
        raise _overflow_error()  # not a failure of positive-definiteness
    R = cholesky(
        M, name="alpha * cov(q) + (1 - alpha) * cov(p) of pair", hint=_RENYI_HINT
    )
    u = 2.0 * np.log(_diag(L0) / _diag(L1))
    # 1/(2(1-alpha)) log(|S_alpha| / (|S0|^(1-alpha) |S1|^alpha)) is >= 0 exactly.
    log_term = (logdet_from_cholesky(R) - (1.0 - alpha) * u.sum(-1)) / (
        2.0 * (1.0 - alpha)
    )
    # Nearly equal pairs: that difference cancels to rounding noise (~eps, not
    # eps * |result|). Use the eigenvalues mu of E = A A' - I instead, with E
    # formed from F = A - I so that it is accurate to ~eps absolute.
    F = A.copy()
    F[..., np.arange(d), np.arange(d)] -= 1.0
    E = F + np.swapaxes(F, -1, -2) + F @ np.swapaxes(F, -1, -2)
    near = np.sqrt(np.square(E).sum((-2, -1))) * max(1.0, abs(1.0 - alpha)) < 0.1
    if np.any(near):
        log_term = np.array(log_term, dtype=np.float64)
        mu = np.linalg.eigvalsh(np.broadcast_to(E, (*near.shape, d, d))[near])
        log_term[near] = 0.5 * _log_mix_over_c(mu, 1.0 - alpha).sum(-1)
    y = _solve_vec(R, _solve_vec(L1, q.mean - p.mean))
    return 0.5 * alpha * np.square(y).sum(-1) + np.maximum(log_term, 0.0)


def _renyi_diag(p: _Operand, q: _Operand, alpha: float) -> np.ndarray:
    if alpha == 1.0:
        return _kl_diag(p, q)
    t = 2.0 * np.log(p.factor / q.factor)
    mix = (1.0 - alpha) * np.expm1(t)  # alpha v1 + (1-alpha) v0 = v1 (1 + mix)
    if np.any(mix <= -1.0):
        bad = np.argwhere(mix <= -1.0)[0]
        raise ValueError(
            f"alpha * var(q) + (1 - alpha) * var(p) is not positive at index "
            f"{tuple(bad.tolist())}; {_RENYI_HINT}."
        )
    log_term = 0.5 * _log_mix_over_c(np.expm1(t), 1.0 - alpha, t).sum(-1)
    maha = np.square(q.mean - p.mean) / (np.square(q.factor) * (1.0 + mix))
    return 0.5 * alpha * maha.sum(-1) + np.maximum(log_term, 0.0)


def _wasserstein_full(p: _Operand, q: _Operand, alpha=None) -> np.ndarray:
    L0, L1 = p.factor, q.factor
    # Bures term: min over orthogonal Q of ||L0 - L1 Q||_F^2, attained at the
    # polar factor of L1' L0; equals tr S0 + tr S1 - 2 ||L1' L0||_* but is
    # computed as a norm of a difference, without cancellation.
    U, _, Vt = np.linalg.svd(np.swapaxes(L1, -1, -2) @ L0)
    bures = np.square(L0 - L1 @ (U @ Vt)).sum((-2, -1))
    return np.square(q.mean - p.mean).sum(-1) + bures


def _wasserstein_diag(p: _Operand, q: _Operand, alpha=None) -> np.ndarray:
    return np.square(q.mean - p.mean).sum(-1) + np.square(p.factor - q.factor).sum(-1)


# Kinds derived from a base kernel. Partials of module-level functions (not
# closures) keep the registry records picklable, e.g. inside a KLMetric sent
# to joblib's process workers.


def _reversed(kernel, p, q, alpha=None):
    return kernel(q, p, alpha)


def _both_ways(kernel, p, q, alpha=None):
    return kernel(p, q, alpha) + kernel(q, p, alpha)


def _half_renyi_half(kernel, p, q, alpha=None):
    return 0.5 * kernel(p, q, 0.5)


def _hellinger_from_renyi(kernel, p, q, alpha=None):
    return np.sqrt(-np.expm1(-0.5 * kernel(p, q, 0.5)))


def _reverse(kernel):
    return functools.partial(_reversed, kernel)


def _jeffreys(kernel):
    return functools.partial(_both_ways, kernel)


def _bhattacharyya(kernel):
    return functools.partial(_half_renyi_half, kernel)


def _hellinger(kernel):
    return functools.partial(_hellinger_from_renyi, kernel)


@dataclass(frozen=True)
class DivergenceInfo:
    """One divergence: its name, kernels and properties (a registry record).

    Attributes
    ----------
    name : str
        Canonical name, the ``kind=`` argument.
    full, diag : callable
        Kernels ``(p, q, alpha) -> values`` on full Cholesky factors and on
        standard deviations.
    symmetric : bool
        Whether D(p, q) == D(q, p) for every pair ('renyi' is symmetric only
        at alpha=0.5, see :meth:`is_symmetric`).
    uses_alpha : bool
        Whether the ``alpha`` argument matters.
    description : str
        One line for documentation and the command line.

    Examples
    --------
    >>> from skkl import DIVERGENCES
    >>> info = DIVERGENCES["renyi"]
    >>> info.uses_alpha, info.is_symmetric(0.5), info.is_symmetric(2.0)
    (True, True, False)
    >>> sorted(k for k, v in DIVERGENCES.items() if v.symmetric)
    ['bhattacharyya', 'hellinger', 'jeffreys', 'wasserstein']
    """

    name: str
    full: Callable
    diag: Callable
    symmetric: bool
    uses_alpha: bool
    description: str

    def is_symmetric(self, alpha: float = 0.5) -> bool:
        """Whether D(p, q) == D(q, p) for this kind at this ``alpha``.

        Parameters
        ----------
        alpha : float, default=0.5
            Order of the Rényi divergence; ignored by the other kinds.

        Returns
        -------
        symmetric : bool
        """
        return self.symmetric or (self.uses_alpha and alpha == 0.5)


_REGISTRY = [
    DivergenceInfo(
        "kl", _kl_full, _kl_diag, False, False, "Kullback-Leibler KL(p || q)"
    ),
    DivergenceInfo(
        "reverse_kl",
        _reverse(_kl_full),
        _reverse(_kl_diag),
        False,
        False,
        "reverse Kullback-Leibler KL(q || p)",
    ),
    DivergenceInfo(
        "jeffreys",
        _jeffreys(_kl_full),
        _jeffreys(_kl_diag),
        True,
        False,
        "Jeffreys divergence KL(p || q) + KL(q || p)",
    ),
    DivergenceInfo(
        "bhattacharyya",
        _bhattacharyya(_renyi_full),
        _bhattacharyya(_renyi_diag),
        True,
        False,
        "Bhattacharyya distance -log of the Bhattacharyya coefficient",
    ),
    DivergenceInfo(
        "hellinger",
        _hellinger(_renyi_full),
        _hellinger(_renyi_diag),
        True,
        False,
        "Hellinger distance sqrt(1 - exp(-Bhattacharyya)), in [0, 1]",
    ),
    DivergenceInfo(
        "renyi",
        _renyi_full,
        _renyi_diag,
        False,
        True,
        "Renyi divergence of order alpha > 0 (alpha=1 is KL)",
    ),
    DivergenceInfo(
        "wasserstein",
        _wasserstein_full,
        _wasserstein_diag,
        True,
        False,
        "squared 2-Wasserstein distance",
    ),
]

#: Registry of divergence kinds, keyed by their ``kind=`` name.
DIVERGENCES: dict[str, DivergenceInfo] = {info.name: info for info in _REGISTRY}


def get_divergence(kind: str, alpha: float = 0.5) -> DivergenceInfo:
    """Look up ``kind`` and validate ``alpha`` for it.

    Raises
    ------
    ValueError
        For an unknown kind, or an ``alpha`` outside (0, inf) for 'renyi'.
    """
    info = DIVERGENCES.get(kind) if isinstance(kind, str) else None
    if info is None:
        raise ValueError(f"kind must be one of {sorted(DIVERGENCES)}, got {kind!r}.")
    if info.uses_alpha:
        hint = f" for kind={kind!r} (alpha=1 is KL)"
        _check_real(alpha, "alpha", strict=True, hint=hint)
    return info


def _identical(p: _Operand, q: _Operand) -> np.ndarray:
    """Which broadcast pairs are the very same Gaussian."""
    cov_axes = (-2, -1) if p.structure == "full" else (-1,)
    same_cov = np.all(p.factor == q.factor, axis=cov_axes)
    return np.all(p.mean == q.mean, axis=-1) & same_cov


def _overflow_error() -> ValueError:
    return ValueError(
        "the divergence overflows float64: the Gaussians differ by an extreme "
        "factor (variance ratios or squared mean differences beyond ~1e300); "
        "rescale the data (e.g. StandardScaler) so that they are comparable."
    )


def _compute(info: DivergenceInfo, p: _Operand, q: _Operand, alpha) -> np.ndarray:
    kernel = info.full if p.structure == "full" else info.diag
    # alpha is validated (get_divergence) only where it is used; elsewhere
    # any value is ignored, never converted.
    with np.errstate(over="ignore", invalid="ignore"):
        values = kernel(p, q, float(alpha) if info.uses_alpha else None)
    # D(p, p) = 0 exactly; BLAS solves multiply by reciprocals, which would
    # leave ~1e-30 residues instead.
    identical = _identical(p, q)
    if not np.all(np.isfinite(values) | identical):
        raise _overflow_error()
    return np.where(identical, 0.0, values)


def divergence(
    p: Gaussians | tuple,
    q: Gaussians | tuple,
    kind: str = "kl",
    *,
    alpha: float = 0.5,
    covariance_type: str = "full",
) -> np.ndarray:
    """Divergence between Gaussians ``p`` and ``q``, broadcasting over batches.

    Parameters
    ----------
    p, q : Gaussians or tuple (mean, covariance)
        Batches of Gaussians. :class:`~skkl.Gaussians` of lengths K_p and K_q
        broadcast like numpy arrays of shape (K_p,) and (K_q,). A tuple holds
        a mean of shape (..., d) and covariances in the layout of
        ``covariance_type`` with any broadcastable leading batch axes.
    kind : str, default='kl'
        One of ``skkl.DIVERGENCES``: 'kl' (KL(p || q)), 'reverse_kl'
        (KL(q || p)), 'jeffreys' (their sum), 'bhattacharyya', 'hellinger'
        (in [0, 1]), 'renyi' (order ``alpha``) and 'wasserstein' (squared
        2-Wasserstein distance).
    alpha : float, default=0.5
        Order of the Rényi divergence, > 0 (1 gives KL). For alpha > 1 the
        divergence is finite only when ``alpha * cov(q) + (1 - alpha) *
        cov(p)`` is positive definite; otherwise a ``ValueError`` is raised.
    covariance_type : {'full', 'diag', 'spherical', 'tied'}, default='full'
        Layout of the covariances in tuples; ignored for ``Gaussians``.

    Returns
    -------
    values : ndarray or float
        One value per broadcast pair; a numpy scalar when both inputs are a
        single tuple Gaussian with 1-D mean.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import Gaussians, divergence
    >>> p = Gaussians(np.zeros((1, 2)), np.eye(2)[None])
    >>> q = Gaussians([[1.0, 0.0], [0.0, 2.0]], [[1.0, 1.0], [1.0, 4.0]], "diag")
    >>> divergence(p, q)
    array([0.5       , 0.81814718])
    >>> divergence(p, q, "hellinger").round(4)
    array([0.3428, 0.5174])
    >>> float(divergence((np.zeros(2), np.eye(2)), (np.ones(2), 4 * np.eye(2)),
    ...                  "wasserstein"))
    4.0
    """
    info = get_divergence(kind, alpha)
    p, q = _align(
        _as_operand(p, covariance_type, "p"), _as_operand(q, covariance_type, "q")
    )
    return _compute(info, p, q, alpha)[()]


def kl_divergence(
    m0: ArrayLike,
    S0: ArrayLike,
    m1: ArrayLike,
    S1: ArrayLike,
    *,
    covariance_type: str = "full",
) -> np.ndarray:
    """KL(N(m0, S0) || N(m1, S1)), a stable drop-in for the ``kl_mvn`` snippet.

    Accepts exactly what ``kl_mvn(m0, S0, m1, S1)`` accepts (1-D means, 2-D
    covariances) and returns the same value where that snippet is accurate;
    unlike it, it stays finite and accurate in any dimension, never inverts a
    matrix, never returns a negative value, and broadcasts over leading batch
    axes: stacks of means with one covariance, or stacks of both.

    Parameters
    ----------
    m0, m1 : array-like of shape (..., d)
        Means.
    S0, S1 : array-like
        Covariances: (..., d, d) for 'full', (..., d) variances for 'diag',
        (...) variances for 'spherical'.
    covariance_type : {'full', 'diag', 'spherical'}, default='full'

    Returns
    -------
    kl : ndarray or float
        In nats, shape: the broadcast batch shape.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import kl_divergence
    >>> float(kl_divergence(np.zeros(2), np.eye(2), np.ones(2), 2 * np.eye(2)))
    0.6931...
    >>> d = 400  # the inv/det snippet returns nan here: det(10 I) overflows
    >>> float(kl_divergence(np.zeros(d), 10 * np.eye(d), np.zeros(d), np.eye(d)))
    1339.482...
    >>> kl_divergence(np.zeros((3, 2)), np.ones(2), np.zeros(2), [1.0, 2.0],
    ...               covariance_type="diag")
    array([0.0966, 0.0966, 0.0966])
    """
    p = _operand_from_arrays(m0, S0, covariance_type, "m0", "S0")
    q = _operand_from_arrays(m1, S1, covariance_type, "m1", "S1")
    p, q = _align(p, q, names=("(m0, S0)", "(m1, S1)"))
    return _compute(DIVERGENCES["kl"], p, q, None)[()]
