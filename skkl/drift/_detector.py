"""Drift detection: a calibrated Gaussian two-sample test with an effect size.

:class:`GaussianDriftDetector` compares new data with a reference sample. It
validates the data, drops features that are constant in both samples, picks
an engine (``method``), combines the engine's part statistics into one
p-value (``_combine``), computes per-feature attribution on the same splits
and a permutation-centred effect size, and builds the result. The engines
only compute part statistics from pooled, centred data and split
memberships; nothing below the detector calls back up:

- ``'permutation'`` (``_permutation.py``): the parts of the Gaussian
  likelihood-ratio statistic for "same mean and same covariance",

      -2 log L = N log|T| - n1 log|S1| - n2 log|S2|
               = [N log|T| - N log|W|] + [N log|W| - n1 log|S1| - n2 log|S2|],

  for every permutation from one product of a membership matrix with the
  moment features ``[w, w z, w vech(z z')]``. Exact for any distribution.
- ``'gram'`` (``_gram.py``): U-statistics of the mean and second moments
  computed in sample space from the Gram matrix ``Z Z'``, for d large
  relative to n. Exact for any distribution.
- ``'asymptotic'`` (``_asymptotic.py``): a distribution-free asymptotic test
  from streaming moment sums, for n much larger than the d(d+1)/2 covariance
  parameters.
"""

from __future__ import annotations

import math
import numbers
import warnings
from dataclasses import dataclass, field, replace

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from .._dask import is_dask_collection, validate_features
from .._moments import group_moments, ledoit_wolf_coefficient, oas_coefficient
from . import _dask_input
from ._combine import (
    centred_effect,
    combine_p_values,
    holm,
    named_statistic_values,
    perm_p_value,
    perm_threshold,
    statistic_values,
    symmetric_kl,
)
from ._permutation import (
    MomentSpec,
    diagonal_parts,
    feature_parts,
    moment_parts,
    pooled_ridge,
    split_moments,
    split_sums,
)

__all__ = ["DriftResult", "DriftScan", "GaussianDriftDetector"]

#: Work (flops) up to which 'auto' always uses a permutation engine.
PERMUTATION_BUDGET = 2e10
#: 'auto' uses the asymptotic test only with this many rows per sample per
#: moment parameter (d + d(d+1)/2).
ASYMPTOTIC_ROWS_PER_PARAMETER = 10
#: Permutations on which the effect is recomputed to centre it.
EFFECT_PERMUTATIONS = 50
#: Rows of the pooled subsample that centres the asymptotic engine's effect.
EFFECT_SUBSAMPLE = 4000
# A mean difference beyond this many within-sample standard deviations cannot
# be resolved by float64 sums of squares: it is reported as such.
_RESOLUTION_SD = 2e6


