"""``skkl demo``: a tour on data bundled with scikit-learn (no download)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .._version import __version__
from ._command import Command, arg
from ._errors import EXIT_OK, CLIError
from ._flags import seed
from ._tables import fmt as _fmt
from ._tables import heading as _heading
from ._tables import matrix_table as _matrix_table
from ._tables import table as _table

__all__ = ["COMMAND", "cmd_demo"]

_DEMO_K = 10  # features kept by SelectKBest on digits
_DEMO_SHIFT = 1.0  # added to two standardised wine features (one std)
_DEMO_SHIFTED = ("alcohol", "flavanoids")


def cmd_demo(args) -> int:
    from threadpoolctl import threadpool_limits

    # Every array here is tiny: threaded BLAS only adds overhead, and on a
    # busy machine its spinning threads slow the demo down.
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_demo(args)


def _run_demo(args) -> int:
    from sklearn.datasets import load_digits, load_wine
    from sklearn.preprocessing import StandardScaler

    from .._group import GroupGaussians

    if args.plot:
        _check_plotting()
    wine = load_wine()
    X = StandardScaler().fit_transform(wine.data)
    classes = [str(c) for c in wine.target_names]
    y = np.asarray(classes)[wine.target]
    names = list(wine.feature_names)

    print(
        f"skkl {__version__} demo: divergences between Gaussians, on data "
        "bundled with scikit-learn"
    )
    gg = GroupGaussians(covariance_type="full").fit(X, y)
    _demo_divergences(gg, X, y)
    _demo_separability(gg, X, y)
    digits = load_digits()
    _demo_selection(digits.data, digits.target, args.seed)
    drift = _demo_drift(X, names, args.seed)
    if args.plot:
        _demo_plots(Path(args.plot), gg, X, y, drift, names)
    return EXIT_OK


def _demo_divergences(gg, X, y) -> None:
    labels = [str(c) for c in gg.classes_]
    counts = ", ".join(f"{c}: {int(np.sum(y == c))}" for c in gg.classes_)
    print(_heading("1. Class Gaussians on wine"))
    print(
        f"{X.shape[0]} wines, {X.shape[1]} standardised features, "
        f"{len(labels)} classes ({counts})."
    )
    print("GroupGaussians fits one full-covariance Gaussian per class.")
    kl = gg.divergence_matrix(kind="kl")
    print("\nKL(row || column), nats:")
    print(_matrix_table(kl, labels))
    i, j = np.unravel_index(np.argmax(np.abs(kl - kl.T)), kl.shape)
    print(
        f"KL is not symmetric: KL({labels[i]} || {labels[j]}) = {_fmt(kl[i, j])}, "
        f"KL({labels[j]} || {labels[i]}) = {_fmt(kl[j, i])}."
    )
    print("\nBhattacharyya distance (symmetric), nats:")
    print(_matrix_table(gg.divergence_matrix(kind="bhattacharyya"), labels))


def _demo_separability(gg, X, y) -> None:
    from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
    from sklearn.model_selection import cross_val_score

    from ..separability import bayes_error_bounds, separability_score

    print(_heading("2. Separability"))
    res = separability_score(X, y)
    a, b = res.hardest_pair
    print(f"least separated pair: {a} / {b}, Bhattacharyya distance {_fmt(res.value)}")
    lower, upper = bayes_error_bounds(X, y)
    print(
        f"Bayes error bounds if the classes were these Gaussians: "
        f"{_fmt(lower)} <= error <= {_fmt(upper)}"
    )
    acc = cross_val_score(QuadraticDiscriminantAnalysis(), X, y, cv=5).mean()
    print(
        "The bounds take the fitted Gaussians as the truth; with about 60 wines "
        "per class\nin 13 dimensions they are optimistic. For comparison, the "
        f"5-fold CV error of QDA\n(the Bayes rule for fitted Gaussians): "
        f"{_fmt(1 - acc)}."
    )


def _demo_selection(X, y, seed: int) -> None:
    import warnings

    k = _DEMO_K
    print(_heading("3. Feature selection on digits"))
    print(
        f"{X.shape[0]} images of 8x8 pixels, {len(np.unique(y))} classes. "
        f"SelectKBest(k={k}) with"
    )
    print(
        "gaussian_divergence_score (divergence between the per-class "
        "Gaussians of each pixel)"
    )
    print("against f_classif (ANOVA F, differences of class means only).")
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Features .* are constant")
        warnings.filterwarnings("ignore", category=RuntimeWarning)  # f_classif
        top = _selection_table(X, y, k)
        # Say so when the ranking is driven by pixels blank within some class:
        # a variance ratio against a (smoothed) zero variance is huge.
        classes = np.unique(y)
        blank = sum(any(np.ptp(X[y == c, j]) == 0 for c in classes) for j in top)
        if blank:
            print(
                f"{blank} of them are blank in every image of some class: the "
                "ratio of a class variance\nto that zero variance (smoothed by "
                "var_smoothing) dominates their score."
            )
        _selection_cv(X, y, k, seed)


def _selection_table(X, y, k: int) -> np.ndarray:
    """Print the top ``k`` pixels by skkl's score next to f_classif; return them."""
    from sklearn.feature_selection import f_classif

    from ..separability import gaussian_divergence_score

    scores, pvalues = gaussian_divergence_score(X, y)
    F, _ = f_classif(X, y)
    F = np.nan_to_num(F, nan=0.0)  # constant pixels
    f_rank = np.empty(len(F), dtype=int)
    f_rank[np.argsort(-F, kind="stable")] = np.arange(1, len(F) + 1)
    top = np.argsort(-scores, kind="stable")[:k]
    rows = [
        [
            r,
            f"{j} ({j // 8},{j % 8})",
            _fmt(scores[j]),
            _fmt(pvalues[j], 3),
            _fmt(F[j]),
            f_rank[j],
        ]
        for r, j in enumerate(top, start=1)
    ]
    header = ["rank", "pixel (row,col)", "skkl score", "p-value", "f_classif F"]
    print()
    print(_table(rows, header=[*header, "F rank"], align=[">", "<", *">" * 4]))
    overlap = len(set(top) & set(np.argsort(-F, kind="stable")[:k]))
    print(f"{overlap} of these {k} pixels are also in f_classif's top {k}.")
    return top


