"""The mixture engine: its registry, its small-input paths and its optimiser.

- The ``METHODS`` registry (issue 26): one record per method, keyword-built,
  that every dispatch reads; a new record reaches every public function.
- Small inputs (issue 25): no joblib, thread pool or threadpool-limit context
  below ``runs_inline``; the tiny-KL path (pointwise kernels) agrees with
  mpmath and with ``pairwise_divergence``; the matrices a row mixture needs
  for itself, computed in the same call as the cross ones, equal the separate
  computation; threaded and inline factorisations agree.
- The variational upper bound against an independent reference: Hershey &
  Olsen's alternating minimisation written out here from its definition,
  on component KL divergences computed with mpmath.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from _builders import random_mixture
from _reference import mp_kl
from scipy.special import logsumexp

from skkl import (
    Gaussians,
    Mixture,
    mixture_divergence,
    mixture_kl_bounds,
    pairwise_divergence,
    pairwise_mixture_divergence,
)
from skkl.mixture import METHODS, MethodInfo, _closed, _components
from skkl.mixture._block import Block, MixtureSet, upper_variational


def _mixture(K, d, seed, kind="full", spread=1.0):
    return random_mixture(np.random.default_rng(seed), K, d, kind, spread=spread)


def _full(G):
    return G.to_full().covariances


# -- the registry ------------------------------------------------------------------


def test_every_method_is_one_keyword_built_record():
    for name, info in METHODS.items():
        assert isinstance(info, MethodInfo) and info.name == name
        assert info.kind in {"approximation", "upper bound", "lower bound", "exact"}
        assert callable(info.evaluate) and info.description
    with pytest.raises(TypeError):
        MethodInfo("x", "y", "exact", False, None)  # keywords only
    with pytest.raises(dataclasses.FrozenInstanceError):
        METHODS["kl_upper"].kind = "exact"


def test_symmetric_records_are_symmetric():
    p, q = _mixture(3, 2, 0), _mixture(4, 2, 1)
    for name, info in METHODS.items():
        if info.symmetric:
            assert mixture_divergence(p, q, name) == pytest.approx(
                mixture_divergence(q, p, name), rel=1e-12
            )


def test_a_new_record_reaches_every_dispatch(monkeypatch):
    """Plumbing: one record added to METHODS is all a new method needs."""
    calls = []

    def midpoint(block):
        calls.append(block)
        return 0.5 * (METHODS["kl_lower"].evaluate(block) + _closed._best_upper(block))

    info = MethodInfo(
        name="kl_midpoint", description="test", kind="approximation", evaluate=midpoint
    )
    monkeypatch.setitem(METHODS, "kl_midpoint", info)
    p, q = _mixture(3, 2, 0), _mixture(4, 2, 1)
    b = mixture_kl_bounds(p, q)
    assert mixture_divergence(p, q, "kl_midpoint") == pytest.approx(b.midpoint)
    D = pairwise_mixture_divergence([p, q], method="kl_midpoint")
    assert D[0, 1] == pytest.approx(b.midpoint)
    assert len(calls) == 2


# -- small inputs: no parallel machinery, same answers -------------------------------


def _forbid_parallel(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("parallel machinery used for a tiny call")

    monkeypatch.setattr(_closed, "Parallel", refuse)
    monkeypatch.setattr(_components, "map_blocks", refuse)


def test_small_calls_run_inline(monkeypatch):
    _forbid_parallel(monkeypatch)
    p, q = _mixture(3, 2, 0), _mixture(4, 2, 1)
    for method in METHODS:
        mixture_divergence(p, q, method)
    mixture_kl_bounds(p, q)
    pairwise_mixture_divergence([p, q, p], method="cauchy_schwarz", n_jobs=2)


def test_threaded_and_inline_factorisations_agree(monkeypatch):
    """Plumbing: the pair factorisations give the same matrices either way."""
    A, B = _mixture(12, 6, 0).gaussians, _mixture(9, 6, 1).gaussians
    AB = _components.concat_gaussians([A, B])
    inline = _components.log_overlaps(A, AB, n_self=len(A))
    monkeypatch.setattr(_components, "runs_inline", lambda flops: False)
    monkeypatch.setattr(_components, "blas_thread_count", lambda: 3)
    threaded = _components.log_overlaps(A, AB, n_self=len(A), working_memory=1e-3)
    for x, y in zip(inline, threaded, strict=True):
        np.testing.assert_array_equal(x, y)
    # The symmetric part mirrors exactly what a full computation gives.
    full = _components.log_overlaps(A, AB)
    np.testing.assert_allclose(inline[0], full[0], rtol=1e-13, atol=1e-13)


@pytest.mark.parametrize(
    ("kinds", "d"),
    [(("full", "full"), 2), (("full", "full"), 4), (("diag", "diag"), 3)]
    + [(("diag", "full"), 2), (("full", "diag"), 3)],
)
def test_tiny_kl_path_is_accurate(kinds, d):
    """The pointwise-kernel path against mpmath, and against pairwise_divergence."""
    A, B = _mixture(3, d, 0, kinds[0]).gaussians, _mixture(4, d, 1, kinds[1]).gaussians
    assert len(A) * len(B) * d * d <= _components._POINTWISE_KL_ENTRIES
    KL = _components.kl_matrix(A, B)
    Sa, Sb = _full(A), _full(B)
    for i in range(len(A)):
        for j in range(len(B)):
            ref = mp_kl(A.means[i], Sa[i], B.means[j], Sb[j])
            assert KL[i, j] == pytest.approx(ref, rel=1e-12, abs=1e-15)
    np.testing.assert_allclose(KL, pairwise_divergence(A, B), rtol=1e-12)


def test_tiny_kl_path_nearly_equal_components():
    """Relative accuracy where the direct formula cancels (KL ~ 1e-14)."""
    G = _mixture(3, 3, 0).gaussians
    H = Gaussians(G.means + 1e-7, G.covariances * (1 + 1e-7))
    KL = _components.kl_matrix(G, H)
    Sg, Sh = _full(G), _full(H)
    for i in range(3):
        ref = mp_kl(G.means[i], Sg[i], H.means[i], Sh[i])
        assert KL[i, i] == pytest.approx(ref, rel=1e-8)
    assert np.all(np.diag(_components.kl_matrix(G)) == 0.0)


def test_own_matrices_in_the_same_call_equal_separate_ones():
    """Plumbing: a row mixture's self terms, primed by the cross call."""
    for d, K in ((2, 3), (8, 20)):  # the pointwise and the pairwise path
        p, q = _mixture(K, d, 0), _mixture(K + 1, d, 1)
        fresh_p = Mixture(p.weights, p.gaussians)
        Block(MixtureSet.of([fresh_p]), MixtureSet.of([q])).self_kl  # noqa: B018
        Block(MixtureSet.of([fresh_p]), MixtureSet.of([q])).self_overlap  # noqa: B018
        np.testing.assert_allclose(
            _components.self_kl(fresh_p),
            _components.self_kl(Mixture(p.weights, p.gaussians)),
            rtol=1e-13,
            atol=1e-15,
        )
        np.testing.assert_allclose(
            _components.self_overlap(fresh_p),
            _components.self_overlap(Mixture(p.weights, p.gaussians)),
            rtol=1e-13,
        )


