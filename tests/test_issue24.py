"""Leftovers of issue 24 (hostile input), found by re-running its probes.

Items 13 and 17: one rule for text everywhere -- skkl never parses strings,
numeric or not (Python reads '1_000' as 1000), and names the argument where
scikit-learn's parser would say "could not convert string to float: 'x'".
The entry points here were missed by the first pass.
"""

import warnings

import numpy as np
import pytest

from skkl import (
    GaussianDriftDetector,
    GaussianNeighbors,
    Gaussians,
    GroupGaussians,
    frechet_distance,
    frechet_distance_from_moments,
    separability_score,
)

_TEXT = r"must be a numeric array-like of real numbers, got strings"


def _data(seed=0, n=40, d=2):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.normal(size=(n, d)) + 0.5


# -- Fréchet: the one rule, including object arrays of numbers ---------------


def test_frechet_refuses_text_and_reads_object_numbers():
    X, Y = _data()
    # Numeric strings were refused with a message of its own and object arrays
    # of plain floats were refused too, unlike every other entry point.
    for bad in (X.astype(str), X.astype(object).astype(str).astype(object)):
        with pytest.raises(TypeError, match=rf"^X {_TEXT}"):
            frechet_distance(bad, Y)
    with pytest.raises(TypeError, match=r"^Y is complex"):
        frechet_distance(X, Y + 1j)
    assert frechet_distance(X.astype(object), Y) == frechet_distance(X, Y)
    mu, S = X.mean(0), np.cov(X.T)
    with pytest.raises(TypeError, match=rf"^mu1 {_TEXT}"):
        frechet_distance_from_moments(mu.astype(str), S, mu, S)


# -- GaussianNeighbors: validate_data parsed numeric strings -----------------


def _packed(k=4, d=2, seed=1):
    rng = np.random.default_rng(seed)
    return Gaussians(rng.normal(size=(k, d)), np.stack([np.eye(d)] * k)).pack()


@pytest.mark.parametrize(
    "as_text",
    [
        pytest.param(lambda P: P.astype(str), id="str dtype"),
        pytest.param(lambda P: P.astype(str).astype(object), id="object strings"),
    ],
)
def test_neighbors_refuse_text_naming_x(as_text):
    P = _packed()
    with pytest.raises(TypeError, match=rf"^X {_TEXT}"):
        GaussianNeighbors(n_neighbors=1).fit(as_text(P))
    nn = GaussianNeighbors(n_neighbors=1).fit(P)
    with pytest.raises(TypeError, match=rf"^X {_TEXT}"):
        nn.kneighbors(as_text(P))


def test_neighbors_refuse_non_numeric_objects_naming_x():
    P = _packed().astype(object)
    P[0, 0] = "x"  # was "could not convert string to float: 'x'"
    with pytest.raises(TypeError, match=rf"^X {_TEXT} \(e.g. 'x'\)"):
        GaussianNeighbors(n_neighbors=1).fit(P)
    with pytest.raises(ValueError, match="Complex data not supported"):
        GaussianNeighbors(n_neighbors=1).fit(_packed() + 1j)  # scikit-learn's
    # Object arrays of real numbers are numbers.
    nn = GaussianNeighbors(n_neighbors=1).fit(_packed().astype(object))
    assert np.array_equal(
        nn.kneighbors()[1],
        GaussianNeighbors(n_neighbors=1).fit(_packed()).kneighbors()[1],
    )


# -- plotting: the displays parsed numeric strings ---------------------------


def test_displays_refuse_text_naming_the_argument():
    pytest.importorskip("matplotlib")
    from skkl.plotting import DivergenceMatrixDisplay, GaussianEllipsesDisplay

    with pytest.raises(TypeError, match=rf"^means {_TEXT}"):
        GaussianEllipsesDisplay(np.zeros((1, 2)).astype(str), np.eye(2)[None]).plot()
    covs = np.array([[["x", 0], [0, 1]]], dtype=object)
    with pytest.raises(TypeError, match=rf"^covariances {_TEXT} \(e.g. 'x'\)"):
        GaussianEllipsesDisplay(np.zeros((1, 2)), covs).plot()
    with pytest.raises(TypeError, match=rf"^matrix {_TEXT}"):
        DivergenceMatrixDisplay([["0", "1"], ["1", "0"]]).plot()


# -- class models and drift: text is refused, never parsed ----------------


