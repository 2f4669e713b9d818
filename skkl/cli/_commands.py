"""The file commands: ``skkl pairwise``, ``skkl separability``, ``skkl drift``.

Each command reads and checks its files (``_io``), calls the library once and
prints. The library's ``ValueError`` about the user's data passes through
:func:`library_errors`, which rewords parameter names as the command's flags.
"""

from __future__ import annotations

import contextlib
import json
import re
import sys
import warnings
from pathlib import Path

import numpy as np

from .._progress import Elapsed, ProgressBar
from ._errors import EXIT_DRIFT, EXIT_OK, CLIError
from ._io import open_table, read_gaussians, write_matrix, write_packed
from ._tables import fmt, matrix_table, table

__all__ = [
    "cli_wording",
    "cmd_drift",
    "cmd_pairwise",
    "cmd_separability",
    "library_errors",
]

# Rows above which `skkl pairwise` reports progress (when stderr is a terminal).
PROGRESS_MIN_ROWS = 256
# Largest matrix printed on stdout; above it --out is required.
MAX_PRINTED = 100
# A numeric target with more distinct values than this, some seen once, is
# taken for a continuous one.
_MAX_NUMERIC_CLASSES = 20

_FIT_FLAGS = {
    "covariance_type": "--covariance-type",
    "shrinkage": "--shrinkage",
    "reg_covar": "--reg-covar",
}
_PAIRWISE_FLAGS = {"alpha": "--order", "covariance_type": "--covariance-type"}
_SEPARABILITY_FLAGS = {**_FIT_FLAGS, "alpha": "--order"}
_DRIFT_FLAGS = {
    **_FIT_FLAGS,
    "alpha": "--level",
    "method": "--method",
    "n_permutations": "--n-permutations",
    "min_effect": "--min-effect",
    "X_ref": "REFERENCE",
    "X": "CURRENT",
}


def cli_wording(message: str, flags: dict) -> str:
    """``message`` with the library's parameter names replaced by CLI flags.

    ``name=value`` and scikit-learn's "The 'name' parameter of ..." are
    replaced for every name; a bare name only when it cannot be an ordinary
    word (it holds an underscore, or is 'shrinkage') or opens the message.

    Examples
    --------
    >>> cli_wording(
    ...     "use shrinkage='ledoit_wolf' or covariance_type='diag'",
    ...     {"shrinkage": "--shrinkage", "covariance_type": "--covariance-type"},
    ... )
    'use --shrinkage ledoit_wolf or --covariance-type diag'
    >>> cli_wording("The 'alpha' parameter of X must be < 1.", {"alpha": "--level"})
    '--level must be < 1.'
    >>> cli_wording("X has 3 samples (permutation method)", {"X": "CURRENT",
    ...     "method": "--method"})
    'CURRENT has 3 samples (permutation method)'
    """
    message = re.sub(
        r"The '(\w+)' parameter of \w+",
        lambda m: flags.get(m[1], repr(m[1])),
        message,
    )
    for name, flag in flags.items():
        message = re.sub(
            rf"(?<![-\w]){name}=(['\"]?)([^'\",;)\s]+)\1",
            lambda m, flag=flag: f"{flag} {m[2]}",
            message,
        )
        bare = rf"(?<![-\w']){name}\b" if "_" in name or name == "shrinkage" else None
        if bare:
            message = re.sub(bare, flag, message)
        message = re.sub(rf"^{name}\b(?!=)", flag, message)
    return message


