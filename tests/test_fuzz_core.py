"""Fuzz-style probes of the core's public entry points (issue 24).

Seeded random probes, and hypothesis for the scale property, over dtypes
(bool, int, float32, float64, complex, object, str, bytes), layouts (lists,
Fortran order, strided views), shapes, covariances from 1e-200 to 1e200, NaN and
infinity, and asymmetric, indefinite or degenerate covariances. Every probe
must end in one of two ways:

- a correct value: compared with an independent float64 computation on the
  unscaled data (numpy's ``solve``/``slogdet`` for KL, eigenvalues of the
  symmetric square-root product for W2), scaled as the divergence scales;
- or a ``ValueError``/``TypeError`` whose message names the argument at
  fault (never a numpy or LAPACK exception, never a RuntimeWarning, which the
  test configuration turns into an error).

And the caller's arrays are never modified in place.
"""

import warnings

import numpy as np
import pytest
from _builders import random_spd
from hypothesis import given
from hypothesis import strategies as st

from skkl import Gaussians, KLMetric, divergence, kl_divergence, pairwise_divergence

# A well-conditioned case at unit scale is computed to ~1e-14 by both the
# library and the naive reference (condition numbers below ~1e3).
RTOL = 1e-9
# Data scales: means scale with them, covariances with their squares, so the
# covariances span 1e-200 to 1e200.
SCALES = [1e-100, 1e-50, 1e-5, 1.0, 1e5, 1e50, 1e100]

# Input perturbations and the outcome each must give: None for a value, or
# (exception type, words the message must hold besides the argument name).
OUTCOMES = {
    "float64": None,
    "float32": None,
    "int": None,
    "bool-mean": None,
    "list": None,
    "fortran": None,
    "strided": None,
    "object-numbers": None,
    "asym-rounding": None,
    "nan": (ValueError, "NaN or infinity"),
    "inf": (ValueError, "NaN or infinity"),
    "asym": (ValueError, "not symmetric"),
    "indefinite": (ValueError, "not positive definite"),
    "zero-variance": (ValueError, "non-positive"),
    "negative-variance": (ValueError, "non-positive"),
    "complex": (TypeError, "complex"),
    "str": (TypeError, "strings"),
    "bytes": (TypeError, "strings"),
    "numeric-object-strings": (TypeError, "strings"),
    "object-none": (TypeError, "NoneType"),
    "object-dict": (TypeError, "dict"),
    "wrong-shape": (ValueError, "shape"),
    "empty": (ValueError, "empty"),
}


def _naive_kl(m0, S0, m1, S1):
    """KL from numpy's solve and slogdet (no Cholesky, no skkl)."""
    d = len(m0)
    diff = m1 - m0
    trace = np.trace(np.linalg.solve(S1, S0))
    quad = diff @ np.linalg.solve(S1, diff)
    logdet = np.linalg.slogdet(S1)[1] - np.linalg.slogdet(S0)[1]
    return 0.5 * (trace + quad - d + logdet)


def _naive_w2(m0, S0, m1, S1):
    """W2^2 with the symmetric square root of S0 (eigh, no skkl)."""
    lam, V = np.linalg.eigh(S0)
    R = (V * np.sqrt(lam)) @ V.T
    mu = np.linalg.eigvalsh(R @ S1 @ R)
    cross = np.sqrt(np.clip(mu, 0, None)).sum()
    return np.sum((m0 - m1) ** 2) + np.trace(S0) + np.trace(S1) - 2 * cross


def _perturb(kind, m, S, rng):
    """(mean, covariance) as the probe ``kind`` spells them, and which one is bad."""
    if kind in ("float64", "asym-rounding"):
        if kind == "asym-rounding":
            S = S.copy()
            S[0, -1] *= 1 + 1e-13
        return m, S, None
    if kind == "float32":
        return m.astype(np.float32), S.astype(np.float32), None
    if kind == "int":
        return np.round(m * 10).astype(int), np.round(S * 100).astype(int), None
    if kind == "bool-mean":
        return m > 0, S, None
    if kind == "list":
        return m.tolist(), S.tolist(), None
    if kind == "fortran":
        return m, np.asfortranarray(S), None
    if kind == "strided":
        return np.repeat(m, 2)[::2], np.repeat(S, 2, axis=1)[:, ::2], None
    if kind == "object-numbers":
        return m.astype(object), S.astype(object), None
    bad = rng.choice(["mean", "cov"]) if kind in ("nan", "inf", "complex") else "cov"
    if kind in ("str", "bytes", "numeric-object-strings", "object-none", "object-dict"):
        bad = rng.choice(["mean", "cov"])
    target = (m if bad == "mean" else S).copy()
    if kind == "nan":
        target.flat[rng.integers(target.size)] = np.nan
    elif kind == "inf":
        target.flat[rng.integers(target.size)] = -np.inf
    elif kind == "asym":  # d >= 2 (see _probe)
        target[-1, 0] += 0.5 * np.sqrt(target[0, 0]) * np.sqrt(target[-1, -1])
    elif kind == "indefinite":  # d >= 2 (see _probe)
        off = 2 * np.sqrt(target[0, 0]) * np.sqrt(target[1, 1])
        target[0, 1] = target[1, 0] = off
    elif kind == "zero-variance":
        target[-1, :] = target[:, -1] = 0.0
    elif kind == "negative-variance":
        target[0, 0] = -abs(target[0, 0])
    elif kind == "complex":
        target = target + 1j * (target != 0)
    elif kind == "str":
        target = target.astype(str)
    elif kind == "bytes":
        target = target.astype(str).astype(bytes)
    elif kind == "numeric-object-strings":
        target = target.astype(str).astype(object)
    elif kind in ("object-none", "object-dict"):
        target = target.astype(object)
        target.flat[-1] = None if kind == "object-none" else {"a": 1}
    elif kind == "wrong-shape":
        return (m, S[:, :-1], "cov") if S.shape[0] > 1 else (m, S[:, :0], "cov")
    elif kind == "empty":
        return m[:0], S, "mean"
    return (target, S, bad) if bad == "mean" else (m, target, bad)


