"""Approximations, bounds and closed forms between mixtures, one pair or all.

Every quantity is a reduction of the component matrices of
:mod:`._components`; a list of mixtures is the concatenation of their
components, so all pairs of a block of mixtures come from the same matrices
(segment reductions, no Python loop over pairs).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral, Real

import numpy as np
from sklearn import get_config
from sklearn.utils._param_validation import Interval, StrOptions, validate_params
from sklearn.utils.parallel import Parallel, delayed

from ._components import (
    kl_matrix,
    log_overlaps,
    seg_lse_cols,
    seg_lse_rows,
    seg_sum_rows,
    self_terms,
)
from ._mixture import Mixture, as_mixture, check_pair, concat_gaussians

__all__ = [
    "METHODS",
    "MixtureKLBounds",
    "mixture_divergence",
    "mixture_kl_bounds",
    "pairwise_mixture_divergence",
]

#: What each ``method=`` computes (see the user guide for references).
METHODS = {
    "kl_variational": "variational approximation of KL (Hershey & Olsen 2007)",
    "kl_product": "product-of-Gaussians approximation of KL (Hershey & Olsen 2007)",
    "kl_upper": "best provable upper bound on KL (min of the upper bounds)",
    "kl_lower": "best provable lower bound on KL (max of the lower bounds, >= 0)",
    "cauchy_schwarz": "Cauchy-Schwarz divergence (exact, closed form)",
    "l2_squared": "squared L2 distance int (f - g)^2 (exact, closed form)",
}
_UPPER = ("variational", "matched", "jensen")
_LOWER = ("jensen", "bhattacharyya")
# Quantities each public method needs.
_NEEDS = {
    "kl_variational": {"variational"},
    "kl_product": {"product"},
    "kl_upper": {f"upper_{n}" for n in _UPPER},
    "kl_lower": {f"lower_{n}" for n in _LOWER},
    "cauchy_schwarz": {"log_cross"},
    "l2_squared": {"log_cross"},
}
_VUB_MAX_ITER = 100
_VUB_TOL = 1e-10
# Entries per (row component x column component) held while a block runs.
_BLOCK_ENTRY_BYTES = 8 * 8


@dataclass
class _Set:
    """A list of mixtures as one batch of components."""

    mixtures: list
    gaussians: object = field(repr=False)
    starts: np.ndarray
    weights: np.ndarray
    log_weights: np.ndarray

    @classmethod
    def of(cls, mixtures):
        sizes = np.array([m.n_components for m in mixtures])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        return cls(
            mixtures,
            concat_gaussians(mixtures),
            starts,
            np.concatenate([m.weights for m in mixtures]),
            np.concatenate([m.log_weights for m in mixtures]),
        )

    @property
    def sizes(self):
        return np.array([m.n_components for m in self.mixtures])

    def flat(self, key):
        return np.concatenate([self_terms(m)[key] for m in self.mixtures])

    def entropies(self):
        return np.concatenate([m.entropies for m in self.mixtures])

    def log_sq(self):
        return np.array([self_terms(m)["log_sq"] for m in self.mixtures])

    def ids(self):
        return np.repeat(np.arange(len(self.mixtures)), self.sizes)


def _variational_upper(R: _Set, C: _Set, KL: np.ndarray):
    """Hershey & Olsen's variational upper bound, all pairs of a block.

    For couplings phi (row marginals w_a) and psi (column marginals v_b) of
    the component indices, KL(f || g) <= sum phi (log(phi / psi) + KL_ab)
    (log-sum inequality). Alternating exact minimisation over phi and psi
    decreases it monotonically; after each phi step the value is
    ``sum_a w_a (log w_a - lse_b(log psi_ab - KL_ab))``, a valid bound at
    every iterate, and the smallest is returned.
    """
    rw, rs = R.log_weights[:, None], R.starts
    cw, cs = C.log_weights[None, :], C.starts
    rsz, csz = R.sizes, C.sizes
    log_psi = rw + cw
    best = active = None
    for _ in range(_VUB_MAX_ITER):
        T = log_psi - KL
        row = seg_lse_cols(T, cs)  # (N_r, M_c)
        value = seg_sum_rows(R.weights[:, None] * (rw - row), rs)
        if best is None:
            best, active = value, np.ones(value.shape, dtype=bool)
        else:
            # Per pair: a pair's iterates never depend on the other pairs of
            # the block, and freezing it once converged keeps the result
            # independent of how pairs are blocked.
            gain = best - value
            best = np.where(active, np.minimum(best, value), best)
            active &= gain > _VUB_TOL * (1.0 + np.abs(best))
            if not active.any():
                break
        log_phi = rw + T - np.repeat(row, csz, axis=1)
        col = seg_lse_rows(log_phi, rs)  # (M_r, N_c)
        log_psi = cw + log_phi - np.repeat(col, rsz, axis=0)
    return np.maximum(best, 0.0)


def _matched_upper(R: _Set, C: _Set, KL: np.ndarray):
    """Goldberger's matching, made a provable bound.

    Each row component a is matched to m(a) = argmin_b KL_ab - log v_b in
    each column mixture (Goldberger et al. 2003). The hard coupling phi_ab =
    w_a [b = m(a)], with psi sharing v_b among the components matched to b in
    proportion to w_a, is feasible for the variational bound, whose value is
    ``sum_a w_a (KL_a m(a) + log(W_m(a) / v_m(a)))``, ``W_b`` the weight
    matched to b. (Goldberger's ``log(w_a / v_m(a))`` is not a bound when two
    components share a match.)
    """
    cost = KL - C.log_weights[None, :]
    ids = R.ids()
    n_rows = len(R.mixtures)
    out = np.empty((n_rows, len(C.mixtures)))
    for g, (s, k) in enumerate(zip(C.starts, C.sizes, strict=True)):
        b = s + np.argmin(cost[:, s : s + k], axis=1)
        key = ids * KL.shape[1] + b
        matched = np.bincount(key, weights=R.weights, minlength=n_rows * KL.shape[1])
        Wb = matched[key]
        terms = R.weights * (KL[np.arange(len(b)), b] + np.log(Wb) - C.log_weights[b])
        out[:, g] = seg_sum_rows(terms[:, None], R.starts)[:, 0]
    return np.maximum(out, 0.0)  # KL >= 0: clipping keeps a valid bound


def _block(R: _Set, C: _Set, needs: set, working_memory) -> dict:
    """Requested quantities for every (row mixture, column mixture) pair."""
    out = {}
    want_kl = needs & {
        "variational",
        "upper_variational",
        "upper_matched",
        "upper_jensen",
    }
    want_z = needs & {"product", "upper_jensen", "lower_jensen", "log_cross"}
    want_bc = "lower_bhattacharyya" in needs
    w = R.weights[:, None]
    cw = C.log_weights[None, :]
    KL = kl_matrix(R.gaussians, C.gaussians) if want_kl else None
    Z = BC = None
    if want_z or want_bc:
        Z, BC = log_overlaps(R.gaussians, C.gaussians, working_memory=working_memory)
    kl_to_g = seg_lse_cols(cw - KL, C.starts) if KL is not None else None
    z_to_g = seg_lse_cols(cw + Z, C.starts) if want_z else None
    if "variational" in needs:
        out["variational"] = seg_sum_rows(
            w * (R.flat("kl")[:, None] - kl_to_g), R.starts
        )
    if "product" in needs:
        ov = R.flat("overlap")[:, None]
        out["product"] = seg_sum_rows(w * (ov - z_to_g), R.starts)
    if "upper_jensen" in needs:
        # Jensen on E_f log f from above, variational Jensen on E_f log g from
        # below (Durrieu, Thiran & Kelly 2012).
        H = R.entropies()[:, None]
        ov = R.flat("overlap")[:, None]
        out["upper_jensen"] = np.maximum(
            seg_sum_rows(w * (ov + H - kl_to_g), R.starts), 0.0
        )
    if "lower_jensen" in needs:
        H = R.entropies()[:, None]
        out["lower_jensen"] = seg_sum_rows(
            w * (R.flat("kl")[:, None] - H - z_to_g), R.starts
        )
    if "lower_bhattacharyya" in needs:
        # KL >= Renyi-1/2 = -2 log int sqrt(fg), and sqrt(sum) <= sum sqrt.
        X = 0.5 * (R.log_weights[:, None] + cw) + BC
        lse = seg_lse_rows(seg_lse_cols(X, C.starts), R.starts)
        out["lower_bhattacharyya"] = -2.0 * lse
    if "upper_variational" in needs:
        out["upper_variational"] = _variational_upper(R, C, KL)
    if "upper_matched" in needs:
        out["upper_matched"] = _matched_upper(R, C, KL)
    if "log_cross" in needs:
        out["log_cross"] = seg_lse_rows(R.log_weights[:, None] + z_to_g, R.starts)
    return out


def _finish(method: str, q: dict, R: _Set, C: _Set) -> np.ndarray:
    """The public method's matrix from the block quantities."""
    if method == "kl_variational":
        return q["variational"]
    if method == "kl_product":
        return q["product"]
    if method == "kl_upper":
        return np.minimum.reduce([q[f"upper_{n}"] for n in _UPPER])
    if method == "kl_lower":
        return np.maximum(np.maximum.reduce([q[f"lower_{n}"] for n in _LOWER]), 0.0)
    sq_r, sq_c = R.log_sq()[:, None], C.log_sq()[None, :]
    cross = q["log_cross"]
    if method == "cauchy_schwarz":
        return np.maximum(0.5 * (sq_r + sq_c) - cross, 0.0)
    # l2_squared: int f^2 + int g^2 - 2 int fg, scaled by the largest term.
    top = np.maximum(np.maximum(sq_r, sq_c), cross)
    if np.any(top > 700.0) or np.any(np.minimum(sq_r, sq_c) < -700.0):
        raise ValueError(
            "the squared L2 distance is out of float64 range here (int f^2 is "
            "about exp(+-700) or beyond: very small or very large densities); "
            "rescale the data (e.g. StandardScaler) or use method="
            "'cauchy_schwarz', which is scale free."
        )
    scaled = np.exp(sq_r - top) + np.exp(sq_c - top) - 2.0 * np.exp(cross - top)
    return np.exp(top) * np.maximum(scaled, 0.0)


