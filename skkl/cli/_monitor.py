"""``skkl monitor``: watch a stream file against a reference, alarm on drift.

The reference is a table (fitted and calibrated here; ``--save-reference``
keeps the result) or a monitor file written by ``--save-reference`` or
:meth:`skkl.GaussianDriftMonitor.save`. The stream is read in chunks of
``--batch-size`` rows (memory stays flat however long the file is): with
pyarrow's streaming CSV reader, else pandas' chunked reader, else Python's
``csv`` module; Parquet by row batches. ``-`` reads the stream from
standard input. Each alarm is printed as it happens.

A REF with text columns (or ``--categorical`` ones) or missing cells is
watched as a table (:mod:`._monitor_tables`): its columns' kinds are fixed
from REF, and each chunk of STREAM is read with them.
"""

from __future__ import annotations

import argparse
import bz2
import csv
import gzip
import io
import json
import lzma
import sys
from pathlib import Path

import numpy as np

from . import _flags as flags
from ._command import Command, arg
from ._errors import EXIT_DRIFT, EXIT_OK, CLIError, library_errors
from ._monitor_tables import iter_mixed_chunks, read_reference, text_of
from ._numbers import parse_float
from ._readers import NA_VALUES, open_table

__all__ = ["COMMAND", "cmd_monitor", "iter_table_chunks"]

_EPILOG = """\
exit status:
  0  no alarm
  1  at least one alarm (each is printed with its row, change point and features)
  2  bad input (missing file or column, text in a numeric column, bad flag)
  3  internal error (a bug in skkl: please report it with the traceback)

examples:
  skkl monitor reference.csv stream.csv --ert 5000 --save-reference ref.npz
  skkl monitor ref.npz today.csv            # the saved reference and threshold
  tail -n +1 -f live.csv | skkl monitor ref.npz -
"""


def _positive(kind):
    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = 0
        if not value > 0 or not np.isfinite(value):
            raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
        return value

    return parse


def _ert(text: str) -> float:
    # GaussianDriftMonitor's smallest target (MIN_ERT): a mean run length
    # below 2 rows cannot be calibrated.
    return flags._number(text, 2.0, closed=True)


def _arguments() -> tuple:
    return (*_data_arguments(), *_calibration_arguments(), *_reading_arguments())


def _data_arguments() -> tuple:
    return (
        arg(
            "reference",
            metavar="REF",
            param="X_ref",
            help="reference table (header row; .csv/.tsv/... or .parquet), or a "
            "monitor file (.npz) from --save-reference",
        ),
        arg(
            "stream",
            metavar="STREAM",
            param="X",
            help="table to watch, read in chunks; - for stdin",
        ),
    )


def _calibration_arguments() -> tuple:
    return (
        arg(
            "--ert",
            param="ert",
            type=_ert,
            default=None,
            help="expected rows between false alarms (required with a table REF)",
        ),
        arg(
            "--window",
            param="window",
            type=flags.count,
            default=None,
            help="longest post-change window in rows (default: min(500, rows of "
            "REF / 4, ERT / 2))",
        ),
        arg(
            "--calibration",
            param="calibration",
            choices=("resample", "parametric"),
            default="resample",
            help="resample (default: distribution-free, mean false-alarm rate "
            "1/ERT) or parametric (Gaussian data: P(ARL >= ERT) >= 1 - --delta)",
        ),
        arg(
            "--delta",
            param="delta",
            type=flags.level,
            default=0.05,
            help="for --calibration parametric: allowed probability of an ARL "
            "below ERT over reference samples (default 0.05)",
        ),
        arg(
            "--shrinkage",
            param="shrinkage",
            type=flags.shrinkage,
            default=None,
            help="shrinkage of the reference's correlation: ledoit_wolf, oas or "
            "a float in [0, 1]",
        ),
        arg(
            "--seed",
            type=flags.seed,
            default=0,
            help="seed of the calibration (default 0)",
        ),
    )


