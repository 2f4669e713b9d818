"""``skkl frechet A B``: the Fréchet distance (FID) between two feature files.

A and B are feature rows (``.npy``, an ``.npz`` holding one 2-D array, or a
table: ``.csv``/``.tsv``/``.txt``, compressed or not, ``.parquet``) or saved
statistics (an ``.npz`` with ``mu`` and ``sigma``: pytorch-fid's files and
:meth:`skkl.FeatureMoments.save`'s). ``--interval`` adds the jackknife's
bias-corrected estimate and confidence interval (it resamples the sides
given as rows). Bad files end with exit status 2 and a message that names
the file.
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from ._command import Command, arg
from ._errors import EXIT_OK, CLIError, library_errors
from ._files import check_file
from ._flags import count, level, seed, table_args
from ._readers import note_dropped, open_table
from ._tables import fmt

__all__ = ["COMMAND", "cmd_frechet"]

_DESCRIPTION = (
    "Fréchet distance between the Gaussians fitted to the rows of A and of B "
    "(means and ddof=1 covariances: the FID convention). A and B are feature "
    "rows (.npy; .npz with one 2-D array; a table with or without a header: "
    ".csv/.tsv/.txt, optionally .gz, .bz2, .xz, .zip, or .parquet) or saved "
    "statistics (.npz with 'mu' and 'sigma', as pytorch-fid and "
    "FeatureMoments.save write them)."
)


def _groups(text: str) -> int:
    """Jackknife groups: an integer >= 2."""
    value = count(text)
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2, got {text!r}")
    return value


def _npz(path):
    """Statistics (FeatureMoments) or the one 2-D array of an ``.npz``."""
    from ..frechet import FeatureMoments

    try:
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.files)
            stats = "mu" in keys and "sigma" in keys
            array = data[keys[0]] if len(keys) == 1 and not stats else None
    except Exception as exc:  # zipfile, format and pickle errors alike
        raise CLIError(f"{path}: not a readable .npz file ({exc}).") from None
    if stats:
        with library_errors({}):
            return FeatureMoments.load(path)
    if array is None:
        raise CLIError(
            f"{path}: holds arrays {sorted(keys)}; expected statistics ('mu' and "
            "'sigma', as pytorch-fid and FeatureMoments.save write) or a single "
            "2-D array of features."
        )
    return array


def _rows(value, path):
    """``value`` checked as a 2-D numeric array of at least 2 rows."""
    if value.dtype.kind not in "biuf":
        raise CLIError(f"{path}: holds {value.dtype} values, not numbers.")
    if value.ndim != 2:
        raise CLIError(
            f"{path}: expected a 2-D array of features (rows x features), got "
            f"shape {value.shape}."
        )
    if len(value) < 2:
        raise CLIError(f"{path}: has {len(value)} row(s); at least 2 are needed.")
    return value


def read_side(path: str, args):
    """Rows (an array) or statistics (FeatureMoments) from one file."""
    p = check_file(path)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        value = _npz(p)
        return value if not isinstance(value, np.ndarray) else _rows(value, path)
    if suffix == ".npy":
        try:
            value = np.load(p, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # format and pickle errors alike
            raise CLIError(f"{path}: not a readable .npy file ({exc}).") from None
        return _rows(value, path)
    table = open_table(path, args.sep, args.decimal)
    frame = table.read(table.data_columns(), dropna=args.dropna)
    note_dropped(frame, path, "frechet")
    return _rows(frame.numeric, path)


def cmd_frechet(args: argparse.Namespace) -> int:
    """Run ``skkl frechet``; returns the exit status."""
    from ..frechet import FeatureMoments, frechet_distance, frechet_interval

    a, b = read_side(args.a, args), read_side(args.b, args)
    if args.interval and all(isinstance(v, FeatureMoments) for v in (a, b)):
        raise CLIError(
            "--interval resamples rows: give the features of A or of B, not two "
            "statistics files."
        )
    names = COMMAND.parameter_names()
    files = {"X": args.a, "Y": args.b}
    with library_errors(names, files, about=f"{args.a} vs {args.b}"):
        value = frechet_distance(a, b, unbiased_mean_term=args.unbiased_mean_term)
        res = None
        if args.interval:
            res = frechet_interval(
                a,
                b,
                confidence_level=args.confidence_level,
                n_groups=args.groups,
                random_state=args.seed,
            )
    rows = {key: _n_rows(side) for key, side in (("A", a), ("B", b))}
    resampled = [] if res is None else [names[n] for n in res.resampled]
    if args.json:
        out = {"A": args.a, "B": args.b, "n_samples": rows, "distance": value}
        if res is not None:
            out.update(
                estimate=res.estimate,
                standard_error=res.standard_error,
                low=res.low,
                high=res.high,
                confidence_level=res.confidence_level,
                groups=args.groups,
                resampled=resampled,
            )
        print(json.dumps(out, indent=2))
        return EXIT_OK
    for key, path in (("A", args.a), ("B", args.b)):
        n = rows[key]
        print(f"{key}: {path} ({'statistics' if n is None else f'{n} rows'})")
    label = "with unbiased mean term" if args.unbiased_mean_term else "plain"
    print(f"Fréchet distance ({label}): {fmt(value, 6)}")
    if res is not None:
        print(
            f"bias-corrected estimate: {fmt(res.estimate, 6)} ± "
            f"{fmt(res.standard_error, 3)} (standard error); "
            f"{100 * res.confidence_level:g}% interval "
            f"[{fmt(res.low, 6)}, {fmt(res.high, 6)}]"
        )
        print(
            f"(delete-a-group jackknife, {args.groups} groups over the rows of "
            f"{' and '.join(resampled)})"
        )
    return EXIT_OK


def _n_rows(side):
    return side.n_samples if hasattr(side, "n_samples") else int(side.shape[0])


COMMAND = Command(
    name="frechet",
    help="Fréchet distance (FID) between two feature files or saved statistics",
    description=_DESCRIPTION,
    handler=cmd_frechet,
    arguments=(
        arg("a", metavar="A", param="X", help="features or statistics"),
        arg("b", metavar="B", param="Y", help="features or statistics"),
        arg(
            "--interval",
            action="store_true",
            help="also the bias-corrected estimate and a confidence interval "
            "(delete-a-group jackknife over the rows of A and B; statistics "
            "files are held fixed)",
        ),
        arg(
            "--confidence-level",
            type=level,
            default=0.95,
            help="of --interval, in (0, 1) (default 0.95)",
        ),
        arg(
            "--groups",
            type=_groups,
            default=10,
            help="jackknife groups per file of rows, >= 2 (default 10)",
        ),
        arg(
            "--unbiased-mean-term",
            param="unbiased_mean_term",
            action="store_true",
            help="subtract tr(S_A)/n_A + tr(S_B)/n_B, the mean term's bias",
        ),
        arg("--seed", type=seed, default=0, help="seed of --interval (default 0)"),
        *table_args(),
        arg("--json", action="store_true", help="print JSON"),
    ),
)
