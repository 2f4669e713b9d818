"""Sample-space (Gram) permutation engine of the drift test (private).

For high-dimensional data (``d`` comparable to or above the number of pooled
samples ``N``) the moment features of ``_permutation.py`` have
``d (d + 1) / 2`` columns; here every statistic is written through the
``N x N`` Gram matrix ``K = Z Z'`` of the pooled, centred and scaled rows
``Z`` instead, so its cost does not grow with ``d`` once ``K`` is formed.

The statistics (``GRAM_PARTS``), for a split into group 1 (indicator ``a``)
and group 2 (``b = 1 - a``) with row weights ``w`` (all 1 by default):

``'mean'``
    The Chen & Qin (2010) U-statistic of ``||m1 - m2||^2``: with ``P = K``,

        T(P) = sum_{i != j in 1} w_i w_j P_ij / D1
             + sum_{i != j in 2} w_i w_j P_ij / D2
             - 2 sum_{i in 1, j in 2} w_i w_j P_ij / (W1 W2),

    ``Wg = sum_{i in g} w_i`` and ``Dg = Wg^2 - sum_{i in g} w_i^2`` (the sum
    of ``w_i w_j`` over pairs ``i != j`` of group g), so ``T`` is unbiased for
    ``||E_w[z | 1] - E_w[z | 2]||^2``: the diagonal terms ``||z_i||^2``, which
    carry the trace part, are left out.
``'second_moment'``
    The Li & Chen (2012) U-statistic of ``||M1 - M2||_F^2`` for the raw
    second moments ``M = E[z z']``: the same ``T`` with ``P = K o K``
    (element-wise square), since ``(z_i' z_j)^2 = <z_i z_i', z_j z_j'>_F``.
``'trace'``
    ``(tr M1 - tr M2)^2``: the squared difference of the groups' weighted
    mean squared norms ``||z_i||^2 = K_ii``. In high dimension a global
    scale change moves every entry of ``M`` by a little and drowns in the
    noise of the ``d^2`` entries of the Frobenius norm; their sum, the trace,
    does not.

Larger values mean more drift (the U-statistics may be negative).

One split from its group-1 weights ``u = a o w`` (``v = w - u``): with
``P0`` the matrix ``P`` without its diagonal, ``q = u' P0 u``,
``r = u' P0 w`` and ``S = w' P0 w``, the three sums above are ``q``,
``v' P0 v = S - 2 r + q`` and ``u' P0 v = r - q``. For B splits stacked in
``U`` (B x N), ``q`` is the row-wise dot product of ``U P0`` with ``U``,
``r = U (P0 w)``: one (B x N)(N x N) product per part. When ``d < N`` the
mean part uses ``u' K0 u = ||Z' u||^2 - sum_i u_i^2 K_ii`` instead, a
(B x N)(N x d) product. The observed split goes through the same arithmetic
as the permuted ones (it is row 0 of the stacked memberships).

Memory is bounded by scikit-learn's ``working_memory`` (see
:func:`gram_peak_bytes`): ``K`` is computed in column tiles ``K[:, J] =
Z Z[J]'`` that are never all held at once when ``N x N`` exceeds the budget,
and the memberships are turned into float rows in chunks.
"""

from __future__ import annotations

import numpy as np
from sklearn import get_config

from .._blas import blas_threads_for, get_chunk_n_rows

__all__ = ["GRAM_PARTS", "gram_flops", "gram_parts", "gram_peak_bytes"]

#: Statistics returned by :func:`gram_parts`, in this column order.
GRAM_PARTS = ("mean", "second_moment", "trace")

# Largest N * ||z||^2 for which N^2 squared Gram entries sum without overflow.
_MAX_SQ_NORM = 1e150


def _mean_via_features(n_samples: int, n_features: int) -> bool:
    """Whether the mean part is cheaper as ``||Z' u||^2`` than as ``u' K0 u``."""
    return n_features < n_samples


def _layout(n_samples, n_features, n_rows, working_memory):
    """Column tile width, row chunk height and tiles held per column."""
    if working_memory is None:
        working_memory = get_config()["working_memory"]
    via_z = _mean_via_features(n_samples, n_features)
    # Tiles of K (and of K o K when the mean part needs K itself) get half
    # the budget; float membership rows and their products the rest.
    per_col = 8 * n_samples * (1 if via_z else 2)
    cols = get_chunk_n_rows(
        row_bytes=per_col, max_n_rows=n_samples, working_memory=working_memory / 2
    )
    left = max(working_memory - per_col * cols / 2**20, working_memory / 2)
    row_bytes = 8 * (n_samples + cols + (n_features if via_z else 0))
    rows = get_chunk_n_rows(row_bytes=row_bytes, max_n_rows=n_rows, working_memory=left)
    return cols, rows, per_col, row_bytes