def _reading_arguments() -> tuple:
    return (
        arg(
            "--columns",
            metavar="A,B,...",
            type=flags.names_list,
            help="columns to watch (default: all of REF)",
        ),
        arg(
            "--categorical",
            type=flags.names_list,
            default=(),
            metavar="A,B,...",
            help="columns of REF to watch as categories although their cells "
            "are numbers (codes); columns with text are categorical anyway, and "
            "missing cells are kept (encoded)",
        ),
        arg(
            "--sep",
            type=flags.sep,
            default=None,
            metavar="SEP",
            help="delimiter of both tables (default: sniffed)",
        ),
        arg(
            "--batch-size",
            type=_positive(int),
            default=10000,
            help="rows read and fed at a time (default 10000); alarms do not "
            "depend on it",
        ),
        arg(
            "--save-reference",
            metavar="FILE.npz",
            help="write the fitted reference and threshold to FILE.npz",
        ),
        arg("--json", action="store_true", help="print a JSON summary at the end"),
        arg(
            "--report",
            metavar="PATH",
            default=None,
            help="also write a self-contained HTML report page to PATH (verdict, "
            "alarms, guarantee, the statistic's timeline)",
        ),
    )


def _library_errors(args):
    """The library's errors about the user's data, as bad input with flags."""
    return library_errors(
        COMMAND.parameter_names(),
        {"X_ref": args.reference, "X": args.stream},
        about=args.reference,
    )


def _is_monitor_file(path: str) -> bool:
    return Path(path).suffix.lower() == ".npz"


def _load_monitor(args):
    from ..drift import GaussianDriftMonitor

    with _library_errors(args):
        monitor = GaussianDriftMonitor.load(args.reference)
    given = {"ert": args.ert, "window": args.window}
    for name, value in given.items():
        saved = getattr(monitor, name)
        if value is not None and value != saved:
            raise CLIError(
                f"{args.reference} was calibrated with --{name} {saved:g}; omit "
                f"--{name}, or fit a new reference from a table."
            )
    names = getattr(monitor, "feature_names_in_", None)
    if names is None:
        raise CLIError(f"{args.reference}: the monitor has no column names.")
    return monitor.reset(), [str(v) for v in names]


def _fit_monitor(args):
    from ..drift import GaussianDriftMonitor

    if args.ert is None:
        raise CLIError("--ert is required when REF is a table (give the budget).")
    tab = open_table(args.reference, args.sep)
    tab.require_header()
    columns = args.columns or tab.columns
    names = tab.select(columns)
    X = read_reference(tab, names, args.categorical)
    if len(X) < 2:
        raise CLIError(f"{args.reference} has {len(X)} data row(s); at least 2.")
    monitor = GaussianDriftMonitor(
        ert=args.ert,
        window=args.window,
        calibration=args.calibration,
        delta=args.delta,
        shrinkage=args.shrinkage,
        random_state=args.seed,
    )
    with _library_errors(args):
        monitor.fit(X if hasattr(X, "columns") else _frame(X, names))
    return monitor, names


def _frame(X, names):
    """X with column names, so the monitor keeps them."""
    try:
        import pandas as pd
    except ImportError:  # pragma: no cover - names then stay positional
        return X
    return pd.DataFrame(X, columns=names)


def cmd_monitor(args) -> int:
    """Run ``skkl monitor``; 1 when an alarm was raised."""
    if args.report is not None:  # a typo fails before the calibration runs
        from .._display._page import check_page_path

        check_page_path(args.report, "monitor.html")
    if _is_monitor_file(args.reference):
        if args.categorical:
            raise CLIError(
                f"{args.reference} keeps its columns' kinds; omit --categorical."
            )
        monitor, names = _load_monitor(args)
        if args.columns is not None and args.columns != names:
            raise CLIError(
                f"{args.reference} watches columns {', '.join(names)}; omit "
                "--columns or fit a new reference."
            )
    else:
        monitor, names = _fit_monitor(args)
    if args.save_reference:
        monitor.save(args.save_reference)
    cal = monitor.calibration_
    if not args.json:
        print(
            f"reference: {args.reference} ({monitor.n_ref_} rows, {len(names)} "
            f"columns); ERT {monitor.ert:g} rows, window {monitor.window_}, "
            f"threshold {cal.threshold:.3f} ({cal.mode}; Monte Carlo error of "
            f"the ERT {100 * cal.relative_se:.0f}%)",
            flush=True,
        )
    run = _report_run(monitor, args)
    alarms = []
    n = 0
    for start, X in _chunks(monitor, names, args):
        with _library_errors(args):
            state = monitor.update(X)
        if run is not None:
            run.add(state)
        n = start + len(X)
        for a in state.alarms:
            alarms.append(a)
            if not args.json:
                _print_alarm(a, names)
    if args.json:
        print(json.dumps(_payload(monitor, names, alarms, n, args), indent=2))
    else:
        print(f"{n} rows watched, {len(alarms)} alarm(s)")
    if run is not None:
        from .._display import write_monitor_report

        print(f"report: {write_monitor_report(run, args.report)}", file=sys.stderr)
    return EXIT_DRIFT if alarms else EXIT_OK