def _run_block(R_mixtures, C: _Set, needs, working_memory):
    R = _Set.of(R_mixtures)
    return _block(R, C, needs, working_memory), R


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
        "method": [StrOptions(set(METHODS))],
        "n_jobs": [Integral, None],
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
    Blocks are sized from ``working_memory`` and run through scikit-learn's
    ``Parallel``.

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
        joblib workers over row blocks.
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
    C = _Set.of(cols)
    needs = _NEEDS[method]
    blocks = _row_blocks(rows, len(C.gaussians), working_memory)
    tasks = [
        delayed(_run_block)(rows[s:e], C, needs, working_memory) for s, e in blocks
    ]
    results = Parallel(n_jobs=n_jobs)(tasks)
    out = np.vstack([_finish(method, q, R, C) for q, R in results])
    if Q is None:
        np.fill_diagonal(out, 0.0)  # exact: D(f, f) = 0 for every method
    return out


@validate_params(
    {
        "p": "no_validation",
        "q": "no_validation",
        "method": [StrOptions(set(METHODS))],
    },
    prefer_skip_nested_validation=True,
)
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
        ``int (p - q)^2``, both exact.

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
    p, q = check_pair(p, q)
    R, C = _Set.of([p]), _Set.of([q])
    values = _block(R, C, _NEEDS[method], None)
    return float(_finish(method, values, R, C)[0, 0])


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
    R, C = _Set.of([p]), _Set.of([q])
    needs = _NEEDS["kl_upper"] | _NEEDS["kl_lower"]
    v = _block(R, C, needs, None)
    upper = {n: float(v[f"upper_{n}"][0, 0]) for n in _UPPER}
    lower = {n: float(v[f"lower_{n}"][0, 0]) for n in _LOWER}
    lower["zero"] = 0.0
    return MixtureKLBounds(
        lower=max(lower.values()),
        upper=min(upper.values()),
        lower_bounds=lower,
        upper_bounds=upper,
    )
