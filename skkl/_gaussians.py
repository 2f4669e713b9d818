"""``Gaussians``: a validated batch of K Gaussians in d dimensions.

Validation runs at memory speed: the covariances are read once, a block of
matrices at a time, and while a block is in cache it is checked for finite
entries, positive variances and symmetry, and factored (the Cholesky
factorisation that every divergence needs anyway is also the
positive-definiteness test). Input that is already float64 and C-contiguous
is not copied.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from ._blas import map_blocks
from ._errors import InputError, Setting
from ._linalg import (
    cholesky_or_nan,
    diagonal_factor,
    logdet_from_cholesky,
    logdet_from_variances,
    psd_factor,
)
from ._moments import covariances_from_moments, group_moments
from ._validation import as_float_array, check_count, check_finite, check_real

__all__ = ["COVARIANCE_TYPES", "Gaussians", "n_features_from_packed", "packed_size"]

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")

# Relative asymmetry tolerated in a covariance, against sqrt(S_ii * S_jj):
# far above the rounding of a covariance computed in float64 (about d eps),
# far below any asymmetry that is a mistake.
_SYMMETRY_RTOL = 1e-8
# Covariances are validated and factored this many bytes of (d, d) matrices
# at a time: a block stays in the per-core (L2) cache through all its passes,
# and is large enough that the Python work per block is small beside it.
_BLOCK_BYTES = 2**20
# Blocks of at most this many entries are tested for finite values entry by
# entry: for them the fixed cost of a floating-point-error context exceeds
# the extra pass.
_SMALL_BLOCK = 4096
# The ridge suggested for degenerate data.
_RIDGE = Setting("reg_covar", 1e-6)
# Smallest positive normal float64: a variance below it has lost its digits.
_TINY = np.finfo(np.float64).tiny


def check_covariance_type(covariance_type: str) -> str:
    if covariance_type not in COVARIANCE_TYPES:
        raise InputError(
            "{argument} must be one of {types}, got {value!r}.",
            argument="covariance_type",
            types=COVARIANCE_TYPES,
            value=covariance_type,
        )
    return covariance_type


def _as_finite_float(x, name: str, *, copy: bool = False) -> np.ndarray:
    """float64 C-contiguous array of ``x``, non-empty and all finite.

    Not a copy when ``x`` already is such an array (and ``copy`` is False):
    callers never write to it.
    """
    arr = as_float_array(x, name, copy=copy)
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); pass at least one.")
    return check_finite(arr, name)


def validate_means(means, name: str = "means", min_ndim: int = 1) -> np.ndarray:
    """Means as a finite float64 array of shape (..., d) (not copied if already so)."""
    m = _as_finite_float(means, name)
    if m.ndim < min_ndim:
        raise ValueError(
            f"{name} must have at least {min_ndim} dimension(s) (..., n_features), "
            f"got shape {m.shape}."
        )
    return m


def _blocks(n: int, item_bytes: int):
    step = max(1, _BLOCK_BYTES // max(1, item_bytes))
    return [(lo, min(lo + step, n)) for lo in range(0, n, step)]


def _where(mask: np.ndarray, offset: int, batch_shape) -> tuple:
    """First True index of a (block, ...) mask, as an index of the input."""
    first = np.argwhere(mask)[0]
    head = np.unravel_index(int(first[0]) + offset, batch_shape or (1,))
    return tuple(int(i) for i in (*(head if batch_shape else ()), *first[1:]))


def _check_diagonal(diag, name: str, allow_singular: bool, offset=0, batch_shape=()):
    if (diag >= 0).all() if allow_singular else (diag > 0).all():
        return
    bad = diag < 0 if allow_singular else diag <= 0
    _raise_nonpositive(_where(bad, offset, batch_shape), name, "diagonal entry")


def _symmetrised(blk: np.ndarray, name: str, offset: int, batch_shape):
    """``blk`` with exact symmetry, or None if it already is exactly symmetric.

    Raises if an asymmetry exceeds ``_SYMMETRY_RTOL`` of ``sqrt(S_ii S_jj)``
    (square roots first: the product overflows beyond ~1e154).
    """
    T = np.swapaxes(blk, -1, -2)
    if (blk == T).all():
        return None
    sd = np.sqrt(np.diagonal(blk, axis1=-2, axis2=-1))
    asym = np.abs(blk - T) > _SYMMETRY_RTOL * (sd[:, :, None] * sd[:, None, :])
    if np.any(asym):
        raise ValueError(
            f"{name} is not symmetric (first at index "
            f"{_where(asym, offset, batch_shape)}); pass (S + S.T) / 2 "
            "if the asymmetry is rounding noise."
        )
    # Halves first: S + S' overflows for entries beyond ~9e307.
    return 0.5 * blk + 0.5 * T


def _raise_not_pd(k: int, name: str, batch_shape):
    idx = np.unravel_index(k, batch_shape) if batch_shape else ()
    where = f"[{', '.join(str(int(i)) for i in idx)}]" if idx else ""
    raise InputError(
        "{argument}" + where + " is not positive definite (its Cholesky "
        "factorisation failed); add a small ridge to the diagonal (e.g. {fix}).",
        argument=name,
        fix=_RIDGE,
    )


def _owned(arr: np.ndarray, source) -> bool:
    """Whether ``arr`` is new memory (a conversion), not the caller's ``source``."""
    if isinstance(source, np.ndarray):
        return not np.may_share_memory(arr, source)
    return arr.base is None


