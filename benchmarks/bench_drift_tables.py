"""The drift guide's measured tables: power, effect and calibration (issue 20).

Three tables, each written as reStructuredText that docs/user_guide/drift.rst
includes (``--write``), with a header line naming the command, the date, the
BLAS kernel (threadpoolctl) and the machine's load:

``power``
    Known drifts on bundled tables (breast cancer halves with 'mean radius'
    x1.1 and 'worst texture' +2, a 0.25 sd shift of every feature, a wine
    feature x1.1, digits images moved one pixel right) and a Gaussian
    2000 + 2000 table where every engine can answer: rejection rate at
    alpha = 0.05 over random half splits for ``method='auto'`` and each
    explicit engine, the engine that answered, the median time of ``test()``.
    Also writes ``effect``: the same runs' effect (nats), its null sd, the
    effect in null sds, and the largest difference between the engines'
    effects on one split (in null sds), with the no-drift splits.
``calibration``
    False-positive rates under no drift at alpha = 0.05 and 0.01, per engine,
    with their binomial standard errors, on random halves of digits (sparse
    pixels), breast cancer, wine and diabetes, on lognormal and Poisson
    samples, at d > n (Ledoit-Wolf shrinkage) and, for the asymptotic engine,
    on large Poisson samples.

Everything runs on one BLAS thread (the machine is shared; the timings are
for comparing engines within one run). Run
``python benchmarks/bench_drift_tables.py {power,calibration} [--write]``;
each takes a few minutes (``--splits`` / ``--reps`` trade time for SE).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import blas_kernel, load_average
from bench_drift_effect import TABLES, _halves, bc_recalibrated, rescale_one
from scipy import stats
from threadpoolctl import threadpool_limits

from skkl import GaussianDriftDetector

ENGINES = ("auto", "permutation", "gram", "asymptotic")
OUT = Path(__file__).resolve().parent
ALPHA = 0.05
LEVELS = (0.05, 0.01)


# -- tables in reStructuredText ----------------------------------------------------


def rst_table(header, rows):
    """A simple reStructuredText table (every cell non-empty)."""
    cells = [list(map(str, header)), *[list(map(str, r)) for r in rows]]
    widths = [max(len(r[j]) for r in cells) for j in range(len(header))]
    rule = "  ".join("=" * w for w in widths)

    def line(r):
        return "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()

    return "\n".join([rule, line(cells[0]), rule, *map(line, cells[1:]), rule])


def provenance(seconds):
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = "python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
    return (
        f"Measured by ``{command}`` on {stamp} in {seconds:.0f} s; "
        f"BLAS {blas_kernel()}; load average {load_average()} on 2 shared cores."
    )


def emit(name, text, write):
    print(text, "\n", flush=True)
    if write:
        (OUT / f"drift_{name}.rst").write_text(text + "\n")


# -- power and effect ----------------------------------------------------------------


def _shift_all(X, size):
    sd = X.std(axis=0)
    return lambda A, B: (A, B + size * sd)


def _digits_moved(A, B):
    """The second half's images moved one pixel right (a column of zeros enters)."""
    img = B.reshape(-1, 8, 8)
    moved = np.zeros_like(img)
    moved[:, :, 1:] = img[:, :, :-1]
    return A, moved.reshape(len(B), 64)


def _gauss(rng):
    # Light tails and n >> p: the asymptotic engine's own regime.
    return rng.standard_normal((4000, 5))


def _gauss_scaled(A, B):
    return A, B * np.r_[1.05, np.ones(4)]


def power_cases(rng):
    """(label, table, change or None) for each row of the power/effect tables."""
    none = None
    bc, radius, recal = bc_recalibrated()
    wine, digits = TABLES["wine"](rng), TABLES["digits"](rng)
    j, wine_one = rescale_one(wine)
    return [
        ("breast cancer, no drift", bc, none),
        ("breast cancer, mean radius x1.1", bc, radius),
        ("breast cancer, mean radius x1.1 + worst texture +2", bc, recal),
        ("breast cancer, every feature +0.1 sd", bc, _shift_all(bc, 0.1)),
        ("wine, no drift", wine, none),
        (f"wine, feature {j} x1.1", wine, wine_one),
        ("wine, every feature +0.25 sd", wine, _shift_all(wine, 0.25)),
        ("digits, no drift", digits, none),
        ("digits, images moved one pixel right", digits, _digits_moved),
        ("digits, every pixel +0.25 sd", digits, _shift_all(digits, 0.25)),
        ("Gaussian 2000+2000 d=5, no drift", _gauss(rng), none),
        ("Gaussian 2000+2000 d=5, feature 0 x1.05", _gauss(rng), _gauss_scaled),
    ]


