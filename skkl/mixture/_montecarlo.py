"""Monte Carlo estimates between mixtures, with standard errors.

Stratified sampling (a stratum per component of the sampled mixture), with
Neyman allocation from a small pilot and, in each stratum, control variates
with known means: ``log f_a(x)`` (mean ``-H(f_a)``) and ``log g_b(x)`` for
g's three best-matched components b (mean ``-H(f_a) - KL(f_a || g_b)``).
When components are separated the integrand is almost exactly a linear
combination of these and the variance collapses; when they overlap, the
regression coefficients shrink and little is lost but a few degrees of
freedom per stratum.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np
from scipy.special import logsumexp
from scipy.stats import norm
from sklearn.utils._param_validation import Interval, validate_params

from .._errors import InputError, Setting
from ._components import kl_matrix
from ._mixture import Mixture, check_pair, check_random_state

__all__ = ["MonteCarloEstimate", "mixture_js_monte_carlo", "mixture_kl_monte_carlo"]

_LOG_2 = float(np.log(2.0))
# Control variates from g: its components best matched to the stratum's.
_N_MATCHED = 3
# Smallest number of draws per stratum: the regression has up to 5 coefficients.
_MIN_PER_STRATUM = 10
# Pilot draws per stratum: at most this many (enough to rank the strata's
# spreads for the allocation), and a quarter of the budget.
_MAX_PILOT = 64
_TINY = np.finfo(np.float64).tiny
# The draws of one estimate are held at once (the per-stratum regressions
# need them); they may take at most this share of the machine's memory:
# beyond it the system swaps or kills the process, worse than an error.
_MEMORY_SHARE = 0.5


@dataclass(frozen=True, repr=False)
class MonteCarloEstimate:
    """A Monte Carlo estimate with its standard error.

    Attributes
    ----------
    estimate : float
        The estimate (nats).
    standard_error : float
        Its standard error (the estimator is unbiased up to O(1/n) from the
        estimated control-variate coefficients).
    n_samples : int
        Points drawn, pilot included.
    plain_standard_error : float
        Estimated standard error of plain Monte Carlo (the mean of the
        log-ratio at ``n_samples`` draws from the mixture), for comparison.
    quantity : str or None, default=None
        What was estimated, e.g. ``'KL(p || q)'`` or ``'JS(p, q)'`` (shown
        in the displays).

    Examples
    --------
    >>> from skkl.mixture import MonteCarloEstimate
    >>> r = MonteCarloEstimate(0.1853, 0.0012, 20000, 0.0051, "KL(p || q)")
    >>> r
    MonteCarloEstimate(KL(p || q) = 0.1853 ± 0.0012, 95% CI [0.1829, 0.1877], \
n_samples=20000)
    """

    estimate: float
    standard_error: float
    n_samples: int
    plain_standard_error: float
    quantity: str | None = None

    def __repr__(self) -> str:
        from .._display import estimate_text  # loads on first use

        return estimate_text(self)

    def _repr_html_(self) -> str:
        from .._display import estimate_html  # loads on first use

        return estimate_html(self)

    @property
    def variance_reduction(self) -> float:
        """``(plain_standard_error / standard_error)^2`` (inf if exact)."""
        if self.standard_error == 0:
            return float("inf")
        return (self.plain_standard_error / self.standard_error) ** 2

    @property
    def effective_n_samples(self) -> float:
        """Plain Monte Carlo draws needed for the same standard error."""
        return self.n_samples * self.variance_reduction

    def confidence_interval(self, level: float = 0.95) -> tuple[float, float]:
        """Normal-theory interval ``estimate +- z standard_error``.

        Parameters
        ----------
        level : float, default=0.95

        Returns
        -------
        low, high : float
        """
        if not 0 < level < 1:
            raise ValueError(f"level must be in (0, 1), got {level!r}.")
        z = float(norm.ppf(0.5 + level / 2))
        return (
            self.estimate - z * self.standard_error,
            self.estimate + z * self.standard_error,
        )


class _Side:
    """One sampling side: draw from ``f``, integrand from log f and log g."""

    def __init__(self, f: Mixture, g: Mixture, integrand):
        self.f, self.g, self.integrand = f, g, integrand
        KL = kl_matrix(f.gaussians, g.gaussians)
        m = min(_N_MATCHED, len(g))
        self.match = np.argsort(KL - g.log_weights, axis=1, kind="stable")[:, :m]
        H = f.entropies
        self.mean_f = -H  # E_{f_a} log f_a
        # E_{f_a} log g_b = -H(f_a) - KL(f_a || g_b)
        self.mean_g = -H[:, None] - np.take_along_axis(KL, self.match, axis=1)

    def draw(self, counts, rng):
        X = self.f.sample_components(counts, rng)
        lf_c = self.f.component_log_densities(X)
        lg_c = self.g.component_log_densities(X)
        lf = logsumexp(lf_c + self.f.log_weights, axis=1)
        lg = logsumexp(lg_c + self.g.log_weights, axis=1)
        h = self.integrand(lf, lg)
        strata = np.repeat(np.arange(len(counts)), counts)
        c1 = lf_c[np.arange(len(X)), strata] - self.mean_f[strata]
        c2 = np.take_along_axis(lg_c, self.match[strata], axis=1) - self.mean_g[strata]
        return h, np.column_stack([c1, c2]), strata


def _regress(h, C):
    """Intercept of h on [1, C] (C has known mean 0), its variance, resid sd."""
    n = len(h)
    X = np.column_stack([np.ones(n), C])
    # Scale the controls: their magnitudes can differ by many orders.
    scale = np.maximum(np.abs(X).max(axis=0), _TINY)  # an all-zero column stays 0
    Xs = X / scale
    beta, _, rank, _ = np.linalg.lstsq(Xs, h, rcond=None)
    resid = h - Xs @ beta
    dof = n - rank
    s2 = float(resid @ resid) / dof if dof > 0 else 0.0
    cov = np.linalg.pinv(Xs.T @ Xs)
    return float(beta[0] / scale[0]), max(s2 * cov[0, 0] / scale[0] ** 2, 0.0), s2


def _estimate(side: _Side, n_samples: int, target_error, rng, n_sides: int = 1):
    w = side.f.weights
    K = len(w)
    pilot = int(min(_MAX_PILOT, max(_MIN_PER_STRATUM, n_samples // (4 * K))))
    counts0 = np.full(K, pilot)
    h, C, s = side.draw(counts0, rng)
    sd = np.empty(K)
    for a in range(K):
        sd[a] = np.sqrt(_regress(h[s == a], C[s == a])[2])
    budget = n_samples - pilot * K
    spread = float(w @ sd)
    if target_error is not None and spread > 0:
        # Neyman allocation gives variance (sum w_a sd_a)^2 / n.
        need = float(np.ceil((spread / target_error) ** 2))
        budget = int(min(budget, max(need, _MIN_PER_STRATUM * K)))
    n_draws = budget + _MIN_PER_STRATUM * K
    _check_memory(n_draws, side, n_samples * n_sides, target_error, n_sides)
    share = w * sd / spread if spread > 0 else w
    counts = np.maximum(_MIN_PER_STRATUM, np.round(budget * share)).astype(np.int64)
    h, C, s = side.draw(counts, rng)
    est, var = 0.0, 0.0
    means, raw_var = np.empty(K), np.empty(K)
    for a in range(K):
        ha = h[s == a]
        b0, v0, _ = _regress(ha, C[s == a])
        est += w[a] * b0
        var += w[a] ** 2 * v0
        means[a], raw_var[a] = ha.mean(), ha.var(ddof=1)
    n_total = int(counts.sum() + counts0.sum())
    plain_var = float(w @ (raw_var + (means - w @ means) ** 2))
    return est, var, n_total, plain_var


def _check_budget(n_samples, p: Mixture, name="n_samples"):
    need = 2 * _MIN_PER_STRATUM * p.n_components
    if n_samples < need:
        raise InputError(
            f"{{argument}}={n_samples} is too small for {p.n_components} "
            f"components: the stratified estimate needs at least "
            f"{2 * _MIN_PER_STRATUM} draws per component ({name} >= {need}).",
            argument="n_samples",
        )


def _bytes_per_draw(side: _Side) -> int:
    """Bytes held per draw: the point, both log-densities, controls, strata."""
    d, kf, kg = side.f.n_features, side.f.n_components, side.g.n_components
    return 8 * (d + kf + kg + 2 * side.match.shape[1] + 8)


def _memory_limit() -> float | None:
    """``_MEMORY_SHARE`` of physical memory, or None where it is not known."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, OSError, ValueError):  # e.g. Windows
        return None
    return _MEMORY_SHARE * total if total > 0 else None