def _factor_block(blk: np.ndarray, name: str, offset: int, batch_shape):
    """Check and factor one block of matrices: ``(symmetrised or None, L, logdet)``.

    The common case costs three passes: exact symmetry, the Cholesky
    factorisation and its diagonal. A successful factorisation of an exactly
    symmetric block proves the rest: every lower-triangle entry is read by
    the factorisation, and a NaN or infinity there leaves a NaN or infinity
    on the factor's diagonal (or makes it fail), so a finite log-determinant
    means finite entries and positive definiteness. Anything else takes the
    checks one by one, in the order of their messages: finite entries,
    positive variances, symmetry within tolerance, positive definiteness.
    """
    if (blk == np.swapaxes(blk, -1, -2)).all():
        L = cholesky_or_nan(blk)
        ld = logdet_from_cholesky(L)
        if math.isfinite(ld.sum()):
            return None, L, ld
    if blk.size > _SMALL_BLOCK:
        with np.errstate(over="ignore", invalid="ignore"):
            finite = np.isfinite(np.add.reduce(blk, axis=None))
    else:
        finite = np.isfinite(blk).all()
    if not finite and not np.isfinite(blk).all():
        raise ValueError(
            f"{name} contains NaN or infinity (first at index "
            f"{_where(~np.isfinite(blk), offset, batch_shape)}); remove or "
            "impute non-finite values."
        )
    _check_diagonal(blk.diagonal(0, -2, -1), name, False, offset, batch_shape)
    sym = _symmetrised(blk, name, offset, batch_shape)
    L = cholesky_or_nan(blk if sym is None else sym)
    ld = logdet_from_cholesky(L)
    if not np.isfinite(ld).all():
        _raise_not_pd(offset + int(np.argmin(np.isfinite(ld))), name, batch_shape)
    return sym, L, ld


