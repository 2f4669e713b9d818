"""Divergence kernels shared by ``divergence``, ``pairwise`` and ``metric`` (internal).

Every kind is computed from validated operands (:class:`Operand`: means,
Cholesky factors or standard deviations, covariances, log-determinants) in
forms chosen per entry by a rounding-error bound:

- KL: ``A = L1^{-1} L0`` and ``z = L1^{-1}(m1 - m0)`` in a split whose terms
  are all non-negative, so nearly equal Gaussians give small accurate values.
- Rényi, Bhattacharyya, Hellinger: the direct form, a Cholesky factor of the
  pair's mixture ``alpha S1 + (1 - alpha) S0`` compared with the two
  log-determinants; where its error bound says the difference cancels
  (nearly equal pairs), the eigenvalues of the whitened ``A A' - I``.
- 2-Wasserstein: singular values (eigenvalues of ``W' W``, ``W = L1' L0``)
  for the nuclear norm; where the bound says the trace difference cancels,
  the Procrustes residual ``||L0 - L1 Q||_F^2``.

No inverse, no determinant. The registry in :mod:`skkl.divergence` binds
these kernels to kinds; ``pairwise`` evaluates them on batches of index
pairs through :func:`compute_pairs`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ._gaussians import (
    Gaussians,
    check_covariance_type,
    validate_covariances,
    validate_means,
)
from ._linalg import (
    cholesky,
    diagonal_factor,
    expm1_minus_x,
    logdet_from_cholesky,
    solve_lower,
)

__all__ = [
    "Operand",
    "align",
    "as_operand",
    "compute",
    "compute_pairs",
    "kl_diag",
    "kl_full",
    "log_mix_over_c",
    "operand_from_arrays",
    "operand_from_gaussians",
    "overflow_error",
    "renyi_diag",
    "renyi_full",
    "wasserstein_diag",
    "wasserstein_full",
]

EPS = np.finfo(np.float64).eps
# The pointwise kernels switch to their cancellation-free forms where the
# direct form's error bound exceeds this fraction of the value: 10x below
# the 1e-10 relative accuracy the package promises.
NEAR_RTOL = 1e-11


@dataclass(frozen=True)
class Operand:
    """Validated Gaussians as broadcastable arrays.

    ``mean`` is (Bm..., d). ``factor`` is (Bc..., d, d) lower Cholesky factors
    when ``structure == 'full'`` and (Bc..., d) standard deviations when
    ``structure == 'diag'``. ``cov`` (covariances, same layout as
    ``factor``) and ``logdet`` are filled in from ``factor`` when not given.
    ``singular`` says that some covariance is singular (only kinds that
    accept singular covariances may use it).
    """

    mean: np.ndarray
    factor: np.ndarray
    structure: str
    cov: np.ndarray | None = None
    logdet: np.ndarray | None = None
    singular: bool = False

    def __post_init__(self):
        if self.cov is None or (self.logdet is None and not self.singular):
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                self._fill()

    def _fill(self):
        if self.cov is None:
            f = self.factor
            cov = f @ np.swapaxes(f, -1, -2) if self.structure == "full" else f * f
            object.__setattr__(self, "cov", cov)
        if self.logdet is None and not self.singular:
            if self.structure == "full":
                ld = logdet_from_cholesky(self.factor)
            else:
                ld = 2.0 * np.log(self.factor).sum(-1)
            object.__setattr__(self, "logdet", ld)

    @property
    def cov_batch(self) -> tuple[int, ...]:
        return self.factor.shape[: -2 if self.structure == "full" else -1]

    def as_full(self) -> Operand:
        if self.structure == "full":
            return self
        return Operand(
            self.mean,
            diagonal_factor(self.factor),
            "full",
            diagonal_factor(self.cov),
            self.logdet,
            self.singular,
        )

    def _sliced(self, sl: slice, column: bool) -> Operand:
        """Views of the Gaussians ``sl``; ``column`` adds a broadcast axis."""
        ex = (slice(None), None) if column else (slice(None),)

        def cut(x, tail):
            if x is None:
                return None
            if self.cov_batch == () and tail is not None:
                return x  # shared (tied) covariance
            return x[sl][ex]

        mean = self.mean[sl][ex]
        return Operand(
            mean,
            cut(self.factor, 0),
            self.structure,
            cut(self.cov, 0),
            cut(self.logdet, 0),
            self.singular,
        )

    def rows(self, a: int, b: int) -> Operand:
        """Gaussians ``a:b`` shaped to broadcast against :meth:`cols`."""
        return self._sliced(slice(a, b), True)

    def cols(self, a: int, b: int) -> Operand:
        """Gaussians ``a:b`` as a 1-D batch (views)."""
        return self._sliced(slice(a, b), False)

    def take(self, idx: np.ndarray) -> Operand:
        """Operand of the Gaussians ``idx`` (a 1-D index array)."""
        if self.cov_batch == ():
            factor, cov, ld = self.factor, self.cov, self.logdet
        else:
            factor, cov = self.factor[idx], self.cov[idx]
            ld = None if self.logdet is None else self.logdet[idx]
        return Operand(self.mean[idx], factor, self.structure, cov, ld, self.singular)


def operand_from_gaussians(G: Gaussians) -> Operand:
    singular = bool(np.any(G.singular))
    logdet = None if singular else G.logdet
    if G.covariance_type == "full":
        return Operand(G.means, G.cholesky, "full", G.covariances, logdet, singular)
    if G.covariance_type == "tied":
        return Operand(
            G.means, G.cholesky, "full", G.covariances, G.logdet[:1][0], singular
        )
    return Operand(G.means, G.std(), "diag", None, logdet, singular)


def operand_from_arrays(mean, cov, covariance_type, mean_name, cov_name) -> Operand:
    cov_type = check_covariance_type(covariance_type)
    m = validate_means(mean, mean_name)
    d = m.shape[-1]
    S, factor, logdet = validate_covariances(cov, cov_type, d, cov_name)
    if cov_type in ("full", "tied"):
        return Operand(m, factor, "full", S, logdet)
    if cov_type == "spherical":
        factor = np.broadcast_to(factor[..., None], (*factor.shape, d))
        S = np.broadcast_to(S[..., None], (*S.shape, d))
    return Operand(m, factor, "diag", S, logdet)


def as_operand(x, covariance_type: str, name: str) -> Operand:
    if isinstance(x, Gaussians):
        return operand_from_gaussians(x)
    if isinstance(x, tuple) and len(x) == 2:
        return operand_from_arrays(
            x[0], x[1], covariance_type, f"{name}[0] (mean)", f"{name}[1] (covariance)"
        )
    raise TypeError(
        f"{name} must be a skkl.Gaussians or a (mean, covariance) tuple, "
        f"got {type(x).__name__}."
    )


def align(p: Operand, q: Operand, names=("p", "q")) -> tuple[Operand, Operand]:
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
    return L.diagonal(0, -2, -1)


def overflow_error() -> ValueError:
    return ValueError(
        "the divergence overflows float64: the Gaussians differ by an extreme "
        "factor (variance ratios or squared mean differences beyond ~1e300); "
        "rescale the data (e.g. StandardScaler) so that they are comparable."
    )


# -- KL ------------------------------------------------------------------------


@functools.cache
def _strict_lower(d: int) -> np.ndarray:
    """Boolean mask of the strict lower triangle of a d x d matrix (read-only)."""
    mask = np.tri(d, d, -1, dtype=bool)
    mask.setflags(write=False)
    return mask


def kl_full(p: Operand, q: Operand, alpha=None) -> np.ndarray:
    L0, L1 = p.factor, q.factor
    A = solve_lower(L1, L0)
    # tr(A A') - d - log det(A A') split into non-negative terms.
    u = 2.0 * np.log(_diag(L0) / _diag(L1))
    below = A[..., _strict_lower(A.shape[-1])]
    cov = expm1_minus_x(u).sum(-1) + np.einsum("...i,...i->...", below, below)
    z = _solve_vec(L1, q.mean - p.mean)
    return 0.5 * (cov + np.einsum("...i,...i->...", z, z))


def kl_diag(p: Operand, q: Operand, alpha=None) -> np.ndarray:
    u = 2.0 * np.log(p.factor / q.factor)
    z = (q.mean - p.mean) / q.factor
    return 0.5 * (expm1_minus_x(u).sum(-1) + np.square(z).sum(-1))


# -- Rényi and its relatives -----------------------------------------------------

_RENYI_HINT = (
    "the Renyi divergence is infinite for this pair: use 0 < alpha < 1, for which "
    "it is always finite"
)


def log_mix_over_c(mu: np.ndarray, c: float, log1p_mu=None) -> np.ndarray:
    """``(log1p(c mu) - c log1p(mu)) / c`` elementwise, accurate for small ``mu``.

    Per eigenvalue ``1 + mu`` of S1^{-1} S0, this is the Renyi log-determinant
    term with ``c = 1 - alpha`` (requires ``c != 0`` and ``1 + c mu > 0``).
    ``log1p_mu``, when given, is ``log1p(mu)`` known more accurately than ``mu``
    (``mu = expm1(t)`` loses ``t`` for ``t << 0``, and overflows for
    ``t >> 0``: then, for ``c > 0``, ``log1p(c mu)`` is taken in log space).
    """
    mu = np.asarray(mu, dtype=np.float64)
    log1p_mu = np.log1p(mu) if log1p_mu is None else log1p_mu
    out = np.empty_like(mu)
    small = np.abs(mu) * max(1.0, abs(c)) < 0.1
    big = ~small
    log_cmu = np.log1p(c * mu[big])
    huge = ~np.isfinite(log_cmu)
    if np.any(huge) and c > 0:
        # 1 + c mu = (1 - c) + c (1 + mu) with log(1 + mu) = log1p_mu finite.
        t = log1p_mu[big][huge]
        log_cmu[huge] = np.logaddexp(np.log1p(-c), np.log(c) + t)
    out[big] = (log_cmu - c * log1p_mu[big]) / c
    # sum_{n>=2} (1 - c^(n-1)) (-mu)^n / n: terms shrink >= 10x, 20 suffice.
    ms = mu[small]
    power, c_pow, total = -ms, 1.0, np.zeros_like(ms)
    for n in range(2, 22):
        power = power * -ms
        c_pow *= c
        total += (1.0 - c_pow) * power / n
    out[small] = total
    return out


def _renyi_log_near(L0: np.ndarray, L1: np.ndarray, alpha: float) -> np.ndarray:
    """Rényi log-determinant term from the eigenvalues of ``E = A A' - I``.

    ``A = L1^{-1} L0``; ``E`` is formed from ``F = A - I`` so that it is
    accurate to ~eps absolute and the series of :func:`log_mix_over_c` keeps
    the relative accuracy of small terms (nearly equal pairs).
    """
    d = L0.shape[-1]
    F = solve_lower(L1, L0)
    F[..., np.arange(d), np.arange(d)] -= 1.0
    E = F + np.swapaxes(F, -1, -2) + F @ np.swapaxes(F, -1, -2)
    mu = np.linalg.eigvalsh(E)
    return 0.5 * log_mix_over_c(mu, 1.0 - alpha).sum(-1)


def _renyi_direct(S0, S1, ld0, ld1, dm, alpha):
    """Direct Rényi form: ``(quad, log_term, err)`` from the mixture's factor.

    ``err`` bounds the absolute rounding error of ``log_term``: the mixture
    is formed and factored with a backward error of ~(d + 2) eps relative to
    its scale, which moves its log-determinant by ~(d + 2) d eps when it is
    well conditioned after diagonal scaling (an ill-conditioned pair is
    sensitive to its own input rounding, whatever the form), and each of the
    three log-determinants carries ~eps times its magnitude.
    """
    c = 1.0 - alpha
    d = dm.shape[-1]
    Sa = np.multiply(S1, alpha, out=np.empty(np.broadcast_shapes(S0.shape, S1.shape)))
    Sa += c * S0
    # Off-diagonal entries are bounded by the diagonal ones (|S_kl| <=
    # sqrt(S_kk S_ll) in each covariance): checking the diagonal suffices.
    if not np.all(np.isfinite(np.diagonal(Sa, axis1=-2, axis2=-1))):
        raise overflow_error()  # not a failure of positive-definiteness
    R = cholesky(
        Sa, name="alpha * cov(q) + (1 - alpha) * cov(p) of pair", hint=_RENYI_HINT
    )
    ldR = logdet_from_cholesky(R)
    log_term = (ldR - c * ld0 - alpha * ld1) / (2.0 * c)
    err = (
        EPS
        * ((d + 2.0) * d + np.abs(ldR) + abs(c) * np.abs(ld0) + alpha * np.abs(ld1))
        / abs(2.0 * c)
    )
    y = _solve_vec(R, dm)
    quad = 0.5 * alpha * np.square(y).sum(-1)
    return quad, log_term, err


def _renyi_from_parts(quad, log_term, err, near_log):
    """``quad + log_term``, with ``near_log(mask)`` where ``err`` is too large."""
    shape = np.broadcast_shapes(np.shape(quad), np.shape(log_term), np.shape(err))
    value = quad + np.maximum(log_term, 0.0)
    near = ~(err <= NEAR_RTOL * value)
    if np.any(near):
        log_term = np.broadcast_to(log_term, shape).copy()
        near = np.broadcast_to(near, shape)
        log_term[near] = near_log(near)
        value = quad + np.maximum(log_term, 0.0)
    return value


def renyi_full(p: Operand, q: Operand, alpha: float) -> np.ndarray:
    if alpha == 1.0:
        return kl_full(p, q)
    quad, log_term, err = _renyi_direct(
        p.cov, q.cov, p.logdet, q.logdet, q.mean - p.mean, alpha
    )
    d = p.factor.shape[-1]

    def near_log(mask):
        shape = mask.shape
        L0 = np.broadcast_to(p.factor, (*shape, d, d))[mask]
        L1 = np.broadcast_to(q.factor, (*shape, d, d))[mask]
        return _renyi_log_near(L0, L1, alpha)

    return _renyi_from_parts(quad, log_term, err, near_log)


def renyi_diag(p: Operand, q: Operand, alpha: float) -> np.ndarray:
    if alpha == 1.0:
        return kl_diag(p, q)
    t = 2.0 * np.log(p.factor / q.factor)
    c = 1.0 - alpha
    if c < 0:  # alpha v1 + (1 - alpha) v0 = v1 (1 + c expm1(t)) must be > 0
        bad = c * np.expm1(t) <= -1.0
        if np.any(bad):
            where = tuple(np.argwhere(bad)[0].tolist())
            raise ValueError(
                f"alpha * var(q) + (1 - alpha) * var(p) is not positive at index "
                f"{where}; {_RENYI_HINT}."
            )
    log_term = 0.5 * log_mix_over_c(np.expm1(t), c, t).sum(-1)
    # Mixture variance alpha v1 + c v0, formed without overflow.
    mix = alpha * np.square(q.factor) + c * np.square(p.factor)
    maha = np.square(q.mean - p.mean) / mix
    return 0.5 * alpha * maha.sum(-1) + np.maximum(log_term, 0.0)


# -- 2-Wasserstein -------------------------------------------------------------


def _procrustes(L0: np.ndarray, L1: np.ndarray) -> np.ndarray:
    """Bures term as ``min_Q ||L0 - L1 Q||_F^2`` (polar factor of ``L1' L0``).

    Equal to ``tr S0 + tr S1 - 2 ||L1' L0||_*`` but a norm of a difference:
    no cancellation for nearly equal pairs, at the price of a full SVD.
    """
    U, _, Vt = np.linalg.svd(np.swapaxes(L1, -1, -2) @ L0)
    return np.square(L0 - L1 @ (U @ Vt)).sum((-2, -1))


def _congruence(F: np.ndarray, S: np.ndarray) -> np.ndarray:
    """``F' S_k F`` for a stack ``S`` (..., d, d) and one ``F`` (d, d).

    Two large products instead of one small product per matrix: the stack is
    one (n d, d) operand, so BLAS runs at full speed.
    """
    d = F.shape[-1]
    batch = S.shape[:-2]
    T = S.reshape(-1, d) @ F  # rows of S_k F
    T = np.swapaxes(T.reshape(-1, d, d), -1, -2).reshape(-1, d)  # rows of F' S_k
    return (T @ F).reshape(*batch, d, d)


def _bures_direct(p: Operand, q: Operand, tr0, tr1):
    """``(bures, err)`` from the eigenvalues of ``M = W' W``, ``W = L1' L0``.

    ``sum sqrt(lam)`` is the nuclear norm of ``W``. Each eigenvalue is
    computed to ``delta = c(d) eps lam_max`` absolute (``c(d) = 4 (d + 2)``
    covers forming ``M`` and the symmetric eigensolver), so ``sqrt(lam_k)``
    moves by at most ``delta / (sqrt(lam_k) + sqrt(delta))``; ``err`` sums
    those and the ~eps rounding of the traces.
    """
    L0, L1 = p.factor, q.factor
    d = L0.shape[-1]
    # Eigenvalues of W' W = L0' S1 L0 (or, equally, of W W' = L1' S0 L1).
    if L0.size == d * d:
        M = _congruence(L0.reshape(d, d), q.cov)
    elif L1.size == d * d:
        M = _congruence(L1.reshape(d, d), p.cov)
    else:
        W = np.swapaxes(L1, -1, -2) @ L0
        M = np.swapaxes(W, -1, -2) @ W
    if not np.all(np.isfinite(M)):
        raise overflow_error()  # entries beyond ~1e154: traces overflow too
    lam = np.linalg.eigvalsh(M)
    delta = 4.0 * (d + 2.0) * EPS * np.maximum(lam[..., -1:], 0.0)
    root = np.sqrt(np.maximum(lam, 0.0))
    nuclear = root.sum(-1)
    err = 2.0 * (delta / (root + np.sqrt(delta) + 1e-300)).sum(-1) + 4.0 * EPS * (
        tr0 + tr1
    )
    return tr0 + tr1 - 2.0 * nuclear, err


def wasserstein_full(p: Operand, q: Operand, alpha=None) -> np.ndarray:
    L0, L1 = p.factor, q.factor
    tr0 = np.trace(p.cov, axis1=-2, axis2=-1)
    tr1 = np.trace(q.cov, axis1=-2, axis2=-1)
    bures, err = _bures_direct(p, q, tr0, tr1)
    dist = np.square(q.mean - p.mean).sum(-1)
    shape = np.broadcast_shapes(bures.shape, dist.shape)
    bures = np.broadcast_to(bures, shape).copy()
    near = ~(np.broadcast_to(err, shape) <= NEAR_RTOL * (dist + np.maximum(bures, 0)))
    if np.any(near):
        d = L0.shape[-1]
        bures[near] = _procrustes(
            np.broadcast_to(L0, (*shape, d, d))[near],
            np.broadcast_to(L1, (*shape, d, d))[near],
        )
    return dist + np.maximum(bures, 0.0)


def wasserstein_diag(p: Operand, q: Operand, alpha=None) -> np.ndarray:
    return np.square(q.mean - p.mean).sum(-1) + np.square(p.factor - q.factor).sum(-1)


# -- derived kinds -------------------------------------------------------------
# Partials of module-level functions (not closures) keep the registry records
# picklable, e.g. inside a KLMetric sent to joblib's process workers.


def _reversed(kernel, p, q, alpha=None):
    return kernel(q, p, alpha)


def _both_ways(kernel, p, q, alpha=None):
    return kernel(p, q, alpha) + kernel(q, p, alpha)


def _half_renyi_half(kernel, p, q, alpha=None):
    return 0.5 * kernel(p, q, 0.5)


def _hellinger_from_renyi(kernel, p, q, alpha=None):
    return np.sqrt(-np.expm1(-0.5 * kernel(p, q, 0.5)))


def reverse(kernel):
    """Kernel of ``D(q, p)``."""
    return functools.partial(_reversed, kernel)


def both_ways(kernel):
    """Kernel of ``D(p, q) + D(q, p)``."""
    return functools.partial(_both_ways, kernel)


def bhattacharyya(renyi_kernel):
    """Bhattacharyya distance: half the Rényi divergence of order 1/2."""
    return functools.partial(_half_renyi_half, renyi_kernel)


def hellinger(renyi_kernel):
    """Hellinger distance ``sqrt(1 - exp(-Bhattacharyya))``."""
    return functools.partial(_hellinger_from_renyi, renyi_kernel)


# -- evaluation ----------------------------------------------------------------


def _identical(p: Operand, q: Operand) -> np.ndarray | None:
    """Which broadcast pairs are the very same Gaussian (None: no pair is)."""
    same_mean = (p.mean == q.mean).all(axis=-1)
    if not same_mean.any():
        return None
    cov_axes = (-2, -1) if p.structure == "full" else (-1,)
    return same_mean & (p.factor == q.factor).all(axis=cov_axes)


def check_singular(info, *operands: Operand) -> None:
    """Refuse singular covariances for a kind that needs them invertible."""
    if not info.accepts_singular and any(op.singular for op in operands):
        accepting = "'wasserstein'"
        raise ValueError(
            f"kind={info.name!r} needs positive definite covariances, but some "
            "are singular (Gaussians(..., allow_singular=True)); add a ridge "
            f"(e.g. reg_covar=1e-6) or use a kind defined for them ({accepting})."
        )


def compute(info, p: Operand, q: Operand, alpha) -> np.ndarray:
    """Values of the kind ``info`` on broadcast pairs of aligned operands."""
    check_singular(info, p, q)
    kernel = info.full if p.structure == "full" else info.diag
    # alpha is validated (get_divergence) only where it is used; elsewhere
    # any value is ignored, never converted.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        values = kernel(p, q, float(alpha) if info.uses_alpha else None)
    # D(p, p) = 0 exactly; BLAS solves multiply by reciprocals, which would
    # leave ~1e-30 residues instead.
    identical = _identical(p, q)
    if identical is not None:
        values = np.where(identical, 0.0, values)
    if not np.isfinite(values).all():
        raise overflow_error()
    return values


def compute_pairs(info, p: Operand, q: Operand, i, j, alpha) -> np.ndarray:
    """Values for the index pairs ``(p[i[k]], q[j[k]])`` (1-D index arrays)."""
    a, b = align(p.take(i), q.take(j))
    return compute(info, a, b, alpha)