@dataclass
class DriftResult:
    """Outcome of one drift test (see :meth:`GaussianDriftDetector.test`).

    Attributes
    ----------
    statistic : float
        Observed test statistic (see ``statistic_name``; larger is more
        extreme). For 'combined' it is ``-log min_k (p_k / w_k)`` over the
        parts' p-values.
    p_value : float
        Permutation p-value ``(1 + #{T_b >= T}) / (1 + B)`` or asymptotic one.
    is_drift : bool
        ``p_value < alpha`` and, when ``min_effect`` is set, ``effect >=
        min_effect``.
    threshold : float
        Critical value of the statistic at ``alpha``: ``p_value < alpha``
        exactly when ``statistic > threshold``.
    effect : float
        Symmetric KL divergence ``(KL(ref || new) + KL(new || ref)) / 2``
        between the Gaussian fits, in nats, minus its mean over permuted
        splits (which carry the estimation bias and none of the drift): about
        0 without drift, for any distribution, dimension and shrinkage.
    effect_null_sd : float
        Standard deviation of the effect over the permuted splits: an effect
        of several ``effect_null_sd`` is beyond noise.
    feature_scores : ndarray of shape (n_features,)
        The same centred symmetric KL for each feature's marginal (0 for a
        dropped constant feature).
    feature_p_values : ndarray of shape (n_features,)
        Holm-adjusted p-values of each feature's univariate test (mean and
        variance), from the same permutations (1 for a dropped feature).
    n_ref, n : int
        Sizes of the reference and of the tested sample.
    alpha : float
        Level of the test.
    statistic_name : str
        'combined', 'lrt', 'mean' or 'covariance'.
    method : str
        Engine used: 'permutation', 'gram' or 'asymptotic' ('none' when every
        feature was dropped as constant).
    null_distribution : ndarray of shape (n_permutations,) or None
        Permutation values of the statistic (None for 'asymptotic').
    feature_names : ndarray of str or None
        Names of the features (when the detector was fitted on a DataFrame).
    dropped_features : tuple of int
        Indices of features constant with the same value in both samples,
        left out of the test.
    notes : tuple of str
        Explanations: dropped or changed constant features, a shift too large
        for float64 moment sums, an engine fallback.
    start, stop : int or None
        Rows of the window in :meth:`GaussianDriftDetector.scan` (None for
        :meth:`~GaussianDriftDetector.test`).
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
    effect_null_sd: float = float("nan")
    feature_names: np.ndarray | None = field(default=None, repr=False)
    dropped_features: tuple = ()
    notes: tuple = ()
    start: int | None = None
    stop: int | None = None

    def to_dict(self) -> dict:
        """alibi-detect style summary.

        As in alibi-detect's ``predict()['data']``: ``threshold`` is the
        p-value threshold (``alpha``), ``distance`` the statistic and
        ``distance_threshold`` its critical value; ``effect`` and
        ``effect_null_sd`` are added.

        Returns
        -------
        summary : dict
        """
        return {
            "is_drift": int(self.is_drift),
            "p_val": float(self.p_value),
            "threshold": float(self.alpha),
            "distance": float(self.statistic),
            "distance_threshold": float(self.threshold),
            "effect": float(self.effect),
            "effect_null_sd": float(self.effect_null_sd),
        }

    def _repr_html_(self) -> str:
        from .._display import drift_result_html

        return drift_result_html(self)

    def to_html(self, path):
        """Write this test as a self-contained HTML report page.

        The verdict and p-value, the effect with its spread without drift,
        the engine, the per-feature table, the drift figure (with matplotlib)
        and the notes, in one file that loads nothing from the network and
        reads on a phone and on paper.

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced if it exists).

        Returns
        -------
        path : pathlib.Path

        Examples
        --------
        >>> import pathlib, tempfile
        >>> import numpy as np
        >>> from skkl import GaussianDriftDetector
        >>> rng = np.random.default_rng(0)
        >>> det = GaussianDriftDetector(random_state=0).fit(rng.normal(size=(200, 2)))
        >>> res = det.test(rng.normal(size=(200, 2)) + [1, 0])
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     page = res.to_html(pathlib.Path(tmp) / "drift.html").read_text("utf-8")
        >>> "Drift detected" in page
        True
        """
        from .._display import write_drift_report

        return write_drift_report(self, path)


_SCAN_COLUMNS = (
    "start",
    "stop",
    "statistic",
    "p_value",
    "threshold",
    "effect",
    "effect_null_sd",
    "is_drift",
    "n_ref",
    "n",
    "method",
)


class DriftScan(list):
    """Results of :meth:`GaussianDriftDetector.scan`: a list of DriftResult.

    Each result carries its window's ``start`` and ``stop`` rows. The same
    type is returned whether pandas is installed or not.

    Attributes
    ----------
    alpha : float
        Level of every window's test.
    skipped : tuple (start, stop) or None
        Rows at the end of the stream that no window covered (``partial='drop'``).

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import GaussianDriftDetector
    >>> rng = np.random.default_rng(0)
    >>> det = GaussianDriftDetector(random_state=0).fit(rng.normal(size=(300, 2)))
    >>> stream = np.vstack([rng.normal(size=(200, 2)), rng.normal(size=(200, 2)) + 1])
    >>> scan = det.scan(stream, window=100)
    >>> [(r.start, r.stop, r.is_drift) for r in scan]
    [(0, 100, False), (100, 200, False), (200, 300, True), (300, 400, True)]
    """

    def __init__(self, results=(), alpha: float = 0.05, skipped=None):
        super().__init__(results)
        self.alpha = alpha
        self.skipped = skipped

    def to_frame(self):
        """One row per window (requires pandas).

        Returns
        -------
        table : pandas.DataFrame
            Columns ``start``, ``stop``, ``statistic``, ``p_value``,
            ``threshold``, ``effect``, ``effect_null_sd``, ``is_drift``,
            ``n_ref``, ``n``, ``method``; ``alpha`` in ``table.attrs``.
        """
        import pandas as pd

        table = pd.DataFrame(
            [{c: getattr(r, c) for c in _SCAN_COLUMNS} for r in self],
            columns=list(_SCAN_COLUMNS),
        )
        table.attrs["alpha"] = self.alpha
        return table

    def _repr_html_(self) -> str:
        from .._display import drift_scan_html

        return drift_scan_html(self)

    def to_html(self, path):
        """Write this scan as a self-contained HTML report page.

        The verdict over all windows, the timeline of p-values and effects,
        the table of windows, and the window with the strongest evidence in
        full (as :meth:`DriftResult.to_html` shows one test).

        Parameters
        ----------
        path : str or os.PathLike
            The file to write (replaced if it exists).

        Returns
        -------
        path : pathlib.Path
        """
        from .._display import write_drift_report

        return write_drift_report(self, path)


# -- helpers ----------------------------------------------------------------


def _min_permutations(alpha: float) -> int:
    """Smallest B with ``1 / (B + 1) < alpha`` (else no p-value reaches alpha)."""
    B = max(1, math.floor(1.0 / alpha) - 1)
    while 1.0 / (B + 1) >= alpha:
        B += 1
    return B


def permutation_memberships(N: int, n1: int, B: int, seed) -> np.ndarray:
    """Row 0 the observed split (the first ``n1`` rows), then B random splits.

    Each random split is a uniformly random ``n1``-subset of the rows, drawn
    independently (the draws do not depend on ``n_jobs``).
    """
    M = np.zeros((B + 1, N), dtype=bool)
    M[0, :n1] = True
    rng = np.random.default_rng(seed)
    for row in M[1:]:
        row[rng.choice(N, n1, replace=False, shuffle=False)] = True
    return M


def _feature_label(j: int, names) -> str:
    return f"feature {j}" if names is None else f"feature {j} ({names[j]!r})"


def _weighted_centre_scale(X, w):
    """Weighted mean and standard deviation per feature, without overflow."""
    big = np.max(np.abs(X), axis=0)
    big = np.where(big > 0, big, 1.0)
    Xs = X / big
    mean = w @ Xs / w.sum()
    sd = np.sqrt(w @ np.square(Xs - mean) / w.sum())
    return mean * big, sd * big


def _per_feature_sym_kl(g1, g2) -> np.ndarray:
    """Symmetric KL of each feature's 1-D Gaussian fits, shape (R, d)."""
    _, m1, v1 = g1
    _, m2, v2 = g2
    dm2 = np.square(m1 - m2)
    return 0.25 * (v1 / v2 + v2 / v1 - 2.0 + dm2 * (1.0 / v1 + 1.0 / v2))


# -- the estimator ------------------------------------------------------------


