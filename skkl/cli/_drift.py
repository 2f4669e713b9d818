"""``skkl drift``: has CURRENT drifted away from REFERENCE? (exit status 1 if so)."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from .._progress import Elapsed
from ._command import Command, arg
from ._drift_tables import read_drift_tables
from ._errors import EXIT_DRIFT, EXIT_OK, library_errors
from ._flags import (
    count,
    fit_args,
    level,
    names_list,
    non_negative,
    renamed,
    seed,
    table_args,
)
from ._readers import open_table
from ._tables import fmt, table

__all__ = ["COMMAND", "cmd_drift"]

_METHODS = ("auto", "permutation", "gram", "asymptotic")

_EPILOG = """\
exit status:
  0  no drift detected
  1  drift detected (p-value < --level and effect >= --min-effect)
  2  bad input (missing file or column, text in a numeric column, too few rows,
     bad flag)
  3  internal error (a bug in skkl: please report it with the traceback)

example (act on drift only, not on bad input):
  skkl drift reference.csv today.csv --json > drift.json; [ $? -eq 1 ] && alert
"""


def _check_flags(args: argparse.Namespace) -> str | None:
    from ..drift._engines import min_permutations, permutations_text

    need = min_permutations(args.level)
    if args.method != "asymptotic" and args.n_permutations < need:
        need_text = permutations_text(need)
        return (
            f"--n-permutations {args.n_permutations} can never reach --level "
            f"{args.level:g} (the smallest p-value is 1/(B+1)); use at least "
            f"{need_text}, or --method asymptotic"
        )
    return None


def _read(args):
    """The two samples on the same columns (text columns categorical)."""
    ref = open_table(args.reference, args.sep, args.decimal)
    cur = open_table(args.current, args.sep, args.decimal)
    ref.require_header()
    cur.require_header()
    names = ref.select(args.columns or ref.data_columns())
    cur.select(names)
    tables = read_drift_tables(
        (ref, cur),
        (args.reference, args.current),
        names,
        args.categorical,
        args.dropna,
    )
    return names, tables


def cmd_drift(args: argparse.Namespace) -> int:
    from ..drift import GaussianDriftDetector

    names, tables = _read(args)
    X_ref, X_cur = tables.reference, tables.current
    ref, cur = tables.frames
    detector = GaussianDriftDetector(
        alpha=args.level,
        method=args.method,
        covariance_type=args.covariance_type,
        shrinkage=args.shrinkage,
        min_effect=args.min_effect,
        n_permutations=args.n_permutations,
        random_state=args.seed,
    )
    flags = COMMAND.parameter_names()
    files = {"X_ref": args.reference, "X": args.current}
    with library_errors(flags, files, about=args.reference):
        detector.fit(X_ref)
    what = f"testing ({args.method}, {len(X_ref)}+{len(X_cur)} rows)"
    # The detector may check the reference only now: a plain error names both.
    both = f"{args.reference} vs {args.current}"
    with library_errors(flags, files, about=both), Elapsed(what):
        result = detector.test(X_cur)
    if args.json:
        payload = _payload(result, names, args)
        payload.update(_table_fields(result, tables.text))
        payload["dropped_rows"] = {
            "reference": ref.n_dropped,
            "current": cur.n_dropped,
        }
        print(json.dumps(payload, indent=2))
    else:
        print(f"reference: {args.reference} ({len(X_ref)} rows)")
        print(f"current:   {args.current} ({len(X_cur)} rows)")
        _print(result, names, args)
        _print_table_fields(result, names)
    if args.report is not None:
        _write_report(result, names, args.report)
    return EXIT_DRIFT if result.is_drift else EXIT_OK


def _write_report(result, names, path) -> None:
    """The HTML report of ``result``, with the file's column names."""
    import dataclasses

    from .._display import write_drift_report

    named = dataclasses.replace(result, feature_names=np.asarray(names, dtype=object))
    written = write_drift_report(named, path)
    print(f"report: {written}", file=sys.stderr)


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


