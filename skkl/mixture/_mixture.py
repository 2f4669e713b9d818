"""``Mixture``: a validated Gaussian mixture, its log-density and its sampler."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp
from sklearn import get_config
from sklearn.exceptions import NotFittedError

from .._gaussians import (
    Gaussians,
    as_float_array,
    gaussians_from_parts,
    validate_means,
)
from .._linalg import inv_lower, solve_lower

__all__ = [
    "Mixture",
    "as_mixture",
    "check_pair",
    "check_random_state",
    "chunk_rows",
    "concat_gaussians",
    "variances",
]

_LOG_2PI = float(np.log(2.0 * np.pi))
# Weights whose sum is this close to 1 are renormalised silently: a fitted
# model's sum to 1 within rounding (~1e-15), and weights written out to ten
# digits pass too; anything further off is a mistake to report.
_WEIGHT_SUM_ATOL = 1e-10


def _check_densities(gaussians: Gaussians, name: str) -> None:
    """A mixture needs densities: no singular (allow_singular=True) component."""
    singular = gaussians.singular
    if singular.any():
        raise ValueError(
            f"{name}[{int(np.argmax(singular))}] has a singular covariance "
            "(Gaussians(..., allow_singular=True)): it has no density, and a "
            "mixture's divergences are integrals of densities; add a ridge "
            "(e.g. reg_covar=1e-6) to its covariance."
        )


def _check_weights(weights, n_components: int, name: str) -> np.ndarray:
    # Complex and string input is refused, never cast (as_float_array).
    w = as_float_array(weights, name)
    if w.ndim != 1 or w.shape[0] != n_components:
        raise ValueError(
            f"{name} must have shape ({n_components},), one weight per component, "
            f"got {w.shape}."
        )
    if not np.all(np.isfinite(w)):
        i = int(np.argmax(~np.isfinite(w)))
        raise ValueError(f"{name}[{i}] is not finite ({float(w[i])!r}).")
    if np.any(w <= 0):
        i = int(np.argmax(w <= 0))
        raise ValueError(
            f"{name}[{i}] = {float(w[i])!r}: every component needs a weight > 0; drop "
            "zero-weight components (Mixture.from_estimator(..., min_weight=...) "
            "does so for fitted models)."
        )
    total = float(np.sum(w))
    if abs(total - 1.0) > _WEIGHT_SUM_ATOL:
        raise ValueError(
            f"{name} sum to {total!r}, not 1 (within {_WEIGHT_SUM_ATOL:g}); pass "
            f"{name} / {name}.sum() if they are unnormalised."
        )
    return w / total


class Mixture:
    """A Gaussian mixture: positive weights summing to 1 and their Gaussians.

    Parameters
    ----------
    weights : array-like of shape (K,)
        Component weights, all > 0, summing to 1 within 1e-10 (they are
        renormalised); anything else raises a ``ValueError`` naming
        ``weights`` (complex or string values a ``TypeError``).
    gaussians : Gaussians of length K
        The components, of any covariance type.

    Attributes
    ----------
    weights : ndarray of shape (K,)
    gaussians : Gaussians
    n_components : int
    n_features : int

    See Also
    --------
    Mixture.from_estimator : From a fitted ``GaussianMixture``,
        ``BayesianGaussianMixture`` or :class:`~skkl.GroupGaussians`.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import Gaussians, Mixture
    >>> f = Mixture([0.3, 0.7], Gaussians([[0.0], [2.0]], [1.0, 0.5], "spherical"))
    >>> f.n_components, f.n_features
    (2, 1)
    >>> f.score_samples([[0.0], [2.0]]).round(4)
    array([-2.0642, -0.8888])
    """

    __slots__ = ("weights", "gaussians", "_cache")

    def __init__(self, weights, gaussians: Gaussians):
        if not isinstance(gaussians, Gaussians):
            raise TypeError(
                "gaussians must be a skkl.Gaussians (e.g. Gaussians(means, "
                f"covariances, covariance_type)), got {type(gaussians).__name__}."
            )
        _check_densities(gaussians, "gaussians")
        w = _check_weights(weights, len(gaussians), "weights")
        self._set(w, gaussians)

    def _set(self, weights, gaussians):
        weights.setflags(write=False)
        object.__setattr__(self, "weights", weights)
        object.__setattr__(self, "gaussians", gaussians)
        object.__setattr__(self, "_cache", {})

    def __setattr__(self, name, value):
        raise AttributeError("Mixture is immutable; build a new one instead.")

    @classmethod
    def from_estimator(cls, estimator, *, min_weight: float = 0.0) -> Mixture:
        """The mixture fitted by a scikit-learn or skkl estimator.

        Parameters
        ----------
        estimator : fitted GaussianMixture, BayesianGaussianMixture or GroupGaussians
            Any ``covariance_type``. For :class:`~skkl.GroupGaussians` the
            weights are its ``weights_`` (class priors).
        min_weight : float, default=0.0
            Components with weight below this are dropped and the rest
            renormalised, e.g. the unused components of a
            ``BayesianGaussianMixture`` (weights of 1e-3 and less).

        Returns
        -------
        mixture : Mixture

        Examples
        --------
        >>> import numpy as np
        >>> from sklearn.mixture import GaussianMixture
        >>> from skkl import Mixture
        >>> X = np.random.default_rng(0).normal(size=(200, 2))
        >>> gm = GaussianMixture(3, covariance_type="diag", random_state=0).fit(X)
        >>> Mixture.from_estimator(gm)
        Mixture(n_components=3, n_features=2, covariance_type='diag')
        """
        if not isinstance(min_weight, Real) or not 0.0 <= min_weight < 1.0:
            raise ValueError(f"min_weight must be in [0, 1), got {min_weight!r}.")
        name = type(estimator).__name__
        from .._group import GroupGaussians

        if isinstance(estimator, GroupGaussians):
            _check_fitted(estimator, ("gaussians_", "weights_"))
            gaussians = estimator.gaussians_
        elif hasattr(estimator, "covariance_type") and hasattr(
            estimator, "n_components"
        ):
            _check_fitted(estimator, ("weights_", "means_", "covariances_"))
            try:
                gaussians = Gaussians(
                    estimator.means_, estimator.covariances_, estimator.covariance_type
                )
            except (TypeError, ValueError) as exc:
                # Name the attribute at fault: the means if they are, else the
                # covariances (checked only on this error path).
                validate_means(estimator.means_, f"{name}.means_")
                raise type(exc)(f"{name}.covariances_: {exc}") from None
        else:
            raise TypeError(
                "estimator must be a fitted GaussianMixture, BayesianGaussianMixture "
                f"or skkl.GroupGaussians, got {name}."
            )
        _check_densities(gaussians, f"{name}.gaussians_")
        weights = _check_weights(estimator.weights_, len(gaussians), f"{name}.weights_")
        keep = weights >= min_weight
        if min_weight > 0 and not np.all(keep):
            if not np.any(keep):
                raise ValueError(
                    f"min_weight={min_weight!r} drops every component of {name}; "
                    "lower it."
                )
            gaussians = gaussians[np.flatnonzero(keep)]
            weights = weights[keep] / weights[keep].sum()
        mixture = cls.__new__(cls)
        mixture._set(weights, gaussians)
        return mixture

    # -- basic properties ----------------------------------------------------
    @property
    def n_components(self) -> int:
        """Number of components K."""
        return len(self.gaussians)

    @property
    def n_features(self) -> int:
        """Dimension d."""
        return self.gaussians.n_features

    @property
    def covariance_type(self) -> str:
        """Covariance type of the components."""
        return self.gaussians.covariance_type

    def __len__(self) -> int:
        return self.n_components

    def __repr__(self) -> str:
        return (
            f"Mixture(n_components={self.n_components}, n_features="
            f"{self.n_features}, covariance_type={self.covariance_type!r})"
        )

    def __getstate__(self):
        return {"weights": self.weights, "gaussians": self.gaussians}

    def __setstate__(self, state):
        self._set(state["weights"].copy(), state["gaussians"])

    def cached(self, key: str, compute):
        """Value of ``compute(self)`` cached under ``key`` (internal)."""
        if key not in self._cache:
            self._cache[key] = compute(self)
        return self._cache[key]

    def is_cached(self, key: str) -> bool:
        """Whether a value is cached under ``key`` (internal)."""
        return key in self._cache

    def store(self, key: str, value) -> None:
        """Cache ``value`` under ``key`` (internal; computed with another value)."""
        if isinstance(value, np.ndarray):
            value.setflags(write=False)
        self._cache[key] = value

    @property
    def log_weights(self) -> np.ndarray:
        """``log(weights)``."""
        return self.cached("log_weights", lambda m: np.log(m.weights))

    @property
    def entropies(self) -> np.ndarray:
        """Differential entropy of each component (nats), shape (K,)."""
        d = self.n_features
        return self.cached(
            "entropies",
            lambda m: 0.5 * (d * (1.0 + _LOG_2PI) + m.gaussians.logdet),
        )

    @property
    def centre(self) -> np.ndarray:
        """Mixture mean, the origin of the log-density expansions."""
        return self.cached("centre", lambda m: m.weights @ m.gaussians.means)

    # -- densities -----------------------------------------------------------
    def component_log_densities(self, X) -> np.ndarray:
        """``log N(x; mean_k, cov_k)`` of every row and component.

        Parameters
        ----------
        X : array-like of shape (n, d)

        Returns
        -------
        log_dens : ndarray of shape (n, K)
        """
        X = _check_points(X, self.n_features)
        n, K = X.shape[0], self.n_components
        d = self.n_features
        out = np.empty((n, K))
        row_bytes = 8 * K * (d + 2)
        step = chunk_rows(row_bytes, n)
        ops = self.cached("density_operands", _density_operands)
        for start in range(0, n, step):
            stop = min(n, start + step)
            out[start:stop] = _log_dens_chunk(self, ops, X[start:stop])
        return out

    def score_samples(self, X) -> np.ndarray:
        """Log-density ``log f(x)`` of each row (as ``GaussianMixture``).

        Parameters
        ----------
        X : array-like of shape (n, d)

        Returns
        -------
        log_density : ndarray of shape (n,)
        """
        return logsumexp(self.component_log_densities(X) + self.log_weights, axis=1)

    def sample_components(self, counts, rng: np.random.Generator) -> np.ndarray:
        """``counts[k]`` draws from component k, stacked in component order.

        Parameters
        ----------
        counts : array-like of int, shape (K,)
        rng : numpy.random.Generator

        Returns
        -------
        X : ndarray of shape (sum(counts), d)
        """
        counts = np.asarray(counts, dtype=np.int64)
        G = self.gaussians
        d = self.n_features
        out = np.empty((int(counts.sum()), d))
        pos = 0
        kind = G.covariance_type
        for k, c in enumerate(counts):
            Z = rng.standard_normal((int(c), d))
            if kind == "full":
                Z = Z @ G.cholesky[k].T
            elif kind == "tied":
                Z = Z @ G.cholesky.T
            elif kind == "diag":
                Z *= G.cholesky[k]
            else:
                Z *= G.cholesky[k]
            out[pos : pos + c] = Z + G.means[k]
            pos += c
        return out

    def sample(self, n_samples: int = 1, *, random_state=None) -> np.ndarray:
        """Draw ``n_samples`` points from the mixture.

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int >= 0, numpy.random.Generator, RandomState or None, \
default=None

        Returns
        -------
        X : ndarray of shape (n_samples, d)
            In component order (the counts are multinomial), like
            ``GaussianMixture.sample``.

        Examples
        --------
        >>> import numpy as np
        >>> from skkl import Gaussians, Mixture
        >>> f = Mixture([0.5, 0.5], Gaussians([[-5.0], [5.0]], [1.0, 1.0], "spherical"))
        >>> f.sample(4, random_state=0).shape
        (4, 1)
        """
        if isinstance(n_samples, bool) or not isinstance(n_samples, (int, np.integer)):
            raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}.")
        if n_samples < 1:
            raise ValueError(f"n_samples must be an integer >= 1, got {n_samples!r}.")
        rng = check_random_state(random_state)
        counts = rng.multinomial(int(n_samples), self.weights)
        return self.sample_components(counts, rng)


def _check_fitted(estimator, attributes) -> None:
    """scikit-learn's ``check_is_fitted`` for fitted attributes, without tags."""
    if not all(hasattr(estimator, a) for a in attributes):
        raise NotFittedError(
            f"This {type(estimator).__name__} instance is not fitted yet. Call "
            "'fit' with appropriate arguments before using this estimator."
        )


