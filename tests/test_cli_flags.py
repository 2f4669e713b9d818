"""The command line's flags against the library's parameters.

Two contracts (``skkl/cli/_command.py``):

- every library parameter a command maps to a flag (``arg(..., param=)``) is
  named by at least one real error path, run end to end through ``main``, and
  the message spells the flag, never the Python name;
- every value a flag accepts at parse time is one the library's own parameter
  validation accepts (so scikit-learn's "The 'alpha' parameter of ..." never
  reaches a user).

The error paths need the library to raise ``skkl._errors.InputError``; where
a raise site is still a plain ``ValueError`` the case is an expected failure
that says which message is left to convert (it passes on its own once it is).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import pytest

from skkl._errors import InputError
from skkl.cli import _main, build_parser, main
from skkl.cli._main import COMMANDS


@dataclass(frozen=True)
class Case:
    """A real error path: ``argv`` (with ``{name}`` for data files), what the
    message must say and the library spellings it must not.

    ``by_cli`` says why the command's own reader reports this input before
    the library sees it (the mapping stays, for the library's errors about
    the same argument); the case then checks the reader's message."""

    argv: tuple[str, ...]
    says: tuple[str, ...]
    not_says: tuple[str, ...] = ()
    by_cli: str = ""


def _write(path, header, rows):
    lines = [",".join(header)] + [",".join(map(repr, r)) for r in rows]
    path.write_text("\n".join(lines) + "\n")
    return str(path)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("flags")
    rng = np.random.default_rng(0)
    y = [0] * 20 + [1] * 20
    # Class variances 0.01 and 9: for Renyi order 3 the mixture
    # 3 S_q - 2 S_p of one pair is indefinite.
    X = np.r_[rng.normal(size=(20, 2)) * 0.1, rng.normal(size=(20, 2)) * 3]
    big = rng.normal(size=(40, 2)) * 1e200  # its second moments overflow
    out = {
        "renyi": _write(d / "renyi.csv", ["a", "b", "y"], np.c_[X, y].tolist()),
        "huge": _write(d / "huge.csv", ["a", "b", "y"], np.c_[big, y].tolist()),
        # Two rows per class in two dimensions: singular without a ridge.
        "few": _write(
            d / "few.csv", ["a", "b", "y"], [[1, 2, 0], [2, 1, 0], [3, 5, 1], [4, 4, 1]]
        ),
        "three": _write(d / "three.csv", ["a", "b", "c"], np.eye(3).tolist()),
        "six": _write(
            d / "six.csv", ["a", "b", "c"], rng.normal(size=(6, 3)).round(3).tolist()
        ),
        "ref2": _write(d / "ref2.csv", ["a"], [[1.0], [2.0]]),
        "mref": _write(
            d / "mref.csv", ["a", "b", "c"], rng.normal(size=(200, 3)).tolist()
        ),
        "mdup": _write(
            d / "mdup.csv", ["a", "b", "c"], np.c_[X[:, :2], X[:, 0]].tolist()
        ),
        "mstream": _write(
            d / "mstream.csv", ["a", "b", "c"], rng.normal(size=(50, 3)).tolist()
        ),
        "cur2": _write(d / "cur2.csv", ["a"], [[3.0], [5.0]]),
    }
    S = rng.normal(size=(50, 3))
    S[17, 1] = np.nan
    out["mnan"] = _write(d / "mnan.csv", ["a", "b", "c"], S.tolist())
    from skkl import Gaussians
    from skkl.cli._gaussian_files import write_packed

    G = Gaussians([[0.0], [0.0]], [0.01, 9.0], "spherical")
    with open(d / "renyi_packed.csv", "w", newline="") as fh:
        write_packed(fh, G)
    out["renyi_packed"] = str(d / "renyi_packed.csv")
    # pytorch-fid's statistics: no row count
    np.savez(d / "stats.npz", mu=np.zeros(3), sigma=np.eye(3))
    out["stats"] = str(d / "stats.npz")
    return out