def run_case(X, change, splits, B_perm, rng):
    """Every engine on the same splits: p, effect, null sd, engine, time."""
    out = {m: [] for m in ENGINES}
    for r in range(splits):
        A, B = _halves(X, rng)
        if change is not None:
            A, B = change(A, B)
        for m in ENGINES:
            det = GaussianDriftDetector(method=m, n_permutations=B_perm, random_state=r)
            t0 = time.perf_counter()
            res = det.fit(A).test(B)
            dt = time.perf_counter() - t0
            out[m].append((res.p_value, res.effect, res.effect_null_sd, res.method, dt))
    return out


def _answered(records):
    names = sorted({rec[3] for rec in records})
    return ", ".join(names)


def power_and_effect(splits, B_perm, write):
    t0 = time.perf_counter()
    rng = np.random.default_rng(20)
    power_rows, effect_rows = [], []
    large, large_rejected = 0, 0  # splits whose effect exceeds 10 null sds
    for label, X, change in power_cases(rng):
        out = run_case(X, change, splits, B_perm, rng)
        cells = []
        for m in ENGINES:
            recs = out[m]
            rate = np.mean([rec[0] < ALPHA for rec in recs])
            ms = 1e3 * np.median([rec[4] for rec in recs])
            cells.append(f"{rate:.2f} ({_answered(recs)}, {ms:.0f} ms)")
        power_rows.append([label, *cells])
        eff = np.array([[rec[1] for rec in out[m]] for m in ENGINES])
        null = np.array([[rec[2] for rec in out[m]] for m in ENGINES])
        z_auto = eff[0] / null[0]
        z = np.median(z_auto)
        large += np.sum(z_auto > 10)
        large_rejected += sum(
            rec[0] < ALPHA
            for rec, zi in zip(out["auto"], z_auto, strict=True)
            if zi > 10
        )
        spread = np.max(np.abs(eff - eff[1]) / null[1])
        effect_rows.append(
            [
                label,
                f"{np.median(eff[0]):.3g}",
                f"{np.median(null[0]):.3g}",
                f"{z:+.1f}",
                f"{spread:.2f}",
            ]
        )
        print(power_rows[-1], effect_rows[-1], flush=True)
    seconds = time.perf_counter() - t0
    note = (
        f"{splits} random half splits per row, B = {B_perm} permutations, "
        f"alpha = {ALPHA}; the binomial SE of a rate near 0.5 is "
        f"{np.sqrt(0.25 / splits):.2f}."
    )
    head = ["case", *(f"method='{m}'" for m in ENGINES)]
    emit(
        "power",
        f"{provenance(seconds)} {note} Each cell: rejection rate (engine that "
        "answered, median time of ``fit`` + ``test``).\n\n"
        + rst_table(head, power_rows),
        write,
    )
    head = [
        "case",
        "median effect (nats)",
        "median null sd",
        "median effect / null sd",
        "largest engine difference (null sds)",
    ]
    emit(
        "effect",
        f"{provenance(seconds)} {note} Effects of ``method='auto'``; the last "
        "column is the largest difference, over the splits, between any "
        "engine's effect and the moment engine's on the same split. In "
        f"{large} splits the effect exceeded 10 null sds; ``method='auto'`` "
        f"rejected {large_rejected} of them.\n\n" + rst_table(head, effect_rows),
        write,
    )


# -- calibration ---------------------------------------------------------------------


def _halves_of(name, rows=None):
    X = TABLES[name](None)

    def pair(rng):
        Z = X if rows is None else X[rng.choice(len(X), rows, replace=False)]
        return _halves(Z, rng)

    return pair


def _fresh(draw):
    return lambda rng: (draw(rng), draw(rng))


