"""Windows of a stream, each tested against the reference or its predecessor."""

from __future__ import annotations

import numbers
import warnings

import numpy as np

from .._errors import InputError
from ._result import DriftScan

__all__ = ["window_bounds"]


def _check(n: int, window, step, reference, partial):
    if not isinstance(window, numbers.Integral) or isinstance(window, bool):
        raise InputError(
            "{argument} must be an integer in [2, {n}] (the rows of X_stream), "
            "got {window!r}.",
            argument="window",
            n=n,
            window=window,
        )
    if not 2 <= window <= n:
        raise InputError(
            "{argument} must be in [2, {n}] (the rows of X_stream), got {window}.",
            argument="window",
            n=n,
            window=window,
        )
    step = window if step is None else step
    if not isinstance(step, numbers.Integral) or isinstance(step, bool) or step < 1:
        raise InputError(
            "{argument} must be a positive integer, got {step!r}.",
            argument="step",
            step=step,
        )
    if reference not in ("fixed", "previous"):
        raise InputError(
            "{argument} must be 'fixed' or 'previous', got {reference!r}.",
            argument="reference",
            reference=reference,
        )
    if partial not in ("test", "drop"):
        raise InputError(
            "{argument} must be 'test' or 'drop', got {partial!r}.",
            argument="partial",
            partial=partial,
        )
    return int(step)


def window_bounds(n: int, window: int, step=None, partial: str = "drop"):
    """Windows ``(start, stop)`` to test and row ranges no window covers.

    Full windows start every ``step`` rows. The rows after the last full
    window form a shorter last window (``partial='test'``, at least 2 rows)
    or are skipped. With ``step > window`` the rows between windows are
    skipped too.

    Returns
    -------
    bounds : list of (start, stop)
    partial_window : (start, stop) or None
        The shorter last window, when there is one to test.
    skipped : list of (start, stop)
    """
    step = _check(n, window, step, "fixed", partial)
    bounds = [(s, s + window) for s in range(0, n - window + 1, step)]
    skipped = [
        (e, s2) for (_, e), (s2, _) in zip(bounds, bounds[1:], strict=False) if s2 > e
    ]
    nxt = bounds[-1][0] + step
    last = None
    if nxt < n and partial == "test" and n - nxt >= 2:
        last = (nxt, n)
        if nxt > bounds[-1][1]:
            skipped.append((bounds[-1][1], nxt))
    elif bounds[-1][1] < n:
        skipped.append((bounds[-1][1], n))
    return bounds, last, skipped


def _describe(ranges) -> str:
    return ", ".join(f"{a}-{b - 1}" for a, b in ranges)


def _advice(n, window, step, partial, bounds) -> str:
    advice = []
    if partial == "drop" and bounds[-1][1] < n:
        advice.append("pass partial='test' to test the rows after the last full window")
    if step is not None and step > window:
        advice.append("use a step no larger than the window to cover every row")
    if partial == "test":
        advice.append("a last window is tested when it has at least 2 rows")
    return "; ".join(advice)


def scan(X, window, step, reference, partial, test_window, rng, alpha) -> DriftScan:
    """Test the windows of the validated stream ``X`` (see the detector's scan).

    ``test_window(ref, rows, bounds, seed)`` runs one test, ``ref`` being
    ``(rows, None)`` for the previous window or ``(None, None)`` for the
    fitted reference; ``rng`` (a RandomState) seeds each window's test.
    """
    n = X.shape[0]
    _check(n, window, step, reference, partial)
    bounds, last, skipped = window_bounds(n, window, step, partial)
    windows = bounds + ([last] if last else [])
    results = []
    for i, (s, e) in enumerate(windows):
        seed = rng.randint(np.iinfo(np.int32).max)
        if reference == "previous":
            if i == 0:
                continue
            ps, pe = windows[i - 1]
            ref = (X[ps:pe], None)
        else:
            ref = (None, None)
        try:
            results.append(test_window(ref, X[s:e], (s, e), seed))
        except InputError as exc:
            if (s, e) != last:
                raise
            skipped.append((s, e))
            warnings.warn(
                f"the last window of X_stream (rows {s}-{e - 1}) could not be "
                f"tested ({exc}); it is recorded in DriftScan.skipped.",
                UserWarning,
                stacklevel=3,
            )
    if skipped:
        where = _describe(sorted(skipped))
        warnings.warn(
            f"rows {where} of X_stream were not tested (see DriftScan.skipped): "
            + _advice(n, window, step, partial, bounds)
            + ".",
            UserWarning,
            stacklevel=3,
        )
    return DriftScan(results, alpha=alpha, skipped=sorted(set(skipped)))