def _size(n_bytes: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if n_bytes < 1024 or unit == "PiB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1024
    raise AssertionError("unreachable")


def _check_memory(n_draws: float, side: _Side, n_samples, target_error, n_sides):
    """Refuse, before allocating, draws that cannot fit in memory.

    ``n_sides`` mixtures are sampled one after the other, ``n_samples /
    n_sides`` draws each; one side's draws are held at a time.
    """
    per_draw = _bytes_per_draw(side)
    limit = _memory_limit()
    if limit is None or n_draws * per_draw <= limit:
        return
    raise InputError(
        "{argument}={n} needs about {need} for the draws from one mixture and "
        "their log-densities, more than {limit} ({share:.0%} of this machine's "
        "memory); {argument} up to about {fits:.2g} fits here. Lower {argument}"
        + (
            ", or pass {fix} to stop at a standard error"
            if target_error is None
            else ""
        )
        + ".",
        argument="n_samples",
        n=n_samples,
        need=_size(n_draws * per_draw),
        limit=_size(limit),
        share=_MEMORY_SHARE,
        fits=float(limit // per_draw * n_sides),
        fix=Setting("target_error"),
    )


_MC_PARAMS = {
    "p": "no_validation",
    "q": "no_validation",
    "n_samples": [Interval(Integral, 1, None, closed="left")],
    "target_error": [Interval(Real, 0, None, closed="neither"), None],
    "random_state": ["random_state", np.random.Generator],
}


@validate_params(_MC_PARAMS, prefer_skip_nested_validation=True)
def mixture_kl_monte_carlo(
    p,
    q,
    n_samples: int = 20_000,
    *,
    target_error: float | None = None,
    random_state=None,
) -> MonteCarloEstimate:
    """Monte Carlo estimate of KL(p || q) between mixtures, with its error.

    Draws from ``p`` stratified by component (Neyman allocation from a small
    pilot) and evaluates ``log p(x) - log q(x)`` in log space (log-sum-exp
    of Cholesky log-densities, no underflow in any dimension); control
    variates per stratum with exact means (from the component entropies and
    component KL divergences) remove most of the variance.

    Parameters
    ----------
    p, q : Mixture or fitted GaussianMixture / BayesianGaussianMixture / GroupGaussians
    n_samples : int, default=20000
        Points drawn from ``p`` (at most, when ``target_error`` is given);
        at least 16 per component.
    target_error : float, default=None
        Stop at the number of draws the pilot predicts for this standard
        error (capped by ``n_samples``).
    random_state : int, Generator, RandomState or None, default=None

    Returns
    -------
    result : MonteCarloEstimate
        ``estimate``, ``standard_error``, ``plain_standard_error`` (plain
        sampling at the same ``n_samples``), ``variance_reduction``,
        ``effective_n_samples``, ``confidence_interval()``.

    Examples
    --------
    >>> from skkl import Gaussians, Mixture, mixture_kl_monte_carlo
    >>> f = Mixture([0.5, 0.5], Gaussians([[-2.0], [2.0]], [1.0, 1.0], "spherical"))
    >>> g = Mixture([1.0], Gaussians([[0.0]], [4.0], "spherical"))
    >>> r = mixture_kl_monte_carlo(f, g, 20000, random_state=0)
    >>> bool(abs(r.estimate - 0.1854) < 4 * r.standard_error)  # quadrature: 0.1854
    True
    >>> bool(r.standard_error < 0.005)
    True
    >>> bool(r.variance_reduction > 1)
    True
    """
    p, q = check_pair(p, q)
    _check_budget(n_samples, p)
    rng = check_random_state(random_state)
    side = _Side(p, q, lambda lf, lg: lf - lg)
    est, var, n, plain = _estimate(side, n_samples, target_error, rng)
    return MonteCarloEstimate(
        float(est), float(np.sqrt(var)), n, float(np.sqrt(plain / n)), "KL(p || q)"
    )


def _js_integrand(lf, lg):
    # log f - log((f + g) / 2), <= log 2, exact in log space.
    return _LOG_2 + lf - np.logaddexp(lf, lg)


@validate_params(_MC_PARAMS, prefer_skip_nested_validation=True)
def mixture_js_monte_carlo(
    p,
    q,
    n_samples: int = 20_000,
    *,
    target_error: float | None = None,
    random_state=None,
) -> MonteCarloEstimate:
    """Monte Carlo estimate of the Jensen-Shannon divergence, with its error.

    ``JS = KL(p || m) / 2 + KL(q || m) / 2`` with ``m = (p + q) / 2``, in
    nats (between 0 and log 2): half the draws from each mixture, stratified
    with control variates as in :func:`mixture_kl_monte_carlo`.

    Parameters
    ----------
    p, q : Mixture or fitted GaussianMixture / BayesianGaussianMixture / GroupGaussians
    n_samples : int, default=20000
        Total draws (half from each mixture).
    target_error : float, default=None
        Target standard error of the JS estimate.
    random_state : int, Generator, RandomState or None, default=None

    Returns
    -------
    result : MonteCarloEstimate

    Examples
    --------
    >>> from skkl import Gaussians, Mixture, mixture_js_monte_carlo
    >>> f = Mixture([1.0], Gaussians([[0.0]], [1.0], "spherical"))
    >>> g = Mixture([1.0], Gaussians([[50.0]], [1.0], "spherical"))
    >>> r = mixture_js_monte_carlo(f, g, 2000, random_state=0)
    >>> round(r.estimate, 6)  # disjoint supports: log 2
    0.693147
    """
    p, q = check_pair(p, q)
    half = n_samples // 2
    _check_budget(half, p, "n_samples / 2")
    _check_budget(half, q, "n_samples / 2")
    rng = check_random_state(random_state)
    side_target = None if target_error is None else target_error * np.sqrt(2.0)
    results = [
        _estimate(_Side(a, b, _js_integrand), half, side_target, rng, n_sides=2)
        for a, b in ((p, q), (q, p))
    ]
    est = 0.5 * (results[0][0] + results[1][0])
    se = 0.5 * np.sqrt(results[0][1] + results[1][1])
    n = results[0][2] + results[1][2]
    plain = 0.5 * np.sqrt(results[0][3] / results[0][2] + results[1][3] / results[1][2])
    return MonteCarloEstimate(float(est), float(se), n, float(plain), "JS(p, q)")