def _factor_full(S: np.ndarray, name: str, owned: bool):
    """Validate and factor a float64 (..., d, d) stack in one blocked pass.

    Each block is checked and factored while it is in cache
    (:func:`_factor_block`); blocks run on the shared threads when the work
    is large. Returns the (exactly symmetric) covariances, their Cholesky
    factors and log-determinants: ``S`` itself when it is already exactly
    symmetric, else a symmetrised copy (written in place when ``owned``).
    """
    batch_shape, d = S.shape[:-2], S.shape[-1]
    flat = S.reshape(-1, d, d)
    n = flat.shape[0]
    if flat.nbytes <= _BLOCK_BYTES:  # one block: no buffers to assemble
        sym, L, logdet = _factor_block(flat, name, 0, batch_shape)
        cov = S if sym is None else sym.reshape(S.shape)
        return cov, L.reshape(S.shape), logdet.reshape(batch_shape)
    blocks = _blocks(n, 8 * d * d)
    L, logdet = np.empty_like(flat), np.empty(n)

    def block(lo, hi):
        sym, L[lo:hi], logdet[lo:hi] = _factor_block(flat[lo:hi], name, lo, batch_shape)
        return sym

    flops = n * d**3 / 3.0
    syms = map_blocks(block, blocks, flops)
    out = None
    for (lo, hi), sym in zip(blocks, syms, strict=True):
        if sym is not None:
            if out is None:
                out = flat if owned else flat.copy()
            out[lo:hi] = sym
    cov = S if out is None else out.reshape(S.shape)
    return cov, L.reshape(S.shape), logdet.reshape(batch_shape)


def validate_covariances(
    covariances,
    covariance_type: str,
    d: int,
    name: str,
    *,
    allow_singular: bool = False,
    owned: bool | None = None,
):
    """Validate covariances of one type and factor them.

    With ``allow_singular``, positive semi-definite covariances are accepted
    (see :func:`skkl._linalg.psd_factor`); their log-determinant is -inf.
    ``owned`` says that ``covariances`` is a float64 array of the caller's
    own making that may be symmetrised in place (None: decided here).

    Returns
    -------
    cov : ndarray
        Exactly symmetric float64 covariances, same shape as the input: the
        input itself when it already is a float64 C-contiguous exactly
        symmetric array (never written to), else a new array.
    factor : ndarray
        'full'/'tied': lower Cholesky factors (..., d, d); 'diag': standard
        deviations (..., d); 'spherical': standard deviations (...,).
    logdet : ndarray
        Log-determinant of each covariance (batch shape).
    """
    S = as_float_array(covariances, name, copy=False)
    if S.size == 0:
        raise ValueError(f"{name} is empty (shape {S.shape}); pass at least one.")
    if covariance_type in ("full", "tied"):
        if S.ndim < 2 or S.shape[-2:] != (d, d):
            raise ValueError(
                f"{name} must have shape (..., {d}, {d}) for covariance_type="
                f"{covariance_type!r} and {d} features, got {S.shape}."
            )
        if not allow_singular:
            if owned is None:
                owned = _owned(S, covariances)
            return _factor_full(S, name, owned)
        return _factor_singular(check_finite(S, name), name)
    check_finite(S, name)
    if covariance_type == "diag":
        if S.ndim < 1 or S.shape[-1] != d:
            raise ValueError(
                f"{name} must have shape (..., {d}) (variances) for "
                f"covariance_type='diag', got {S.shape}."
            )
    if np.any(S < 0) or (not allow_singular and np.any(S == 0)):
        _raise_nonpositive(tuple(np.argwhere(S <= 0)[0].tolist()), name, "variance")
    std = np.sqrt(S)
    with np.errstate(divide="ignore"):
        logdet = logdet_from_variances(S, None if covariance_type == "diag" else d)
    return S, std, logdet


def _factor_singular(S: np.ndarray, name: str):
    """``validate_covariances`` with ``allow_singular``: PSD factors, -inf logdet."""
    batch_shape, d = S.shape[:-2], S.shape[-1]
    flat = S.reshape(-1, d, d)
    _check_diagonal(np.diagonal(flat, axis1=-2, axis2=-1), name, True, 0, batch_shape)
    sym = _symmetrised(flat, name, 0, batch_shape)
    if sym is not None:
        S = sym.reshape(S.shape)
    L, singular = psd_factor(S, name=name)
    with np.errstate(divide="ignore"):
        logdet = np.where(singular, -np.inf, logdet_from_cholesky(L))
    return S, L, logdet