def chunk_rows(row_bytes: int, n_rows: int, working_memory=None) -> int:
    """Rows per chunk so that a chunk holds at most ``working_memory`` MiB."""
    wm = get_config()["working_memory"] if working_memory is None else working_memory
    return int(min(max(n_rows, 1), max(1, wm * 2**20 // row_bytes)))


def check_random_state(random_state) -> np.random.Generator:
    """A numpy Generator from a seed (int >= 0), Generator, RandomState or None.

    Anything else raises a ``ValueError`` naming ``random_state``.
    """
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        # A seed drawn from the legacy generator: reproducible from its state.
        return np.random.default_rng(random_state.randint(np.iinfo(np.int32).max))
    if random_state is None or (
        isinstance(random_state, Integral)
        and not isinstance(random_state, bool)
        and random_state >= 0
    ):
        return np.random.default_rng(random_state)
    raise ValueError(
        "random_state must be None, an integer >= 0, a numpy.random.Generator or "
        f"a numpy.random.RandomState, got {random_state!r}."
    )


def _check_points(X, d: int) -> np.ndarray:
    X = as_float_array(X, "X")  # refuses complex and strings, never casts
    if X.ndim != 2 or X.shape[1] != d:
        raise ValueError(f"X must have shape (n, {d}), got {X.shape}.")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or infinity; remove non-finite rows.")
    return X


def _density_operands(m: Mixture) -> dict:
    """Per-mixture operands of the log-density products (cached)."""
    G = m.gaussians
    kind = G.covariance_type
    d, K = m.n_features, m.n_components
    mu = G.means - m.centre
    const = -0.5 * (d * _LOG_2PI + G.logdet)
    if kind == "full":
        W = inv_lower(G.cholesky)  # (K, d, d), W_k = L_k^{-1}
        # X W_k' for all k in one product: columns k*d..(k+1)*d hold W_k'.
        Wcat = np.ascontiguousarray(np.transpose(W, (2, 0, 1)).reshape(d, K * d))
        b = np.einsum("kij,kj->ki", W, mu).reshape(K * d)
        return {"W": Wcat, "b": b, "const": const}
    if kind == "tied":
        z = solve_lower(G.cholesky, mu.T).T  # whitened means (K, d)
        Wt = np.ascontiguousarray(solve_lower(G.cholesky, np.eye(d)).T)
        return {"W": Wt, "z": z, "zz": np.sum(z * z, 1), "const": const}
    inv = 1.0 / variances(G)
    return {
        "inv": np.ascontiguousarray(inv.T),
        "lin": np.ascontiguousarray((-2.0 * mu * inv).T),
        "quad": np.sum(mu * mu * inv, 1),
        "const": const,
    }


def _log_dens_chunk(m: Mixture, ops: dict, X: np.ndarray) -> np.ndarray:
    kind = m.covariance_type
    K, d = m.n_components, m.n_features
    Xc = X - m.centre
    if kind == "full":
        Y = Xc @ ops["W"]
        Y -= ops["b"]
        np.square(Y, out=Y)
        maha = Y.reshape(len(X), K, d).sum(-1)
    elif kind == "tied":
        Y = Xc @ ops["W"]
        maha = np.sum(Y * Y, 1)[:, None] - 2.0 * (Y @ ops["z"].T) + ops["zz"]
        np.maximum(maha, 0.0, out=maha)
    else:
        maha = (Xc * Xc) @ ops["inv"] + Xc @ ops["lin"] + ops["quad"]
        np.maximum(maha, 0.0, out=maha)
    return ops["const"] - 0.5 * maha


def as_mixture(x, name: str) -> Mixture:
    """``x`` if it is a Mixture, converted if it is a fitted estimator."""
    if isinstance(x, Mixture):
        return x
    if hasattr(x, "weights_"):
        return Mixture.from_estimator(x)
    raise TypeError(
        f"{name} must be a skkl.Mixture or a fitted GaussianMixture / "
        f"BayesianGaussianMixture / GroupGaussians, got {type(x).__name__}."
    )


def check_pair(p, q, names=("p", "q")) -> tuple[Mixture, Mixture]:
    """Two mixtures of one dimension, or a ``ValueError`` naming them."""
    p, q = as_mixture(p, names[0]), as_mixture(q, names[1])
    if p.n_features != q.n_features:
        raise ValueError(
            f"{names[0]} has {p.n_features} features but {names[1]} has "
            f"{q.n_features}; mixtures must live in the same dimension."
        )
    return p, q


def concat_gaussians(gs: list[Gaussians]) -> Gaussians:
    """Batches of Gaussians as one batch (promoted to one covariance type).

    Built from parts already validated and factored: no covariance is
    checked or factored again.
    """
    if len(gs) == 1:
        return gs[0]
    kinds = {g.covariance_type for g in gs}
    means = np.vstack([g.means for g in gs])
    logdet = np.concatenate([g.logdet for g in gs])
    if kinds == {"tied"} and all(
        np.array_equal(g.covariances, gs[0].covariances) for g in gs
    ):
        first = gs[0]
        return gaussians_from_parts(
            means, first.covariances, "tied", first.cholesky, logdet
        )
    if len(kinds) == 1 and kinds != {"tied"}:
        kind = kinds.pop()
        covs = np.concatenate([g.covariances for g in gs])
        factors = np.concatenate([g.cholesky for g in gs])
        return gaussians_from_parts(means, covs, kind, factors, logdet)
    if kinds <= {"diag", "spherical"}:
        var = np.vstack([variances(g) for g in gs])
        std = np.vstack([g.std() for g in gs])
        return gaussians_from_parts(means, var, "diag", std, logdet)
    # Mixed kinds, or tied mixtures with different shared covariances.
    full = [g.to_full() for g in gs]
    covs = np.concatenate([g.covariances for g in full])
    factors = np.concatenate([g.cholesky for g in full])
    return gaussians_from_parts(means, covs, "full", factors, logdet)


def variances(G: Gaussians) -> np.ndarray:
    """Per-feature variances (K, d) of diagonal or spherical Gaussians."""
    if G.covariance_type == "diag":
        return G.covariances
    return np.broadcast_to(G.covariances[:, None], G.means.shape)
