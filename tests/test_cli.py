"""The ``skkl`` command line: outputs, files written and exit codes.

Most cases call ``main(argv)`` in-process (a subprocess costs a second of
imports); a few run the real thing: ``python -m skkl demo``, an error path
through ``python -m skkl``, and ``skkl drift`` with pandas unimportable.
"""

import csv
import gzip
import io
import json
import os
import subprocess
import sys
import warnings
from importlib.metadata import entry_points

import numpy as np
import pytest
from _builders import random_spd
from sklearn.datasets import load_iris

from skkl import Gaussians, kl_divergence
from skkl._progress import ProgressBar
from skkl.cli import _pairwise, main
from skkl.divergence import divergence


def _run(*args, pre=None, timeout=120):
    """Run ``python -m skkl ARGS`` (or ``pre`` code then main) in a subprocess."""
    if pre is None:
        cmd = [sys.executable, "-m", "skkl", *args]
    else:
        run = f"from skkl.cli import main\nsys.exit(main({list(args)!r}))"
        code = f"import sys\n{pre}\n{run}"
        cmd = [sys.executable, "-c", code]
    env = {**os.environ, "MPLBACKEND": "Agg"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)


def _assert_runs(code, timeout=120):
    """Run ``python -c code`` in a fresh interpreter; it must exit with 0."""
    cmd = [sys.executable, "-c", code]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, proc.stderr


def _write_csv(path, header, rows):
    with open(path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(header)
        writer.writerows(rows)
    return str(path)


def _full_gaussians(K, d, seed=0):
    rng = np.random.default_rng(seed)
    covs = random_spd(rng, d, (K,), ridge=1.0)
    return rng.normal(size=(K, d)), covs


def _pointwise_kl_matrix(means, covs):
    K = len(means)
    return np.array(
        [
            [kl_divergence(means[i], covs[i], means[j], covs[j]) for j in range(K)]
            for i in range(K)
        ]
    )


@pytest.fixture(scope="module")
def iris_csv(tmp_path_factory):
    data = load_iris()
    names = ["sepal_length", "sepal_width", "petal_length", "petal_width"]
    rows = [
        [*x, data.target_names[t]] for x, t in zip(data.data, data.target, strict=True)
    ]
    path = tmp_path_factory.mktemp("iris") / "iris.csv"
    return _write_csv(path, [*names, "species"], rows)


@pytest.fixture(scope="module")
def drift_csvs(tmp_path_factory):
    rng = np.random.default_rng(0)
    d = tmp_path_factory.mktemp("drift")
    header = ["a", "b", "c", "label"]

    def write(name, X):
        rows = [[*x, "x"] for x in X]  # a non-numeric column to skip
        return _write_csv(d / name, header, rows), X

    ref = write("ref.csv", rng.normal(size=(300, 3)))
    same = write("same.csv", rng.normal(size=(200, 3)))
    shifted = write("shifted.csv", rng.normal(size=(200, 3)) + [0.0, 0.6, 0.0])
    return ref, same, shifted


# -- subprocess runs ------------------------------------------------------------


def test_demo_subprocess(tmp_path):
    try:
        import matplotlib  # noqa: F401

        plot = ["--plot", str(tmp_path)]
    except ImportError:  # the plot extra is optional: the tables still run
        plot = []
    proc = _run("demo", *plot)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for heading in (
        "1. Class Gaussians on wine",
        "2. Separability",
        "3. Feature selection on digits",
        "4. Drift detection on wine",
    ):
        assert heading in out
    # The printed KL matrix agrees with kl_divergence on per-class ML fits.
    from sklearn.datasets import load_wine
    from sklearn.preprocessing import StandardScaler

    wine = load_wine()
    X = StandardScaler().fit_transform(wine.data)
    fits = [
        (X[wine.target == c].mean(0), np.cov(X[wine.target == c].T, bias=True))
        for c in range(3)
    ]
    lines = out.split("KL(row || column), nats:")[1].splitlines()[3:6]
    printed = np.array([[float(v) for v in line.split()[1:]] for line in lines])
    expected = np.array(
        [
            [
                kl_divergence(m0, S0 + 1e-6 * np.eye(13), m1, S1 + 1e-6 * np.eye(13))
                for m1, S1 in fits
            ]
            for m0, S0 in fits
        ]
    )
    np.testing.assert_allclose(printed, expected, rtol=1e-3)
    assert "Bhattacharyya" in out
    assert "<= error <=" in out
    # The shifted batch drifts, and its two shifted features lead the table.
    table = out.split("most drifted features of the shifted batch:")[1].splitlines()
    assert {table[3].split()[0], table[4].split()[0]} == {"alcohol", "flavanoids"}
    assert "shifted" in out and "unchanged" in out
    if plot:
        for name in ("wine_kl_matrix.png", "wine_ellipses.png", "wine_drift.png"):
            assert (tmp_path / name).stat().st_size > 1000
    assert proc.stderr == ""


def test_error_exit_code_subprocess(tmp_path):
    proc = _run("pairwise", str(tmp_path / "missing.npz"))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert "missing.npz: no such file" in proc.stderr


def test_drift_subprocess_without_pandas(drift_csvs):
    from skkl.drift import GaussianDriftDetector

    (ref, X_ref), (cur, X_cur), _ = drift_csvs
    pre = "sys.modules['pandas'] = None  # import pandas now fails"
    proc = _run("drift", ref, cur, "--columns", "a,b,c", "--json", pre=pre)
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    expected = GaussianDriftDetector(random_state=0).fit(X_ref).test(X_cur)
    assert payload["is_drift"] == 0
    assert payload["p_value"] == pytest.approx(expected.p_value)


# -- entry points, help, version ------------------------------------------------


def test_console_script_entry_point():
    (ep,) = [e for e in entry_points(group="console_scripts") if e.name == "skkl"]
    assert ep.value == "skkl.cli:main" and ep.load() is main


def test_version_and_help(capsys):
    from skkl import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out.strip() == f"skkl {__version__}"
    assert main([]) == 0  # no command: help
    out = capsys.readouterr().out
    for command in ("demo", "pairwise", "separability", "drift"):
        assert command in out
    assert main(["drift", "--help"]) == 0
    out = capsys.readouterr().out
    assert "exit status" in out and "1  drift detected" in out
    assert main(["frobnicate"]) == 2
    assert "invalid choice" in capsys.readouterr().err


# -- pairwise -------------------------------------------------------------------


def test_pairwise_npz_matches_pointwise(tmp_path, capsys):
    means, covs = _full_gaussians(4, 3)
    np.savez(tmp_path / "g.npz", means=means, covariances=covs)
    expected = _pointwise_kl_matrix(means, covs)

    assert (
        main(["pairwise", str(tmp_path / "g.npz"), "--out", str(tmp_path / "D.npy")])
        == 0
    )
    np.testing.assert_allclose(np.load(tmp_path / "D.npy"), expected, rtol=1e-10)
    assert "wrote 4x4 kl matrix" in capsys.readouterr().out

    assert (
        main(["pairwise", str(tmp_path / "g.npz"), "--out", str(tmp_path / "D.csv")])
        == 0
    )
    D = np.loadtxt(tmp_path / "D.csv", delimiter=",")
    np.testing.assert_allclose(D, expected, rtol=1e-12)

    capsys.readouterr()
    assert main(["pairwise", str(tmp_path / "g.npz")]) == 0
    lines = capsys.readouterr().out.splitlines()
    row = lines[4].split()  # caption, header, rule, row 0, row 1
    assert row[0] == "1"
    np.testing.assert_allclose([float(v) for v in row[1:]], expected[1], rtol=1e-3)


def test_pairwise_packed_csv_and_stored_type(tmp_path, capsys):
    rng = np.random.default_rng(1)
    means, var = rng.normal(size=(5, 2)), rng.uniform(0.5, 2.0, size=(5, 2))
    G = Gaussians(means, var, "diag")
    packed = tmp_path / "packed.csv"
    np.savetxt(packed, G.pack(), delimiter=",")
    expected = np.array(
        [
            [float(divergence(G[i], G[j], "hellinger")[0]) for j in range(5)]
            for i in range(5)
        ]
    )
    out = str(tmp_path / "H.npy")
    args = ["pairwise", str(packed), "--kind", "hellinger", "--out", out]
    assert main([*args, "--covariance-type", "diag"]) == 0
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-10, atol=1e-14)

    # The covariance type stored in the .npz is used (and may not contradict).
    np.savez(tmp_path / "d.npz", means=means, covariances=var, covariance_type="diag")
    args = ["pairwise", str(tmp_path / "d.npz"), "--kind", "hellinger", "--out", out]
    assert main(args) == 0
    np.testing.assert_allclose(np.load(out), expected, rtol=1e-10, atol=1e-14)
    # Shapes tell a tied covariance (K != d): KL = squared Mahalanobis / 2.
    S = np.array([[2.0, 0.5], [0.5, 1.0]])
    np.savez(tmp_path / "t.npz", means=means, covariances=S)
    assert main(["pairwise", str(tmp_path / "t.npz"), "--out", out]) == 0
    diff = means[:, None, :] - means[None, :, :]
    maha = np.einsum("ijk,ijk->ij", diff, np.linalg.solve(S, diff[..., None])[..., 0])
    np.testing.assert_allclose(np.load(out), maha / 2, rtol=1e-10, atol=1e-14)

    capsys.readouterr()
    assert main([*args, "--covariance-type", "spherical"]) == 2
    assert "covariance_type='diag'" in capsys.readouterr().err