def _raise_nonpositive(where: tuple, name: str, what: str):
    raise InputError(
        "{argument} has a non-positive {what} at index {where}; variances must "
        "be > 0 (add a small ridge such as {fix} for degenerate data).",
        argument=name,
        what=what,
        where=where,
        fix=_RIDGE,
    )


def _raise_overflow(cov: np.ndarray, name: str):
    row = int(np.argwhere(~np.isfinite(cov))[0][0])
    raise ValueError(
        f"{name}[{row}] describes a covariance beyond float64 (its entries "
        "overflow to inf: factor entries above ~1e154); rescale the data "
        "(e.g. StandardScaler) before fitting the Gaussians."
    )


def _check_no_underflow(var: np.ndarray, name: str):
    """ValueError if a variance (K, d) fell below float64's normal range."""
    if np.all(var >= _TINY):
        return
    row = int(np.argwhere(~(var >= _TINY))[0][0])
    raise ValueError(
        f"{name}[{row}] describes a covariance below float64's range (a "
        "variance underflows: factor entries below ~1e-154 square to less "
        "than 2.2e-308); rescale the data (e.g. StandardScaler) before "
        "fitting the Gaussians."
    )


def packed_size(n_features: int, covariance_type: str) -> int:
    """Length of one packed row for ``n_features`` and ``covariance_type``.

    Parameters
    ----------
    n_features : int
        Dimension d of the Gaussians.
    covariance_type : {'full', 'diag', 'spherical', 'tied'}
        'full' and 'tied' rows hold the lower triangle of the Cholesky factor.

    Returns
    -------
    n_columns : int
        ``d + d (d + 1) / 2`` ('full', 'tied'), ``2 d`` ('diag') or ``d + 1``
        ('spherical').

    Examples
    --------
    >>> from skkl import packed_size
    >>> packed_size(3, "full"), packed_size(3, "diag"), packed_size(3, "spherical")
    (9, 6, 4)
    """
    d = check_count(n_features, "n_features")
    cov_type = check_covariance_type(covariance_type)
    if cov_type in ("full", "tied"):
        return d + d * (d + 1) // 2
    return 2 * d if cov_type == "diag" else d + 1


def n_features_from_packed(n_columns: int, covariance_type: str) -> int:
    """Infer d from the length of a packed row, or raise a clear ``ValueError``.

    Parameters
    ----------
    n_columns : int
        Length of one row made by :meth:`Gaussians.pack`.
    covariance_type : {'full', 'diag', 'spherical', 'tied'}
        Layout of the row.

    Returns
    -------
    n_features : int
        The dimension d with ``packed_size(d, covariance_type) == n_columns``.

    Examples
    --------
    >>> from skkl import n_features_from_packed
    >>> n_features_from_packed(9, "full")
    3
    """
    n = check_count(n_columns, "n_columns")
    cov_type = check_covariance_type(covariance_type)
    if cov_type in ("full", "tied"):
        d = int(round((-3 + np.sqrt(9 + 8 * n)) / 2))
    elif cov_type == "diag":
        d = n // 2
    else:
        d = n - 1
    if d < 1 or packed_size(d, cov_type) != n:
        _raise_packed_length(n, cov_type, None)
    return d


def _raise_packed_length(n: int, cov_type: str, name: str | None):
    """The error for a packed row of impossible length (of argument ``name``)."""
    valid = ", ".join(str(packed_size(k, cov_type)) for k in range(1, 6))
    whose = "" if name is None else "{argument}: "
    raise InputError(
        whose + "a packed row of length {n} is impossible for {ctype} (valid "
        "lengths: {valid}, ...); pack rows with Gaussians.pack() and use the "
        "same {same}.",
        argument=name,
        n=n,
        ctype=Setting("covariance_type", cov_type),
        valid=valid,
        same=Setting("covariance_type"),
    )


