"""GaussianDriftMonitor: the statistic against a naive loop, the calibration
against exact run-length laws, persistence, and errors."""

import pickle

import numpy as np
import pytest
from scipy import special, stats
from sklearn.base import clone
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import NotFittedError
from sklearn.utils._param_validation import InvalidParameterError

from skkl import GaussianDriftMonitor, kl_divergence
from skkl._errors import InputError
from skkl.drift._online_calibration import _count, _levels, _pooled_hazard, _solve
from skkl.drift._online_reference import fit_reference
from skkl.drift._online_statistic import (
    PARTS,
    PSEUDO_ROWS,
    Stream,
    make_layout,
    window_summary,
)


def _fit(X, **kw):
    kw.setdefault("ert", 200)
    kw.setdefault("random_state", 0)
    kw.setdefault("n_simulated_rows", 2000)
    return GaussianDriftMonitor(**kw).fit(X)


# -- the statistic against a naive loop ----------------------------------------------


def _naive_evidence(Z, U, layout, factors):
    """Per-row statistic from raw rows: every part, window and pair by loops."""
    d, n, s = layout.d, layout.n_ref, layout.block
    g_feat, g_scale, g_pair = factors
    w = dict(zip(layout.part_names, np.exp(layout.log_weights()), strict=True))
    out = np.full(len(Z), -np.inf)
    for t in range(len(Z)):
        for m, step in zip(layout.lengths, layout.strides, strict=True):
            if m > t + 1 or (t + 1) % step:
                continue
            z, u = Z[t + 1 - m : t + 1], U[t + 1 - m : t + 1]
            me = m * n / (m + n)
            zbar = z.mean(0)
            T = me / 2 * zbar @ zbar
            p = special.gammaincc(d / 2, T)
            out[t] = max(out[t], np.log(w["mean"]) - np.log(p))
            best = 0.0
            for j in range(d):
                ub = u[:, j].mean()
                v = (np.sum((u[:, j] - ub) ** 2) + PSEUDO_ROWS) / (m + PSEUDO_ROWS)
                kl = ub**2 + g_feat[j] * (v - 1 - np.log(v))
                best = max(best, me / 2 * kl)
            out[t] = max(out[t], np.log(w["feature"] / d) + best)
            q = (np.sum(z * z) + PSEUDO_ROWS) / (m * d + PSEUDO_ROWS)
            T = me * d / 2 * g_scale * (q - 1 - np.log(q))
            out[t] = max(out[t], np.log(w["scale"]) - stats.chi2.logsf(2 * T, 1))
        if not layout.has_pairs or (t + 1) % s:
            continue
        for k, step in zip(layout.block_lengths, layout.block_strides, strict=True):
            m = k * s
            if m > t + 1 or ((t + 1) // s) % step:
                continue
            z = Z[t + 1 - m : t + 1]
            me = m * n / (m + n)
            C = np.cov(z.T, bias=True)
            v = (m * np.diag(C) + PSEUDO_ROWS) / (m + PSEUDO_ROWS)
            r2 = max(
                g_pair[i, j] * C[i, j] ** 2 / (v[i] * v[j])
                for i in range(d)
                for j in range(i + 1, d)
            )
            T = -me / 2 * np.log(1 - r2)
            J = d * (d - 1) / 2
            logp = np.log(J) + stats.chi2.logsf(2 * T, 1)
            out[t] = max(out[t], np.log(w["pair"]) - logp)
    return out


@pytest.mark.parametrize("d", [1, 3, 6])
def test_statistic_matches_naive_loop(d):
    rng = np.random.default_rng(d)
    A = rng.normal(size=(d, d))
    X = rng.normal(size=(300, d)) @ A + 5.0
    ref = fit_reference(X)
    layout = make_layout(d, 300, window=70, block=4)
    Y = (rng.normal(size=(90, d)) * 1.2 + 0.2) @ A + 5.0
    U, Z = ref.transform(Y)
    stream = Stream(layout)
    stream.use_tail_factors(*ref.tail_factors())
    got = stream.advance(U, Z)[0]
    want = _naive_evidence(Z, U, layout, ref.tail_factors())
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-9)


