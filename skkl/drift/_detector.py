"""Drift detection: a calibrated Gaussian two-sample test with an effect size.

:class:`GaussianDriftDetector` compares new data with a reference sample. Its
statistics are parts of the Gaussian likelihood-ratio statistic for "same mean
and same covariance",

    -2 log L = N log|T| - n1 log|S1| - n2 log|S2|
             = [N log|T| - N log|W|] + [N log|W| - n1 log|S1| - n2 log|S2|],

(``T`` the pooled covariance, ``W`` the pooled within-group covariance, ``S_i``
the group covariances, all maximum likelihood), i.e. a mean part (Hotelling's
T^2 in disguise) plus a covariance part. The default statistic, 'combined',
also splits the covariance part into a variance part and a correlation part
and adds the largest per-feature variance change and the largest pairwise
correlation change, then combines the five parts' permutation p-values
(weighted Tippett; see ``skkl/drift/_combine.py``). By default p-values come
from permutations, which are exact for any distribution under
exchangeability: the Gaussian model only shapes which differences the test is
sensitive to. Every permutation's statistics come from one matrix product
(see ``skkl/drift/_permutation.py``).
"""

from __future__ import annotations

import numbers
import warnings
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from .._gaussians import Gaussians
from .._moments import shrink as shrink_covariances
from ..divergence import divergence
from ._combine import (
    asymptotic_test,
    holm,
    null_bias,
    perm_p_value,
    perm_threshold,
    statistic_values,
)
from ._permutation import (
    MomentSpec,
    _moments,
    moment_features,
    permute,
)

__all__ = ["DriftResult", "GaussianDriftDetector"]


@dataclass
class DriftResult:
    """Outcome of one drift test.

    Attributes
    ----------
    statistic : float
        Observed test statistic (see ``statistic_name``; larger is more
        extreme). In asymptotic mode it is on the scale of its reference
        distribution: Hotelling's T^2 for 'mean', a corrected chi-square value
        otherwise.
    p_value : float
        Permutation p-value ``(1 + #{T_b >= T}) / (1 + B)`` or asymptotic one.
    is_drift : bool
        ``p_value < alpha`` and, when ``min_effect`` is set, ``effect >=
        min_effect``.
    threshold : float
        Critical value of the statistic at ``alpha``: ``p_value < alpha``
        exactly when ``statistic > threshold`` (``inf`` when B is too small
        to ever reject).
    effect : float
        Bias-corrected symmetric KL divergence ``(KL(ref || new) + KL(new ||
        ref)) / 2`` between the Gaussian fits, in nats; its expectation under
        no drift (Gaussian data) is removed, so it is near 0 without drift.
    feature_scores : ndarray of shape (n_features,)
        The same bias-corrected symmetric KL for each feature's marginal.
    feature_p_values : ndarray of shape (n_features,)
        Holm-adjusted p-values of each feature's univariate test (mean and
        variance), from the same permutations.
    n_ref, n : int
        Sizes of the reference and of the tested sample.
    alpha : float
        Level of the test.
    statistic_name : str
        'combined', 'lrt', 'mean' or 'covariance'.
    method : str
        'permutation' or 'asymptotic'.
    null_distribution : ndarray of shape (n_permutations,) or None
        Permutation values of the statistic (None in asymptotic mode).
    """

    statistic: float
    p_value: float
    is_drift: bool
    threshold: float
    effect: float
    feature_scores: np.ndarray
    feature_p_values: np.ndarray
    n_ref: int
    n: int
    alpha: float = 0.05
    statistic_name: str = "combined"
    method: str = "permutation"
    null_distribution: np.ndarray | None = field(default=None, repr=False)

    def to_dict(self) -> dict:
        """alibi-detect style summary.

        As in alibi-detect's ``predict()['data']``: ``threshold`` is the
        p-value threshold (``alpha``), ``distance`` the statistic and
        ``distance_threshold`` its critical value; ``effect`` is added.
        """
        return {
            "is_drift": int(self.is_drift),
            "p_val": float(self.p_value),
            "threshold": float(self.alpha),
            "distance": float(self.statistic),
            "distance_threshold": float(self.threshold),
            "effect": float(self.effect),
        }


# -- helpers ----------------------------------------------------------------


def _sym_kl(m1, C1, m2, C2, kind: str) -> np.ndarray:
    return 0.5 * divergence(
        Gaussians(m1, C1, kind), Gaussians(m2, C2, kind), "jeffreys"
    )


# -- the estimator ------------------------------------------------------------