def gram_peak_bytes(
    n_samples: int,
    n_features: int,
    n_memberships: int,
    *,
    working_memory: float | None = None,
) -> int:
    """Peak bytes :func:`gram_parts` allocates (besides its input ``Z``).

    With ``N = n_samples``, ``d = n_features``, ``R = n_memberships + 1`` (the
    observed split is one more row), ``t = 1`` if ``d < N`` else ``2`` and
    ``d_z = d`` if ``d < N`` else ``0``, a column tile of ``c`` columns and a
    chunk of ``b`` float membership rows::

        peak = 8 N t c  +  8 b (N + c + d_z)  +  R N  +  8 (7 N + 10 R)

    where ``c`` is the most columns with ``8 N t c <= working_memory / 2``
    (at most ``N``, at least 1) and ``b`` the most rows within the rest of
    the budget (at most ``R``, at least 1). The first two terms therefore
    stay within ``working_memory`` (MiB, scikit-learn's config by default)
    unless a single column or row exceeds it; ``R N`` bytes hold the boolean
    memberships with the observed split on top (the same size as the
    ``memberships`` argument), the last term the per-sample and per-split
    vectors. A ``Z`` that is not C-contiguous float64 adds a copy of
    ``8 N d`` bytes.

    Parameters
    ----------
    n_samples : int
        Pooled number of rows N.
    n_features : int
        Number of columns d of ``Z``.
    n_memberships : int
        Number of permutations B.
    working_memory : float or None, default=None
        Budget in MiB; None uses ``sklearn.get_config()['working_memory']``.

    Returns
    -------
    int
        The bound in bytes.

    Examples
    --------
    >>> from skkl.drift._gram import gram_peak_bytes
    >>> gram_peak_bytes(2000, 768, 1000) / 2**20 < 100
    True
    >>> gram_peak_bytes(20000, 768, 1000, working_memory=256) / 2**20 < 300
    True
    """
    n_rows = n_memberships + 1
    cols, rows, per_col, row_bytes = _layout(
        n_samples, n_features, n_rows, working_memory
    )
    return int(
        per_col * cols
        + rows * row_bytes
        + n_rows * n_samples
        + 8 * (7 * n_samples + 10 * n_rows)
    )


def gram_flops(n_samples: int, n_features: int, n_memberships: int) -> float:
    """Floating-point operations of :func:`gram_parts` (the matrix products).

    ``2 N^2 d`` for the Gram matrix, then ``2 (B + 1) N (N + min(N, d))``
    for the products of the membership rows with ``K o K`` and with ``K``
    (or ``Z`` when ``d < N``).

    Parameters
    ----------
    n_samples : int
        Pooled number of rows N.
    n_features : int
        Number of columns d.
    n_memberships : int
        Number of permutations B.

    Returns
    -------
    float
        Number of flops.

    Examples
    --------
    >>> from skkl.drift._gram import gram_flops
    >>> f"{gram_flops(2000, 768, 1000):.2e}"
    '1.72e+10'
    """
    N, d, R = float(n_samples), float(n_features), float(n_memberships + 1)
    return 2.0 * N * N * d + 2.0 * R * N * (N + min(N, d))


