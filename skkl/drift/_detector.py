"""The drift detector: parameters, reference, and the calls a user makes.

:class:`GaussianDriftDetector` holds its parameters and the reference
(rows, or a dask reference's sums), validates what it is given and hands
both samples to :func:`~._pipeline.run_test`; the mathematics lives in the
engines (``_permutation``, ``_gram``, ``_asymptotic``), the effect
(``_effect``) and the combination (``_combine``).
"""

from __future__ import annotations

import numbers

import numpy as np
from sklearn.base import BaseEstimator, _fit_context
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_is_fitted,
    validate_data,
)

from .._dask import is_dask_collection, validate_features
from .._errors import InputError, Setting
from . import _dask_input, _dask_tables, _scan
from ._columns import test_tables
from ._pipeline import Settings, check_permutations, normalise_weights, run_test
from ._prepare import Sample
from ._result import DriftResult, DriftScan
from ._table import Table, is_table, read_table

__all__ = ["DriftResult", "DriftScan", "GaussianDriftDetector"]


class GaussianDriftDetector(BaseEstimator):
    """Two-sample drift test between a reference sample and new data.

    The test compares the first and second moments of the two samples, with
    p-values exact for any distribution (permutation engines) or
    distribution-free and calibrated (asymptotic engine), and measures the
    change as an effect size in nats. See the user guide, "Drift detection".

    Parameters
    ----------
    alpha : float, default=0.05
        Level of the test.
    method : {'auto', 'permutation', 'gram', 'asymptotic'}, default='auto'
        Engine (one record each in ``skkl.drift.ENGINES``). 'permutation':
        the exact likelihood-ratio parts from moment features, all
        permutations from one matrix product; 'gram': U-statistics from the
        Gram matrix of the whitened rows, for d large relative to n;
        'asymptotic': a distribution-free Wald test on streaming moment sums,
        for n much larger than d(d+1)/2. 'auto' chooses by power first and
        cost second: the moment engine while its predicted work is affordable
        (``skkl.drift.AUTO_FLOPS``), then the asymptotic test where the
        samples are large for the number of moment parameters, then the
        Gram engine. Every engine's memory and flops are predicted before
        anything is allocated: a requested engine that cannot fit
        ``working_memory`` raises with the figures and the engine that fits
        ('asymptotic' falls back instead, with a warning, as it does when it
        cannot be calibrated); one predicted to be much slower than another
        warns.
    n_permutations : int, default=1000
        Number of random permutations B; ``1 / (B + 1)`` must be below
        ``alpha`` (B >= 20 at alpha=0.05).
    statistic : {'combined', 'lrt', 'mean', 'covariance'}, default='combined'
        'mean' tests the means only, 'covariance' the second moments only,
        'lrt' every part with equal say (the moment engine's full
        likelihood-ratio statistic), 'combined' every part with most weight
        on the means. Each engine's parts and weights are in its
        ``STATISTICS`` table (the user guide lists them).
    covariance_type : {'full', 'diag'}, default='full'
        'diag' ignores correlations (tests means and variances per feature).
    shrinkage : None, 'ledoit_wolf', 'oas' or float in [0, 1], default=None
        Shrink the covariances towards ``mu I`` in standardised units
        (needed when d is close to the group sizes). The intensity is
        estimated once on the pooled sample, so every permutation uses the
        same statistic and the test stays exact. It shrinks the metric of
        the Gram engine and of the effect too; 'asymptotic' does not use it.
    min_effect : float or None, default=None
        Minimum ``effect`` in nats to call drift: with large samples tiny
        but real differences are significant.
    random_state : int, RandomState instance or None, default=None
        Seed of the permutations.
    n_jobs : int or None, default=None
        Threads of every engine (None: as many as BLAS may use, or one for
        small problems); results do not depend on it.

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
    >>> res.is_drift, res.p_value, res.method, int(np.argmin(res.feature_p_values))
    (True, 0.000999..., 'permutation', 0)
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

    # -- parameters -------------------------------------------------------------

    def _settings(self) -> Settings:
        check_permutations(self.alpha, self.n_permutations, self.method)
        if self.shrinkage is not None and self.method == "asymptotic":
            raise InputError(
                "{argument} is not used by the asymptotic test (it needs n much "
                "larger than d(d+1)/2, where shrinkage is not needed); leave "
                "{argument} unset, or use {auto} or {perm}.",
                argument="shrinkage",
                auto=Setting("method", "auto"),
                perm=Setting("method", "permutation"),
            )
        if self.method == "gram" and self.covariance_type == "diag":
            raise InputError(
                "{argument}='gram' compares full second moments; use {full} "
                "with it, or {perm} for {diag}.",
                argument="method",
                full=Setting("covariance_type", "full"),
                perm=Setting("method", "permutation"),
                diag=Setting("covariance_type", "diag"),
            )
        return Settings(
            self.alpha,
            self.method,
            self.n_permutations,
            self.statistic,
            self.covariance_type,
            self.shrinkage,
            self.min_effect,
            self.n_jobs,
        )

    def _rows(self, X, name: str, reset: bool, min_rows: int = 1) -> np.ndarray:
        """``X`` validated as float64 rows, errors naming the argument ``name``.

        Feature names and count are checked (or set, ``reset=True``) as
        ``validate_data`` does; the array check names ``name``, not ``X``.
        """
        rows = check_array(
            X, dtype=np.float64, ensure_min_samples=min_rows, input_name=name
        )
        if not reset and rows.shape[1] != self.n_features_in_:
            raise InputError(
                "{argument} has {k} features, but GaussianDriftDetector is "
                "expecting {n} features as input.",
                argument=name,
                k=rows.shape[1],
                n=self.n_features_in_,
            )
        validate_data(self, X, reset=reset, skip_check_array=True)
        return rows

    def _table(self, X, name: str, reset: bool, min_rows: int = 1) -> Table:
        """``X`` read as a :class:`~._table.Table` (categorical or missing cells).

        Columns are read as the reference's are (``reset=False``); feature
        names and count are checked as ``validate_data`` does.
        """
        schema = None if reset else self._ref_table().schema
        table = read_table(X, name, schema)
        if table.n_rows < min_rows:
            raise InputError(
                "{argument} has {n} row(s); a drift test needs at least {k}.",
                argument=name,
                n=table.n_rows,
                k=min_rows,
            )
        validate_data(self, X, reset=reset, skip_check_array=True)
        return table

    def _ref_table(self) -> Table:
        ref = self.reference_
        if isinstance(ref, Table):
            return ref
        if ref is None:  # a dask table: its columns' kinds, no rows
            return self._ref_dask_table.schema
        return Table.from_array(ref, getattr(self, "feature_names_in_", None))

    def _ref_rows(self):
        """The reference table's rows with positive weight, and their weights."""
        table = self._ref_table()
        if self._ref_w is None:
            return table, None
        w = normalise_weights(self._ref_w)
        pos = w > 0
        return table.take(pos), w[pos]

    def _uses_table(self, X) -> bool:
        if self.reference_ is None or is_dask_collection(X):
            return False
        return isinstance(self.reference_, Table) or is_table(X)

    def _test_with_dask_tables(self, X, settings) -> DriftResult:
        """A test where the reference or ``X`` is a dask table."""
        self._check_streaming(settings, "a dask collection")
        if is_dask_collection(X):
            validate_data(self, X._meta, reset=False, skip_check_array=True)
        else:
            X = self._table(X, "X", reset=False)
        ref = self._ref_dask_table or self._ref_rows()
        schema = self._ref_table().schema
        return _dask_tables.test_tables(
            settings, ref, X, schema, seed=self._seed(), stacklevel=4
        )

    def _seed(self, rng=None) -> int:
        rng = check_random_state(self.random_state) if rng is None else rng
        return int(rng.randint(np.iinfo(np.int32).max))

    # -- the reference -------------------------------------------------------------

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X_ref, y=None, sample_weight=None) -> GaussianDriftDetector:
        """Store the reference sample.

        Parameters
        ----------
        X_ref : array-like of shape (n_samples, n_features)
            Reference data, without NaN; or a dask array or DataFrame
            (``sample_weight`` then partitioned like it), reduced blockwise
            on the workers to per-feature summaries and moment sums (two
            passes), kept instead of the rows: ``test`` then runs the
            asymptotic engine (see the user guide, "Data on a dask cluster").
        y : None
            Ignored.
        sample_weight : array-like of shape (n_samples,), default=None
            Relative weights of the reference samples (rescaled to mean 1).

        Returns
        -------
        self : GaussianDriftDetector
        """
        settings = self._settings()
        self._ref_dask_table = None
        if is_dask_collection(X_ref) or is_dask_collection(sample_weight):
            self._check_streaming(settings, "a dask collection")
            if _dask_tables.is_dask_table(X_ref):
                return self._fit_dask_table(X_ref, sample_weight)
            validate_features(self, X_ref, reset=True)
            self._ref_sample = _dask_input.reference_sample(
                X_ref, sample_weight, self.covariance_type
            )
            self._ref_covariance_type = self.covariance_type
            self.reference_, self._ref_w = None, None
            self.n_ref_ = int(self._ref_sample.stats.rows)
            return self
        if is_table(X_ref):
            X = self._table(X_ref, "X_ref", reset=True, min_rows=2)
        else:
            X = self._rows(X_ref, "X_ref", reset=True, min_rows=2)
        self.reference_ = X
        self._ref_w = self._weights(X, sample_weight)
        self.n_ref_ = X.shape[0]
        return self

    def _fit_dask_table(self, X_ref, sample_weight) -> GaussianDriftDetector:
        """A dask table as reference: its summaries, encoding and moment sums."""
        validate_data(self, X_ref._meta, reset=True, skip_check_array=True)
        ref = _dask_tables.fit_reference(X_ref, sample_weight, self.covariance_type)
        self._ref_dask_table, self._ref_sample = ref, ref.sample
        self._ref_covariance_type = self.covariance_type
        self.reference_, self._ref_w = None, None
        self.n_ref_ = int(self._ref_sample.stats.rows)
        return self

    def _weights(self, X, sample_weight):
        if sample_weight is None:
            return None
        w = _check_sample_weight(sample_weight, X, ensure_non_negative=True)
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
                "engine standardises the reference by its own mean and spread, "
                "so it needs the whole reference at once. Concatenate the "
                "batches (dask.dataframe.concat, dask.array.concatenate) and "
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
            self._settings()
            self._ref_dask_table = None
            read = self._table if is_table(X_ref) else self._rows
            X = read(X_ref, "X_ref", reset=True)
            self.reference_, self._ref_w = X, self._weights(X, sample_weight)
        else:
            # "X", as scikit-learn names the rows added by partial_fit.
            table = self._uses_table(X_ref)
            X = (self._table if table else self._rows)(X_ref, "X", reset=False)
            w_new = self._weights(X, sample_weight)
            if self._ref_w is not None or w_new is not None:
                old = np.ones(self.n_ref_) if self._ref_w is None else self._ref_w
                new = np.ones(X.shape[0]) if w_new is None else w_new
                self._ref_w = np.concatenate([old, new])
            if table:
                self.reference_ = self._ref_table().concat(X)
            else:
                self.reference_ = np.vstack([self.reference_, X])
        self.n_ref_ = self.reference_.shape[0]
        return self

    def _check_streaming(self, settings, what):
        if settings.method not in ("auto", "asymptotic"):
            raise InputError(
                "{argument}={method!r} cannot run on {what}: the permutation "
                "engines ('permutation', 'gram') need the rows in memory. Use "
                "{auto} or {asym} (the streaming engine), or test an in-memory "
                "sample (a few partitions or rows of X).",
                argument="method",
                method=settings.method,
                what=what,
                auto=Setting("method", "auto"),
                asym=Setting("method", "asymptotic"),
            )
        if settings.shrinkage is not None:
            raise InputError(
                "{argument} is not used by the streaming (asymptotic) engine that "
                "runs on {what}; leave {argument} unset.",
                argument="shrinkage",
                what=what,
            )

    def _reference_sample(self, settings) -> Sample:
        if self.reference_ is not None:
            X, w = self.reference_, self._ref_w
            if w is None:
                return Sample.from_rows(X)
            w = normalise_weights(w)
            pos = w > 0
            return Sample.from_rows(X[pos], w[pos])
        self._check_streaming(settings, "a reference fitted on a dask collection")
        if self._ref_covariance_type != settings.covariance_type:
            raise InputError(
                "the detector was fitted with covariance_type={fitted!r}; its "
                "moment sums cannot be tested with {argument}={now!r}: fit it "
                "again.",
                argument="covariance_type",
                fitted=self._ref_covariance_type,
                now=settings.covariance_type,
            )
        return self._ref_sample

    # -- testing ---------------------------------------------------------------------

    def _new_sample(self, X, settings, name="X") -> Sample:
        if is_dask_collection(X):
            self._check_streaming(settings, "a dask collection")
            return _dask_input.new_sample(validate_features(self, X, reset=False))
        return Sample.from_rows(self._rows(X, name, reset=False))

    def test(self, X) -> DriftResult:
        """Test whether ``X`` comes from the reference distribution.

        A dask ``X``, or any ``X`` after a fit on a dask collection, is tested
        by the asymptotic engine from blockwise moment sums (``X`` is never
        gathered); a test that cannot be calibrated then raises a ValueError
        (no permutation fallback without the rows).

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
        self._validate_params()
        settings = self._settings()
        if self._ref_dask_table is not None or (
            is_dask_collection(X)
            and (isinstance(self.reference_, Table) or _dask_tables.is_dask_table(X))
        ):
            return self._test_with_dask_tables(X, settings)
        if self._uses_table(X):
            ref, w = self._ref_rows()
            new = self._table(X, "X", reset=False)
            return test_tables(settings, ref, new, w, seed=self._seed(), stacklevel=3)
        ref = self._reference_sample(settings)
        new = self._new_sample(X, settings)
        names = getattr(self, "feature_names_in_", None)
        return run_test(
            settings, ref, new, names=names, seed=self._seed(), stacklevel=3
        )

    def _window_test(self, settings, table: bool):
        """``test_window(ref, rows, bounds, seed)`` of a scan (see ``_scan``)."""
        names = getattr(self, "feature_names_in_", None)
        where = dict(label="the window", stacklevel=5)
        fixed = self._ref_rows() if table else self._reference_sample(settings)

        def test_window(ref, rows, bounds, seed):
            if table:
                r, w = fixed if ref[0] is None else (ref[0], None)
                return test_tables(
                    settings, r, rows, w, seed=seed, window=bounds, **where
                )
            ref_sample = fixed if ref[0] is None else Sample.from_rows(ref[0])
            new = Sample.from_rows(rows)
            return run_test(
                settings, ref_sample, new, names=names, seed=seed, window=bounds,
                **where,
            )  # fmt: skip

        return test_window

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

    def scan(
        self,
        X_stream,
        window: int,
        step: int | None = None,
        reference: str = "fixed",
        partial: str = "drop",
    ) -> DriftScan:
        """Test successive windows of a stream.

        Each window is tested at ``alpha``: over many windows false alarms
        add up (about one in 1/alpha windows without drift). For a stream
        watched for a long time, with a bound on false alarms, use
        :class:`~skkl.drift.GaussianDriftMonitor`.

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
            them out and records them in ``DriftScan.skipped``; 'test' tests
            them as a last, shorter window (its ``n`` says how many rows it
            has), skipped with a warning when too short to test.

        Returns
        -------
        results : DriftScan
            A list of :class:`DriftResult`, one per tested window, each with
            its ``start`` and ``stop``; ``skipped`` lists the rows no window
            tested (with a warning); ``to_frame()`` gives a pandas DataFrame.
        """
        check_is_fitted(self, "n_ref_")
        self._validate_params()
        settings = self._settings()
        if self.reference_ is None or is_dask_collection(X_stream):
            raise InputError(
                "scan needs the reference and {argument} in memory; this "
                "detector was fitted on a dask collection or X_stream is one. "
                "Test each window with test(), or fit on an in-memory reference.",
                argument="X_stream",
            )
        if self._uses_table(X_stream):
            X = self._table(X_stream, "X_stream", reset=False)
            test_window = self._window_test(settings, table=True)
        else:
            X = self._rows(X_stream, "X_stream", reset=False)
            test_window = self._window_test(settings, table=False)
        rng = check_random_state(self.random_state)
        return _scan.scan(
            X, window, step, reference, partial, test_window, rng, self.alpha
        )