def test_standardisation_is_the_reference_whitening():
    X = load_breast_cancer().data
    ref = fit_reference(X)
    U, Z = ref.standardise(np.ldexp(X, -ref.exponent), clip=False)
    want_u = (X - X.mean(0)) / X.std(0)
    np.testing.assert_allclose(U, want_u, atol=1e-9)
    # Whitened rows of the reference have identity covariance.
    np.testing.assert_allclose(np.cov(Z.T, bias=True), np.eye(30), atol=1e-6)
    # Clipping: |u| <= 3.29 and ||z||^2 <= chi2_30's 0.999 quantile.
    Uc, Zc = ref.transform(X)
    assert np.abs(Uc).max() == pytest.approx(stats.norm.isf(5e-4))
    assert np.max(np.sum(Zc * Zc, axis=1)) <= stats.chi2.isf(1e-3, 30) * (1 + 1e-12)
    np.testing.assert_array_equal(Uc[np.abs(U) < 3], U[np.abs(U) < 3])
    np.testing.assert_allclose(ref.factor @ ref.factor.T, np.corrcoef(X.T), atol=1e-12)


@pytest.mark.parametrize("scale", [1e-200, 1e200])
def test_results_scale_with_the_data(scale):
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(400, 3)), rng.normal(size=(150, 3)) + [0.5, 0, 0]
    a = _fit(X).update(Y).statistics
    b = _fit(X * scale).update(Y * scale).statistics
    np.testing.assert_allclose(a, b, rtol=1e-9)


def test_statistic_does_not_depend_on_batches():
    rng = np.random.default_rng(1)
    mon = _fit(rng.normal(size=(500, 4)), window=60)
    Y = rng.normal(size=(700, 4)) + np.r_[0.0, 0.0, 0.0, 0.0] * 0
    Y[400:, 2] *= 2.0
    one = mon.update(Y)
    mon.reset()
    pieces, alarms, i = [], [], 0
    for b in [1, 7, 64, 1, 200, 3, 424]:
        st = mon.update(Y[i : i + b])
        pieces.append(st.statistics)
        alarms += [a.row for a in st.alarms]
        i += b
    np.testing.assert_allclose(np.concatenate(pieces), one.statistics, atol=1e-9)
    assert alarms == [a.row for a in one.alarms]
    assert mon.n_rows_ == 700


def test_effect_is_the_gaussian_kl_of_the_window():
    rng = np.random.default_rng(2)
    d, m = 4, 50
    z = rng.normal(size=(m, d)) * 1.5 + 0.3
    L = np.linalg.cholesky(np.eye(d) + 0.3)
    effect, scores = window_summary(z.sum(0), z.T @ z, m, L)
    zbar = z.mean(0)
    C = (np.cov(z.T, bias=True) * m + PSEUDO_ROWS * np.eye(d)) / (m + PSEUDO_ROWS)
    assert effect == pytest.approx(
        float(kl_divergence(zbar, C, np.zeros(d), np.eye(d))), rel=1e-10
    )
    Cu, ub = L @ C @ L.T, L @ zbar
    want = [
        float(kl_divergence(ub[j : j + 1], Cu[j : j + 1, j : j + 1], [0.0], [[1.0]]))
        for j in range(d)
    ]
    np.testing.assert_allclose(scores, want, rtol=1e-10)


def test_part_weights_sum_to_one():
    assert sum(p.weight for p in PARTS) == pytest.approx(1.0)
    lay = make_layout(1, 100, 20)
    assert lay.part_names == ("mean", "feature", "scale")
    assert np.exp(lay.log_weights()).sum() == pytest.approx(1.0)


# -- calibration ---------------------------------------------------------------------


def test_hazard_machinery_on_iid_paths():
    """i.i.d. Exp(1) evidence: the run length is geometric, ERT = e^h exactly."""
    rng = np.random.default_rng(3)
    ert = 300.0
    paths = rng.exponential(size=(40, 6000))
    levels = _levels(paths, 1, ert)
    table = _count(paths, 1, levels)
    h = _solve(levels, table.warm_mean + table.survive / _pooled_hazard(table), ert)
    # Events at e^-h over 240000 rows: ~800; the level is within a few % in ERT.
    assert np.exp(h) == pytest.approx(ert, rel=0.12)


def test_declustering_counts_each_cluster_once():
    """Every exceedance repeated for 5 rows: the hazard is that of the clusters."""
    rng = np.random.default_rng(4)
    base = rng.exponential(size=(20, 4000))
    paths = np.maximum.accumulate(
        np.lib.stride_tricks.sliding_window_view(
            np.pad(base, ((0, 0), (4, 0))), 5, axis=1
        ),
        axis=2,
    )[..., -1]
    ert = 400.0
    levels = _levels(paths, 5, ert)
    table = _count(paths, 5, levels)
    h = _solve(levels, table.warm_mean + table.survive / _pooled_hazard(table), ert)
    assert np.exp(h) == pytest.approx(ert, rel=0.2)


