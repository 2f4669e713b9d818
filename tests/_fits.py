"""The one comparison of two GroupGaussians fits (dask against in-memory)."""

import numpy as np
from numpy.testing import assert_allclose, assert_array_equal

# Moments merged over other block boundaries differ by rounding only: the
# Chan merge is backward stable, so the relative error is a few eps times
# log2(n blocks) times the conditioning of the data (offset / spread, here
# about 5): 1e-10 leaves orders of magnitude of margin on any BLAS kernel.
RTOL = 1e-10


def assert_same_fit(ref, got):
    """Same classes (and their order and kind) and the same fitted arrays."""
    assert_array_equal(got.classes_, ref.classes_)
    assert got.classes_.dtype.kind == ref.classes_.dtype.kind
    for name in ("means_", "covariances_", "weights_"):
        a, b = getattr(ref, name), getattr(got, name)
        assert_allclose(b, a, rtol=RTOL, atol=RTOL * np.abs(a).max(), err_msg=name)
    assert_allclose(got.class_count_, ref.class_count_, rtol=RTOL)
    assert_allclose(got.shrinkage_, ref.shrinkage_, rtol=RTOL, atol=RTOL)
