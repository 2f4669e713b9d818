"""``skkl frechet A B``: feature files and statistics files, outputs, exit codes."""

import json

import numpy as np
import pytest

from skkl import FeatureMoments, frechet_distance, frechet_interval
from skkl.cli import main


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(400, 5)).astype(np.float32)
    Y = rng.normal(size=(300, 5)) * 1.2 + 0.3
    out = {"X": X, "Y": Y}
    np.save(tmp_path / "a.npy", X)
    np.savetxt(
        tmp_path / "b.csv", Y, delimiter=",", header="f0,f1,f2,f3,f4", comments=""
    )
    np.savetxt(tmp_path / "b_noheader.tsv", Y, delimiter="\t")
    np.savez(tmp_path / "b_features.npz", features=Y)
    FeatureMoments().update(X).save(tmp_path / "a_stats.npz")
    # pytorch-fid's statistics file: mu and sigma only
    np.savez_compressed(
        tmp_path / "b_pf.npz", mu=Y.mean(0), sigma=np.cov(Y, rowvar=False)
    )
    return tmp_path, out


def _main(capsys, *argv):
    code = main(["frechet", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize(
    "a, b",
    [
        ("a.npy", "b.csv"),
        ("a.npy", "b_noheader.tsv"),
        ("a.npy", "b_features.npz"),
        ("a_stats.npz", "b.csv"),
        ("a_stats.npz", "b_pf.npz"),
    ],
)
def test_every_kind_of_file_gives_the_same_distance(files, capsys, a, b):
    folder, data = files
    expected = frechet_distance(data["X"], data["Y"])
    code, out, err = _main(capsys, folder / a, folder / b, "--json")
    assert code == 0 and err == ""
    payload = json.loads(out)
    assert payload["distance"] == pytest.approx(expected, rel=1e-12)
    rows_b = None if b == "b_pf.npz" else 300
    assert payload["n_samples"] == {"A": 400, "B": rows_b}


def test_interval_text_and_json(files, capsys):
    folder, data = files
    code, out, _ = _main(capsys, folder / "a.npy", folder / "b.csv", "--interval")
    assert code == 0
    res = frechet_interval(data["X"], data["Y"], random_state=0)
    assert "Fréchet distance (plain): " in out
    assert f"95% interval [{res.low:.6g}, {res.high:.6g}]" in out
    assert "rows of A and B" in out
    code, out, _ = _main(
        capsys,
        folder / "a_stats.npz",
        folder / "b.csv",
        "--interval",
        "--json",
        "--confidence-level",
        "0.9",
        "--groups",
        "5",
        "--seed",
        "3",
    )
    payload = json.loads(out)
    res = frechet_interval(
        FeatureMoments.load(folder / "a_stats.npz"),
        data["Y"],
        confidence_level=0.9,
        n_groups=5,
        random_state=3,
    )
    assert payload["resampled"] == ["B"]
    assert payload["low"] == pytest.approx(res.low)
    assert payload["high"] == pytest.approx(res.high)


def test_unbiased_mean_term_flag(files, capsys):
    folder, data = files
    code, out, _ = _main(
        capsys, folder / "a.npy", folder / "b.csv", "--unbiased-mean-term", "--json"
    )
    expected = frechet_distance(data["X"], data["Y"], unbiased_mean_term=True)
    assert json.loads(out)["distance"] == pytest.approx(expected, rel=1e-12)
    code, _, err = _main(
        capsys, folder / "a.npy", folder / "b_pf.npz", "--unbiased-mean-term"
    )
    assert code == 2
    assert "--unbiased-mean-term needs the number of rows behind B" in err


def _bad_files(folder):
    np.save(folder / "one_d.npy", np.zeros(5))
    np.save(folder / "text.npy", np.array(["a", "b"]))
    np.save(folder / "one_row.npy", np.zeros((1, 5)))
    np.savez(folder / "two.npz", x=np.zeros((3, 5)), y=np.ones(3))
    (folder / "junk.npz").write_bytes(b"junk")
    (folder / "junk.npy").write_bytes(b"junk")
    nan = np.ones((20, 5)) + np.arange(100).reshape(20, 5)
    nan[7, 3] = np.nan
    np.save(folder / "nan.npy", nan)
    np.save(folder / "three.npy", np.zeros((10, 3)))
    np.savez(folder / "no_sigma.npz", mu=np.zeros(5), s=np.eye(5))
    (folder / "words.csv").write_text("a,b\nx,y\nz,w\n")


@pytest.mark.parametrize(
    "b, message",
    [
        ("missing.npy", "missing.npy: no such file"),
        ("one_d.npy", "one_d.npy: expected a 2-D array of features"),
        ("text.npy", "text.npy: holds <U1 values, not numbers"),
        ("one_row.npy", "one_row.npy: has 1 row(s)"),
        ("two.npz", "two.npz: holds arrays ['x', 'y']"),
        ("junk.npz", "junk.npz: not a readable .npz file"),
        ("junk.npy", "junk.npy: not a readable .npy file"),
        ("nan.npy", r"nan.npy: B contains NaN or infinity (first at index (7, 3))"),
        ("three.npy", "three.npy: A has 5 features but B has 3"),
        ("no_sigma.npz", "no_sigma.npz: holds arrays ['mu', 's']"),
        ("words.csv", "words.csv"),
    ],
)
def test_bad_files_exit_2_naming_the_file(files, capsys, b, message):
    folder, _ = files
    _bad_files(folder)
    code, out, err = _main(capsys, folder / "a.npy", folder / b)
    assert code == 2, err
    assert out == ""
    assert message in err
    assert "Traceback" not in err


def test_flags_are_checked_before_reading(capsys, tmp_path):
    for flag, value in (
        ("--groups", "1"),
        ("--confidence-level", "1"),
        ("--seed", "-1"),
    ):
        code, _, err = _main(
            capsys, tmp_path / "x.npy", tmp_path / "y.npy", flag, value
        )
        assert code == 2 and f"argument {flag}" in err


def test_interval_needs_rows(files, capsys):
    folder, _ = files
    code, _, err = _main(
        capsys, folder / "a_stats.npz", folder / "b_pf.npz", "--interval"
    )
    assert code == 2 and "--interval resamples rows" in err
