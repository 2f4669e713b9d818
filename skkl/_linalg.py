"""The Cholesky core: batched factorisation, log-determinants, triangular solves.

Everything here works on stacks of matrices with arbitrary leading batch axes
and never inverts a general matrix or forms a determinant: log-determinants
come from the factor's diagonal, products with an inverse are triangular
solves, and ``inv_lower`` (inverse Cholesky factors, for precision matrices
``W' W``) is a batched triangular solve against the identity.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg.blas import dtrsm

from ._errors import InputError, Setting

try:  # numpy's stacked Cholesky gufunc, which marks failures with NaN
    from numpy.linalg._umath_linalg import cholesky_lo as _cholesky_gufunc
except ImportError:  # pragma: no cover - a numpy without the private gufunc
    _cholesky_gufunc = None

__all__ = [
    "cholesky",
    "cholesky_or_nan",
    "diagonal_factor",
    "logdet_from_cholesky",
    "logdet_from_variances",
    "psd_factor",
    "solve_lower",
    "inv_lower",
    "expm1_minus_x",
]

# OpenBLAS runs a triangular solve (trsm) on its threads from this many
# right-hand-side entries on (measured with 0.3.30 and 0.3.31): a hand-off
# that, with the threads asleep on a busy machine, costs milliseconds even
# for a 32 x 32 solve. Solves of less work than _TRSM_WORTH_THREADS flops are
# split into narrower ones that stay on the calling thread.
_TRSM_THREADED = 1024
_TRSM_WORTH_THREADS = 2**24
# The default advice when a matrix is not positive definite.
_RIDGE_HINT = "add a small ridge to the diagonal (e.g. {fix})"
# Above this dimension a per-matrix LAPACK call beats vectorised substitution.
_LAPACK_MIN_DIM = 48
# Largest diagonal block that inv_lower inverts by scalar substitution: the
# substitution's Python loop has b (b + 1) / 2 steps, so the blocks stay
# small and the batched products of the levels above do the rest.
_INV_BASE = 4
_EPS = np.finfo(np.float64).eps


def _batch_index(flat_index: int, batch_shape: tuple[int, ...]) -> str:
    """Format a flat batch index as it would be written to index the input."""
    if len(batch_shape) == 0:
        return ""
    idx = np.unravel_index(flat_index, batch_shape)
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def cholesky_or_nan(matrices: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Lower Cholesky factors of a float64 stack; NaN matrices where it fails.

    Never raises for a matrix that is not positive definite: the caller
    finds the failures (``np.isnan`` of any diagonal entry) and reports them
    in its own words. Only the lower triangle is read. numpy's stacked
    gufunc fills a failed matrix with NaN and flags 'invalid', which its
    public wrapper turns into one ``LinAlgError`` for the whole stack.
    ``out``, a float64 array of the stack's shape, receives the factors:
    kernels that factor many small stacks reuse one buffer instead of
    touching fresh pages for every stack, which threads pay for together.
    """
    if _cholesky_gufunc is not None:
        with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
            return _cholesky_gufunc(matrices, signature="d->d", out=out)
    try:  # pragma: no cover - fallback for a numpy without the gufunc
        factors = np.linalg.cholesky(matrices)
    except np.linalg.LinAlgError:  # pragma: no cover
        flat = matrices.reshape(-1, *matrices.shape[-2:])
        factors = np.full(flat.shape, np.nan)
        for k, mat in enumerate(flat):
            try:
                factors[k] = np.linalg.cholesky(mat)
            except np.linalg.LinAlgError:
                pass
        factors = factors.reshape(matrices.shape)
    if out is None:  # pragma: no cover
        return factors
    out[...] = factors  # pragma: no cover
    return out  # pragma: no cover


def failed_factors(L: np.ndarray) -> np.ndarray:
    """Where a factor from :func:`cholesky_or_nan` is not a finite success.

    Shape ``L.shape[:-2]``. A failure is NaN throughout; a non-finite input
    entry in the lower triangle leaves a NaN or infinity on the diagonal
    (every later pivot reads it), so the diagonal decides both.
    """
    diag = np.diagonal(L, axis1=-2, axis2=-1)
    return ~np.isfinite(diag).all(axis=-1)