def test_pairwise_progress_bar_on_a_terminal(tmp_path, capsys, monkeypatch):
    means, covs = _full_gaussians(6, 2, seed=3)
    np.savez(tmp_path / "g.npz", means=means, covariances=covs)

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    monkeypatch.setattr(_pairwise, "PROGRESS_MIN_ROWS", 1)
    assert (
        main(["pairwise", str(tmp_path / "g.npz"), "--out", str(tmp_path / "D.npy")])
        == 0
    )
    assert term.getvalue().endswith("100% 6/6\n")
    np.testing.assert_allclose(
        np.load(tmp_path / "D.npy"), _pointwise_kl_matrix(means, covs), rtol=1e-10
    )


def test_progress_bar_silent_off_a_terminal():
    out = io.StringIO()
    with ProgressBar(10, "x", file=out) as bar:
        bar.update(10)
    assert out.getvalue() == ""
    out = io.StringIO()
    with ProgressBar(4, "rows", file=out, enabled=True, min_interval=0) as bar:
        bar.update(1)
    assert (
        out.getvalue().split("\r")[-1] == "rows [" + "#" * 7 + "-" * 23 + "]  25% 1/4\n"
    )


def test_elapsed_indicator_ends_its_line():
    from skkl._progress import Elapsed

    out = io.StringIO()
    with Elapsed("testing", file=out, enabled=True, interval=0.01):
        pass
    assert out.getvalue().startswith("\rtesting ... ")
    assert out.getvalue().endswith(" s done\n")
    out = io.StringIO()
    with pytest.raises(RuntimeError), Elapsed("testing", file=out, enabled=True):
        raise RuntimeError
    assert out.getvalue().endswith(" s stopped\n")
    out = io.StringIO()
    with Elapsed("testing", file=out):  # not a terminal
        pass
    assert out.getvalue() == ""