def _chunks(monitor, names, args):
    """STREAM's chunks as the monitor takes them (a table's with REF's kinds)."""
    if getattr(monitor, "encoding_", None) is not None:
        text = text_of(monitor)
        yield from iter_mixed_chunks(
            args.stream, names, text, args.sep, args.batch_size
        )
        return
    for start, X in iter_table_chunks(args.stream, names, args.sep, args.batch_size):
        yield start, _frame(X, names)


def _report_run(monitor, args):
    """What ``--report`` gathers over the stream (bounded), or None without it."""
    if args.report is None:
        return None
    from .._display import MonitorRun

    return MonitorRun(
        monitor, reference=args.reference, stream=args.stream, rows_from=1
    )


def _print_alarm(a, names) -> None:
    score = dict(zip(names, a.feature_scores, strict=True))
    top = ", ".join(f"{name} ({score[name]:.3g})" for name in a.features)
    print(
        f"ALARM at data row {a.row + 1}: change from row {a.change_point + 1} "
        f"({a.window} rows), {a.part} part, statistic {a.statistic:.2f}, effect "
        f"{a.effect:.3g} nats/row; features: {top}",
        flush=True,
    )


def _payload(monitor, names, alarms, n, args) -> dict:
    cal = monitor.calibration_
    return {
        "reference": args.reference,
        "stream": args.stream,
        "rows": n,
        "ert": float(monitor.ert),
        "window": int(monitor.window_),
        "threshold": float(cal.threshold),
        "calibration": cal.mode,
        "calibration_relative_se": float(cal.relative_se),
        "alarms": [
            {
                "row": int(a.row) + 1,
                "change_point": int(a.change_point) + 1,
                "part": a.part,
                "statistic": float(a.statistic),
                "effect": float(a.effect),
                "features": list(a.features),
                "feature_scores": dict(
                    zip(names, map(float, a.feature_scores), strict=True)
                ),
            }
            for a in alarms
        ],
    }


# -- reading a stream in chunks ------------------------------------------------------


def iter_table_chunks(path: str, columns, sep, rows: int):
    """``(first data row index, float64 array)`` chunks of ``columns`` of a table.

    Memory holds one chunk of ``rows`` rows. Missing or non-numeric cells are
    an error naming the data row (1-based, the header excluded).
    """
    if path == "-":
        yield from _python_chunks(sys.stdin, path, columns, sep, rows)
        return
    tab = open_table(path, sep)
    tab.require_header()
    tab.select(columns)
    if not hasattr(tab, "delimiter"):  # Parquet
        yield from _parquet_chunks(tab, columns, rows)
        return
    for reader in (_arrow_chunks, _pandas_chunks):
        chunks = reader(tab, columns, rows)
        if chunks is not None:
            yield from chunks
            return
    with _open_text(tab.path) as text:
        yield from _python_chunks(text, path, columns, tab.delimiter, rows, tab.columns)


