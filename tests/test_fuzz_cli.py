"""Seeded random malformed files through every command that reads files.

Each case starts from a well-formed file, applies a few random defects
(ragged rows, BOMs, stray or open quotes, empty and huge cells, binary junk,
NUL bytes, NaN/inf spellings, digit separators, decimal commas, duplicate or
missing column names, odd line ends, compression that is or is not there)
and runs the command in-process. Whatever the file, the command must end
with 0, 1 (drift) or 2 (bad input), never 3 (a bug); on 2 the error is one
line of stderr that names a file given on the command line; no traceback.
"""

from __future__ import annotations

import bz2
import gzip

import numpy as np
import pytest

from skkl import Gaussians
from skkl.cli import main
from skkl.cli._gaussian_files import write_packed

N_CASES = 24  # per command; seeds 0..N_CASES-1


def _table(rng, n_rows=24) -> list[list[str]]:
    """A well-formed table: three numeric columns and a two-class label."""
    X = rng.normal(size=(n_rows, 3)) * 10.0 ** rng.integers(-3, 4, size=3)
    rows = [[repr(v) for v in x] + [f"k{i % 2}"] for i, x in enumerate(X.tolist())]
    return [["a", "b", "c", "label"], *rows]


def _packed(rng) -> list[list[str]]:
    """Packed diagonal Gaussians under their layout header."""
    import io

    G = Gaussians(rng.normal(size=(4, 2)), rng.uniform(0.5, 2, size=(4, 2)), "diag")
    out = io.StringIO()
    write_packed(out, G, names=["g0", "g1", "g2", "g3"])
    return [line.split(",") for line in out.getvalue().splitlines()]


_CELLS = [
    "", " ", "NA", "nan", "NaN", "-nan", "+nan", "inf", "-Infinity", "1e999",
    "1_000", "1,5", "١٢", "0x1A", "1.2.3", "--1", "TRUE", "null", '"', '""',
    '"x', "x\x00y", "\t", "1e-400", "-0", " 7 ",
]  # fmt: skip


# Defects and their weights: most keep the file readable enough to reach the
# parsers and the library; a few stop it at the door.
_ROW_DEFECTS = {
    "extra field": 3,
    "missing field": 2,
    "odd cell": 6,
    "huge cell": 1,
    "column name": 1,
    "trailing delimiter": 1,
    "long name": 1,
    "header only": 0.3,
}
_BYTE_DEFECTS = {
    "none": 6,
    "bom": 1,
    "line ends": 1,
    "stray quote": 1,
    "blank lines": 1,
    "junk": 0.3,
    "latin-1": 0.3,
}
_CONTAINERS = {"plain": 7, "gzip": 1, "damaged gzip": 0.3, "fake gzip": 0.3, "bz2": 1}


def _pick(rng, weights: dict) -> str:
    p = np.array(list(weights.values()), dtype=float)
    return str(rng.choice(list(weights), p=p / p.sum()))


def _mutate_rows(rng, rows):
    """Cell-level defects."""
    rows = [list(r) for r in rows]
    for _ in range(int(rng.integers(0, 3))):
        i = int(rng.integers(1, len(rows))) if len(rows) > 1 else 0
        row, what = rows[i], _pick(rng, _ROW_DEFECTS)
        k = int(rng.integers(0, len(row))) if row else 0
        if what == "extra field":  # '1,234.5': a thousands separator
            row.insert(k, "234.5")
        elif what == "missing field" and len(row) > 1:
            del row[k]
        elif what == "odd cell" and row:
            row[k] = str(rng.choice(_CELLS))
        elif what == "huge cell" and row:  # over csv's 128 KiB limit
            row[k] = "z" * 140_000
        elif what == "column name":  # a duplicate or an empty name
            rows[0][int(rng.integers(0, len(rows[0])))] = str(
                rng.choice([rows[0][0], "", " "])
            )
        elif what == "trailing delimiter":
            for r in rows[: 1 if rng.random() < 0.5 else len(rows)]:
                r.append("")
        elif what == "long name":
            rows[0][0] = "h" * 70_000
        elif what == "header only":
            return rows[: int(rng.integers(0, 2))]
    return rows


def _mutate_bytes(rng, data: bytes) -> bytes:
    """Byte-level defects: BOMs, line ends, junk, quotes, encodings."""
    for _ in range(int(rng.integers(1, 3))):
        what = _pick(rng, _BYTE_DEFECTS)
        k = int(rng.integers(0, len(data) + 1))
        if what == "bom":
            data = b"\xef\xbb\xbf" + data
        elif what == "line ends":
            data = data.replace(b"\n", rng.choice([b"\r\n", b"\r"]))
        elif what == "junk":
            data = data[:k] + rng.bytes(int(rng.integers(1, 64))) + data[k:]
        elif what == "stray quote":
            data = data[:k] + b'"' + data[k:]
        elif what == "latin-1":
            data = data[:k] + "é".encode("latin-1") + data[k:]
        elif what == "blank lines":
            data = data[:k] + b"\n\n" + data[k:]
    return data


