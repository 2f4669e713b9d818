"""``skkl frechet A B``: the Fréchet distance (FID) between two feature files.

A and B are feature rows (``.npy``, an ``.npz`` holding one 2-D array, or a
table: ``.csv``/``.tsv``/``.txt``, compressed or not, ``.parquet``) or saved
statistics (an ``.npz`` with ``mu`` and ``sigma``: pytorch-fid's files and
:meth:`skkl.FeatureMoments.save`'s). ``--interval`` adds the jackknife's
bias-corrected estimate and confidence interval (it resamples the sides
given as rows). Bad files end with exit status 2 and a message that names
the file.

The parser module registers the command with :func:`add_arguments` and runs
:func:`cmd_frechet`; this module imports numpy only when the command runs.
"""

from __future__ import annotations

import argparse

__all__ = ["DESCRIPTION", "HELP", "add_arguments", "cmd_frechet"]

HELP = "Fréchet distance (FID) between two feature files or saved statistics"
DESCRIPTION = (
    "Fréchet distance between the Gaussians fitted to the rows of A and of B "
    "(means and ddof=1 covariances: the FID convention). A and B are feature "
    "rows (.npy; .npz with one 2-D array; .csv/.tsv/.txt, optionally .gz, .bz2, "
    ".xz, .zip; .parquet) or saved statistics (.npz with 'mu' and 'sigma', as "
    "pytorch-fid and FeatureMoments.save write them)."
)
# The library's parameter names as this command's arguments and flags.
_NAMES = {
    "X": "A",
    "Y": "B",
    "confidence_level": "--confidence-level",
    "n_groups": "--groups",
    "unbiased_mean_term": "--unbiased-mean-term",
}


def _level(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"must be a number in (0, 1), got {text!r}")
    return value


def _groups(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"must be an integer >= 2, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value < 2**32:
        raise argparse.ArgumentTypeError(
            f"must be an integer in [0, 2**32), got {text!r}"
        )
    return value


def _sep(text: str) -> str:
    from ._io import parse_sep  # numpy is imported only when --sep is given

    try:
        return parse_sep(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``skkl frechet`` (on a subcommand's parser)."""
    parser.add_argument("a", metavar="A", help="features or statistics")
    parser.add_argument("b", metavar="B", help="features or statistics")
    parser.add_argument(
        "--interval",
        action="store_true",
        help="also the bias-corrected estimate and a confidence interval "
        "(delete-a-group jackknife over the rows of A and B; statistics files "
        "are held fixed)",
    )
    parser.add_argument(
        "--confidence-level",
        type=_level,
        default=0.95,
        help="of --interval, in (0, 1) (default 0.95)",
    )
    parser.add_argument(
        "--groups",
        type=_groups,
        default=10,
        help="jackknife groups per file of rows, >= 2 (default 10)",
    )
    parser.add_argument(
        "--unbiased-mean-term",
        action="store_true",
        help="subtract tr(S_A)/n_A + tr(S_B)/n_B, the mean term's bias",
    )
    parser.add_argument(
        "--seed", type=_seed, default=0, help="random seed of --interval (default 0)"
    )
    parser.add_argument(
        "--sep",
        type=_sep,
        default=None,
        metavar="SEP",
        help="delimiter of a table (default: sniffed)",
    )
    parser.add_argument(
        "--dropna",
        action="store_true",
        help="drop table rows with missing values, and say how many",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def _npz(path, name: str):
    """Statistics (FeatureMoments) or the one 2-D array of an ``.npz``."""
    import numpy as np

    from .._errors import InputError
    from ..frechet import FeatureMoments
    from ._errors import CLIError

    try:
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.files)
            if "mu" in keys and "sigma" in keys:
                arrays = None
            elif len(keys) == 1:
                arrays = data[keys[0]]
            else:
                raise CLIError(
                    f"{path}: holds arrays {sorted(keys)}; expected statistics "
                    "('mu' and 'sigma', as pytorch-fid and FeatureMoments.save "
                    "write) or a single 2-D array of features."
                )
    except CLIError:
        raise
    except Exception as exc:  # zipfile, format and pickle errors alike
        raise CLIError(f"{path}: not a readable .npz file ({exc}).") from None
    if arrays is not None:
        return arrays
    try:
        return FeatureMoments.load(path)
    except InputError as exc:
        raise CLIError(exc.render(_NAMES)) from None


def read_side(path: str, name: str, args):
    """Rows (an array) or statistics (FeatureMoments) from one file."""
    import sys

    import numpy as np

    from ._errors import CLIError
    from ._io import check_file, open_table

    p = check_file(path)
    suffix = p.suffix.lower()
    if suffix == ".npz":
        value = _npz(p, name)
    elif suffix == ".npy":
        try:
            value = np.load(p, mmap_mode="r", allow_pickle=False)
        except Exception as exc:  # format and pickle errors alike
            raise CLIError(f"{path}: not a readable .npy file ({exc}).") from None
    else:
        table = open_table(path, args.sep)
        frame = table.read(table.columns, dropna=args.dropna)
        if frame.n_dropped:
            print(
                f"skkl frechet: dropped {frame.n_dropped} rows of {path} with "
                "missing values (--dropna)",
                file=sys.stderr,
            )
        value = frame.numeric
    if isinstance(value, np.ndarray):
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


def cmd_frechet(args) -> int:
    """Run ``skkl frechet``; returns the exit status."""
    import json

    from ..frechet import FeatureMoments, frechet_distance, frechet_interval
    from ._errors import EXIT_OK, CLIError
    from ._tables import fmt

    a = read_side(args.a, "A", args)
    b = read_side(args.b, "B", args)
    if args.interval and all(isinstance(v, FeatureMoments) for v in (a, b)):
        raise CLIError(
            "--interval resamples rows: give the features of A or of B, not two "
            "statistics files."
        )
    try:
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
    except ValueError as exc:
        raise CLIError(_message(exc, args)) from exc
    rows = {"A": _n_rows(a), "B": _n_rows(b)}
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
                resampled=[_NAMES[n] for n in res.resampled],
            )
        print(json.dumps(out, indent=2))
        return EXIT_OK
    for key, path in (("A", args.a), ("B", args.b)):
        n = rows[key]
        print(f"{key}: {path} ({'statistics' if n is None else f'{n} rows'})")
    label = "with unbiased mean term" if args.unbiased_mean_term else "plain"
    print(f"Fréchet distance ({label}): {fmt(value, 6)}")
    if res is not None:
        level = f"{100 * res.confidence_level:g}%"
        print(
            f"bias-corrected estimate: {fmt(res.estimate, 6)} ± "
            f"{fmt(res.standard_error, 3)} (standard error); {level} interval "
            f"[{fmt(res.low, 6)}, {fmt(res.high, 6)}]"
        )
        print(
            f"(delete-a-group jackknife, {args.groups} groups over the rows of "
            f"{' and '.join(_NAMES[n] for n in res.resampled)})"
        )
    return EXIT_OK


def _message(exc: ValueError, args) -> str:
    """The library's error in this command's words, naming the file at fault."""
    render = getattr(exc, "render", None)
    if render is None:
        return str(exc)
    path = {"X": args.a, "Y": args.b}.get(getattr(exc, "argument", None))
    return (f"{path}: " if path else "") + render(_NAMES)


def _n_rows(side):
    return side.n_samples if hasattr(side, "n_samples") else int(side.shape[0])
