"""Divergence kernels shared by ``divergence``, ``pairwise`` and ``metric`` (internal).

Every kind is computed from validated operands (:class:`Operand`: means,
Cholesky factors or standard deviations, covariances, log-determinants) in
forms chosen per entry by a rounding-error bound. This module holds the
operands, KL (``A = L1^{-1} L0`` and ``z = L1^{-1}(m1 - m0)`` in a split whose
terms are all non-negative, so nearly equal Gaussians give small accurate
values), the kinds derived from others, and :func:`compute`, which every
caller goes through. The Rényi family is in ``skkl._renyi`` and the
2-Wasserstein distance in ``skkl._wasserstein``.

No inverse, no determinant. The registry in :mod:`skkl.divergence` binds
these kernels to kinds; ``pairwise`` evaluates them on batches of index
pairs through :func:`compute_pairs`.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from ._errors import InputError, Setting
from ._gaussians import (
    Gaussians,
    check_covariance_type,
    validate_covariances,
    validate_means,
)
from ._linalg import (
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
    "gather_pairs",
    "kl_diag",
    "kl_full",
    "operand_from_arrays",
    "operand_from_gaussians",
    "overflow_error",
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


def gather_pairs(mask, x0, x1, func, block_bytes: int):
    """``func(x0[k], x1[k])`` for the pairs where the broadcast ``mask`` holds.

    ``x0`` and ``x1`` are (..., d, d) stacks broadcasting to ``mask``'s shape;
    the selected pairs are gathered ``block_bytes`` of (d, d) matrices at a
    time, so a kernel call holding many pairs never copies all of them.
    """
    d = x0.shape[-1]
    mask = np.atleast_1d(mask)  # one pair: a batch of one
    idx = np.nonzero(mask)
    a = np.broadcast_to(x0, (*mask.shape, d, d))
    b = np.broadcast_to(x1, (*mask.shape, d, d))
    n = idx[0].size
    step = max(1, block_bytes // (8 * d * d))
    parts = []
    for lo in range(0, n, step):
        pick = tuple(i[lo : lo + step] for i in idx)
        parts.append(func(a[pick], b[pick]))
    return np.concatenate(parts) if parts else np.empty(0)


def _solve_vec(L: np.ndarray, v: np.ndarray) -> np.ndarray:
    return solve_lower(L, v[..., None])[..., 0]


def _diag(L: np.ndarray) -> np.ndarray:
    return L.diagonal(0, -2, -1)


def overflow_error(kind: str | None = None) -> ValueError:
    """The error for a value beyond float64, in the words of its cause.

    The divergences are scale invariant, so they overflow only when the
    Gaussians differ by an extreme factor; the squared 2-Wasserstein distance
    (``kind='wasserstein'``) scales with the square of the data and overflows
    when the distance itself exceeds float64's range.
    """
    if kind == "wasserstein":
        return ValueError(
            "the squared 2-Wasserstein distance overflows float64 (it exceeds "
            "~1.8e308): it scales with the square of the data, so rescale the "
            "data (e.g. divide it by its standard deviation) and multiply the "
            "result by the square of that factor."
        )
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
        raise InputError(
            "{kind} needs positive definite covariances, but some are singular "
            "(Gaussians(..., {allow})); add a ridge (e.g. {fix}) or use a kind "
            "defined for them ({other}).",
            argument="kind",
            kind=Setting("kind", info.name),
            allow=Setting("allow_singular", True),
            fix=Setting("reg_covar", 1e-6),
            other=Setting("kind", "wasserstein"),
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
        raise overflow_error(info.name)
    return values


def compute_pairs(info, p: Operand, q: Operand, i, j, alpha) -> np.ndarray:
    """Values for the index pairs ``(p[i[k]], q[j[k]])`` (1-D index arrays)."""
    a, b = align(p.take(i), q.take(j))
    return compute(info, a, b, alpha)