class GaussianDriftDetector(BaseEstimator):
    """Two-sample drift test between a reference sample and new data.

    The test compares the first and second moments of the two samples (see
    the module docstring and the user guide). Its permutation engines give
    p-values that are exact for any distribution of exchangeable samples;
    the asymptotic engine is distribution-free and used only when it is
    calibrated.

    Parameters
    ----------
    alpha : float, default=0.05
        Level of the test.
    method : {'auto', 'permutation', 'gram', 'asymptotic'}, default='auto'
        Engine. 'permutation': moment features, all permutations from one
        matrix product (cost ``~ N (1 + d + d(d+1)/2) B``); 'gram': the
        sample-space engine for d large relative to n (cost ``~ N^2 (d +
        B)``); 'asymptotic': a distribution-free asymptotic test from
        streaming moment sums, for n much larger than ``d(d+1)/2``; when it
        cannot be calibrated (too few rows for the number of moment
        parameters) it warns and falls back to a permutation engine. 'auto'
        picks the cheaper permutation engine while its cost is below
        ``PERMUTATION_BUDGET`` (2e10 flops) or the samples are too small for
        the asymptotic test (fewer than 10 rows per sample per moment
        parameter ``d + d(d+1)/2``), and the asymptotic test otherwise.
    n_permutations : int, default=1000
        Number of random permutations B; ``1 / (B + 1)`` must be below
        ``alpha`` (B >= 20 at alpha=0.05).
    statistic : {'combined', 'lrt', 'mean', 'covariance'}, default='combined'
        Moment engine: 'lrt' is the full likelihood-ratio statistic, 'mean'
        its mean part (Hotelling's T^2), 'covariance' its covariance part.
        'combined' combines, over the same permutations, the permutation
        p-values ``p_k`` of five parts: the mean part (weight 0.6); the
        covariance part split into its variance part (0.1) and its
        correlation part (0.1); the largest per-feature variance LRT (0.1)
        and the largest change of a pairwise correlation (squared difference
        of Fisher's z, 0.1). Its statistic is ``-log min_k (p_k / w_k)``
        (weighted Tippett), itself calibrated by the permutations. With
        diagonal covariances (or one feature) the correlation parts are
        dropped and the variance parts weigh 0.2 each. For the 'gram' and
        'asymptotic' engines, whose parts are named by the engine, 'mean' is
        the mean part, 'covariance' the other parts with equal weights,
        'lrt' all parts with equal weights and 'combined' the mean part with
        weight 0.6 and the others sharing 0.4.
    covariance_type : {'full', 'diag'}, default='full'
        'diag' ignores correlations (tests means and variances per feature).
    shrinkage : None, 'ledoit_wolf', 'oas' or float in [0, 1], default=None
        Shrink every covariance in the statistic towards ``mu I`` (needed when
        d is close to the group sizes). The intensity is estimated once on the
        pooled sample (scaled by N / n_i for a group of n_i samples), so every
        permutation uses the same statistic and the test stays exact. The
        'gram' engine's statistics need no covariance inverse, so there it
        only enters the effect size; 'asymptotic' does not accept it.
    min_effect : float or None, default=None
        Minimum (centred) ``effect`` in nats to call drift: with large samples
        tiny but real differences are significant.
    random_state : int, RandomState instance or None, default=None
        Seed of the permutations.
    n_jobs : int or None, default=None
        Threads over chunks of permutations (-1: all cores).

    Attributes
    ----------
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Defined when the reference has string column names.
    n_ref_ : int
        Number of reference samples.
    reference_ : ndarray of shape (``n_ref_``, ``n_features_in_``) or None
        Reference data; None when fitted on a dask collection (the detector
        then keeps the reference's moment sums, see ``fit``).

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
        "method": [StrOptions({"auto", "permutation", "gram", "asymptotic"})],
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
        "n_jobs": [
            None,
            Interval(numbers.Integral, 1, None, closed="left"),
            Interval(numbers.Integral, None, -1, closed="right"),
        ],
    }

    def __init__(
        self,
        alpha: float = 0.05,
        method: str = "auto",
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

    def _check_params(self):
        if self.method != "asymptotic":
            need = _min_permutations(self.alpha)
            if self.n_permutations < need:
                raise ValueError(
                    f"n_permutations={self.n_permutations} can never reject at "
                    f"alpha={self.alpha:g}: the smallest permutation p-value is "
                    f"1 / (n_permutations + 1). Use n_permutations >= {need} "
                    "(1000 by default), or a larger alpha."
                )
        if self.shrinkage is not None and self.method == "asymptotic":
            raise ValueError(
                "shrinkage is not used by the asymptotic test (it needs n much "
                "larger than d(d+1)/2, where shrinkage is not needed); leave "
                "shrinkage=None, or use method='auto' or 'permutation'."
            )
        if self.method == "gram" and self.covariance_type == "diag":
            raise ValueError(
                "method='gram' compares full second moments; use "
                "covariance_type='full' with it, or method='permutation' for "
                "covariance_type='diag'."
            )

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X_ref, y=None, sample_weight=None) -> GaussianDriftDetector:
        """Store the reference sample.

        Parameters
        ----------
        X_ref : array-like of shape (n_samples, n_features)
            Reference data, without NaN; or a dask array or DataFrame
            (``sample_weight`` then partitioned like it), reduced
            blockwise on the workers to per-feature summaries and the
            streaming engine's moment sums (two passes), which are kept
            instead of the rows: ``method`` must then be 'auto' or
            'asymptotic' and ``test`` runs the asymptotic engine (see the
            user guide, "Data on a dask cluster").
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Relative weights of the reference samples: the whole reference
            (over all ``partial_fit`` calls) is rescaled to mean weight 1.

        Returns
        -------
        self : GaussianDriftDetector
        """
        self._check_params()
        if is_dask_collection(X_ref) or is_dask_collection(sample_weight):
            return self._fit_sums(X_ref, sample_weight)
        X = validate_data(self, X_ref, dtype=np.float64, ensure_min_samples=2)
        self.reference_ = X
        self._ref_w = self._weights(X, sample_weight)
        self.n_ref_ = X.shape[0]
        return self

    def _weights(self, X, sample_weight):
        if sample_weight is None:
            return np.ones(X.shape[0])
        w = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
        if w.sum() <= 0:
            raise ValueError(
                "sample_weight sums to zero; give some sample positive weight."
            )
        return w

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
        if is_dask_collection(X_ref) or is_dask_collection(sample_weight):
            raise TypeError(
                "partial_fit does not take a dask collection: the streaming "
                "engine centres and scales the reference by its own mean and "
                "spread, so it needs the whole reference at once. Concatenate "
                "the batches (dask.dataframe.concat, dask.array.concatenate) and "
                "call fit once."
            )
        if getattr(self, "reference_", False) is None:
            raise ValueError(
                "this detector was fitted on a dask collection and keeps moment "
                "sums, not rows, so rows cannot be added; fit it again on the "
                "concatenated reference."
            )
        if not hasattr(self, "n_ref_"):
            self._validate_params()
            self._check_params()
            X = validate_data(self, X_ref, dtype=np.float64, ensure_min_samples=1)
            self.reference_ = X
            self._ref_w = self._weights(X, sample_weight)
        else:
            X = validate_data(self, X_ref, dtype=np.float64, reset=False)
            self.reference_ = np.vstack([self.reference_, X])
            self._ref_w = np.concatenate([self._ref_w, self._weights(X, sample_weight)])
        self.n_ref_ = self.reference_.shape[0]
        return self

    # -- testing ---------------------------------------------------------------

    def _validate_new(self, X, name="X"):
        check_is_fitted(self, "n_ref_")
        self._validate_params()
        self._check_params()
        return validate_data(self, X, dtype=np.float64, reset=False)

    def test(self, X) -> DriftResult:
        """Test whether ``X`` comes from the reference distribution.

        A dask ``X``, or any ``X`` after a fit on a dask collection, is tested
        by the asymptotic engine from blockwise moment sums (``X`` is never
        gathered); its effect is the plug-in symmetric KL minus its
        delta-method bias, and a test that cannot be calibrated raises a
        ValueError (no permutation fallback without the rows).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            In memory, or a dask array or DataFrame.

        Returns
        -------
        result : DriftResult

        Examples
        --------
        A reference on a dask array: kept as moment sums, never gathered.

        >>> import numpy as np
        >>> da = __import__("pytest").importorskip("dask.array", exc_type=ImportError)
        >>> from skkl import GaussianDriftDetector
        >>> rng = np.random.default_rng(0)
        >>> ref = da.from_array(rng.normal(size=(20000, 2)), chunks=(5000, 2))
        >>> det = GaussianDriftDetector().fit(ref)
        >>> det.reference_ is None
        True
        >>> res = det.test(rng.normal(loc=[0.1, 0], size=(20000, 2)))
        >>> res.method, res.is_drift, int(np.argmin(res.feature_p_values))
        ('asymptotic', True, 0)
        """
        check_is_fitted(self, "n_ref_")
        if is_dask_collection(X) or self.reference_ is None:
            return self._test_sums(X)
        X = self._validate_new(X)
        return self._run(self.reference_, self._ref_w, X, self.random_state)

    def is_drift(self, X) -> bool:
        """Whether the batch ``X`` as a whole has drifted (``test(X).is_drift``).

        One answer for the whole batch: a two-sample test has no per-sample
        prediction.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        drift : bool
        """
        return self.test(X).is_drift

    # -- the pipeline ------------------------------------------------------------

    def _names(self):
        return getattr(self, "feature_names_in_", None)

    def _run(
        self, X_ref, w_ref, X_new, random_state, window=None, effect=True
    ) -> DriftResult:
        """The test of ``X_new`` against ``(X_ref, w_ref)``.

        ``effect=False`` skips the effect size and feature scores (nan): the
        p-value path alone, for calibration studies.
        """
        names = self._names()
        d_all = X_ref.shape[1]
        w_ref = w_ref * (w_ref.size / w_ref.sum())
        pos = w_ref > 0
        n1, n2 = X_ref.shape[0], X_new.shape[0]
        what = "X" if window is None else "the window"
        for n, label in ((int(pos.sum()), "X_ref"), (n2, what)):
            if n < 2:
                raise ValueError(
                    f"{label} has {n} row(s) with positive weight; a drift test "
                    "needs at least 2 rows in each sample."
                )
        keep, notes, n_changed = self._constant_features(X_ref[pos], X_new, names)
        dropped = tuple(int(j) for j in np.setdiff1d(np.arange(d_all), keep))
        common = dict(
            n_ref=int(n1),
            n=int(n2),
            alpha=self.alpha,
            statistic_name=self.statistic,
            feature_names=names,
            dropped_features=dropped,
        )
        if window is not None:
            common.update(start=window[0], stop=window[1])
        if keep.size == 0:
            return self._all_constant(d_all, notes, common)
        Xr, Xn = X_ref[:, keep], X_new
        Xn = Xn[:, keep]
        d = keep.size
        beyond = self._resolution_notes(Xr, w_ref, Xn, keep, names)
        notes += beyond
        # The detector's own evidence of drift beyond doubt.
        evident = bool(beyond) or n_changed > 0
        self._check_rows(n1, n2, d, what)
        engine, why = self._select_engine(n1, n2, d)
        seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
        if engine == "asymptotic":
            out, reason, note = self._asymptotic(
                Xr, w_ref, Xn, seed, effect, evident=evident
            )
            if note is not None:
                notes.append(note)
            if out is None:
                engine, _ = self._select_engine(n1, n2, d, permutation_only=True)
                msg = (
                    f"method='asymptotic' cannot be calibrated here ({reason}); "
                    f"used the {engine!r} engine instead."
                )
                warnings.warn(msg, UserWarning, stacklevel=3)
                notes.append(msg)
        if engine != "asymptotic":
            out = self._permutation(engine, Xr, w_ref, Xn, seed, effect)
        return self._result(out, engine, keep, d_all, notes, common)

    @staticmethod
    def _all_constant(d_all, notes, common) -> DriftResult:
        notes.append(
            "every feature is constant with the same value in both samples: "
            "no evidence of drift."
        )
        return DriftResult(
            statistic=0.0,
            p_value=1.0,
            is_drift=False,
            threshold=np.inf,
            effect=0.0,
            effect_null_sd=0.0,
            feature_scores=np.zeros(d_all),
            feature_p_values=np.ones(d_all),
            method="none",
            notes=tuple(notes),
            **common,
        )

    def _result(self, out, engine, keep, d_all, notes, common) -> DriftResult:
        """The DriftResult of an engine's output on the features ``keep``."""
        stat, p, threshold, null, feat_p, effect, eff_sd, scores = out
        full_scores = np.zeros(d_all)
        full_scores[keep] = scores
        full_p = np.ones(d_all)
        full_p[keep] = holm(feat_p)
        is_drift = bool(
            p < self.alpha and (self.min_effect is None or effect >= self.min_effect)
        )
        return DriftResult(
            statistic=float(stat),
            p_value=float(p),
            is_drift=is_drift,
            threshold=float(threshold),
            effect=float(effect),
            effect_null_sd=float(eff_sd),
            feature_scores=full_scores,
            feature_p_values=full_p,
            method=engine,
            null_distribution=null,
            notes=tuple(notes),
            **common,
        )

    def _constant_features(self, Xr, Xn, names):
        """Features to keep, notes on constant features, and how many moved.

        A feature constant with the same value in both samples carries no
        evidence and is dropped (with a warning); one constant in both samples
        at different values is kept (it separates the samples perfectly, so
        the test finds drift) and named in the notes.
        """
        r_lo, r_hi = Xr.min(axis=0), Xr.max(axis=0)
        n_lo, n_hi = Xn.min(axis=0), Xn.max(axis=0)
        const_r, const_n = r_lo == r_hi, n_lo == n_hi
        same = const_r & const_n & (r_lo == n_lo)
        changed = const_r & const_n & (r_lo != n_lo)
        notes = []
        if np.any(same):
            labels = ", ".join(_feature_label(j, names) for j in np.flatnonzero(same))
            msg = (
                f"dropped {labels}: constant with the same value in both samples "
                "(no evidence either way)."
            )
            warnings.warn(msg, UserWarning, stacklevel=4)
            notes.append(msg)
        for j in np.flatnonzero(changed):
            notes.append(
                f"{_feature_label(j, names)} is constant in each sample but its "
                f"value changed from {r_lo[j]:g} to {n_lo[j]:g}: drift."
            )
        return np.flatnonzero(~same), notes, int(changed.sum())

    def _resolution_notes(self, Xr, w, Xn, keep, names):
        """Name features whose mean shift is beyond float64 moment sums."""
        mr, sr = _weighted_centre_scale(Xr, w)
        mn, sn = _weighted_centre_scale(Xn, np.ones(Xn.shape[0]))
        return self._resolution_message(mr, sr, mn, sn, keep, names)

    @staticmethod
    def _resolution_message(mr, sr, mn, sn, keep, names):
        """Notes naming features whose means differ beyond float64 moment sums."""
        within = np.maximum(sr, sn)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.abs(mr - mn) / within
        bad = np.flatnonzero((within > 0) & (ratio > _RESOLUTION_SD))
        if bad.size == 0:
            return []
        labels = ", ".join(_feature_label(int(keep[j]), names) for j in bad)
        return [
            f"{labels}: the two samples' means are more than {_RESOLUTION_SD:.0e} "
            "within-sample standard deviations apart, beyond what float64 moment "
            "sums resolve; such a shift is drift beyond doubt. If it is "
            "unexpected, check the features' units and encodings (a unit change, "
            "a sentinel value such as 1e9)."
        ]

    def _check_rows(self, n1, n2, d, what):
        if self.covariance_type == "full" and self.shrinkage is None:
            need = d + 1
            for n, label in ((n1, "X_ref"), (n2, what)):
                if n < need:
                    raise ValueError(
                        f"{label} has {n} rows but covariance_type='full' without "
                        f"shrinkage needs at least {need} rows per sample in {d} "
                        "non-constant features; use shrinkage='ledoit_wolf', "
                        "covariance_type='diag', or more rows."
                    )
        log_splits = (
            math.lgamma(n1 + n2 + 1) - math.lgamma(n1 + 1) - math.lgamma(n2 + 1)
        )
        if self.method != "asymptotic" and log_splits < -math.log(self.alpha) + 1e-9:
            splits = math.comb(n1 + n2, n1)
            if splits * self.alpha < 1.0:
                raise ValueError(
                    f"{n1}+{n2} rows have only {splits} distinct splits, too few "
                    f"for a permutation p-value below alpha={self.alpha:g}; use "
                    "more rows."
                )

    # -- the streaming test on moment sums (dask input) ---------------------------

    def _check_streaming(self, what):
        if self.method not in ("auto", "asymptotic"):
            raise ValueError(
                f"method={self.method!r} cannot run on {what}: the permutation "
                "engines ('permutation', 'gram') need the rows in memory. Use "
                "method='auto' or 'asymptotic' (the streaming engine), or test "
                "an in-memory sample (a few partitions or rows of X)."
            )
        if self.shrinkage is not None:
            raise ValueError(
                f"shrinkage is not used by the streaming (asymptotic) engine that "
                f"runs on {what}; leave shrinkage=None."
            )

    def _fit_sums(self, X, sample_weight):
        """Fit on a dask collection: two blockwise passes, sums kept, no rows."""
        self._check_streaming("a dask collection")
        X = validate_features(self, X, reset=True)
        stats = _dask_input.feature_stats(X, sample_weight)
        if stats.count < 2:
            raise ValueError(
                f"X_ref has {stats.count} row(s) with positive weight; a drift "
                "test needs at least 2 rows in each sample."
            )
        self._ref_summary = self._summary(X, sample_weight, stats)
        self.reference_ = None
        self._ref_w = None
        self.n_ref_ = int(stats.rows)
        return self

    def _summary(self, X, sample_weight, stats):
        """``(stats, sums, covariance_type)`` of a reference (mean weight 1)."""
        scale = np.where(stats.sd > 0, stats.sd, 1.0)
        sums = _dask_input.moment_sums(
            X,
            sample_weight,
            covariance_type=self.covariance_type,
            shift=stats.mean,
            scale=scale,
        )
        # As in memory: the reference's weights are rescaled to mean 1.
        c = stats.rows / stats.n
        stats = replace(stats, n=stats.n * c, m2=stats.m2 * c)
        sums = replace(
            sums, n=sums.n * c, scatter=sums.scatter * c, m3=sums.m3 * c, m4=sums.m4 * c
        )
        return stats, sums, self.covariance_type

    def _test_sums(self, X) -> DriftResult:
        """The asymptotic test from blockwise moment sums (X never gathered)."""
        self._validate_params()
        self._check_params()
        self._check_streaming("a dask collection")
        if is_dask_collection(X):
            X = validate_features(self, X, reset=False)
        else:
            X = validate_data(self, X, dtype=np.float64, reset=False)
        if self.reference_ is None:
            ref_stats, ref_sums, ctype = self._ref_summary
            if ctype != self.covariance_type:
                raise ValueError(
                    f"the detector was fitted with covariance_type={ctype!r}; "
                    "its moment sums cannot be tested with "
                    f"covariance_type={self.covariance_type!r}: fit it again."
                )
        else:
            ref_stats = _dask_input.feature_stats(self.reference_, self._ref_w)
            ref_stats, ref_sums, _ = self._summary(
                self.reference_, self._ref_w, ref_stats
            )
        new_stats = _dask_input.feature_stats(X)
        names = self._names()
        d_all = self.n_features_in_
        n1, n2 = int(ref_stats.rows), int(new_stats.rows)
        if new_stats.rows < 2:
            raise ValueError(
                f"X has {n2} row(s); a drift test needs at least 2 rows in each sample."
            )
        keep, notes, n_changed = self._constant_features(
            np.vstack([ref_stats.lo, ref_stats.hi]),
            np.vstack([new_stats.lo, new_stats.hi]),
            names,
        )
        dropped = tuple(int(j) for j in np.setdiff1d(np.arange(d_all), keep))
        common = dict(
            n_ref=n1,
            n=n2,
            alpha=self.alpha,
            statistic_name=self.statistic,
            feature_names=names,
            dropped_features=dropped,
        )
        if keep.size == 0:
            return self._all_constant(d_all, notes, common)
        d = keep.size
        centre, sd = ref_stats.mean[keep], ref_stats.sd[keep]
        beyond = self._resolution_message(
            centre, sd, new_stats.mean[keep], new_stats.sd[keep], keep, names
        )
        notes += beyond
        evident = bool(beyond) or n_changed > 0
        self._check_rows(n1, n2, d, "X")
        # The reference's centre and scale (as in memory); a feature constant
        # in the reference is scaled by the new sample's spread: its stored
        # sums (unit scale) are rescaled exactly.
        scale = sd
        ref = _dask_input.subset_sums(ref_sums, keep)
        if np.any(sd == 0):
            scale = np.where(sd > 0, sd, new_stats.sd[keep])
            scale = np.where(scale > 0, scale, 1.0)
            ref = _dask_input.rescale_sums(ref, np.where(sd > 0, 1.0, 1.0 / scale))
        new = _dask_input.moment_sums(
            X,
            None,
            covariance_type=self.covariance_type,
            shift=centre,
            scale=scale,
            columns=keep,
        )
        asym = _asymptotic_module()
        no_rows = (
            " Without the rows in memory there is no permutation fallback: "
            "compute an in-memory sample (a few partitions or rows of X) and "
            "test it with method='permutation', exact for any distribution."
        )
        try:
            res = asym.asymptotic_test(ref, new)
        except asym.DriftBeyondResolution as exc:
            if not evident:
                raise ValueError(
                    f"the streaming test cannot answer: a moment barely varies in "
                    f"one sample ({exc})." + no_rows
                ) from None
            effect, eff_sd, scores = _dask_input.effect_from_sums(ref, new)
            feat_p = np.zeros(d)
            if exc.feature is not None:
                feat_p = np.ones(d)
                feat_p[exc.feature] = 0.0
            out = (np.inf, 0.0, -np.log(self.alpha), None, feat_p, effect, eff_sd)
            notes.append(str(exc))
            return self._result(
                (*out, scores), "asymptotic", keep, d_all, notes, common
            )
        if not res.calibrated:
            reason = res.reason.split(" Use method=")[0].rstrip(".")
            raise ValueError(
                f"the streaming (asymptotic) test cannot be calibrated here: "
                f"{reason}." + no_rows
            )
        weights = None
        if self.statistic == "combined":
            weights = dict(zip(res.part_names, res.weights, strict=True))
        stat, p, threshold = combine_p_values(
            res.part_names, res.p_values, self.statistic, self.alpha, weights
        )
        effect, eff_sd, scores = _dask_input.effect_from_sums(ref, new)
        out = (stat, p, threshold, None, res.feature_p_values, effect, eff_sd, scores)
        return self._result(out, "asymptotic", keep, d_all, notes, common)

    # -- engine selection ------------------------------------------------------

    def _select_engine(self, n1, n2, d, permutation_only=False):
        """The engine for these sizes, and why (see ``method`` in the docstring)."""
        method = self.method
        if permutation_only and method in ("auto", "asymptotic"):
            method = "auto-permutation"
        if method in ("permutation", "gram", "asymptotic"):
            return method, "forced"
        full = self.covariance_type == "full"
        R = self.n_permutations + 1
        N = n1 + n2
        p = d * (d + 1) // 2 if full else d
        cost_moments = moment_flops(N, d, self.covariance_type, R - 1)
        gram = _gram_module()
        gram_ok = full and gram is not None
        cost_gram = gram.gram_flops(N, d, R - 1) if gram_ok else np.inf
        engine = "gram" if gram_ok and cost_gram < cost_moments else "permutation"
        cost = min(cost_moments, cost_gram) if gram_ok else cost_moments
        if method == "auto-permutation":
            return engine, "fallback"
        big = min(n1, n2) >= ASYMPTOTIC_ROWS_PER_PARAMETER * (d + p)
        if (
            cost > PERMUTATION_BUDGET
            and big
            and self.shrinkage is None
            and _asymptotic_module() is not None
        ):
            return "asymptotic", "cost"
        return engine, "cost"

    # -- permutation engines -----------------------------------------------------

    def _shrinkage(self, Z, w, n1w, n2w):
        """Fixed intensities ``(a_total, a_1, a_2)`` from the pooled sample."""
        if self.shrinkage is None:
            return None
        N = n1w + n2w
        if isinstance(self.shrinkage, str):
            if self.covariance_type == "diag":
                # Intensity of the correlation matrix, as for standardised data.
                _, sd = _weighted_centre_scale(Z, w)
                Z = Z / np.where(sd > 0, sd, 1.0)
            mom = group_moments(Z, sample_weight=w, higher=True)
            cov = mom.scatter / mom.weight[:, None, None]
            if self.shrinkage == "ledoit_wolf":
                a = ledoit_wolf_coefficient(mom.weight, cov, mom.fourth)
            else:
                a = oas_coefficient(mom.weight, cov)
            a = float(a[0])
            return a, min(1.0, a * N / n1w), min(1.0, a * N / n2w)
        a = float(self.shrinkage)
        return a, a, a

    def _permutation(self, engine, Xr, wr, Xn, seed, with_effect=True):
        n1, n2 = Xr.shape[0], Xn.shape[0]
        X = np.vstack([Xr, Xn])
        w = np.concatenate([wr, np.ones(n2)])
        centre, sd = _weighted_centre_scale(X, w)
        M = permutation_memberships(n1 + n2, n1, self.n_permutations, seed)
        Zf = (X - centre) / np.where(sd > 0, sd, 1.0)
        # A scalar scale for the moments: the moment statistics (and shrinkage
        # towards mu I) are unchanged by it; it only keeps the sums well scaled.
        # Scaled by the largest sd first, so squaring cannot overflow.
        sd_max = float(sd.max())
        rms = sd_max * float(np.sqrt(np.mean(np.square(sd / sd_max)))) if sd_max else 0
        Z = (X - centre) / max(rms, 1e-300)
        spec = MomentSpec(Xr.shape[1], self.covariance_type)
        shrink = self._shrinkage(Z, w, wr.sum(), float(n2))
        if engine == "gram":
            # The sample-space statistics need no covariance inverse: shrinkage
            # only enters the effect size.
            feats, diag = feature_parts(Zf, w, M)
            gram = _gram_module()
            kw = {} if np.all(w == 1.0) else {"sample_weight": w}
            obs, null = gram.gram_parts(Zf, n1, M[1:], **kw)
            names = [*gram.GRAM_PARTS, "feature_max"]
            parts = np.column_stack([np.vstack([obs, null]), feats.max(axis=1)])
            values = named_statistic_values(parts, names, self.statistic)
        else:
            parts, sums = moment_parts(Z, w, M, spec, shrink, self.n_jobs)
            values = statistic_values(parts, self.statistic, spec.full and spec.d > 1)
            # Per-feature parts from the same sums (univariate statistics do
            # not depend on the scale).
            feats, diag = diagonal_parts(*sums, spec)
        stat, null_stat = float(values[0]), values[1:]
        p = perm_p_value(stat, null_stat)
        threshold = perm_threshold(null_stat, self.alpha)
        feat_p = self._feature_p(feats)
        if not with_effect:
            nan = np.full(Xr.shape[1], np.nan)
            return stat, p, threshold, null_stat, feat_p, np.nan, np.nan, nan
        E = min(EFFECT_PERMUTATIONS, self.n_permutations)
        if engine == "gram":
            # Each split's d x d moments and factors cost N d^2 + d^3: fewer
            # splits centre the effect at large d.
            cost = 2.0 * (n1 + n2) * spec.n_columns + 2.0 * spec.d**3
            E = min(E, max(5, int(2e9 / cost)))
        if engine != "gram":
            S1, total, ridge = sums
            g1, g2 = split_moments(S1[: E + 1], total, spec, ridge)
            effect, eff_sd = centred_effect(symmetric_kl(g1, g2, spec.full, shrink))
        else:
            effect, eff_sd = self._effect(Z, w, M[: E + 1], spec, shrink)
        scores = self._feature_scores(diag, E)
        return stat, p, threshold, null_stat, feat_p, effect, eff_sd, scores

    @staticmethod
    def _feature_p(feats):
        obs, null = feats[0], feats[1:]
        tol = 1e-10 * np.maximum(1.0, np.abs(obs))
        ge = np.count_nonzero(null >= obs - tol, axis=0)
        return (1.0 + ge) / (1.0 + null.shape[0])

    @staticmethod
    def _feature_scores(diag, E):
        S1, total, spec, ridge = diag
        g1, g2 = split_moments(S1[: E + 1], total, spec, ridge)
        return centred_effect(_per_feature_sym_kl(g1, g2))[0]

    def _effect(self, Z, w, M, spec, shrink):
        """Centred effect and its null sd from the splits ``M`` (row 0 observed).

        For the sample-space engine (large d): each split's two covariances
        come from one pass of centred products (``N d^2``, no ``d(d+1)/2``
        moment features), with the moment engine's ridge.
        """
        d = Z.shape[1]
        pooled = group_moments(Z, sample_weight=w)
        N = pooled.weight[0]
        T = pooled.scatter[0] / N
        ridge = T / N
        ridge[np.diag_indices(d)] *= 1.0 + max(1e-8, 1e-12 * N)
        n = np.empty((2, M.shape[0]))
        m = np.empty((2, M.shape[0], d))
        C = np.empty((2, M.shape[0], d, d))
        for r, row in enumerate(M):
            for g, mask in enumerate((row, ~row)):
                Zg, wg = Z[mask], w[mask]
                n[g, r] = W = wg.sum()
                m[g, r] = wg @ Zg / W
                Xc = (Zg - m[g, r]) * np.sqrt(wg / W)[:, None]
                C[g, r] = Xc.T @ Xc + ridge
        values = symmetric_kl((n[0], m[0], C[0]), (n[1], m[1], C[1]), True, shrink)
        effect, sd = centred_effect(values)
        return float(effect), float(sd)

    # -- asymptotic engine ---------------------------------------------------------

    def _asymptotic(self, Xr, wr, Xn, seed, with_effect=True, evident=False):
        """``(result tuple, None, note)``, or ``(None, reason, None)`` when the
        test is not calibrated."""
        asym = _asymptotic_module()
        if asym is None:
            return None, "the asymptotic engine is not installed", None
        n1, n2 = Xr.shape[0], Xn.shape[0]
        centre, sd = _weighted_centre_scale(Xr, wr)
        # The reference's centre and scale; a feature constant in the
        # reference is scaled by the new sample's spread (1 if it has none).
        scale = sd
        if np.any(sd == 0):
            scale = np.where(sd > 0, sd, _weighted_centre_scale(Xn, np.ones(n2))[1])
            # Constant in both samples (at different values): unit scale.
            scale = np.where(scale > 0, scale, 1.0)
        Zr, Zn = (Xr - centre) / scale, (Xn - centre) / scale
        kw = {"covariance_type": self.covariance_type}
        weighted = not np.all(wr == 1.0)
        ref = asym.MomentSums.from_rows(Zr, wr if weighted else None, **kw)
        new = asym.MomentSums.from_rows(Zn, None, **kw)
        try:
            res = asym.asymptotic_test(ref, new)
        except asym.DriftBeyondResolution as exc:
            if not evident:
                # Not confirmed by the detector's own checks (a constant that
                # moved, a shift beyond float64 resolution): a feature nearly
                # constant in one sample only (a pixel 0 in every image of one
                # half) is no evidence of drift. Let a permutation engine
                # answer.
                return None, f"a moment barely varies in one sample ({exc})", None
            # The samples differ where neither varies, or beyond float64
            # resolution: drift beyond doubt, p-value 0, message kept.
            effect, eff_sd, scores = self._asymptotic_effect(
                np.vstack([Zr, Zn]), np.concatenate([wr, np.ones(n2)]), n1, seed
            )
            feat_p = np.zeros(Xr.shape[1])
            if exc.feature is not None:
                feat_p = np.ones(Xr.shape[1])
                feat_p[exc.feature] = 0.0
            stat, threshold = np.inf, -np.log(self.alpha)
            out = (stat, 0.0, threshold, None, feat_p, effect, eff_sd, scores)
            return out, None, str(exc)
        if not res.calibrated:
            return None, res.reason, None
        if self.statistic == "combined":
            weights = dict(zip(res.part_names, res.weights, strict=True))
        else:
            weights = None
        stat, p, threshold = combine_p_values(
            res.part_names, res.p_values, self.statistic, self.alpha, weights
        )
        effect, eff_sd, scores = self._asymptotic_effect(
            np.vstack([Zr, Zn]), np.concatenate([wr, np.ones(n2)]), n1, seed
        )
        feat_p = res.feature_p_values
        return (stat, p, threshold, None, feat_p, effect, eff_sd, scores), None, None

    def _asymptotic_effect(self, Z, w, n1, seed):
        """Effect centred by permuted splits of a pooled subsample.

        The bias of the plug-in symmetric KL under no drift is, to first
        order, proportional to ``1/n1 + 1/n2`` (delta method); its
        distribution-free value is measured on ``EFFECT_PERMUTATIONS`` random
        splits of at most ``EFFECT_SUBSAMPLE`` pooled rows and rescaled by
        the ratio of ``1/n1 + 1/n2``; so is its spread.
        """
        N = Z.shape[0]
        n2 = N - n1
        spec = MomentSpec(Z.shape[1], self.covariance_type)
        obs_M = np.zeros((1, N), dtype=bool)
        obs_M[0, :n1] = True
        S1, total = split_sums(Z, w, obs_M, spec)
        ridge = pooled_ridge(total, spec)
        g1, g2 = split_moments(S1, total, spec, ridge)
        observed = symmetric_kl(g1, g2, spec.full)[0]
        dspec = MomentSpec(Z.shape[1], "diag")
        S1d, totald = split_sums(Z, w, obs_M, dspec)
        ridged = pooled_ridge(totald, dspec)
        obs_feat = _per_feature_sym_kl(*split_moments(S1d, totald, dspec, ridged))[0]
        rng = np.random.default_rng(seed)
        m = min(N, EFFECT_SUBSAMPLE)
        idx = np.sort(rng.choice(N, size=m, replace=False)) if m < N else np.arange(N)
        m1 = max(2, min(m - 2, round(m * n1 / N)))
        M = permutation_memberships(m, m1, EFFECT_PERMUTATIONS, rng.integers(2**31))[1:]
        Zs, ws = Z[idx], w[idx]
        S1, total = split_sums(Zs, ws, M, spec)
        ridge = pooled_ridge(total, spec)
        null = symmetric_kl(*split_moments(S1, total, spec, ridge), spec.full)
        ratio = (1.0 / n1 + 1.0 / n2) / (1.0 / m1 + 1.0 / (m - m1))
        S1d, totald = split_sums(Zs, ws, M, dspec)
        ridged = pooled_ridge(totald, dspec)
        null_feat = _per_feature_sym_kl(*split_moments(S1d, totald, dspec, ridged))
        effect = observed - ratio * np.median(null)
        sd = ratio * null.std(ddof=1)
        scores = obs_feat - ratio * np.median(null_feat, axis=0)
        return float(effect), float(sd), scores

    # -- windows -------------------------------------------------------------

    def scan(
        self,
        X_stream,
        window: int,
        step: int | None = None,
        reference: str = "fixed",
        partial: str = "drop",
    ) -> DriftScan:
        """Test successive windows of a stream.

        Parameters
        ----------
        X_stream : array-like of shape (n_samples, n_features)
            Samples in time order.
        window : int
            Window length.
        step : int, default=None
            Shift between windows (``window`` when None: disjoint windows).
        reference : {'fixed', 'previous'}, default='fixed'
            Compare each window with the fitted reference, or with the
            previous window (the first window is then not tested).
        partial : {'drop', 'test'}, default='drop'
            What to do with rows after the last full window: 'drop' leaves
            them out, records them in ``DriftScan.skipped`` and warns; 'test'
            tests them as a last, shorter window (its ``n`` says how many rows
            it has).

        Returns
        -------
        results : DriftScan
            A list of :class:`DriftResult`, one per tested window, each with
            its ``start`` and ``stop``; ``to_frame()`` gives a pandas
            DataFrame.
        """
        check_is_fitted(self, "n_ref_")
        if self.reference_ is None or is_dask_collection(X_stream):
            raise ValueError(
                "scan needs the reference and the stream in memory; this "
                "detector was fitted on a dask collection or X_stream is one. "
                "Test each window with test(), or fit on an in-memory reference."
            )
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
        if partial not in ("test", "drop"):
            raise ValueError(f"partial must be 'test' or 'drop', got {partial!r}.")
        bounds = [(s, s + window) for s in range(0, n - window + 1, step)]
        last = bounds[-1][0] + step
        skipped = None
        if bounds[-1][1] < n:
            if partial == "test" and n - last >= 2:
                bounds.append((last, n))
            else:
                skipped = (bounds[-1][1], n)
                warnings.warn(
                    f"rows {skipped[0]}-{n - 1} of X_stream do not fill a window "
                    f"of {window} rows and were not tested (see "
                    "DriftScan.skipped); pass partial='test' to test them as a "
                    "shorter last window.",
                    UserWarning,
                    stacklevel=2,
                )
        rng = check_random_state(self.random_state)
        results = DriftScan(alpha=self.alpha, skipped=skipped)
        for i, (s, e) in enumerate(bounds):
            seed = rng.randint(np.iinfo(np.int32).max)
            if reference == "fixed":
                ref, w = self.reference_, self._ref_w
            elif i == 0:
                continue
            else:
                ps, pe = bounds[i - 1]
                ref, w = X[ps:pe], np.ones(pe - ps)
            results.append(self._run(ref, w, X[s:e], seed, window=(s, e)))
        return results


def moment_flops(N: int, d: int, covariance_type: str, B: int) -> float:
    """Flops of the moment engine: ``2 N (1 + d + p) (B + 1)`` for the sums
    (``p = d(d+1)/2``, or ``d`` for 'diag') plus ``(B + 1) d^3`` for the three
    Cholesky factorisations per split ('full')."""
    full = covariance_type == "full"
    p = d * (d + 1) // 2 if full else d
    R = B + 1
    return 2.0 * N * (1 + d + p) * R + (R * float(d) ** 3 if full else 0.0)


def _gram_module():
    """The sample-space engine module, or None while it is not installed."""
    try:
        from . import _gram
    except ImportError:
        return None
    return _gram


def _asymptotic_module():
    """The asymptotic engine module, or None while it is not installed."""
    try:
        from . import _asymptotic
    except ImportError:
        return None
    return _asymptotic