def test_pairwise_errors(tmp_path, capsys):
    means, covs = _full_gaussians(3, 2)
    np.savez(tmp_path / "no_cov.npz", means=means)
    bad = covs.copy()
    bad[1] = -np.eye(2)
    np.savez(tmp_path / "bad_cov.npz", means=means, covariances=bad)
    np.savez(tmp_path / "ok.npz", means=means, covariances=covs)
    np.savez(tmp_path / "amb.npz", means=np.zeros((2, 2)), covariances=np.eye(2))
    (tmp_path / "junk.npz").write_bytes(b"not a zip file")
    (tmp_path / "g.txt").write_text("1,2\n")
    (tmp_path / "g.json").write_text("{}")
    (tmp_path / "short.csv").write_text("0,1,2,3\n")  # no full packed length
    cases = [
        (["missing.npz"], "no such file"),
        (["junk.npz"], "not a readable .npz"),
        (["amb.npz"], "cannot tell the covariance type"),
        (["no_cov.npz"], "missing ['covariances']"),
        (["bad_cov.npz"], "bad_cov.npz: "),
        (["g.txt"], "needs --covariance-type"),
        (["g.json"], "expected a .npz, a .csv"),
        (["short.csv", "--covariance-type", "full"], "impossible"),
        (["ok.npz", "--out", "D.txt"], "--out must end in .npy or .csv"),
        (["ok.npz", "--out", str(tmp_path / "no_dir" / "D.npy")], "no such directory"),
    ]
    for args, message in cases:
        argv = ["pairwise", str(tmp_path / args[0]), *args[1:]]
        assert main(argv) == 2, args
        err = capsys.readouterr().err
        assert err.startswith("skkl pairwise: error:") and message in err, err
    assert main(["pairwise", str(tmp_path / "ok.npz"), "--kind", "nope"]) == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err
    assert main(["pairwise", str(tmp_path / "ok.npz"), "--n-jobs", "0"]) == 2
    assert "argument --n-jobs: must be a non-zero integer" in capsys.readouterr().err
    # Flags are checked at parse time: a usage line, no traceback.
    for flag, message in [
        (["--kind", "renyi", "--order", "-1"], "argument --order: must be in (0, inf)"),
        (
            ["--alpha", "0.5"],
            "--alpha was removed because it meant two things; use --order",
        ),
    ]:
        assert main(["pairwise", str(tmp_path / "ok.npz"), *flag]) == 2
        err = capsys.readouterr().err
        assert err.startswith("usage: skkl pairwise") and message in err, err


# -- separability ---------------------------------------------------------------