def _snapshot(*arrays):
    return [np.array(a, dtype=object, copy=True) for a in arrays]


def _unchanged(before, arrays):
    for b, a in zip(before, arrays, strict=True):
        a = np.asarray(a, dtype=object)
        if b.shape != a.shape or not all(
            (x is y) or (x == y) or (x != x and y != y)
            for x, y in zip(b.ravel(), a.ravel(), strict=True)
        ):
            return False
    return True


def _reference(kind, m0, S0, m1, S1, scale):
    """The divergence of the converted probe inputs, from the unscaled data."""
    args = [
        np.asarray(np.asarray(x, dtype=object), dtype=float) for x in (m0, S0, m1, S1)
    ]
    u0, V0, u1, V1 = (
        args[0] / scale,
        args[1] / scale**2,
        args[2] / scale,
        args[3] / scale**2,
    )
    if kind == "wasserstein":
        return _naive_w2(u0, V0, u1, V1) * scale**2
    return _naive_kl(u0, V0, u1, V1)


def _check(outcome, call, arrays, names, expected_value):
    before = _snapshot(*arrays)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            value = call()
        except (ValueError, TypeError) as exc:
            message = str(exc)
            assert outcome is not None, f"unexpected {type(exc).__name__}: {message}"
            kind, words = outcome
            assert isinstance(exc, kind), (type(exc), message)
            assert words in message, message
            assert any(name in message for name in names), (names, message)
        else:
            assert outcome is None, f"expected {outcome}, got {value!r}"
            assert np.all(np.isfinite(value))
            ref = expected_value()
            assert np.allclose(value, ref, rtol=RTOL, atol=1e-13 * abs(ref)), (
                value,
                ref,
            )
    assert _unchanged(before, arrays), "an input was modified in place"


def _probe(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 5))
    scale = float(rng.choice(SCALES))
    m0, m1 = rng.standard_normal(d) * scale, rng.standard_normal(d) * scale
    S0, S1 = random_spd(rng, d, dof=d) * scale**2, random_spd(rng, d, dof=d) * scale**2
    kind = str(rng.choice(list(OUTCOMES)))
    if kind in ("asym", "indefinite") and d == 1:
        kind = "negative-variance"  # a 1 x 1 matrix is symmetric; indefinite: < 0
    if kind in ("int", "bool-mean", "float32"):  # unit-scale data
        scale, m0, m1, S0, S1 = (
            1.0,
            m0 / scale,
            m1 / scale,
            S0 / scale**2,
            S1 / scale**2,
        )
    first = bool(rng.integers(2))  # perturb p or q
    pm, pS, bad = _perturb(kind, m0 if first else m1, S0 if first else S1, rng)
    return rng, d, scale, kind, first, (pm, pS, bad), (m0, S0, m1, S1)


@pytest.mark.parametrize("seed", range(160))
def test_pointwise_entry_points(seed):
    rng, d, scale, kind, first, (pm, pS, bad), (m0, S0, m1, S1) = _probe(seed)
    if first:
        args = (pm, pS, m1, S1)
        names = {"mean": ["m0", "p[0] (mean)"], "cov": ["S0", "p[1] (covariance)"]}
    else:
        args = (m0, S0, pm, pS)
        names = {"mean": ["m1", "q[0] (mean)"], "cov": ["S1", "q[1] (covariance)"]}
    outcome = OUTCOMES[kind]
    arg_names = names.get(bad, [])
    div = str(rng.choice(["kl", "wasserstein"]))
    _check(
        outcome,
        lambda: kl_divergence(*args),
        args,
        arg_names,
        lambda: _reference("kl", *args, scale),
    )
    _check(
        outcome,
        lambda: divergence((args[0], args[1]), (args[2], args[3]), div),
        args,
        arg_names,
        lambda: _reference(div, *args, scale),
    )


