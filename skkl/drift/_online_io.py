"""A fitted :class:`~skkl.drift.GaussianDriftMonitor` as a portable file.

One ``.npz`` (numpy's zip of ``.npy`` arrays, read with ``allow_pickle=False``)
holds the reference's summary, the calibration, the stream's buffers and a
JSON document (``meta``) with the parameters, the format version and the
feature names. Nothing in it is pickled, so a file from an untrusted source
can be read safely, and by any language that reads ``.npy``.

A monitor fitted on a table also stores its encoding (``meta['encoding']``,
version 2): per column its kind, fill value and indicators, and its levels
as tagged JSON values (``{"str": "a"}``, ``{"int": 3}``, ``{"float": 1.5}``,
``{"bool": true}``, ``{"missing": true}``), so that a level keeps its type
(the text '3' and the number 3 stay different levels). A level of another
type (a date, say) cannot be saved: the error says so.
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np

from .._errors import InputError
from ._encode import MISSING, ColumnCode, TableEncoding
from ._online_calibration import Calibration
from ._online_reference import Reference
from ._online_statistic import Stream, indicator_mask, make_layout

__all__ = ["FORMAT", "load_monitor", "save_monitor"]

#: Name and version of the file format, stored in ``meta``.
FORMAT = "skkl.GaussianDriftMonitor"
VERSION = 2
# Files without a table encoding keep version 1, which older skkl reads.
_NUMERIC_VERSION = 1
_REFERENCE = [f.name for f in fields(Reference)]
_STREAM_ARRAYS = ("_P", "_Z", "_BP")
_STREAM_INTS = ("t", "row0", "blk0")


def save_monitor(monitor, path) -> None:
    """Write ``monitor`` (fitted) to ``path`` (``.npz`` is appended if missing)."""
    ref = monitor.reference_
    st = monitor._stream
    names = getattr(monitor, "feature_names_in_", None)
    meta = {
        "format": FORMAT,
        "version": VERSION if monitor.encoding_ is not None else _NUMERIC_VERSION,
        "encoding": _encoding_json(monitor.encoding_),
        "params": monitor.get_params(),
        "feature_names": None if names is None else [str(v) for v in names],
        "n_features": int(monitor.n_features_in_),
        "window": int(monitor.window_),
        "block": int(st.layout.block),
        "calibration": asdict(monitor.calibration_),
        "counters": {
            "n_rows": int(monitor.n_rows_),
            "n_alarms": int(monitor.n_alarms_),
            "run_start": int(monitor._run_start),
            **{k: int(getattr(st, k)) for k in _STREAM_INTS},
        },
    }
    rs = meta["params"]["random_state"]
    if rs is not None and not isinstance(rs, (int, np.integer)):
        meta["params"]["random_state"] = None  # a generator is not portable
    arrays = {f"reference_{k}": np.asarray(getattr(ref, k)) for k in _REFERENCE}
    arrays.update({f"stream{k}": getattr(st, k) for k in _STREAM_ARRAYS})
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(path, **arrays)


def _read(path) -> dict:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"{path}: no such file.")
    try:
        with np.load(p, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise InputError(
            "{argument} is not a monitor file written by GaussianDriftMonitor.save "
            "({why}).",
            argument=str(path),
            file=str(path),
            why=exc,
        ) from None
    if "meta" not in arrays:
        raise InputError(
            "{argument} is an .npz file but not a monitor file (it has no 'meta' "
            "entry); write one with GaussianDriftMonitor.save.",
            argument=str(path),
            file=str(path),
        )
    meta = json.loads(str(arrays.pop("meta")))
    if meta.get("format") != FORMAT or meta.get("version", 0) > VERSION:
        raise InputError(
            "{argument} holds {fmt!r} version {version}; this skkl reads {want!r} "
            "up to version {top}: upgrade skkl.",
            argument=str(path),
            file=str(path),
            fmt=meta.get("format"),
            version=meta.get("version"),
            want=FORMAT,
            top=VERSION,
        )
    arrays["meta"] = meta
    return arrays


def load_monitor(cls, path):
    """The monitor stored at ``path`` (see :func:`save_monitor`)."""
    data = _read(path)
    meta = data["meta"]
    monitor = cls(**meta["params"])
    ref_fields = {k: data[f"reference_{k}"] for k in _REFERENCE}
    ref_fields["n"] = int(ref_fields["n"])
    for k in ("shrinkage", "radius", "scale_var"):
        ref_fields[k] = float(ref_fields[k])
    monitor.reference_ = Reference(**ref_fields)
    monitor.encoding_ = _encoding_from_json(meta.get("encoding"), path)
    monitor.n_features_in_ = int(meta["n_features"])
    d = monitor.reference_.n_features
    if meta["feature_names"] is not None:
        monitor.feature_names_in_ = np.array(meta["feature_names"], dtype=object)
    monitor.n_ref_ = monitor.reference_.n
    monitor.window_ = int(meta["window"])
    monitor.calibration_ = Calibration(**meta["calibration"])
    monitor.threshold_ = monitor.calibration_.threshold
    layout = make_layout(
        d,
        monitor.n_ref_,
        monitor.window_,
        meta["block"],
        table=monitor.encoding_ is not None,
        indicators=indicator_mask(monitor.encoding_),
    )
    st = Stream(layout)
    st.use_tail_factors(*monitor.reference_.tail_factors())
    for k in _STREAM_ARRAYS:
        saved = data[f"stream{k}"]
        getattr(st, k)[...] = saved if saved.shape == getattr(st, k).shape else 0.0
    counters = meta["counters"]
    for k in _STREAM_INTS:
        setattr(st, k, counters[k])
    monitor._stream = st
    monitor.n_rows_ = counters["n_rows"]
    monitor.n_alarms_ = counters["n_alarms"]
    monitor._run_start = counters["run_start"]
    return monitor


# -- a table's encoding as JSON --------------------------------------------------

_CODE_SCALARS = ("name", "kind", "value", "fill", "indicator", "other")


def _level_json(level):
    if level is MISSING:
        return {"missing": True}
    if isinstance(level, (bool, np.bool_)):
        return {"bool": bool(level)}
    if isinstance(level, (int, np.integer)):
        return {"int": int(level)}
    if isinstance(level, (float, np.floating)):
        return {"float": float(level)}
    if isinstance(level, str):
        return {"str": level}
    raise InputError(
        "{argument} cannot be saved: a categorical level {level!r} is a "
        "{type}; only text, numbers, booleans and missing cells can be stored "
        "(convert the column to text before fitting).",
        argument="monitor",
        level=level,
        type=type(level).__name__,
    )


def _level_from_json(item):
    ((tag, value),) = item.items()
    if tag == "missing":
        return MISSING
    return {"bool": bool, "int": int, "float": float, "str": str}[tag](value)


def _encoding_json(encoding):
    if encoding is None:
        return None
    columns = []
    for code in encoding.columns:
        entry = {k: getattr(code, k) for k in _CODE_SCALARS}
        entry["fill"] = float(code.fill)
        entry["levels"] = [_level_json(v) for v in code.levels]
        entry["pooled"] = [_level_json(v) for v in code.pooled]
        entry["baseline"] = (
            None if code.baseline is None else _level_json(code.baseline)
        )
        columns.append(entry)
    return {
        "columns": columns,
        "schema": [[kind, bool(boolean)] for kind, boolean in encoding.schema],
        "basis": encoding.basis,
        "threshold": float(encoding.threshold),
        "named": bool(encoding.named),
    }


def _encoding_from_json(doc, path):
    if doc is None:
        return None
    try:
        codes = tuple(
            ColumnCode(
                **{k: c[k] for k in _CODE_SCALARS},
                levels=tuple(map(_level_from_json, c["levels"])),
                pooled=tuple(map(_level_from_json, c["pooled"])),
                baseline=None
                if c["baseline"] is None
                else _level_from_json(c["baseline"]),
            )
            for c in doc["columns"]
        )
        schema = tuple((kind, bool(boolean)) for kind, boolean in doc["schema"])
        return TableEncoding(
            codes, schema, doc["basis"], float(doc["threshold"]), doc["named"]
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise InputError(
            "{argument} has a damaged table encoding ({why}); save the monitor again.",
            argument=str(path),
            file=str(path),
            why=exc,
        ) from None
