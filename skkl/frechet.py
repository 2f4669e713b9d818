"""Fréchet distance between two Gaussians fitted to feature sets (FID).

The Fréchet (squared 2-Wasserstein) distance between N(m1, S1) and
N(m2, S2) is

    ||m1 - m2||^2 + tr S1 + tr S2 - 2 tr (S1^{1/2} S2 S1^{1/2})^{1/2}.

With any factors ``S1 = F1 F1'`` and ``S2 = F2 F2'`` (Cholesky factors,
eigen-factors of singular covariances, or centred samples when n <= d), the
trace term is the nuclear norm of ``C = F2' F1``: the sum of the square roots
of the eigenvalues of the symmetric ``C' C``. No matrix square root, no
eigenvectors. That sum is accurate to about ``eps * tr`` in absolute terms,
so when the two Gaussians are nearly equal the difference of traces cancels
and leaves rounding noise. Each result therefore carries an error estimate;
when it exceeds the requested accuracy the covariance term is recomputed as
the Procrustes residual ``min_Q ||F1 - F2 Q||_F^2`` (Q orthogonal, from the
SVD of C), a sum of squares without cancellation.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from scipy import linalg

from ._blas import get_chunk_n_rows

__all__ = ["frechet_distance", "frechet_distance_from_moments"]

_EPS = np.finfo(np.float64).eps
# Relative accuracy asked of the covariance term before the Procrustes form
# is used instead of the eigenvalue form.
_RTOL = 1e-10
# Relative asymmetry tolerated in a covariance, against sqrt(S_ii * S_jj).
_SYMMETRY_RTOL = 1e-8


# -- validation --------------------------------------------------------------


def _as_real_array(x, name: str) -> np.ndarray:
    """``x`` as a numeric (bool, int or float) array, without copying floats."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array-like: {exc}") from None
    if arr.dtype.kind not in "biuf":
        raise TypeError(
            f"{name} must hold real numbers, got dtype {arr.dtype}; convert it "
            "(e.g. np.asarray(..., dtype=float))."
        )
    return arr


def _check_finite(arr: np.ndarray, name: str, offset: int = 0) -> None:
    finite = np.isfinite(arr)
    if not finite.all():
        where = np.argwhere(~finite)[0]
        where[0] += offset
        raise ValueError(
            f"{name} contains NaN or infinity (first at index "
            f"{tuple(where.tolist())}); remove or impute non-finite values."
        )


def _check_features(X, name: str) -> np.ndarray:
    X = _as_real_array(X, name)
    if X.ndim != 2:
        raise ValueError(
            f"{name} must be 2-D (n_samples, n_features), got shape {X.shape}."
        )
    if X.shape[0] < 2:
        raise ValueError(
            f"{name} has {X.shape[0]} sample(s); the unbiased covariance needs at "
            "least 2."
        )
    if X.shape[1] < 1:
        raise ValueError(f"{name} has no features (shape {X.shape}).")
    return X


def _check_moments(mu, S, name_mu: str, name_S: str, d: int | None):
    mu = _as_real_array(mu, name_mu).astype(np.float64)
    if mu.ndim != 1 or mu.size == 0:
        raise ValueError(f"{name_mu} must be 1-D (n_features,), got shape {mu.shape}.")
    d = mu.size if d is None else d
    if mu.size != d:
        raise ValueError(
            f"{name_mu} has {mu.size} features but the first Gaussian has {d}; "
            "both Gaussians need the same dimension."
        )
    _check_finite(mu, name_mu)
    S = _as_real_array(S, name_S).astype(np.float64)
    if S.shape != (d, d):
        raise ValueError(
            f"{name_S} must have shape ({d}, {d}) to match {name_mu}, got {S.shape}."
        )
    _check_finite(S, name_S)
    diag = np.diagonal(S)
    if np.any(diag < 0):
        i = int(np.argmax(diag < 0))
        raise ValueError(
            f"{name_S} has a negative variance at index ({i}, {i}); a covariance "
            "is positive semi-definite."
        )
    sd = np.sqrt(diag)
    asym = np.abs(S - S.T) > _SYMMETRY_RTOL * np.outer(sd, sd)
    if np.any(asym):
        where = tuple(np.argwhere(asym)[0].tolist())
        raise ValueError(
            f"{name_S} is not symmetric (first at index {where}); pass "
            "(S + S.T) / 2 if the asymmetry is rounding noise."
        )
    return mu, 0.5 * (S + S.T)


# -- factors -----------------------------------------------------------------


