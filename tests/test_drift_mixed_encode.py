"""Tables in drift: reading typed columns and the encoding into moment features."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.testing import assert_allclose, assert_array_equal

from skkl.drift._encode import (
    MAX_LEVELS,
    MIN_LEVEL_ROWS,
    MISSING,
    TableEncoding,
    level_threshold,
    merge_summaries,
    summarise,
)
from skkl.drift._table import Table, is_table, read_table

pd = pytest.importorskip("pandas")


def _frame(n, rng, missing=0.1):
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=n),
            "city": rng.choice(
                ["a", "b", "c", "d", "e"], p=[0.5, 0.3, 0.15, 0.04, 0.01], size=n
            ),
            "flag": rng.random(n) < 0.3,
            "k": rng.integers(0, 5, n),
        }
    )
    frame.loc[rng.random(n) < missing, "x"] = np.nan
    frame.loc[rng.random(n) < missing, "city"] = None
    return frame


# -- reading ------------------------------------------------------------------------


def test_which_inputs_are_tables():
    rng = np.random.default_rng(0)
    frame = _frame(50, rng)
    assert is_table(frame)
    assert is_table(frame[["city"]])
    assert is_table(frame[["x"]])  # a missing cell
    assert not is_table(frame[["flag", "k"]])  # numbers and booleans, complete
    assert not is_table(frame[["x"]].dropna())
    assert not is_table(np.array([[1.0, np.nan]]))  # a float matrix: NaN stays an error
    assert is_table(np.array([["a", 1]], dtype=object))
    assert is_table([["a", "b"]])
    assert not is_table([[1, 2]])
    assert is_table(frame.astype({"k": "category"})[["k"]])


def test_read_table_kinds_and_missing_cells():
    frame = pd.DataFrame(
        {
            "f": [1.5, np.nan, 3.0],
            "i": pd.array([1, None, 3], dtype="Int64"),
            "b": pd.array([True, None, False], dtype="boolean"),
            "o": ["u", None, "u"],
            "s": pd.array(["p", "q", None], dtype="string"),
            "c": pd.Categorical(["m", "n", None], categories=["n", "m", "unused"]),
            "ob": np.array([True, False, None], dtype=object),
            "on": np.array([1, 2.5, None], dtype=object),
        }
    )
    t = read_table(frame)
    kinds = {c.name: (c.kind, c.boolean) for c in t.columns}
    assert kinds == {
        "f": ("numeric", False),
        "i": ("numeric", False),
        "b": ("numeric", True),
        "o": ("categorical", False),
        "s": ("categorical", False),
        "c": ("categorical", False),
        "ob": ("numeric", True),
        "on": ("numeric", False),
    }
    missing = {c.name: c.missing.tolist() for c in t.columns}
    assert missing["i"] == [False, True, False]
    assert missing["c"] == [False, False, True]
    by = {c.name: c for c in t.columns}
    assert_array_equal(by["b"].values[[0, 2]], [1.0, 0.0])
    assert list(by["c"].levels[by["c"].values[:2]]) == ["m", "n"]
    assert t.named and t.shape == (3, 8)


def test_read_table_errors_name_the_column_and_row():
    frame = pd.DataFrame({"x": [1.0, np.inf], "t": pd.to_datetime(["2020", "2021"])})
    with pytest.raises(
        ValueError, match=r"column 'x' of X has an infinite value in row 1"
    ):
        read_table(frame[["x"]])
    with pytest.raises(ValueError, match=r"column 't' of X_ref holds datetime64"):
        read_table(frame[["t"]], "X_ref")
    ref = read_table(pd.DataFrame({"x": [1.0, 2.0]}))
    bad = pd.DataFrame({"x": ["1", "abc"]})
    with pytest.raises(
        ValueError, match=r"column 'x' of X holds 'abc' in row 1.*numeric"
    ):
        read_table(bad, "X", schema=ref.schema)
    ok = read_table(pd.DataFrame({"x": ["1", None]}), "X", schema=ref.schema)
    assert np.isnan(ok.columns[0].values[1]) and ok.columns[0].values[0] == 1.0
    with pytest.raises(ValueError, match="X has 2 features, but .* expecting 1"):
        read_table(pd.DataFrame({"x": [1], "y": [2]}), "X", schema=ref.schema)
    with pytest.raises(TypeError, match="holds a dict in row 0.*string or a number"):
        read_table(np.array([[{"a": 1}], ["b"]], dtype=object))


def test_table_concat_unites_levels():
    a = read_table(pd.DataFrame({"c": ["x", "y", None]}))
    b = read_table(pd.DataFrame({"c": ["z", "x"]}))
    t = a.concat(b)
    col = t.columns[0]
    got = [None if k < 0 else col.levels[k] for k in col.values]
    assert got == ["x", "y", None, "z", "x"]
    assert t.n_rows == 5 and t[1:3].n_rows == 2


# -- the encoding ---------------------------------------------------------------------


def _naive_encoding(values_ref, values_new, threshold):
    """One-hot of a categorical column by the documented rule, with plain loops."""
    pooled = list(values_ref) + list(values_new)
    labels = ["<NA>" if v is None else v for v in pooled]
    counts = {}
    for v in labels:
        counts[v] = counts.get(v, 0) + 1
    order = sorted(
        counts, key=lambda v: (-counts[v], str(v) if v != "<NA>" else "(missing)")
    )
    rest = order[1:]  # order[0] is the baseline
    kept = [v for v in rest if counts[v] >= threshold][:MAX_LEVELS]
    pooled_levels = [v for v in rest if v not in kept]
    other = bool(pooled_levels) and sum(counts[v] for v in pooled_levels) >= threshold
    cols = kept + (["<other>"] if other else [])
    out = np.zeros((len(labels), len(cols)))
    for i, v in enumerate(labels):
        if v in kept:
            out[i, cols.index(v)] = 1.0
        elif v in pooled_levels and other:
            out[i, -1] = 1.0
    return out


@pytest.mark.parametrize("seed", range(4))
def test_categorical_encoding_matches_a_naive_one_hot(seed):
    rng = np.random.default_rng(seed)
    n1, n2 = 120, 80
    p = [0.4, 0.25, 0.15, 0.08, 0.05, 0.04, 0.03]
    vals = list(rng.choice(list("abcdefg"), p=p, size=n1 + n2).astype(object))
    for i in rng.choice(n1 + n2, size=12, replace=False):
        vals[i] = None
    ref = read_table(pd.DataFrame({"c": vals[:n1]}))
    new = read_table(pd.DataFrame({"c": vals[n1:]}))
    enc = TableEncoding.fit(ref, new)
    threshold = MIN_LEVEL_ROWS * (n1 + n2) / n2
    assert enc.threshold == threshold
    got = np.vstack([enc.transform(ref), enc.transform(new)])
    assert_array_equal(got, _naive_encoding(vals[:n1], vals[n1:], threshold))
    assert len(enc.feature_names) == got.shape[1]


def test_numeric_encoding_fill_and_indicator():
    rng = np.random.default_rng(1)
    x = rng.normal(size=100)
    x[:30] = np.nan
    ref = read_table(pd.DataFrame({"x": x[:50]}))
    new = read_table(pd.DataFrame({"x": x[50:]}))
    enc = TableEncoding.fit(ref, new)
    assert list(enc.feature_names) == ["x", "x (missing)"]
    got = np.vstack([enc.transform(ref), enc.transform(new)])
    fill = np.nanmean(x)
    assert_allclose(got[:30, 0], fill, rtol=1e-15)
    assert_array_equal(got[30:, 0], x[30:])
    assert_array_equal(got[:, 1], np.isnan(x))
    # Fewer missing cells than the threshold (20 here): filled, no indicator.
    x[:30] = rng.normal(size=30)
    x[:19] = np.nan
    enc = TableEncoding.fit(
        read_table(pd.DataFrame({"x": x[:50]})), read_table(pd.DataFrame({"x": x[50:]}))
    )
    assert list(enc.feature_names) == ["x"]


def test_threshold_rule():
    assert level_threshold(100, 100) == 2 * MIN_LEVEL_ROWS
    assert level_threshold(900, 100) == MIN_LEVEL_ROWS * 10
    assert level_threshold(500) == 2 * MIN_LEVEL_ROWS


def test_a_level_new_in_the_tested_sample_is_an_indicator():
    ref = read_table(pd.DataFrame({"c": ["a"] * 60 + ["b"] * 40}))
    new = read_table(pd.DataFrame({"c": ["a"] * 50 + ["b"] * 25 + ["new"] * 25}))
    enc = TableEncoding.fit(ref, new)
    assert list(enc.feature_names) == ["c=b", "c=new"]
    assert_array_equal(enc.transform(ref)[:, 1], 0.0)
    assert enc.transform(new)[:, 1].sum() == 25


def test_reference_basis_reads_unseen_levels_as_other_or_baseline():
    ref = read_table(
        pd.DataFrame({"c": ["a"] * 60 + ["b"] * 30 + list("cdefghijkl") * 3})
    )
    enc = TableEncoding.fit(ref)  # the reference alone
    assert enc.basis == "reference" and enc.threshold == 2 * MIN_LEVEL_ROWS
    assert list(enc.feature_names) == ["c=b", "c=(other)"]
    new = read_table(
        pd.DataFrame({"c": ["zz", "a", "b", None, "c"]}), schema=ref.schema
    )
    assert_array_equal(enc.transform(new), [[0, 1], [0, 0], [1, 0], [0, 1], [0, 1]])
    # Without rare levels, (other) is latent: used when enough rows carry it.
    ref2 = read_table(
        pd.DataFrame({"c": ["a"] * 60 + ["b"] * 40, "x": [1.0, 2.0] * 50})
    )
    enc2 = TableEncoding.fit(ref2)
    assert list(enc2.feature_names) == ["c=b", "c=(other)", "x", "x (missing)"]
    s_ref = summarise(ref2)
    assert_array_equal(enc2.support(s_ref), [True, False, True, False])
    few = pd.DataFrame({"c": ["zz", "b"], "x": [1.0, None]})
    alone = enc2.restricted(enc2.support(s_ref))
    # zz reads as the baseline, the missing x as the fill value.
    assert_array_equal(alone.encode(few), [[0, 1.0], [1, 1.5]])
    many = read_table(
        pd.DataFrame({"c": ["zz"] * 30 + ["b"] * 70, "x": [None] * 25 + [1.0] * 75}),
        schema=ref2.schema,
    )
    support = enc2.support(s_ref, summarise(many))
    assert_array_equal(support, [True, True, True, True])
    both = enc2.restricted(support)
    assert_array_equal(both.transform(many), enc2.transform(many))
    assert_array_equal(both.transform(many)[:30, 1], 1.0)


def test_encoding_keeps_at_most_max_levels_per_column():
    labels = [f"l{k:03d}" for k in range(MAX_LEVELS + 10)]
    vals = np.repeat(labels, 25)
    ref = read_table(pd.DataFrame({"c": vals}))
    enc = TableEncoding.fit(ref, ref)
    code = enc.columns[0]
    assert len(code.levels) == MAX_LEVELS and code.other
    assert len(code.pooled) == 9  # 40 levels: the baseline, 30 kept, 9 pooled


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**31 - 1),
    n1=st.integers(5, 60),
    n2=st.integers(5, 60),
)
def test_the_encoding_is_a_function_of_the_pooled_sample(seed, n1, n2):
    """Any split of the same rows into the same sizes gives the same features.

    What keeps the permutation test exact: the encoded rows of a split are the
    encoding of the pooled rows, permuted.
    """
    rng = np.random.default_rng(seed)
    frame = _frame(n1 + n2, rng, missing=0.3)
    pooled = read_table(frame)
    perm = rng.permutation(n1 + n2)
    a = TableEncoding.fit(pooled[:n1], pooled[n1:])
    b = TableEncoding.fit(pooled.take(perm[:n1]), pooled.take(perm[n1:]))
    assert list(a.feature_names) == list(b.feature_names)
    Fa = np.vstack([a.transform(pooled[:n1]), a.transform(pooled[n1:])])
    Fb = np.vstack(
        [b.transform(pooled.take(perm[:n1])), b.transform(pooled.take(perm[n1:]))]
    )
    assert_allclose(Fb, Fa[perm], rtol=1e-12, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31 - 1), cut=st.integers(1, 59))
def test_summaries_merge_as_one_pass(seed, cut):
    rng = np.random.default_rng(seed)
    t = read_table(_frame(60, rng, missing=0.2))
    w = rng.uniform(0.5, 2.0, 60)
    whole = summarise(t, w)
    merged = merge_summaries(summarise(t[:cut], w[:cut]), summarise(t[cut:], w[cut:]))
    for a, b in zip(whole, merged, strict=True):
        assert (a.kind, a.rows, a.missing_rows) == (b.kind, b.rows, b.missing_rows)
        assert_allclose([a.weight, a.missing_weight], [b.weight, b.missing_weight])
        if a.kind == "numeric":
            assert_allclose([a.mean, a.m2], [b.mean, b.m2], rtol=1e-12)
        else:
            order = [b.labels.index(lv) for lv in a.labels]
            assert_array_equal(a.counts, b.counts[order])
            assert_allclose(a.weights, b.weights[order], rtol=1e-12)


def test_numeric_table_from_array_round_trips():
    X = np.arange(12.0).reshape(4, 3)
    t = Table.from_array(X)
    assert t.names == ["x0", "x1", "x2"] and not t.named
    assert_array_equal(t.numeric_array(), X)
    enc = TableEncoding.fit(t, t)
    assert_array_equal(enc.transform(t), X)


def test_missing_is_a_level_of_a_categorical_column():
    ref = read_table(pd.DataFrame({"c": ["a"] * 50 + [None] * 30 + ["b"] * 20}))
    enc = TableEncoding.fit(ref, ref)
    assert list(enc.feature_names) == ["c=(missing)", "c=b"]
    assert enc.columns[0].levels[0] is MISSING
