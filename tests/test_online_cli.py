"""``skkl monitor``: exit statuses, alarms, saved references, chunked reading."""

import gzip
import json
import subprocess
import sys

import numpy as np
import pytest

from skkl.cli import main as skkl_main

pd = pytest.importorskip("pandas")


def main(args):
    return skkl_main(["monitor", *args])


def _write(path, X, names="abc"):
    pd.DataFrame(X, columns=list(names)).to_csv(path, index=False)
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("monitor")
    rng = np.random.default_rng(0)
    ref = _write(tmp / "ref.csv", rng.normal(size=(800, 3)))
    quiet = _write(tmp / "quiet.csv", rng.normal(size=(150, 3)))
    Y = rng.normal(size=(1500, 3))
    Y[1000:, 1] += 1.5
    shifted = _write(tmp / "shifted.csv", Y)
    saved = str(tmp / "ref.npz")
    args = [ref, quiet, "--ert", "1000", "--save-reference", saved, "--seed", "1"]
    assert main(args) == 0
    return {"tmp": tmp, "ref": ref, "quiet": quiet, "shifted": shifted, "saved": saved}


def test_quiet_stream_exits_0(files, capsys):
    assert main([files["saved"], files["quiet"]]) == 0
    out = capsys.readouterr().out
    assert "150 rows watched, 0 alarm(s)" in out and "ERT 1000 " in out


def test_alarm_exits_1_with_row_change_point_and_feature(files, capsys):
    assert main([files["saved"], files["shifted"]]) == 1
    out = capsys.readouterr().out
    alarms = [x for x in out.splitlines() if x.startswith("ALARM")]
    rows = [int(x.split("data row ")[1].split(":")[0]) for x in alarms]
    # The first alarm after the change (a false alarm before it is allowed).
    k = next(i for i, r in enumerate(rows) if r > 1000)
    start = int(alarms[k].split("change from row ")[1].split(" ")[0])
    assert rows[k] < 1060 and 960 <= start <= rows[k]
    assert "features: b (" in alarms[k]
    assert sum(r <= 1000 for r in rows) <= 2


def test_alarms_do_not_depend_on_batch_size(files, capsys):
    main([files["saved"], files["shifted"], "--json"])
    a = json.loads(capsys.readouterr().out)["alarms"]
    main([files["saved"], files["shifted"], "--json", "--batch-size", "37"])
    b = json.loads(capsys.readouterr().out)["alarms"]
    assert len(a) == len(b) > 0
    for x, y in zip(a, b, strict=True):
        assert (x["row"], x["change_point"], x["part"]) == (
            y["row"],
            y["change_point"],
            y["part"],
        )
        assert x["statistic"] == pytest.approx(y["statistic"], rel=1e-9)


def test_table_reference_needs_ert(files, capsys):
    assert main([files["ref"], files["quiet"]]) == 2
    assert "--ert is required" in capsys.readouterr().err


def test_saved_reference_conflicting_flag(files, capsys):
    assert main([files["saved"], files["quiet"], "--ert", "50"]) == 2
    assert "calibrated with --ert 1000" in capsys.readouterr().err


@pytest.mark.parametrize(
    "content, message",
    [
        ("a,b,c\n1,2,3\n1,,3\n", "data row 2 has a missing"),
        ("a,b\n1,2\n", "no column named 'c'"),
        ("a,b,c\n1,2,3\n1,x,3\n", "numbers"),
    ],
)
def test_bad_stream_exits_2(files, capsys, content, message):
    path = files["tmp"] / "bad.csv"
    path.write_text(content)
    assert main([files["saved"], str(path)]) == 2
    assert message in capsys.readouterr().err


def test_missing_file_and_bad_flag(files, capsys):
    assert main([files["saved"], str(files["tmp"] / "nope.csv")]) == 2
    assert main([files["ref"], files["quiet"], "--ert", "-3"]) == 2
    assert main([files["ref"], files["quiet"], "--ert", "100", "--delta", "2"]) == 2


def test_gzip_and_parquet_streams(files, capsys):
    pytest.importorskip("pyarrow")
    df = pd.read_csv(files["shifted"])
    gz = files["tmp"] / "s.csv.gz"
    with gzip.open(gz, "wt") as fh:
        df.to_csv(fh, index=False)
    pq = files["tmp"] / "s.parquet"
    df.to_parquet(pq)
    main([files["saved"], files["shifted"], "--json"])
    want = [a["row"] for a in json.loads(capsys.readouterr().out)["alarms"]]
    for path in (gz, pq):
        assert main([files["saved"], str(path), "--json"]) == 1
        got = json.loads(capsys.readouterr().out)["alarms"]
        assert [a["row"] for a in got] == want


def test_stdin_stream_in_a_subprocess(files):
    data = open(files["shifted"]).read()
    done = subprocess.run(
        [sys.executable, "-m", "skkl", "monitor", files["saved"], "-"],
        input=data,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    assert "ALARM at data row" in done.stdout
