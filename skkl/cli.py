"""The ``skkl`` command line: a demo on bundled data and commands on files.

Every command validates its files before computing: a missing file or column,
non-numeric columns, too few rows or a malformed ``.npz`` end with a message
on stderr and exit code 2. ``skkl drift`` exits 1 when it finds drift, so
scripts and CI jobs can branch on it.
"""

from __future__ import annotations

import argparse
import csv
import importlib
import json
import os
import sys
from pathlib import Path

import numpy as np

from ._version import __version__

__all__ = ["main"]

EXIT_OK, EXIT_DRIFT, EXIT_USAGE = 0, 1, 2

# Rows above which `skkl pairwise` reports progress (when stderr is a terminal).
_PROGRESS_MIN_ROWS = 256


class CLIError(Exception):
    """A problem with the user's input: printed on stderr, exit code 2."""


# --------------------------------------------------------------------------
# Formatting


def _fmt(x: float, digits: int = 4) -> str:
    """``x`` rounded to ``digits`` significant digits."""
    return f"{float(x):.{digits}g}"


def _table(rows, header=None, align=None) -> str:
    """Right-aligned columns (left-aligned first column) of pre-formatted cells."""
    rows = [[str(c) for c in r] for r in rows]
    if header is not None:
        rows = [[str(c) for c in header], *rows]
    widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
    align = align or ["<"] + [">"] * (len(widths) - 1)
    lines = [
        "  ".join(
            f"{c:{a}{w}}" for c, a, w in zip(r, align, widths, strict=True)
        ).rstrip()
        for r in rows
    ]
    if header is not None:
        lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def _matrix_table(M, labels, digits: int = 4) -> str:
    labels = [str(label) for label in labels]
    rows = [
        [lab, *(_fmt(v, digits) for v in row)]
        for lab, row in zip(labels, M, strict=True)
    ]
    return _table(rows, header=["", *labels])


def _heading(title: str) -> str:
    return f"\n{title}\n{'=' * len(title)}"


# --------------------------------------------------------------------------
# Input files (csv module + numpy: pandas is not a dependency)


def _check_file(path: str) -> Path:
    p = Path(path)
    if not p.exists():
        raise CLIError(f"{path}: no such file.")
    if not p.is_file():
        raise CLIError(f"{path}: not a regular file.")
    return p


