"""The divergence registry and the pointwise functions, broadcasting over batches.

Every kind is one :class:`DivergenceInfo` record in :data:`DIVERGENCES`
(modelled on ``scipy.spatial.distance``'s ``MetricInfo``): its kernels, its
properties and how the all-pairs engine evaluates it, so that a new
divergence is added here and nowhere else. The kernels themselves live in
the internal module ``skkl._kernels`` (stable forms chosen per entry by a
rounding-error bound; see the user guide for the derivations).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from . import _kernels as kernels
from ._errors import InputError, Setting
from ._gaussians import Gaussians
from ._renyi import renyi_diag, renyi_full
from ._validation import check_real
from ._wasserstein import wasserstein_diag, wasserstein_full

__all__ = ["DIVERGENCES", "DivergenceInfo", "divergence", "kl_divergence"]


@dataclass(frozen=True, kw_only=True)
class DivergenceInfo:
    """One divergence: its name, kernels and properties (a registry record).

    Built with keywords only. Everything the package needs to know about a
    kind is here: :func:`divergence`, :func:`skkl.pairwise_divergence` and
    :class:`skkl.KLMetric` dispatch on these fields.

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
    gemm_directions : tuple of {'fwd', 'rev'}
        For the KL family, the all-pairs matrix is one matrix product per
        block: 'fwd' is KL(P_i || Q_j), 'rev' is KL(Q_j || P_i), and the
        entry is the sum over the listed directions. Empty: the all-pairs
        engine evaluates the kernels on batches of index pairs.
    accepts_singular : bool
        Whether the kind is defined for singular (positive semi-definite)
        covariances, ``Gaussians(..., allow_singular=True)``.

    Examples
    --------
    >>> from skkl import DIVERGENCES
    >>> info = DIVERGENCES["renyi"]
    >>> info.uses_alpha, info.is_symmetric(0.5), info.is_symmetric(2.0)
    (True, True, False)
    >>> sorted(k for k, v in DIVERGENCES.items() if v.symmetric)
    ['bhattacharyya', 'hellinger', 'jeffreys', 'wasserstein']
    >>> DIVERGENCES["jeffreys"].gemm_directions
    ('fwd', 'rev')
    """

    name: str
    full: Callable
    diag: Callable
    symmetric: bool
    uses_alpha: bool = False
    description: str
    gemm_directions: tuple[str, ...] = ()
    accepts_singular: bool = False

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


_DESCRIPTIONS = {
    "kl": "Kullback-Leibler KL(p || q)",
    "reverse_kl": "reverse Kullback-Leibler KL(q || p)",
    "jeffreys": "Jeffreys divergence KL(p || q) + KL(q || p)",
    "bhattacharyya": "Bhattacharyya distance -log of the Bhattacharyya coefficient",
    "hellinger": "Hellinger distance sqrt(1 - exp(-Bhattacharyya)), in [0, 1]",
    "renyi": "Renyi divergence of order alpha > 0 (alpha=1 is KL)",
    "wasserstein": "squared 2-Wasserstein distance",
}


def _record(name, pair, wrap=None, *, symmetric=False, **properties):
    """Registry record with the (full, diag) kernels ``pair``, each ``wrap``-ped."""
    full, diag = pair if wrap is None else (wrap(kernel) for kernel in pair)
    return DivergenceInfo(
        name=name,
        full=full,
        diag=diag,
        symmetric=symmetric,
        description=_DESCRIPTIONS[name],
        **properties,
    )


_KL = (kernels.kl_full, kernels.kl_diag)
_RENYI = (renyi_full, renyi_diag)
_BOTH = ("fwd", "rev")

_REGISTRY = [
    _record("kl", _KL, gemm_directions=("fwd",)),
    _record("reverse_kl", _KL, kernels.reverse, gemm_directions=("rev",)),
    _record("jeffreys", _KL, kernels.both_ways, symmetric=True, gemm_directions=_BOTH),
    _record("bhattacharyya", _RENYI, kernels.bhattacharyya, symmetric=True),
    _record("hellinger", _RENYI, kernels.hellinger, symmetric=True),
    _record("renyi", _RENYI, uses_alpha=True),
    _record(
        "wasserstein",
        (wasserstein_full, wasserstein_diag),
        symmetric=True,
        accepts_singular=True,
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
        raise InputError(
            "{argument} must be one of {kinds}, got {value!r}.",
            argument="kind",
            kinds=sorted(DIVERGENCES),
            value=kind,
        )
    if info.uses_alpha:
        check_real(
            alpha,
            "alpha",
            strict=True,
            hint=" for {kind} ({one} is KL)",
            kind=Setting("kind", kind),
            one=Setting("alpha", 1),
        )
    return info


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
    p, q = kernels.align(
        kernels.as_operand(p, covariance_type, "p"),
        kernels.as_operand(q, covariance_type, "q"),
    )
    return kernels.compute(info, p, q, alpha)[()]


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
    p = kernels.operand_from_arrays(m0, S0, covariance_type, "m0", "S0")
    q = kernels.operand_from_arrays(m1, S1, covariance_type, "m1", "S1")
    p, q = kernels.align(p, q, names=("(m0, S0)", "(m1, S1)"))
    return kernels.compute(DIVERGENCES["kl"], p, q, None)[()]