def packed_dimension(n_columns: int, covariance_type: str, name: str) -> int:
    """:func:`n_features_from_packed` for the rows of argument ``name``."""
    try:
        return n_features_from_packed(n_columns, covariance_type)
    except InputError:
        _raise_packed_length(n_columns, covariance_type, name)


class Gaussians:
    """A validated batch of K Gaussians in d dimensions.

    Shapes follow :class:`sklearn.mixture.GaussianMixture`: ``means`` is
    (K, d) and ``covariances`` is (K, d, d) for 'full', (K, d) variances for
    'diag', (K,) variances for 'spherical' and one (d, d) matrix shared by all
    K for 'tied'. A single Gaussian is K=1 (a 1-D mean is accepted). Inputs
    are never modified; other dtypes are converted to float64. Cholesky
    factors and log-determinants are computed once, at construction, in the
    same pass over the covariances as their validation.

    Input that is already float64 and C-contiguous (and, for covariances,
    exactly symmetric) is not copied: the attributes are read-only views of
    it, as scikit-learn estimators keep references to their training data.
    Do not modify such arrays afterwards (pass a copy if you must).

    Parameters
    ----------
    means : array-like of shape (K, d) or (d,)
        Means.
    covariances : array-like
        Covariances in the layout of ``covariance_type`` (see above).
    covariance_type : {'full', 'diag', 'spherical', 'tied'}, default='full'
        How covariances are parametrised.
    allow_singular : bool, default=False
        Accept positive semi-definite (singular) covariances, e.g. sample
        covariances with fewer samples than features as in FID. Only
        ``kind='wasserstein'`` is defined for them; the other divergences
        raise a clear error. Their ``logdet`` is -inf and ``cholesky`` holds
        a lower-triangular factor with zeros on the diagonal.

    Attributes
    ----------
    means : ndarray of shape (K, d)
    covariances : ndarray
        The covariances as float64, exactly symmetric (read-only).
    covariance_type : str
    cholesky : ndarray
        Lower Cholesky factors (K, d, d) for 'full', the shared (d, d) factor
        for 'tied', standard deviations (K, d) for 'diag' and (K,) for
        'spherical'.
    logdet : ndarray of shape (K,)
        Log-determinant of each covariance.
    singular : ndarray of bool, shape (K,)
        Which covariances are singular within rounding (only with
        ``allow_singular=True``).

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import Gaussians
    >>> G = Gaussians(np.zeros((2, 3)), np.stack([np.eye(3), 2 * np.eye(3)]))
    >>> len(G), G.n_features, G.covariance_type
    (2, 3, 'full')
    >>> G.logdet.round(4)
    array([0.    , 2.0794])
    >>> G[1].pack().round(4)
    array([[0.    , 0.    , 0.    , 1.4142, 0.    , 1.4142, 0.    , 0.    ,
            1.4142]])
    """

    __slots__ = ("covariance_type", "means", "covariances", "cholesky", "logdet")

    def __init__(
        self,
        means,
        covariances,
        covariance_type: str = "full",
        *,
        allow_singular: bool = False,
    ):
        if not isinstance(allow_singular, (bool, np.bool_)):
            raise TypeError(
                f"allow_singular must be True or False, got {allow_singular!r}."
            )
        cov_type = check_covariance_type(covariance_type)
        m = validate_means(means, "means")
        if m.ndim == 1:
            m = m[None, :]
        if m.ndim != 2:
            raise ValueError(f"means must have shape (K, d) or (d,), got {m.shape}.")
        K, d = m.shape
        S = as_float_array(covariances, "covariances", copy=False)
        owned = _owned(S, covariances)
        # A single Gaussian may drop the leading K=1 axis, as in kl_mvn.
        single_ndim = {"full": 2, "diag": 1, "spherical": 0, "tied": 2}[cov_type]
        if K == 1 and cov_type != "tied" and S.ndim == single_ndim:
            S = S[None, ...]
        expected = {
            "full": (K, d, d),
            "diag": (K, d),
            "spherical": (K,),
            "tied": (d, d),
        }[cov_type]
        if S.shape != expected:
            raise ValueError(
                f"covariances must have shape {expected} for covariance_type="
                f"{cov_type!r} with means of shape {m.shape}, got {S.shape}."
            )
        S, factor, logdet = validate_covariances(
            S,
            cov_type,
            d,
            "covariances",
            allow_singular=bool(allow_singular),
            owned=owned,
        )
        self._set(m, S, cov_type, factor, logdet)

    def _set(self, m, S, cov_type, factor, logdet):
        # Read-only views: the caller's own arrays keep their flags.
        m, S, factor = (arr.view() for arr in (m, S, factor))
        for arr in (m, S, factor):
            arr.setflags(write=False)
        logdet = np.broadcast_to(logdet, (m.shape[0],)).copy()
        logdet.setflags(write=False)
        object.__setattr__(self, "means", m)
        object.__setattr__(self, "covariances", S)
        object.__setattr__(self, "covariance_type", cov_type)
        object.__setattr__(self, "cholesky", factor)
        object.__setattr__(self, "logdet", logdet)

    def __setattr__(self, name, value):
        raise AttributeError("Gaussians is immutable; build a new one instead.")

    def __getstate__(self):
        return {name: getattr(self, name) for name in self.__slots__}

    def __setstate__(self, state):
        self._set(
            state["means"].copy(),
            state["covariances"].copy(),
            state["covariance_type"],
            state["cholesky"].copy(),
            state["logdet"],
        )

    # -- container protocol -------------------------------------------------
    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def singular(self) -> np.ndarray:
        """Which covariances are singular (-inf log-determinant), shape (K,)."""
        out = np.isneginf(self.logdet)
        out.setflags(write=False)
        return out

    @property
    def n_features(self) -> int:
        """Dimension d of every Gaussian."""
        return self.means.shape[1]

    def __getitem__(self, key) -> Gaussians:
        if isinstance(key, numbers.Integral):
            k = int(key)
            if not -len(self) <= k < len(self):
                raise IndexError(f"index {k} out of range for {len(self)} Gaussians")
            key = slice(k, k + 1 if k != -1 else None)
        means = self.means[key]
        if means.ndim != 2 or means.shape[0] == 0:
            raise IndexError(
                f"indexing Gaussians with {key!r} must select at least one Gaussian"
            )
        if self.covariance_type == "tied":
            cov, factor = self.covariances, self.cholesky
        else:
            cov, factor = self.covariances[key], self.cholesky[key]
        return gaussians_from_parts(
            np.ascontiguousarray(means),
            np.ascontiguousarray(cov),
            self.covariance_type,
            np.ascontiguousarray(factor),
            self.logdet[key],
        )

    def __repr__(self) -> str:
        return (
            f"Gaussians(n={len(self)}, n_features={self.n_features}, "
            f"covariance_type={self.covariance_type!r})"
        )

    # -- conversions --------------------------------------------------------
    def full_cholesky(self) -> np.ndarray:
        """Lower Cholesky factors as (K, d, d) for every covariance type.

        Returns
        -------
        L : ndarray of shape (K, d, d)
            Read-only for 'full' and 'tied' (a view of the cached factors).
        """
        K, d = self.means.shape
        cov_type = self.covariance_type
        if cov_type == "full":
            return self.cholesky
        if cov_type == "tied":
            return np.broadcast_to(self.cholesky, (K, d, d))
        return diagonal_factor(self.std())

    def std(self) -> np.ndarray:
        """Per-feature standard deviations (K, d) for 'diag' and 'spherical'.

        Returns
        -------
        std : ndarray of shape (K, d)
        """
        if self.covariance_type == "diag":
            return self.cholesky
        if self.covariance_type == "spherical":
            return np.broadcast_to(self.cholesky[:, None], self.means.shape)
        raise ValueError(
            f"std() is only defined for 'diag' and 'spherical' covariances, "
            f"not {self.covariance_type!r}; use full_cholesky()."
        )

    def to_full(self) -> Gaussians:
        """The same Gaussians with covariance_type='full'.

        Returns
        -------
        G : Gaussians
            Same means, (K, d, d) covariances, same log-determinants.

        Examples
        --------
        >>> import numpy as np
        >>> from skkl import Gaussians
        >>> Gaussians(np.zeros((1, 2)), [[1.0, 4.0]], "diag").to_full().covariances
        array([[[1., 0.],
                [0., 4.]]])
        """
        L = np.ascontiguousarray(self.full_cholesky())
        cov = L @ np.swapaxes(L, -1, -2)
        return gaussians_from_parts(self.means, cov, "full", L, self.logdet)

    def pack(self) -> np.ndarray:
        """One flat row per Gaussian: the mean, then its Cholesky factor.

        The factor is the lower triangle in row-major order for 'full' and
        'tied' (tied Gaussians pack as 'full' rows), the standard deviations
        for 'diag' and the single standard deviation for 'spherical'.

        Returns
        -------
        X : ndarray of shape (K, packed_size(d, covariance_type))
        """
        d = self.n_features
        if self.covariance_type in ("full", "tied"):
            rows, cols = np.tril_indices(d)
            factor = self.full_cholesky()[:, rows, cols]
        elif self.covariance_type == "diag":
            factor = self.cholesky
        else:
            factor = self.cholesky[:, None]
        return np.hstack([self.means, factor])

    @classmethod
    def from_packed(cls, X, covariance_type: str = "full") -> Gaussians:
        """Rebuild Gaussians from rows made by :meth:`pack`.

        Parameters
        ----------
        X : array-like of shape (K, n_columns) or (n_columns,)
        covariance_type : {'full', 'diag', 'spherical'}, default='full'

        Returns
        -------
        G : Gaussians
            K Gaussians of the given covariance type.

        Examples
        --------
        >>> import numpy as np
        >>> from skkl import Gaussians
        >>> G = Gaussians([[0.0, 1.0]], [[[2.0, 0.5], [0.5, 1.0]]])
        >>> np.allclose(Gaussians.from_packed(G.pack()).covariances, G.covariances)
        True
        """
        return gaussians_from_packed(X, covariance_type, "X")

    @classmethod
    def from_samples(
        cls,
        X,
        covariance_type: str = "full",
        *,
        reg_covar: float = 0.0,
        sample_weight=None,
        allow_singular: bool = False,
    ) -> Gaussians:
        """Fit one Gaussian (K=1) to samples by maximum likelihood.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        covariance_type : {'full', 'diag', 'spherical', 'tied'}, default='full'
        reg_covar : float, default=0.0
            Non-negative ridge added to the diagonal of the covariance.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; the estimate is the weighted MLE.
        allow_singular : bool, default=False
            Accept a singular covariance (e.g. fewer samples than features);
            see :class:`Gaussians`.

        Returns
        -------
        G : Gaussians
            One Gaussian (K=1) of the given covariance type.

        Examples
        --------
        >>> import numpy as np
        >>> from skkl import Gaussians
        >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [2.0, 2.0]])
        >>> G = Gaussians.from_samples(X)
        >>> G.means, G.covariances
        (array([[1., 1.]]), array([[[1., 0.],
                [0., 1.]]]))
        """
        cov_type = check_covariance_type(covariance_type)
        X = validate_means(X, "X", min_ndim=2)
        if X.ndim != 2:
            raise ValueError(f"X must be 2-D (n_samples, n_features), got {X.shape}.")
        n, d = X.shape
        reg_covar = check_real(reg_covar, "reg_covar")
        if sample_weight is None:
            w = np.ones(n)
        else:
            w = as_float_array(sample_weight, "sample_weight", copy=False)
        if w.shape != (n,) or np.any(w < 0) or not np.all(np.isfinite(w)):
            raise ValueError(
                f"sample_weight must be {n} finite non-negative numbers, "
                f"got shape {w.shape}."
            )
        total = w.sum()
        if total <= 0:
            raise ValueError("sample_weight sums to zero; give some sample weight.")
        # The maximum-likelihood fitter of GroupGaussians, for one group.
        full = cov_type in ("full", "tied")
        mom = group_moments(
            X, sample_weight=None if sample_weight is None else w, full=full
        )
        cov = covariances_from_moments(mom, cov_type)[0]
        if cov.ndim == 3:
            cov[:, np.arange(d), np.arange(d)] += reg_covar
            cov = cov[0] if cov_type == "tied" else cov
        else:
            cov = cov + reg_covar
        return cls(mom.mean, cov, cov_type, allow_singular=allow_singular)