def _check(Z, n1, memberships, sample_weight):
    Z = np.asarray(Z)
    if Z.ndim != 2:
        raise ValueError(f"Z must be a 2-d array (N, d); got shape {Z.shape}.")
    if not np.issubdtype(Z.dtype, np.number) or np.iscomplexobj(Z):
        raise TypeError(f"Z must hold real numbers; got dtype {Z.dtype}.")
    Z = np.ascontiguousarray(Z, dtype=np.float64)
    N = Z.shape[0]
    # Squared norms (needed anyway) are finite iff Z is finite and not huge;
    # only then search Z itself, so the check adds no N x d temporary.
    with np.errstate(over="ignore", invalid="ignore"):
        sq_norms = np.einsum("ij,ij->i", Z, Z)
    # Sums of N^2 squared Gram entries must stay finite: |K_ij| <= ||z_i||^2.
    big = ~(sq_norms <= _MAX_SQ_NORM / max(N, 1))
    if big.any():
        i = int(np.flatnonzero(big)[0])
        bad = np.flatnonzero(~np.isfinite(Z[i]))
        if bad.size:
            raise ValueError(
                f"Z has a non-finite value at row {i}, column {bad[0]}: drop or "
                "impute missing values before testing."
            )
        raise ValueError(
            f"the squared norm of row {i} of Z ({sq_norms[i]:.3g}) is too large "
            "for float64 sums of squared Gram entries: centre and scale Z (e.g. "
            "by the pooled standard deviation) before testing."
        )
    if not isinstance(n1, (int, np.integer)) or isinstance(n1, (bool, np.bool_)):
        raise TypeError(f"n1 must be an int; got {type(n1).__name__}.")
    n1 = int(n1)
    if not 2 <= n1 <= N - 2:
        raise ValueError(
            "the U-statistics need at least 2 rows in each group: n1 must be in "
            f"[2, N - 2] = [2, {N - 2}]; got n1={n1} with N={N} rows."
        )
    A = np.asarray(memberships)
    if A.dtype != np.bool_:
        raise TypeError(
            f"memberships must be a boolean array; got dtype {A.dtype}. Use "
            "memberships.astype(bool) on a 0/1 array."
        )
    if A.ndim != 2 or A.shape[1] != N:
        raise ValueError(
            f"memberships must have shape (B, N) = (B, {N}); got {A.shape}."
        )
    counts = A.sum(axis=1)
    if np.any(counts != n1):
        b = int(np.flatnonzero(counts != n1)[0])
        raise ValueError(
            f"every row of memberships must have exactly n1={n1} True entries "
            f"(the permuted first group); row {b} has {int(counts[b])}."
        )
    if sample_weight is None:
        return Z, sq_norms, n1, A, None
    w = np.asarray(sample_weight)
    if w.ndim != 1 or w.shape[0] != N:
        raise ValueError(f"sample_weight must have shape (N,) = ({N},); got {w.shape}.")
    if not np.issubdtype(w.dtype, np.number) or np.iscomplexobj(w):
        raise TypeError(f"sample_weight must hold real numbers; got {w.dtype}.")
    w = w.astype(np.float64)
    if not (np.isfinite(w).all() and np.all(w > 0)):
        i = int(np.flatnonzero(~(np.isfinite(w) & (w > 0)))[0])
        raise ValueError(
            "sample_weight must be finite and positive (the weighted "
            "U-statistics divide by the sum of w_i w_j over pairs of a group); "
            f"sample_weight[{i}] = {w[i]}. Drop rows with zero weight before "
            "testing."
        )
    return Z, sq_norms, n1, A, w


def _split_stat(q, r, S, W1, W2, D1, D2):
    """``T(P)`` of the module docstring from its sums (one entry per split)."""
    return q / D1 + (S - 2.0 * r + q) / D2 - 2.0 * (r - q) / (W1 * W2)


