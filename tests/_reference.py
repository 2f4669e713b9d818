"""Independent references for the tests: the ``kl_mvn`` snippet and mpmath.

This file is the ONE home of the classic ``kl_mvn`` snippet (inv/det version),
the peer that skkl replaces; nobody copies it. Tests import it as ``from
_reference import kl_mvn``. Tests must not depend on benchmarks, so it lives
here and benchmarks load it by path (as ``benchmarks/bench_pairwise.py`` does)::

    import importlib.util, pathlib
    path = pathlib.Path(__file__).parents[1] / "tests" / "_reference.py"
    spec = importlib.util.spec_from_file_location("_reference", path)
    ref = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ref)
    kl_mvn = ref.kl_mvn

The mpmath functions compute every divergence at ``DPS`` (50) significant
digits from the exact float64 inputs (``mpmath.mpf(float)`` is exact), with the
textbook formulas (inverse, determinant, symmetric eigen-decomposition): none
of skkl's arrangements (Cholesky ratios, non-negative splits, nuclear norms)
is reused, so the two computations are independent.
"""

from __future__ import annotations

import mpmath
import numpy as np

DPS = 50


def kl_mvn(m0, S0, m1, S1):
    """KL(N(m0, S0) || N(m1, S1)): the classic snippet, kept verbatim."""
    N = m0.shape[0]
    iS1 = np.linalg.inv(S1)
    diff = m1 - m0
    tr_term = np.trace(iS1 @ S0)
    det_term = np.log(np.linalg.det(S1) / np.linalg.det(S0))
    quad_term = diff.T @ np.linalg.inv(S1) @ diff
    return 0.5 * (tr_term + det_term + quad_term - N)


# -- mpmath reference --------------------------------------------------------


def _mat(a) -> mpmath.matrix:
    a = np.asarray(a, dtype=np.float64)
    return mpmath.matrix([[mpmath.mpf(float(x)) for x in row] for row in a])


def _vec(v) -> mpmath.matrix:
    return mpmath.matrix([mpmath.mpf(float(x)) for x in np.asarray(v, np.float64)])


def _trace(M) -> mpmath.mpf:
    return mpmath.fsum(M[i, i] for i in range(M.rows))


def _quad(diff, S) -> mpmath.mpf:
    x = mpmath.lu_solve(S, diff)
    return mpmath.fsum(diff[i] * x[i] for i in range(diff.rows))


def _logdet(S) -> mpmath.mpf:
    mpmath.cholesky(S)  # raises ValueError unless S is positive definite
    return mpmath.log(mpmath.det(S))


def _sqrtm_sym(S) -> mpmath.matrix:
    E, Q = mpmath.eigsy(S)
    if min(E) <= 0:
        raise ValueError("reference: matrix is not positive definite")
    D = mpmath.diag([mpmath.sqrt(e) for e in E])
    return Q * D * Q.T


def _as_full(cov, d: int) -> np.ndarray:
    cov = np.asarray(cov, dtype=np.float64)
    if cov.ndim == 0:
        return float(cov) * np.eye(d)
    if cov.ndim == 1:
        return np.diag(cov)
    return cov


def mp_divergences(m0, S0, m1, S1, alphas=(0.5,)) -> dict[str, float]:
    """All divergences of one pair at ``DPS`` digits, rounded to float.

    ``S0``/``S1`` may be (d, d) matrices, (d,) variances or scalars. Returns a
    dict with keys 'kl', 'reverse_kl', 'jeffreys', 'bhattacharyya',
    'hellinger', 'wasserstein' and ('renyi', alpha) for each alpha (omitted
    when alpha * S1 + (1 - alpha) * S0 is not positive definite).
    """
    m0 = np.atleast_1d(np.asarray(m0, np.float64))
    d = m0.shape[0]
    with mpmath.workdps(DPS):
        a0, a1 = _vec(m0), _vec(m1)
        P, Q = _mat(_as_full(S0, d)), _mat(_as_full(S1, d))
        diff = a1 - a0
        ld0, ld1 = _logdet(P), _logdet(Q)
        iP, iQ = mpmath.inverse(P), mpmath.inverse(Q)
        kl = (_trace(iQ * P) + _quad(diff, Q) - d + ld1 - ld0) / 2
        rkl = (_trace(iP * Q) + _quad(diff, P) - d + ld0 - ld1) / 2
        out = {"kl": kl, "reverse_kl": rkl, "jeffreys": kl + rkl}

        def renyi(alpha):
            a = mpmath.mpf(float(alpha))
            Sa = a * Q + (1 - a) * P
            return a / 2 * _quad(diff, Sa) + (_logdet(Sa) - (1 - a) * ld0 - a * ld1) / (
                2 * (1 - a)
            )

        bhat = renyi(0.5) / 2
        out["bhattacharyya"] = bhat
        out["hellinger"] = mpmath.sqrt(1 - mpmath.exp(-bhat))
        R = _sqrtm_sym(P)
        M = R * Q * R
        M = (M + M.T) / 2
        bures = (
            _trace(P)
            + _trace(Q)
            - 2 * mpmath.fsum(mpmath.sqrt(e) for e in mpmath.eigsy(M)[0])
        )
        out["wasserstein"] = mpmath.fsum(x * x for x in diff) + bures
        for alpha in alphas:
            try:
                out[("renyi", float(alpha))] = renyi(alpha)
            except ValueError:
                pass
        return {k: float(v) for k, v in out.items()}


