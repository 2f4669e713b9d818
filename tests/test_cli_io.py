"""The command line's readers and writers (``skkl.cli._io``), unit by unit.

References are independent of the reader: scikit-learn's bundled iris values,
the line numbers the test data were written with (``tests/data/make_data.py``),
Python's ``repr`` round trip of floats, and closed-form packed layouts.
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import lzma
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import load_iris

from skkl import Gaussians
from skkl.cli._errors import CLIError
from skkl.cli._flags import sep as parse_sep
from skkl.cli._gaussian_files import (
    layout_from_columns,
    packed_columns,
    read_gaussians,
    write_packed,
)
from skkl.cli._readers import NA_VALUES, DelimitedTable, open_table

DATA = Path(__file__).parent / "data"
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


@pytest.fixture(params=["pyarrow", "pandas", "numpy"])
def engine(request, monkeypatch):
    """Run a test with one C parser only: pyarrow's, pandas' or numpy.loadtxt."""
    if request.param != "numpy":
        pytest.importorskip("pyarrow.csv" if request.param == "pyarrow" else "pandas")
    monkeypatch.setattr(DelimitedTable, "engines", (request.param,))
    return request.param


def _iris():
    data = load_iris()
    return data.data, data.target_names[data.target]


def _write(path, text, opener=open):
    with opener(path, "wt", encoding="utf-8", newline="") as fh:
        fh.write(text)
    return str(path)


# -- delimiters, compression -----------------------------------------------------


@pytest.mark.parametrize("name", ["iris_semicolon.csv", "iris.tsv", "iris.csv.gz"])
def test_real_files_read_like_sklearn_iris(name, engine):
    table = open_table(str(DATA / name))
    assert table.columns == [*NAMES, "species"]
    frame = table.read(NAMES, ["species"])
    X, y = _iris()
    np.testing.assert_array_equal(frame.numeric, X)  # short decimals: exact
    np.testing.assert_array_equal(frame.text["species"], y)
    assert frame.n_dropped == 0


@pytest.mark.parametrize(
    "suffix, opener",
    [
        (".csv.gz", gzip.open),
        (".csv.bz2", bz2.open),
        (".csv.xz", lzma.open),
        (".csv", open),
    ],
)
@pytest.mark.parametrize("sep", [",", ";", "\t", "|"])
def test_every_delimiter_and_compression(tmp_path, suffix, opener, sep, engine):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 3)) * 10.0 ** rng.integers(-5, 5, size=(30, 3))
    lines = [sep.join(["a", "b", "c", "label"])]
    lines += [
        sep.join([*map(repr, row.tolist()), f"g{i % 2}"]) for i, row in enumerate(X)
    ]
    path = _write(tmp_path / f"t{suffix}", "\n".join(lines) + "\n", opener)
    table = open_table(path)
    assert table.delimiter == sep
    frame = table.read(["a", "b", "c"], ["label"])
    np.testing.assert_allclose(frame.numeric, X, rtol=2.3e-16, atol=0)  # <= 1 ulp
    assert list(frame.text["label"][:3]) == ["g0", "g1", "g0"]


def test_zip_with_one_member_and_with_two(tmp_path):
    path = tmp_path / "t.csv.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("inner.csv", "a;b\n1;2\n3;4\n")
    np.testing.assert_array_equal(
        open_table(str(path)).read(["a", "b"]).numeric, [[1, 2], [3, 4]]
    )
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("one.csv", "a\n1\n")
        zf.writestr("two.csv", "a\n2\n")
    with pytest.raises(CLIError, match="holds 2 files .*exactly one"):
        open_table(str(path))


def test_corrupt_gzip_is_reported(tmp_path):
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(b"a,b\n1,2\n")  # not gzip at all
    with pytest.raises(CLIError, match="not a readable gzip file"):
        open_table(str(path))


def test_sep_flag_and_a_header_that_hides_the_delimiter(tmp_path):
    path = _write(tmp_path / "x.csv", "mean radius;mean texture\n1;2\n3;4\n")
    assert parse_sep("semicolon") == ";" and parse_sep("\\t") == "\t"
    table = open_table(path, sep=";")
    np.testing.assert_array_equal(table.read(["mean radius"]).numeric, [[1], [3]])
    wrong = open_table(path, sep=",")
    assert wrong.columns == ["mean radius;mean texture"]
    with pytest.raises(CLIError) as info:
        wrong.select(["mean radius"])
    message = str(info.value)
    assert "no column named 'mean radius'" in message
    assert "one column that contains semicolons" in message
    assert "--sep semicolon" in message
    with pytest.raises(argparse.ArgumentTypeError, match="one character"):
        parse_sep("ab")


def test_quotes_bom_and_blank_lines(tmp_path, engine):
    text = '\ufeffname,x\n"a, b",1.5\n\n"c",2.5\n'
    table = open_table(_write(tmp_path / "q.csv", text))
    assert table.columns == ["name", "x"]
    frame = table.read(["x"], ["name"])
    np.testing.assert_array_equal(frame.numeric, [[1.5], [2.5]])
    assert list(frame.text["name"]) == ["a, b", "c"]


# -- missing and malformed values ------------------------------------------------


def test_na_tokens_are_missing_and_dropna_counts_them(engine):
    table = open_table(str(DATA / "penguins_na.csv"))
    cols = table.columns[2:]
    with pytest.raises(CLIError) as info:
        table.read(cols, ["species"])
    message = str(info.value)
    # make_data.py put NA, '', NaN and null on lines 3, 10, 45 and 90.
    assert "4 of 120 rows have missing" in message
    assert "on lines 3, 10, 45, 90 (the header is line 1)" in message
    assert "--dropna" in message
    frame = table.read(cols, ["species"], dropna=True)
    assert frame.n_dropped == 4 and frame.numeric.shape == (116, 4)
    assert np.all(np.isfinite(frame.numeric))
    assert len(frame.text["species"]) == 116


@pytest.mark.parametrize("token", NA_VALUES)
def test_each_missing_token(tmp_path, token, engine):
    path = _write(tmp_path / "m.csv", f"x,y\n1,a\n{token},b\n3,c\n4,{token}\n")
    with pytest.raises(CLIError, match=r"2 of 4 rows .*lines 3, 5"):
        open_table(path).read(["x"], ["y"])
    frame = open_table(path).read(["x"], ["y"], dropna=True)
    np.testing.assert_array_equal(frame.numeric, [[1.0], [3.0]])
    assert list(frame.text["y"]) == ["a", "c"]


def test_many_bad_rows_are_counted_and_the_first_few_named(tmp_path, engine):
    rows = ["x"] + [("NA" if i % 3 == 0 else str(i)) for i in range(30)]
    path = _write(tmp_path / "many.csv", "\n".join(rows) + "\n")
    with pytest.raises(
        CLIError, match=r"10 of 30 rows .*lines 2, 5, 8, 11, 14, \.\.\."
    ):
        open_table(path).read(["x"])


def test_non_numeric_cells_name_column_value_and_line(tmp_path, engine):
    text = "x,y,z\n1,2,a\n3,oops,b\n\n5,6,c\n"
    table = open_table(_write(tmp_path / "n.csv", text))
    with pytest.raises(CLIError) as info:
        table.read(["x", "y", "z"])
    message = str(info.value)
    assert "'y' has 1 non-numeric value(s) (e.g. 'oops' on line 3)" in message
    assert "non-numeric column(s) 'z' (e.g. 'a')" in message
    np.testing.assert_array_equal(table.read(["x"]).numeric, [[1], [3], [5]])


def test_infinite_values_are_reported_and_droppable(tmp_path, engine):
    path = _write(tmp_path / "inf.csv", "x\n1\ninf\n2\n")
    with pytest.raises(CLIError, match="1 of 3 rows have missing or non-finite"):
        open_table(path).read(["x"])
    assert open_table(path).read(["x"], dropna=True).n_dropped == 1


def test_ragged_rows_name_the_line(tmp_path, engine):
    path = _write(tmp_path / "r.csv", "a,b\n1,2\n\n3\n")
    with pytest.raises(CLIError, match=r"data row 2 has 1 fields \(line 4\)"):
        open_table(path).read(["a", "b"])


def test_headerless_and_empty_files(tmp_path):
    table = open_table(_write(tmp_path / "h.csv", "1,2\n3,4\n"))
    assert not table.has_header
    with pytest.raises(CLIError, match="expected a header row"):
        table.require_header()
    with pytest.raises(CLIError, match="the file is empty"):
        open_table(_write(tmp_path / "e.csv", "\n\n"))


def test_large_file_uses_the_fast_path_and_matches(tmp_path, engine):
    # repr round-trips every double; numpy's and Python's parsers are correctly
    # rounded, pandas' 'high' precision parser is within one ulp.
    rng = np.random.default_rng(3)
    X = rng.standard_normal((5000, 4)) * np.exp(rng.normal(0, 5, size=(5000, 4)))
    body = "\n".join(",".join(map(repr, r)) for r in X.tolist())
    path = _write(tmp_path / "big.csv", "a,b,c,d\n" + body + "\n")
    got = open_table(path).read(["d", "a"]).numeric
    np.testing.assert_allclose(got, X[:, [3, 0]], rtol=2.3e-16, atol=0)
    if engine == "numpy":
        np.testing.assert_array_equal(got, X[:, [3, 0]])


# -- Parquet ---------------------------------------------------------------------


def test_parquet_without_pyarrow_names_the_extra(tmp_path, monkeypatch):
    path = tmp_path / "t.parquet"
    path.write_bytes(b"PAR1")
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(CLIError, match=r"needs pyarrow.*skkl\[parquet\]"):
        open_table(str(path))


def test_parquet_round_trip(tmp_path):
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    X, y = _iris()
    columns = {n: X[:, j] for j, n in enumerate(NAMES)}
    columns["sepal_length"] = pa.array(
        [None if i == 4 else v for i, v in enumerate(X[:, 0].tolist())]
    )
    pq.write_table(pa.table({**columns, "species": y.tolist()}), tmp_path / "i.parquet")
    table = open_table(str(tmp_path / "i.parquet"))
    with pytest.raises(CLIError, match="1 of 150 rows .*rows 5"):
        table.read(NAMES, ["species"])
    frame = table.read(NAMES, ["species"], dropna=True)
    keep = np.arange(150) != 4
    np.testing.assert_array_equal(frame.numeric, X[keep])
    np.testing.assert_array_equal(frame.text["species"], y[keep])


# -- packed Gaussians ------------------------------------------------------------


@given(st.integers(1, 7), st.sampled_from(["full", "diag", "spherical"]))
def test_packed_header_encodes_layout_and_dimension(d, kind):
    from skkl import packed_size

    columns = packed_columns(d, kind)
    assert len(columns) == packed_size(d, kind)
    assert layout_from_columns(columns) == (kind, d)
    assert layout_from_columns(columns[:-1]) is None
    assert layout_from_columns(["name", *columns]) is None  # name is peeled first


@pytest.mark.parametrize("kind", ["full", "diag", "spherical", "tied"])
def test_write_packed_then_read_gaussians(tmp_path, kind):
    rng = np.random.default_rng(1)
    K, d = 4, 3
    means = rng.normal(size=(K, d))
    if kind in ("full", "tied"):
        A = rng.normal(size=(K, d, d))
        covs = A @ A.transpose(0, 2, 1) + np.eye(d)
        covs = covs[0] if kind == "tied" else covs
    elif kind == "diag":
        covs = rng.uniform(0.5, 2, size=(K, d))
    else:
        covs = rng.uniform(0.5, 2, size=K)
    G = Gaussians(means, covs, kind)
    path = str(tmp_path / "g.csv")
    with open(path, "w", newline="") as fh:
        write_packed(fh, G, names=["a", "b", "c", "d"])
    H, labels = read_gaussians(path)
    assert labels == ["a", "b", "c", "d"]
    assert H.covariance_type == ("full" if kind == "tied" else kind)
    np.testing.assert_allclose(H.means, means, rtol=1e-15)
    np.testing.assert_allclose(
        H.to_full().covariances, G.to_full().covariances, rtol=1e-13
    )


def test_packed_file_refuses_contradicting_or_missing_layout(tmp_path):
    with pytest.raises(
        CLIError, match=r"says 'full' rows in d=4 .*drop --covariance-type"
    ):
        read_gaussians(str(DATA / "packed_full_d4.csv"), "diag")
    G, labels = read_gaussians(str(DATA / "packed_full_d4.csv"), "full")
    assert len(G) == 3 and G.n_features == 4
    assert labels == ["setosa", "versicolor", "virginica"]
    with pytest.raises(CLIError, match="does not describe packed Gaussians"):
        read_gaussians(str(DATA / "iris_X.csv"), "diag")
    headerless = _write(tmp_path / "p.csv", "0,0,1,1\n1,1,2,2\n")
    with pytest.raises(CLIError, match="needs --covariance-type"):
        read_gaussians(headerless)
    G, labels = read_gaussians(headerless, "diag")
    assert labels is None
    np.testing.assert_array_equal(G.covariances, [[1, 1], [4, 4]])


def test_clean_files_never_take_the_slow_pass(monkeypatch, engine):
    # Plumbing: the pure-Python pass is only for files with problems.
    def fail(*args):
        raise AssertionError("slow pass used on a clean file")

    monkeypatch.setattr(DelimitedTable, "_read_slow", fail)
    for name in ("iris_semicolon.csv", "iris.tsv", "iris.csv.gz"):
        frame = open_table(str(DATA / name)).read(NAMES, ["species"])
        assert frame.numeric.shape == (150, 4)
    if engine == "numpy":
        return  # loadtxt cannot parse 'NA': such files take the slow pass
    frame = open_table(str(DATA / "penguins_na.csv")).read(
        ["bill_length_mm"], dropna=True
    )
    assert frame.n_dropped == 1


def test_line_numbers_count_leading_blank_lines_and_columns_once(tmp_path, engine):
    path = _write(tmp_path / "b.csv", "\n\nx,y\n1,2\nNA,3\n")
    with pytest.raises(CLIError, match=r"on line 5 \(the header is line 3\)"):
        open_table(path).read(["x", "y"])
    with pytest.raises(CLIError, match=r"\['x'\] are asked for twice"):
        open_table(path).read(["x", "x"])


def test_decimal_commas_are_named(tmp_path, engine):
    # R's write.csv2 / European Excel: ';' between fields, ',' in numbers.
    path = _write(tmp_path / "eu.csv", "a;b\n1,5;2\n3,25;4\n")
    with pytest.raises(CLIError, match=r"decimal comma \(e\.g\. '1,5'\)"):
        open_table(path).read(["a", "b"])


# -- hostile files (issue 24): every engine refuses or reads them whole ----------


@pytest.mark.parametrize(
    "text, line, fields",
    [
        ("a,b,c\n1,2,3\n1,234.5,7,8\n", 3, 4),  # a thousands separator
        ("a,b,c\n1,2,3\n4,5,6,\n", 3, 4),  # a trailing delimiter
        ("a,b,c\n1,2,3\n\n4,5\n7,8,9\n", 4, 2),  # too few, after a blank line
    ],
)
def test_rows_with_another_field_count_are_refused(
    tmp_path, engine, text, line, fields
):
    path = _write(tmp_path / "r.csv", text)
    for columns in (["a", "b", "c"], ["a", "b"], ["a"]):
        with pytest.raises(CLIError) as info:
            open_table(path).read(columns)
        message = str(info.value)
        assert message.startswith(f"{path}: data row ")
        assert f"has {fields} fields (line {line}), the header has 3" in message


def test_ragged_rows_in_a_large_file_are_found(tmp_path, engine):
    # Past the first block the readers read, and past the sniffed lines.
    rows = ["1.5,2.5,3.5"] * 100_000  # 1.2 MB: more than one block
    rows[90_000] = "1,234.5,7,8"
    path = _write(tmp_path / "big.csv", "a,b,c\n" + "\n".join(rows) + "\n")
    with pytest.raises(CLIError, match=r"has 4 fields \(line 90002\)"):
        open_table(path).read(["a", "b"])


def test_quoted_delimiters_are_cells_not_fields(tmp_path, engine):
    text = 'name,x,y\n"a,b",1,2\n"c ""d"", e",3,4\n'
    frame = open_table(_write(tmp_path / "q.csv", text)).read(["x", "y"], ["name"])
    np.testing.assert_array_equal(frame.numeric, [[1, 2], [3, 4]])
    assert list(frame.text["name"]) == ["a,b", 'c "d", e']


def test_an_open_quote_names_its_line(tmp_path, engine):
    path = _write(tmp_path / "o.csv", 'a,b\n1,2\n"3,4\n5,6\n')
    with pytest.raises(CLIError, match="quote left open on line 3"):
        open_table(path).read(["a", "b"])


@given(
    st.lists(
        st.one_of(st.integers(1, 4), st.just(0)),  # fields per line; 0 = blank
        min_size=1,
        max_size=40,
    ),
    st.integers(1, 9),
    st.integers(1, 3),
)
def test_field_counter_agrees_with_a_line_by_line_count(widths, block, skip_blank):
    # Reference: a plain loop over the lines; the counter sees the bytes in
    # blocks of every size, cut anywhere (even inside a line).
    from skkl.cli._files import FieldCounter

    lines = [""] * skip_blank + ["h1,h2"]  # blank lines, then the header
    lines += [",".join(["7"] * w) if w else "" for w in widths]
    data = ("\r\n" if block % 2 else "\n").join(lines).encode() + b"\n"
    expected = all(w in (0, 2) for w in widths)
    counter = FieldCounter(b",", 2, skip=skip_blank + 1)
    counter.batch = block  # small batches: every cut position is exercised
    for i in range(0, len(data), block):
        counter.feed(data[i : i + block])
    counter.feed(b"")
    assert counter.ok == expected


@pytest.mark.parametrize("n_columns, width", [(300, 240), (2, 70_000)])
def test_headers_longer_than_the_sniffed_sample_are_read_whole(
    tmp_path, engine, n_columns, width
):
    # Issue 24: a 73.7 KB header gave 267 of 300 columns; a 70,000-character
    # first name gave one column.
    names = [f"c{j}_" + "x" * (width - 6) for j in range(n_columns)]
    X = np.arange(3 * n_columns, dtype=float).reshape(3, n_columns)
    body = "\n".join(",".join(map(repr, r)) for r in X.tolist())
    table = open_table(_write(tmp_path / "w.csv", ",".join(names) + "\n" + body))
    assert table.columns == names
    np.testing.assert_array_equal(table.read(names).numeric, X)


@pytest.mark.parametrize("corrupt", ["deflate", "checksum", "truncated"])
def test_damaged_gzip_is_bad_input(tmp_path, engine, corrupt):
    data = gzip.compress(
        b"a,b\n" + b"".join(b"%d,%d\n" % (i, 7 * i) for i in range(9999))
    )
    if corrupt == "deflate":  # zlib.error: invalid code lengths
        data = data[:12] + b"\xff" + data[13:]
    elif corrupt == "checksum":
        data = data[:-8] + bytes(8)
    else:
        data = data[: len(data) // 2]
    path = tmp_path / "bad.csv.gz"
    path.write_bytes(data)
    with pytest.raises(CLIError, match=r"bad\.csv\.gz: not a readable gzip file"):
        open_table(str(path)).read(["a", "b"])


def test_cells_over_csv_s_limit_are_read_whole(tmp_path, engine):
    # csv's default limit is 128 KiB per cell; the pure-Python pass (taken
    # here for the missing value) reads such a cell like the C parsers.
    big = "z" * 200_000
    path = _write(tmp_path / "c.csv", f"a,t\n1,{big}\nNA,x\n3,y\n")
    frame = open_table(path).read(["a"], ["t"], dropna=True)
    np.testing.assert_array_equal(frame.numeric, [[1], [3]])
    assert frame.text["t"][0] == big
    with pytest.raises(CLIError) as info:
        open_table(path).read(["t"])
    assert len(str(info.value)) < 400  # the cell is quoted shortly, not whole


@pytest.mark.parametrize("cell", ["1_000", "1_0.5", "\u0661\u0662", "\uff11"])
def test_python_only_number_spellings_are_not_numbers(tmp_path, engine, cell):
    # float() reads '1_000' as 1000 and Arabic-Indic or full-width digits as
    # numbers; the C parsers do not, and no engine may.
    path = _write(tmp_path / "u.csv", f"a,b\n{cell},2\n3,4\n")
    with pytest.raises(CLIError, match="'a' has 1 non-numeric value"):
        open_table(path).read(["a", "b"])


def test_header_only_file_has_no_rows_and_no_warning(tmp_path, engine, recwarn):
    frame = open_table(_write(tmp_path / "h.csv", "a,b,t\n\n")).read(["a", "b"], ["t"])
    assert frame.numeric.shape == (0, 2) and frame.text["t"].shape == (0,)
    assert not recwarn.list


def test_decimal_comma(tmp_path, engine):
    path = _write(tmp_path / "eu.csv", "a;b\n1,5;2\n-3,25;4e-1\n")
    frame = open_table(path, decimal=",").read(["a", "b"])
    np.testing.assert_array_equal(frame.numeric, [[1.5, 2], [-3.25, 0.4]])
    with pytest.raises(CLIError, match="only with --decimal comma"):
        open_table(path).read(["a", "b"])
    # With a decimal comma, '1.234' is ambiguous: refused, never 1.234.
    path = _write(tmp_path / "mix.csv", "a;b\n1,5;2\n1.234;4\n")
    with pytest.raises(CLIError, match=r"ambiguous.*'1\.234' on line 3"):
        open_table(path, decimal=",").read(["a", "b"])
    with pytest.raises(CLIError, match="delimiter and the decimal separator"):
        open_table(path, sep=",", decimal=",")


def test_unnamed_columns_are_named_in_the_error(tmp_path):
    table = open_table(_write(tmp_path / "t.csv", "a,b,\n1,2,\n3,4,\n"))
    assert table.columns == ["a", "b", ""]
    with pytest.raises(CLIError, match=r"t\.csv: column 3 of 3 has no name"):
        table.data_columns()
    np.testing.assert_array_equal(table.read(["a", "b"]).numeric, [[1, 2], [3, 4]])


def test_a_non_ascii_delimiter_is_counted_by_characters(tmp_path, engine):
    # '§' is two bytes in UTF-8: rows are checked on the pure-Python pass.
    path = _write(tmp_path / "s.csv", "a§b\n1§2\n3§4\n")
    np.testing.assert_array_equal(
        open_table(path, sep="§").read(["a", "b"]).numeric, [[1, 2], [3, 4]]
    )
    path = _write(tmp_path / "r.csv", "a§b\n1§2\n3§4§5\n")
    with pytest.raises(CLIError, match=r"has 3 fields \(line 3\)"):
        open_table(path, sep="§").read(["a"])


def test_a_first_line_beyond_any_header_is_refused(tmp_path, monkeypatch):
    # Bounded so that a file without line breaks is not read into memory.
    from skkl.cli import _readers

    monkeypatch.setattr(_readers, "_HEADER_BYTES", 1000)
    path = _write(tmp_path / "one.csv", "x" * 1001)
    with pytest.raises(CLIError, match="the first line is longer than"):
        open_table(path)
    assert open_table(_write(tmp_path / "ok.csv", "x" * 999 + "\n1\n")).columns