# (command, library parameter) -> an error path naming it.
CASES = {
    ("pairwise", "alpha"): Case(
        ("pairwise", "{renyi_packed}", "--kind", "renyi", "--order", "3"),
        ("Renyi order a (--order 3.0)", "0 < --order < 1"),
        ("alpha",),
    ),
    ("separability", "X"): Case(
        ("separability", "{huge}", "--target", "y"), ("DATA",), ("of X",)
    ),
    ("separability", "alpha"): Case(
        ("separability", "{renyi}", "--target", "y", "--kind", "renyi", "--order", "3"),
        ("Renyi order a (--order 3.0)", "0 < --order < 1"),
        ("alpha",),
    ),
    ("separability", "reg_covar"): Case(
        ("separability", "{few}", "--target", "y", "--reg-covar", "0"),
        ("--reg-covar",),
        ("reg_covar",),
    ),
    ("separability", "covariance_type"): Case(
        ("separability", "{few}", "--target", "y", "--reg-covar", "0"),
        ("--covariance-type diag",),
        ("covariance_type",),
    ),
    ("separability", "shrinkage"): Case(
        ("separability", "{few}", "--target", "y", "--reg-covar", "0"),
        ("--shrinkage",),
        ("use shrinkage",),
    ),
    ("drift", "X_ref"): Case(
        ("drift", "{three}", "{six}"), ("REFERENCE has 3 rows",), ("X_ref",)
    ),
    ("drift", "X"): Case(("drift", "{six}", "{three}"), ("CURRENT has 3 rows",)),
    ("drift", "covariance_type"): Case(
        ("drift", "{six}", "{three}"),
        ("--covariance-type diag",),
        ("covariance_type",),
    ),
    ("drift", "shrinkage"): Case(
        ("drift", "{six}", "{three}"),
        ("--shrinkage ledoit_wolf",),
        ("shrinkage=",),
    ),
    ("drift", "method"): Case(
        ("drift", "{six}", "{six}", "--method", "asymptotic", "--shrinkage", "oas"),
        ("--method auto",),
        ("method=",),
    ),
    ("drift", "alpha"): Case(
        ("drift", "{ref2}", "{cur2}"), ("--level 0.05",), ("alpha",)
    ),
    ("frechet", "X"): Case(
        ("frechet", "{stats}", "{six}", "--unbiased-mean-term"),
        ("rows behind A",),
        ("behind X",),
    ),
    ("frechet", "unbiased_mean_term"): Case(
        ("frechet", "{stats}", "{six}", "--unbiased-mean-term"),
        ("--unbiased-mean-term needs",),
        ("unbiased_mean_term",),
    ),
    ("frechet", "Y"): Case(
        ("frechet", "{six}", "{ref2}"), ("A has 3 features but B has 1",), ("Y ",)
    ),
    # Permutations beyond any memory: the library must say so up front.
    ("drift", "n_permutations"): Case(
        ("drift", "{six}", "{six}", "--n-permutations", str(10**12)),
        ("--n-permutations",),
        ("n_permutations",),
    ),
    ("monitor", "X_ref"): Case(
        ("monitor", "{mdup}", "{mstream}", "--ert", "200"),
        ("the features of REF are linearly dependent", "feature 'c'"),
        ("X_ref",),
    ),
    ("monitor", "shrinkage"): Case(
        ("monitor", "{mdup}", "{mstream}", "--ert", "200"),
        ("Use --shrinkage ledoit_wolf",),
        ("shrinkage=",),
    ),
    ("monitor", "X"): Case(
        ("monitor", "{mref}", "{mnan}", "--ert", "200"),
        ("mnan.csv: data row 18", "column 'b'"),
        ("argument X", "X has"),
        by_cli="the stream reader checks each chunk for missing values, naming "
        "the file's data row and column",
    ),
    # Beyond the calibration's simulation limit: refused before any allocation.
    ("monitor", "ert"): Case(
        ("monitor", "{mref}", "{mstream}", "--ert", "1e12"),
        ("--ert 1000000000000 asks", "Use a target of at most"),
        ("ert=",),
    ),
    ("monitor", "calibration"): Case(
        (
            "monitor",
            "{mref}",
            "{mstream}",
            "--ert",
            "300000",
            "--calibration",
            "parametric",
        ),
        ("--calibration parametric simulates 100", "or --calibration resample"),
        ("calibration=",),
    ),  # fmt: skip
    ("monitor", "window"): Case(
        ("monitor", "{mref}", "{mstream}", "--ert", "200", "--window", "201"),
        ("--window 201 is longer than the reference", "at most 200 rows"),
        ("window=",),
    ),
    ("monitor", "delta"): Case(
        (
            "monitor",
            "{mref}",
            "{mstream}",
            "--ert",
            "200",
            "--calibration",
            "parametric",
            "--delta",
            "1e-12",
        ),
        ("--delta 1e-12 puts the threshold", "use --delta 0."),
        ("delta=",),
    ),  # fmt: skip
}


def test_every_mapped_parameter_has_an_error_case():
    mapped = {(c.name, p) for c in COMMANDS for p in c.parameter_names()}
    assert mapped == set(CASES)


@pytest.mark.parametrize("key", sorted(CASES), ids="-".join)
def test_mapped_parameter_errors_name_the_flag(key, files, monkeypatch, capsys):
    case = CASES[key]
    seen = []
    report = _main._error

    def spy(command, exc, message=None):
        seen.append(exc)
        return report(command, exc, message)

    monkeypatch.setattr(_main, "_error", spy)
    argv = [a.format(**files) for a in case.argv]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(seen) == 1 and err.count("\n") == 1, err
    cause = seen[0].__cause__ or seen[0]
    if case.by_cli:  # the command's own check, not a library error
        assert not isinstance(cause, InputError), cause
    elif not isinstance(cause, InputError):
        pytest.xfail(f"the library raises a plain {type(cause).__name__}: {cause}")
    for text in case.says:
        assert text in err, err
    for text in case.not_says:
        assert text not in err, err


