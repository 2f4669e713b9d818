"""Per-row scores under K fitted Gaussians: distances, densities, posteriors.

What :class:`~skkl.GroupGaussians` returns from ``transform`` and the
``predict`` methods, as functions of the fitted :class:`~skkl.Gaussians` and
the group priors: squared Mahalanobis distances, log-densities, the joint
log-density with the prior, and posterior probabilities (the rule of
quadratic discriminant analysis). Rows are processed in chunks, over
threads when there are several.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import get_blas_funcs
from scipy.special import logsumexp
from sklearn.utils import gen_batches
from sklearn.utils.parallel import Parallel, delayed

from ._blas import get_chunk_n_rows
from ._gaussians import Gaussians
from ._linalg import solve_lower

__all__ = ["ROW_VALUES", "predict", "row_values"]

#: What :func:`row_values` computes per row and group.
ROW_VALUES = ("mahalanobis", "log_likelihood", "joint", "log_proba", "proba")
_LOG_2PI = np.log(2.0 * np.pi)
# Scratch per row of a chunk: the centred rows, their solve and the outputs.
_CHUNK_COPIES_OF_X = 3
_CHUNK_COPIES_OF_OUTPUT = 3


def _solve_lower_columns(L: np.ndarray, Xc: np.ndarray) -> np.ndarray:
    """``L^{-1} Xc.T`` (d, m) for a C-ordered scratch array ``Xc`` (m, d).

    One BLAS trsm on the Fortran view ``Xc.T``, overwriting ``Xc``: no copy
    (``solve_lower`` wraps LAPACK's trtrs, which copies its operands).
    """
    (trsm,) = get_blas_funcs(("trsm",), (L, Xc))
    return trsm(1.0, L, Xc.T, lower=1, overwrite_b=1)


def _mahalanobis(G: Gaussians, X: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distance of every row of X to every group mean."""
    out = np.empty((X.shape[0], len(G)))
    if G.covariance_type == "tied":
        # One solve for all groups: L^{-1}(x - m) = L^{-1}x - L^{-1}m.
        centre = G.means.mean(axis=0)
        Z = _solve_lower_columns(G.cholesky, X - centre)
        M = solve_lower(G.cholesky, (G.means - centre).T)
        for g in range(len(G)):
            D = Z - M[:, g : g + 1]
            out[:, g] = np.einsum("ij,ij->j", D, D)
    elif G.covariance_type == "full":
        for g in range(len(G)):
            Z = _solve_lower_columns(G.cholesky[g], X - G.means[g])
            out[:, g] = np.einsum("ij,ij->j", Z, Z)
    else:
        std = G.std()
        for g in range(len(G)):
            D = (X - G.means[g]) / std[g]
            out[:, g] = np.einsum("ij,ij->i", D, D)
    return out


def _chunk_values(G: Gaussians, weights, X: np.ndarray, what: str) -> np.ndarray:
    """Per-group values of the rows of one chunk (see :func:`row_values`)."""
    # Overflow (samples absurdly far from every group) is reported by the
    # caller; errstate is thread-local, hence set here in the worker.
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        maha = _mahalanobis(G, X)
        if what == "mahalanobis":
            return maha
        loglik = -0.5 * (maha + (G.n_features * _LOG_2PI + G.logdet))
        if what == "log_likelihood":
            return loglik
        logprior = np.full(len(G), -np.inf)
        np.log(weights, out=logprior, where=weights > 0)
        joint = loglik + logprior
        if what == "joint":
            return joint
        log_proba = joint - logsumexp(joint, axis=1, keepdims=True)
        return log_proba if what == "log_proba" else np.exp(log_proba)


def row_values(
    G: Gaussians, weights: np.ndarray, X: np.ndarray, what: str, n_jobs=None
) -> np.ndarray:
    """(n, K) values of validated rows X under the K Gaussians ``G``.

    ``what`` is one of :data:`ROW_VALUES`: squared Mahalanobis distance,
    log-density, joint log-density with the prior ``weights``, log-posterior
    or posterior. Row chunks run over ``n_jobs`` threads.
    """
    n, d = X.shape
    K = len(G)
    row_bytes = 8 * (_CHUNK_COPIES_OF_X * d + _CHUNK_COPIES_OF_OUTPUT * K)
    rows = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=max(n, 1))
    batches = list(gen_batches(n, rows))
    if len(batches) <= 1:
        out = _chunk_values(G, weights, X, what)
    else:
        parts = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_chunk_values)(G, weights, X[s], what) for s in batches
        )
        out = np.concatenate(parts, axis=0)
    # A zero prior gives log-posterior -inf legitimately; anything else
    # non-finite is overflow.
    logs = what in ("log_proba", "joint")
    finite = (~np.isnan(out) & (out < np.inf)) if logs else np.isfinite(out)
    if not np.all(finite) or (
        logs and out.size and not np.all(np.isfinite(out.max(axis=1)))
    ):
        raise ValueError(
            "the densities overflowed float64 (samples extremely far from "
            "every group); rescale X, or use transform_kind='proba'."
        )
    return out


def predict(
    G: Gaussians, weights: np.ndarray, classes: np.ndarray, X: np.ndarray, n_jobs=None
) -> np.ndarray:
    """The maximum a posteriori class of every row of X."""
    return classes[np.argmax(row_values(G, weights, X, "joint", n_jobs), axis=1)]
