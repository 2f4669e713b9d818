"""Approximations, bounds and closed forms between mixtures, one pair or all.

Every ``method=`` is one :class:`MethodInfo` record in :data:`METHODS`, and
every bound on KL one ``_BoundInfo`` record in ``_BOUNDS`` (both built with
keywords, as :class:`skkl.DivergenceInfo` and ``scipy.spatial.distance``'s
``MetricInfo``): :func:`mixture_divergence`,
:func:`pairwise_mixture_divergence` and :func:`mixture_kl_bounds` dispatch on
them and nowhere else. A record's ``evaluate`` reduces a :class:`._block.Block`
(the component matrices of a block of mixture pairs, each computed on first
use) to the matrix of the method's values.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from sklearn import get_config
from sklearn.utils._param_validation import Interval, validate_params
from sklearn.utils.parallel import Parallel, delayed

from .._blas import runs_inline
from .._errors import InputError
from . import _block as q
from ._block import Block, MixtureSet
from ._mixture import Mixture, as_mixture, check_pair

__all__ = [
    "METHODS",
    "MethodInfo",
    "MixtureKLBounds",
    "mixture_divergence",
    "mixture_kl_bounds",
    "pairwise_mixture_divergence",
]

_LOG_2 = float(np.log(2.0))
# exp() of a log-integral is a normal float64 only inside this range: above
# the log of the largest double it overflows, below the log of the smallest
# normal double it loses digits (subnormal) and then underflows to 0.
_LOG_MAX = float(np.log(np.finfo(np.float64).max))
_LOG_TINY = float(np.log(np.finfo(np.float64).tiny))
# Bytes held per (row component x column component) entry while a block
# runs: the three component matrices and the optimiser's five working copies.
_BLOCK_ENTRY_BYTES = 8 * 8


@dataclass(frozen=True, kw_only=True)
class _BoundInfo:
    """One provable bound on KL(f || g): which side, how it is computed."""

    name: str
    side: str  # 'lower' or 'upper'
    compute: Callable[[Block], np.ndarray]


_BOUNDS = (
    _BoundInfo(name="variational", side="upper", compute=q.upper_variational),
    _BoundInfo(name="matched", side="upper", compute=q.upper_matched),
    _BoundInfo(name="jensen", side="upper", compute=q.upper_jensen),
    _BoundInfo(name="jensen", side="lower", compute=q.lower_jensen),
    _BoundInfo(name="bhattacharyya", side="lower", compute=q.lower_bhattacharyya),
)


def _bounds(side: str) -> tuple[_BoundInfo, ...]:
    return tuple(b for b in _BOUNDS if b.side == side)


def _best_upper(b: Block) -> np.ndarray:
    return np.minimum.reduce([bound.compute(b) for bound in _bounds("upper")])


def _best_lower(b: Block) -> np.ndarray:
    values = [bound.compute(b) for bound in _bounds("lower")]
    return np.maximum(np.maximum.reduce(values), 0.0)  # and the bound 'zero'


def _log_self_overlaps(b: Block):
    return b.R.log_self_overlaps()[:, None], b.C.log_self_overlaps()[None, :]


def _cauchy_schwarz(b: Block) -> np.ndarray:
    sq_r, sq_c = _log_self_overlaps(b)
    return np.maximum(0.5 * (sq_r + sq_c) - q.log_cross(b), 0.0)


def _l2_squared(b: Block) -> np.ndarray:
    # int f^2 + int g^2 - 2 int fg, each exp(log term - top) <= 1.
    sq_r, sq_c = _log_self_overlaps(b)
    cross = q.log_cross(b)
    top = np.maximum(np.maximum(sq_r, sq_c), cross)
    if np.any(top + _LOG_2 > _LOG_MAX) or np.any(np.minimum(sq_r, sq_c) < _LOG_TINY):
        raise ValueError(
            "the squared L2 distance is out of float64 range here (int f^2 is "
            f"about exp(+-{_LOG_MAX:.0f}) or beyond: very small or very large "
            "densities); rescale the data (e.g. StandardScaler) or use method="
            "'cauchy_schwarz', which is scale free."
        )
    scaled = np.exp(sq_r - top) + np.exp(sq_c - top) - 2.0 * np.exp(cross - top)
    return np.exp(top) * np.maximum(scaled, 0.0)


@dataclass(frozen=True, kw_only=True)
class MethodInfo:
    """One ``method=`` of the mixture divergences (a registry record).

    Built with keywords only. :func:`mixture_divergence` and
    :func:`pairwise_mixture_divergence` dispatch on these fields alone.

    Attributes
    ----------
    name : str
        The ``method=`` argument.
    description : str
        One line for documentation.
    kind : {'approximation', 'upper bound', 'lower bound', 'exact'}
        What the value is: an approximation of KL (neither a bound nor an
        estimate with an error), a provable bound on KL, or an exact closed
        form of its own divergence.
    symmetric : bool
        Whether D(f, g) == D(g, f) for every pair.
    evaluate : callable
        ``evaluate(block) -> ndarray`` of shape (row mixtures, column
        mixtures), from the block's component matrices.

    Examples
    --------
    >>> from skkl.mixture import METHODS
    >>> METHODS["kl_upper"].kind
    'upper bound'
    >>> sorted(name for name, info in METHODS.items() if info.symmetric)
    ['cauchy_schwarz', 'l2_squared']
    """

    name: str
    description: str
    kind: str
    symmetric: bool = False
    evaluate: Callable[[Block], np.ndarray]


_REGISTRY = [
    MethodInfo(
        name="kl_variational",
        description="variational approximation of KL (Hershey & Olsen 2007)",
        kind="approximation",
        evaluate=q.variational,
    ),
    MethodInfo(
        name="kl_product",
        description="product-of-Gaussians approximation of KL (Hershey & Olsen 2007)",
        kind="approximation",
        evaluate=q.product,
    ),
    MethodInfo(
        name="kl_upper",
        description="best provable upper bound on KL (min of the upper bounds)",
        kind="upper bound",
        evaluate=_best_upper,
    ),
    MethodInfo(
        name="kl_lower",
        description="best provable lower bound on KL (max of the lower bounds, >= 0)",
        kind="lower bound",
        evaluate=_best_lower,
    ),
    MethodInfo(
        name="cauchy_schwarz",
        description="Cauchy-Schwarz divergence (exact, closed form)",
        kind="exact",
        symmetric=True,
        evaluate=_cauchy_schwarz,
    ),
    MethodInfo(
        name="l2_squared",
        description="squared L2 distance int (f - g)^2 (exact, closed form)",
        kind="exact",
        symmetric=True,
        evaluate=_l2_squared,
    ),
]

#: Registry of the ``method=`` values, keyed by name (see the user guide).
METHODS: dict[str, MethodInfo] = {info.name: info for info in _REGISTRY}


def _method(method) -> MethodInfo:
    """The registry record of ``method``, or an error naming the argument."""
    info = METHODS.get(method) if isinstance(method, str) else None
    if info is None:
        raise InputError(
            "{argument} must be one of {names}, got {value!r}.",
            argument="method",
            names=", ".join(repr(name) for name in METHODS),
            value=method,
        )
    return info


def _row_blocks(mixtures, n_col_components, working_memory):
    wm = get_config()["working_memory"] if working_memory is None else working_memory
    budget = max(1, int(wm * 2**20 / (_BLOCK_ENTRY_BYTES * n_col_components)))
    blocks, start, count = [], 0, 0
    for i, m in enumerate(mixtures):
        if count and count + m.n_components > budget:
            blocks.append((start, i))
            start, count = i, 0
        count += m.n_components
    blocks.append((start, len(mixtures)))
    return blocks


def _evaluate_rows(info: MethodInfo, rows, C: MixtureSet, working_memory):
    return info.evaluate(Block(MixtureSet.of(rows), C, working_memory))


def _check_list(mixtures, name: str) -> list[Mixture]:
    if isinstance(mixtures, Mixture) or not isinstance(mixtures, Sequence):
        raise TypeError(
            f"{name} must be a list of skkl.Mixture (or fitted mixture "
            f"estimators), got {type(mixtures).__name__}."
        )
    if len(mixtures) == 0:
        raise ValueError(f"{name} is empty; pass at least one mixture.")
    out = [as_mixture(m, f"{name}[{i}]") for i, m in enumerate(mixtures)]
    d = out[0].n_features
    for i, m in enumerate(out):
        if m.n_features != d:
            raise ValueError(
                f"{name}[{i}] has {m.n_features} features but {name}[0] has {d}; "
                "mixtures must live in the same dimension."
            )
    return out


@validate_params(
    {
        "P": ["array-like"],
        "Q": ["array-like", None],
        "method": "no_validation",  # _method: the registry as it is at call time
        "n_jobs": [
            Interval(Integral, None, -1, closed="right"),
            Interval(Integral, 1, None, closed="left"),
            None,
        ],
        "working_memory": [Interval(Real, 0, None, closed="neither"), None],
    },
    prefer_skip_nested_validation=True,
)
def pairwise_mixture_divergence(
    P: Sequence,
    Q: Sequence | None = None,
    method: str = "kl_variational",
    *,
    n_jobs: int | None = None,
    working_memory: float | None = None,
) -> np.ndarray:
    """Matrix of divergences between every pair of mixtures in two lists.

    The components of all mixtures are stacked: one
    :func:`skkl.pairwise_divergence` GEMM (and, for the overlap-based
    methods, one batched factorisation per component pair) per block of row
    mixtures gives every mixture pair of the block by segment reductions.
    Blocks are sized from ``working_memory``; when there is enough work they
    run through scikit-learn's ``Parallel``.

    Parameters
    ----------
    P : list of Mixture (or fitted GaussianMixture / GroupGaussians)
        Row mixtures (e.g. one per user or per day).
    Q : list of Mixture, default=None
        Column mixtures; None means ``Q = P`` (diagonal exactly 0).
    method : str, default='kl_variational'
        One of :data:`skkl.mixture.METHODS`: 'kl_variational', 'kl_product'
        (approximations of KL(P[i] || Q[j])), 'kl_upper', 'kl_lower'
        (provable bounds on it), 'cauchy_schwarz', 'l2_squared' (exact).
    n_jobs : int, default=None
        joblib workers over row blocks (not 0).
    working_memory : float, default=None
        MiB of intermediates per block; None uses scikit-learn's setting.

    Returns
    -------
    D : ndarray of shape (len(P), len(Q))

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import Gaussians, Mixture, pairwise_mixture_divergence
    >>> G = Gaussians([[0.0], [3.0]], [1.0, 1.0], "spherical")
    >>> mixes = [Mixture([w, 1 - w], G) for w in (0.2, 0.5, 0.8)]
    >>> pairwise_mixture_divergence(mixes, method="cauchy_schwarz").round(4)
    array([[0.    , 0.1278, 0.6001],
           [0.1278, 0.    , 0.1278],
           [0.6001, 0.1278, 0.    ]])
    """
    rows = _check_list(P, "P")
    cols = rows if Q is None else _check_list(Q, "Q")
    if rows[0].n_features != cols[0].n_features:
        raise ValueError(
            f"P has {rows[0].n_features} features but Q has {cols[0].n_features}."
        )
    info = _method(method)
    C = MixtureSet.of(cols)
    n_row_components = sum(m.n_components for m in rows)
    blocks = _row_blocks(rows, len(C.gaussians), working_memory)
    # Work grows as component pairs times a factorisation of each pair.
    flops = n_row_components * len(C.gaussians) * rows[0].n_features ** 3
    if len(blocks) == 1 or runs_inline(flops):
        parts = [_evaluate_rows(info, rows[s:e], C, working_memory) for s, e in blocks]
    else:
        parts = Parallel(n_jobs=n_jobs)(
            delayed(_evaluate_rows)(info, rows[s:e], C, working_memory)
            for s, e in blocks
        )
    out = np.vstack(parts)
    if Q is None:
        np.fill_diagonal(out, 0.0)  # exact: D(f, f) = 0 for every method
    return out


def mixture_divergence(p, q, method: str = "kl_variational") -> float:
    """A divergence between two Gaussian mixtures, approximate, bounded or exact.

    Parameters
    ----------
    p, q : Mixture or fitted GaussianMixture / BayesianGaussianMixture / GroupGaussians
        Mixtures of the same dimension.
    method : str, default='kl_variational'
        'kl_variational' and 'kl_product': approximations of KL(p || q)
        (Hershey & Olsen 2007; neither is a bound); 'kl_upper' and
        'kl_lower': the best of the provable bounds of
        :func:`mixture_kl_bounds`; 'cauchy_schwarz': the Cauchy-Schwarz
        divergence ``-log(int pq / sqrt(int p^2 int q^2))`` and 'l2_squared':
        ``int (p - q)^2``, both exact. :data:`skkl.mixture.METHODS` describes
        each.

    Returns
    -------
    value : float

    See Also
    --------
    mixture_kl_monte_carlo : KL with an error bar.
    mixture_kl_bounds : Every bound, by name.

    Examples
    --------
    >>> from skkl import Gaussians, Mixture, mixture_divergence
    >>> f = Mixture([0.5, 0.5], Gaussians([[-2.0], [2.0]], [1.0, 1.0], "spherical"))
    >>> g = Mixture([1.0], Gaussians([[0.0]], [4.0], "spherical"))
    >>> round(mixture_divergence(f, g), 4)  # quadrature gives KL = 0.1854
    0.1253
    >>> lo = mixture_divergence(f, g, "kl_lower")
    >>> hi = mixture_divergence(f, g, "kl_upper")
    >>> bool(lo <= 0.1854 <= hi)
    True
    >>> round(mixture_divergence(f, g, "cauchy_schwarz"), 4)
    0.1741
    """
    info = _method(method)
    p, q = check_pair(p, q)
    return float(info.evaluate(Block(MixtureSet.of([p]), MixtureSet.of([q])))[0, 0])


@dataclass(frozen=True)
class MixtureKLBounds:
    """Provable bounds on KL(p || q) between two Gaussian mixtures.

    Attributes
    ----------
    lower, upper : float
        The best (largest lower, smallest upper) of the bounds below.
    lower_bounds : dict
        'jensen' (Durrieu, Thiran & Kelly 2012), 'bhattacharyya' (Rényi
        order 1/2 <= KL, Bhattacharyya coefficient bounded by the
        component sum) and 'zero'.
    upper_bounds : dict
        'variational' (Hershey & Olsen 2007, optimised coupling),
        'matched' (Goldberger et al. 2003 matching as a coupling) and
        'jensen' (Durrieu, Thiran & Kelly 2012).
    """

    lower: float
    upper: float
    lower_bounds: dict
    upper_bounds: dict

    @property
    def midpoint(self) -> float:
        """``(lower + upper) / 2``."""
        return 0.5 * (self.lower + self.upper)

    def __repr__(self) -> str:
        from .._display import bounds_text  # loads on first use

        return bounds_text(self)

    def _repr_html_(self) -> str:
        from .._display import bounds_html  # loads on first use

        return bounds_html(self)


def mixture_kl_bounds(p, q) -> MixtureKLBounds:
    """Lower and upper bounds that provably bracket KL(p || q).

    Each bound holds in exact arithmetic for any pair of mixtures (see the
    user guide for the derivation and reference of each); none is an
    estimate.

    Parameters
    ----------
    p, q : Mixture or fitted GaussianMixture / BayesianGaussianMixture / GroupGaussians

    Returns
    -------
    bounds : MixtureKLBounds

    Examples
    --------
    >>> from skkl import Gaussians, Mixture, mixture_kl_bounds
    >>> f = Mixture([0.5, 0.5], Gaussians([[-2.0], [2.0]], [1.0, 1.0], "spherical"))
    >>> g = Mixture([0.3, 0.7], Gaussians([[-2.0], [2.5]], [1.0, 1.5], "spherical"))
    >>> b = mixture_kl_bounds(f, g)
    >>> bool(0 <= b.lower <= b.upper)
    True
    >>> sorted(b.upper_bounds)
    ['jensen', 'matched', 'variational']
    """
    p, q = check_pair(p, q)
    block = Block(MixtureSet.of([p]), MixtureSet.of([q]))
    found = {
        side: {b.name: float(b.compute(block)[0, 0]) for b in _bounds(side)}
        for side in ("lower", "upper")
    }
    found["lower"]["zero"] = 0.0
    return MixtureKLBounds(
        lower=max(found["lower"].values()),
        upper=min(found["upper"].values()),
        lower_bounds=found["lower"],
        upper_bounds=found["upper"],
    )
