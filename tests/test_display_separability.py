"""Notebook displays of SeparabilityResult and BayesErrorBounds."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_iris, load_wine

from skkl import bayes_error_bounds, separability_score
from skkl.separability import BayesErrorBounds
from tests._html_tree import parse, shows, tables


def test_matrix_pairs_and_summary_read_back_as_computed():
    data = load_wine()
    labels = data.target_names[data.target]
    res = separability_score(data.data, labels, kind="kl", aggregate="weighted")
    root = parse(res._repr_html_())
    assert root.find("pre").text() == repr(res)  # the short repr is the fallback
    box = root.find("div", "skkl-verdict")
    a, b = res.hardest_pair
    assert (
        box.find("div", "skkl-verdict-label").text()
        == f"Least separated classes: {a} and {b}"
    )
    found = tables(root)
    matrix = found["kl divergence D(row ‖ column)"]
    assert matrix[0] == ["from \\ to", *map(str, res.classes)]
    for i, row in enumerate(matrix[1:]):
        assert row[0] == str(res.classes[i])
        for j, cell in enumerate(row[1:]):
            assert cell == "—" if i == j else shows(cell, res.matrix[i, j])
    # Least separated pairs, by a naive loop over pairs.
    K = len(res.classes)
    naive = sorted(
        (min(res.matrix[i, j], res.matrix[j, i]), i, j)
        for i in range(K)
        for j in range(i + 1, K)
    )
    pairs = found["Least separated pairs"][1:]
    assert [p[0] for p in pairs] == [
        f"{res.classes[i]} – {res.classes[j]}" for _, i, j in naive
    ]
    assert all(shows(p[1], x) for p, (x, _, _) in zip(pairs, naive, strict=True))
    facts = root.find("dl").text()
    assert "prior-weighted mean divergence" in facts
    assert f"{res.value:.3g}" in facts


def test_many_classes_list_pairs_without_the_matrix_and_labels_are_text():
    rng = np.random.default_rng(0)
    K = 15  # above the 12 classes up to which the matrix is shown
    y = np.repeat(np.arange(K), 30)
    X = rng.normal(size=(y.size, 3)) + rng.normal(scale=3, size=(K, 3))[y]
    labels = np.array([f"<b>{c}</b>" for c in y])
    res = separability_score(X, labels, kind="hellinger")
    html = res._repr_html_()
    assert "<b>" not in html
    found = tables(parse(html))
    assert list(found) == ["Least separated pairs"]
    assert len(found["Least separated pairs"]) == 1 + 5
    a, b = res.hardest_pair
    assert found["Least separated pairs"][1][0] == f"{a} – {b}"


def test_bayes_error_bounds_display_in_one_unit():
    X, y = load_iris(return_X_y=True)
    bounds = bayes_error_bounds(X, y)
    root = parse(bounds._repr_html_())
    label = root.find("div", "skkl-verdict-label").text()
    assert bounds.upper >= 1e-3
    lower, upper = 100 * bounds.lower, 100 * bounds.upper
    assert label == f"Bayes error between {lower:.3g}% and {upper:.3g}%"
    assert root.find("pre").text() == repr(bounds)
    tiny = BayesErrorBounds(9.686e-8, 3.112e-4)
    label = parse(tiny._repr_html_()).find("div", "skkl-verdict-label").text()
    assert label == "Bayes error between 9.69e-08 and 0.000311"


@pytest.mark.parametrize("aggregate", [None, "min"])
def test_no_summary_value_leaves_the_row_out(aggregate):
    X, y = load_iris(return_X_y=True)
    res = separability_score(X, y, aggregate=aggregate)
    facts = [n.text() for n in parse(res._repr_html_()).find_all("dt")]
    assert ("summary" in facts) == (aggregate is not None)
