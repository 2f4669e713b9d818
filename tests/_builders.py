"""Random covariances, Gaussians, mixtures and the standard small tables for tests.

One builder per thing, so that every test module draws its cases the same way.
Each builder draws from the ``rng`` it is given in a fixed order (means first,
then covariances), so a test's numbers depend only on its seed.
"""

from __future__ import annotations

import functools

import numpy as np
from scipy.stats import special_ortho_group
from sklearn import datasets

from skkl import Gaussians, Mixture


def symmetric(S: np.ndarray) -> np.ndarray:
    """The symmetric part of a (stack of) square matrices, exactly symmetric."""
    return 0.5 * (S + np.swapaxes(S, -1, -2))


def random_spd(rng, d: int, shape=(), *, dof: int | None = None, ridge=0.5):
    """Random SPD matrices ``A A' + ridge I`` of shape ``(*shape, d, d)``.

    ``A`` is standard normal, ``d x d`` by default; with ``dof``, ``A`` is
    ``d x dof`` and the product is divided by ``dof`` (a sample covariance of
    ``dof`` white draws, eigenvalues near 1). ``ridge`` bounds the smallest
    eigenvalue away from 0, so the condition number stays moderate.
    """
    A = rng.standard_normal((*shape, d, d if dof is None else dof))
    S = A @ np.swapaxes(A, -1, -2)
    if dof is not None:
        S = S / dof
    return symmetric(S + ridge * np.eye(d))


def spd_with_condition(rng, d: int, cond: float, scale=1.0) -> np.ndarray:
    """A ``d x d`` SPD matrix with 2-norm condition number ``cond``.

    Eigenvalues ``scale * logspace(0, -log10(cond), d)`` in a Haar-random basis.
    """
    Q = special_ortho_group.rvs(d, random_state=rng) if d > 1 else np.eye(1)
    return symmetric((Q * (scale * np.logspace(0, -np.log10(cond), d))) @ Q.T)


def random_rotation(rng, d: int, shape=()) -> np.ndarray:
    """Orthogonal ``d x d`` matrices: the Q of a standard normal matrix's QR."""
    return np.linalg.qr(rng.standard_normal((*shape, d, d)))[0]


def random_covariances(
    rng,
    K: int,
    d: int,
    covariance_type="full",
    *,
    dof=None,
    ridge=0.5,
    low=0.3,
    high=3.0,
):
    """``K`` random covariances in ``covariance_type``'s layout.

    'full': ``random_spd`` stacked; 'tied': one ``random_spd``; 'diag' and
    'spherical': variances uniform on ``[low, high)``.
    """
    if covariance_type == "full":
        return random_spd(rng, d, (K,), dof=dof, ridge=ridge)
    if covariance_type == "tied":
        return random_spd(rng, d, dof=dof, ridge=ridge)
    if covariance_type == "diag":
        return rng.uniform(low, high, size=(K, d))
    return rng.uniform(low, high, size=K)


def as_full(cov, covariance_type: str, K: int, d: int) -> np.ndarray:
    """The ``(K, d, d)`` full matrices of covariances in any layout (a new array)."""
    cov = np.asarray(cov, dtype=float)
    if covariance_type == "diag":
        return cov[:, :, None] * np.eye(d)
    if covariance_type == "spherical":
        return cov[:, None, None] * np.eye(d)
    if covariance_type == "tied":
        return np.array(np.broadcast_to(cov, (K, d, d)))
    return cov.copy()


def random_gaussians(
    rng,
    K: int,
    d: int,
    covariance_type="full",
    *,
    means=None,
    spread=1.0,
    scale=1.0,
    dof=None,
    ridge=0.1,
    low=0.3,
    high=3.0,
) -> Gaussians:
    """``K`` random Gaussians: means ``spread`` x standard normal, covariances
    ``scale`` x ``random_covariances`` (by default a ``d + 2``-draw sample
    covariance plus ``0.1 I``). ``means`` given: used as they are, not drawn.
    """
    if means is None:
        means = spread * rng.standard_normal((K, d))
    dof = d + 2 if dof is None else dof
    cov = random_covariances(
        rng, K, d, covariance_type, dof=dof, ridge=ridge, low=low, high=high
    )
    return Gaussians(means, cov if scale == 1.0 else scale * cov, covariance_type)


def random_mixture(
    rng, K: int, d: int, covariance_type="full", *, spread=1.0, scale=1.0
):
    """A ``K``-component mixture: weights at least ``0.1 / K``, means ``spread``
    x standard normal, covariances ``scale`` x (a ``d x d`` product over ``d``
    plus ``0.2 I``, or variances uniform on ``[0.3, 2)``).
    """
    w = rng.dirichlet(np.ones(K)) * 0.9 + 0.1 / K
    means = rng.normal(scale=spread, size=(K, d))
    cov = random_covariances(rng, K, d, covariance_type, dof=d, ridge=0.2, high=2.0)
    return Mixture(w / w.sum(), Gaussians(means, scale * cov, covariance_type))


def class_data(n=300, d=4, K=3, seed=0, offset=0.0):
    """``n`` rows in ``K`` classes, each a linear map of white noise plus a
    class centre 3 x standard normal (and ``offset``): labels 0..K-1, ``y``.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, size=n)
    A = rng.normal(size=(K, d, d))
    X = np.einsum("nij,nj->ni", A[y], rng.normal(size=(n, d)))
    X += 3 * rng.normal(size=(K, d))[y] + offset
    return X, y


_TABLES = {
    "breast_cancer": datasets.load_breast_cancer,
    "diabetes": datasets.load_diabetes,
    "digits": datasets.load_digits,
    "iris": datasets.load_iris,
    "wine": datasets.load_wine,
}


@functools.cache
def _table(name: str):
    X, y = _TABLES[name](return_X_y=True)
    X.flags.writeable = y.flags.writeable = False
    return X, y


def table(name: str) -> np.ndarray:
    """The features of one of scikit-learn's bundled datasets, a fresh copy."""
    return _table(name)[0].copy()


def table_xy(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Features and target of one of scikit-learn's bundled datasets, copies."""
    X, y = _table(name)
    return X.copy(), y.copy()