def _read_rows(path: Path) -> list[list[str]]:
    """The non-blank rows of a CSV file, as strings."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            return [r for r in csv.reader(fh) if any(c.strip() for c in r)]
    except (UnicodeDecodeError, csv.Error) as exc:
        raise CLIError(f"{path}: not a UTF-8 CSV text file ({exc}).") from None


class _Table:
    """A CSV file with a header row, kept as strings until columns are asked for."""

    def __init__(self, path: str):
        p = _check_file(path)
        self.path = path
        lines = _read_rows(p)
        if not lines:
            raise CLIError(f"{path}: the file is empty; expected a header row.")
        self.columns = [c.strip() for c in lines[0]]
        dup = sorted({c for c in self.columns if self.columns.count(c) > 1})
        if dup:
            raise CLIError(f"{path}: duplicate column names {dup}.")
        for i, r in enumerate(lines[1:], start=2):
            if len(r) != len(self.columns):
                raise CLIError(
                    f"{path}: data row {i - 1} has {len(r)} fields, the header has "
                    f"{len(self.columns)}."
                )
        self.rows = lines[1:]

    def __len__(self) -> int:
        return len(self.rows)

    def select(self, names) -> list[str]:
        """Check that ``names`` are columns of the file and return them."""
        missing = [n for n in names if n not in self.columns]
        if missing:
            raise CLIError(
                f"{self.path}: no column named {', '.join(map(repr, missing))} "
                f"(columns: {', '.join(self.columns)})."
            )
        return list(names)

    def strings(self, name: str) -> list[str]:
        j = self.columns.index(name)
        return [r[j].strip() for r in self.rows]

    def numeric(self, names) -> np.ndarray:
        """The columns ``names`` as an (n_rows, len(names)) float64 array."""
        names = self.select(names)
        cols, bad, missing = [], [], []
        for name in names:
            values = self.strings(name)
            try:
                col = np.array(values, dtype=np.float64)
            except ValueError:
                if any(v == "" for v in values):
                    missing.append(f"{name!r} (row {values.index('') + 1})")
                non_num = [v for v in values if v != "" and not _is_float(v)]
                if non_num:
                    bad.append(f"{name!r} (e.g. {non_num[0]!r})")
                continue
            if not np.all(np.isfinite(col)):
                row = int(np.flatnonzero(~np.isfinite(col))[0]) + 1
                missing.append(f"{name!r} (row {row})")
            cols.append(col)
        if bad:
            raise CLIError(
                f"{self.path}: non-numeric column(s) {', '.join(bad)}; "
                "choose numeric columns with --columns."
            )
        if missing:
            raise CLIError(
                f"{self.path}: missing or non-finite values in column(s) "
                f"{', '.join(missing)}; drop or impute them first."
            )
        return np.column_stack(cols) if cols else np.empty((len(self), 0))


def _is_float(v: str) -> bool:
    try:
        float(v)
    except ValueError:
        return False
    return True


def _split_columns(spec: str | None):
    if spec is None:
        return None
    names = [c.strip() for c in spec.split(",") if c.strip()]
    if not names:
        raise CLIError("--columns is empty; give comma-separated column names.")
    return names


def _require_rows(n: int, minimum: int, what: str) -> None:
    if n < minimum:
        raise CLIError(f"{what} has {n} data row(s); at least {minimum} are needed.")


def _import(module: str, names: list[str], command: str):
    """Import ``names`` from ``skkl.<module>`` or say clearly what is missing."""
    try:
        mod = importlib.import_module(f"skkl.{module}")
        return [getattr(mod, n) for n in names]
    except (ImportError, AttributeError) as exc:
        raise CLIError(
            f"`skkl {command}` needs skkl.{module}, which is not available in "
            f"this installation ({exc})."
        ) from None


# --------------------------------------------------------------------------
# skkl pairwise


def _infer_covariance_type(means: np.ndarray, covs: np.ndarray) -> str:
    if covs.ndim == 3:
        return "full"
    if covs.ndim == 1:
        return "spherical"
    if covs.ndim == 2 and means.ndim == 2:
        K, d = means.shape
        if covs.shape == (K, d) and K != d:
            return "diag"
        if covs.shape == (d, d) and K != d:
            return "tied"
    raise CLIError(
        f"cannot tell the covariance type from shapes means {means.shape}, "
        f"covariances {covs.shape}; pass --covariance-type."
    )


def _load_npz(path: Path, covariance_type: str | None):
    from ._gaussians import Gaussians

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # zipfile, pickle and format errors alike
        raise CLIError(f"{path}: not a readable .npz file ({exc}).") from None
    missing = [k for k in ("means", "covariances") if k not in arrays]
    if missing:
        raise CLIError(
            f"{path}: the .npz needs arrays 'means' and 'covariances'; missing "
            f"{missing} (found {sorted(arrays)})."
        )
    means, covs = arrays["means"], arrays["covariances"]
    stored = arrays.get("covariance_type")
    if stored is not None:
        if stored.ndim != 0 or stored.dtype.kind not in "US":
            raise CLIError(f"{path}: 'covariance_type' must be a single string.")
        stored = str(stored[()])
        if covariance_type is not None and covariance_type != stored:
            raise CLIError(
                f"{path} says covariance_type={stored!r} but --covariance-type "
                f"is {covariance_type!r}."
            )
    kind = covariance_type or stored or _infer_covariance_type(means, covs)
    try:
        return Gaussians(means, covs, kind)
    except (ValueError, TypeError) as exc:
        raise CLIError(f"{path}: {exc}") from None


def _load_packed_csv(path: Path, covariance_type: str | None):
    from ._gaussians import Gaussians

    if covariance_type is None:
        raise CLIError(
            "a CSV of packed rows needs --covariance-type (full, diag or spherical)."
        )
    rows = _read_rows(path)
    if rows and not all(_is_float(c) for c in rows[0]):
        rows = rows[1:]  # a header row
    if not rows:
        raise CLIError(f"{path}: no data rows.")
    try:
        X = np.array(rows, dtype=np.float64)
    except ValueError:
        raise CLIError(
            f"{path}: packed rows must be numbers, all of the same length."
        ) from None
    try:
        return Gaussians.from_packed(X, covariance_type)
    except (ValueError, TypeError) as exc:
        raise CLIError(f"{path}: {exc}") from None


def _cmd_pairwise(args) -> int:
    from .divergence import get_divergence

    (pairwise_divergence,) = _import("pairwise", ["pairwise_divergence"], "pairwise")
    path = _check_file(args.file)
    suffix = path.suffix.lower()
    if suffix == ".npz":
        G = _load_npz(path, args.covariance_type)
    elif suffix in (".csv", ".txt"):
        G = _load_packed_csv(path, args.covariance_type)
    else:
        raise CLIError(f"{path}: expected a .npz or .csv file, got {suffix!r}.")
    out = Path(args.out) if args.out else None
    if out is not None and out.suffix.lower() not in (".npy", ".csv"):
        raise CLIError(f"--out must end in .npy or .csv, got {args.out!r}.")
    get_divergence(args.kind, args.alpha)  # fail before any work

    from ._progress import ProgressBar

    K = len(G)
    bar = ProgressBar(K, f"{args.kind} rows")
    kwargs = dict(kind=args.kind, alpha=args.alpha, n_jobs=args.n_jobs)
    if bar.enabled and K >= _PROGRESS_MIN_ROWS:
        (chunked,) = _import("pairwise", ["pairwise_divergence_chunked"], "pairwise")
        blocks = []
        with bar:
            for block in chunked(G, **kwargs):
                blocks.append(block)
                bar.update(len(block))
        D = np.vstack(blocks)
    else:
        D = pairwise_divergence(G, **kwargs)

    if out is None:
        print(f"{args.kind}(row || column) between the {K} Gaussians of {path}:")
        print(_matrix_table(D, range(K)))
    elif out.suffix.lower() == ".npy":
        np.save(out, D)
    else:
        np.savetxt(out, D, delimiter=",", fmt="%.17g")
    if out is not None:
        print(f"wrote {D.shape[0]}x{D.shape[1]} {args.kind} matrix to {out}")
    return EXIT_OK


# --------------------------------------------------------------------------
# skkl separability


def _labels(values: list[str]) -> np.ndarray:
    """Class labels as ints when they all are, else as strings."""
    try:
        as_float = np.array(values, dtype=np.float64)
    except ValueError:
        return np.array(values)
    if np.all(as_float == np.round(as_float)):
        return as_float.astype(np.int64)
    return np.array(values)


def _cmd_separability(args) -> int:
    separability_score, bayes_error_bounds = _import(
        "separability", ["separability_score", "bayes_error_bounds"], "separability"
    )
    table = _Table(args.data)
    _require_rows(len(table), 4, args.data)
    (target,) = table.select([args.target])
    names = _split_columns(args.columns) or [c for c in table.columns if c != target]
    names = table.select(names)
    if target in names:
        raise CLIError(f"--columns includes the target column {target!r}.")
    if not names:
        raise CLIError(f"{args.data}: no feature columns besides {target!r}.")
    X = table.numeric(names)
    y_raw = table.strings(target)
    if "" in y_raw:
        raise CLIError(
            f"{args.data}: the target column {target!r} has empty cells "
            f"(row {y_raw.index('') + 1})."
        )
    y = _labels(y_raw)
    classes, counts = np.unique(y, return_counts=True)
    if len(classes) < 2:
        raise CLIError(
            f"the target column {target!r} has a single class ({classes[0]!r}); "
            "separability needs at least 2."
        )
    if counts.min() < 2:
        small = classes[np.argmin(counts)].item()
        raise CLIError(
            f"too few rows: class {small!r} of {target!r} has 1 row; every "
            "class needs at least 2."
        )
    fit = dict(covariance_type=args.covariance_type, shrinkage=args.shrinkage)
    result = separability_score(X, y, kind=args.kind, alpha=args.alpha, **fit)
    lower, upper = bayes_error_bounds(X, y, **fit)
    labels = [c.item() for c in result.classes]
    payload = {
        "kind": result.kind,
        "covariance_type": args.covariance_type,
        "shrinkage": args.shrinkage,
        "n_samples": len(y),
        "features": names,
        "classes": labels,
        "priors": result.priors.tolist(),
        "matrix": result.matrix.tolist(),
        "min_divergence": result.value,
        "hardest_pair": [c.item() for c in np.asarray(result.hardest_pair)],
        "bayes_error_bounds": {"lower": lower, "upper": upper},
    }
    if args.json:
        print(json.dumps(payload, indent=2))
        return EXIT_OK
    print(
        f"{args.data}: {len(y)} rows, {len(names)} features, {len(labels)} "
        f"classes of {target!r}"
    )
    print(f"\n{result.kind}(row || column) between the class Gaussians:")
    print(_matrix_table(result.matrix, labels))
    a, b = result.hardest_pair
    print(f"\nleast separated pair: {a} / {b} ({result.kind} {_fmt(result.value)})")
    print(
        f"Bayes error bounds (from Bhattacharyya distances, if the classes were "
        f"these Gaussians):\n  {_fmt(lower)} <= error <= {_fmt(upper)}"
    )
    return EXIT_OK


def _to_jsonable(value):
    if isinstance(value, dict):
        return {str(k): _to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        return value.item()
    return value


# --------------------------------------------------------------------------
# skkl drift


def _cmd_drift(args) -> int:
    (GaussianDriftDetector,) = _import("drift", ["GaussianDriftDetector"], "drift")
    ref, cur = _Table(args.reference), _Table(args.current)
    names = _split_columns(args.columns) or ref.columns
    names = ref.select(names)
    cur.select(names)
    X_ref, X_cur = ref.numeric(names), cur.numeric(names)
    _require_rows(len(X_ref), 2, args.reference)
    _require_rows(len(X_cur), 2, args.current)
    detector = GaussianDriftDetector(
        alpha=args.alpha,
        covariance_type=args.covariance_type,
        shrinkage=args.shrinkage,
        min_effect=args.min_effect,
        n_permutations=args.n_permutations,
        random_state=args.seed,
    )
    result = detector.fit(X_ref).test(X_cur)
    if args.json:
        print(json.dumps(_drift_payload(result, names, args), indent=2))
    else:
        print(f"reference: {args.reference} ({len(X_ref)} rows)")
        print(f"current:   {args.current} ({len(X_cur)} rows)")
        _print_drift(result, names, args)
    return EXIT_DRIFT if result.is_drift else EXIT_OK


def _drift_payload(result, names, args) -> dict:
    payload = _to_jsonable(result.to_dict())
    payload.update(
        p_value=float(result.p_value),
        statistic=float(result.statistic),
        statistic_name=result.statistic_name,
        method=result.method,
        alpha=float(result.alpha),
        min_effect=args.min_effect,
        n_ref=int(result.n_ref),
        n=int(result.n),
        features=[
            {"name": name, "effect": float(e), "p_value": float(p)}
            for name, e, p in zip(
                names, result.feature_scores, result.feature_p_values, strict=True
            )
        ],
    )
    return payload


def _print_drift(result, names, args, top: int = 10) -> None:
    significant = result.p_value < result.alpha
    if result.is_drift:
        verdict = "DRIFT"
    elif significant:
        verdict = f"no drift (significant, but effect < --min-effect {args.min_effect})"
    else:
        verdict = "no drift"
    print(
        f"{verdict}: p-value {_fmt(result.p_value, 3)} (alpha {_fmt(result.alpha)}), "
        f"effect {_fmt(result.effect)} nats, {result.n_ref}+{result.n} rows, "
        f"{len(names)} features"
    )
    scores = np.asarray(result.feature_scores, dtype=float)
    order = np.argsort(-scores, kind="stable")[:top]
    rows = [
        [names[j], _fmt(scores[j]), _fmt(result.feature_p_values[j], 3)] for j in order
    ]
    more = f" (top {top} of {len(names)})" if len(names) > top else ""
    print(f"\nper feature{more}:")
    print(_table(rows, header=["feature", "effect", "p-value (Holm)"]))


# --------------------------------------------------------------------------
# skkl demo

_DEMO_K = 10  # features kept by SelectKBest on digits
_DEMO_SHIFT = 1.0  # added to two standardised wine features (one std)
_DEMO_SHIFTED = ("alcohol", "flavanoids")


def _cmd_demo(args) -> int:
    from threadpoolctl import threadpool_limits

    # Every array here is tiny: threaded BLAS only adds overhead, and on a
    # busy machine its spinning threads slow the demo down tenfold.
    with threadpool_limits(limits=1, user_api="blas"):
        return _run_demo(args)


def _run_demo(args) -> int:
    from sklearn.datasets import load_digits, load_wine
    from sklearn.preprocessing import StandardScaler

    (GroupGaussians,) = _import("_group", ["GroupGaussians"], "demo")
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

    separability_score, bayes_error_bounds = _import(
        "separability", ["separability_score", "bayes_error_bounds"], "demo"
    )
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

    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis
    from sklearn.feature_selection import SelectKBest, f_classif
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline

    (score_func,) = _import("separability", ["gaussian_divergence_score"], "demo")
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
        scores, pvalues = score_func(X, y)
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
        print()
        print(
            _table(
                rows,
                header=[
                    "rank",
                    "pixel (row,col)",
                    "skkl score",
                    "p-value",
                    "f_classif F",
                    "F rank",
                ],
                align=[">", "<", ">", ">", ">", ">"],
            )
        )
        overlap = len(set(top) & set(np.argsort(-F, kind="stable")[:k]))
        print(f"{overlap} of these {k} pixels are also in f_classif's top {k}.")
        # Say so when the ranking is driven by pixels blank within some class:
        # a variance ratio against a (smoothed) zero variance is huge.
        blank = sum(any(np.ptp(X[y == c, j]) == 0 for c in np.unique(y)) for j in top)
        if blank:
            print(
                f"{blank} of them are blank in every image of some class: the "
                "ratio of a class variance\nto that zero variance (smoothed by "
                "var_smoothing) dominates their score."
            )
        cv = StratifiedKFold(5, shuffle=True, random_state=seed)
        print("\n5-fold CV accuracy of LDA on the selected pixels:")
        rows = []
        for name, func in [
            ("gaussian_divergence_score", score_func),
            ("f_classif", f_classif),
        ]:
            model = make_pipeline(SelectKBest(func, k=k), LinearDiscriminantAnalysis())
            rows.append(
                [
                    f"{k} pixels by {name}",
                    _fmt(cross_val_score(model, X, y, cv=cv).mean(), 3),
                ]
            )
        acc = cross_val_score(LinearDiscriminantAnalysis(), X, y, cv=cv).mean()
        rows.append(["all 64 pixels", _fmt(acc, 3)])
        print(_table(rows))


def _demo_drift(X, names, seed: int):
    (GaussianDriftDetector,) = _import("drift", ["GaussianDriftDetector"], "demo")
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

    DivergenceMatrixDisplay, DriftDisplay, GaussianEllipsesDisplay = _import(
        "plotting",
        ["DivergenceMatrixDisplay", "DriftDisplay", "GaussianEllipsesDisplay"],
        "demo --plot",
    )
    directory.mkdir(parents=True, exist_ok=True)
    displays = {
        "wine_kl_matrix.png": DivergenceMatrixDisplay.from_estimator(gg, kind="kl"),
        "wine_ellipses.png": GaussianEllipsesDisplay.from_estimator(gg, X, y, pca=True),
        "wine_drift.png": DriftDisplay.from_result(drift, feature_names=names),
    }
    # Thirteen long feature names under the bars need to stand upright.
    displays["wine_drift.png"].ax_[-1].tick_params(axis="x", labelrotation=90)
    print(_heading("Figures"))
    for name, display in displays.items():
        path = directory / name
        display.figure_.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(display.figure_)
        print(path)


# --------------------------------------------------------------------------
# Parser


def _kinds() -> list[str]:
    from .divergence import DIVERGENCES

    return sorted(DIVERGENCES)


def _add_kind_options(parser: argparse.ArgumentParser, default: str) -> None:
    """``--kind`` and ``--alpha``, shared by the commands that take a divergence."""
    parser.add_argument(
        "--kind",
        default=default,
        choices=_kinds(),
        metavar="KIND",
        help=f"one of {', '.join(_kinds())} (default: {default})",
    )
    parser.add_argument(
        "--alpha", type=float, default=0.5, help="order of 'renyi' (default 0.5)"
    )


_COV_TYPES = ["full", "diag", "spherical", "tied"]

_DRIFT_EPILOG = """\
exit status:
  0  no drift detected
  1  drift detected (p-value < --alpha and effect >= --min-effect)
  2  bad input (missing file or column, non-numeric data, too few rows)