def naive_divergences(m0, S0, m1, S1, alpha=0.5) -> dict[str, float]:
    """All divergences of one pair with the textbook float64 formulas.

    ``np.linalg.inv``, ``slogdet`` and a symmetric eigen-decomposition for the
    matrix square root: a naive loop reference, independent of skkl's
    arrangements. Accurate to ~d eps cond(S) times the magnitudes of the
    terms that cancel (|trace|, |logdet|, |quadratic|), so use it on
    well-conditioned, not nearly equal pairs; ``scale`` in the result is that
    magnitude, for an absolute tolerance.
    """
    m0 = np.atleast_1d(np.asarray(m0, np.float64))
    d = m0.shape[0]
    P, Q = _as_full(S0, d), _as_full(S1, d)
    diff = np.asarray(m1, np.float64) - m0
    ld0, ld1 = np.linalg.slogdet(P)[1], np.linalg.slogdet(Q)[1]
    iP, iQ = np.linalg.inv(P), np.linalg.inv(Q)
    tr_kl, q_kl = np.trace(iQ @ P), diff @ iQ @ diff
    tr_rkl, q_rkl = np.trace(iP @ Q), diff @ iP @ diff
    kl = 0.5 * (tr_kl + q_kl - d + ld1 - ld0)
    rkl = 0.5 * (tr_rkl + q_rkl - d + ld0 - ld1)

    def renyi(a):
        Sa = a * Q + (1 - a) * P
        quad = diff @ np.linalg.inv(Sa) @ diff
        return a / 2 * quad + (np.linalg.slogdet(Sa)[1] - (1 - a) * ld0 - a * ld1) / (
            2 * (1 - a)
        )

    bhat = renyi(0.5) / 2
    lam, V = np.linalg.eigh(P)
    R = (V * np.sqrt(lam)) @ V.T
    mu = np.linalg.eigvalsh(R @ Q @ R)
    bures = np.trace(P) + np.trace(Q) - 2 * np.sum(np.sqrt(np.clip(mu, 0, None)))
    scale = (
        d + tr_kl + tr_rkl + q_kl + q_rkl + abs(ld0) + abs(ld1) + np.trace(P + Q)
    ) + diff @ diff
    return {
        "kl": kl,
        "reverse_kl": rkl,
        "jeffreys": kl + rkl,
        "bhattacharyya": bhat,
        "hellinger": np.sqrt(-np.expm1(-bhat)),
        "renyi": kl if alpha == 1 else renyi(alpha),
        "wasserstein": diff @ diff + bures,
        "scale": scale,
    }


def mp_kl(m0, S0, m1, S1) -> float:
    """KL alone at ``DPS`` digits (cheaper than :func:`mp_divergences`)."""
    m0 = np.atleast_1d(np.asarray(m0, np.float64))
    d = m0.shape[0]
    with mpmath.workdps(DPS):
        P, Q = _mat(_as_full(S0, d)), _mat(_as_full(S1, d))
        diff = _vec(m1) - _vec(m0)
        kl = (_trace(mpmath.inverse(Q) * P) + _quad(diff, Q) - d) / 2
        return float(kl + (_logdet(Q) - _logdet(P)) / 2)


def kl_scaled_identity(a: float, d: int) -> float:
    """KL(N(0, a I) || N(0, I)) = d/2 (a - 1 - log a), exactly rounded via mpmath."""
    with mpmath.workdps(DPS):
        a = mpmath.mpf(a)
        return float(d * (a - 1 - mpmath.log(a)) / 2)