@contextlib.contextmanager
def library_errors(flags: dict, prefix: str = ""):
    """Report the library's ``ValueError`` on the user's data as bad input.

    The library's ``UserWarning`` (advice about the data) is printed as a
    one-line note in the same wording; other warnings keep their filters.
    Anything else propagates: it is a bug, not bad input.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        try:
            yield
        except ValueError as exc:
            raise CLIError(prefix + cli_wording(str(exc), flags)) from exc
    for w in caught:
        print(f"warning: {cli_wording(str(w.message), flags)}", file=sys.stderr)


def split_columns(spec: str | None, flag: str = "--columns"):
    """Comma-separated names of ``flag``, or None when it was not given."""
    if spec is None:
        return None
    names = [c.strip() for c in spec.split(",") if c.strip()]
    if not names:
        raise CLIError(f"{flag} is empty; give comma-separated names.")
    return names


def require_rows(n: int, minimum: int, what: str) -> None:
    if n < minimum:
        raise CLIError(f"{what} has {n} data row(s); at least {minimum} are needed.")


def _note_dropped(frame, path: str, command: str) -> None:
    if frame.n_dropped:
        n = frame.n_dropped + len(frame.numeric)
        print(
            f"skkl {command}: dropped {frame.n_dropped} of {n} rows of {path} with "
            "missing values (--dropna)",
            file=sys.stderr,
        )


# -- skkl pairwise ----------------------------------------------------------------


def cmd_pairwise(args) -> int:
    from ..divergence import get_divergence
    from ..pairwise import pairwise_divergence, pairwise_divergence_chunked

    out = args.out
    if out not in (None, "-") and Path(out).suffix.lower() not in (".npy", ".csv"):
        raise CLIError(f"--out must end in .npy or .csv (or be -), got {out!r}.")
    with library_errors(_PAIRWISE_FLAGS):
        get_divergence(args.kind, args.order)  # fail before reading
    G, labels = read_gaussians(args.file, args.covariance_type, args.sep)
    K = len(G)
    names = split_columns(args.names, "--names")
    if names is not None:
        if len(names) != K:
            raise CLIError(
                f"--names has {len(names)} names for the {K} Gaussians of {args.file}."
            )
        labels = names
    labels = list(range(K)) if labels is None else labels
    if out is None and K > MAX_PRINTED:
        raise CLIError(
            f"the {K} x {K} matrix is too large to print (more than {MAX_PRINTED} "
            "rows); write it with --out D.npy or --out D.csv, or as CSV on stdout "
            "with --out -."
        )

    kwargs = dict(kind=args.kind, alpha=args.order, n_jobs=args.n_jobs)
    bar = ProgressBar(K, f"{args.kind} rows")
    with library_errors(_PAIRWISE_FLAGS, prefix=f"{args.file}: "):
        if bar.enabled and K >= PROGRESS_MIN_ROWS:
            blocks = []
            with bar:
                for block in pairwise_divergence_chunked(G, **kwargs):
                    blocks.append(block)
                    bar.update(len(block))
            D = np.vstack(blocks)
        else:
            D = pairwise_divergence(G, **kwargs)

    if out is None:
        print(f"{args.kind}(row || column) between the {K} Gaussians of {args.file}:")
        print(matrix_table(D, labels))
        return EXIT_OK
    write_matrix(out, D)
    if out != "-":
        print(f"wrote {K}x{K} {args.kind} matrix to {out}")
    return EXIT_OK


# -- skkl separability ------------------------------------------------------------


def _labels(values: np.ndarray) -> np.ndarray:
    """Class labels as ints when they all are, else as strings."""
    try:
        as_float = values.astype(np.float64)
    except ValueError:
        return values
    if np.all(np.isfinite(as_float)) and np.all(as_float == np.round(as_float)):
        return as_float.astype(np.int64)
    return values


def _check_classes(y: np.ndarray, y_raw: np.ndarray, target: str) -> None:
    """Clear errors for a continuous-looking target and for tiny classes."""
    classes, counts = np.unique(y, return_counts=True)
    numeric = y.dtype.kind in "iu"
    if not numeric:
        try:
            y_raw.astype(np.float64)
            numeric = True  # non-integer numbers
        except ValueError:
            pass
    single = int(np.sum(counts == 1))
    if numeric and len(classes) > _MAX_NUMERIC_CLASSES and single:
        raise CLIError(
            f"the target column {target!r} looks continuous: {len(classes)} distinct "
            f"numeric values in {len(y)} rows, {single} of them in a single row. "
            "separability compares classes: pass a class column with --target, or "
            "bin the values into classes first."
        )
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


def _least_separated(D: np.ndarray) -> tuple[int, int, float]:
    """``(i, j, min)``: the pair with the smallest divergence in either direction."""
    off = ~np.eye(len(D), dtype=bool)
    closest = np.where(off, np.minimum(D, D.T), np.inf)
    i, j = np.unravel_index(np.argmin(closest), closest.shape)
    return int(min(i, j)), int(max(i, j)), float(D[off].min())


_BOUNDS_CAVEAT = (
    "they take the fitted Gaussians as the truth: with few rows per class and "
    "dimension, or classes far from Gaussian, the real error can be higher"
)


def cmd_separability(args) -> int:
    from .._group import GroupGaussians
    from ..separability import bayes_error_bounds_gaussians

    data = open_table(args.data, args.sep)
    data.require_header()
    (target,) = data.select([args.target])
    names = split_columns(args.columns) or [c for c in data.columns if c != target]
    names = data.select(names)
    if target in names:
        raise CLIError(f"--columns includes the target column {target!r}.")
    if not names:
        raise CLIError(f"{args.data}: no feature columns besides {target!r}.")
    frame = data.read(names, [target], dropna=args.dropna)
    _note_dropped(frame, args.data, "separability")
    X, y_raw = frame.numeric, frame.text[target]
    require_rows(len(X), 4, args.data)
    y = _labels(y_raw)
    _check_classes(y, y_raw, target)

    with library_errors(_SEPARABILITY_FLAGS):
        est = GroupGaussians(
            covariance_type=args.covariance_type,
            shrinkage=args.shrinkage,
            reg_covar=args.reg_covar,
        ).fit(X, y)
        matrix = est.divergence_matrix(kind=args.kind, alpha=args.order)
        lower, upper = bayes_error_bounds_gaussians(est.gaussians_, est.weights_)
    labels = [c.item() for c in est.classes_]
    i, j, value = _least_separated(matrix)
    if args.save_gaussians:
        write_packed(args.save_gaussians, est.gaussians_, names=labels)
        print(
            f"wrote the {len(labels)} class Gaussians to {args.save_gaussians}",
            file=sys.stderr,
        )
    if args.json:
        payload = {
            "kind": args.kind,
            "covariance_type": args.covariance_type,
            "shrinkage": args.shrinkage,
            "n_samples": len(y),
            "dropped_rows": frame.n_dropped,
            "features": names,
            "classes": labels,
            "priors": est.weights_.tolist(),
            "matrix": matrix.tolist(),
            "min_divergence": value,
            "hardest_pair": [labels[i], labels[j]],
            "bayes_error_bounds": {"lower": lower, "upper": upper},
            "bayes_error_bounds_note": _BOUNDS_CAVEAT,
        }
        print(json.dumps(payload, indent=2))
        return EXIT_OK
    print(
        f"{args.data}: {len(y)} rows, {len(names)} features, {len(labels)} "
        f"classes of {target!r}"
    )
    print(f"\n{args.kind}(row || column) between the class Gaussians:")
    print(matrix_table(matrix, labels))
    print(
        f"\nleast separated pair: {labels[i]} / {labels[j]} ({args.kind} {fmt(value)})"
    )
    print(
        "Bayes error bounds (from the Bhattacharyya distances between the class "
        f"Gaussians):\n  {fmt(lower)} <= error <= {fmt(upper)}\n"
        f"These bounds hold if the classes were these Gaussians; {_BOUNDS_CAVEAT}."
    )
    return EXIT_OK


# -- skkl drift -------------------------------------------------------------------


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


def cmd_drift(args) -> int:
    from ..drift import GaussianDriftDetector

    ref, cur = open_table(args.reference, args.sep), open_table(args.current, args.sep)
    ref.require_header()
    cur.require_header()
    names = ref.select(split_columns(args.columns) or ref.columns)
    cur.select(names)
    frames = []
    for tab, path in ((ref, args.reference), (cur, args.current)):
        frame = tab.read(names, dropna=args.dropna)
        _note_dropped(frame, path, "drift")
        require_rows(len(frame.numeric), 2, path)
        frames.append(frame)
    X_ref, X_cur = frames[0].numeric, frames[1].numeric
    detector = GaussianDriftDetector(
        alpha=args.level,
        method=args.method,
        covariance_type=args.covariance_type,
        shrinkage=args.shrinkage,
        min_effect=args.min_effect,
        n_permutations=args.n_permutations,
        random_state=args.seed,
    )
    what = f"testing ({args.method}, {len(X_ref)}+{len(X_cur)} rows)"
    with library_errors(_DRIFT_FLAGS), Elapsed(what):
        result = detector.fit(X_ref).test(X_cur)
    if args.json:
        payload = _drift_payload(result, names, args)
        payload["dropped_rows"] = {
            "reference": frames[0].n_dropped,
            "current": frames[1].n_dropped,
        }
        print(json.dumps(payload, indent=2))
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
        level=float(result.alpha),
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
        f"{verdict}: p-value {fmt(result.p_value, 3)} (level {fmt(result.alpha)}), "
        f"effect {fmt(result.effect)} nats, {result.n_ref}+{result.n} rows, "
        f"{len(names)} features"
    )
    scores = np.asarray(result.feature_scores, dtype=float)
    order = np.argsort(-scores, kind="stable")[:top]
    rows = [
        [names[j], fmt(scores[j]), fmt(result.feature_p_values[j], 3)] for j in order
    ]
    more = f" (top {top} of {len(names)})" if len(names) > top else ""
    print(f"\nper feature{more}:")
    print(table(rows, header=["feature", "effect", "p-value (Holm)"]))