def _try_cholesky(matrices: np.ndarray) -> np.ndarray | None:
    """numpy's Cholesky factors, or None if one fails or is not finite."""
    L = cholesky_or_nan(matrices)
    return None if failed_factors(L).any() else L


def cholesky(
    matrices: np.ndarray,
    *,
    name: str = "covariances",
    hint: str | None = None,
) -> np.ndarray:
    """Lower Cholesky factors of a stack of symmetric positive-definite matrices.

    Parameters
    ----------
    matrices : ndarray of shape (..., d, d)
        Symmetric matrices; only the lower triangle is read.
    name : str, default="covariances"
        Name of the argument, used in the error message.
    hint : str, default=None
        What the user can do when a matrix is not positive definite; None
        suggests a ridge (``reg_covar``, rendered as a parameter).

    Returns
    -------
    L : ndarray of shape (..., d, d)
        Lower-triangular factors with positive diagonal, ``L @ L.T == matrices``.

    Raises
    ------
    ValueError
        If a matrix is not positive definite; the message names the index of
        the first such matrix.
    """
    matrices = np.asarray(matrices, dtype=np.float64)
    L = cholesky_or_nan(matrices)
    failed = failed_factors(L)
    if not failed.any():
        return L
    i = int(np.flatnonzero(failed.reshape(-1))[0])
    # A caller's hint is plain text: its braces are not template fields.
    text = _RIDGE_HINT if hint is None else hint.replace("{", "{{").replace("}", "}}")
    raise InputError(
        "{argument}" + _batch_index(i, matrices.shape[:-2]) + " is not positive "
        "definite (its Cholesky factorisation failed); " + text + ".",
        argument=name,
        fix=Setting("reg_covar", 1e-6),
    )


def logdet_from_cholesky(L: np.ndarray) -> np.ndarray:
    """Log-determinant of ``L @ L.T`` from its Cholesky factor, shape ``L.shape[:-2]``.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._linalg import cholesky, logdet_from_cholesky
    >>> S = np.array([[4.0, 2.0], [2.0, 3.0]])
    >>> float(logdet_from_cholesky(cholesky(S)))  # log(8)
    2.0794...
    """
    return 2.0 * np.log(L.diagonal(0, -2, -1)).sum(axis=-1)


def logdet_from_variances(variances: np.ndarray, n_features: int | None = None):
    """Log-determinant of diagonal covariances from their variances.

    Parameters
    ----------
    variances : ndarray of shape (..., d), or (...) with ``n_features``
        Per-feature variances ('diag'), or one variance per Gaussian
        ('spherical', then ``n_features`` is d).
    n_features : int, default=None
        Dimension for spherical variances; None means the last axis holds
        the per-feature variances.

    Returns
    -------
    logdet : ndarray of shape ``variances.shape[:-1]`` (or ``variances.shape``)

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._linalg import logdet_from_variances
    >>> float(logdet_from_variances(np.array([1.0, np.e])))
    1.0
    >>> float(logdet_from_variances(np.array(np.e), n_features=3))
    3.0
    """
    log = np.log(variances)
    return log.sum(axis=-1) if n_features is None else n_features * log


def diagonal_factor(std: np.ndarray) -> np.ndarray:
    """Diagonal matrices (..., d, d) with ``std`` (..., d) on the diagonal.

    The Cholesky factor of a diagonal covariance, for code that needs the
    full layout.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._linalg import diagonal_factor
    >>> diagonal_factor(np.array([[1.0, 2.0]]))
    array([[[1., 0.],
            [0., 2.]]])
    """
    std = np.asarray(std, dtype=np.float64)
    d = std.shape[-1]
    out = np.zeros((*std.shape, d))
    idx = np.arange(d)
    out[..., idx, idx] = std
    return out


