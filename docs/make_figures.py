"""Write the README figures to docs/_static/ (run from anywhere).

    python docs/make_figures.py

- ``separability_wine.png``: the wine data set (3 cultivars, 13 features):
  Bhattacharyya distances between the class Gaussians, and the classes'
  1/2/3-sigma ellipses on the first two principal axes.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from sklearn.datasets import load_wine
from sklearn.preprocessing import StandardScaler

from skkl import GroupGaussians, bayes_error_bounds, separability_score
from skkl.plotting import DivergenceMatrixDisplay, GaussianEllipsesDisplay

STATIC = Path(__file__).resolve().parent / "_static"


def separability_wine(path: Path) -> None:
    data = load_wine()
    # Divergences are invariant to rescaling features; the PCA view is not.
    X = StandardScaler().fit_transform(data.data)
    labels = data.target_names[data.target]
    est = GroupGaussians(covariance_type="full", reg_covar=1e-6).fit(X, labels)
    res = separability_score(X, labels)
    lower, upper = bayes_error_bounds(X, labels)

    fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4.6))
    DivergenceMatrixDisplay.from_estimator(
        est, kind="bhattacharyya", ax=ax0, values_format=".2f", cmap="viridis"
    )
    ax0.set_title(
        f"Bhattacharyya distance between class Gaussians\n"
        f"hardest pair {res.hardest_pair}: {res.value:.2f}; "
        f"Bayes error in [{lower:.1e}, {upper:.1e}]",
        fontsize=10,
    )
    GaussianEllipsesDisplay.from_estimator(est, X, labels, pca=True, ax=ax1)
    ax1.set_title("class Gaussians, 1/2/3-sigma, first two principal axes", fontsize=10)
    fig.suptitle("skkl: class separability of the wine data set", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main() -> None:
    STATIC.mkdir(parents=True, exist_ok=True)
    out = STATIC / "separability_wine.png"
    separability_wine(out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