CALIBRATION = [
    # label, pair maker, engines, detector parameters
    ("digits halves (898+899, d=64)", _halves_of("digits"), ("auto", "gram"), {}),
    (
        "breast cancer halves (284+285, d=30)",
        _halves_of("breast cancer"),
        ("auto", "gram"),
        {},
    ),
    ("wine halves (89+89, d=13)", _halves_of("wine"), ("auto", "gram"), {}),
    ("diabetes halves (221+221, d=10)", _halves_of("diabetes"), ("auto", "gram"), {}),
    (
        "lognormal sigma=2 (100+100, d=5)",
        _fresh(lambda rng: rng.lognormal(sigma=2.0, size=(100, 5))),
        ("auto", "gram"),
        {},
    ),
    (
        "Poisson(1.5) counts (100+100, d=5)",
        _fresh(lambda rng: rng.poisson(1.5, size=(100, 5)).astype(float)),
        ("auto", "gram"),
        {},
    ),
    (
        "t(5), d > n (100+100, d=500), Ledoit-Wolf",
        _fresh(lambda rng: rng.standard_t(5, size=(100, 500))),
        ("auto",),
        {"shrinkage": "ledoit_wolf"},
    ),
    (
        "Poisson(3) counts (5000+5000, d=3)",
        _fresh(lambda rng: rng.poisson(3.0, size=(5000, 3)).astype(float)),
        ("auto", "asymptotic"),
        {},
    ),
]


def _rate(count, reps, level):
    # The SE at the nominal level: what a calibrated rate's spread would be
    # (the SE at the observed rate is 0 when nothing is rejected).
    return f"{count / reps:.3f} ± {np.sqrt(level * (1 - level) / reps):.3f}"


def calibration(reps, B_perm, write):
    t0 = time.perf_counter()
    rows = []
    for k, (label, pair, engines, params) in enumerate(CALIBRATION):
        pairs = [pair(np.random.default_rng([k, r])) for r in range(reps)]
        for m in engines:
            det = GaussianDriftDetector(method=m, n_permutations=B_perm, **params)
            p, answered = [], set()
            for r, (X, Y) in enumerate(pairs):
                res = det.set_params(random_state=r).fit(X).test(Y)
                p.append(res.p_value)
                answered.add(res.method)
            p = np.array(p)
            name = m if answered == {m} else f"{m}: {', '.join(sorted(answered))}"
            rates = [_rate(np.sum(p < level), reps, level) for level in LEVELS]
            rows.append([label, name, reps, *rates])
            print(rows[-1], flush=True)
    seconds = time.perf_counter() - t0
    bands = ", ".join(
        "[{:.3f}, {:.3f}] at {}".format(*_band(reps, level), level) for level in LEVELS
    )
    note = (
        f"B = {B_perm} permutations, the same {reps} no-drift pairs for every "
        "engine of a row; each rate is ± its binomial standard error at the "
        f"nominal level; the central 95% binomial bands are {bands}."
    )
    head = ["data (no drift)", "method (engine)", "repetitions"]
    head += [f"rate at {level}" for level in LEVELS]
    emit(
        "calibration",
        f"{provenance(seconds)} {note}\n\n" + rst_table(head, rows),
        write,
    )


def _band(reps, level):
    lo, hi = stats.binom.interval(0.95, reps, level)
    return lo / reps, hi / reps


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("table", choices=("power", "calibration"))
    parser.add_argument("--splits", type=int, default=30, help="power: splits per row")
    parser.add_argument(
        "--reps", type=int, default=200, help="calibration: repetitions"
    )
    parser.add_argument("--permutations", type=int, default=200)
    parser.add_argument(
        "--write", action="store_true", help="write benchmarks/drift_*.rst"
    )
    args = parser.parse_args()
    with threadpool_limits(1), warnings.catch_warnings():
        # Dropped constant pixels and the asymptotic engine's declines are
        # reported in the tables (the engine that answered), not warned.
        warnings.simplefilter("ignore", UserWarning)
        if args.table == "power":
            power_and_effect(args.splits, args.permutations, args.write)
        else:
            calibration(args.reps, args.permutations, args.write)


if __name__ == "__main__":
    main()