def psd_factor(
    matrices: np.ndarray, *, name: str = "covariances"
) -> tuple[np.ndarray, np.ndarray]:
    """Lower-triangular ``L`` with ``L @ L.T == S`` for positive semi-definite ``S``.

    Matrices whose Cholesky factorisation succeeds with pivots clear of
    rounding keep that factor; the others (singular within rounding) are
    factored from their eigen-decomposition ``S = V diag(lam) V'``
    (eigenvalues within rounding of 0 set to 0): with ``F = V sqrt(lam)`` and
    ``F' = Q R``, ``L = R'`` (signs flipped so the diagonal is >= 0). This is
    backward stable: ``L L'`` equals ``S`` up to ``~d eps ||S||``.

    Parameters
    ----------
    matrices : ndarray of shape (..., d, d)
        Symmetric positive semi-definite matrices.
    name : str, default="covariances"
        Name of the argument in the error message.

    Returns
    -------
    L : ndarray of shape (..., d, d)
        Lower-triangular factors.
    singular : ndarray of bool, shape (...)
        Where the matrix is singular (rank-deficient within rounding), so that
        ``L`` has zeros (or rounding residues) on its diagonal.

    Raises
    ------
    ValueError
        If a matrix has an eigenvalue below ``-d eps ||S||_2`` (not positive
        semi-definite beyond rounding).

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._linalg import psd_factor
    >>> L, singular = psd_factor(np.array([[1.0, 1.0], [1.0, 1.0]]))
    >>> np.allclose(L @ L.T, 1.0), bool(singular)
    (True, True)
    """
    S = np.asarray(matrices, dtype=np.float64)
    batch, d = S.shape[:-2], S.shape[-1]
    flat = S.reshape(-1, d, d)
    L = np.zeros_like(flat)
    singular = np.zeros(flat.shape[0], dtype=bool)
    for k, mat in enumerate(flat):
        Lk = _try_cholesky(mat)
        # A pivot within rounding of 0 (its square below the ~(d + 1) eps
        # S_kk error of the elimination) means singular within rounding:
        # an exactly singular matrix may pass Cholesky on one BLAS kernel
        # and fail on another; this test classifies it the same on all.
        if Lk is not None:
            pivots = np.square(np.diag(Lk))
            if np.all(pivots > 2.0 * (d + 1) * _EPS * np.diag(mat)):
                L[k] = Lk
                continue
        lam, V = np.linalg.eigh(mat)
        # Eigenvalues of a PSD matrix are computed to ~d eps ||S||_2 absolute.
        tol = 4.0 * (d + 1) * _EPS * max(abs(lam[-1]), 0.0)
        if lam[0] < -tol or not lam[-1] > 0:
            raise ValueError(
                f"{name}{_batch_index(k, batch)} is not positive semi-definite "
                f"(smallest eigenvalue {lam[0]:.3g}); pass a covariance matrix "
                "(e.g. np.cov of your samples)."
            )
        F = V * np.sqrt(np.clip(lam, 0.0, None))
        R = np.linalg.qr(F.T, mode="r")
        sign = np.where(np.diag(R) < 0, -1.0, 1.0)
        L[k] = (sign[:, None] * R).T
        singular[k] = True
    return L.reshape(S.shape), singular.reshape(batch)


