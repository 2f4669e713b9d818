"""Large-n drift engine: mergeable moment sums and a distribution-free test.

One streaming pass over row blocks reduces a sample of already centred and
scaled rows ``z`` (d features) to :class:`MomentSums`: the total weight, the
mean and the centred cross-product of the moment features

    f(z) = [z, second(z)],   second(z) = upper(z z') ('full') or z**2 ('diag'),

(q = d + d (d + 1) / 2 or q = 2 d columns), plus per-column third and fourth
central moments. Blocks (or dask partitions) are combined with the pairwise
update of Chan, Golub & LeVeque (1979), so sums merged in any tree equal the
one-pass sums to rounding error. Memory is O(q^2) for the sums plus one block
of ``working_memory`` while streaming.

:func:`asymptotic_test` compares two such sums without assuming Gaussian
kurtosis. With ``delta = mean_1(f) - mean_2(f)`` and ``G`` the pooled
within-sample covariance of ``f`` (``scatter_1 + scatter_2`` over ``nu = N -
2``: second *and fourth* moments of ``z``, straight from the sums), under "same
distribution" ``delta`` has covariance ``V = G (1/n1 + 1/n2)``. Each part is a
Wald statistic ``T^2 = delta_b' V_b^+ delta_b`` on a block of ``delta``:

- 'mean': the d means, exactly Hotelling's two-sample T^2;
- 'variance': the squares ``z_j^2`` *given the means* (residual
  ``delta_s - V_sz V_zz^+ delta_z``, Schur-complement covariance): a test of
  the variances that does not depend on the centring (adding a linear
  function of ``z`` to the second moments changes nothing) and is
  asymptotically independent of the mean part;
- 'covariance' ('full', d > 1): all products ``z_i z_j`` given the means.

The fourth moments in ``G`` widen the null of the second-moment parts exactly
as the kurtosis requires: for Gaussian data ``G`` is the Wishart covariance
and the covariance part is Box's M to first order; the Gaussian-theory
chi-square, by contrast, rejects almost always on heavy-tailed data. The
small-sample correction is Hotelling's scaling ``F = (nu_b - k + 1) / (k nu_b)
T^2 ~ F(k, nu_b - k + 1)`` (``k`` the rank, ``nu_b = nu`` for the mean part and
``nu - k_mean`` for the conditional parts), exact for the mean part under
normality. The parts are combined by the weighted Bonferroni rule ``p =
min(1, min_b p_b / w_b)`` (``sum w_b = 1``), valid under any dependence.

Rank rule: a block's covariance is scaled to a correlation matrix; entries
whose (conditional) variance is at most ``RANK_RTOL`` of their unconditional
variance, and eigen-directions with eigenvalue at most ``RANK_RTOL *
lambda_max``, are dropped (a pseudo-inverse), and ``k`` counts the rest.
Exact linear relations among the moment features (0/1 data: ``z^2`` affine
in ``z``; constant features) hold for both samples' means alike, so
``delta`` has no component along them. A component larger than rounding
there (the samples differ where neither varies, e.g. a feature constant in
both with different values) raises :class:`DriftBeyondResolution`, as do
moment sums that overflow; the detector reports both as drift
(``is_drift=True``, p-value 0).

``calibrated`` is False, with a reason and a fallback, when the moment
covariance cannot be estimated reliably (see :func:`asymptotic_test`).
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .._blas import blas_single_thread, get_chunk_n_rows

__all__ = [
    "AsymptoticResult",
    "DriftBeyondResolution",
    "MomentSums",
    "asymptotic_test",
    "CALIBRATION_MIN_RATIO",
    "CALIBRATION_MAX_KURTOSIS_RATIO",
    "RANK_RTOL",
    "PART_WEIGHTS",
]

#: Eigenvalues of a part's (correlation-scaled) pooled moment covariance at
#: most ``RANK_RTOL`` times the largest are treated as exact zeros: collinear
#: moment features (0/1 data has ``z**2`` affine in ``z``) leave eigenvalues
#: at rounding level (~1e-15), far below it; a direction that real data
#: spans this thinly would need ~1e10 samples to be estimated anyway.
RANK_RTOL = 1e-10

#: Weights of the weighted Bonferroni combination of the parts.
PART_WEIGHTS = {"mean": 0.5, "variance": 0.25, "covariance": 0.25}
PART_WEIGHTS_DIAG = {"mean": 0.5, "variance": 0.5}

#: ``calibrated`` needs every group to have at least this many samples per
#: moment parameter of the test (q = d + d (d + 1) / 2, or 2 d for 'diag').
CALIBRATION_MIN_RATIO = 5.0
#: ... and at least this many samples per unit of the largest kurtosis of a
#: moment feature. The sample kurtosis of n rows is at most about n, and near
#: it when a few rows dominate a feature (lognormal sigma=2 at any n); the
#: Wald variance of a feature's square is estimated to relative error about
#: sqrt(kurtosis / n). Gaussian data (kurtosis of z^2 about 15) pass from
#: n ~ 150, Poisson(1.5) counts (~50-130) from n ~ 1000. At 4 the halves of
#: diabetes (diag, kurtosis ~55) passed with FPR 0.06-0.08, at the band's edge.
CALIBRATION_MAX_KURTOSIS_RATIO = 8.0

# Rows per block: ~4 MiB of moment features; blocks per thread task.
_BLOCK_BYTES = 1 << 22
_RUN = 32


def _n_threads(n_jobs) -> int:
    if n_jobs is None:
        return os.cpu_count() or 1
    from joblib import effective_n_jobs

    return effective_n_jobs(n_jobs)


# Relative rounding level of the centred sums: a feature whose standard
# deviation is below this fraction of its magnitude is constant, and equal
# constants agree to this fraction.
_RESOLUTION = 1e3 * np.finfo(np.float64).eps


class DriftBeyondResolution(ValueError):
    """The two samples differ beyond what float64 moment sums can quantify.

    Raised by :func:`asymptotic_test` when the samples differ along a
    direction in which neither varies (e.g. a feature constant in both
    samples with different values), or when a sample is shifted so far that
    its within-sample fourth moments cannot be resolved from the moment sums.
    Either way the difference is drift beyond doubt: the detector reports
    ``is_drift=True`` with p-value 0 and keeps this message as explanation.

    Attributes
    ----------
    feature : int or None
        Index of the feature concerned, when one is.
    """

    def __init__(self, message: str, feature: int | None = None):
        super().__init__(message)
        self.feature = feature


# -- moment features -----------------------------------------------------------


def _n_second(d: int, covariance_type: str) -> int:
    return d * (d + 1) // 2 if covariance_type == "full" else d


def _pairs(d: int, covariance_type: str):
    """Row/column indices (i, j) of the second-moment features, in order."""
    if covariance_type == "full":
        return np.triu_indices(d)
    return np.arange(d), np.arange(d)


def _fill_features(Z: np.ndarray, out: np.ndarray, covariance_type: str):
    """Write ``[z, second(z)]`` of the rows ``Z`` into ``out`` (rows x q)."""
    d = Z.shape[1]
    out[:, :d] = Z
    if covariance_type == "diag":
        np.multiply(Z, Z, out=out[:, d:])
        return
    k = d
    for i in range(d):  # row i of the upper triangle: z_i * z[i:]
        np.multiply(Z[:, i : i + 1], Z[:, i:], out=out[:, k : k + d - i])
        k += d - i


@dataclass(frozen=True)
class MomentSums:
    """Mergeable sufficient statistics of the moment features of a sample.

    For rows ``z`` (already centred and scaled; d features) and weights
    ``w``, the moment features are ``f(z) = [z, second(z)]`` with
    ``second(z)`` the upper triangle (row by row, ``numpy.triu_indices``
    order) of ``z z'`` for ``covariance_type='full'`` and ``z**2`` for
    ``'diag'``. Build them with :meth:`from_rows`, combine them with
    :meth:`merge`.

    Attributes
    ----------
    n : float
        Total weight (weights act as frequencies).
    count : int
        Number of rows with positive weight.
    mean : ndarray of shape (q,)
        Weighted mean of ``f``.
    scatter : ndarray of shape (q, q)
        Centred cross-product ``sum_i w_i (f_i - mean)(f_i - mean)'``.
    m3, m4 : ndarray of shape (q,)
        ``sum_i w_i (f_ik - mean_k)^3`` and ``^4`` per column (tail checks).
    d : int
        Number of features of ``z``.
    covariance_type : {'full', 'diag'}

    Examples
    --------
    >>> import numpy as np
    >>> from skkl.drift._asymptotic import MomentSums
    >>> Z = np.random.default_rng(0).normal(size=(1000, 2))
    >>> s = MomentSums.from_rows(Z[:300]).merge(MomentSums.from_rows(Z[300:]))
    >>> s.n, s.mean.shape, s.scatter.shape
    (1000.0, (5,), (5, 5))
    >>> bool(np.allclose(s.covariance(), np.cov(Z.T)))
    True
    """

    n: float
    count: int
    mean: np.ndarray
    scatter: np.ndarray
    m3: np.ndarray
    m4: np.ndarray
    d: int
    covariance_type: str = "full"

    @property
    def q(self) -> int:
        """Number of moment features, ``d + n_second``."""
        return self.mean.size

    @classmethod
    def empty(cls, d: int, covariance_type: str = "full") -> MomentSums:
        """Sums of no rows (the identity of :meth:`merge`).

        Examples
        --------
        >>> from skkl.drift._asymptotic import MomentSums
        >>> MomentSums.empty(3).q
        9
        """
        _check_covariance_type(covariance_type)
        q = d + _n_second(d, covariance_type)
        return cls(
            0.0, 0, np.zeros(q), np.zeros((q, q)), np.zeros(q), np.zeros(q), d,
            covariance_type,
        )  # fmt: skip

    @classmethod
    def from_rows(
        cls,
        Z,
        sample_weight=None,
        *,
        covariance_type: str = "full",
        working_memory: float | None = None,
        shift=None,
        scale=None,
        n_jobs: int | None = None,
    ) -> MomentSums:
        """Moment sums of the rows of ``Z`` in one streaming pass.

        Rows are processed in blocks sized by ``working_memory`` (MiB; the
        scikit-learn setting when None); neither the full ``(n, q)`` feature
        matrix nor a centred copy of ``Z`` is formed. Each block is centred
        on its own mean, reduced with one symmetric rank-k product, and
        merged into the running sums. Peak memory beyond ``Z``: one block of
        about ``8 (3 q + d + 1)`` bytes per row plus ``O(q^2)``.

        Parameters
        ----------
        Z : array-like of shape (n_samples, d)
            Rows, centred and scaled (or made so by ``shift`` and ``scale``);
            finite, not modified. A memory map or any array that slices to
            numpy blocks is read block by block.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative frequency weights; None means 1 per row.
        covariance_type : {'full', 'diag'}, default='full'
        working_memory : float, default=None
            MiB per block (``sklearn.get_config()['working_memory']`` when
            None).
        shift : array-like of shape (d,), default=None
            Subtracted from every row (per block) before the features.
        scale : float or array-like of shape (d,), default=None
            Divides every shifted row (per block).
        n_jobs : int, default=None
            Threads over runs of blocks, each with one BLAS thread. None
            uses every core (as numpy's BLAS would); the result does not
            depend on it.

        Returns
        -------
        sums : MomentSums
            Weighted sums of the features of the rows of ``Z``.

        Examples
        --------
        >>> import numpy as np
        >>> from skkl.drift._asymptotic import MomentSums
        >>> s = MomentSums.from_rows(np.array([[0.0], [1.0], [2.0]]))
        >>> s.mean  # [mean of z, mean of z**2]
        array([1.        , 1.66666667])
        """
        _check_covariance_type(covariance_type)
        Z = np.asarray(Z)
        if Z.ndim != 2:
            raise ValueError(f"Z must be 2-dimensional, got shape {Z.shape}.")
        if not np.issubdtype(Z.dtype, np.number) or np.iscomplexobj(Z):
            raise TypeError(f"Z must hold real numbers, got dtype {Z.dtype}.")
        n, d = Z.shape
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != (n,):
                raise ValueError(
                    f"sample_weight must have shape ({n},), got {w.shape}."
                )
            if not np.all(np.isfinite(w)) or np.any(w < 0):
                raise ValueError("sample_weight must be finite and non-negative.")
        if shift is not None:
            shift = np.asarray(shift, dtype=np.float64)
            if shift.shape != (d,) or not np.all(np.isfinite(shift)):
                raise ValueError(f"shift must be finite of shape ({d},).")
        if scale is not None:
            scale = np.asarray(scale, dtype=np.float64)
            if scale.shape not in ((), (d,)) or not np.all(
                np.isfinite(scale) & (scale > 0)
            ):
                raise ValueError(
                    f"scale must be a positive finite float or of shape ({d},)."
                )
        q = d + _n_second(d, covariance_type)
        # Per row: the features, their centred copy and the power scratch.
        # Blocks of ~4 MiB of features stay in cache between the passes.
        row_bytes = 8 * (3 * q + d + 1)
        rows = get_chunk_n_rows(
            row_bytes=row_bytes,
            max_n_rows=max(1, min(n, _BLOCK_BYTES // (8 * q))),
            working_memory=working_memory,
        )
        bounds = list(range(0, n, rows)) + [n]
        blocks = list(zip(bounds[:-1], bounds[1:], strict=True))
        # Fixed runs of blocks, each merged in order by one thread, then the
        # runs in order: the result does not depend on n_jobs.
        runs = [blocks[k : k + _RUN] for k in range(0, len(blocks), _RUN)]

        def run(blocks_):
            total = cls.empty(d, covariance_type)
            F = np.empty((rows, q))
            for start, stop in blocks_:
                Zb = np.array(Z[start:stop], dtype=np.float64)
                if shift is not None:
                    Zb -= shift
                if scale is not None:
                    Zb /= scale
                if not np.all(np.isfinite(Zb)):
                    bad = np.flatnonzero(~np.isfinite(Zb).all(axis=1))[0]
                    raise ValueError(
                        f"Z has a non-finite value in row {start + int(bad)}."
                    )
                wb = None if w is None else w[start:stop]
                # Overflow (rows ~1e77 from the centre) leaves inf in the
                # sums; asymptotic_test reports it as drift beyond resolution.
                with np.errstate(over="ignore", invalid="ignore"):
                    block = _block_sums(Zb, wb, F[: stop - start], covariance_type)
                total = total.merge(block)
            return total

        n_threads = max(1, min(_n_threads(n_jobs), len(runs)))
        # Small products: one BLAS thread each, parallel over runs instead
        # (threads inside BLAS only spin on blocks this size).
        with blas_single_thread():
            if n_threads == 1:
                parts = [run(r) for r in runs]
            else:
                with ThreadPoolExecutor(n_threads) as pool:
                    parts = list(pool.map(run, runs))
        total = cls.empty(d, covariance_type)
        for part in parts:
            total = total.merge(part)
        return total

    def merge(self, other: MomentSums) -> MomentSums:
        """Sums of the union of the two samples (Chan et al. pairwise update).

        Each side's central moments are shifted to the merged mean, never
        recomputed from raw power sums, so merging per-block or per-partition
        sums in any order equals the one-pass sums to rounding error.

        Parameters
        ----------
        other : MomentSums
            Sums of another sample with the same ``d`` and covariance type.

        Returns
        -------
        merged : MomentSums
            Sums of the union of both samples.

        Examples
        --------
        >>> import numpy as np
        >>> from skkl.drift._asymptotic import MomentSums
        >>> Z = np.arange(12.0).reshape(6, 2)
        >>> a = MomentSums.from_rows(Z[:2]).merge(MomentSums.from_rows(Z[2:]))
        >>> bool(np.allclose(a.scatter, MomentSums.from_rows(Z).scatter))
        True
        """
        mismatch = "cannot merge moment sums of different layouts"
        _check_same_layout(("self", self), ("other", other), mismatch)
        na, nb = self.n, other.n
        if nb == 0:
            return self
        if na == 0:
            return other
        # Overflowed sums stay inf; asymptotic_test reports them.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._merge(other, na, nb)

    def _merge(self, other, na, nb):
        n = na + nb
        delta = other.mean - self.mean
        fb = nb / n
        mean = self.mean + delta * fb
        scatter = self.scatter + other.scatter + np.outer(delta, delta) * (na * fb)
        a2, b2 = np.diagonal(self.scatter), np.diagonal(other.scatter)
        d2 = delta * delta
        m3 = (
            self.m3
            + other.m3
            + d2 * delta * (na * nb * (na - nb) / (n * n))
            + 3.0 * delta * (na * b2 - nb * a2) / n
        )
        m4 = (
            self.m4
            + other.m4
            + d2 * d2 * (na * nb * (na * na - na * nb + nb * nb) / n**3)
            + 6.0 * d2 * (na * na * b2 + nb * nb * a2) / (n * n)
            + 4.0 * delta * (na * other.m3 - nb * self.m3) / n
        )
        return MomentSums(
            n, self.count + other.count, mean, scatter, m3, m4, self.d,
            self.covariance_type,
        )  # fmt: skip

    # -- what the detector needs for the effect size ---------------------------

    def location(self) -> np.ndarray:
        """Weighted mean of ``z``, shape (d,)."""
        return self.mean[: self.d].copy()

    def covariance(self, ddof: float = 1.0) -> np.ndarray:
        """Covariance of ``z``: ``scatter / (n - ddof)``.

        Full (d, d) for ``covariance_type='full'``, the (d,) variances for
        ``'diag'``. Computed from the centred cross-product (no cancellation
        however far the sample is from the centring point).

        Parameters
        ----------
        ddof : float, default=1
            0 gives the maximum-likelihood covariance.

        Returns
        -------
        ndarray
        """
        if self.n - ddof <= 0:
            raise ValueError(
                f"the covariance with ddof={ddof} needs a total weight above "
                f"{ddof}, got {self.n}."
            )
        d = self.d
        C = self.scatter[:d, :d] / (self.n - ddof)
        return C if self.covariance_type == "full" else np.diagonal(C).copy()

    def feature_kurtosis(self) -> np.ndarray:
        """Kurtosis ``E(f - Ef)^4 / Var(f)^2`` of each moment feature (q,).

        Constant features get 1 (the smallest possible value).
        """
        var = np.diagonal(self.scatter) / max(self.n, 1e-300)
        m4 = self.m4 / max(self.n, 1e-300)
        ok = var > 0
        out = np.ones(self.q)
        with np.errstate(over="ignore", invalid="ignore"):
            k = m4[ok] / var[ok] / var[ok]
        out[ok] = np.where(np.isnan(k), np.inf, k)
        return out


def _check_same_layout(first, second, mismatch: str) -> None:
    """TypeError unless both ``(name, value)`` pairs hold MomentSums, ValueError
    (``mismatch``, then both layouts) unless their ``d`` and covariance type agree.
    """
    for name, s in (first, second):
        if not isinstance(s, MomentSums):
            raise TypeError(f"{name} must be MomentSums, got {type(s).__name__}.")
    a, b = first[1], second[1]
    if (a.d, a.covariance_type) != (b.d, b.covariance_type):
        raise ValueError(
            f"{mismatch}: d={a.d}, covariance_type={a.covariance_type!r} and "
            f"d={b.d}, covariance_type={b.covariance_type!r}."
        )


def _check_covariance_type(covariance_type):
    if covariance_type not in ("full", "diag"):
        raise ValueError(
            f"covariance_type must be 'full' or 'diag', got {covariance_type!r}."
        )


def _block_sums(Zb, wb, F, covariance_type) -> MomentSums:
    """Moment sums of one block of rows; ``F`` is scratch of shape (rows, q)."""
    m, d = Zb.shape
    if wb is None:
        W, count = float(m), m
    else:
        W, count = float(wb.sum()), int(np.count_nonzero(wb))
    if W <= 0:
        return MomentSums.empty(d, covariance_type)
    _fill_features(Zb, F, covariance_type)
    mean = (F.sum(axis=0) if wb is None else wb @ F) / W
    F -= mean
    # Fw' Fw with Fw = sqrt(w) (F - mean): numpy hands A.T @ A to syrk.
    Fw = F if wb is None else F * np.sqrt(wb)[:, None]
    scatter = Fw.T @ Fw
    scatter = (scatter + scatter.T) * 0.5
    sq = F * F
    s2 = sq if wb is None else sq * wb[:, None]
    m3 = np.einsum("ij,ij->j", s2, F)
    m4 = np.einsum("ij,ij->j", s2, sq)
    return MomentSums(W, count, mean, scatter, m3, m4, d, covariance_type)


# -- the test ------------------------------------------------------------------


@dataclass
class AsymptoticResult:
    """Outcome of :func:`asymptotic_test`.

    Attributes
    ----------
    part_names : tuple of str
        'mean', 'variance' and, for ``covariance_type='full'`` with d > 1,
        'covariance' (all entries of the covariance, variances included).
    statistics : ndarray of shape (n_parts,)
        Wald statistics ``T^2`` of the parts.
    dfs : ndarray of shape (n_parts,), int
        Degrees of freedom (ranks) ``k`` of the parts.
    p_values : ndarray of shape (n_parts,)
        Hotelling-scaled F p-values of the parts.
    p_value : float
        Weighted Bonferroni combination ``min(1, min_k p_k / w_k)``.
    weights : ndarray of shape (n_parts,)
        The weights ``w_k`` (see ``PART_WEIGHTS``).
    feature_statistics, feature_p_values : ndarray of shape (d,)
        Per-feature Wald test of (mean, variance) with 2 degrees of freedom
        (unadjusted p-values).
    calibrated : bool
        Whether the rule of :func:`asymptotic_test` vouches for the p-values.
    reason : str
        Why not (and what to use instead); empty when calibrated.
    dropped_features : ndarray of int
        Features constant (with the same value) in both samples, left out.
    """

    part_names: tuple
    statistics: np.ndarray
    dfs: np.ndarray
    p_values: np.ndarray
    p_value: float
    weights: np.ndarray
    feature_statistics: np.ndarray
    feature_p_values: np.ndarray
    calibrated: bool
    reason: str = ""
    dropped_features: np.ndarray = field(
        default_factory=lambda: np.empty(0, dtype=np.intp)
    )


def _wald(delta, V, ref_var):
    """Wald statistic ``delta' V^+ delta`` and its rank, with the rank rule.

    ``ref_var`` gives each entry's natural variance scale (its variance
    before any conditioning): entries whose variance in ``V`` is at most
    ``RANK_RTOL`` of it are treated as exact zeros. The rest is scaled to a
    correlation matrix and eigen-directions with eigenvalue at most
    ``RANK_RTOL * lambda_max`` are dropped. Raises ``_NullDirection`` (with
    the offending index) when ``delta`` has a component beyond
    ``1e3 sqrt(RANK_RTOL)`` of its scale along a dropped direction: a
    difference where neither sample varies.
    """
    var = np.diagonal(V)
    live = var > RANK_RTOL * ref_var
    dead = np.flatnonzero(~live)
    if dead.size:
        slack = 1e3 * np.sqrt(RANK_RTOL * ref_var[dead])
        over = np.abs(delta[dead]) > slack
        if np.any(over):
            raise _NullDirection(int(dead[np.flatnonzero(over)[0]]))
    if not np.any(live):
        return 0.0, 0
    sd = np.sqrt(var[live])
    x = delta[live] / sd
    R = V[np.ix_(live, live)] / np.outer(sd, sd)
    lam, U = np.linalg.eigh(R)
    lam_max = lam[-1]
    keep = lam > RANK_RTOL * lam_max
    y = U.T @ x
    resid = y[~keep]
    if resid.size and np.sqrt(resid @ resid) > 1e3 * np.sqrt(RANK_RTOL * lam_max):
        comp = U[:, ~keep] @ resid
        raise _NullDirection(int(np.flatnonzero(live)[np.argmax(np.abs(comp))]))
    T2 = float(np.sum(y[keep] ** 2 / lam[keep]))
    return T2, int(keep.sum())


class _NullDirection(Exception):
    def __init__(self, index):
        self.index = index


def _f_p_value(T2, k, nu):
    """Hotelling scaling of a Wald statistic: F(k, nu - k + 1), else chi2(k)."""
    if k == 0:
        return 1.0
    df2 = nu - k + 1
    if df2 <= 0:
        return float(stats.chi2.sf(T2, k))
    return float(stats.f.sf(df2 / (k * nu) * T2, k, df2))


def _constant_features(s: MomentSums) -> np.ndarray:
    """Features with no within-sample variation beyond Chan-update rounding."""
    d = s.d
    v = np.diagonal(s.scatter)[:d] / s.n
    return v <= _RESOLUTION**2 * (np.square(s.mean[:d]) + v)


def asymptotic_test(ref: MomentSums, new: MomentSums) -> AsymptoticResult:
    """Distribution-free asymptotic test of "same mean and same covariance".

    With ``delta = mean_ref(f) - mean_new(f)`` the difference of the moment
    features' means and ``G`` their pooled within-sample covariance (the
    empirical fourth moments of ``z``; ``nu = N - 2`` degrees of freedom),
    ``V = G (1/n1 + 1/n2)`` estimates the covariance of ``delta`` without
    any Gaussian assumption. The parts are Wald statistics on blocks of
    ``delta``:

    - 'mean': ``delta_z' V_zz^+ delta_z`` over the d means -- exactly
      Hotelling's two-sample T^2;
    - 'variance': the d squares ``z_j^2`` *given the means* (the residual
      ``delta_s - V_sz V_zz^+ delta_z`` with the Schur complement as its
      covariance), i.e. a test of equal variances that is asymptotically
      independent of the mean part and does not depend on the centring;
    - 'covariance' ('full', d > 1): all d (d + 1) / 2 products given the means.

    Each part's ``T^2`` with rank ``k`` (and ``nu_b = nu`` for the mean part,
    ``nu - k_mean`` for the conditional parts) gets Hotelling's small-sample
    scaling ``(nu_b - k + 1) / (k nu_b) T^2 ~ F(k, nu_b - k + 1)``. The
    p-value is the weighted Bonferroni combination ``min(1, min_k p_k /
    w_k)`` with weights ``PART_WEIGHTS`` (valid under any dependence).
    Per-feature p-values test (mean, second moment) of each feature with 2
    degrees of freedom. Rank rule: see ``RANK_RTOL`` and the module
    docstring.

    ``calibrated`` is True when every sample has

    - at least ``CALIBRATION_MIN_RATIO`` samples per moment parameter
      (``n_min >= 5 q``), so the q x q moment covariance is estimated
      reliably, and
    - at least ``CALIBRATION_MAX_KURTOSIS_RATIO`` samples per unit of the
      largest kurtosis of a moment feature in either sample (``n_min >= 8
      kappa_max``; the sample kurtosis of n rows cannot exceed about n, and
      comes near it when a few rows dominate a feature).

    Otherwise ``reason`` says which condition failed and suggests the
    permutation method (exact for any distribution).

    Parameters
    ----------
    ref, new : MomentSums
        Sums of the two samples (same ``d`` and covariance type), computed on
        rows centred and scaled the same way.

    Returns
    -------
    AsymptoticResult

    Raises
    ------
    DriftBeyondResolution
        When the samples differ where neither varies (a feature constant in
        both samples with different values, a linear relation between moment
        features that holds in both with different constants), or when the
        moment sums overflow float64: drift beyond doubt.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl.drift._asymptotic import MomentSums, asymptotic_test
    >>> rng = np.random.default_rng(0)
    >>> ref = MomentSums.from_rows(rng.normal(size=(5000, 3)))
    >>> res = asymptotic_test(ref, MomentSums.from_rows(rng.normal(size=(5000, 3))))
    >>> res.part_names, res.calibrated, bool(res.p_value > 0.05)
    (('mean', 'variance', 'covariance'), True, True)
    >>> scaled = MomentSums.from_rows(rng.normal(size=(5000, 3)) * [1.1, 1, 1])
    >>> bool(asymptotic_test(ref, scaled).p_values[1] < 1e-6)
    True
    """
    mismatch = "ref and new must have the same layout"
    _check_same_layout(("ref", ref), ("new", new), mismatch)
    for name, s in (("ref", ref), ("new", new)):
        if s.n <= 1:
            raise ValueError(
                f"{name} needs a total weight above 1 (at least 2 samples), got {s.n}."
            )
        if not (np.all(np.isfinite(s.mean)) and np.all(np.isfinite(s.scatter))):
            raise DriftBeyondResolution(
                f"the moment sums of {name} overflow float64: its rows are "
                "beyond ~1e154 of the reference's scale from its centre (a "
                "shift of that size is drift beyond doubt; check units and "
                "sentinel values)."
            )
    # q x q eigendecompositions: threads inside BLAS only spin at this size.
    with blas_single_thread():
        return _test(ref, new)


def _test(ref, new):
    d, ctype = ref.d, ref.covariance_type
    i, j = _pairs(d, ctype)
    n1, n2 = ref.n, new.n
    nu = n1 + n2 - 2.0

    c1, c2 = _constant_features(ref), _constant_features(new)
    both = c1 & c2
    mz1, mz2 = ref.mean[:d], new.mean[:d]
    tol_eq = _RESOLUTION * np.maximum(np.abs(mz1), np.abs(mz2))
    changed = both & (np.abs(mz1 - mz2) > tol_eq)
    if np.any(changed):
        f = int(np.flatnonzero(changed)[0])
        raise DriftBeyondResolution(
            f"feature {f} is constant in both samples but its value changed "
            f"(from {mz1[f]:.6g} to {mz2[f]:.6g} in the scaled units): drift "
            "beyond doubt.",
            feature=f,
        )
    # A feature constant (with one value) in both samples carries no evidence:
    # leave out its mean, its square and its products.
    keep = ~np.concatenate([both, both[i] | both[j]])
    V = (ref.scatter + new.scatter) * ((1.0 / n1 + 1.0 / n2) / nu)
    V = (V + V.T) * 0.5
    delta = ref.mean - new.mean

    zi = np.flatnonzero(keep[:d])
    var_idx = d + np.flatnonzero(i == j)
    blocks = {"variance": var_idx[keep[var_idx]]}
    if ctype == "full" and d > 1:
        second = d + np.arange(i.size)
        blocks["covariance"] = second[keep[second]]
    weights_map = PART_WEIGHTS if "covariance" in blocks else PART_WEIGHTS_DIAG

    def feature_of(k):
        return k if k < d else int(i[k - d])

    def wald(dl, Vb, ref_var, idx):
        try:
            return _wald(dl, Vb, ref_var)
        except _NullDirection as e:
            f = feature_of(int(idx[e.index]))
            raise DriftBeyondResolution(
                f"the samples differ in a moment of feature {f} along which "
                "neither sample varies (a linear relation between the features' "
                "moments that holds within both samples with different "
                "constants): drift beyond doubt.",
                feature=f,
            ) from None

    Vzz = V[np.ix_(zi, zi)]
    T2_mean, k_mean = wald(delta[zi], Vzz, np.diagonal(Vzz), zi)
    names, T2s, ks = ["mean"], [T2_mean], [k_mean]
    ps = [_f_p_value(T2_mean, k_mean, nu)]
    # Conditional parts: regress the second-moment block on the means with
    # the pseudo-inverse of V_zz under the same rank rule.
    Vzz_pinv = _pinv(Vzz)
    nu_c = nu - k_mean
    for name, idx in blocks.items():
        Vbz = V[np.ix_(idx, zi)]
        B = Vbz @ Vzz_pinv
        Vbb = V[np.ix_(idx, idx)]
        S = Vbb - B @ Vbz.T
        S = (S + S.T) * 0.5
        T2, k = wald(delta[idx] - B @ delta[zi], S, np.diagonal(Vbb), idx)
        names.append(name)
        T2s.append(T2)
        ks.append(k)
        ps.append(_f_p_value(T2, k, nu_c))
    weights = np.array([weights_map[nm] for nm in names])
    ps = np.array(ps)
    p = float(min(1.0, np.min(ps / weights)))

    feat_T, feat_p = np.zeros(d), np.ones(d)
    for f in np.flatnonzero(~both):
        idx = np.array([f, var_idx[f]])
        Vb = V[np.ix_(idx, idx)]
        T2, k = wald(delta[idx], Vb, np.diagonal(Vb), idx)
        feat_T[f] = T2
        feat_p[f] = _f_p_value(T2, k, nu)

    calibrated, reason = _calibration(ref, new, keep)
    return AsymptoticResult(
        part_names=tuple(names),
        statistics=np.array(T2s),
        dfs=np.array(ks),
        p_values=ps,
        p_value=p,
        weights=weights,
        feature_statistics=feat_T,
        feature_p_values=feat_p,
        calibrated=calibrated,
        reason=reason,
        dropped_features=np.flatnonzero(both),
    )


def _pinv(V):
    """Pseudo-inverse of a covariance block under the rank rule of ``_wald``."""
    var = np.diagonal(V)
    live = var > 0
    out = np.zeros_like(V)
    if not np.any(live):
        return out
    sd = np.sqrt(var[live])
    lam, U = np.linalg.eigh(V[np.ix_(live, live)] / np.outer(sd, sd))
    keep = lam > RANK_RTOL * lam[-1]
    inv = (U[:, keep] / lam[keep]) @ U[:, keep].T
    out[np.ix_(live, live)] = inv / np.outer(sd, sd)
    return out


def _calibration(ref, new, keep):
    """The ``calibrated`` rule of :func:`asymptotic_test` and its reason."""
    q = int(np.count_nonzero(keep))
    n_min = min(ref.n, new.n)
    fallback = (
        " Use method='permutation' (exact for any distribution), or more samples."
    )
    if n_min < CALIBRATION_MIN_RATIO * q:
        return False, (
            f"the smaller sample has {n_min:.0f} samples for q={q} moment "
            f"parameters (means and second moments); the moment covariance is "
            f"estimated reliably from {CALIBRATION_MIN_RATIO:g} * q = "
            f"{CALIBRATION_MIN_RATIO * q:.0f} samples per sample." + fallback
        )
    kurt = np.maximum(ref.feature_kurtosis(), new.feature_kurtosis())
    kurt[~keep] = 1.0
    k_max = float(kurt.max())
    if n_min < CALIBRATION_MAX_KURTOSIS_RATIO * k_max:
        k = int(np.argmax(kurt))
        d = ref.d
        if k < d:
            what = f"feature {k}"
        else:
            a, b = (int(t[k - d]) for t in _pairs(d, ref.covariance_type))
            what = (
                f"the square of feature {a}"
                if a == b
                else (f"the product of features {a} and {b}")
            )
        return False, (
            f"high kurtosis: {what} has kurtosis {k_max:.3g} (15 for the square "
            f"of a Gaussian feature, more for heavy tails), so its variance is "
            f"driven by a few rows; the asymptotic p-value needs at least "
            f"{CALIBRATION_MAX_KURTOSIS_RATIO:g} * kurtosis = "
            f"{CALIBRATION_MAX_KURTOSIS_RATIO * k_max:.0f} samples per sample, "
            f"the smaller has {n_min:.0f}." + fallback
        )
    return True, ""
