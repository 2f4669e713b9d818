"""Windows of a stream (GaussianDriftDetector.scan): coverage, gaps, errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from skkl import GaussianDriftDetector
from skkl.drift._scan import window_bounds


def _det(d=3, seed=0):
    rng = np.random.default_rng(seed)
    return GaussianDriftDetector(n_permutations=20, random_state=0).fit(
        rng.normal(size=(200, d))
    ), rng


def test_window_bounds_cover_gaps_and_tails():
    assert window_bounds(100, 40) == ([(0, 40), (40, 80)], None, [(80, 100)])
    assert window_bounds(100, 40, partial="test") == (
        [(0, 40), (40, 80)],
        (80, 100),
        [],
    )
    # step > window: the rows between windows are skipped, and so is a tail
    # that starts after the next window would have started.
    bounds, last, skipped = window_bounds(100, 10, 25, "test")
    assert bounds == [(0, 10), (25, 35), (50, 60), (75, 85)]
    assert last is None and skipped == [(10, 25), (35, 50), (60, 75), (85, 100)]
    # A one-row tail is never a window.
    assert window_bounds(99, 49, partial="test")[1:] == (None, [(98, 99)])


def test_a_short_last_window_is_skipped_with_a_warning_not_an_error():
    # Issue 20: scan(Y[:100], window=98, partial='test') failed on its tail.
    det, rng = _det()
    with pytest.warns(UserWarning) as record:
        out = det.scan(rng.normal(size=(100, 3)), window=98, partial="test")
    assert [(r.start, r.stop) for r in out] == [(0, 98)]
    assert out.skipped == ((98, 100),)
    assert any("could not be tested" in str(w.message) for w in record)


def test_gaps_are_reported_and_the_advice_fits_the_arguments():
    # Issue 20: window=10, step=25, partial='test' warned to pass the
    # partial='test' it was given, and said nothing of the gaps.
    det, rng = _det()
    with pytest.warns(UserWarning) as record:
        out = det.scan(rng.normal(size=(100, 3)), window=10, step=25, partial="test")
    (msg,) = [str(w.message) for w in record]
    assert "10-24" in msg and "step no larger than the window" in msg
    assert "pass partial='test'" not in msg
    assert len(out) == 4 and (10, 25) in out.skipped


def test_errors_name_x_stream_and_warnings_point_at_the_caller():
    det, rng = _det()
    with pytest.raises(ValueError, match="X_stream has 4 features"):
        det.scan(rng.normal(size=(50, 4)), window=10)
    bad = rng.normal(size=(50, 3))
    bad[3, 1] = np.nan
    with pytest.raises(ValueError, match="X_stream contains NaN"):
        det.scan(bad, window=10)
    with pytest.raises(ValueError, match="window must be in"):
        det.scan(rng.normal(size=(50, 3)), window=100)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        det.scan(rng.normal(size=(55, 3)), window=10)
    assert record and all(w.filename == __file__ for w in record)


def test_fit_and_test_name_their_arguments():
    det, rng = _det()
    X = rng.normal(size=(30, 3))
    X[0, 0] = np.inf
    with pytest.raises(ValueError, match="X_ref contains infinity"):
        GaussianDriftDetector().fit(X)
    with pytest.raises(ValueError, match="Input X contains infinity"):
        det.test(X)