@pytest.mark.parametrize("seed", range(160, 260))
def test_batched_entry_points(seed):
    # Gaussians from a batch of two, then the all-pairs engine and KLMetric.
    rng, d, scale, kind, first, (pm, pS, bad), (m0, S0, m1, S1) = _probe(seed)
    if kind == "empty":
        means, covs = np.zeros((0, d)), np.zeros((0, d, d))
    else:
        means = [pm, m1] if first else [m0, pm]
        covs = [pS, S1] if first else [S0, pS]
    names = {"mean": ["means"], "cov": ["covariances"]}.get(bad, [])
    outcome = OUTCOMES[kind]
    if kind in ("wrong-shape",):
        outcome = (ValueError, "shape")
    try:
        means_arr, covs_arr = np.asarray(means), np.asarray(covs)
    except ValueError:  # ragged: not an array; the layout of a single probe
        means_arr, covs_arr = pm, pS
        names = {"mean": ["means"], "cov": ["covariances"]}.get(bad, [])

    def expected():
        D = np.zeros((2, 2))
        a = (means[0], covs[0], means[1], covs[1])
        D[0, 1] = _reference("kl", *a, scale)
        D[1, 0] = _reference("kl", a[2], a[3], a[0], a[1], scale)
        return D

    _check(
        outcome,
        lambda: pairwise_divergence(Gaussians(means_arr, covs_arr)),
        [means_arr, covs_arr],
        names,
        expected,
    )


@pytest.mark.parametrize("seed", range(260, 300))
def test_packed_rows_and_metric(seed):
    rng = np.random.default_rng(seed)
    d = int(rng.integers(1, 4))
    scale = float(rng.choice(SCALES))
    G = Gaussians(
        rng.standard_normal((2, d)) * scale,
        np.stack([random_spd(rng, d, dof=d), random_spd(rng, d, dof=d)]) * scale**2,
    )
    X = G.pack()
    kind = str(
        rng.choice(
            [
                "float64",
                "nan",
                "complex",
                "str",
                "object-none",
                "negative",
                "wrong-length",
            ]
        )
    )
    bad = X.copy()
    outcome = None
    if kind == "nan":
        bad = bad.copy()
        bad[0, -1] = np.nan
        outcome = (ValueError, "NaN or infinity")
    elif kind == "complex":
        bad = bad + 0j
        outcome = (TypeError, "complex")
    elif kind == "str":
        bad = bad.astype(str)
        outcome = (TypeError, "strings")
    elif kind == "object-none":
        bad = bad.astype(object)
        bad[0, 0] = None
        outcome = (TypeError, "NoneType")
    elif kind == "negative":
        bad[0, d] = -abs(bad[0, d])
        outcome = (ValueError, "non-positive")
    elif kind == "wrong-length":
        bad = bad[:, :-1]
        outcome = (ValueError, "impossible")
    truth = pairwise_divergence(G)
    _check(outcome, lambda: KLMetric().pairwise(bad), [bad], ["X"], lambda: truth)
    metric_outcome = outcome
    if kind in ("nan", "negative"):
        metric_outcome = (ValueError, "not a valid packed Gaussian")
    _check(
        metric_outcome,
        lambda: KLMetric()(bad[0], bad[1]),
        [bad],
        ["u", "row"],
        lambda: truth[0, 1],
    )


@given(
    k=st.integers(-330, 330),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**31 - 1),
    kind=st.sampled_from(["kl", "jeffreys", "hellinger", "wasserstein"]),
)
def test_results_scale_with_the_data_or_raise(k, d, seed, kind):
    # Scaling the data by 2^k is exact: the divergences are unchanged (to the
    # engine's accuracy: the one-GEMM formula's rounding depends on the
    # centring); W2^2 scales by 4^k, to rounding.
    # Beyond float64 (covariances past ~1e308 or below ~1e-308), a clear
    # ValueError instead.
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((3, d))
    covs = np.stack([random_spd(rng, d, dof=d) for _ in range(3)])
    D = pairwise_divergence(Gaussians(means, covs), kind=kind)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        try:
            G = Gaussians(np.ldexp(means, k), np.ldexp(covs, 2 * k))
            Dk = pairwise_divergence(G, kind=kind)
        except ValueError as exc:
            assert abs(k) > 500, str(exc)
            assert any(
                w in str(exc)
                for w in ("overflow", "beyond float64", "non-positive", "rescale")
            ), str(exc)
            return
    if kind == "wasserstein":
        np.testing.assert_allclose(np.ldexp(Dk, -2 * k), D, rtol=1e-13, atol=0)
    else:
        # Each matrix is within the engine's rtol (1e-10) of the truth per
        # entry, so the two are within twice that of each other.
        np.testing.assert_allclose(Dk, D, rtol=2e-10, atol=1e-300)