# -- the variational upper bound against an independent reference --------------------


def _reference_variational(p, q, n_iter=3000):
    """Hershey & Olsen's alternating minimisation, from its definition.

    The bound sum_ab phi_ab (log(phi_ab / psi_ab) + KL_ab) over couplings
    phi (row sums w) and psi (column sums v), alternating the two exact
    minimisations; KL_ab from mpmath. Returns the smallest value met.
    """
    Sp, Sq = _full(p.gaussians), _full(q.gaussians)
    KL = np.array(
        [
            [
                mp_kl(p.gaussians.means[a], Sp[a], q.gaussians.means[b], Sq[b])
                for b in range(len(q))
            ]
            for a in range(len(p))
        ]
    )
    lw, lv = np.log(p.weights)[:, None], np.log(q.weights)[None, :]
    log_psi = lw + lv
    best = np.inf
    for _ in range(n_iter):
        t = log_psi - KL
        log_phi = lw + t - logsumexp(t, axis=1, keepdims=True)
        value = np.sum(np.exp(log_phi) * (log_phi - log_psi + KL))
        best = min(best, value)
        log_psi = lv + log_phi - logsumexp(log_phi, axis=0, keepdims=True)
    return best


@pytest.mark.parametrize(
    ("kp", "kq", "d", "spread", "seed"),
    [(3, 4, 2, 1.0, 0), (4, 4, 2, 1.0, 2), (6, 5, 2, 0.5, 3), (5, 3, 3, 3.0, 4)],
)
def test_variational_bound_reaches_the_optimum(kp, kq, d, spread, seed):
    p, q = (
        _mixture(kp, d, seed, spread=spread),
        _mixture(kq, d, seed + 50, spread=spread),
    )
    ref = _reference_variational(p, q)
    got = float(upper_variational(Block(MixtureSet.of([p]), MixtureSet.of([q])))[0, 0])
    # At least as tight as 3000 alternating steps (up to the 1e-10 stopping
    # tolerance), and never below the optimum they approach.
    assert got <= ref + 1e-9 * (1 + ref)
    assert got >= ref - 1e-6 * (1 + ref)


def test_variational_bound_is_exact_for_single_gaussians():
    p, q = _mixture(1, 3, 0), _mixture(1, 3, 1)
    exact = mixture_divergence(p, q, "kl_variational")  # KL itself here
    assert mixture_kl_bounds(p, q).upper_bounds["variational"] == pytest.approx(
        exact, rel=1e-12
    )
