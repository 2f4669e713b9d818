"""Gaussians in files: ``.npz`` arrays and packed rows under a layout header.

Packed Gaussians are the rows of :meth:`skkl.Gaussians.pack` under a header
that names the layout (:func:`packed_columns`), so a file cannot be re-read
with the wrong covariance type.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ._errors import CLIError
from ._files import base_suffix, check_file, short
from ._readers import PARQUET_SUFFIXES, TEXT_SUFFIXES, open_table

__all__ = [
    "layout_from_columns",
    "packed_columns",
    "read_gaussians",
    "write_packed",
]


def packed_columns(n_features: int, covariance_type: str) -> list[str]:
    """Column names of :meth:`skkl.Gaussians.pack` rows: the layout and d.

    The mean ``mean_j``, then the Cholesky factor's lower triangle
    ``chol_i_j`` in row-major order ('full', 'tied'), the standard deviations
    ``std_j`` ('diag') or one ``std`` ('spherical').

    Examples
    --------
    >>> packed_columns(2, "full")
    ['mean_0', 'mean_1', 'chol_0_0', 'chol_1_0', 'chol_1_1']
    >>> packed_columns(2, "spherical")
    ['mean_0', 'mean_1', 'std']
    """
    means = [f"mean_{j}" for j in range(n_features)]
    if covariance_type in ("full", "tied"):
        rows, cols = np.tril_indices(n_features)
        return means + [f"chol_{i}_{j}" for i, j in zip(rows, cols, strict=True)]
    if covariance_type == "diag":
        return means + [f"std_{j}" for j in range(n_features)]
    if covariance_type == "spherical":
        return [*means, "std"]
    raise ValueError(f"unknown covariance_type {covariance_type!r}")


def layout_from_columns(columns) -> tuple[str, int] | None:
    """``(covariance_type, d)`` of a header written by :func:`packed_columns`.

    Examples
    --------
    >>> layout_from_columns(packed_columns(4, "full"))
    ('full', 4)
    >>> layout_from_columns(["sepal_length", "sepal_width"]) is None
    True
    """
    columns = list(columns)
    d = 0
    while d < len(columns) and columns[d] == f"mean_{d}":
        d += 1
    if d == 0:
        return None
    for kind in ("full", "diag", "spherical"):
        if columns == packed_columns(d, kind):
            return kind, d
    return None


def _load_npz(path: Path, covariance_type: str | None):
    from .._gaussians import Gaussians

    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as exc:  # zipfile, zlib, pickle and format errors alike
        raise CLIError(f"{path}: not a readable .npz file ({exc}).") from None
    missing = [k for k in ("means", "covariances") if k not in arrays]
    if missing:
        raise CLIError(
            f"{path}: the .npz needs arrays 'means' and 'covariances'; missing "
            f"{missing} (found {[short(k) for k in sorted(arrays)[:10]]})."
        )
    means, covs = arrays["means"], arrays["covariances"]
    stored = arrays.get("covariance_type")
    if stored is not None:
        if stored.ndim != 0 or stored.dtype.kind not in "US":
            raise CLIError(f"{path}: 'covariance_type' must be a single string.")
        stored = str(stored[()])
        if covariance_type is not None and covariance_type != stored:
            raise CLIError(
                f"{path} says covariance_type={short(stored)} but "
                f"--covariance-type is {covariance_type!r}."
            )
    kind = covariance_type or stored or _infer_covariance_type(path, means, covs)
    for name, array in (("means", means), ("covariances", covs)):
        if array.dtype.kind not in "biuf":
            raise CLIError(
                f"{path}: the array {name!r} holds {array.dtype} values; it must "
                "hold numbers."
            )
    try:
        return Gaussians(means, covs, kind), None
    except (ValueError, TypeError) as exc:
        # The arrays carry the library's parameter names: its words fit.
        raise CLIError(f"{path}: {exc}") from None


def _infer_covariance_type(path, means: np.ndarray, covs: np.ndarray) -> str:
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
        f"{path}: cannot tell the covariance type from shapes means {means.shape}, "
        f"covariances {covs.shape}; pass --covariance-type."
    )


_LAYOUT_HELP = (
    "packed columns are the mean then the Cholesky factor, named mean_0 .. "
    "mean_{d-1} then chol_i_j (full), std_j (diag) or std (spherical), "
    "optionally after a first column 'name'; `skkl separability DATA "
    "--target COLUMN --save-gaussians OUT.csv` writes such a file"
)


def _packed_layout(table, covariance_type) -> tuple[str, list[str], list[str]]:
    """``(covariance type, name column or [], data columns)`` of a packed table."""
    path = table.path
    columns = list(table.columns)
    names = columns[:1] if table.has_header and columns[:1] == ["name"] else []
    data = columns[len(names) :]
    if not table.has_header:
        if covariance_type is None:
            raise CLIError(
                f"{path}: a file of packed rows without a header needs "
                f"--covariance-type (full, diag or spherical); better, give it a "
                f"header: {_LAYOUT_HELP}."
            )
        return ("full" if covariance_type == "tied" else covariance_type), names, data
    layout = layout_from_columns(data)
    if layout is None:
        shown = ", ".join(map(short, data[:6])) + (", ..." if len(data) > 6 else "")
        raise CLIError(
            f"{path}: the header ({shown}) does not describe packed Gaussians; "
            f"{_LAYOUT_HELP}. To compare the classes of a data table, run "
            f"`skkl separability {path.name} --target COLUMN`."
        )
    kind, d = layout
    if covariance_type is not None and covariance_type != kind:
        raise CLIError(
            f"{path}: the header says {kind!r} rows in d={d} dimensions, but "
            f"--covariance-type is {covariance_type!r}; drop --covariance-type "
            "(the header is enough)."
        )
    return kind, names, data


def _load_packed(path: Path, covariance_type, sep, decimal):
    from .._gaussians import Gaussians

    table = open_table(str(path), sep, decimal)
    kind, names, data = _packed_layout(table, covariance_type)
    frame = table.read(data, names)
    if len(frame.numeric) == 0:
        raise CLIError(f"{path}: no data rows.")
    try:
        G = Gaussians.from_packed(frame.numeric, kind)
    except (ValueError, TypeError) as exc:
        raise CLIError(f"{path}: {exc}") from None
    return G, (list(frame.text["name"]) if names else None)


def read_gaussians(path: str, covariance_type=None, sep=None, decimal="."):
    """``(Gaussians, labels or None)`` from an ``.npz`` or a packed table."""
    p = check_file(path)
    if p.suffix.lower() == ".npz":
        return _load_npz(p, covariance_type)
    if base_suffix(p) not in (*TEXT_SUFFIXES, *PARQUET_SUFFIXES):
        raise CLIError(
            f"{path}: expected a .npz, a .csv (also .tsv, .txt, optionally .gz, "
            f".bz2, .xz, .zip) or a .parquet file, got {''.join(p.suffixes)!r}."
        )
    return _load_packed(p, covariance_type, sep, decimal)


def write_packed(fh, gaussians, names=None) -> None:
    """Write ``gaussians.pack()`` rows as CSV under a :func:`packed_columns` header.

    Parameters
    ----------
    fh : text file
        Opened with ``newline=''``.

    Examples
    --------
    >>> import io, numpy as np
    >>> from skkl import Gaussians
    >>> G = Gaussians([[0.0, 1.0], [2.0, 3.0]], np.ones((2, 2)), "diag")
    >>> out = io.StringIO()
    >>> write_packed(out, G, names=["a", "b"])
    >>> print(out.getvalue())
    name,mean_0,mean_1,std_0,std_1
    a,0,1,1,1
    b,2,3,1,1
    <BLANKLINE>
    """
    header = packed_columns(gaussians.n_features, gaussians.covariance_type)
    writer = csv.writer(fh, lineterminator="\n")
    writer.writerow((["name"] if names is not None else []) + header)
    for k, row in enumerate(gaussians.pack()):
        cells = [format(v, ".17g") for v in row]
        writer.writerow(([str(names[k])] if names is not None else []) + cells)
