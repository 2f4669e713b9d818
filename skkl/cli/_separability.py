"""``skkl separability``: how well Gaussian class models separate a table's classes."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from ._command import Command, arg
from ._errors import EXIT_OK, CLIError, library_errors
from ._files import short
from ._flags import (
    TABLE_HELP,
    covariance_types,
    fit_args,
    kind_args,
    names_list,
    non_negative,
    table_args,
)
from ._gaussian_files import write_packed
from ._numbers import parse_float
from ._readers import note_dropped, open_table, require_rows
from ._tables import fmt, matrix_table
from ._writers import output

__all__ = ["COMMAND", "cmd_separability"]

# A numeric target with more distinct values than this, some seen once, is
# taken for a continuous one.
_MAX_NUMERIC_CLASSES = 20

_BOUNDS_CAVEAT = (
    "they take the fitted Gaussians as the truth: with few rows per class and "
    "dimension, or classes far from Gaussian, the real error can be higher"
)


def _labels(values: np.ndarray) -> tuple[np.ndarray, bool]:
    """Class labels as ints when they all are, and whether they are numbers.

    Numbers are read by the tables' rule (``1_000`` is text, not 1000).
    """
    uniques, inverse = np.unique(values, return_inverse=True)
    try:
        numbers = np.array([parse_float(v) for v in uniques], dtype=np.float64)
    except ValueError:
        return values, False
    integral = np.all(np.isfinite(numbers)) and np.all(numbers == np.round(numbers))
    if integral and np.all(np.abs(numbers) < 2**53):  # exact as int64
        return numbers.astype(np.int64)[inverse], True
    return values, True


def _check_classes(y: np.ndarray, numeric: bool, target: str, path: str) -> None:
    """Clear errors for a continuous-looking target and for tiny classes."""
    classes, counts = np.unique(y, return_counts=True)
    single = int(np.sum(counts == 1))
    if numeric and len(classes) > _MAX_NUMERIC_CLASSES and single:
        raise CLIError(
            f"{path}: the target column {short(target)} looks continuous: "
            f"{len(classes)} distinct numeric values in {len(y)} rows, {single} of "
            "them in a single row. separability compares classes: pass a class "
            "column with --target, or bin the values into classes first."
        )
    if len(classes) < 2:
        raise CLIError(
            f"{path}: the target column {short(target)} has a single class "
            f"({_label(classes[0])}); separability needs at least 2."
        )
    if counts.min() < 2:
        small = _label(classes[np.argmin(counts)])
        raise CLIError(
            f"{path}: too few rows: class {small} of {short(target)} has 1 row; "
            "every class needs at least 2."
        )


def _label(value) -> str:
    value = value.item()
    return short(value) if isinstance(value, str) else repr(value)


def _least_separated(D: np.ndarray) -> tuple[int, int, float]:
    """``(i, j, min)``: the pair with the smallest divergence in either direction."""
    off = ~np.eye(len(D), dtype=bool)
    closest = np.where(off, np.minimum(D, D.T), np.inf)
    i, j = np.unravel_index(np.argmin(closest), closest.shape)
    return int(min(i, j)), int(max(i, j)), float(D[off].min())


def _read(args):
    """``(feature names, frame, y)`` of the data table."""
    data = open_table(args.data, args.sep, args.decimal)
    data.require_header()
    (target,) = data.select([args.target])
    if args.columns is not None:
        names = data.select(args.columns)
        if target in names:
            raise CLIError(f"--columns includes the target column {short(target)}.")
    else:
        names = [c for c in data.data_columns() if c != target]
    if not names:
        raise CLIError(f"{args.data}: no feature columns besides {short(target)}.")
    frame = data.read(names, [target], dropna=args.dropna)
    note_dropped(frame, args.data, "separability")
    require_rows(len(frame.numeric), 4, args.data)
    y, numeric = _labels(frame.text[target])
    _check_classes(y, numeric, target, args.data)
    return names, frame, y


def cmd_separability(args: argparse.Namespace) -> int:
    from .._group import GroupGaussians
    from ..separability import bayes_error_bounds_gaussians

    save = args.save_gaussians
    if save is not None:
        save = output("--save-gaussians", save, {".csv": "csv"}, stdout=None)
    names, frame, y = _read(args)
    with library_errors(
        COMMAND.parameter_names(), files={"X": args.data}, about=args.data
    ):
        est = GroupGaussians(
            covariance_type=args.covariance_type,
            shrinkage=args.shrinkage,
            reg_covar=args.reg_covar,
        ).fit(frame.numeric, y)
        matrix = est.divergence_matrix(kind=args.kind, alpha=args.order)
        lower, upper = bayes_error_bounds_gaussians(est.gaussians_, est.weights_)
    labels = [c.item() for c in est.classes_]
    if save is not None:
        with save.open() as fh:
            write_packed(fh, est.gaussians_, names=labels)
        print(
            f"wrote the {len(labels)} class Gaussians to {save.path}", file=sys.stderr
        )
    i, j, value = _least_separated(matrix)
    result = dict(
        names=names,
        labels=labels,
        matrix=matrix,
        pair=(i, j),
        value=value,
        bounds=(lower, upper),
        priors=est.weights_,
        n_dropped=frame.n_dropped,
    )
    if args.json:
        print(json.dumps(_payload(args, y, result), indent=2))
    else:
        _print(args, y, result)
    return EXIT_OK


def _payload(args, y, r) -> dict:
    labels, (i, j) = r["labels"], r["pair"]
    return {
        "kind": args.kind,
        "covariance_type": args.covariance_type,
        "shrinkage": args.shrinkage,
        "n_samples": len(y),
        "dropped_rows": r["n_dropped"],
        "features": r["names"],
        "classes": labels,
        "priors": r["priors"].tolist(),
        "matrix": r["matrix"].tolist(),
        "min_divergence": r["value"],
        "hardest_pair": [labels[i], labels[j]],
        "bayes_error_bounds": dict(zip(("lower", "upper"), r["bounds"], strict=True)),
        "bayes_error_bounds_note": _BOUNDS_CAVEAT,
    }


def _print(args, y, r) -> None:
    labels, (i, j), (lower, upper) = r["labels"], r["pair"], r["bounds"]
    print(
        f"{args.data}: {len(y)} rows, {len(r['names'])} features, {len(labels)} "
        f"classes of {args.target!r}"
    )
    print(f"\n{args.kind}(row || column) between the class Gaussians:")
    print(matrix_table(r["matrix"], labels))
    print(
        f"\nleast separated pair: {labels[i]} / {labels[j]} ({args.kind} "
        f"{fmt(r['value'])})"
    )
    print(
        "Bayes error bounds (from the Bhattacharyya distances between the class "
        f"Gaussians):\n  {fmt(lower)} <= error <= {fmt(upper)}\n"
        f"These bounds hold if the classes were these Gaussians; {_BOUNDS_CAVEAT}."
    )


COMMAND = Command(
    name="separability",
    help="how well Gaussian class models separate the classes of a table",
    description="Fit one Gaussian per class of --target and score how far "
    "apart the classes are, with bounds on the Bayes error.",
    handler=cmd_separability,
    arguments=(
        arg("data", metavar="DATA", param="X", help=TABLE_HELP),
        arg("--target", required=True, metavar="COLUMN", help="class column"),
        arg(
            "--columns",
            type=names_list,
            metavar="A,B,...",
            help="feature columns (default: all others)",
        ),
        *table_args(),
        *kind_args("bhattacharyya"),
        *fit_args(covariance_types()),
        arg(
            "--reg-covar",
            param="reg_covar",
            type=non_negative,
            default=1e-6,
            help="ridge added to every covariance's diagonal (default 1e-6)",
        ),
        arg(
            "--save-gaussians",
            metavar="OUT.csv",
            help="also write the class Gaussians as packed rows (for skkl "
            "pairwise) to OUT.csv (not -: stdout holds the report)",
        ),
        arg("--json", action="store_true", help="print JSON"),
    ),
)
