"""Hostile input to the online monitor (issues 21, 24): each refusal names the
parameter, says why and gives a fix that exists; nothing is allocated that
cannot succeed, and no stream value turns the statistic into NaN."""

from __future__ import annotations

import tracemalloc
import warnings

import numpy as np
import pytest
from sklearn.utils._param_validation import InvalidParameterError

from skkl import GaussianDriftMonitor
from skkl._errors import InputError
from skkl.cli import main
from skkl.drift._online_calibration import (
    DEFAULT_EVENTS,
    MAX_SIMULATED_ROWS,
    PARAMETRIC_EVENTS,
    check_settings,
    simulated_rows,
)

CLI_NAMES = {
    "X_ref": "REF",
    "X": "STREAM",
    "ert": "--ert",
    "window": "--window",
    "calibration": "--calibration",
    "delta": "--delta",
    "shrinkage": "--shrinkage",
}


@pytest.fixture(scope="module")
def ref():
    return np.random.default_rng(0).normal(size=(200, 3))


def _write(path, X, header=("a", "b", "c")):
    lines = [",".join(header)] + [",".join(map(repr, r)) for r in X.tolist()]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


# -- 1. simulation size bounded up front ------------------------------------------


def test_huge_ert_is_refused_before_any_allocation(ref):
    tracemalloc.start()
    with pytest.raises(InputError) as info:
        GaussianDriftMonitor(ert=1e12, random_state=0).fit(ref)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    err = info.value
    assert err.argument == "ert" and peak < 50 * 2**20
    assert "ert=1000000000000 asks for a calibration over 4e+13" in str(err)
    assert "--ert 1000000000000" in err.render(CLI_NAMES)
    # The target it offers is one the limit admits, and only just.
    most = int(str(err).split("at most ")[1].split(" ")[0])
    window = min(500, len(ref) // 4)
    assert simulated_rows(most, window, None, "resample") <= MAX_SIMULATED_ROWS
    assert simulated_rows(most * 1.02, window, None, "resample") > MAX_SIMULATED_ROWS
    check_settings(most, window, len(ref), "resample")


def test_parametric_limit_offers_the_resample_calibration():
    ert = MAX_SIMULATED_ROWS / (0.5 * (DEFAULT_EVENTS + PARAMETRIC_EVENTS))
    with pytest.raises(InputError) as info:
        check_settings(ert, 50, 200, "parametric")
    text = info.value.render(CLI_NAMES)
    assert "--calibration parametric simulates 100" in text
    assert "or --calibration resample" in text
    check_settings(ert, 50, 200, "resample")  # the offered fix is admitted


def test_simulated_rows_and_window_limits_name_their_parameter():
    with pytest.raises(InputError) as info:
        check_settings(1000, 50, 200, "resample", n_rows=10**9)
    assert info.value.argument == "n_simulated_rows"
    most = int(str(info.value).split("at most ")[1].split(" ")[0])
    check_settings(1000, 50, 200, "resample", n_rows=most)
    # Warm-ups alone over the limit: the window is at fault, not the target.
    with pytest.raises(InputError) as info:
        check_settings(1000, 10**6, 2 * 10**6, "resample")
    assert info.value.argument == "window"


# -- 2. delta beyond what the simulation resolves -----------------------------------


def test_tiny_delta_names_the_smallest_it_can_honour(ref):
    mon = GaussianDriftMonitor(ert=200, calibration="parametric", random_state=0)
    with pytest.raises(InputError) as info:
        mon.set_params(delta=1e-12).fit(ref)
    err = info.value
    assert err.argument == "delta"
    fix = err.fields["fix"].value
    assert 1e-12 < fix < 0.5
    assert f"use --delta {fix}" in err.render(CLI_NAMES)
    # The fix is honoured: the threshold sits among simulated false alarms.
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        mon.set_params(delta=fix).fit(ref)
    assert mon.calibration_.events >= 10


# -- 3. dependent reference features -------------------------------------------------


@pytest.mark.parametrize("j, k", [(1, 0), (2, 1), (4, 0), (3, 2)])
def test_dependent_feature_is_named_with_the_shrinkage_fix(j, k):
    # A copy scaled by a power of two standardises to the same bits: the
    # dependence is exact (a combination in floating point is only near it,
    # and is kept: a stream that breaks it is a change).
    rng = np.random.default_rng(j)
    X = rng.normal(size=(300, 5))
    X[:, j] = X[:, k] * 2.0**j
    # Independent reference: the first column that adds no rank.
    ranks = [np.linalg.matrix_rank(X[:, : c + 1]) for c in range(5)]
    first = next(c for c in range(5) if ranks[c] < c + 1)
    with pytest.raises(InputError) as info:
        GaussianDriftMonitor(ert=100).fit(X)
    err = info.value
    assert err.argument == "X_ref" and err.column == first == j
    assert "shrinkage='ledoit_wolf'" in str(err)
    assert "Use --shrinkage ledoit_wolf" in err.render(CLI_NAMES)
    GaussianDriftMonitor(ert=100, shrinkage="ledoit_wolf", random_state=0).fit(X)


def test_dependent_feature_in_the_cli_names_ref_and_the_flag(tmp_path, capsys):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(100, 3))
    X[:, 2] = X[:, 0]
    ref = _write(tmp_path / "r.csv", X)
    stream = _write(tmp_path / "s.csv", rng.normal(size=(20, 3)))
    assert main(["monitor", ref, stream, "--ert", "100"]) == 2
    err = capsys.readouterr().err
    assert "the features of REF are linearly dependent: feature 'c'" in err
    assert "--shrinkage ledoit_wolf" in err and "shrinkage=" not in err


