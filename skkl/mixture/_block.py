"""A block of mixture pairs: its component matrices and what is reduced from them.

A list of mixtures is the concatenation of their components (:class:`MixtureSet`),
so every (row mixture, column mixture) pair of a block comes from the same
component matrices by segment reductions, with no Python loop over pairs.
:class:`Block` computes each component matrix on first use, so a method
pays only for the matrices its quantities read. The quantities here are the
approximations, the bounds and the log cross term that the method registry of
:mod:`._closed` combines.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from ._components import (
    cross_kl,
    cross_overlaps,
    kl_matrix,
    log_overlaps,
    log_self_overlap,
    seg_lse_cols,
    seg_lse_rows,
    seg_max_rows,
    seg_sum_cols,
    seg_sum_rows,
    self_kl,
    self_overlap,
    stacks_own_kl,
    stacks_own_overlaps,
)
from ._mixture import Mixture, concat_gaussians

__all__ = [
    "Block",
    "MixtureSet",
    "log_cross",
    "lower_bhattacharyya",
    "lower_jensen",
    "product",
    "upper_jensen",
    "upper_matched",
    "upper_variational",
    "variational",
]

# The variational bound's optimiser stops a pair when an accepted step gains
# less than this, relative to 1 + |bound|: every iterate is a valid bound, so
# the tolerance only decides how tight the returned one is; 1e-10 is below
# any difference a user could act on and above rounding (1e-16 per term).
_VUB_TOL = 1e-10
# Most pairs stop within 20 steps. The slowest found (50 overlapping
# components in 2-d, near-ties between couplings) are within 2e-7 nats of
# the optimal coupling's bound after this many, and still a valid bound.
_VUB_MAX_ITER = 200
# Mirror ascent with a multiplicative step: the first step is this many EM
# steps' worth, each accepted step multiplies it by _VUB_STEP_GROWTH, and a
# rejected one resets it to the monotone EM step (1). Steps only change the
# path, never the validity of the bound; this pair needed the fewest
# iterations on mixtures of 3-10 components (about 7, against 10 for 1 and 2).
_VUB_FIRST_STEP = 4.0
_VUB_STEP_GROWTH = 3.0


_ZERO = np.zeros(1, dtype=np.intp)  # segment starts of a single mixture


@dataclass
class MixtureSet:
    """A list of mixtures as one batch of components."""

    mixtures: list
    gaussians: object = field(repr=False)
    starts: np.ndarray
    sizes: np.ndarray
    weights: np.ndarray
    log_weights: np.ndarray

    @classmethod
    def of(cls, mixtures: list[Mixture]) -> MixtureSet:
        if len(mixtures) == 1:
            m = mixtures[0]
            return cls(
                mixtures,
                m.gaussians,
                _ZERO,
                np.array([len(m)]),
                m.weights,
                m.log_weights,
            )
        sizes = np.array([m.n_components for m in mixtures])
        starts = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(np.intp)
        weights = np.concatenate([m.weights for m in mixtures])
        log_weights = np.concatenate([m.log_weights for m in mixtures])
        return cls(
            mixtures,
            concat_gaussians([m.gaussians for m in mixtures]),
            starts,
            sizes,
            weights,
            log_weights,
        )

    def flat(self, per_mixture) -> np.ndarray:
        """``per_mixture(m)`` (one value per component) of every mixture, stacked."""
        if len(self.mixtures) == 1:
            return per_mixture(self.mixtures[0])
        return np.concatenate([per_mixture(m) for m in self.mixtures])

    def entropies(self) -> np.ndarray:
        return self.flat(lambda m: m.entropies)

    def log_self_overlaps(self) -> np.ndarray:
        """``log int f^2`` of each mixture, shape (n_mixtures,)."""
        return np.array([log_self_overlap(m) for m in self.mixtures])

    def ids(self) -> np.ndarray:
        return np.repeat(np.arange(len(self.mixtures)), self.sizes)

    def expand(self, X: np.ndarray, axis: int) -> np.ndarray:
        """Per-mixture values along ``axis`` repeated for each component."""
        if len(self.mixtures) == 1:
            return X  # one segment: broadcasting repeats it
        return np.repeat(X, self.sizes, axis=axis)


class Block:
    """Component matrices of row mixtures ``R`` against column mixtures ``C``.

    Each matrix is computed on first use and kept for the block's lifetime.
    """

    def __init__(self, R: MixtureSet, C: MixtureSet, working_memory=None):
        self.R, self.C, self.working_memory = R, C, working_memory

    @cached_property
    def kl(self) -> np.ndarray:
        """``KL(R_a || C_b)`` of every component pair."""
        if len(self.R.mixtures) == 1:  # and the row mixture's own, if missing
            return cross_kl(self.R.mixtures[0], self.C.gaussians)
        return kl_matrix(self.R.gaussians, self.C.gaussians)

    @cached_property
    def _overlaps(self):
        R, C, wm = self.R, self.C, self.working_memory
        if len(R.mixtures) == 1:
            return cross_overlaps(R.mixtures[0], C.gaussians, working_memory=wm)
        return log_overlaps(R.gaussians, C.gaussians, working_memory=wm)

    @property
    def log_overlap(self) -> np.ndarray:
        """``log int R_a C_b`` of every component pair."""
        return self._overlaps[0]

    @property
    def log_bhattacharyya(self) -> np.ndarray:
        """``log int sqrt(R_a C_b)`` of every component pair."""
        return self._overlaps[1]

    @cached_property
    def self_kl(self) -> np.ndarray:
        """:func:`._components.self_kl` of each row component, shape (M,)."""
        R, C = self.R, self.C
        if len(R.mixtures) == 1 and stacks_own_kl(R.mixtures[0], C.gaussians):
            _ = self.kl  # the row mixture's own KL matrix comes in the same call
        return R.flat(self_kl)

    @cached_property
    def self_overlap(self) -> np.ndarray:
        """:func:`._components.self_overlap` of each row component, shape (M,)."""
        R, C = self.R, self.C
        if len(R.mixtures) == 1 and stacks_own_overlaps(R.mixtures[0], C.gaussians):
            _ = self._overlaps  # its own overlaps come in the same call
        return R.flat(self_overlap)

    @cached_property
    def kl_to_g(self) -> np.ndarray:
        """``log sum_b v_b exp(-KL(R_a || C_b))`` per column mixture."""
        return seg_lse_cols(self.C.log_weights[None, :] - self.kl, self.C.starts)

    @cached_property
    def overlap_to_g(self) -> np.ndarray:
        """``log sum_b v_b int R_a C_b`` per column mixture."""
        return seg_lse_cols(
            self.C.log_weights[None, :] + self.log_overlap, self.C.starts
        )

    def weighted_sum(self, terms: np.ndarray) -> np.ndarray:
        """``sum_a w_a terms[a]`` over each row mixture: (n_rows, n_cols)."""
        return seg_sum_rows(self.R.weights[:, None] * terms, self.R.starts)


# -- quantities: each maps a Block to a (row mixtures x column mixtures) matrix --


def variational(b: Block) -> np.ndarray:
    """Hershey & Olsen's variational approximation of KL."""
    return b.weighted_sum(b.self_kl[:, None] - b.kl_to_g)


