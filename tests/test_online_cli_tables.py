"""``skkl monitor`` on mixed files: text columns, missing cells, --categorical."""

import json

import numpy as np
import pytest

from skkl import GaussianDriftMonitor
from skkl.cli import main as skkl_main

pd = pytest.importorskip("pandas")

LEVELS = ["1", "2", "x"]  # numbers and text: the column is text in REF


def main(args):
    return skkl_main(["monitor", *args])


def _table(rng, n, p=(0.5, 0.3, 0.2), miss=0.1):
    x = rng.normal(size=n)
    x[rng.random(n) < miss] = np.nan
    c = rng.choice(LEVELS, size=n, p=p).astype(object)
    c[rng.random(n) < 0.02] = None  # missing categorical cells
    return pd.DataFrame({"c": c, "x": x, "y": rng.normal(size=n)})


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("monitor_tables")
    rng = np.random.default_rng(0)
    _table(rng, 1500).to_csv(tmp / "ref.csv", index=False)
    quiet = _table(rng, 300)
    # The first chunk (batch size 20) holds only numbers in the text column.
    quiet.loc[:19, "c"] = rng.choice(["1", "2"], size=20)
    quiet.to_csv(tmp / "quiet.csv", index=False)
    shifted = pd.concat([_table(rng, 300), _table(rng, 700, p=(0.2, 0.3, 0.5))])
    shifted.to_csv(tmp / "shifted.csv", index=False)
    missing = pd.concat([_table(rng, 300), _table(rng, 700, miss=0.5)])
    missing.to_csv(tmp / "missing.csv", index=False)
    saved = str(tmp / "ref.npz")
    args = [str(tmp / "ref.csv"), str(tmp / "quiet.csv"), "--ert", "1000"]
    assert main([*args, "--save-reference", saved, "--batch-size", "20"]) == 0
    return {
        k: str(tmp / f"{k}.csv") for k in ("ref", "quiet", "shifted", "missing")
    } | {
        "saved": saved,
        "tmp": tmp,
    }


def _alarms(capsys):
    out = json.loads(capsys.readouterr().out)
    return [(a["row"], a["part"], a["features"][0]) for a in out["alarms"]]


def test_saved_table_monitor_is_a_table_monitor(files):
    monitor = GaussianDriftMonitor.load(files["saved"])
    names = list(monitor.encoding_.feature_names)
    assert "x (missing)" in names and any(n.startswith("c=") for n in names)


def test_numbers_only_chunk_stays_categorical(files, capsys):
    # Read with REF's kinds, a chunk of '1'/'2' cells is still the levels
    # '1' and '2' (not a numeric column): same statistic at any batch size.
    results = []
    for batch in ("20", "1000"):
        assert main([files["saved"], files["quiet"], "--batch-size", batch]) == 0
        results.append(capsys.readouterr().out.splitlines()[-1])
    assert results[0] == results[1] == "300 rows watched, 0 alarm(s)"


@pytest.mark.parametrize("stream", ["shifted", "missing"])
def test_change_alarms_on_its_column(files, capsys, stream):
    assert main([files["saved"], files[stream], "--json"]) == 1
    alarms = _alarms(capsys)
    after = [a for a in alarms if a[0] >= 300]
    assert after and after[0][0] < 600
    # A short first window can name another column: most alarms name it.
    column = "c" if stream == "shifted" else "x"
    assert sum(a[2] == column for a in after) > len(after) / 2


def test_fitted_and_reloaded_monitor_give_the_same_alarms(files, capsys):
    fit = [files["ref"], files["shifted"], "--ert", "1000", "--json"]
    assert main(fit) == 1
    fresh = _alarms(capsys)
    assert main([files["saved"], files["shifted"], "--json"]) == 1
    assert _alarms(capsys) == fresh


def test_categorical_flag_makes_codes_levels(files, capsys):
    rng = np.random.default_rng(1)
    tmp = files["tmp"]
    ref = pd.DataFrame({"code": rng.integers(0, 3, 1500), "y": rng.normal(size=1500)})
    ref.to_csv(tmp / "codes.csv", index=False)
    saved = str(tmp / "codes.npz")
    args = [str(tmp / "codes.csv"), str(tmp / "codes.csv"), "--ert", "500"]
    assert main([*args, "--categorical", "code", "--save-reference", saved]) in (0, 1)
    capsys.readouterr()
    names = list(GaussianDriftMonitor.load(saved).encoding_.feature_names)
    assert sum(n.startswith("code=") for n in names) == 2  # 3 levels, 1 baseline
    # Code 2 takes over: a level-frequency change of the coded column.
    new = pd.DataFrame({"code": np.full(400, 2), "y": rng.normal(size=400)})
    new.to_csv(tmp / "codes_new.csv", index=False)
    assert main([saved, str(tmp / "codes_new.csv")]) == 1
    assert "features: code (" in capsys.readouterr().out


def test_bad_categorical_and_saved_kinds_exit_2(files, capsys):
    args = [files["ref"], files["quiet"], "--ert", "1000"]
    assert main([*args, "--categorical", "nope"]) == 2
    assert "no column named 'nope'" in capsys.readouterr().err
    assert main([files["saved"], files["quiet"], "--categorical", "c"]) == 2
    assert "omit --categorical" in capsys.readouterr().err