def test_separability_matches_library(iris_csv, capsys):
    from skkl.separability import bayes_error_bounds, separability_score

    data = load_iris()
    y = data.target_names[data.target]
    assert main(["separability", iris_csv, "--target", "species", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = separability_score(data.data, y)
    np.testing.assert_allclose(payload["matrix"], expected.matrix, rtol=1e-12)
    assert payload["classes"] == ["setosa", "versicolor", "virginica"]
    assert payload["hardest_pair"] == ["versicolor", "virginica"]
    lower, upper = bayes_error_bounds(data.data, y)
    assert payload["bayes_error_bounds"] == pytest.approx(
        {"lower": lower, "upper": upper}
    )

    argv = [
        "separability",
        iris_csv,
        "--target",
        "species",
        "--kind",
        "kl",
        "--columns",
        "petal_length,petal_width",
        "--shrinkage",
        "0.1",
    ]
    assert main(argv) == 0
    out = capsys.readouterr().out
    expected = separability_score(data.data[:, 2:], y, kind="kl", shrinkage=0.1)
    assert "150 rows, 2 features, 3 classes of 'species'" in out
    a, b = expected.hardest_pair
    assert f"least separated pair: {a} / {b} (kl {expected.value:.4g})" in out


def test_separability_errors(tmp_path, iris_csv, capsys):
    def f(name, header, rows):
        return _write_csv(tmp_path / name, header, rows)

    text = f(
        "text.csv",
        ["x", "name", "y"],
        [[1, "a", 0], [2, "b", 0], [3, "c", 1], [4, "d", 1]],
    )
    hole = f("hole.csv", ["x", "y"], [[1, 0], ["", 0], [3, 1], [4, 1]])
    one = f("one.csv", ["x", "y"], [[1, 0], [2, 0], [3, 0], [4, 0]])
    lonely = f("lonely.csv", ["x", "y"], [[1, 0], [2, 0], [3, 0], [4, 1]])
    few = f("few.csv", ["x", "y"], [[1, 0], [2, 1]])
    dup = f("dup.csv", ["x", "x", "y"], [[1, 1, 0]])
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "binary.csv").write_bytes(b"\xff\xfe\x00x,y\n")
    (tmp_path / "ragged.csv").write_text("x,y\n1,0\n2\n")
    cases = [
        ([str(tmp_path / "nope.csv"), "--target", "y"], "no such file"),
        ([iris_csv, "--target", "kind"], "no column named 'kind'"),
        ([iris_csv, "--target", "species", "--columns", "petal_length,foo"], "'foo'"),
        ([iris_csv, "--target", "species", "--columns", "species"], "target column"),
        ([text, "--target", "y"], "non-numeric column(s) 'name'"),
        (
            [hole, "--target", "y"],
            "1 of 4 rows have missing or non-finite values in "
            "the columns used ('x': 1), on line 3 (the header is line 1); drop those "
            "rows with --dropna",
        ),
        ([one, "--target", "y"], "single class"),
        ([lonely, "--target", "y"], "class 1 of 'y' has 1 row"),
        ([few, "--target", "y"], "2 data row(s); at least 4"),
        ([dup, "--target", "y"], "duplicate column names 'x'"),
        ([str(tmp_path / "empty.csv"), "--target", "y"], "the file is empty"),
        ([str(tmp_path / "binary.csv"), "--target", "y"], "not a UTF-8 text file"),
        ([str(tmp_path), "--target", "y"], "not a regular file"),
        (
            [str(tmp_path / "ragged.csv"), "--target", "y"],
            "data row 2 has 1 fields (line 3), the header has 2",
        ),
        ([iris_csv, "--target", "species", "--shrinkage", "2"], "--shrinkage"),
    ]
    for args, message in cases:
        assert main(["separability", *args]) == 2, args
        assert message in capsys.readouterr().err, args


# -- drift ----------------------------------------------------------------------


def test_drift_exit_codes_and_json(drift_csvs, capsys):
    from skkl.drift import GaussianDriftDetector

    (ref, X_ref), (same, X_same), (shifted, X_shift) = drift_csvs
    cols = ["--columns", "a,b,c", "--seed", "3"]
    assert main(["drift", ref, same, *cols]) == 0
    assert "no drift: p-value" in capsys.readouterr().out

    assert main(["drift", ref, shifted, *cols, "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    expected = GaussianDriftDetector(random_state=3).fit(X_ref).test(X_shift)
    assert payload["is_drift"] == 1
    assert payload["p_value"] == payload["p_val"] == pytest.approx(expected.p_value)
    assert payload["effect"] == pytest.approx(expected.effect)
    assert [f["name"] for f in payload["features"]] == ["a", "b", "c"]
    np.testing.assert_allclose(
        [f["p_value"] for f in payload["features"]], expected.feature_p_values
    )

    # A significant but small difference is not drift with --min-effect.
    assert main(["drift", ref, shifted, *cols, "--min-effect", "5"]) == 0
    out = capsys.readouterr().out
    assert "no drift (significant, but effect < --min-effect 5.0)" in out
    top = out.split("p-value (Holm)")[1].splitlines()[2].split()
    assert top[0] == "b"  # the shifted feature leads


def test_drift_names_the_engine_and_writes_a_report(tmp_path, drift_csvs, capsys):
    (ref, _), _, (shifted, _) = drift_csvs
    page = tmp_path / "drift.html"
    cols = ["--columns", "a,b,c", "--seed", "3"]
    assert main(["drift", ref, shifted, *cols, "--report", str(page)]) == 1
    captured = capsys.readouterr()
    assert "engine: permutation (" in captured.out
    assert f"report: {page}" in captured.err
    html = page.read_text("utf-8")
    assert "Drift detected" in html and ">b<" in html
    assert main(["drift", ref, shifted, *cols, "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["method"] == "permutation" and payload["method_reason"]
    # A level no permutation count can reach answers at once (it looped).
    assert main(["drift", ref, shifted, *cols, "--level", "1e-30"]) == 2
    assert "--method asymptotic" in capsys.readouterr().err


def test_drift_errors(tmp_path, drift_csvs, capsys):
    (ref, _), (same, _), _ = drift_csvs
    other = _write_csv(tmp_path / "other.csv", ["a", "b"], [[1, 2], [3, 4], [5, 7]])
    tiny = _write_csv(tmp_path / "tiny.csv", ["a", "b", "c", "label"], [[1, 2, 3, "x"]])
    cases = [
        ([ref, str(tmp_path / "gone.csv")], "gone.csv: no such file"),
        ([ref, same, "--columns", "a,zz"], "no column named 'zz'"),
        ([ref, other, "--columns", "a,c"], "other.csv: no column named 'c'"),
        ([ref, tiny, "--columns", "a,b"], "1 data row(s); at least 2"),
        ([ref, same, "--columns", ","], "--columns: must name at least one"),
        ([ref, same, "--columns", "a", "--n-permutations", "0"], "must be in [1, "),
        ([ref, same, "--columns", "a", "--level", "2"], "--level: must be in (0, 1)"),
        ([ref, same, "--alpha", "0.1"], "use --level for the test level"),
        ([ref, same, "--min-effect", "-1"], "--min-effect: must be in [0, inf)"),
        # p-values are >= 1/(B+1): with B=19, p < 0.05 is impossible.
        ([ref, same, "--n-permutations", "19"], "use at least 20"),
        ([ref, same, "--level", "0.001", "--permutations", "999"], "at least 1000"),
        ([ref, same, "--method", "bootstrap"], "invalid choice: 'bootstrap'"),
    ]
    for args, message in cases:
        assert main(["drift", *args]) == 2, args
        assert message in capsys.readouterr().err, args


def test_missing_module_is_reported(monkeypatch, drift_csvs, capsys):
    (ref, _), (same, _), _ = drift_csvs
    monkeypatch.setitem(sys.modules, "skkl.drift", None)  # import now fails
    assert main(["drift", ref, same, "--columns", "a"]) == 2
    assert "this installation of skkl is incomplete" in capsys.readouterr().err


def test_import_skkl_and_help_do_not_load_sklearn():
    # `import skkl` (and so `skkl --help`) loads scikit-learn-based modules
    # only on first use: a cold `import sklearn` costs seconds.
    code = (
        "import sys, skkl\n"
        "heavy = [m for m in ('sklearn', 'pandas', 'matplotlib') if m in sys.modules]\n"
        "assert not heavy, heavy\n"
        "assert set(skkl.__all__) <= set(dir(skkl))\n"
        "import skkl.plotting  # matplotlib only when something is drawn\n"
        "assert 'matplotlib' not in sys.modules\n"
        "from skkl.cli import build_parser\n"
        "build_parser()\n"
        "assert 'sklearn' not in sys.modules\n"
        "from skkl import GroupGaussians, pairwise_divergence, separability_score\n"
        "import skkl._group, skkl.pairwise, skkl.separability\n"
        "assert GroupGaussians is skkl._group.GroupGaussians\n"
        "assert pairwise_divergence is skkl.pairwise.pairwise_divergence\n"
        "assert all(getattr(skkl, n) is not None for n in skkl.__all__)\n"
        "try:\n"
        "    skkl.no_such_name\n"
        "except AttributeError as exc:\n"
        "    assert 'no_such_name' in str(exc)\n"
        "else:\n"
        "    raise AssertionError('no AttributeError')\n"
    )
    _assert_runs(code)


# -- real files: delimiters, compression, missing values (tests/data) ------------

DATA = os.path.join(os.path.dirname(__file__), "data")
IRIS_COLUMNS = "sepal_length,sepal_width,petal_length,petal_width"
PENGUIN_COLUMNS = "bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g"


@pytest.mark.parametrize("name", ["iris_semicolon.csv", "iris.tsv", "iris.csv.gz"])
def test_separability_reads_semicolon_tsv_and_gzip(name, capsys):
    from skkl.separability import bayes_error_bounds, separability_score

    data = load_iris()
    y = data.target_names[data.target]
    path = os.path.join(DATA, name)
    assert main(["separability", path, "--target", "species", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    expected = separability_score(data.data, y)
    np.testing.assert_allclose(payload["matrix"], expected.matrix, rtol=1e-12)
    assert payload["min_divergence"] == pytest.approx(expected.value, rel=1e-12)
    lower, upper = bayes_error_bounds(data.data, y)
    assert payload["bayes_error_bounds"] == pytest.approx(
        {"lower": lower, "upper": upper}
    )
    assert "as the truth" in payload["bayes_error_bounds_note"]


def test_separability_na_file_dropna_and_line_numbers(capsys):
    path = os.path.join(DATA, "penguins_na.csv")
    argv = ["separability", path, "--target", "species", "--columns", PENGUIN_COLUMNS]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "4 of 120 rows have missing" in err and "lines 3, 10, 45, 90" in err
    assert main([*argv, "--dropna", "--json"]) == 0
    captured = capsys.readouterr()
    assert "dropped 4 of 120 rows" in captured.err
    payload = json.loads(captured.out)
    assert payload["n_samples"] == 116 and payload["dropped_rows"] == 4
    # Same as the library on the complete rows (read independently).
    import pandas as pd

    df = pd.read_csv(path).dropna(subset=PENGUIN_COLUMNS.split(","))
    from skkl.separability import separability_score

    expected = separability_score(df[PENGUIN_COLUMNS.split(",")], df["species"])
    np.testing.assert_allclose(payload["matrix"], expected.matrix, rtol=1e-12)
    # The text column 'island' is not numeric: named, with the fix.
    assert main(["separability", path, "--target", "species", "--dropna"]) == 2
    assert "non-numeric column(s) 'island'" in capsys.readouterr().err


def test_separability_prints_the_bounds_caveat(iris_csv, capsys):
    assert main(["separability", iris_csv, "--target", "species"]) == 0
    out = capsys.readouterr().out
    assert "<= error <=" in out
    assert "take the fitted Gaussians as the truth" in out


def test_separability_continuous_target_and_library_errors(tmp_path, capsys):
    from sklearn.datasets import load_diabetes

    d = load_diabetes()
    rows = [[*x, t] for x, t in zip(d.data, d.target, strict=True)]
    path = _write_csv(tmp_path / "diabetes.csv", [*d.feature_names, "target"], rows)
    assert main(["separability", path, "--target", "target"]) == 2
    err = capsys.readouterr().err
    assert "'target' looks continuous" in err and "distinct numeric values" in err
    assert "bin the values into classes" in err
    # A library error about the data is bad input, on one line; its flag
    # names are tested in test_cli_flags.py.
    few = _write_csv(
        tmp_path / "few.csv",
        ["a", "b", "y"],
        [[1, 2, 0], [2, 1, 0], [3, 5, 1], [4, 4, 1]],
    )
    argv = ["separability", few, "--target", "y", "--reg-covar", "0"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("skkl separability: error: ") and err.count("\n") == 1
    assert "class 0 has 2 sample(s)" in err


def test_separability_fits_the_class_gaussians_once(iris_csv, monkeypatch, capsys):
    from skkl._group import GroupGaussians

    calls = []
    fit = GroupGaussians.fit

    def counting_fit(self, *args, **kwargs):
        calls.append(1)
        return fit(self, *args, **kwargs)

    monkeypatch.setattr(GroupGaussians, "fit", counting_fit)
    assert main(["separability", iris_csv, "--target", "species", "--json"]) == 0
    assert len(calls) == 1


def test_save_gaussians_then_pairwise_with_names(tmp_path, iris_csv, capsys):
    out = str(tmp_path / "iris_gaussians.csv")
    argv = ["separability", iris_csv, "--target", "species", "--save-gaussians", out]
    assert main(argv) == 0
    capsys.readouterr()
    # Independent reference: ML class covariances (+ reg_covar) and kl_divergence.
    data = load_iris()
    fits = [
        (
            data.data[data.target == c].mean(0),
            np.cov(data.data[data.target == c].T, bias=True) + 1e-6 * np.eye(4),
        )
        for c in range(3)
    ]
    expected = _pointwise_kl_matrix(*map(np.array, zip(*fits, strict=True)))
    D = str(tmp_path / "D.npy")
    assert main(["pairwise", out, "--out", D]) == 0
    np.testing.assert_allclose(np.load(D), expected, rtol=1e-9)
    assert main(["pairwise", out]) == 0
    text = capsys.readouterr().out
    assert "setosa  versicolor  virginica" in text
    assert main(["pairwise", out, "--names", "A,B,C"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].split() == ["A", "B", "C"]
    assert [line.split()[0] for line in lines[3:6]] == ["A", "B", "C"]
    assert main(["pairwise", out, "--names", "A,B"]) == 2
    assert "--names has 2 names for the 3 Gaussians" in capsys.readouterr().err


def test_pairwise_refuses_wrong_or_ambiguous_layouts(capsys):
    packed = os.path.join(DATA, "packed_full_d4.csv")
    assert main(["pairwise", packed, "--covariance-type", "diag"]) == 2
    err = capsys.readouterr().err
    assert "the header says 'full' rows in d=4 dimensions" in err
    assert "drop --covariance-type" in err
    iris_x = os.path.join(DATA, "iris_X.csv")
    assert main(["pairwise", iris_x, "--covariance-type", "diag"]) == 2
    err = capsys.readouterr().err
    assert "does not describe packed Gaussians" in err
    assert "skkl separability iris_X.csv --target COLUMN" in err
    assert main(["pairwise", packed]) == 0  # the header is enough
    assert "setosa" in capsys.readouterr().out


def test_pairwise_large_matrix_needs_out(tmp_path, capsys):
    rng = np.random.default_rng(0)
    G = Gaussians(rng.normal(size=(101, 2)), rng.uniform(0.5, 2, size=(101, 2)), "diag")
    np.savez(tmp_path / "g.npz", means=G.means, covariances=G.covariances)
    assert main(["pairwise", str(tmp_path / "g.npz")]) == 2
    err = capsys.readouterr().err
    assert "101 x 101 matrix is too large to print" in err and "--out D.npy" in err
    assert main(["pairwise", str(tmp_path / "g.npz"), "--out", "-"]) == 0
    D = np.loadtxt(io.StringIO(capsys.readouterr().out), delimiter=",")
    expected = [float(divergence(G[0], G[j], "kl")[0]) for j in range(101)]
    np.testing.assert_allclose(D[0], expected, rtol=1e-12, atol=1e-15)


# -- drift: methods, progress, missing values -------------------------------------


@pytest.mark.parametrize("method", ["auto", "permutation", "gram", "asymptotic"])
def test_drift_method_is_passed_to_the_detector(method, drift_csvs, capsys):
    from skkl.drift import GaussianDriftDetector

    (ref, X_ref), _, (shifted, X_shift) = drift_csvs
    argv = ["drift", ref, shifted, "--columns", "a,b,c", "--method", method, "--json"]
    assert main(argv) == 1
    payload = json.loads(capsys.readouterr().out)
    det = GaussianDriftDetector(method=method, random_state=0).fit(X_ref)
    # 'auto' picks an engine, and 'asymptotic' falls back (with a warning) on
    # samples too small to calibrate it: the CLI reports what the library did.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        expected = det.test(X_shift)
    assert payload["method"] == expected.method
    assert payload["p_value"] == pytest.approx(expected.p_value, rel=1e-12)
    assert payload["statistic"] == pytest.approx(expected.statistic, rel=1e-12)


def test_drift_library_errors_name_the_file(tmp_path, drift_csvs, capsys):
    # Which file a library error is about: the one the fit or the test read
    # (or, for an InputError, the one its argument was read from).
    (ref, _), (same, _), _ = drift_csvs
    three = _write_csv(tmp_path / "three.csv", ["a", "b", "c"], np.eye(3).tolist())
    for argv, path in [([three, same], three), ([ref, three], three)]:
        assert main(["drift", *argv, "--columns", "a,b,c"]) == 2
        err = capsys.readouterr().err
        assert err.startswith("skkl drift: error: ") and "has 3 rows" in err
        assert path in err
        assert err.count("\n") == 1


def test_drift_progress_on_a_terminal_and_silence_off_it(
    drift_csvs, monkeypatch, capsys
):
    (ref, _), (same, _), _ = drift_csvs
    argv = ["drift", ref, same, "--columns", "a,b,c", "--n-permutations", "50"]
    assert main(argv) == 0
    assert capsys.readouterr().err == ""  # not a terminal: nothing

    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert main(argv) == 0
    text = term.getvalue()
    assert "reading ref.csv [" in text and "reading same.csv [" in text
    assert "100%" in text
    assert "testing (auto, 300+200 rows) ..." in text and " done\n" in text


def test_drift_dropna_reports_and_counts(tmp_path, capsys):
    rng = np.random.default_rng(5)
    X = rng.normal(size=(60, 2)).round(6)
    rows = [list(map(str, r)) for r in X]
    rows[4][1] = "NA"
    rows[9][0] = ""
    ref = _write_csv(tmp_path / "ref.csv", ["a", "b"], rows)
    cur = _write_csv(tmp_path / "cur.csv", ["a", "b"], [list(map(str, r)) for r in X])
    # Missing cells are kept (and encoded) without --dropna.
    assert main(["drift", ref, cur, "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert payload["n_ref"] == 60 and payload["dropped_rows"]["reference"] == 0
    assert payload["missing_rates"][1]["reference"] == pytest.approx(1 / 60)
    assert main(["drift", ref, cur, "--dropna", "--json"]) == 0
    captured = capsys.readouterr()
    assert "dropped 2 of 60 rows of" in captured.err
    payload = json.loads(captured.out)
    assert payload["dropped_rows"] == {"reference": 2, "current": 0}
    assert payload["n_ref"] == 58 and payload["n"] == 60


def test_bugs_are_not_reported_as_bad_input(monkeypatch, tmp_path, capsys):
    # A ValueError raised outside the library's handling of the user's data is
    # a bug: traceback, exit status 3 (never 1, which means drift).
    def broken(*args):
        raise ValueError("an internal inconsistency")

    monkeypatch.setattr(_pairwise, "read_gaussians", broken)
    assert main(["pairwise", str(tmp_path / "x.npz")]) == 3
    err = capsys.readouterr().err
    assert "Traceback" in err and "internal error: this is a bug in skkl" in err
    # scikit-learn's parameter errors are bugs too: the command checks every
    # flag's value first, so one that reaches the library is the CLI's fault.
    from sklearn.utils._param_validation import InvalidParameterError

    from skkl.cli._errors import library_errors
    from skkl.drift import GaussianDriftDetector

    with pytest.raises(InvalidParameterError), library_errors({"alpha": "--level"}):
        GaussianDriftDetector(alpha=2.0).fit(np.zeros((5, 2)))


def test_help_does_not_import_sklearn():
    code = (
        "import sys\n"
        "from skkl.cli import main\n"
        "for argv in (['--help'], ['drift', '--help'], ['pairwise', '--help']):\n"
        "    try:\n"
        "        main(argv)\n"
        "    except SystemExit:\n"
        "        pass\n"
        "assert 'sklearn' not in sys.modules, 'sklearn imported'\n"
        "assert 'pandas' not in sys.modules, 'pandas imported'\n"
    )
    _assert_runs(code)


# -- hostile input end to end (issue 24) -------------------------------------------


def test_drift_refuses_rows_with_extra_fields(tmp_path, drift_csvs, capsys):
    # '1,234.5' is a thousands separator, not two cells: once read as a=1,
    # b=234.5, c=7 and drift exited 0.
    (ref, _), _, _ = drift_csvs
    cur = tmp_path / "cur.csv"
    cur.write_text("a,b,c\n1,2,3\n4,5,6\n1,234.5,7,8\n")
    assert main(["drift", ref, str(cur), "--columns", "a,b,c"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"skkl drift: error: {cur}: data row 3 has 4 fields")
    assert "(line 4), the header has 3" in err and err.count("\n") == 1


def test_wide_headers_give_every_column(tmp_path, capsys):
    rng = np.random.default_rng(0)
    names = [f"feature_{j}_" + "x" * 230 for j in range(300)]  # a 73.7 KB header
    header = ",".join(names)
    assert len(header) > 1 << 16
    paths = []
    for name in ("r.csv", "c.csv"):
        X = rng.normal(size=(40, 300))
        rows = "\n".join(",".join(map(repr, r)) for r in X.tolist())
        (tmp_path / name).write_text(header + "\n" + rows + "\n")
        paths.append(str(tmp_path / name))
    argv = ["drift", *paths, "--covariance-type", "diag", "--n-permutations", "50"]
    assert main([*argv, "--json"]) in (0, 1)
    assert len(json.loads(capsys.readouterr().out)["features"]) == 300


def test_outputs_are_written_under_the_name_given(tmp_path, capsys):
    means, covs = _full_gaussians(3, 2)
    np.savez(tmp_path / "g.npz", means=means, covariances=covs)
    g = str(tmp_path / "g.npz")
    expected = _pointwise_kl_matrix(means, covs)
    for name in ("D.NPY", "D.Npy", "E.CSV"):
        out = tmp_path / name
        assert main(["pairwise", g, "--out", str(out)]) == 0
        assert capsys.readouterr().out.strip().endswith(f"to {out}")
        assert out.exists() and not (tmp_path / f"{name}.npy").exists()
        if name.lower().endswith(".npy"):
            np.testing.assert_allclose(np.load(out), expected, rtol=1e-10)
        else:
            np.testing.assert_allclose(
                np.loadtxt(out, delimiter=","), expected, rtol=1e-12
            )
    # '-' is standard output for every output flag; separability's report
    # holds stdout, so it refuses - (and a file named '-' is ./-).
    data = tmp_path / "d.csv"
    data.write_text(
        "a,b,y\n" + "\n".join(f"{i},{i % 3 + i},{i % 2}" for i in range(12))
    )
    argv = ["separability", str(data), "--target", "y"]
    assert main([*argv, "--save-gaussians", "-"]) == 2
    err = capsys.readouterr().err
    assert "--save-gaussians -: standard output holds this command's report" in err
    assert not (tmp_path / "-").exists() and not os.path.exists("-")
    (tmp_path / "dir.csv").mkdir()
    for bad, message in [
        ("g.npy", "--save-gaussians must end in .csv, got"),
        (str(tmp_path / "no" / "g.csv"), "no such directory"),
        (str(tmp_path / "dir.csv"), "is a directory"),
    ]:
        assert main([*argv, "--save-gaussians", bad]) == 2
        assert message in capsys.readouterr().err
    (tmp_path / "dir.csv").rmdir()
    upper = tmp_path / "G.CSV"
    assert main([*argv, "--save-gaussians", str(upper)]) == 0
    capsys.readouterr()
    assert main(["pairwise", str(upper)]) == 0  # read back under the same name
    assert "kl(row || column) between the 2 Gaussians" in capsys.readouterr().out


def test_output_names_are_checked_before_computing(tmp_path, monkeypatch, capsys):
    def fail(*args, **kwargs):
        raise AssertionError("computed before the output name was checked")

    monkeypatch.setattr(_pairwise, "read_gaussians", fail)
    argv = ["pairwise", str(tmp_path / "g.npz"), "--out", str(tmp_path / "x" / "D.npy")]
    assert main(argv) == 2
    assert "no such directory" in capsys.readouterr().err


def test_damaged_gzip_and_huge_cells_end_to_end(tmp_path, drift_csvs, capsys):
    (ref, _), _, _ = drift_csvs
    lines = b"a,b,c\n" + b"".join(
        b"%d,%d,%d\n" % (i, i * 7 % 5, i % 3) for i in range(500)
    )
    gz = gzip.compress(lines)
    bad = tmp_path / "bad.csv.gz"
    bad.write_bytes(gz[:12] + b"\xff" + gz[13:])  # zlib.error inside
    assert main(["drift", ref, str(bad), "--columns", "a,b,c"]) == 2
    err = capsys.readouterr().err
    assert (
        err
        == f"skkl drift: error: {bad}: not a readable gzip file "
        + err.split("gzip file ", 1)[1]
    )
    assert "Traceback" not in err and err.count("\n") == 1
    # A text cell over csv's 128 KiB limit, on the pure-Python path (the NA
    # row sends it there): read whole, the NA row dropped.
    rows = [[1.0, 2.0, "z" * 200_000]] + [
        [float(i), float(i % 7), "t"] for i in range(30)
    ]
    rows[5][0] = "NA"
    big = _write_csv(tmp_path / "big.csv", ["a", "b", "text"], rows)
    assert main(["drift", ref, big, "--columns", "a,b", "--dropna"]) in (0, 1)
    assert "dropped 1 of 31 rows" in capsys.readouterr().err


def test_target_spellings_python_alone_reads_as_numbers(tmp_path, capsys):
    # '1_000' is text (pyarrow, pandas and numpy agree), so it is not class 1000.
    rows = [
        [float(i), float(i * i % 7), "1_000" if i % 2 else "1000"] for i in range(20)
    ]
    path = _write_csv(tmp_path / "t.csv", ["a", "b", "y"], rows)
    assert main(["separability", path, "--target", "y", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["classes"] == ["1000", "1_000"]


def test_one_class_target_is_named_plainly(tmp_path, capsys):
    path = _write_csv(tmp_path / "one.csv", ["a", "y"], [[i, "x"] for i in range(6)])
    assert main(["separability", path, "--target", "y"]) == 2
    err = capsys.readouterr().err
    assert "has a single class ('x')" in err and "np.str_" not in err


def test_trailing_delimiter_in_the_reference_header(tmp_path, drift_csvs, capsys):
    (ref, _), (same, _), _ = drift_csvs
    trailing = tmp_path / "trailing.csv"
    trailing.write_text("a,b,\n" + "".join(f"{i},{i * i % 5},\n" for i in range(20)))
    assert main(["drift", str(trailing), same]) == 2
    err = capsys.readouterr().err
    assert f"{trailing}: column 3 of 3 has no name" in err and "''" not in err
    assert main(["drift", str(trailing), same, "--columns", "a,b"]) in (0, 1)


def test_header_only_file(tmp_path, drift_csvs, capsys):
    (ref, _), _, _ = drift_csvs
    empty = _write_csv(tmp_path / "empty.csv", ["a", "b", "c"], [])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once: numpy's loadtxt warning
        assert main(["drift", ref, empty, "--columns", "a,b,c"]) == 2
    err = capsys.readouterr().err
    assert (
        err == f"skkl drift: error: {empty} has 0 data row(s); at least 2 are needed.\n"
    )


@pytest.mark.parametrize("command", ["drift", "separability"])
def test_decimal_comma_reads_like_decimal_points(tmp_path, command, capsys):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(40, 2)).round(4)
    y = np.repeat(["u", "v"], 20)
    point = _write_csv(
        tmp_path / "point.csv",
        ["a", "b", "y"],
        [[*x, t] for x, t in zip(X.tolist(), y, strict=True)],
    )
    comma = tmp_path / "comma.csv"
    comma.write_text(
        "a;b;y\n"
        + "".join(
            f"{a!r};{b!r};{t}\n".replace(".", ",")
            for (a, b), t in zip(X.tolist(), y, strict=True)
        )
    )

    def argv(path, *flags):
        if command == "drift":
            return ["drift", path, path, "--columns", "a,b", "--json", *flags]
        return ["separability", path, "--target", "y", "--json", *flags]

    assert main(argv(str(comma))) == 2
    assert "--decimal comma" in capsys.readouterr().err
    expected_status = main(argv(point))
    expected = json.loads(capsys.readouterr().out)
    assert main(argv(str(comma), "--decimal", "comma")) == expected_status
    got = json.loads(capsys.readouterr().out)
    key = "p_value" if command == "drift" else "matrix"
    assert got[key] == expected[key]


def test_permutations_beyond_memory_are_bad_input(drift_csvs, capsys):
    (ref, _), (same, _), _ = drift_csvs
    argv = ["drift", ref, same, "--columns", "a,b", "--n-permutations", str(10**12)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("skkl drift: error: ") and err.count("\n") == 1
    assert "Traceback" not in err


def test_drift_reads_text_columns_and_missing_cells(tmp_path, capsys):
    """A mixed file: text columns are categorical, NA cells are kept."""
    rng = np.random.default_rng(7)  # (any seed: 5% of them give a false alarm)

    def rows(n, new_level=0.0):
        city = rng.choice(["paris", "lyon", "nice"], p=[0.5, 0.3, 0.2], size=n)
        city = np.where(rng.random(n) < new_level, "lille", city)
        out = []
        for k in range(n):
            income = "NA" if rng.random() < 0.1 else f"{rng.lognormal(10, 0.3):.0f}"
            zipcode = rng.choice(["75001", "69001", "06000"])
            out.append([f"{rng.normal(40, 10):.1f}", city[k], zipcode, income])
        return out

    header = ["age", "city", "zip", "income"]
    ref = _write_csv(tmp_path / "ref.csv", header, rows(600))
    same = _write_csv(tmp_path / "same.csv", header, rows(600))
    cur = _write_csv(tmp_path / "cur.csv", header, rows(600, new_level=0.08))
    assert main(["drift", ref, same, "--categorical", "zip"]) == 0
    out = capsys.readouterr().out
    assert "no drift" in out and "missing cells: income" in out
    assert main(["drift", ref, cur, "--categorical", "zip", "--json"]) == 1
    payload = json.loads(capsys.readouterr().out)
    assert payload["categorical_columns"] == ["city", "zip"]
    assert payload["new_levels"] == {"city": ["lille"]}
    named = min(payload["features"], key=lambda f: f["p_value"])
    assert named["name"] == "city" and named["p_value"] < 0.05
    assert payload["category_frequencies"]["city"]["lille"][0] == 0.0
    assert main(["drift", ref, cur]) == 1
    assert "new levels in city: 'lille'" in capsys.readouterr().out
    assert main(["drift", ref, cur, "--categorical", "nope"]) == 2
    assert "no column named 'nope'" in capsys.readouterr().err
