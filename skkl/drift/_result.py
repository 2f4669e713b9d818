"""What a drift test returns: :class:`DriftResult` and :class:`DriftScan`."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["DriftResult", "DriftScan"]


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
        Permutation p-value ``(1 + #{T_b >= T}) / (1 + B)``, or the
        asymptotic one.
    is_drift : bool
        ``p_value < alpha`` and, when ``min_effect`` is set, ``effect >=
        min_effect``.
    critical_value : float
        Critical value of the statistic at ``alpha``: ``p_value < alpha``
        exactly when ``statistic > critical_value``.
    effect : float
        The second-order symmetric KL divergence between the two samples'
        Gaussian fits, in nats, estimated without bias (about 0 without
        drift, for any distribution); see the drift guide, "The effect".
    effect_null_sd : float
        Standard deviation of the effect without drift: an effect of several
        ``effect_null_sd`` is beyond noise.
    feature_scores : ndarray of shape (n_features,)
        The same effect for each feature's marginal (0 for a dropped
        constant feature).
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
        Engine that answered: 'permutation', 'gram' or 'asymptotic' ('none'
        when every feature was dropped as constant).
    method_reason : str
        Why that engine answered (the cost that decided, a request, a
        fallback).
    null_distribution : ndarray of shape (n_permutations,) or None
        Permutation values of the statistic (None for 'asymptotic').
    feature_names : ndarray of str or None
        Names of the features (when the detector was fitted on a DataFrame).
    dropped_features : tuple of int
        Indices of features constant with the same value in both samples,
        left out of the test.
    floored_features : tuple of int
        Features whose variance is carried by few rows: their weight in the
        effect and feature scores is capped (the effect's variance floor).
    notes : tuple of str
        Explanations: dropped or changed constant features, floored
        features, a shift too large for float64 moment sums, an engine
        fallback.
    start, stop : int or None
        Rows of the window in :meth:`GaussianDriftDetector.scan` (None for
        :meth:`~GaussianDriftDetector.test`).
    reference_mean, reference_sd, current_mean, current_sd : ndarray of shape \
(n_features,) or None
        Each feature's (weighted) mean and standard deviation in each sample:
        of the observed values of a table's numeric column, nan for a
        categorical column.
    reference_missing_rate, current_missing_rate : ndarray of shape \
(n_features,) or None
        Share of missing cells per column of a table (None for arrays).
    category_frequencies : dict or None
        For a table: ``{column: {level: (reference, current)}}``, the share of
        rows of each level (the encoded levels, the levels new in the tested
        sample, and ``'(other)'`` for the rest).
    new_levels : dict or None
        For a table: ``{column: (level, ...)}``, levels of the tested sample
        that the reference does not have.
    encoded : EncodedFeatures or None
        For a table: the encoded features behind the per-column answer (their
        names, columns, scores and p-values); see the drift guide, "Mixed
        tables".
    """

    statistic: float
    p_value: float
    is_drift: bool
    critical_value: float
    effect: float
    feature_scores: np.ndarray
    feature_p_values: np.ndarray
    n_ref: int
    n: int
    alpha: float = 0.05
    statistic_name: str = "combined"
    method: str = "permutation"
    method_reason: str = ""
    null_distribution: np.ndarray | None = field(default=None, repr=False)
    effect_null_sd: float = float("nan")
    feature_names: np.ndarray | None = field(default=None, repr=False)
    dropped_features: tuple = ()
    floored_features: tuple = ()
    notes: tuple = ()
    start: int | None = None
    stop: int | None = None
    reference_mean: np.ndarray | None = field(default=None, repr=False)
    reference_sd: np.ndarray | None = field(default=None, repr=False)
    current_mean: np.ndarray | None = field(default=None, repr=False)
    current_sd: np.ndarray | None = field(default=None, repr=False)
    reference_missing_rate: np.ndarray | None = field(default=None, repr=False)
    current_missing_rate: np.ndarray | None = field(default=None, repr=False)
    category_frequencies: dict | None = field(default=None, repr=False)
    new_levels: dict | None = field(default=None, repr=False)
    encoded: object = field(default=None, repr=False)

    def __repr__(self) -> str:
        verdict = "drift" if self.is_drift else "no drift"
        where = "" if self.start is None else f", rows {self.start}-{self.stop}"
        return (
            f"DriftResult({verdict}: p_value={self.p_value:.3g}, "
            f"effect={self.effect:.3g} nats (null sd {self.effect_null_sd:.2g}), "
            f"method={self.method!r}, n_ref={self.n_ref}, n={self.n}{where})"
        )

    def to_dict(self) -> dict:
        """alibi-detect style summary.

        As in alibi-detect's ``predict()['data']``: ``threshold`` is the
        p-value threshold (``alpha``), ``distance`` the statistic and
        ``distance_threshold`` its critical value; ``effect``,
        ``effect_null_sd`` and ``method`` are added.

        Returns
        -------
        summary : dict
        """
        return {
            "is_drift": int(self.is_drift),
            "p_val": float(self.p_value),
            "threshold": float(self.alpha),
            "distance": float(self.statistic),
            "distance_threshold": float(self.critical_value),
            "effect": float(self.effect),
            "effect_null_sd": float(self.effect_null_sd),
            "method": self.method,
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
    "critical_value",
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
    skipped : tuple of (start, stop)
        Rows of the stream that no tested window covered: gaps between
        windows (``step > window``), the rows after the last full window
        (``partial='drop'``) and a last window too short to test.

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

    def __init__(self, results=(), alpha: float = 0.05, skipped=()):
        super().__init__(results)
        self.alpha = alpha
        self.skipped = tuple(skipped)

    def to_frame(self):
        """One row per window (requires pandas).

        Returns
        -------
        table : pandas.DataFrame
            Columns ``start``, ``stop``, ``statistic``, ``p_value``,
            ``critical_value``, ``effect``, ``effect_null_sd``, ``is_drift``,
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