def gram_parts(
    Z: np.ndarray,
    n1: int,
    memberships: np.ndarray,
    *,
    sample_weight: np.ndarray | None = None,
    working_memory: float | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Observed and permuted Gram-space part statistics of a two-sample split.

    See the module docstring for the statistics (``GRAM_PARTS``: the Chen &
    Qin mean U-statistic, the Li & Chen second-moment U-statistic and the
    squared trace difference) and their algebra.

    Cost: ``2 N^2 d`` flops for the Gram matrix, once, then
    ``2 (B + 1) N (N + min(N, d))`` for all splits (:func:`gram_flops`).
    Peak memory: ``8 N t c + 8 b (N + c + d_z) + (B + 1) N + 8 (7 N + 10 (B +
    1))`` bytes, within ``working_memory`` up to the last two terms (see
    :func:`gram_peak_bytes`); ``K`` is tiled by columns and recomputed from
    ``Z`` tile by tile, never held whole when it exceeds the budget.

    Parameters
    ----------
    Z : ndarray of shape (N, d)
        Pooled data, already centred and scaled by the caller: the first
        ``n1`` rows are the reference sample, the others the new sample.
    n1 : int
        Size of the reference group (``2 <= n1 <= N - 2``).
    memberships : ndarray of bool, shape (B, N)
        Each row marks the ``n1`` rows of one permuted reference group.
    sample_weight : ndarray of shape (N,) or None, default=None
        Positive row weights; the statistics become weighted U-statistics
        (pairs weighted by ``w_i w_j``, normalised by the sum of those
        weights over pairs), and weights travel with their rows in the
        permutations.
    working_memory : float or None, default=None
        Budget in MiB for the Gram tiles and membership chunks; None uses
        ``sklearn.get_config()['working_memory']``.

    Returns
    -------
    observed : ndarray of shape (3,)
        Part statistics of the split "first ``n1`` rows vs the rest", in the
        order of ``GRAM_PARTS``; larger is more drift.
    null : ndarray of shape (B, 3)
        The same for the split of each row of ``memberships``.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl.drift._gram import GRAM_PARTS, gram_parts
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 50))
    >>> X[100:] *= 1.5  # the new sample has a larger scale
    >>> Z = (X - X.mean(0)) / X.std(0)
    >>> A = np.argsort(rng.random((99, 200)), axis=1) < 100
    >>> observed, null = gram_parts(Z, 100, A)
    >>> GRAM_PARTS
    ('mean', 'second_moment', 'trace')
    >>> [int(1 + np.sum(null[:, k] >= observed[k])) for k in range(3)]
    [..., 1, 1]
    """
    Z, sq_norms, n1, A, w = _check(Z, n1, memberships, sample_weight)
    N, d = Z.shape
    B = A.shape[0]
    n_rows = B + 1
    observed_row = np.zeros((1, N), dtype=bool)
    observed_row[0, :n1] = True
    A = np.concatenate([observed_row, A])

    via_z = _mean_via_features(N, d)
    cols, rows, _, _ = _layout(N, d, n_rows, working_memory)
    row_chunks = [slice(i, min(i + rows, n_rows)) for i in range(0, n_rows, rows)]
    ones = w is None
    if ones:
        w = np.ones(N)

    # Per split: q (u' P0 u) and r (u' P0 w) of the mean (K) and second-moment
    # (K o K) parts, and the group-1 weight, squared weight and norm sums.
    q_k, r_k = np.zeros(n_rows), np.zeros(n_rows)
    q_h, r_h = np.zeros(n_rows), np.zeros(n_rows)
    W1, V1, T1 = np.empty(n_rows), np.empty(n_rows), np.empty(n_rows)
    S_k = S_h = 0.0

    if via_z:
        # K0 w = Z (Z' w) - diag(K) w.
        with blas_threads_for(4.0 * N * d):
            s_k = Z @ (Z.T @ w) - sq_norms * w
        S_k = float(w @ s_k)

    def float_rows(sl):
        U = A[sl].astype(np.float64)
        if not ones:
            U *= w
        return U

    cached = float_rows(row_chunks[0]) if len(row_chunks) == 1 else None
    for j0 in range(0, N, cols):
        J = slice(j0, min(j0 + cols, N))
        c = J.stop - J.start
        with blas_threads_for(2.0 * N * c * d):
            K_J = Z @ Z[J].T
        diag = (np.arange(J.start, J.stop), np.arange(c))
        K_J[diag] = 0.0
        H_J = np.square(K_J, out=K_J if via_z else None)
        with blas_threads_for(2.0 * N * c):
            sH_J = w @ H_J
            sK_J = None if via_z else w @ K_J
        S_h += float(w[J] @ sH_J)
        if not via_z:
            S_k += float(w[J] @ sK_J)
        for sl in row_chunks:
            U = cached if cached is not None else float_rows(sl)
            U_J = U[:, J]
            b = U.shape[0]
            with blas_threads_for(2.0 * b * N * c):
                q_h[sl] += np.einsum("ij,ij->i", U @ H_J, U_J)
                if not via_z:
                    q_k[sl] += np.einsum("ij,ij->i", U @ K_J, U_J)
            r_h[sl] += U_J @ sH_J
            if not via_z:
                r_k[sl] += U_J @ sK_J
            if j0 == 0:
                W1[sl] = U.sum(axis=1)
                V1[sl] = U @ w
                T1[sl] = U @ sq_norms
                if via_z:
                    with blas_threads_for(2.0 * b * N * d):
                        G = U @ Z
                    # u_i^2 = u_i w_i for u = a o w with a in {0, 1}.
                    q_k[sl] = np.einsum("ij,ij->i", G, G) - U @ (w * sq_norms)
                    r_k[sl] = U @ s_k
                    del G
            del U, U_J  # before the next chunk is allocated
        del K_J, H_J  # before the next tile is allocated

    W_tot, V_tot, T_tot = float(w.sum()), float(w @ w), float(w @ sq_norms)
    W2, V2 = W_tot - W1, V_tot - V1
    if ones:  # exact integers for the unweighted U-statistics
        W1, W2 = np.full(n_rows, float(n1)), np.full(n_rows, float(N - n1))
        D1, D2 = W1 * (W1 - 1.0), W2 * (W2 - 1.0)
    else:
        D1, D2 = W1 * W1 - V1, W2 * W2 - V2
    parts = np.empty((n_rows, len(GRAM_PARTS)))
    with np.errstate(over="ignore", invalid="ignore"):
        parts[:, 0] = _split_stat(q_k, r_k, S_k, W1, W2, D1, D2)
        parts[:, 1] = _split_stat(q_h, r_h, S_h, W1, W2, D1, D2)
        parts[:, 2] = np.square(T1 / W1 - (T_tot - T1) / W2)
    if not np.isfinite(parts).all():
        raise ValueError(
            "the Gram statistics overflow float64: the squared norms of the rows "
            f"of Z reach {sq_norms.max():.3g}. Centre and scale Z (e.g. by the "
            "pooled standard deviation) before testing."
        )
    return parts[0], parts[1:]