def _covariance_factor(S: np.ndarray, name: str) -> np.ndarray:
    """A factor F (d x r) with ``F F' = S`` for a positive semi-definite S.

    The Cholesky factor when S is numerically positive definite; otherwise
    ``V sqrt(w)`` from the symmetric eigendecomposition, keeping only the
    eigenvalues above rounding level (those below it, negative ones
    included, are indistinguishable from 0 in float64).
    """
    try:
        return np.linalg.cholesky(S)
    except np.linalg.LinAlgError:
        pass
    w, V = linalg.eigh(S, check_finite=False)
    scale = max(float(np.abs(w).max()), np.finfo(np.float64).tiny)
    level = S.shape[0] * _EPS * scale
    if w[0] < -100 * level:
        raise ValueError(
            f"{name} is not positive semi-definite (eigenvalue {w[0]:.3g} against "
            f"a largest magnitude of {scale:.3g}); a covariance matrix has no "
            "negative eigenvalues."
        )
    keep = w > level
    return V[:, keep] * np.sqrt(w[keep])


def _feature_moments(X: np.ndarray, name: str):
    """Mean and a covariance factor of the rows of X, in float64.

    n <= d: the centred rows themselves, ``F = (X - m)' / sqrt(n - 1)``, an
    exact factor of the singular covariance (n x d: no larger than the
    covariance). n > d: rows are streamed in chunks of ``working_memory``;
    each chunk is centred on its own mean and its scatter added with the
    update of Chan, Golub & LeVeque, so no raw sums of squares cancel.
    """
    n, d = X.shape
    rows = get_chunk_n_rows(row_bytes=16 * d, max_n_rows=n)
    if n <= d:
        Xc = np.array(X, dtype=np.float64)
        _check_finite(Xc, name)
        mean = Xc.mean(axis=0)
        Xc -= mean
        # The centred rows sum to 0: a Householder reflection H with H 1 =
        # -sqrt(n) e1 turns them into n - 1 rows with the same Gram matrix
        # (the first row of H Xc is 0 up to rounding), so the factor has no
        # structural zero singular value left to blur the square roots.
        v = np.ones(n)
        v[0] += np.sqrt(n)
        Xc -= np.outer(v, (v @ Xc) * (2.0 / (v @ v)))
        return mean, Xc[1:].T / np.sqrt(n - 1.0)
    count, mean, scatter = 0, np.zeros(d), np.zeros((d, d))
    for a in range(0, n, rows):
        Xb = np.array(X[a : a + rows], dtype=np.float64)  # one chunk, copied
        _check_finite(Xb, name, offset=a)
        m = len(Xb)
        mb = Xb.mean(axis=0)
        Xb -= mb
        delta = mb - mean
        total = count + m
        scatter += Xb.T @ Xb  # syrk
        scatter += np.outer(delta, delta * (count * m / total))
        mean += delta * (m / total)
        count = total
    cov = scatter / (n - 1.0)
    return mean, _covariance_factor(cov, f"the covariance of {name}")


# -- the distance --------------------------------------------------------------


def _procrustes(F1: np.ndarray, F2: np.ndarray) -> float:
    """``min_Q ||F1 - F2 Q||_F^2`` over orthogonal Q: the covariance term.

    Factors of different widths are padded with zero columns (still factors).
    """
    r = max(F1.shape[1], F2.shape[1])
    F1 = np.pad(F1, ((0, 0), (0, r - F1.shape[1])))
    F2 = np.pad(F2, ((0, 0), (0, r - F2.shape[1])))
    U, _, Vt = linalg.svd(F2.T @ F1, check_finite=False, lapack_driver="gesdd")
    return float(np.square(F1 - F2 @ (U @ Vt)).sum())


def _covariance_term(F1: np.ndarray, F2: np.ndarray) -> float:
    """``tr S1 + tr S2 - 2 tr (S1^1/2 S2 S1^1/2)^1/2`` from factors of S1, S2."""
    d = F1.shape[0]
    tr1, tr2 = float(np.square(F1).sum()), float(np.square(F2).sum())
    if F1.shape == F2.shape == (d, d) and _is_lower(F1) and _is_lower(F2):
        C = linalg.blas.dtrmm(1.0, F2, F1, lower=1, trans_a=1)  # F2' F1
    else:
        C = F2.T @ F1
    # Eigenvalues of the smaller Gram matrix (the nonzero ones are equal).
    G = C.T @ C if C.shape[1] <= C.shape[0] else C @ C.T
    mu = linalg.eigh(G, eigvals_only=True, driver="evr", check_finite=False)
    root = np.sqrt(np.clip(mu, 0.0, None))
    value = tr1 + tr2 - 2.0 * float(root.sum())
    # Rounding-error estimate: about k eps (tr S1 + tr S2) with the
    # probabilistic constant k = 6 sqrt(d) (Higham & Mary 2019) for the
    # traces, the products and the large eigenvalues; eigenvalues at the
    # noise level k eps ||G|| carry no digits, and each moves the sum of
    # square roots by up to the square root of that level.
    k = 6.0 * np.sqrt(d)
    noise = k * _EPS * max(float(mu[-1]), 0.0)
    unresolved = np.count_nonzero(mu <= noise)
    error = k * _EPS * (tr1 + tr2) + 2.0 * unresolved * np.sqrt(noise)
    if error <= _RTOL * value:
        return value
    # Cancellation (nearly equal covariances) or unresolved eigenvalues.
    return _procrustes(F1, F2)