# -- 4. window and ERT ---------------------------------------------------------------


def test_window_longer_than_reference_is_refused(ref):
    with pytest.raises(InputError) as info:
        GaussianDriftMonitor(ert=100, window=len(ref) + 1).fit(ref)
    assert info.value.argument == "window"
    assert f"at most {len(ref)} rows" in str(info.value)
    # The whole reference is a valid window, and so is one longer than the ERT.
    mon = GaussianDriftMonitor(ert=20, window=len(ref), random_state=0).fit(ref)
    assert mon.window_ == len(ref) and np.isfinite(mon.threshold_)


def test_ert_below_two_is_refused_and_two_calibrates(ref, capsys):
    with pytest.raises(InvalidParameterError, match="'ert'"):
        GaussianDriftMonitor(ert=1.5).fit(ref)
    mon = GaussianDriftMonitor(ert=2, random_state=0).fit(ref)
    assert np.isfinite(mon.threshold_)
    assert main(["monitor", "r.csv", "s.csv", "--ert", "1.5"]) == 2
    assert "--ert: must be in [2, inf), got 1.5" in capsys.readouterr().err


# -- 5. missing, infinite and extreme values -----------------------------------------


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_stream_value_names_row_and_column(ref, bad):
    mon = GaussianDriftMonitor(ert=100, random_state=0).fit(ref)
    mon.update(np.zeros((5, 3)))
    S = np.zeros((10, 3))
    S[7, 2] = bad
    with pytest.raises(InputError) as info:
        mon.update(S)
    err = info.value
    assert (err.argument, err.row, err.column) == ("X", 12, 2)
    assert err.render(CLI_NAMES).startswith("STREAM has 1 row(s)")


def test_column_count_mismatch_names_the_stream(ref):
    mon = GaussianDriftMonitor(ert=100, random_state=0).fit(ref)
    with pytest.raises(InputError) as info:
        mon.update(np.zeros((4, 2)))
    assert info.value.argument == "X"
    assert "STREAM has 2 features" in info.value.render(CLI_NAMES)


def test_cli_names_the_file_row_and_column(tmp_path, ref, capsys):
    rng = np.random.default_rng(2)
    good = _write(tmp_path / "ref.csv", ref)
    for name, bad in (("nan", np.nan), ("inf", np.inf)):
        S = rng.normal(size=(30, 3))
        S[17, 1] = bad
        path = _write(tmp_path / f"{name}.csv", S)
        assert main(["monitor", good, path, "--ert", "100"]) == 2
        err = capsys.readouterr().err
        assert f"{path}: data row 18 has a missing or non-finite value in " in err
        assert "column 'b'" in err
    R = ref.copy()
    R[5, 0] = np.nan
    path = _write(tmp_path / "refnan.csv", R)
    # A REF with missing cells is watched as a table (missing cells kept).
    assert main(["monitor", path, good, "--ert", "100"]) in (0, 1)
    assert capsys.readouterr().err == ""
    short = _write(tmp_path / "short.csv", rng.normal(size=(5, 2)), ("a", "b"))
    assert main(["monitor", good, short, "--ert", "100"]) == 2
    assert "no column named 'c'" in capsys.readouterr().err


@pytest.mark.parametrize("calibration", ["resample", "parametric"])
@pytest.mark.parametrize("value", [1e50, 1e200, 1e308, -1e308])
def test_extreme_stream_values_never_give_nan(ref, calibration, value):
    mon = GaussianDriftMonitor(ert=100, calibration=calibration, random_state=0)
    mon.fit(ref)
    S = np.random.default_rng(3).normal(size=(40, 3))
    S[10, 0] = value
    state = mon.update(S)  # RuntimeWarnings from skkl are errors here
    assert not np.isnan(state.statistics).any()
    if calibration == "parametric":  # unclipped: an outlier is evidence
        assert state.alarm and state.alarms[0].row == 10


def test_tiny_reference_against_unit_stream_stays_finite(ref):
    mon = GaussianDriftMonitor(ert=100, random_state=0).fit(ref * 1e-300)
    state = mon.update(np.random.default_rng(4).normal(size=(20, 3)))
    assert not np.isnan(state.statistics).any() and state.alarm
