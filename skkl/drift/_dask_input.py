"""Drift test input from dask collections, reduced blockwise (internal).

A sample too large for one process reaches the detector as a dask array or
DataFrame. Blockwise passes (each block reduced on its worker, the summaries
merged in a tree by :func:`skkl._dask.reduce_blocks`) give what the
asymptotic engine and the effect need, and nothing else leaves the workers:

1. :class:`~._sums.FeatureStats`: centre, scale, constant features, float64
   resolution and the effect's variance floors;
2. :class:`~._sums.MomentSums` of the rows standardised by the reference.
"""

from __future__ import annotations

import functools

import numpy as np

from .._dask import check_block_weights, is_dask_collection
from ._prepare import Sample
from ._sums import FeatureStats, MomentSums

__all__ = ["feature_stats", "moment_sums", "new_sample", "reference_sample"]


def _check_block(Xb, wb, n_features):
    from sklearn.utils.validation import check_array

    Xb = check_array(Xb, dtype=np.float64, ensure_min_samples=0, input_name="X")
    if Xb.shape[1] != n_features:
        raise ValueError(
            f"a block of X has {Xb.shape[1]} features, expected {n_features}."
        )
    return Xb, check_block_weights(wb, Xb.shape[0])


def block_feature_stats(Xb, wb=None, *, n_features: int) -> FeatureStats:
    """:class:`FeatureStats` of one block (validated on its worker)."""
    Xb, wb = _check_block(Xb, wb, n_features)
    return FeatureStats.from_rows(Xb, wb)


def _block_moment_sums(Xb, wb=None, *, n_features, covariance_type, shift, scale):
    Xb, wb = _check_block(Xb, wb, n_features)
    # Workers run blocks side by side: one thread per block.
    return MomentSums.from_rows(
        Xb, wb, covariance_type=covariance_type, shift=shift, scale=scale, n_jobs=1
    )


def _reduce(func, merge, X, sample_weight):
    from .._dask import reduce_blocks

    if is_dask_collection(X):
        return reduce_blocks(
            func, merge, X, sample_weight, names=["X", "sample_weight"]
        )
    return func(X, sample_weight)


def feature_stats(X, sample_weight=None) -> FeatureStats:
    """:class:`FeatureStats` of X (a dask collection, blockwise, or in memory)."""
    func = functools.partial(block_feature_stats, n_features=X.shape[1])
    return _reduce(func, FeatureStats.merge, X, sample_weight)


def moment_sums(X, sample_weight, *, covariance_type, shift, scale, columns=None):
    """Moment sums of ``(X[:, columns] - shift) / scale``, blockwise for dask."""
    d = X.shape[1] if columns is None else len(columns)
    func = functools.partial(
        _block_moment_sums,
        n_features=d,
        covariance_type=covariance_type,
        shift=shift,
        scale=scale,
    )
    if columns is not None:
        func = functools.partial(_on_columns, func=func, columns=columns)
    return _reduce(func, MomentSums.merge, X, sample_weight)


def _on_columns(Xb, wb=None, *, func, columns):
    return func(np.asarray(Xb)[:, columns], wb)


def _w2_ratio(sample_weight, n: float) -> float:
    if sample_weight is None:
        return 1.0
    import dask.array as da

    w = da.asarray(sample_weight).astype(np.float64)
    return float((w * w).sum().compute()) / n


def reference_sample(X, sample_weight, covariance_type: str) -> Sample:
    """A dask reference kept as sums (two passes), weights rescaled to mean 1.

    The moment sums are standardised by the reference's own centre and scale
    (a feature it does not vary at unit scale): the asymptotic engine's
    coordinates, whatever the tested sample turns out to be.
    """
    stats = feature_stats(X, sample_weight)
    if stats.count < 2:
        from .._errors import InputError

        raise InputError(
            "{argument} has {n} row(s) with positive weight; a drift test needs "
            "at least 2 rows in each sample.",
            argument="X_ref",
            n=stats.count,
        )
    sd = stats.sd
    sums = moment_sums(
        X,
        sample_weight,
        covariance_type=covariance_type,
        shift=stats.mean,
        scale=np.where(sd > 0, sd, 1.0),
    )
    ratio = _w2_ratio(sample_weight, stats.n)
    # As in memory: the reference's weights are rescaled to mean 1.
    c = stats.rows / stats.n
    return Sample(stats.reweighted(c), sums=sums.reweighted(c), w2_ratio=ratio * c)


def new_sample(X) -> Sample:
    """A dask sample to test: its feature summary now, its sums later."""
    return Sample(feature_stats(X), source=X)