class GaussianDriftDetector(BaseEstimator):
    """Two-sample drift test between a reference sample and new data.

    The statistics are the mean and covariance parts of the Gaussian
    likelihood ratio for "same mean and same covariance" (see the module
    docstring and the user guide). With ``method='permutation'`` the p-value
    is exact for any distribution of exchangeable samples; all permutations
    are evaluated at once with one matrix product.

    Parameters
    ----------
    alpha : float, default=0.05
        Level of the test.
    method : {'permutation', 'asymptotic'}, default='permutation'
        Permutation p-values (exact), or chi-square / F approximations with
        small-sample corrections. These assume Gaussian data (heavy tails
        inflate the false-positive rate of the covariance tests several-fold)
        and enough samples: a ``UserWarning`` is raised when a group has
        fewer than ``4 d + 10`` samples, below which they were measured to
        be miscalibrated even for Gaussian data.
    n_permutations : int, default=1000
        Number of random permutations B.
    statistic : {'combined', 'lrt', 'mean', 'covariance'}, default='combined'
        'lrt' is the full likelihood-ratio statistic, 'mean' its mean part
        (Hotelling's T^2), 'covariance' its covariance part. 'combined'
        combines, over the same permutations, the permutation p-values ``p_k``
        of five parts: the mean part (weight 0.6); the covariance part split
        into its variance part (the diagonal-model LRT, 0.1) and its
        correlation part (the LRT between correlation matrices, 0.1); the
        largest per-feature variance LRT (0.1) and the largest change of a
        pairwise correlation (squared difference of Fisher's z, 0.1). Its
        statistic is ``-log min_k (p_k / w_k)`` (weighted Tippett), itself
        calibrated by the permutations, so the test stays exact. It keeps
        most of Hotelling's power on mean shifts and is the most powerful of
        the statistics for changes of variance or correlation (see the user
        guide for measurements). A change seen by one part alone gets a
        p-value of about ``1 / (w_k (B + 1))`` at best: keep ``n_permutations
        >= 200`` at ``alpha=0.05``. With diagonal covariances (or one feature)
        the correlation parts are dropped and the variance parts weigh 0.2
        each. In asymptotic mode it is Tippett's combination (Sidak-corrected)
        of the asymptotically independent mean and covariance p-values.
    covariance_type : {'full', 'diag'}, default='full'
        'diag' ignores correlations (tests means and variances per feature).
    shrinkage : None, 'ledoit_wolf', 'oas' or float in [0, 1], default=None
        Shrink every covariance in the statistic towards ``mu I`` (needed when
        d is close to the group sizes). The intensity is estimated once on the
        pooled sample (scaled by N / n_i for a group of n_i samples), so every
        permutation uses the same statistic and the test stays exact.
        Permutation method only.
    min_effect : float or None, default=None
        Minimum ``effect`` (bias-corrected symmetric KL, nats) to call drift:
        with large samples tiny but real differences are significant.
    random_state : int, RandomState instance or None, default=None
        Seed of the permutations.
    n_jobs : int or None, default=None
        Threads over blocks of permutations.

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when the reference has string column names.
    n_ref_ : int
        Number of reference samples.
    reference_ : ndarray of shape (``n_ref_``, ``n_features_in_``) or None
        Reference data (permutation method only; the asymptotic method keeps
        sufficient statistics).
    location_, scale_ : ndarray, float
        Centre and scalar scale applied to all data before the moments (for
        numerical stability; the statistics do not depend on them).

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import GaussianDriftDetector
    >>> rng = np.random.default_rng(0)
    >>> det = GaussianDriftDetector(random_state=0).fit(rng.normal(size=(500, 3)))
    >>> det.test(rng.normal(size=(400, 3))).is_drift
    False
    >>> res = det.test(rng.normal(loc=[0.3, 0, 0], size=(400, 3)))
    >>> res.is_drift, res.p_value, int(np.argmin(res.feature_p_values))
    (True, 0.000999..., 0)
    """

    _parameter_constraints: dict = {
        "alpha": [Interval(numbers.Real, 0, 1, closed="neither")],
        "method": [StrOptions({"permutation", "asymptotic"})],
        "n_permutations": [Interval(numbers.Integral, 1, None, closed="left")],
        "statistic": [StrOptions({"combined", "lrt", "mean", "covariance"})],
        "covariance_type": [StrOptions({"full", "diag"})],
        "shrinkage": [
            None,
            StrOptions({"ledoit_wolf", "oas"}),
            Interval(numbers.Real, 0, 1, closed="both"),
        ],
        "min_effect": [None, Interval(numbers.Real, None, None, closed="neither")],
        "random_state": ["random_state"],
        "n_jobs": [numbers.Integral, None],
    }

    def __init__(
        self,
        alpha: float = 0.05,
        method: str = "permutation",
        n_permutations: int = 1000,
        statistic: str = "combined",
        covariance_type: str = "full",
        shrinkage=None,
        min_effect: float | None = None,
        random_state=None,
        n_jobs: int | None = None,
    ):
        self.alpha = alpha
        self.method = method
        self.n_permutations = n_permutations
        self.statistic = statistic
        self.covariance_type = covariance_type
        self.shrinkage = shrinkage
        self.min_effect = min_effect
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fitting ---------------------------------------------------------------

    def _check_n(self, n: int, what: str):
        d = self.n_features_in_
        need = d + 1 if self.covariance_type == "full" else 2
        if self.method == "asymptotic":
            need = max(need, d + 3 if self.covariance_type == "full" else 4)
        if n < need and self.shrinkage is None:
            raise ValueError(
                f"{what} has {n} samples but covariance_type="
                f"{self.covariance_type!r} in {d} dimensions needs at least {need}; "
                "use shrinkage='ledoit_wolf' (permutation method), "
                "covariance_type='diag', or more samples."
            )
        if n < 2:
            raise ValueError(f"{what} needs at least 2 samples, got {n}.")

    def _features(self, X: np.ndarray, w: np.ndarray) -> np.ndarray:
        return moment_features((X - self.location_) / self.scale_, w, self._spec)

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X_ref, y=None, sample_weight=None) -> GaussianDriftDetector:
        """Store the reference sample (or its sufficient statistics).

        Parameters
        ----------
        X_ref : array-like of shape (n_samples, n_features)
            Reference data, without NaN.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Relative weights of the reference samples: the whole reference
            (over all ``partial_fit`` calls) is rescaled to mean weight 1.

        Returns
        -------
        self : GaussianDriftDetector
        """
        if self.method == "asymptotic" and self.shrinkage is not None:
            raise ValueError(
                "shrinkage is only available with method='permutation' (the "
                "chi-square approximations assume unshrunk ML covariances)."
            )
        self._reset(X_ref, sample_weight)
        self._check_n(self.n_ref_, "X_ref")
        return self

    def _reset(self, X_ref, sample_weight):
        X = validate_data(self, X_ref, dtype=np.float64, ensure_min_samples=2)
        w = self._weights(X, sample_weight)
        self.location_ = w @ X / w.sum()
        var = w @ np.square(X - self.location_) / w.sum()
        scale = float(np.sqrt(var.mean()))
        self.scale_ = scale if scale > 0 else 1.0
        self._spec = MomentSpec(X.shape[1], self.covariance_type)
        self._fitted = (self.method, self.covariance_type)
        self._F_ref = self._sums = None
        self.n_ref_ = 0
        self.reference_ = None
        self._ref_w = np.empty(0)
        self._add(X, w)

    def _weights(self, X, sample_weight):
        if sample_weight is None:
            return np.ones(X.shape[0])
        w = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        if w.sum() <= 0:
            raise ValueError(
                "sample_weight sums to zero; give some sample positive weight."
            )
        return w

    def _reference(self):
        """Reference features, sums and weights, rescaled to mean weight 1.

        Weights are kept raw across ``partial_fit`` calls and normalised once
        here over the whole reference, so partial fits equal one fit; the
        features are linear in the weight, so rescaling them is exact.
        """
        c = self._ref_w.size / self._ref_w.sum()
        F = None if self._F_ref is None else self._F_ref * c
        return F, self._sums * c, self._ref_w * c

    def _add(self, X, w):
        F = self._features(X, w)
        self._sums = F.sum(axis=0) if self._sums is None else self._sums + F.sum(axis=0)
        self._ref_w = np.concatenate([self._ref_w, w])
        if self.method == "permutation":
            self._F_ref = F if self._F_ref is None else np.vstack([self._F_ref, F])
            self.reference_ = (
                X if self.reference_ is None else np.vstack([self.reference_, X])
            )
        self.n_ref_ += X.shape[0]

    def partial_fit(self, X_ref, y=None, sample_weight=None) -> GaussianDriftDetector:
        """Add samples to the reference (fits it on the first call).

        Parameters
        ----------
        X_ref : array-like of shape (n_samples, n_features)
            Reference samples to add.
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Weights on the same scale as earlier batches' weights (kept raw;
            the whole reference is rescaled to mean 1 at test time, so a
            sequence of partial fits equals one fit on the concatenation).

        Returns
        -------
        self : GaussianDriftDetector
        """
        if not hasattr(self, "n_ref_"):
            # Small first batches are fine: sizes are checked at test time.
            self._validate_params()
            self._reset(X_ref, sample_weight)
            return self
        X = validate_data(self, X_ref, dtype=np.float64, reset=False)
        self._add(X, self._weights(X, sample_weight))
        return self

    # -- testing ---------------------------------------------------------------

    def _validate_new(self, X, name="X"):
        check_is_fitted(self, "n_ref_")
        self._validate_params()
        method, cov_type = self._fitted
        if cov_type != self.covariance_type or (
            self.method == "permutation" and method == "asymptotic"
        ):
            raise ValueError(
                f"the detector was fitted with method={method!r} and "
                f"covariance_type={cov_type!r}; call fit again after changing them."
            )
        if self.method == "asymptotic" and self.shrinkage is not None:
            raise ValueError("shrinkage is only available with method='permutation'.")
        X = validate_data(self, X, dtype=np.float64, reset=False, ensure_min_samples=2)
        self._check_n(self.n_ref_, "X_ref")
        self._check_n(X.shape[0], name)
        return X

    def test(self, X) -> DriftResult:
        """Test whether ``X`` comes from the reference distribution.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        result : DriftResult
        """
        X = self._validate_new(X)
        F = self._features(X, np.ones(X.shape[0]))
        return self._test_features(*self._reference(), F, self.random_state)

    def predict(self, X) -> int:
        """1 when drift is detected in ``X``, else 0."""
        return int(self.test(X).is_drift)

    def _shrinkage(self, F_ref, F_new):
        if self.shrinkage is None:
            return None
        n1, n2 = F_ref[:, 0].sum(), F_new[:, 0].sum()
        N = n1 + n2
        if isinstance(self.shrinkage, str):
            from sklearn.covariance import ledoit_wolf_shrinkage, oas

            d = self.n_features_in_
            # The pooled sample, back from the features (zero weights dropped).
            F = np.vstack([F_ref, F_new])
            F = F[F[:, 0] > 0]
            Z = F[:, 1 : 1 + d] / F[:, :1]
            if self.covariance_type == "diag":
                Z = Z / Z.std(axis=0).clip(1e-300)
            a = (
                ledoit_wolf_shrinkage(Z)
                if self.shrinkage == "ledoit_wolf"
                else oas(Z)[1]
            )
            a = float(a)
            return a, min(1.0, a * N / n1), min(1.0, a * N / n2)
        a = float(self.shrinkage)
        return a, a, a

    def _test_features(
        self, F_ref, ref_sums, ref_w, F_new, random_state
    ) -> DriftResult:
        spec, d = self._spec, self.n_features_in_
        new_sums = F_new.sum(axis=0)
        shrink = None
        if self.method == "permutation":
            shrink = self._shrinkage(F_ref, F_new)
            (obs, obs_f), (null, null_f) = permute(
                F_ref,
                F_new,
                spec,
                shrink,
                self.n_permutations,
                random_state,
                self.n_jobs,
            )
            values = statistic_values(
                np.vstack([obs, null]), self.statistic, spec.full and d > 1
            )
            stat, null_stat = float(values[0]), values[1:]
            p = perm_p_value(stat, null_stat)
            threshold = perm_threshold(null_stat, self.alpha)
            feat_p = np.array([perm_p_value(obs_f[j], null_f[:, j]) for j in range(d)])
        else:
            null_stat = None
            stat, p, threshold, feat_p = self._asymptotic_test(ref_sums, new_sums)
        effect, scores = self._effects(
            ref_sums, new_sums, ref_w, F_new.shape[0], shrink
        )
        is_drift = bool(p < self.alpha) and (
            self.min_effect is None or effect >= self.min_effect
        )
        return DriftResult(
            statistic=stat,
            p_value=float(p),
            is_drift=is_drift,
            threshold=threshold,
            effect=effect,
            feature_scores=scores,
            feature_p_values=holm(feat_p),
            n_ref=int(ref_w.size),
            n=int(F_new.shape[0]),
            alpha=self.alpha,
            statistic_name=self.statistic,
            method=self.method,
            null_distribution=null_stat,
        )

    def _asymptotic_test(self, ref_sums, new_sums):
        d, n = self.n_features_in_, min(ref_sums[0], new_sums[0])
        if n < 4 * d + 10:
            warnings.warn(
                f"method='asymptotic' with {int(n)} samples in a group and "
                f"{d} features: the chi-square approximations are miscalibrated when "
                "a group has fewer than 4 * n_features + 10 samples; use "
                "method='permutation'.",
                UserWarning,
                stacklevel=3,
            )
        return asymptotic_test(
            ref_sums, new_sums, self._spec, self.statistic, self.alpha
        )

    def _effects(self, ref_sums, new_sums, ref_w, n_new, shrink):
        """Bias-corrected symmetric KL, overall and per feature (unshrunk)."""
        spec, d = self._spec, self.n_features_in_
        full = spec.full
        _, m1, C1 = _moments(ref_sums[None], spec)
        _, m2, C2 = _moments(new_sums[None], spec)
        n1 = ref_w.sum() ** 2 / np.square(ref_w).sum()  # Kish effective size
        n2 = float(n_new)
        v1 = np.diagonal(C1, axis1=-2, axis2=-1)[0] if full else C1[0]
        v2 = np.diagonal(C2, axis1=-2, axis2=-1)[0] if full else C2[0]
        uni_bias = null_bias(n1, n2, 1)
        scores = _sym_kl(m1.T, v1[:, None], m2.T, v2[:, None], "diag") - uni_bias
        if shrink is None:
            bias = null_bias(n1, n2, d) if full else d * uni_bias
        else:
            C1, C2 = (
                shrink_covariances(C1, shrink[1]),
                shrink_covariances(C2, shrink[2]),
            )
            # First-order plug-in bias (shrinkage only lowers it).
            bias = (d * (d + 3) / 4 if full else d / 2) * (1 / n1 + 1 / n2)
        kind = "full" if full else "diag"
        effect = float(_sym_kl(m1, C1, m2, C2, kind)[0]) - bias
        return effect, scores

    # -- windows -------------------------------------------------------------

    def scan(
        self, X_stream, window: int, step: int | None = None, reference: str = "fixed"
    ):
        """Test successive windows of a stream.

        Parameters
        ----------
        X_stream : array-like of shape (n_samples, n_features)
            Samples in time order.
        window : int
            Window length; a last incomplete window is dropped.
        step : int, default=None
            Shift between windows (``window`` when None: disjoint windows).
        reference : {'fixed', 'previous'}, default='fixed'
            Compare each window with the fitted reference, or with the
            previous window (the first window is then not tested). Moment
            features are computed once per sample and reused.

        Returns
        -------
        table : pandas.DataFrame or list of DriftResult
            One row per tested window with ``start``, ``stop``, ``statistic``,
            ``p_value``, ``threshold``, ``effect``, ``is_drift``, ``n_ref``,
            ``n`` (a DataFrame when pandas is installed, with ``alpha`` in
            ``table.attrs``).
        """
        X = self._validate_new(X_stream, "X_stream")
        n = X.shape[0]
        if not isinstance(window, numbers.Integral) or not 2 <= window <= n:
            raise ValueError(f"window must be an integer in [2, {n}], got {window!r}.")
        step = window if step is None else step
        if not isinstance(step, numbers.Integral) or step < 1:
            raise ValueError(f"step must be a positive integer, got {step!r}.")
        if reference not in ("fixed", "previous"):
            raise ValueError(
                f"reference must be 'fixed' or 'previous', got {reference!r}."
            )
        self._check_n(window, "window")
        F = self._features(X, np.ones(n))
        rng = check_random_state(self.random_state)
        starts = list(range(0, n - window + 1, step))
        results, rows = [], []
        fixed = self._reference() if reference == "fixed" else None
        for i, s in enumerate(starts):
            Fw = F[s : s + window]
            if reference == "fixed":
                ref = fixed
            elif i == 0:
                continue
            else:
                Fp = F[starts[i - 1] : starts[i - 1] + window]
                ref = (Fp, Fp.sum(axis=0), np.ones(window))
            seed = rng.randint(np.iinfo(np.int32).max)
            res = self._test_features(*ref, Fw, seed)
            results.append(res)
            rows.append(
                {
                    "start": s,
                    "stop": s + window,
                    "statistic": res.statistic,
                    "p_value": res.p_value,
                    "threshold": res.threshold,
                    "effect": res.effect,
                    "is_drift": res.is_drift,
                    "n_ref": res.n_ref,
                    "n": res.n,
                }
            )
        try:
            import pandas as pd
        except ImportError:
            return results
        table = pd.DataFrame(
            rows,
            columns=[
                "start",
                "stop",
                "statistic",
                "p_value",
                "threshold",
                "effect",
                "is_drift",
                "n_ref",
                "n",
            ],
        )
        table.attrs["alpha"] = self.alpha
        return table