def _payload(result, names, args) -> dict:
    payload = _to_jsonable(result.to_dict())
    payload.update(
        p_value=float(result.p_value),
        statistic=float(result.statistic),
        statistic_name=result.statistic_name,
        method=result.method,
        method_reason=result.method_reason,
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


def _table_fields(result, text) -> dict:
    """The JSON of a table's per-column fields (missing rates, levels)."""
    if result.encoded is None:
        return {}
    rates = zip(result.reference_missing_rate, result.current_missing_rate, strict=True)
    return {
        "categorical_columns": list(text),
        "missing_rates": [
            {"reference": float(a), "current": float(b)} for a, b in rates
        ],
        "new_levels": _to_jsonable(
            {k: [str(v) for v in levels] for k, levels in result.new_levels.items()}
        ),
        "category_frequencies": _to_jsonable(
            {
                column: {str(k): list(v) for k, v in levels.items()}
                for column, levels in result.category_frequencies.items()
            }
        ),
        "notes": list(result.notes),
    }


def _print_table_fields(result, names, shown: int = 5) -> None:
    """Missing rates that changed and levels new in CURRENT, for a table."""
    if result.encoded is None:
        return
    rates = [
        f"{names[j]} {100 * a:.1f}% -> {100 * b:.1f}%"
        for j, (a, b) in enumerate(
            zip(result.reference_missing_rate, result.current_missing_rate, strict=True)
        )
        if a or b
    ]
    if rates:
        print("\nmissing cells: " + ", ".join(rates))
    for column, levels in result.new_levels.items():
        listed = ", ".join(repr(str(v)) for v in levels[:shown])
        more = f" and {len(levels) - shown} more" if len(levels) > shown else ""
        print(f"new levels in {column}: {listed}{more}")


def _print(result, names, args, top: int = 10) -> None:
    significant = result.p_value < result.alpha
    if result.is_drift:
        verdict = "DRIFT"
    elif significant:
        verdict = f"no drift (significant, but effect < --min-effect {args.min_effect})"
    else:
        verdict = "no drift"
    print(
        f"{verdict}: p-value {fmt(result.p_value, 3)} (level {fmt(result.alpha)}), "
        f"effect {fmt(result.effect)} nats (null sd {fmt(result.effect_null_sd)}), "
        f"{result.n_ref}+{result.n} rows, {len(names)} features"
    )
    print(f"engine: {result.method} ({result.method_reason})")
    for note in result.notes:
        print(f"note: {note}")
    scores = np.asarray(result.feature_scores, dtype=float)
    order = np.argsort(-scores, kind="stable")[:top]
    rows = [
        [names[j], fmt(scores[j]), fmt(result.feature_p_values[j], 3)] for j in order
    ]
    more = f" (top {top} of {len(names)})" if len(names) > top else ""
    print(f"\nper feature{more}:")
    print(table(rows, header=["feature", "effect", "p-value (Holm)"]))


COMMAND = Command(
    name="drift",
    help="two-sample test: has CURRENT drifted away from REFERENCE?",
    description="Test of 'same mean and covariance' between the rows of "
    "REFERENCE\nand those of CURRENT (tables with a header row), with an "
    "effect size:\nthe second-order symmetric KL divergence between their "
    "Gaussian fits, unbiased.\nA progress indicator shows on stderr when it "
    "is a terminal.",
    epilog=_EPILOG,
    raw_help=True,
    handler=cmd_drift,
    check=_check_flags,
    arguments=(
        arg("reference", metavar="REFERENCE", param="X_ref"),
        arg("current", metavar="CURRENT", param="X"),
        arg(
            "--columns",
            type=names_list,
            metavar="A,B,...",
            help="columns to compare (default: all)",
        ),
        *table_args(),
        arg(
            "--categorical",
            type=names_list,
            default=(),
            metavar="A,B,...",
            help="columns to read as categories although their cells are numbers "
            "(codes); columns with text are categorical anyway, and missing cells "
            "are kept (encoded) unless --dropna",
        ),
        arg(
            "--level",
            param="alpha",
            type=level,
            default=0.05,
            help="test level in (0, 1) (default 0.05)",
        ),
        renamed("--alpha", "--level for the test level"),
        arg(
            "--method",
            param="method",
            choices=_METHODS,
            default="auto",
            help="engine of GaussianDriftDetector: auto (default: power first, "
            "cost second -- the moment engine where affordable, else asymptotic "
            "for large n, else gram), permutation (exact, moment features), gram "
            "(exact permutations in sample space, large d) or asymptotic "
            "(distribution-free large-n test; falls back, with a warning, where "
            "it cannot run or be calibrated)",
        ),
        arg(
            "--min-effect",
            type=non_negative,
            default=None,
            help="smallest effect (unbiased second-order symmetric KL, nats, >= 0) "
            "that counts as drift (default: any significant difference)",
        ),
        arg(
            "--n-permutations",
            "--permutations",
            dest="n_permutations",
            param="n_permutations",
            type=count,
            default=1000,
            help="permutations for the p-value (default 1000); more than "
            "1/level - 1, or no p-value can fall below --level",
        ),
        *fit_args(["full", "diag"]),
        arg("--seed", type=seed, default=0, help="random seed (default 0)"),
        arg("--json", action="store_true", help="print the result as JSON"),
        arg(
            "--report",
            metavar="PATH",
            default=None,
            help="also write a self-contained HTML report page to PATH",
        ),
    ),
)