def product(b: Block) -> np.ndarray:
    """Hershey & Olsen's product-of-Gaussians approximation of KL."""
    return b.weighted_sum(b.self_overlap[:, None] - b.overlap_to_g)


def upper_jensen(b: Block) -> np.ndarray:
    """Jensen on E_f log f from above, variational Jensen on E_f log g from below.

    Durrieu, Thiran & Kelly (2012).
    """
    H = b.R.entropies()[:, None]
    terms = b.self_overlap[:, None] + H - b.kl_to_g
    return np.maximum(b.weighted_sum(terms), 0.0)


def lower_jensen(b: Block) -> np.ndarray:
    """The same two inequalities the other way round (Durrieu et al. 2012)."""
    H = b.R.entropies()[:, None]
    return b.weighted_sum(b.self_kl[:, None] - H - b.overlap_to_g)


def lower_bhattacharyya(b: Block) -> np.ndarray:
    """KL >= Rényi-1/2 = -2 log int sqrt(fg), and sqrt(sum) <= sum sqrt."""
    R, C = b.R, b.C
    X = 0.5 * (R.log_weights[:, None] + C.log_weights[None, :]) + b.log_bhattacharyya
    return -2.0 * seg_lse_rows(seg_lse_cols(X, C.starts), R.starts)


def log_cross(b: Block) -> np.ndarray:
    """``log int f g`` of every mixture pair."""
    return seg_lse_rows(b.R.log_weights[:, None] + b.overlap_to_g, b.R.starts)