# Package-internal constructors (not in ``__all__``): other skkl modules build
# Gaussians from parts they have already validated and factored.


def gaussians_from_parts(means, covariances, cov_type, factor, logdet) -> Gaussians:
    """Build from already validated and factored parts (no copy, no checks)."""
    obj = Gaussians.__new__(Gaussians)
    obj._set(means, covariances, cov_type, factor, logdet)
    return obj


def gaussians_from_packed(X, covariance_type: str, name: str) -> Gaussians:
    """:meth:`Gaussians.from_packed`, naming the argument ``name`` in errors."""
    cov_type = check_covariance_type(covariance_type)
    if cov_type == "tied":
        raise InputError(
            "packed rows carry one factor each; use {fix} for rows packed from "
            "tied Gaussians.",
            argument="covariance_type",
            fix=Setting("covariance_type", "full"),
        )
    X = _as_finite_float(X, name)
    if X.ndim == 1:
        X = X[None, :]
    if X.ndim != 2:
        raise ValueError(f"{name} must have shape (K, n_columns), got {X.shape}.")
    d = packed_dimension(X.shape[1], cov_type, name)
    means = np.array(X[:, :d], order="C")  # a copy, even of a single row
    factor = X[:, d:]
    if cov_type == "full":
        rows, cols = np.tril_indices(d)
        L = np.zeros((X.shape[0], d, d))
        L[:, rows, cols] = factor
        diag = np.diagonal(L, axis1=-2, axis2=-1)
        if np.any(diag <= 0):
            where = tuple(np.argwhere(diag <= 0)[0].tolist())
            _raise_nonpositive(where, f"{name} (Cholesky diagonal)", "entry")
        with np.errstate(over="ignore", invalid="ignore", under="ignore"):
            cov = L @ np.swapaxes(L, -1, -2)
        if not np.all(np.isfinite(cov)):
            _raise_overflow(cov, name)
        _check_no_underflow(np.diagonal(cov, axis1=-2, axis2=-1), name)
        return gaussians_from_parts(means, cov, cov_type, L, logdet_from_cholesky(L))
    std = np.array(factor if cov_type == "diag" else factor[:, 0], order="C")
    if np.any(std <= 0):
        where = tuple(np.argwhere(std <= 0)[0].tolist())
        _raise_nonpositive(where, f"{name} (standard deviation)", "entry")
    with np.errstate(over="ignore", under="ignore"):
        var = std**2
    if not np.all(np.isfinite(var)):
        _raise_overflow(var, name)
    _check_no_underflow(var, name)
    logdet = logdet_from_variances(var, None if cov_type == "diag" else d)
    return gaussians_from_parts(means, var, cov_type, std, logdet)