def _run_lengths(mon, rng, n_streams, d, cap):
    out = np.full(n_streams, float(cap))
    for s in range(n_streams):
        mon.reset()
        while mon.n_rows_ < cap:
            st = mon.update(rng.normal(size=(50, d)))
            if st.alarm:
                out[s] = st.alarms[0].row + 1
                break
    return out


@pytest.mark.slow
@pytest.mark.parametrize("calibration", ["resample", "parametric"])
def test_run_length_on_gaussian_streams(calibration):
    """ERT=200: mean run length and early alarms within sampling bands."""
    rng = np.random.default_rng(5)
    d, ert = 3, 200
    rls = []
    for r in range(3):
        mon = GaussianDriftMonitor(
            ert=ert, calibration=calibration, random_state=r, n_simulated_rows=8000
        ).fit(rng.normal(size=(1000, d)))
        rls.append(_run_lengths(mon, rng, 50, d, 10 * ert))
    rl = np.concatenate(rls)
    # Geometric run lengths: sd ~ mean, so the mean of 150 has a 8% error; the
    # calibration's own Monte Carlo error is ~15% (reported by the monitor).
    ratio = rl.mean() / ert
    if calibration == "resample":
        assert 0.7 <= ratio <= 1.6
    else:  # conservative by design: P(ARL >= ERT) >= 95%
        assert 0.85 <= ratio <= 4.0
    early = int(np.sum(rl <= ert / 10))
    # Not significantly above 0.15 (one-sided binomial test at 0.001).
    assert stats.binom.sf(early - 1, len(rl), 0.15) > 1e-3


def test_extrapolated_threshold_warns():
    rng = np.random.default_rng(17)
    with pytest.warns(UserWarning, match="extrapolated beyond the simulation"):
        GaussianDriftMonitor(ert=50000, n_simulated_rows=3000, random_state=0).fit(
            rng.normal(size=(300, 2))
        )


def test_calibration_reports_its_monte_carlo_error():
    rng = np.random.default_rng(6)
    mon = _fit(rng.normal(size=(400, 2)), n_simulated_rows=6000)
    cal = mon.calibration_
    assert cal.threshold == mon.threshold_
    assert cal.events > 0 and 0 < cal.relative_se < 1
    assert cal.rows >= 6000 and cal.replicates >= 20


# -- detection -----------------------------------------------------------------------


def test_detects_a_shift_and_names_the_feature():
    rng = np.random.default_rng(7)
    names = ["a", "b", "c", "d"]
    import pandas as pd

    mon = _fit(pd.DataFrame(rng.normal(size=(1000, 4)), columns=names), ert=1000)
    Y = rng.normal(size=(400, 4))
    Y[200:, 2] += 1.5
    st = mon.update(pd.DataFrame(Y, columns=names))
    assert st.alarm
    a = st.alarms[0]
    assert 200 <= a.row < 240 and 180 <= a.change_point <= a.row
    assert a.features[0] == "c" and a.effect > 0.3
    assert np.argmax(a.feature_scores) == 2


def test_detects_a_correlation_change_by_the_pair_part():
    rng = np.random.default_rng(8)
    d = 6
    mon = _fit(rng.normal(size=(3000, d)), ert=1000, window=300)
    C = np.eye(d)
    C[1, 4] = C[4, 1] = 0.9
    Y = rng.multivariate_normal(np.zeros(d), C, size=600)
    st = mon.update(Y)
    assert st.alarm and st.alarms[0].part in ("pair", "scale", "mean")
    assert st.alarms[0].row < 300


def test_state_without_alarm_describes_the_leading_window():
    rng = np.random.default_rng(9)
    mon = _fit(rng.normal(size=(500, 3)), ert=5000, n_simulated_rows=20000)
    st = mon.update(rng.normal(size=(50, 3)))
    assert not st.alarm and st.alarms == ()
    assert st.n_rows == 50 and len(st.statistics) == 50
    assert st.statistic == st.statistics[-1] < st.threshold
    assert 0 <= st.change_point < 50 and st.part in ("mean", "feature", "scale", "pair")
    assert st.effect >= 0 and len(st.features) == 3
    empty = mon.update(np.empty((0, 3)))
    assert empty.n_rows == 50 and empty.statistic == -np.inf and not empty.alarm