def upper_matched(b: Block) -> np.ndarray:
    """Goldberger's matching, made a provable bound.

    Each row component a is matched to m(a) = argmin_b KL_ab - log v_b in
    each column mixture (Goldberger et al. 2003). The hard coupling phi_ab =
    w_a [b = m(a)], with psi sharing v_b among the components matched to it
    in proportion to w_a, is feasible for the variational bound, whose value
    is ``sum_a w_a (KL_a m(a) + log(W_m(a) / v_m(a)))``, ``W_b`` the weight
    matched to b. (Goldberger's ``log(w_a / v_m(a))`` is not a bound when
    two components share a match.)
    """
    R, C, KL = b.R, b.C, b.kl
    cost = KL - C.log_weights[None, :]
    ids = R.ids()
    n_rows = len(R.mixtures)
    out = np.empty((n_rows, len(C.mixtures)))
    for g, (s, k) in enumerate(zip(C.starts, C.sizes, strict=True)):
        m = s + np.argmin(cost[:, s : s + k], axis=1)
        key = ids * KL.shape[1] + m
        matched = np.bincount(key, weights=R.weights, minlength=n_rows * KL.shape[1])
        Wm = matched[key]
        terms = R.weights * (KL[np.arange(len(m)), m] + np.log(Wm) - C.log_weights[m])
        out[:, g] = seg_sum_rows(terms[:, None], R.starts)[:, 0]
    return np.maximum(out, 0.0)  # KL >= 0: clipping keeps a valid bound


def upper_variational(b: Block) -> np.ndarray:
    """Hershey & Olsen's variational upper bound, optimised for all pairs of a block.

    For couplings phi (row marginals w_a) and psi (column marginals v_b) of
    the component indices, KL(f || g) <= sum phi (log(phi / psi) + KL_ab)
    (log-sum inequality). With phi at its optimum for a given psi, the bound
    is ``sum_a w_a log w_a - F(pi)``, ``F(pi) = sum_a w_a log r_a``, ``r_a =
    sum_b v_b exp(-KL_ab) pi_ab``, over column-stochastic pi (``psi_ab =
    v_b pi_ab``): a concave maximisation, and a valid bound at every
    iterate. The multiplicative step ``pi_ab <- pi_ab g_ab^eta``
    (renormalised over a, ``g_ab = w_a exp(-KL_ab) / r_a``) is Hershey &
    Olsen's alternating minimisation at ``eta = 1``, which never decreases
    F; larger steps converge in far fewer iterations and are kept only when
    they increase F (mirror ascent with a growing step, back to ``eta = 1``
    after a rejection). Convex duality gives ``F* - F(pi) <= sum_b v_b max_a
    g_ab - 1``, so a pair stops once that gap, or the gain of an accepted
    step, is below the tolerance.
    """
    R, C, KL = b.R, b.C, b.kl
    rw, w = R.log_weights[:, None], R.weights[:, None]
    v = C.weights[None, :]
    base = C.log_weights[None, :] - KL  # log(v_b exp(-KL_ab))
    log_pi = np.broadcast_to(rw, KL.shape).copy()  # pi_ab = w_a: feasible
    row = seg_lse_cols(log_pi + base, C.starts)  # log r_a per column mixture
    F = seg_sum_rows(w * row, R.starts)
    entropy = seg_sum_rows(w * rw, R.starts)  # sum_a w_a log w_a
    eta = np.full_like(F, _VUB_FIRST_STEP)
    active = np.ones(F.shape, dtype=bool)
    for _ in range(_VUB_MAX_ITER):
        log_g = rw - C.expand(row, 1) - KL
        tol = _VUB_TOL * (1.0 + np.abs(entropy - F))
        gap = seg_sum_cols(v * np.exp(seg_max_rows(log_g, R.starts)), C.starts)
        active &= gap > 1.0 + tol
        if not active.any():
            break
        trial = log_pi + R.expand(C.expand(eta, 1), 0) * log_g
        trial -= R.expand(seg_lse_rows(trial, R.starts), 0)
        trial_row = seg_lse_cols(trial + base, C.starts)
        trial_F = seg_sum_rows(w * trial_row, R.starts)
        # Per pair: a pair's iterates never depend on the other pairs of the
        # block, and freezing it once converged keeps the result independent
        # of how pairs are blocked.
        better = active & (trial_F >= F)
        log_pi = np.where(R.expand(C.expand(better, 1), 0), trial, log_pi)
        row = np.where(R.expand(better, 0), trial_row, row)
        # Stop on a small gain; a rejected step at eta = 1 (the monotone EM
        # step) is rounding, nothing is left to gain.
        active &= np.where(better, trial_F - F > tol, eta > 1.0)
        F = np.where(better, trial_F, F)
        eta = np.where(better, _VUB_STEP_GROWTH * eta, 1.0)
    return np.maximum(entropy - F, 0.0)
