"""``skkl pairwise``: the divergence matrix between Gaussians stored in a file."""

from __future__ import annotations

import argparse

import numpy as np

from .._progress import ProgressBar
from ._command import Command, arg
from ._errors import EXIT_OK, CLIError, library_errors
from ._flags import (
    TABLE_HELP,
    covariance_types,
    decimal_arg,
    kind_args,
    n_jobs,
    names_list,
    sep_arg,
)
from ._gaussian_files import read_gaussians
from ._tables import matrix_table
from ._writers import output, write_matrix

__all__ = ["COMMAND", "cmd_pairwise"]

# Rows above which `skkl pairwise` reports progress (when stderr is a terminal).
PROGRESS_MIN_ROWS = 256
# Largest matrix printed on stdout; above it --out is required.
MAX_PRINTED = 100
_FORMATS = {".npy": "npy", ".csv": "csv"}


def _compute(G, args, names) -> np.ndarray:
    from ..pairwise import pairwise_divergence, pairwise_divergence_chunked

    kwargs = dict(kind=args.kind, alpha=args.order, n_jobs=args.n_jobs)
    bar = ProgressBar(len(G), f"{args.kind} rows")
    with library_errors(names, about=args.file):
        if not (bar.enabled and len(G) >= PROGRESS_MIN_ROWS):
            return pairwise_divergence(G, **kwargs)
        blocks = []
        with bar:
            for block in pairwise_divergence_chunked(G, **kwargs):
                blocks.append(block)
                bar.update(len(block))
        return np.vstack(blocks)


def cmd_pairwise(args: argparse.Namespace) -> int:
    out = None if args.out is None else output("--out", args.out, _FORMATS, "csv")
    G, labels = read_gaussians(args.file, args.covariance_type, args.sep, args.decimal)
    K = len(G)
    if args.names is not None:
        if len(args.names) != K:
            raise CLIError(
                f"--names has {len(args.names)} names for the {K} Gaussians of "
                f"{args.file}."
            )
        labels = args.names
    labels = list(range(K)) if labels is None else labels
    if out is None and K > MAX_PRINTED:
        raise CLIError(
            f"the {K} x {K} matrix is too large to print (more than {MAX_PRINTED} "
            "rows); write it with --out D.npy or --out D.csv, or as CSV on stdout "
            "with --out -."
        )
    D = _compute(G, args, COMMAND.parameter_names())
    if out is None:
        print(f"{args.kind}(row || column) between the {K} Gaussians of {args.file}:")
        print(matrix_table(D, labels))
        return EXIT_OK
    write_matrix(out, D)
    if not out.is_stdout:
        print(f"wrote {K}x{K} {args.kind} matrix to {out.path}")
    return EXIT_OK


COMMAND = Command(
    name="pairwise",
    help="divergence matrix between Gaussians stored in a file",
    description="Divergence between every pair of Gaussians in FILE: an .npz "
    "with arrays 'means' and 'covariances' (and optionally 'covariance_type'), "
    "or a table of rows packed by Gaussians.pack() under a header that names "
    "the layout (mean_0, ..., chol_i_j / std_j / std; a first column 'name' "
    "labels the Gaussians), as `skkl separability --save-gaussians` writes. "
    "A progress bar shows on stderr for large files when it is a terminal.",
    handler=cmd_pairwise,
    arguments=(
        arg("file", metavar="FILE", help=".npz, or packed rows: " + TABLE_HELP),
        *kind_args("kl"),
        arg(
            "--covariance-type",
            choices=covariance_types(),
            help="layout of the covariances; needed only for packed rows without "
            "a header (default: from the file)",
        ),
        arg(
            "--names",
            type=names_list,
            metavar="A,B,...",
            help="labels of the Gaussians, in file order",
        ),
        sep_arg("delimiter of a table"),
        decimal_arg(),
        arg(
            "--n-jobs", type=n_jobs, default=None, help="joblib workers (-1: all cores)"
        ),
        arg(
            "--out",
            metavar="OUT",
            help="write the matrix to OUT: .npy or .csv (any case; the name is "
            f"kept as given), or - for CSV on stdout; required above {MAX_PRINTED} "
            "Gaussians",
        ),
    ),
)
