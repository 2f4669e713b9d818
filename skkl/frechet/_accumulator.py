"""FeatureMoments: the mean and covariance of feature rows, streamed and merged.

Each chunk of rows is centred on its own mean in float64 and its scatter is
added with the update of Chan, Golub & LeVeque (1979):

    M = M_a + M_b + n_a n_b / n (m_b - m_a)(m_b - m_a)',

every term a positive semi-definite matrix, so nothing cancels. Raw sums
``sum x`` and ``sum x x'`` (torchmetrics' accumulation) recover the covariance
as a difference ``sum x x' / n - m m'`` that loses as many digits as the
squared ratio of the features' offset to their spread.

The update runs in place with BLAS (``syrk`` of the centred chunk into the
scatter, ``syr`` for the rank-one term), so streaming costs little more than
the covariance products and needs one chunk buffer of about 32 MiB. Merging
two accumulators (workers, dask blocks) goes through
:func:`skkl._moments.merge_moments`, the package's one pairwise merge.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg
from scipy.linalg import blas

from .._blas import blas_threads_for, get_chunk_n_rows
from .._errors import InputError
from .._moments import GroupMoments, merge_moments
from ._fit import (
    SAFE,
    Fit,
    band_exponent,
    check_features,
    check_finite,
    covariance_factor,
    difference_exponent,
    fit_rows,
    scaled_moments,
)

__all__ = [
    "FeatureMoments",
    "moments_fit",
    "moments_without",
    "part_moments",
    "rows_moments",
    "subset_fit",
]

# The float64 chunk buffer: large enough for syrk to run at full speed, small
# enough to stay a modest fraction of the memory of the stream itself.
_BUFFER_BYTES = 1 << 25
# Tag stored in saved files (pytorch-fid reads 'mu' and 'sigma' and ignores it).
_FORMAT = "skkl.FeatureMoments 1"


class FeatureMoments:
    """Streaming, mergeable mean and covariance of feature rows (FID statistics).

    Rows arrive batch by batch (:meth:`update`); each chunk is centred on its
    own mean in float64 and merged with Chan's stable update, so features with
    a large common offset keep their digits (raw ``sum x x'`` accumulation
    does not). Accumulators computed on different workers or dask blocks
    combine with :meth:`merge`; :meth:`save` and :meth:`load` use a portable
    ``.npz`` (no pickle) with pytorch-fid's keys ``mu`` and ``sigma``, so
    pytorch-fid reads skkl's files and :meth:`load` reads pytorch-fid's.

    The covariance is the unbiased one (``ddof=1``), as in the Fréchet
    Inception Distance. Data are accumulated in units of a power of two chosen
    from the data when its squares would overflow or underflow float64 (values
    beyond about 1e120 or below 1e-120), so the moments of ``2**k * X`` are
    exactly those of ``X`` scaled.

    Attributes
    ----------
    n_samples : int or None
        Rows accumulated; None for statistics loaded without a count
        (pytorch-fid's files), which can be compared but not updated.
    n_features : int or None
        Dimension, None before the first rows.
    mean : ndarray of shape (n_features,)
    covariance : ndarray of shape (n_features, n_features)
        The unbiased covariance (``ddof=1``).

    See Also
    --------
    frechet_distance : Accepts a FeatureMoments for either side.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import FeatureMoments, frechet_distance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(1000, 4)) + 1e6  # a large common offset
    >>> mom = FeatureMoments()
    >>> for batch in np.array_split(X, 10):
    ...     _ = mom.update(batch)
    >>> mom.n_samples
    1000
    >>> bool(np.allclose(mom.covariance, np.cov(X, rowvar=False), rtol=1e-9))
    True
    >>> halves = FeatureMoments().update(X[:500]).merge(
    ...     FeatureMoments().update(X[500:]))
    >>> bool(np.allclose(halves.covariance, mom.covariance, rtol=1e-12))
    True
    >>> round(frechet_distance(mom, X[:300] + 0.5), 2)  # moments against rows
    0.95
    """

    def __init__(self) -> None:
        self._n: int | None = 0
        # The mean is held as shift + mean, the shift a point near the data
        # (the first chunk's mean): differences of means then carry digits
        # relative to the spread, not to the offset.
        self._shift: np.ndarray | None = None
        self._mean: np.ndarray | None = None
        # Upper triangle of sum (x - m)(x - m)' / 4**_exp (F order, for BLAS);
        # for statistics without a count, the covariance itself.
        self._scatter: np.ndarray | None = None
        self._exp = 0

    # -- accumulation ----------------------------------------------------------

    def update(self, X: ArrayLike) -> FeatureMoments:
        """Add the rows of ``X`` (n_samples, n_features); returns self.

        Any numeric dtype, including float32 and memory-mapped arrays; rows
        are read in chunks of at most 32 MiB of float64 (less if
        scikit-learn's ``working_memory`` says so), never copied whole.
        ``X`` is not modified.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        self : FeatureMoments
        """
        return self._update(X, "X")

    def _update(self, X, name: str, index=None) -> FeatureMoments:
        """Add the rows of X, or only the rows ``X[index]`` (gathered per chunk)."""
        self._require_count("be updated")
        X = check_features(X, name, min_rows=0)
        d = X.shape[1]
        n = X.shape[0] if index is None else len(index)
        if self._shift is not None and d != len(self._shift):
            raise InputError(
                "{argument} has {n} features but these moments have {d}.",
                argument=name,
                n=d,
                d=len(self._shift),
            )
        # scikit-learn's working_memory may ask for smaller chunks still
        rows = max(1, min(n, _BUFFER_BYTES // (8 * d)))
        rows = get_chunk_n_rows(row_bytes=8 * d, max_n_rows=rows)
        buffer = np.empty((rows, d))
        ones = np.ones(rows)
        with (
            blas_threads_for(float(rows) * d * d),  # one chunk's syrk
            np.errstate(over="ignore", invalid="ignore", under="ignore"),
        ):
            for a in range(0, n, rows):
                b = min(a + rows, n)
                rows_ab = slice(a, b) if index is None else index[a:b]
                self._add_chunk(X, rows_ab, a, buffer, ones, name)
        return self

    def _add_chunk(self, X, rows, a: int, buffer, ones, name: str) -> None:
        """Merge the chunk ``X[rows]`` (``a``: its first row, for messages)."""
        chunk = X[rows]  # a view for a slice, a small copy for an index
        m = len(chunk)
        Xb, ones = buffer[:m], ones[:m]
        Xb[...] = chunk  # float64 copy of the chunk, centred in place below
        where = a if isinstance(rows, slice) else rows  # rows, for messages
        if self._shift is None:
            self._shift = _first_mean(Xb, ones, name, where)
        mean = (ones @ Xb) / m  # to eps times the offset
        exponent, ordinary = 0, False
        if np.isfinite(mean).all():
            Xb -= mean
            # Second pass on the centred chunk: the mean relative to the shift
            # to eps times the spread (the scatter about the first estimate
            # exceeds the centred one by m r r', r the correction: negligible).
            mean -= self._shift
            mean += (ones @ Xb) / m
            top = float(np.einsum("ij,ij->j", Xb, Xb).max())
            # A zero sum of squares is ordinary only for constant columns
            # (squares of values below ~1e-162 underflow to 0 as well).
            ordinary = np.isfinite(top) and (
                2.0 ** (-2 * SAFE) <= top <= 2.0 ** (2 * SAFE)
                or (top == 0 and not Xb.any())
            )
        if not ordinary:  # squares overflow or underflow: work in scaled units
            Xb[...] = chunk
            check_finite(Xb, name, where)
            exponent = band_exponent(max(_abs_max(Xb), _abs_max(self._shift)))
            Xb *= 2.0**-exponent
            Xb -= np.ldexp(self._shift, -exponent)
            mean = (ones @ Xb) / m
            Xb -= mean
            mean += (ones @ Xb) / m
            mean = np.ldexp(mean, exponent)
            spread = band_exponent(_abs_max(Xb))
            if spread:  # the spread is far below the offset
                Xb *= 2.0**-spread
                exponent += spread
        self._merge_chunk(Xb, mean, exponent)

    def _merge_chunk(self, Xb: np.ndarray, mean: np.ndarray, exponent: int) -> None:
        """Chan's update with a centred chunk ``Xb * 2**exponent``.

        ``mean`` is the chunk's mean relative to the shift.
        """
        m = len(Xb)
        if not self._n:
            d = Xb.shape[1]
            self._scatter = np.zeros((d, d), order="F")
            self._mean, self._n, self._exp = mean.copy(), 0, exponent
        n = self._n
        total = n + m
        weight = n * m / total
        target = _cover_difference(max(self._exp, exponent), mean, self._mean, weight)
        self._rescale(target)
        if exponent != target:
            Xb *= 2.0 ** (exponent - target)
        blas.dsyrk(1.0, Xb.T, beta=1.0, c=self._scatter, overwrite_c=1)
        if n:
            delta = np.ldexp(0.5 * mean - 0.5 * self._mean, 1 - target)
            blas.dsyr(weight, delta, a=self._scatter, overwrite_a=1)
            self._mean = self._mean * (n / total) + mean * (m / total)
        self._n = total

    def _rescale(self, exponent: int) -> None:
        """Hold the scatter in units of ``4**exponent`` (exact powers of two)."""
        if exponent != self._exp:
            self._scatter *= 4.0 ** (self._exp - exponent)
            self._exp = exponent

    def merge(self, other: FeatureMoments) -> FeatureMoments:
        """Moments of the union of the rows of ``self`` and ``other`` (a new object).

        The exact pairwise combination (Chan et al.), through the package's
        :func:`skkl._moments.merge_moments`; neither operand is modified, and
        the result does not depend on how the rows were split.

        Parameters
        ----------
        other : FeatureMoments

        Returns
        -------
        merged : FeatureMoments
        """
        if not isinstance(other, FeatureMoments):
            raise TypeError(
                f"other must be a FeatureMoments, got {type(other).__name__}."
            )
        self._require_count("be merged")
        other._require_count("be merged")
        if not other._n:
            return self._copy()
        if not self._n:
            return other._copy()
        if len(self._mean) != len(other._mean):
            raise InputError(
                "{argument} has {a} features but these moments have {b}.",
                argument="other",
                a=len(other._mean),
                b=len(self._mean),
            )
        # other's mean relative to self's shift; the shifts are close (both
        # near the data), so their difference is exact (Sterbenz).
        with np.errstate(over="ignore"):
            other_mean = (other._shift - self._shift) + other._mean
        if not np.isfinite(other_mean).all():
            raise InputError(
                "the means of the two sets of moments differ by more than float64 "
                "can hold (~1e308); rescale the features."
            )
        weight = self._n * other._n / (self._n + other._n)
        target = max(self._exp, other._exp)
        target = _cover_difference(target, self._mean, other_mean, weight)
        # Means and scatters in units of 2**target: the merge shifts each part
        # by differences of means, which are then of order 1 at most.
        parts = [
            _group_moments(p, mean, target)
            for p, mean in ((self, self._mean), (other, other_mean))
        ]
        both = merge_moments(*parts)
        out = FeatureMoments()
        out._shift = self._shift
        out._n = self._n + other._n
        out._mean = self._mean * (self._n / out._n) + other_mean * (other._n / out._n)
        out._scatter = np.asfortranarray(both.scatter[0])
        out._exp = target
        return out

    # -- construction and files ------------------------------------------------

    @classmethod
    def from_features(cls, X) -> FeatureMoments:
        """Moments of the rows of ``X``: a numpy array or a dask array/DataFrame.

        A dask collection is reduced block by block on the workers that hold
        it and the blocks' moments are merged in a tree (:meth:`merge`); its
        rows are never collected to one process.

        Parameters
        ----------
        X : array-like or dask collection of shape (n_samples, n_features)

        Returns
        -------
        moments : FeatureMoments
        """
        from .._dask import is_dask_collection, reduce_blocks

        if is_dask_collection(X):
            return reduce_blocks(_block_moments, _merge, X, names=["X"])
        return cls().update(X)

    @classmethod
    def from_moments(
        cls, mean: ArrayLike, covariance: ArrayLike, n_samples: int | None = None
    ) -> FeatureMoments:
        """Moments from a mean and an unbiased covariance (e.g. stored statistics).

        Parameters
        ----------
        mean : array-like of shape (n_features,)
        covariance : array-like of shape (n_features, n_features)
            Symmetric positive semi-definite, ``ddof=1``.
        n_samples : int, optional
            Rows behind them; without it the moments can be compared but not
            updated, merged, saved with a count or used for intervals.

        Returns
        -------
        moments : FeatureMoments
        """
        out = cls()
        mu, S, out._exp = scaled_moments(mean, covariance, "mean", "covariance")
        out._shift = mu
        if n_samples is None:
            out._n = None
        else:
            n = _check_count(n_samples, "n_samples")
            out._n = n
            S *= n - 1.0
        out._mean, out._scatter = np.zeros_like(mu), np.asfortranarray(S)
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write ``mu``, ``sigma`` and ``n_samples`` to an ``.npz`` (no pickle).

        pytorch-fid's ``--save-stats`` files hold the same ``mu`` and
        ``sigma``, so either program reads the other's files.

        Parameters
        ----------
        path : str or path-like
            Destination; numpy appends ``.npz`` if missing.
        """
        covariance = self.covariance
        arrays: dict[str, Any] = {
            "mu": self.mean,
            "sigma": covariance,
            "format": np.array(_FORMAT),
        }
        if self._n is not None:
            arrays["n_samples"] = np.array(self._n, dtype=np.int64)
        np.savez(path, **arrays)

    @classmethod
    def load(cls, path: str | os.PathLike) -> FeatureMoments:
        """Read statistics written by :meth:`save` or by pytorch-fid.

        pytorch-fid's ``.npz`` holds ``mu`` and ``sigma`` without a count:
        the result can be compared (:func:`~skkl.frechet_distance`) but not
        updated or merged.

        Parameters
        ----------
        path : str or path-like

        Returns
        -------
        moments : FeatureMoments
        """
        try:
            with np.load(path, allow_pickle=False) as data:
                arrays = {k: data[k] for k in data.files}
        except Exception as exc:  # zip, zlib, format and pickle errors alike
            raise InputError(
                "{path}: not a readable .npz file ({exc}).",
                path=str(path),
                file=str(path),
                exc=exc,
            ) from None
        missing = [k for k in ("mu", "sigma") if k not in arrays]
        if missing:
            raise InputError(
                "{path}: statistics need arrays 'mu' and 'sigma' (pytorch-fid's "
                "keys); missing {missing} (found {found}).",
                path=str(path),
                file=str(path),
                missing=missing,
                found=sorted(arrays),
            )
        n = arrays.get("n_samples")
        if n is not None:
            if n.shape != () or n.dtype.kind not in "iu":
                raise InputError(
                    "{path}: 'n_samples' must be one integer, got {n!r}.",
                    path=str(path),
                    file=str(path),
                    n=n,
                )
            n = int(n)
        try:
            return cls.from_moments(arrays["mu"], arrays["sigma"], n)
        except (ValueError, TypeError) as exc:
            raise InputError(
                "{path}: {exc}", path=str(path), file=str(path), exc=exc
            ) from None

    # -- results ------------------------------------------------------------------

    @property
    def n_samples(self) -> int | None:
        """Rows accumulated (None when loaded without a count)."""
        return self._n

    @property
    def n_features(self) -> int | None:
        """Dimension of the rows (None before the first update)."""
        return None if self._mean is None else len(self._mean)

    @property
    def mean(self) -> np.ndarray:
        """The mean of the rows (a copy)."""
        self._require_rows(1)
        return self._shift + self._mean

    @property
    def covariance(self) -> np.ndarray:
        """The unbiased covariance (``ddof=1``) of the rows (a new array)."""
        self._require_rows(2)
        divisor = 1.0 if self._n is None else self._n - 1.0
        with np.errstate(over="ignore"):
            covariance = np.ldexp(self._symmetric() / divisor, 2 * self._exp)
        if not np.isfinite(covariance).all():
            raise InputError(
                "the covariance overflows float64 (variances beyond ~1e308); "
                "rescale the features (the Fréchet functions take these moments "
                "as they are)."
            )
        return covariance

    def _symmetric(self) -> np.ndarray:
        """The full symmetric matrix from the stored upper triangle (a new array)."""
        S = np.triu(self._scatter)
        S += S.T
        S[np.diag_indices_from(S)] *= 0.5
        return S

    def _copy(self) -> FeatureMoments:
        out = FeatureMoments()
        out._n, out._exp, out._shift = self._n, self._exp, self._shift
        out._mean = None if self._mean is None else self._mean.copy()
        out._scatter = None if self._scatter is None else self._scatter.copy("F")
        return out

    def _require_count(self, what: str) -> None:
        if self._n is None:
            raise InputError(
                "these moments were loaded without a sample count (pytorch-fid's "
                "'mu' and 'sigma'), so they cannot {what}; use them as they are, "
                "or recompute them with FeatureMoments.update.",
                what=what,
            )

    def _require_rows(self, k: int, name: str = "these moments") -> None:
        if self._mean is None or (self._n is not None and self._n < k):
            raise InputError(
                "{name} hold {n} row(s); at least {k} are needed.",
                name=name,
                n=self._n or 0,
                k=k,
            )

    def __repr__(self) -> str:
        return f"FeatureMoments(n_samples={self._n}, n_features={self.n_features})"


def rows_moments(X, name: str, shift=None, index=None) -> FeatureMoments:
    """Moments of the rows of ``X`` (or of ``X[index]``); errors name ``name``.

    ``shift``: the point the mean is held relative to (default: the first
    chunk's mean); :func:`moments_without` needs both operands on one shift.
    ``index`` rows are gathered chunk by chunk, never copied all at once.
    """
    out = FeatureMoments()
    out._shift = shift
    return out._update(X, name, index)


def subset_fit(X: np.ndarray, index: np.ndarray, name: str) -> Fit:
    """The fit of the rows ``X[index]`` of a checked array, gathered per chunk."""
    index = np.sort(index)  # gather rows in memory order
    if len(index) <= X.shape[1]:
        return fit_rows(X[index], name)
    return moments_fit(rows_moments(X, name, index=index), name)


def part_moments(total: FeatureMoments, X, index, name: str) -> FeatureMoments:
    """Moments of rows ``X[index]`` (a subset of ``total``'s), on its shift."""
    return rows_moments(X, name, total._shift, index)


def moments_fit(mom: FeatureMoments, name: str) -> Fit:
    """The scaled Gaussian fit of ``mom`` that the distances use."""
    mom._require_rows(2, name)
    divisor = 1.0 if mom._n is None else mom._n - 1.0
    try:  # LAPACK reads the stored upper triangle: no symmetric copy
        U = linalg.cholesky(mom._scatter, lower=False, check_finite=False)
        factor, lower = U.T * (1.0 / np.sqrt(divisor)), True
    except linalg.LinAlgError:  # singular: the eigen-factor of the full matrix
        S = mom._symmetric()
        S /= divisor
        factor, lower = covariance_factor(S, f"the covariance of {name}")
    return Fit(mom._mean.copy(), factor, mom._exp, mom._n, lower, mom._shift)


def moments_without(total: FeatureMoments, part: FeatureMoments) -> FeatureMoments:
    """Moments of the rows of ``total`` that are not in ``part`` (a subset).

    Chan's update solved for one operand. The rest holds most of the rows
    (jackknife groups are a small fraction), so subtracting the scatters
    loses no more than a few units in the last place.
    """
    if part._shift is not total._shift:
        raise ValueError("moments_without needs both moments on one shift.")
    rest = FeatureMoments()
    rest._shift = total._shift
    rest._n = total._n - part._n
    target = max(total._exp, part._exp)
    scatter = total._symmetric() * 4.0 ** (total._exp - target)
    scatter -= part._symmetric() * 4.0 ** (part._exp - target)
    # delta = m_part - m_rest = (m_part - m) n / n_rest
    step = np.ldexp(0.5 * part._mean - 0.5 * total._mean, 1 - target)
    delta = step * (total._n / rest._n)
    scatter -= (part._n * rest._n / total._n) * np.outer(delta, delta)
    rest._scatter = np.asfortranarray(scatter)
    rest._mean = total._mean - (part._mean - total._mean) * (part._n / rest._n)
    rest._exp = target
    return rest


def _first_mean(Xb: np.ndarray, ones: np.ndarray, name: str, where):
    """The mean of a first chunk, the accumulator's shift (finite, or an error)."""
    mean = (ones @ Xb) / len(Xb)
    if np.isfinite(mean).all():
        return mean
    check_finite(Xb, name, where)
    exponent = band_exponent(_abs_max(Xb))  # finite values whose sum overflows
    return np.ldexp((ones @ np.ldexp(Xb, -exponent)) / len(Xb), exponent)


def _abs_max(a: np.ndarray) -> float:
    return max(float(a.max()), -float(a.min())) if a.size else 0.0


def _group_moments(mom: FeatureMoments, mean: np.ndarray, exponent: int):
    """``mom`` as one group of :class:`~skkl._moments.GroupMoments` in units of
    ``2**exponent`` (its mean given relative to a common shift)."""
    scale = 2.0 ** (mom._exp - exponent)
    return GroupMoments(
        np.array([float(mom._n)]),
        np.array([mom._n]),
        np.ldexp(mean, -exponent)[None],
        (mom._symmetric() * (scale * scale))[None],
    )


def _cover_difference(exponent: int, a: np.ndarray, b: np.ndarray, weight) -> int:
    """``exponent``, raised if ``|a - b| sqrt(weight) / 2**exponent`` could overflow.

    The rank-one term of Chan's update squares that difference.
    """
    shift = difference_exponent(a, b)
    if shift is None:
        return exponent
    need = shift + int(np.ceil(0.5 * np.log2(max(weight, 1.0))))
    return need if need > exponent + SAFE else exponent


def _check_count(n, name: str) -> int:
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{name} must be an integer, got {type(n).__name__}.")
    if n < 2:
        raise InputError(
            "{argument} must be at least 2 (the covariance has ddof=1), got {n}.",
            argument=name,
            n=int(n),
        )
    return int(n)


def _block_moments(Xb) -> FeatureMoments:
    """One dask block's moments, on its worker (``reduce_blocks`` has set the
    BLAS to one thread around the whole computation)."""
    return rows_moments(Xb, "X")


def _merge(a: FeatureMoments, b: FeatureMoments) -> FeatureMoments:
    return a.merge(b)