def _is_lower(F: np.ndarray) -> bool:
    return not np.any(np.triu(F, 1))


def _distance(m1, F1, m2, F2) -> float:
    diff = m1 - m2
    mean_term = float(diff @ diff)
    if F1.shape == F2.shape and np.array_equal(F1, F2):
        return mean_term  # the same covariance: its term is exactly 0
    return mean_term + _covariance_term(F1, F2)


def frechet_distance(X: ArrayLike, Y: ArrayLike) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets (FID).

    The convention of the Fréchet Inception Distance: each set is summarised
    by its mean and unbiased covariance (``ddof=1``), and the result is the
    squared 2-Wasserstein distance between the two Gaussians,
    ``||m1 - m2||^2 + tr S1 + tr S2 - 2 tr (S1^1/2 S2 S1^1/2)^1/2``.

    Moments are accumulated in float64 whatever the input dtype, over chunks
    of rows sized by scikit-learn's ``working_memory`` (no float64 copy of
    the whole array). Fewer samples than features are allowed (the
    covariances are then singular): the centred samples serve as an exact
    factor. The trace term comes from the eigenvalues of a symmetric matrix
    (no ``sqrtm``); when the two sets are so close that this form would
    cancel, the covariance term is recomputed without cancellation.

    Parameters
    ----------
    X : array-like of shape (n_samples_X, n_features)
        First feature set (e.g. Inception pool features of real images).
    Y : array-like of shape (n_samples_Y, n_features)
        Second feature set.

    Returns
    -------
    distance : float
        The Fréchet distance (squared units of the features), >= 0.

    See Also
    --------
    frechet_distance_from_moments : The same from (mean, covariance) pairs.
    skkl.divergence : ``kind='wasserstein'`` between positive definite Gaussians.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import frechet_distance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 8))
    >>> Y = 2.0 * rng.normal(size=(300, 8)) + 1.0
    >>> round(frechet_distance(X, Y), 2)  # about 8 * 1 + 8 * (2 - 1)^2 = 16
    17.07
    >>> frechet_distance(X, X)
    0.0
    >>> round(frechet_distance(X[:5], Y[:5]), 2)  # n < d: singular covariances
    56.52
    """
    X = _check_features(X, "X")
    Y = _check_features(Y, "Y")
    if X.shape[1] != Y.shape[1]:
        raise ValueError(
            f"X has {X.shape[1]} features but Y has {Y.shape[1]}; both feature "
            "sets must come from the same extractor."
        )
    m1, F1 = _feature_moments(X, "X")
    m2, F2 = _feature_moments(Y, "Y")
    return _distance(m1, F1, m2, F2)


def frechet_distance_from_moments(
    mu1: ArrayLike, sigma1: ArrayLike, mu2: ArrayLike, sigma2: ArrayLike
) -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    The argument order of pytorch-fid's ``calculate_frechet_distance``, for
    precomputed statistics (e.g. a reference set's mean and covariance).
    Covariances must be symmetric positive semi-definite; singular ones are
    factored by a symmetric eigendecomposition, eigenvalues below rounding
    level counting as 0.

    Parameters
    ----------
    mu1 : array-like of shape (n_features,)
        Mean of the first Gaussian.
    sigma1 : array-like of shape (n_features, n_features)
        Covariance of the first Gaussian.
    mu2 : array-like of shape (n_features,)
        Mean of the second Gaussian.
    sigma2 : array-like of shape (n_features, n_features)
        Covariance of the second Gaussian.

    Returns
    -------
    distance : float
        ``||mu1 - mu2||^2 + tr sigma1 + tr sigma2
        - 2 tr (sigma1^1/2 sigma2 sigma1^1/2)^1/2``, >= 0.

    See Also
    --------
    frechet_distance : From two feature sets.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl import frechet_distance_from_moments
    >>> frechet_distance_from_moments(np.zeros(2), np.eye(2), np.ones(2),
    ...                               4 * np.eye(2))  # 2 + 2 * (2 - 1)^2
    4.0
    >>> singular = np.array([[1.0, 1.0], [1.0, 1.0]])
    >>> round(frechet_distance_from_moments(np.zeros(2), singular,
    ...                                     np.zeros(2), np.eye(2)), 6)
    1.171573
    """
    mu1, sigma1 = _check_moments(mu1, sigma1, "mu1", "sigma1", None)
    mu2, sigma2 = _check_moments(mu2, sigma2, "mu2", "sigma2", mu1.size)
    F1 = _covariance_factor(sigma1, "sigma1")
    F2 = _covariance_factor(sigma2, "sigma2")
    return _distance(mu1, F1, mu2, F2)