def _write(rng, path_stem, rows):
    text = "\n".join(",".join(r) for r in rows) + ("\n" if rows else "")
    data = _mutate_bytes(rng, text.encode())
    container = _pick(rng, _CONTAINERS)
    path = path_stem.with_suffix(".csv")
    if container in ("gzip", "damaged gzip"):
        data = gzip.compress(data)
        if container == "damaged gzip":
            k = int(rng.integers(10, max(11, len(data) - 8)))
            data = data[:k] + bytes([data[k] ^ 0xFF]) + data[k + 1 :]
    if container == "bz2":
        data, path = bz2.compress(data), path_stem.with_suffix(".csv.bz2")
    elif container != "plain":
        path = path_stem.with_suffix(".csv.gz")
    path.write_bytes(data)
    return str(path)


def _check(argv, files, capsys):
    status = main(argv)
    err = capsys.readouterr().err
    assert status in (0, 1, 2), (status, argv, err)
    assert "Traceback" not in err, err
    if status == 2:
        lines = err.splitlines()
        command = argv[0]
        assert lines[-1].startswith(f"skkl {command}: error: "), err
        notes = (f"skkl {command}: dropped ", "warning: ")
        assert all(line.startswith(notes) for line in lines[:-1]), err
        assert any(f in lines[-1] for f in files), (files, err)
    return status


@pytest.mark.parametrize("seed", range(N_CASES))
def test_drift_on_malformed_files(seed, tmp_path, capsys):
    rng = np.random.default_rng(seed)
    (tmp_path / "good.csv").write_text(
        "\n".join(",".join(r) for r in _table(rng)) + "\n"
    )
    good = str(tmp_path / "good.csv")
    bad = _write(rng, tmp_path / "bad", _mutate_rows(rng, _table(rng)))
    pair = [good, bad] if seed % 2 else [bad, good]
    flags = ["--n-permutations", "99", "--columns", "a,b"]
    if rng.random() < 0.3:
        flags = flags[:2]  # every column: 'label' is text
    if rng.random() < 0.5:
        flags.append("--dropna")
    _check(["drift", *pair, *flags], [good, bad], capsys)


@pytest.mark.parametrize("seed", range(N_CASES))
def test_separability_on_malformed_files(seed, tmp_path, capsys):
    rng = np.random.default_rng(seed)
    bad = _write(rng, tmp_path / "bad", _mutate_rows(rng, _table(rng, 30)))
    flags = ["--columns", "a,b,c"] if rng.random() < 0.7 else []
    if rng.random() < 0.5:
        flags.append("--dropna")
    _check(["separability", bad, "--target", "label", *flags], [bad], capsys)


@pytest.mark.parametrize("seed", range(N_CASES))
def test_pairwise_on_malformed_files(seed, tmp_path, capsys):
    rng = np.random.default_rng(seed)
    bad = _write(rng, tmp_path / "bad", _mutate_rows(rng, _packed(rng)))
    _check(["pairwise", bad], [bad], capsys)


@pytest.mark.parametrize("seed", range(N_CASES // 2))
def test_pairwise_on_malformed_npz(seed, tmp_path, capsys):
    rng = np.random.default_rng(seed)
    path = tmp_path / "g.npz"
    means = rng.normal(size=(3, 2))
    covs = rng.uniform(0.5, 2, size=(3, 2))
    arrays = {"means": means, "covariances": covs}
    what = seed % 6
    if what == 0:
        arrays["covariances"] = -covs  # not positive
    elif what == 1:
        arrays["means"] = means.astype(str)
    elif what == 2:
        arrays["covariances"] = covs[:2]
    elif what == 3:
        arrays["covariance_type"] = np.array(["banana"])
    elif what == 4:
        arrays["means"] = means + 1j
    np.savez(path, **arrays)
    data = path.read_bytes()
    if what == 5:  # a damaged archive
        k = int(rng.integers(0, len(data)))
        data = data[:k] + rng.bytes(16) + data[k + 16 :]
    path.write_bytes(data)
    _check(["pairwise", str(path)], [str(path)], capsys)


@pytest.mark.parametrize("seed", range(N_CASES))
def test_frechet_on_malformed_files(seed, tmp_path, capsys):
    rng = np.random.default_rng(seed)
    good = tmp_path / "good.npy"
    np.save(good, rng.normal(size=(30, 3)))
    what = seed % 4
    if what == 0:  # a malformed table (with a text column, --dropna or not)
        bad = _write(rng, tmp_path / "bad", _mutate_rows(rng, _table(rng)))
        flags = ["--dropna"] if rng.random() < 0.5 else []
    else:  # damaged or odd statistics and feature arrays
        bad = str(tmp_path / "bad.npz")
        arrays = {
            1: {"mu": rng.normal(size=3), "sigma": -np.eye(3)},
            2: {"mu": rng.normal(size=3).astype(str), "sigma": np.eye(3)},
            3: {"features": rng.normal(size=(20, 3)) + 1j},
        }[what]
        np.savez(bad, **arrays)
        data = (tmp_path / "bad.npz").read_bytes()
        if rng.random() < 0.5:
            k = int(rng.integers(0, len(data)))
            data = data[:k] + rng.bytes(16) + data[k + 16 :]
        (tmp_path / "bad.npz").write_bytes(data)
        flags = ["--interval"] if rng.random() < 0.5 else []
    pair = [str(good), bad] if seed % 2 else [bad, str(good)]
    _check(["frechet", *pair, *flags], [str(good), bad], capsys)