def _selection_cv(X, y, k: int, seed: int) -> None:
    """Print the cross-validated accuracy of LDA on each selection."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    from ..separability import gaussian_divergence_score

    cv = StratifiedKFold(5, shuffle=True, random_state=seed)
    print("\n5-fold CV accuracy of LDA on the selected pixels:")
    rows = []
    for name, func in [
        ("gaussian_divergence_score", gaussian_divergence_score),
        ("f_classif", f_classif),
    ]:
        model = make_pipeline(SelectKBest(func, k=k), LinearDiscriminantAnalysis())
        accuracy = cross_val_score(model, X, y, cv=cv).mean()
        rows.append([f"{k} pixels by {name}", _fmt(accuracy, 3)])
    acc = cross_val_score(LinearDiscriminantAnalysis(), X, y, cv=cv).mean()
    rows.append([f"all {X.shape[1]} pixels", _fmt(acc, 3)])
    print(_table(rows))


def _demo_drift(X, names, seed: int):
    from ..drift import GaussianDriftDetector

    rng = np.random.default_rng(seed)
    ref, same, other = np.array_split(
        rng.permutation(len(X)), [len(X) // 2, 3 * len(X) // 4]
    )
    cols = [names.index(c) for c in _DEMO_SHIFTED]
    shifted = X[other].copy()
    shifted[:, cols] += _DEMO_SHIFT
    print(_heading("4. Drift detection on wine"))
    print(
        f"reference: {len(ref)} random wines; two new batches from the "
        f"remaining {len(same) + len(other)}:"
    )
    print(f"  unchanged: {len(same)} wines, no drift")
    print(
        f"  shifted:   {len(other)} wines, {' and '.join(_DEMO_SHIFTED)} "
        f"+{_fmt(_DEMO_SHIFT)} std"
    )
    det = GaussianDriftDetector(random_state=seed).fit(X[ref])
    results = {"unchanged": det.test(X[same]), "shifted": det.test(shifted)}
    rows = [
        [name, _fmt(r.p_value, 3), _fmt(r.effect, 3), "yes" if r.is_drift else "no"]
        for name, r in results.items()
    ]
    print(
        f"\nGaussianDriftDetector (permutation test, {det.n_permutations} "
        f"permutations, alpha={det.alpha}):"
    )
    print(_table(rows, header=["batch", "p-value", "effect", "drift"]))
    B = det.n_permutations
    print(
        "effect: symmetric KL between the batch's Gaussian and the reference's, "
        "in nats,\nminus its expected value without drift (so about 0, and "
        f"noisy, without drift).\nWith {B} permutations the smallest possible "
        f"p-value is 1/{B + 1} = {_fmt(1 / (B + 1), 3)}."
    )
    res = results["shifted"]
    top = np.argsort(-res.feature_scores, kind="stable")[:4]
    rows = [
        [names[j], _fmt(res.feature_scores[j], 3), _fmt(res.feature_p_values[j], 3)]
        for j in top
    ]
    print("\nmost drifted features of the shifted batch:")
    print(_table(rows, header=["feature", "effect", "p-value (Holm)"]))
    return results["shifted"]


def _check_plotting() -> None:
    try:
        import matplotlib
    except ImportError:
        raise CLIError(
            "--plot needs matplotlib; install it with `pip install 'skkl[plot]'`."
        ) from None
    matplotlib.use("Agg")  # files only, no window


def _demo_plots(directory: Path, gg, X, y, drift, names) -> None:
    import matplotlib.pyplot as plt

    from ..plotting import (
        DivergenceMatrixDisplay,
        DriftDisplay,
        GaussianEllipsesDisplay,
    )

    directory.mkdir(parents=True, exist_ok=True)
    displays = {
        "wine_kl_matrix.png": DivergenceMatrixDisplay.from_estimator(gg, kind="kl"),
        "wine_ellipses.png": GaussianEllipsesDisplay.from_estimator(gg, X, y, pca=True),
        "wine_drift.png": DriftDisplay.from_result(drift, feature_names=names),
    }
    print(_heading("Figures"))
    for name, display in displays.items():
        path = directory / name
        display.figure_.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(display.figure_)
        print(path)


COMMAND = Command(
    name="demo",
    help="tour on scikit-learn's bundled wine and digits data",
    description="Class divergences, separability, feature selection and a "
    "drift check on data bundled with scikit-learn (no download).",
    handler=cmd_demo,
    arguments=(
        arg("--plot", metavar="DIR", help="write the figures as PNG to DIR"),
        arg("--seed", type=seed, default=0, help="random seed (default 0)"),
    ),
)
