"""Benchmark GroupGaussians.fit against one X.T @ X, and .transform against QDA.

Fit: n samples, d features, K classes (default 10^6 x 32, 10 classes), timed
as a user calls it, from raw arrays (validation, label encoding, moments,
factorisation and ``shrinkage='auto'`` included), alternated run by run with

* **the floor**: one ``X.T @ X`` on the same X (numpy, same BLAS threads):
  every class scatter together is one Gram matrix of that size (issue-25
  target: fit <= 2x the floor);
* ``QuadraticDiscriminantAnalysis().fit`` (per-class SVD) and
  ``GaussianMixture(K, max_iter=1).fit`` (k-means init + one EM step).

Reported: min and median of ``--repeats`` alternated runs, with the default
BLAS threads and with ``threadpool_limits(1)`` on both sides; ``n_jobs``;
Fortran-ordered X, sample weights, 'diag', Ledoit-Wolf, ``partial_fit``; the
ratio at several sizes; the peak memory fit allocates (tracemalloc) at two
sizes, which must not grow with n. ``--write`` puts the table in
``benchmarks/bench_fit.rst`` (included by docs/benchmarks.rst).

Transform: throughput of ``GroupGaussians.transform`` (log-likelihood and
posterior) against ``QuadraticDiscriminantAnalysis.predict_log_proba``.

Usage::

    python benchmarks/bench_fit.py            # full size, about a minute
    python benchmarks/bench_fit.py --quick    # 10^5 samples, seconds
    python benchmarks/bench_fit.py --write    # regenerate bench_fit.rst
"""

from __future__ import annotations

import argparse
import datetime
import os
import sys
import time
import tracemalloc
import warnings
from pathlib import Path

import numpy as np
from _common import blas_kernel, load_average
from sklearn.discriminant_analysis import QuadraticDiscriminantAnalysis
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from skkl import GroupGaussians

TARGET = 2.0
OUT = Path(__file__).with_name("bench_fit.rst")


CLOCK = time.perf_counter


def _seconds(func) -> float:
    t0 = CLOCK()
    func()
    return CLOCK() - t0


def alternate(floor, func, repeats: int):
    """(floor times, func times), run one after the other ``repeats`` times.

    ``floor`` may be a tuple of equivalent floors: each round keeps the fastest.
    """
    floors = floor if isinstance(floor, tuple) else (floor,)
    a, b = [], []
    for _ in range(repeats):
        a.append(min(_seconds(f) for f in floors))
        b.append(_seconds(func))
    return np.array(a), np.array(b)


def gram_floor(X):
    """One ``X.T @ X`` with the BLAS threads in force, and with one thread:
    on a shared machine OpenBLAS threads can be slower than one, so the
    floor is the faster of the two (as for the pairwise floor)."""

    def gram():
        return X.T @ X

    def gram_one_thread():
        with threadpool_limits(1):
            return X.T @ X

    return gram, gram_one_thread


def data(n: int, d: int, K: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, K, size=n)
    X = rng.standard_normal((n, d)) + 3.0 * rng.standard_normal((K, d))[y]
    return X, y


def fit_cases(X, y, K):
    """(name, floor, fit, threads) of every fit case: threads None = default."""
    gram = gram_floor(X)
    XF = np.asfortranarray(X)
    w = np.random.default_rng(1).uniform(0.5, 2.0, size=len(y))

    def stream():
        gg = GroupGaussians()
        for chunk in np.array_split(np.arange(len(y)), 10):
            gg.partial_fit(X[chunk], y[chunk], classes=np.arange(K))

    return [
        ("GroupGaussians().fit(X, y)", gram, lambda: GroupGaussians().fit(X, y), None),
        ("same, one thread", gram, lambda: GroupGaussians().fit(X, y), 1),
        ("same, one thread, CPU time", gram, lambda: GroupGaussians().fit(X, y), 0),
        ("n_jobs=1", gram, lambda: GroupGaussians(n_jobs=1).fit(X, y), None),
        ("n_jobs=-1", gram, lambda: GroupGaussians(n_jobs=-1).fit(X, y), None),
        ("Fortran-ordered X", gram, lambda: GroupGaussians().fit(XF, y), None),
        ("sample_weight", gram, lambda: GroupGaussians().fit(X, y, w), None),
        ("'diag'", gram, lambda: GroupGaussians("diag").fit(X, y), None),
        (
            "shrinkage='ledoit_wolf'",
            gram,
            lambda: GroupGaussians(shrinkage="ledoit_wolf").fit(X, y),
            None,
        ),
        ("partial_fit x 10 batches", gram, stream, None),
    ]


def timed(floor, func, threads, repeats):
    """Times with the BLAS threads in force (None), one thread (1), or one
    thread on the process CPU clock (0: what a loaded machine's queue does
    not inflate)."""
    global CLOCK
    if threads is None:
        return alternate(floor, func, repeats)
    CLOCK = time.process_time if threads == 0 else time.perf_counter
    try:
        with threadpool_limits(1):
            return alternate(floor, func, repeats)
    finally:
        CLOCK = time.perf_counter