def test_one_row_update():
    rng = np.random.default_rng(10)
    mon = _fit(rng.normal(size=(300, 3)))
    assert mon.update(rng.normal(size=3)).n_rows == 1


# -- persistence ---------------------------------------------------------------------


def test_save_load_resumes_exactly(tmp_path):
    rng = np.random.default_rng(11)
    mon = _fit(rng.normal(size=(500, 3)), shrinkage="ledoit_wolf")
    mon.update(rng.normal(size=(123, 3)))
    mon.save(tmp_path / "m.npz")
    back = GaussianDriftMonitor.load(tmp_path / "m.npz")
    assert back.get_params() == mon.get_params()
    assert back.threshold_ == mon.threshold_ and back.n_rows_ == 123
    Y = rng.normal(size=(300, 3)) + [0, 0.8, 0]
    a, b = mon.update(Y), back.update(Y)
    np.testing.assert_array_equal(a.statistics, b.statistics)
    assert [x.row for x in a.alarms] == [x.row for x in b.alarms]
    # Nothing in the file needs pickle.
    with np.load(tmp_path / "m.npz", allow_pickle=False) as f:
        assert "meta" in f.files


def test_pickle_round_trip():
    rng = np.random.default_rng(12)
    mon = _fit(rng.normal(size=(300, 2)))
    mon.update(rng.normal(size=(40, 2)))
    back = pickle.loads(pickle.dumps(mon))
    Y = rng.normal(size=(100, 2))
    np.testing.assert_array_equal(mon.update(Y).statistics, back.update(Y).statistics)


def test_load_rejects_other_files(tmp_path):
    np.savez(tmp_path / "x.npz", a=np.ones(3))
    with pytest.raises(InputError, match="not a monitor file"):
        GaussianDriftMonitor.load(tmp_path / "x.npz")
    (tmp_path / "y.npz").write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a monitor file"):
        GaussianDriftMonitor.load(tmp_path / "y.npz")
    with pytest.raises(FileNotFoundError):
        GaussianDriftMonitor.load(tmp_path / "missing.npz")


# -- errors --------------------------------------------------------------------------


def test_missing_values_name_row_and_column():
    rng = np.random.default_rng(13)
    mon = _fit(rng.normal(size=(300, 3)))
    mon.update(rng.normal(size=(10, 3)))
    Y = rng.normal(size=(5, 3))
    Y[3, 1] = np.nan
    with pytest.raises(InputError, match="first at row 13, feature 1"):
        mon.update(Y)
    X = rng.normal(size=(300, 3))
    X[7, 2] = np.inf
    with pytest.raises(InputError, match="X_ref.*row 7, feature 2"):
        _fit(X)


def test_bad_shapes_and_unfitted():
    rng = np.random.default_rng(14)
    with pytest.raises(NotFittedError):
        GaussianDriftMonitor().update(np.ones((2, 2)))
    mon = _fit(rng.normal(size=(300, 3)))
    with pytest.raises(ValueError, match="fitted on 3"):
        mon.update(np.ones((4, 2)))


def test_constant_and_dependent_reference_features():
    rng = np.random.default_rng(15)
    X = rng.normal(size=(200, 3))
    X[:, 1] = 4.0
    with pytest.raises(InputError, match="feature 'x1' of X_ref is constant"):
        _fit(X)
    X = rng.normal(size=(200, 3))
    X[:, 2] = X[:, 0] - X[:, 1]
    with pytest.raises(ValueError, match="shrinkage='ledoit_wolf'"):
        _fit(X)
    assert np.isfinite(_fit(X, shrinkage="ledoit_wolf").threshold_)


@pytest.mark.parametrize(
    "params", [{"ert": 1}, {"window": 0}, {"calibration": "x"}, {"delta": 1.0}]
)
def test_parameters_are_validated(params):
    with pytest.raises(InvalidParameterError):
        GaussianDriftMonitor(**params).fit(
            np.random.default_rng(0).normal(size=(50, 2))
        )


def test_clone_and_reset():
    rng = np.random.default_rng(16)
    mon = _fit(rng.normal(size=(300, 2)))
    assert clone(mon).get_params() == mon.get_params()
    mon.update(rng.normal(size=(10, 2)) + 5)
    mon.reset()
    assert mon.n_rows_ == 0 and mon.n_alarms_ == 0