example (act on drift only, not on bad input):
  skkl drift reference.csv today.csv --json > drift.json; [ $? -eq 1 ] && alert
"""


def _shrinkage(text: str):
    if text in ("ledoit_wolf", "oas"):
        return text
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(
            f"must be ledoit_wolf, oas or a float in [0, 1], got {text!r}"
        )
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _n_jobs(text: str) -> int:
    value = int(text)
    if value == 0:
        raise argparse.ArgumentTypeError(
            "must be a non-zero integer (-1 for all cores), got 0"
        )
    return value


def build_parser() -> argparse.ArgumentParser:
    """The ``skkl`` argument parser (exposed for documentation tools).

    Examples
    --------
    >>> from skkl.cli import build_parser
    >>> build_parser().parse_args(["drift", "ref.csv", "new.csv"]).alpha
    0.05
    """
    parser = argparse.ArgumentParser(
        prog="skkl",
        description="Exact, fast divergences between Gaussians, native to "
        "scikit-learn. Run `skkl demo` for a tour.",
    )
    parser.add_argument("--version", action="version", version=f"skkl {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    demo = sub.add_parser(
        "demo",
        help="tour on scikit-learn's bundled wine and digits data",
        description="Class divergences, separability, feature selection and a "
        "drift check on data bundled with scikit-learn (no download).",
    )
    demo.add_argument("--plot", metavar="DIR", help="write the figures as PNG to DIR")
    demo.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    demo.set_defaults(func=_cmd_demo)

    pw = sub.add_parser(
        "pairwise",
        help="divergence matrix between Gaussians stored in a file",
        description="Divergence between every pair of Gaussians in FILE: an .npz "
        "with arrays 'means' and 'covariances' (and optionally 'covariance_type'), "
        "or a CSV of rows packed by Gaussians.pack() (needs --covariance-type). "
        "A progress bar shows on stderr for large files when it is a terminal.",
    )
    pw.add_argument("file", metavar="FILE", help=".npz or .csv file")
    _add_kind_options(pw, default="kl")
    pw.add_argument(
        "--covariance-type",
        choices=_COV_TYPES,
        help="layout of the covariances (default: from the file or the shapes)",
    )
    pw.add_argument(
        "--n-jobs", type=_n_jobs, default=None, help="joblib workers (-1: all cores)"
    )
    pw.add_argument(
        "--out", metavar="OUT", help="write the matrix to OUT (.npy or .csv)"
    )
    pw.set_defaults(func=_cmd_pairwise)

    sep = sub.add_parser(
        "separability",
        help="how well Gaussian class models separate the classes of a CSV",
        description="Fit one Gaussian per class of --target and score how far "
        "apart the classes are.",
    )
    sep.add_argument("data", metavar="DATA.csv", help="CSV with a header row")
    sep.add_argument("--target", required=True, metavar="COLUMN", help="class column")
    sep.add_argument(
        "--columns", metavar="A,B,...", help="feature columns (default: all others)"
    )
    _add_kind_options(sep, default="bhattacharyya")
    sep.add_argument(
        "--covariance-type", default="full", choices=_COV_TYPES, help="default: full"
    )
    sep.add_argument(
        "--shrinkage",
        type=_shrinkage,
        default=None,
        help="covariance shrinkage: ledoit_wolf, oas or a float in [0, 1]",
    )
    sep.add_argument("--json", action="store_true", help="print JSON")
    sep.set_defaults(func=_cmd_separability)

    dr = sub.add_parser(
        "drift",
        help="two-sample test: has CURRENT drifted away from REFERENCE?",
        description="Permutation test of 'same mean and covariance' between the "
        "rows of REFERENCE\nand those of CURRENT (both CSV files with a header "
        "row), with an effect size:\nthe bias-corrected symmetric KL divergence "
        "between their Gaussian fits.",
        epilog=_DRIFT_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    dr.add_argument("reference", metavar="REFERENCE.csv")
    dr.add_argument("current", metavar="CURRENT.csv")
    dr.add_argument(
        "--columns", metavar="A,B,...", help="columns to compare (default: all)"
    )
    dr.add_argument(
        "--alpha", type=float, default=0.05, help="test level (default 0.05)"
    )
    dr.add_argument(
        "--min-effect",
        type=float,
        default=None,
        help="smallest effect (bias-corrected symmetric KL, nats) that counts "
        "as drift (default: any significant difference)",
    )
    dr.add_argument(
        "--n-permutations",
        type=_positive_int,
        default=1000,
        help="permutations for the p-value (default 1000)",
    )
    dr.add_argument(
        "--covariance-type",
        default="full",
        choices=["full", "diag"],
        help="diag ignores correlations (default: full)",
    )
    dr.add_argument(
        "--shrinkage",
        type=_shrinkage,
        default=None,
        help="covariance shrinkage for few rows per column: ledoit_wolf, oas "
        "or a float in [0, 1]",
    )
    dr.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    dr.add_argument("--json", action="store_true", help="print the result as JSON")
    dr.set_defaults(func=_cmd_drift)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the ``skkl`` command line and return its exit status.

    Parameters
    ----------
    argv : list of str, default=None
        Arguments without the program name; ``sys.argv[1:]`` when None.

    Returns
    -------
    status : int
        0 on success, 1 when ``skkl drift`` finds drift, 2 for bad input.

    Examples
    --------
    >>> from skkl.cli import main
    >>> main(["--version"])
    skkl ...
    0
    """
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version and usage errors
        return int(exc.code or 0)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    try:
        return args.func(args)
    except (CLIError, ValueError, OSError) as exc:
        if isinstance(exc, BrokenPipeError):  # e.g. `skkl demo | head`
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_OK
        print(f"skkl {args.command}: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