# -- ranges ----------------------------------------------------------------------

_POSITIONALS = {
    "demo": [],
    "pairwise": ["g.npz"],
    "separability": ["d.csv", "--target", "y"],
    "drift": ["r.csv", "c.csv"],
    "frechet": ["a.npy", "b.npy"],
    "monitor": ["r.csv", "s.csv"],
}
_VALUES = [
    "-1", "0", "-0", "1e-300", "0.05", "0.5", "1", "2", "19", "1000", "1e300",
    "inf", "nan", "4294967295", "4294967296", str(2**63 - 1), str(2**63), "1_0",
    "ledoit_wolf", "oas", "full", "diag", "tied", "spherical", "auto", "gram",
    "asymptotic", "permutation", "resample", "parametric",
]  # fmt: skip


def _constrained():
    from skkl import GaussianDriftDetector, GaussianDriftMonitor, GroupGaussians

    drift = GaussianDriftDetector._parameter_constraints
    group = GroupGaussians._parameter_constraints
    monitor = GaussianDriftMonitor._parameter_constraints
    return [
        ("monitor", "--ert", monitor, "ert"),
        ("monitor", "--window", monitor, "window"),
        ("monitor", "--calibration", monitor, "calibration"),
        ("monitor", "--delta", monitor, "delta"),
        ("monitor", "--shrinkage", monitor, "shrinkage"),
        ("monitor", "--seed", monitor, "random_state"),
        ("drift", "--level", drift, "alpha"),
        ("drift", "--method", drift, "method"),
        ("drift", "--n-permutations", drift, "n_permutations"),
        ("drift", "--min-effect", drift, "min_effect"),
        ("drift", "--covariance-type", drift, "covariance_type"),
        ("drift", "--shrinkage", drift, "shrinkage"),
        ("drift", "--seed", drift, "random_state"),
        ("demo", "--seed", drift, "random_state"),
        ("separability", "--covariance-type", group, "covariance_type"),
        ("separability", "--shrinkage", group, "shrinkage"),
        ("separability", "--reg-covar", group, "reg_covar"),
    ]


def _parsed(command, flag, value, parser=build_parser()):  # noqa: B008 (one build)
    """The parsed value of ``flag``, or None when the parser refuses it."""
    argv = [command, *_POSITIONALS[command], flag, value]
    try:
        args = parser.parse_args(argv)
    except SystemExit:
        return None
    return vars(args)[flag.lstrip("-").replace("-", "_")]


def test_flag_values_are_ones_the_library_accepts(capsys):
    from sklearn.utils._param_validation import validate_parameter_constraints

    checked = 0
    for command, flag, constraints, param in _constrained():
        for value in _VALUES:
            parsed = _parsed(command, flag, value)
            if parsed is None:
                continue
            validate_parameter_constraints(
                {param: constraints[param]}, {param: parsed}, f"skkl {command}"
            )
            checked += 1
    capsys.readouterr()
    assert checked > 30  # the sweep reached the library, not just the parser


def test_renyi_order_flag_agrees_with_get_divergence(capsys):
    from skkl.divergence import get_divergence

    for command in ("pairwise", "separability"):
        for value in _VALUES:
            parsed = _parsed(command, "--order", value)
            if parsed is not None:
                get_divergence("renyi", parsed)
            else:  # refused values are ones the library refuses too
                number = None
                try:
                    number = float(value)
                except ValueError:
                    pass
                if number is not None and "_" not in value:
                    assert not (math.isfinite(number) and number > 0), value
    capsys.readouterr()


@pytest.mark.parametrize(
    "argv, says",
    [
        (
            ["drift", "r.csv", "c.csv", "--seed", "-1"],
            "--seed: must be in [0, 4294967295]",
        ),
        (["demo", "--seed", "4294967296"], "--seed: must be in [0, 4294967295]"),
        (
            ["drift", "r.csv", "c.csv", "--n-permutations", "99999999999999999999"],
            f"--n-permutations/--permutations: must be in [1, {2**63 - 1}]",
        ),
        (["drift", "r.csv", "c.csv", "--level", "0.0_5"], "--level: must be a number"),
        (["drift", "r.csv", "c.csv", "--decimal", ";"], "--decimal: must be point"),
        (["pairwise", "g.npz", "--names", ", ,"], "--names: must name at least one"),
    ],
)
def test_flag_errors_name_the_flag(argv, says, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: skkl") and says in err, err
    assert "random_state" not in err and "Maximum allowed" not in err


def test_help_lists_every_command():
    out = io.StringIO()
    build_parser().print_help(out)
    for command in COMMANDS:
        assert command.name in out.getvalue()
