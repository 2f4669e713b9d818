"""Mergeable summaries of a sample: per-feature statistics and moment sums.

Everything the drift test needs from a sample that cannot be held in memory
(a dask collection, a stream) is one of two mergeable summaries:

- :class:`FeatureStats`: weight, rows, per-feature minimum and maximum (of
  rows with positive weight), weighted mean and centred sum of squares, and
  the centred sum of fourth powers. They give the standardisation, the
  constant features, the float64 resolution check and the effect's variance
  floors.
- :class:`MomentSums`: the weighted mean and centred cross-product of the
  moment features ``f(z) = [z, second(z)]`` of standardised rows, with
  ``second(z)`` the upper triangle of ``z z'`` ('full') or ``z**2`` ('diag'),
  plus per-column third and fourth central moments.

Both merge with the pairwise update of Chan, Golub & LeVeque (1979)
(:func:`chan_merge`, the one implementation here): each side's central
moments are shifted to the merged mean, never recomputed from raw power
sums, so sums merged in any tree equal one-pass sums to rounding error.
The moment-feature layout (:func:`second_pairs`, :func:`fill_moment_features`)
is shared with the permutation engine.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace

import numpy as np

from .._blas import blas_single_thread, get_chunk_n_rows

__all__ = [
    "FeatureStats",
    "MomentSums",
    "chan_merge",
    "check_same_layout",
    "fill_moment_features",
    "merge_higher",
    "n_second",
    "second_pairs",
]

# Rows per block: about 4 MiB of moment features stay in cache between the
# passes over a block; a run of this many blocks is one thread's task.
_BLOCK_BYTES = 1 << 22
_RUN = 32


# -- the moment-feature layout ----------------------------------------------------


def n_second(d: int, covariance_type: str) -> int:
    """Number of second-moment features: ``d (d + 1) / 2`` ('full') or ``d``."""
    return d * (d + 1) // 2 if covariance_type == "full" else d


def second_pairs(d: int, covariance_type: str):
    """Row/column indices ``(i, j)`` of the second-moment features, in order.

    The upper triangle of ``z z'`` row by row (``numpy.triu_indices``) for
    'full', the diagonal for 'diag'.
    """
    if covariance_type == "full":
        return np.triu_indices(d)
    return np.arange(d), np.arange(d)


def fill_moment_features(Z: np.ndarray, out: np.ndarray, covariance_type: str):
    """Write ``[z, second(z)]`` of the rows ``Z`` into ``out`` (rows x q).

    One column block per feature ``i`` of the upper triangle (``z_i z[i:]``),
    so no fancy-indexed temporary is formed.
    """
    d = Z.shape[1]
    out[:, :d] = Z
    if covariance_type == "diag":
        np.multiply(Z, Z, out=out[:, d:])
        return out
    k = d
    for i in range(d):
        np.multiply(Z[:, i : i + 1], Z[:, i:], out=out[:, k : k + d - i])
        k += d - i
    return out


def chan_merge(na, mean_a, scatter_a, nb, mean_b, scatter_b):
    """Weight, mean and centred scatter of the union of two samples.

    ``scatter`` is a vector of centred sums of squares (per feature) or a
    matrix of centred cross-products; the result has the same shape. The
    update of Chan, Golub & LeVeque: ``delta = mean_b - mean_a``,
    ``scatter = scatter_a + scatter_b + delta delta' na nb / n``.
    """
    n = na + nb
    delta = mean_b - mean_a
    fb = nb / n
    mean = mean_a + delta * fb
    if np.ndim(scatter_a) == 2:
        extra = np.outer(delta, delta) * (na * fb)
    else:
        extra = delta * delta * (na * fb)
    return n, mean, scatter_a + scatter_b + extra, delta


def merge_higher(
    na, nb, delta, second_a, second_b, third_a, third_b, fourth_a, fourth_b
):
    """Per-column centred third and fourth power sums of the union of two samples.

    The same update as :func:`chan_merge`, one order up (``delta`` is its
    fourth return value; ``second_*`` the per-column centred sums of squares).
    """
    n = na + nb
    d2 = delta * delta
    third = (
        third_a
        + third_b
        + d2 * delta * (na * nb * (na - nb) / (n * n))
        + 3.0 * delta * (na * second_b - nb * second_a) / n
    )
    fourth = (
        fourth_a
        + fourth_b
        + d2 * d2 * (na * nb * (na * na - na * nb + nb * nb) / n**3)
        + 6.0 * d2 * (na * na * second_b + nb * nb * second_a) / (n * n)
        + 4.0 * delta * (na * third_b - nb * third_a) / n
    )
    return third, fourth


# -- per-feature statistics ---------------------------------------------------------


def _power_of_two(x: np.ndarray) -> np.ndarray:
    """The power of two at or above ``|x|`` (1 for 0): exact rescaling."""
    mant, expo = np.frexp(np.where(x > 0, x, 1.0))
    return np.ldexp(1.0, expo)


@dataclass(frozen=True)
class FeatureStats:
    """Mergeable per-feature summary of a sample (weights as frequencies).

    Centred power sums are kept in units of ``scale`` (a power of two at or
    above the feature's largest magnitude), so data at 1e200 neither
    overflow nor lose their spread, and merging rescales exactly.

    Attributes
    ----------
    n : float
        Total weight.
    rows : int
        Number of rows (any weight).
    count : int
        Number of rows with positive weight.
    lo, hi : ndarray of shape (d,)
        Minimum and maximum over rows with positive weight.
    mean : ndarray of shape (d,)
        Weighted mean.
    m2, m3, m4 : ndarray of shape (d,)
        Weighted centred sums of squares, cubes and fourth powers of
        ``(x - mean) / scale`` (the fourth powers set the effect's variance
        floors).
    scale : ndarray of shape (d,)
        Unit of the power sums.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl.drift._sums import FeatureStats
    >>> X = np.arange(12.0).reshape(6, 2)
    >>> s = FeatureStats.from_rows(X[:2]).merge(FeatureStats.from_rows(X[2:]))
    >>> bool(np.allclose(s.sd, X.std(axis=0))), s.rows
    (True, 6)
    """

    n: float
    rows: int
    count: int
    lo: np.ndarray
    hi: np.ndarray
    mean: np.ndarray
    m2: np.ndarray
    m3: np.ndarray
    m4: np.ndarray
    scale: np.ndarray

    @property
    def sd(self) -> np.ndarray:
        """Weighted (maximum-likelihood) standard deviation per feature."""
        if self.n <= 0:
            return np.zeros_like(self.m2)
        return np.sqrt(self.m2 / self.n) * self.scale

    @classmethod
    def from_rows(cls, X: np.ndarray, w: np.ndarray | None = None) -> FeatureStats:
        """Summary of the rows ``X`` (finite float64) with weights ``w``."""
        rows, d = X.shape
        w = np.ones(rows) if w is None else w
        pos = w > 0
        W = float(w.sum())
        if not np.any(pos) or W <= 0:
            inf, zero = np.full(d, np.inf), np.zeros(d)
            return cls(0.0, rows, 0, inf, -inf, zero, zero, zero, zero, np.ones(d))
        Xp, wp = (X, w) if pos.all() else (X[pos], w[pos])
        lo, hi = Xp.min(axis=0), Xp.max(axis=0)
        scale = _power_of_two(np.maximum(np.abs(lo), np.abs(hi)))
        Xs = Xp / scale
        m = wp @ Xs / W
        dev = Xs - m
        dev2 = np.square(dev)
        # A constant feature: its exact value and no spread (no rounding residue).
        const = lo == hi
        mean = np.where(const, lo, m * scale)
        zero = np.where(const, 0.0, 1.0)
        m2, m3, m4 = (
            (wp @ dev2) * zero,
            (wp @ (dev2 * dev)) * zero,
            (wp @ dev2**2) * zero,
        )
        return cls(W, rows, int(pos.sum()), lo, hi, mean, m2, m3, m4, scale)

    def merge(self, other: FeatureStats) -> FeatureStats:
        """Summary of the union of the rows (Chan et al. pairwise update)."""
        rows = self.rows + other.rows
        lo, hi = np.minimum(self.lo, other.lo), np.maximum(self.hi, other.hi)
        if other.n == 0 or self.n == 0:
            s = self if other.n == 0 else other
            return replace(s, rows=rows, lo=lo, hi=hi)
        scale = np.maximum(self.scale, other.scale)
        a, b = self.scale / scale, other.scale / scale  # powers of two: exact
        na, nb = self.n, other.n
        n, mean_s, m2, delta = chan_merge(
            na,
            self.mean / scale,
            self.m2 * a**2,
            nb,
            other.mean / scale,
            other.m2 * b**2,
        )
        m3, m4 = merge_higher(
            na, nb, delta, self.m2 * a**2, other.m2 * b**2, self.m3 * a**3,
            other.m3 * b**3, self.m4 * a**4, other.m4 * b**4,
        )  # fmt: skip
        count = self.count + other.count
        return FeatureStats(n, rows, count, lo, hi, mean_s * scale, m2, m3, m4, scale)

    def subset(self, columns: np.ndarray) -> FeatureStats:
        """The summary of the features ``columns`` only."""
        return replace(
            self,
            lo=self.lo[columns],
            hi=self.hi[columns],
            mean=self.mean[columns],
            m2=self.m2[columns],
            m3=self.m3[columns],
            m4=self.m4[columns],
            scale=self.scale[columns],
        )

    def reweighted(self, factor: float) -> FeatureStats:
        """The same sample with every weight multiplied by ``factor``."""
        return replace(
            self, n=self.n * factor, m2=self.m2 * factor, m3=self.m3 * factor,
            m4=self.m4 * factor,
        )  # fmt: skip


# -- moment sums --------------------------------------------------------------------


def _check_covariance_type(covariance_type):
    if covariance_type not in ("full", "diag"):
        raise ValueError(
            f"covariance_type must be 'full' or 'diag', got {covariance_type!r}."
        )


@dataclass(frozen=True)
class MomentSums:
    """Mergeable sufficient statistics of the moment features of a sample.

    For rows ``z`` (already centred and scaled; d features) and weights
    ``w``, the moment features are ``f(z) = [z, second(z)]`` (see
    :func:`second_pairs`). Build them with :meth:`from_rows`, combine them
    with :meth:`merge`.

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
    >>> from skkl.drift._sums import MomentSums
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
        >>> from skkl.drift._sums import MomentSums
        >>> MomentSums.empty(3).q
        9
        """
        _check_covariance_type(covariance_type)
        q = d + n_second(d, covariance_type)
        zero = np.zeros(q)
        return cls(0.0, 0, zero, np.zeros((q, q)), zero, zero, d, covariance_type)

    @staticmethod
    def bytes_for(d: int, covariance_type: str = "full") -> int:
        """Bytes of one instance's ``scatter`` (the q x q matrix)."""
        q = d + n_second(d, covariance_type)
        return 8 * q * q

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
        >>> from skkl.drift._sums import MomentSums
        >>> s = MomentSums.from_rows(np.array([[0.0], [1.0], [2.0]]))
        >>> s.mean  # [mean of z, mean of z**2]
        array([1.        , 1.66666667])
        """
        _check_covariance_type(covariance_type)
        Z, w, shift, scale = _check_rows(Z, sample_weight, shift, scale)
        n, d = Z.shape
        q = d + n_second(d, covariance_type)
        # Per row: the features, their centred copy and the power scratch.
        rows = get_chunk_n_rows(
            row_bytes=8 * (3 * q + d + 1),
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
                # sums; the asymptotic test reports it as drift beyond
                # resolution.
                with np.errstate(over="ignore", invalid="ignore"):
                    block = _block_sums(Zb, wb, F[: stop - start], covariance_type)
                total = total.merge(block)
            return total

        n_threads = max(1, min(_n_threads(n_jobs), len(runs)))
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
        >>> from skkl.drift._sums import MomentSums
        >>> Z = np.arange(12.0).reshape(6, 2)
        >>> a = MomentSums.from_rows(Z[:2]).merge(MomentSums.from_rows(Z[2:]))
        >>> bool(np.allclose(a.scatter, MomentSums.from_rows(Z).scatter))
        True
        """
        check_same_layout(("self", self), ("other", other))
        na, nb = self.n, other.n
        if nb == 0:
            return self
        if na == 0:
            return other
        # Overflowed sums stay inf; the asymptotic test reports them.
        with np.errstate(over="ignore", invalid="ignore"):
            return self._merge(other, na, nb)

    def _merge(self, other, na, nb):
        n, mean, scatter, delta = chan_merge(
            na, self.mean, self.scatter, nb, other.mean, other.scatter
        )
        a2, b2 = np.diagonal(self.scatter), np.diagonal(other.scatter)
        m3, m4 = merge_higher(
            na, nb, delta, a2, b2, self.m3, other.m3, self.m4, other.m4
        )
        count = self.count + other.count
        return MomentSums(n, count, mean, scatter, m3, m4, self.d, self.covariance_type)

    # -- views ------------------------------------------------------------------

    def location(self) -> np.ndarray:
        """Weighted mean of ``z``, shape (d,)."""
        return self.mean[: self.d].copy()

    def covariance(self, ddof: float = 1.0) -> np.ndarray:
        """Covariance of ``z``: ``scatter / (n - ddof)``.

        Full (d, d) for ``covariance_type='full'``, the (d,) variances for
        ``'diag'``, from the centred cross-product (no cancellation however
        far the sample is from the centring point).

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
        n = max(self.n, np.finfo(np.float64).tiny)
        var = np.diagonal(self.scatter) / n
        m4 = self.m4 / n
        ok = var > 0
        out = np.ones(self.q)
        with np.errstate(over="ignore", invalid="ignore"):
            k = m4[ok] / var[ok] / var[ok]
        out[ok] = np.where(np.isnan(k), np.inf, k)
        return out

    def subset(self, columns) -> MomentSums:
        """The moment sums of the features ``columns`` only (exact: a sub-block)."""
        columns = np.asarray(columns, dtype=np.intp)
        if columns.size == self.d and np.all(columns == np.arange(self.d)):
            return self
        i, j = second_pairs(self.d, self.covariance_type)
        inside = np.zeros(self.d, dtype=bool)
        inside[columns] = True
        k = np.concatenate([columns, self.d + np.flatnonzero(inside[i] & inside[j])])
        return replace(
            self,
            mean=self.mean[k],
            scatter=self.scatter[np.ix_(k, k)],
            m3=self.m3[k],
            m4=self.m4[k],
            d=int(columns.size),
        )

    def rescaled(self, factor) -> MomentSums:
        """Sums of ``z * factor`` (per feature) from the sums of ``z``: exact."""
        factor = np.asarray(factor, dtype=np.float64)
        i, j = second_pairs(self.d, self.covariance_type)
        g = np.concatenate([factor, factor[i] * factor[j]])
        return replace(
            self,
            mean=self.mean * g,
            scatter=self.scatter * np.outer(g, g),
            m3=self.m3 * g**3,
            m4=self.m4 * g**4,
        )

    def reweighted(self, factor: float) -> MomentSums:
        """The same sample with every weight multiplied by ``factor``."""
        return replace(
            self,
            n=self.n * factor,
            scatter=self.scatter * factor,
            m3=self.m3 * factor,
            m4=self.m4 * factor,
        )


def check_same_layout(first, second) -> None:
    """TypeError unless both ``(name, value)`` pairs hold MomentSums, ValueError
    unless their ``d`` and covariance type agree."""
    for name, s in (first, second):
        if not isinstance(s, MomentSums):
            raise TypeError(f"{name} must be MomentSums, got {type(s).__name__}.")
    a, b = first[1], second[1]
    if (a.d, a.covariance_type) != (b.d, b.covariance_type):
        raise ValueError(
            f"{first[0]} and {second[0]} have different layouts: "
            f"d={a.d}, covariance_type={a.covariance_type!r} and "
            f"d={b.d}, covariance_type={b.covariance_type!r}."
        )


def _n_threads(n_jobs) -> int:
    if n_jobs is None:
        return os.cpu_count() or 1
    from joblib import effective_n_jobs

    return effective_n_jobs(n_jobs)


def _check_rows(Z, sample_weight, shift, scale):
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
            raise ValueError(f"sample_weight must have shape ({n},), got {w.shape}.")
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
    return Z, w, shift, scale


def _block_sums(Zb, wb, F, covariance_type) -> MomentSums:
    """Moment sums of one block of rows; ``F`` is scratch of shape (rows, q)."""
    m, d = Zb.shape
    if wb is None:
        W, count = float(m), m
    else:
        W, count = float(wb.sum()), int(np.count_nonzero(wb))
    if W <= 0:
        return MomentSums.empty(d, covariance_type)
    fill_moment_features(Zb, F, covariance_type)
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