def _open_text(path: Path):
    """A text handle on a plain or gzip/bz2/xz-compressed file."""
    openers = {".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open}
    opener = openers.get(path.suffix.lower())
    if opener is None and path.suffix.lower() == ".zip":
        raise CLIError(f"{path}: reading a .zip stream needs pandas or pyarrow.")
    if opener is None:
        return open(path, encoding="utf-8-sig", newline="")
    return io.TextIOWrapper(opener(path, "rb"), encoding="utf-8-sig", newline="")


def _checked(X: np.ndarray, start: int, path: str, columns) -> np.ndarray:
    bad = ~np.isfinite(X)
    if bad.any():
        i, j = np.argwhere(bad)[0]
        raise CLIError(
            f"{path}: data row {start + i + 1} has a missing or non-finite value in "
            f"column {columns[j]!r}; the monitor needs complete rows: drop or "
            "impute them first."
        )
    return X


def _parquet_chunks(tab, columns, rows):
    import pyarrow as pa

    start = 0
    for batch in tab._file.iter_batches(batch_size=rows, columns=list(columns)):
        X = np.empty((batch.num_rows, len(columns)))
        for k, name in enumerate(columns):
            col = batch.column(name)
            if not (pa.types.is_integer(col.type) or pa.types.is_floating(col.type)):
                raise CLIError(
                    f"{tab.path}: column {name!r} is not numeric (type {col.type})."
                )
            X[:, k] = col.cast(pa.float64()).to_numpy(zero_copy_only=False)
        yield start, _checked(X, start, tab.path, columns)
        start += len(X)


def _arrow_chunks(tab, columns, rows):
    try:
        import pyarrow as pa
        from pyarrow import csv as pa_csv
    except ImportError:
        return None
    names = [f"f{j}" for j in range(len(tab.columns))]
    idx = [tab.columns.index(c) for c in columns]
    try:
        reader = pa_csv.open_csv(
            pa.input_stream(str(tab.path)),
            read_options=pa_csv.ReadOptions(
                skip_rows=tab.skip,
                column_names=names,
                block_size=max(1 << 16, 16 * len(tab.columns) * rows),
            ),
            parse_options=pa_csv.ParseOptions(delimiter=tab.delimiter),
            convert_options=pa_csv.ConvertOptions(
                include_columns=[names[j] for j in idx],
                column_types={names[j]: pa.float64() for j in idx},
                null_values=list(NA_VALUES),
            ),
        )
    except (pa.ArrowInvalid, OSError):
        return None
    return _arrow_batches(reader, tab, columns, idx, names, rows)


def _arrow_batches(reader, tab, columns, idx, names, rows):
    import pyarrow as pa

    start = 0
    pending, held = [], 0
    while True:
        try:
            batch = reader.read_next_batch()
        except StopIteration:
            break
        except pa.ArrowInvalid as exc:
            raise CLIError(
                f"{tab.path}: after data row {start + held}: {exc}; the columns "
                "watched must hold numbers."
            ) from None
        X = np.column_stack(
            [batch.column(names[j]).to_numpy(zero_copy_only=False) for j in idx]
        ).astype(np.float64, copy=False)
        pending.append(X)
        held += len(X)
        while held >= rows:
            block = np.concatenate(pending)
            yield start, _checked(block[:rows], start, tab.path, columns)
            start += rows
            rest = block[rows:]
            pending, held = ([rest] if len(rest) else []), len(rest)
    if held:
        yield start, _checked(np.concatenate(pending), start, tab.path, columns)


def _pandas_chunks(tab, columns, rows):
    try:
        import pandas as pd
    except ImportError:
        return None
    idx = [tab.columns.index(c) for c in columns]

    def chunks():
        start = 0
        reader = pd.read_csv(
            tab.path,
            sep=tab.delimiter,
            header=None,
            skiprows=tab.skip,
            usecols=idx,
            na_values=list(NA_VALUES),
            keep_default_na=False,
            chunksize=rows,
            engine="c",
        )
        for df in reader:
            try:
                X = df[idx].to_numpy(dtype=np.float64)
            except (ValueError, TypeError) as exc:
                raise CLIError(
                    f"{tab.path}: near data row {start + 1}: non-numeric value "
                    f"({exc}); the columns watched must hold numbers."
                ) from None
            yield start, _checked(X, start, tab.path, columns)
            start += len(X)

    return chunks()


def _python_chunks(text, path, columns, sep, rows, header=None):
    """Chunks parsed by Python's csv module (stdin, or no C parser installed)."""
    reader = csv.reader(text, delimiter=sep or ",")
    if header is None:
        header = [c.strip() for c in next(reader, [])]
        missing = [c for c in columns if c not in header]
        if missing:
            raise CLIError(f"{path}: no column named {', '.join(map(repr, missing))}.")
    else:
        next(reader, None)
    idx = [header.index(c) for c in columns]
    start, buf = 0, []
    for line in reader:
        if not line:
            continue
        row = start + len(buf) + 1
        if len(line) != len(header):  # extra fields would shift the values
            raise CLIError(
                f"{path}: data row {row} has {len(line)} fields, the header has "
                f"{len(header)} (an unquoted delimiter inside a value?)."
            )
        try:
            buf.append([parse_float(line[j].strip()) for j in idx])
        except ValueError:
            raise CLIError(
                f"{path}: data row {row} has a missing or non-numeric value in "
                "the columns watched."
            ) from None
        if len(buf) == rows:
            yield start, _checked(np.array(buf), start, path, columns)
            start, buf = start + rows, []
    if buf:
        yield start, _checked(np.array(buf), start, path, columns)


COMMAND = Command(
    name="monitor",
    help="watch a stream for drift against a reference, alarm on a change",
    description="Watch the rows of STREAM, in order, for drift away from REF: "
    "an alarm when the\nevidence of a change in mean, spread or correlation "
    "reaches a threshold set so\nthat, without change, alarms come once every "
    "--ert rows on average.",
    epilog=_EPILOG,
    raw_help=True,
    handler=cmd_monitor,
    arguments=_arguments(),
)
