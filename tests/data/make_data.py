"""Write the small files in tests/data (run from the repository root).

Real-world shapes the CLI must read: R/Excel-style semicolon files, TSV,
gzip, R-style ``NA`` cells, and packed Gaussians with a self-describing
header. Values come from scikit-learn's bundled iris data, and a
penguins-like table is drawn from fixed Gaussians per species.
"""

import csv
import gzip
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

from skkl import GroupGaussians
from skkl.cli._gaussian_files import write_packed

HERE = Path(__file__).parent
NAMES = ["sepal_length", "sepal_width", "petal_length", "petal_width"]


def _rows():
    data = load_iris()
    return [
        [*(f"{v:g}" for v in x), data.target_names[t]]
        for x, t in zip(data.data, data.target, strict=True)
    ]


def _write(path, rows, delimiter=",", opener=open):
    with opener(path, "wt", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, delimiter=delimiter, lineterminator="\n")
        writer.writerows(rows)


def main():
    header = [*NAMES, "species"]
    rows = [header, *_rows()]
    _write(HERE / "iris_semicolon.csv", rows, ";")
    _write(HERE / "iris.tsv", rows, "\t")
    _write(HERE / "iris.csv.gz", rows, ",", gzip.open)
    _write(HERE / "iris_X.csv", [NAMES, *(r[:4] for r in rows[1:])])

    # Penguins-like: three species, R-style NA in some measurements.
    rng = np.random.default_rng(7)
    species = {
        "Adelie": ([38.8, 18.3, 190.0, 3700.0], [2.7, 1.2, 6.5, 460.0]),
        "Chinstrap": ([48.8, 18.4, 196.0, 3730.0], [3.3, 1.1, 7.1, 380.0]),
        "Gentoo": ([47.5, 15.0, 217.0, 5080.0], [3.1, 1.0, 6.5, 500.0]),
    }
    cols = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
    out = [["species", "island", *cols]]
    islands = ["Biscoe", "Dream", "Torgersen"]
    for name, (mean, sd) in species.items():
        for _ in range(40):
            x = rng.normal(mean, sd)
            cells = [f"{v:.1f}" for v in x]
            out.append([name, islands[rng.integers(3)], *cells])
    # Missing values as R, pandas and databases write them.
    holes = [(3, 2, "NA"), (10, 5, ""), (45, 3, "NaN"), (90, 4, "null")]
    for line, col, token in holes:
        out[line - 1][col] = token
    _write(HERE / "penguins_na.csv", out)

    X = load_iris().data
    y = load_iris().target_names[load_iris().target]
    est = GroupGaussians().fit(X, y)
    with open(HERE / "packed_full_d4.csv", "w", newline="", encoding="utf-8") as fh:
        write_packed(fh, est.gaussians_, list(est.classes_))


if __name__ == "__main__":
    main()