def solve_lower(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """Solve ``L X = B`` for lower-triangular ``L``, broadcasting batch axes.

    Parameters
    ----------
    L : ndarray of shape (..., d, d)
        Lower-triangular matrices with non-zero diagonal.
    B : ndarray of shape (..., d, m)
        Right-hand sides.

    Returns
    -------
    X : ndarray of shape (broadcast(...), d, m)

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._linalg import solve_lower
    >>> L = np.array([[2.0, 0.0], [1.0, 1.0]])
    >>> solve_lower(L, np.array([[2.0], [3.0]])).ravel()
    array([1., 2.])
    """
    L = np.asarray(L, dtype=np.float64)
    B = np.asarray(B, dtype=np.float64)
    if L.ndim == 2 and B.ndim == 2:
        return _trtrs(L, B)
    d = L.shape[-1]
    batch = np.broadcast_shapes(L.shape[:-2], B.shape[:-2])
    m = B.shape[-1]
    n_factor = int(np.prod(L.shape[:-2], dtype=np.int64))
    if n_factor == 1:
        # One factor shared by every right-hand side: all columns at once.
        Bb = np.broadcast_to(B, (*batch, d, m))
        rhs = np.moveaxis(Bb, -2, 0).reshape(d, -1)
        X = _trtrs(L.reshape(d, d), rhs)
        return np.moveaxis(X.reshape(d, *batch, m), 0, -2)
    Lb = np.broadcast_to(L, (*batch, d, d)).reshape(-1, d, d)
    Bb = np.broadcast_to(B, (*batch, d, m)).reshape(-1, d, m)
    if d >= _LAPACK_MIN_DIM:
        X = np.empty_like(Bb)
        for i in range(Lb.shape[0]):
            X[i] = _trtrs(Lb[i], Bb[i])
    else:
        # Forward substitution vectorised over the batch: d steps in Python.
        X = np.empty(Bb.shape, dtype=np.float64)
        for k in range(d):
            acc = Bb[:, k, :]
            if k:
                acc = acc - np.matmul(Lb[:, k : k + 1, :k], X[:, :k, :])[:, 0, :]
            X[:, k, :] = acc / Lb[:, k, k : k + 1]
    return X.reshape(*batch, d, m)


def _trtrs(L: np.ndarray, B: np.ndarray) -> np.ndarray:
    """The BLAS triangular solve (trsm) for one (d, d) factor and a (d, m) block.

    Called directly: ``scipy.linalg.solve_triangular`` (batched since scipy
    1.15) spends more on argument handling than a small solve takes, and
    OpenBLAS's LAPACK ``trtrs`` always takes its threaded path, which waits
    for sleeping threads even for a 2 x 2 solve; ``trsm`` stays on the
    calling thread for small operands.
    """
    if L.shape[0] == 0 or B.size == 0:
        return np.zeros(B.shape)
    d, m = B.shape
    if d * m < _TRSM_THREADED or d * d * m >= _TRSM_WORTH_THREADS:
        return dtrsm(1.0, L, B, lower=1)
    # Small but threaded: a few narrower solves stay on this thread.
    step = max(1, (_TRSM_THREADED - 1) // d)
    return np.hstack(
        [dtrsm(1.0, L, B[:, k : k + step], lower=1) for k in range(0, m, step)]
    )


def _diagonal_blocks(X: np.ndarray, size: int, offset: int) -> np.ndarray:
    """View of blocks ``size x size`` of a (n, D, D) stack, one per 2-block step.

    Block ``t`` starts at flat position ``offset + t * 2 * size * (D + 1)``
    of each matrix: with ``offset`` 0, ``size * (D + 1)`` or ``size * D`` these
    are the first diagonal, second diagonal and off-diagonal blocks of the
    ``2 size`` diagonal blocks. Views: writing to them writes to ``X``.
    """
    n, D, _ = X.shape
    count = D // (2 * size)
    item = X.itemsize
    flat = X.reshape(n, D * D)[:, offset:]
    return np.lib.stride_tricks.as_strided(
        flat,
        shape=(n, count, size, size),
        strides=(X.strides[0], 2 * size * (D + 1) * item, D * item, item),
    )


def inv_lower(L: np.ndarray) -> np.ndarray:
    """Inverse of a stack of lower-triangular matrices (``solve_lower(L, I)``).

    Blocked recursion, batched over the stack and over all blocks of a level:
    with ``L = [[A, 0], [C, B]]``, ``L^{-1} = [[A^{-1}, 0], [-B^{-1} C A^{-1},
    B^{-1}]]``. Diagonal blocks of at most 4 rows are inverted by forward
    substitution vectorised over the stack, then each level doubles the block
    size with two batched matrix products. The matrix is padded with an
    identity block to ``b 2^l`` rows. Like the block methods analysed by
    Du Croz and Higham (IMA J. Numer. Anal. 1992), the residuals
    ``L W - I`` and ``W L - I`` are of order ``d eps ||L|| ||W||``, so the
    error of ``W`` grows with the condition number like that of
    ``solve_lower(L, I)`` (tests check both up to condition 1e10).

    Parameters
    ----------
    L : ndarray of shape (..., d, d)
        Lower-triangular matrices with non-zero diagonal (the strict upper
        triangle is ignored).

    Returns
    -------
    W : ndarray of shape (..., d, d)
        Lower-triangular, ``L @ W == I`` up to rounding.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._linalg import inv_lower
    >>> inv_lower(np.array([[2.0, 0.0], [1.0, 1.0]]))
    array([[ 0.5,  0. ],
           [-0.5,  1. ]])
    """
    L = np.asarray(L, dtype=np.float64)
    if L.ndim < 2 or L.shape[-1] != L.shape[-2]:
        raise ValueError(f"L must have shape (..., d, d), got {L.shape}.")
    batch, d = L.shape[:-2], L.shape[-1]
    n = int(np.prod(batch, dtype=np.int64))
    if n == 0 or d == 0:
        return np.zeros(L.shape)
    levels = 0
    while -(-d // 2**levels) > _INV_BASE:
        levels += 1
    base = -(-d // 2**levels)
    D = base * 2**levels
    # Work on -L (padded with -I): then every level is X21 = B^{-1} (-C) A^{-1}
    # without a separate negation pass.
    Ln = np.zeros((n, D, D))
    np.negative(L.reshape(n, d, d), out=Ln[:, :d, :d])
    pad = np.arange(d, D)
    Ln[:, pad, pad] = -1.0
    X = np.zeros((n, D, D))
    # Diagonal base blocks: scalar forward substitution on strided views of
    # one entry of every block, X_kc = -(delta_kc + sum_j Ln_kj X_jc) / Ln_kk.
    step = base * (D + 1)
    flat_l, flat_x = Ln.reshape(n, D * D), X.reshape(n, D * D)

    def entry(flat, k, c):
        return flat[:, k * D + c :: step]

    for c in range(base):
        for k in range(c, base):
            acc = np.ones((n, D // base)) if k == c else None
            for j in range(c, k):
                term = entry(flat_l, k, j) * entry(flat_x, j, c)
                acc = term if acc is None else np.add(acc, term, out=acc)
            np.divide(acc, entry(flat_l, k, k), out=acc)
            np.negative(acc, out=entry(flat_x, k, c))
    size = base
    while size < D:
        A = _diagonal_blocks(X, size, 0)
        B = _diagonal_blocks(X, size, size * (D + 1))
        T = np.matmul(_diagonal_blocks(Ln, size, size * D), A)
        np.matmul(B, T, out=_diagonal_blocks(X, size, size * D))
        size *= 2
    if D != d:
        X = np.ascontiguousarray(X[:, :d, :d])
    return X.reshape(*batch, d, d)


# Taylor coefficients 1/n! of exp(u) - 1 - u, n = 2..11: for |u| < 0.1 the
# remainder is below 1e-18 relative.
_EXPM1_SERIES = tuple(1.0 / math.factorial(n) for n in range(11, 1, -1))
# Below this |u|, exp(u) - 1 - u takes the series (the direct form cancels).
_EXPM1_SERIES_BELOW = 0.1
# Up to this many entries, expm1_minus_x works on Python floats.
_SCALAR_ENTRIES = 8


def _expm1_minus_x_scalar(x: float) -> float:
    if abs(x) < _EXPM1_SERIES_BELOW:
        total = _EXPM1_SERIES[0]
        for c in _EXPM1_SERIES[1:]:
            total = total * x + c
        return total * x * x
    try:
        return math.expm1(x) - x
    except OverflowError:
        return math.inf


def expm1_minus_x(u: np.ndarray) -> np.ndarray:
    """``exp(u) - 1 - u`` without cancellation for small ``|u|``; always >= 0.

    ``u`` is a float64 array; beyond ``u = 709`` the value overflows to inf
    (the caller decides whether that is an error and silences the warning).
    A few entries (a pointwise call in low dimension) are evaluated as Python
    floats, the same series and the same ``expm1``: for them numpy's cost per
    call exceeds the arithmetic.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl._linalg import expm1_minus_x
    >>> float(expm1_minus_x(np.array(1e-8)))  # u**2 / 2
    5.00000001666...e-17
    """
    u = np.asarray(u, dtype=np.float64)
    if u.size <= _SCALAR_ENTRIES:
        return np.array([_expm1_minus_x_scalar(x) for x in u.ravel().tolist()]).reshape(
            u.shape
        )
    direct = np.expm1(u)
    direct -= u
    small = np.abs(u) < _EXPM1_SERIES_BELOW
    if not small.any():
        return direct
    # Horner on every entry (cheaper than selecting the small ones), kept
    # where |u| is small.
    series = np.full_like(u, _EXPM1_SERIES[0])
    for c in _EXPM1_SERIES[1:]:
        series *= u
        series += c
    series *= u * u
    return np.where(small, series, direct)