def row(name, a, b, target=None):
    r_min, r_med = b.min() / a.min(), np.median(b) / np.median(a)
    met = "" if target is None else ("yes" if r_min <= target else "no")
    return (
        name,
        f"{a.min():.4f} / {np.median(a):.4f}",
        f"{b.min():.4f} / {np.median(b):.4f}",
        f"{r_min:.2f} / {r_med:.2f}",
        "" if target is None else f"<= {target:g}",
        met,
    )


def sizes_rows(d, K, n_max, repeats):
    out = []
    for n in sorted({1000, 10_000, 100_000, n_max}):
        if n > n_max:
            continue
        X, y = data(n, d, K, seed=n)
        a, b = alternate(
            gram_floor(X), lambda X=X, y=y: GroupGaussians().fit(X, y), repeats
        )
        out.append(row(f"n={n:,}", a, b))
    return out


def peak_mib(n, d, K) -> float:
    X, y = data(n, d, K)
    GroupGaussians().fit(X, y)
    tracemalloc.start()
    GroupGaussians().fit(X, y)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def peers(X, y, K, repeats, skip_gmm):
    gram = gram_floor(X)

    qda = QuadraticDiscriminantAnalysis()
    out = [row("QDA().fit", *alternate(gram, lambda: qda.fit(X, y), repeats))]
    if not skip_gmm:
        gmm = GaussianMixture(K, max_iter=1, random_state=0)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            times = alternate(gram, lambda: gmm.fit(X), 1)
        out.append(row(f"GMM({K}, max_iter=1).fit", *times))
    return out


def transform_rows(X, y, n_t, repeats):
    Xt = X[:n_t]
    gg = GroupGaussians().fit(X, y)
    gp = GroupGaussians(transform_kind="proba").fit(X, y)
    qda = QuadraticDiscriminantAnalysis().fit(X, y)

    def q():
        return qda.predict_log_proba(Xt)

    return [
        row(
            "transform (log_likelihood) vs QDA.predict_log_proba",
            *alternate(q, lambda: gg.transform(Xt), repeats),
        ),
        row(
            "transform (proba) vs QDA.predict_log_proba",
            *alternate(q, lambda: gp.transform(Xt), repeats),
        ),
    ]


def table(rows, header) -> str:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    rule = "  ".join("=" * w for w in widths)

    def fmt(r):
        return "  ".join(
            str(c).ljust(w) for c, w in zip(r, widths, strict=True)
        ).rstrip()

    return "\n".join([rule, fmt(header), rule, *map(fmt, rows), rule])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10^5 samples")
    parser.add_argument("--n", type=int, default=None, help="number of samples")
    parser.add_argument("--d", type=int, default=32, help="number of features")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--n-transform", type=int, default=200_000)
    parser.add_argument("--skip-gmm", action="store_true", help="skip GaussianMixture")
    parser.add_argument("--write", action="store_true", help=f"write {OUT.name}")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    n = args.n or (100_000 if args.quick else 1_000_000)
    d, K, r = args.d, args.classes, args.repeats
    load_before = load_average()
    X, y = data(n, d, K)
    rows = [
        row(name, *timed(f0, f1, th, r), TARGET if i < 3 else None)
        for i, (name, f0, f1, th) in enumerate(fit_cases(X, y, K))
    ]
    rows += sizes_rows(d, K, n, r)
    rows += peers(X, y, K, r, args.skip_gmm)
    rows += transform_rows(X, y, min(args.n_transform, n), r)
    small, big = max(n // 10, 1000), n
    peaks = (peak_mib(small, d, K), peak_mib(big, d, K))
    header = (
        "case",
        "floor (s) min / med",
        "skkl (s) min / med",
        "ratio min / med",
        "target",
        "met?",
    )
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    command = " ".join(["python benchmarks/bench_fit.py", *sys.argv[1:]])
    intro = (
        f"Measured by ``{command}`` "
        f"on {stamp} in {time.perf_counter() - start:.0f} s; BLAS {blas_kernel()}; "
        f"load average {load_before} before and {load_average()} after, on "
        f"{os.cpu_count()} shared cores. n = {n:,}, d = {d}, {K} classes, float64; "
        f"min / median of {r} alternated runs. The floor is one ``X.T @ X`` on the "
        "same X, the faster of the BLAS threads in force and one thread (rows "
        "'one thread' run both sides under ``threadpool_limits(1)``); for "
        "``transform`` the first column is QDA ``predict_log_proba``. "
        f"Peak memory fit allocates (tracemalloc): {peaks[0]:.1f} MiB at "
        f"n = {small:,}, {peaks[1]:.1f} MiB at n = {big:,}."
    )
    text = intro + "\n\n" + table(rows, header) + "\n"
    print(text)
    if args.write:
        OUT.write_text(text)
        print(f"wrote {OUT}")


if __name__ == "__main__":
    main()