def _classes():
    X, Y = _data(n=30)
    return np.vstack([X, Y]), np.repeat([0, 1], 30)


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda X, y: GroupGaussians().fit(X.astype(str), y), id="group"),
        pytest.param(
            lambda X, y: GroupGaussians().fit(
                X, y, sample_weight=np.ones(len(y)).astype(str)
            ),
            id="group sample_weight",
        ),
        pytest.param(lambda X, y: separability_score(X.astype(str), y), id="score"),
    ],
)
def test_class_models_refuse_numeric_strings(call):
    X, y = _classes()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            call(X, y)
        except TypeError as exc:
            assert "strings" in str(exc)
        else:
            raise AssertionError("numeric strings were parsed")


def test_class_models_name_x_for_non_numeric_objects():
    X, y = _classes()
    X = X.astype(object)
    X[0, 0] = "x"
    try:
        GroupGaussians().fit(X, y)
    except (TypeError, ValueError) as exc:
        assert str(exc).startswith("X "), str(exc)  # not "could not convert..."
    else:
        raise AssertionError("a non-numeric cell was accepted")


def test_drift_does_not_read_numbers_as_text_as_categories():
    X, Y = _data(n=200)
    numbers = GaussianDriftDetector(n_permutations=99, random_state=0).fit(X).test(Y)
    assert numbers.is_drift
    det = GaussianDriftDetector(n_permutations=99, random_state=0)
    with pytest.raises(ValueError, match="holds numbers written as text.*astype"):
        det.fit(X.astype(str))


# -- item 13: a permutation budget beyond memory, checked up front -----------


def test_drift_permutations_beyond_memory_name_the_argument():
    # Was a MemoryError quoting TiB after the fit.
    from skkl._errors import InputError

    X, Y = _data()
    det = GaussianDriftDetector(n_permutations=10**12).fit(X)
    with pytest.raises(InputError, match=r"^n_permutations=1000000000000 needs") as e:
        det.test(Y)
    assert e.value.argument == "n_permutations"
    assert "use at most" in str(e.value)


# -- item 14: the CLI's W2 at 1e200 is computed, and its overflow named -------


def test_cli_pairwise_wasserstein_at_1e200(tmp_path, capsys):
    # Was "variance ratios beyond ~1e300" where the ratio is 4.
    from skkl.cli import main

    S = np.array([np.eye(2) * 1e200, np.eye(2) * 4e200])
    np.savez(tmp_path / "g.npz", means=np.zeros((2, 2)), covariances=S)
    out = tmp_path / "D.npy"
    argv = ["pairwise", str(tmp_path / "g.npz"), "--kind", "wasserstein"]
    assert main([*argv, "--out", str(out)]) == 0
    # W2^2 = tr(S0 + S1 - 2 (S0 S1)^(1/2)) = 2 (1 + 4 - 4) 1e200 = 2e200.
    np.testing.assert_allclose(np.load(out), [[0, 2e200], [2e200, 0]], rtol=1e-14)
    means = np.array([[0.0, 0.0], [1e154, 1e154]])
    np.savez(tmp_path / "h.npz", means=means, covariances=S * 1e100)
    argv[1] = str(tmp_path / "h.npz")
    capsys.readouterr()
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "2-Wasserstein distance overflows float64" in err
    assert "variance ratio" not in err


# -- item 1 for the monitor: rows read from stdin by Python's csv module -------


@pytest.mark.parametrize(
    "row, says",
    [
        ("1,234.5,7,8", "data row 2 has 4 fields, the header has 3"),
        ("1_000,2,3", "data row 2 has a missing or non-numeric value"),
    ],
)
def test_monitor_stdin_rows_are_not_shifted_or_python_parsed(
    row, says, tmp_path, monkeypatch, capsys
):
    import io
    import sys

    from skkl.cli import main

    rng = np.random.default_rng(0)
    ref = tmp_path / "ref.csv"
    lines = ["a,b,c"] + [
        ",".join(f"{v:.4f}" for v in r) for r in rng.normal(size=(80, 3))
    ]
    ref.write_text("\n".join(lines) + "\n")
    monkeypatch.setattr(sys, "stdin", io.StringIO(f"a,b,c\n1,2,3\n{row}\n"))
    assert main(["monitor", str(ref), "-", "--ert", "50"]) == 2
    assert says in capsys.readouterr().err
