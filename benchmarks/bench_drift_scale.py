"""Drift at embedding scale: skkl's Gram engine vs alibi-detect, side by side.

Engines, all measured in one run on the same data:

* ``skkl gram``: :func:`skkl.drift._gram.gram_parts` through a small
  permutation-test wrapper (pooled standardisation, constant columns
  dropped, ``B`` random splits, Tippett over the three parts with a Fisher
  tie-break: an exact permutation p-value);
* ``skkl gram+features``: the same with two per-feature parts added (the
  largest squared mean difference and the largest absolute log variance
  ratio over the features), as the detector combines the Gram parts with its
  per-feature statistics;
* ``skkl detector``: ``GaussianDriftDetector(method='gram')``, when the
  installed skkl has that method;
* ``alibi MMDDrift`` and ``alibi LSDDDrift`` (pytorch backend, CPU, 100
  permutations, their defaults) when alibi-detect is importable. Without it,
  ``torch MMD`` is an in-benchmark permutation MMD written in torch the way
  alibi-detect's pytorch ``MMDDrift`` does it (RBF kernel, median heuristic
  on the reference, unbiased MMD^2 from the zero-diagonal kernel matrix,
  one re-indexing of the kernel matrix per permutation), and LSDD is not run.

Timing and memory: every (engine, cell) is timed in a fresh subprocess
(``--child``); peak memory is the peak resident set size during the test
minus the resident size just before it (``/proc/self/clear_refs`` resets the
peak), so imports and the input data are not counted. Time per permutation is
time per test / B (fixed costs included).

Power over ``--trials`` trials per cell and shift (x ~ N(0, I_d), the new
sample y ~ N(0, I_d) then shifted): mean +0.05 sd on every feature; scale
x1.05 on every feature; +0.2 sd on feature 0; correlation 0.5 between
features 0 and 1; no change (the false-positive rate). The MMD power column
uses alibi's statistic and p-value rule (``mean(mmd2 <= mmd2_perm)``, 100
permutations) computed for all permutations at once with one matrix product
over the same RBF kernel matrix (``MMD (vectorised)``): alibi's own
``MMDDrift`` takes tens of seconds per test on a shared CPU, too slow for
5 x 30 trials per cell. When alibi-detect is importable, its ``distance`` on
the first data set of each cell is printed next to ours as a check that the
statistic is the same. LSDD power uses alibi's ``LSDDDrift`` itself.

Run ``python benchmarks/bench_drift_scale.py [--quick] [--trials 30]``;
``--cost`` prints only the cost table of issue 20 (d=768, n=1000+1000,
B=10/100/1000): the default test against the products the Gram engine cannot
avoid (``floor``) and against alibi-detect's MMDDrift.
``--quick``: d in {32, 256}, n = 1000 per side. Default grid: d in {32, 256,
768} x n in {1000, 10000} per side; the n = 10000 cells use ``--big-trials``
trials (default 10) and ``--big-perms`` permutations (default 199) for skkl,
skip the MMD rows (alibi's MMDDrift and the vectorised MMD need the
20000 x 20000 kernel matrix: > 3 GB, and minutes per test) and time LSDD
without measuring its power (``--big-peer-power`` measures it). ``--cells
768x1000`` runs chosen cells only. Other helpers may share the CPU: compare
ratios measured side by side, not absolute times.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import warnings

import numpy as np
from _common import blas_kernel

ALPHA = 0.05
SHIFTS = (
    "mean 0.05 sd",
    "scale x1.05",
    "one feature 0.2 sd",
    "corr 0.5 one pair",
    "none",
)
PEER_PERMS = 100

# -- data ---------------------------------------------------------------------


def make_data(rng, n, d, shift):
    X = rng.standard_normal((n, d))
    Y = rng.standard_normal((n, d))
    if shift == "mean 0.05 sd":
        Y += 0.05
    elif shift == "scale x1.05":
        Y *= 1.05
    elif shift == "one feature 0.2 sd":
        Y[:, 0] += 0.2
    elif shift == "corr 0.5 one pair":
        Y[:, 1] = 0.5 * Y[:, 0] + np.sqrt(1 - 0.25) * Y[:, 1]
    elif shift != "none":
        raise ValueError(shift)
    return X, Y


def memberships(rng, B, N, n1):
    """B uniformly random n1-subsets of N rows: the n1 smallest of N uniforms."""
    U = rng.random((B, N))
    kth = np.partition(U, n1 - 1, axis=1)[:, n1 - 1 : n1]
    return U <= kth


# -- skkl -----------------------------------------------------------------------


def tippett_p_value(observed, null):
    """Exact permutation p-value of Tippett's min-p over the parts."""
    from skkl.drift._combine import partial_log_p_values

    values = np.vstack([observed, null])
    R = values.shape[0]
    logp = partial_log_p_values(values)
    score = -logp.min(axis=1) - 1e-6 * logp.sum(axis=1)
    return np.count_nonzero(score >= score[0]) / R


def skkl_gram_test(X, Y, B, seed, features=False):
    """Permutation test on the Gram parts (and per-feature parts if asked).

    ``features=True`` adds two parts the detector is meant to add from its
    own per-feature statistics: the largest squared mean difference and the
    largest absolute log variance ratio over the features, for every split
    from one (B x N)(N x 2d) product of the memberships with ``[Z, Z^2]``.
    """
    from skkl.drift._gram import gram_parts

    rng = np.random.default_rng(seed)
    P = np.vstack([X, Y])
    sd = P.std(axis=0)
    keep = sd > 0
    Z = (P[:, keep] - P[:, keep].mean(axis=0)) / sd[keep]
    n1, N = X.shape[0], Z.shape[0]
    A = memberships(rng, B, N, n1)
    observed, null = gram_parts(Z, n1, A)
    parts = np.vstack([observed, null])
    if features:
        F = np.hstack([Z, Z * Z])
        M = np.vstack([np.arange(N) < n1, A]).astype(np.float64)
        S1 = M @ F
        S2 = F.sum(axis=0) - S1
        d = Z.shape[1]
        m1, m2 = S1[:, :d] / n1, S2[:, :d] / (N - n1)
        v1 = S1[:, d:] / n1 - m1 * m1
        v2 = S2[:, d:] / (N - n1) - m2 * m2
        mean_max = np.max((m1 - m2) ** 2, axis=1)
        var_max = np.max(np.abs(np.log(v1 / v2)), axis=1)
        parts = np.column_stack([parts, mean_max, var_max])
    return tippett_p_value(parts[0], parts[1:])


def detector_available():
    try:
        from skkl import GaussianDriftDetector

        rng = np.random.default_rng(0)
        det = GaussianDriftDetector(method="gram", n_permutations=19, random_state=0)
        det.fit(rng.normal(size=(30, 40))).test(rng.normal(size=(30, 40)))
        return True
    except Exception:  # no method='gram' in this skkl yet
        return False


def skkl_detector_test(X, Y, B, seed):
    from skkl import GaussianDriftDetector

    det = GaussianDriftDetector(method="gram", n_permutations=B, random_state=seed)
    return det.fit(X).test(Y).p_value


def skkl_default_test(X, Y, B, seed):
    """What a user calls: the default method (with shrinkage, d ~ n)."""
    from skkl import GaussianDriftDetector

    # B < 20 cannot reach p < 0.05: test at the level it can reach.
    alpha = ALPHA if B >= 20 else 2.0 / (B + 1)
    det = GaussianDriftDetector(
        alpha=alpha, n_permutations=B, shrinkage="ledoit_wolf", random_state=seed
    )
    return det.fit(X).test(Y).p_value


def floor_products(X, Y, B, seed):
    """The products the Gram engine cannot avoid, as bare numpy calls.

    ``Z Z'`` (N x d x N) and the part products of B + 1 membership rows:
    ``(B+1 x N)(N x N)`` with ``K o K`` and, for d < N, ``(B+1 x N)(N x d)``
    for the mean part (else another with ``K``). The ratio of a test's time
    to these is the issue's "<= 2.5x the unavoidable products".
    """
    rng = np.random.default_rng(seed)
    Z = np.vstack([X, Y])
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    N, d = Z.shape
    U = (rng.random((B + 1, N)) < 0.5).astype(np.float64)
    K = Z @ Z.T
    H = K * K
    U @ H
    U @ Z if d < N else U @ K
    return 1.0


# -- MMD: alibi-detect's statistic ----------------------------------------------


def _sq_dists(A, B):
    d = (A * A).sum(1)[:, None] + (B * B).sum(1)[None, :] - 2.0 * A @ B.T
    return np.maximum(d, 0.0)


def rbf_kernel_median(X, Y):
    """alibi's GaussianRBF with sigma from the reference (median heuristic).

    ``sigma_median(x_ref, x_ref)``: the lower median of the off-diagonal
    squared distances ``D``, ``sigma = sqrt(D_med / 2)``; kernel
    ``exp(-D / (2 sigma^2))`` on the pooled sample.
    """
    n = X.shape[0]
    dxx = _sq_dists(X, X)
    flat = np.sort(dxx, axis=None)
    med = flat[n + (n * n - n) // 2 - 1]
    gamma = 1.0 / (2.0 * (0.5 * med))
    P = np.vstack([X, Y])
    return np.exp(-gamma * _sq_dists(P, P))


def mmd_vectorised_test(X, Y, B, seed):
    """alibi's MMDDrift p-value, all permutations from one matrix product."""
    rng = np.random.default_rng(seed)
    n, m = X.shape[0], Y.shape[0]
    N = n + m
    K = rbf_kernel_median(X, Y)
    np.fill_diagonal(K, 0.0)
    A = np.vstack(
        [np.r_[np.ones(n, bool), np.zeros(m, bool)], memberships(rng, B, N, n)]
    )
    U = A.astype(np.float64)
    q = np.einsum("ij,ij->i", U @ K, U)  # sum over pairs inside group x
    s = K.sum(axis=1)
    r = U @ s
    S = s.sum()
    # within y: S - 2 r + q; across: r - q
    mmd2 = q / (n * (n - 1)) + (S - 2 * r + q) / (m * (m - 1)) - 2 * (r - q) / (n * m)
    return float(np.mean(mmd2[0] <= mmd2[1:])), float(mmd2[0])


def torch_mmd_test(X, Y, B, seed):
    """Permutation MMD in torch, written the way alibi-detect's MMDDrift is."""
    import torch

    torch.manual_seed(seed)
    # float32, as alibi-detect users pass embeddings
    x, y = (
        torch.as_tensor(X, dtype=torch.float32),
        torch.as_tensor(Y, dtype=torch.float32),
    )
    dxx = torch.cdist(x, x).square()
    n = x.shape[0]
    med = dxx.flatten().sort().values[n + (n * n - n) // 2 - 1]
    gamma = 1.0 / (2.0 * (0.5 * med))
    p = torch.cat([x, y])
    K = torch.exp(-gamma * torch.cdist(p, p).square())
    K = K - torch.diag(K.diag())
    m = y.shape[0]

    def mmd2(Km):
        kxx, kyy, kxy = Km[:-m, :-m], Km[-m:, -m:], Km[-m:, :-m]
        return kxx.sum() / (n * (n - 1)) + kyy.sum() / (m * (m - 1)) - 2 * kxy.mean()

    obs = mmd2(K)
    perm = []
    for _ in range(B):
        idx = torch.randperm(K.shape[0])
        perm.append(mmd2(K[idx][:, idx]))
    return float((obs <= torch.stack(perm)).float().mean())


NUMBA_STUBBED = False


def import_alibi():
    """``alibi_detect.cd``; a stub ``numba`` if only numba is missing.

    alibi-detect 0.13 imports numba in ``alibi_detect.cd`` for its online CVM
    and FET detectors only (``@njit``); MMDDrift and LSDDDrift do not use it.
    Where numba is not installed (it lags new numpy releases), an identity
    ``njit`` lets those two detectors import, unchanged.
    """
    global NUMBA_STUBBED
    try:
        import alibi_detect.cd as cd
    except ModuleNotFoundError as exc:
        if exc.name != "numba":
            raise
        import types

        stub = types.ModuleType("numba")

        def njit(*args, **kwargs):
            if len(args) == 1 and callable(args[0]) and not kwargs:
                return args[0]
            return lambda f: f

        stub.njit, stub.prange = njit, range
        sys.modules["numba"] = stub
        for name in [m for m in sys.modules if m.startswith("alibi_detect")]:
            del sys.modules[name]
        import alibi_detect.cd as cd

        NUMBA_STUBBED = True
    return cd


def alibi_available():
    try:
        import_alibi()
        return True
    except Exception:
        return False


def alibi_test(kind, X, Y, B, seed):
    import torch

    cd = import_alibi()
    torch.manual_seed(seed)
    cls = cd.MMDDrift if kind == "mmd" else cd.LSDDDrift
    x, y = X.astype(np.float32), Y.astype(np.float32)
    det = cls(x, backend="pytorch", device="cpu", n_permutations=B, p_val=ALPHA)
    out = det.predict(y)["data"]
    return float(out["p_val"]), float(out["distance"])


# -- one timed test in a fresh process -------------------------------------------


ENGINES = {
    "skkl gram": lambda X, Y, B, s: skkl_gram_test(X, Y, B, s),
    "skkl gram+features": lambda X, Y, B, s: skkl_gram_test(X, Y, B, s, True),
    "skkl detector": lambda X, Y, B, s: skkl_detector_test(X, Y, B, s),
    "skkl default": lambda X, Y, B, s: skkl_default_test(X, Y, B, s),
    "floor (Z Z' + part products)": lambda X, Y, B, s: floor_products(X, Y, B, s),
    "alibi MMDDrift": lambda X, Y, B, s: alibi_test("mmd", X, Y, B, s)[0],
    "alibi LSDDDrift": lambda X, Y, B, s: alibi_test("lsdd", X, Y, B, s)[0],
    "torch MMD": lambda X, Y, B, s: torch_mmd_test(X, Y, B, s),
    "MMD (vectorised)": lambda X, Y, B, s: mmd_vectorised_test(X, Y, B, s)[0],
}


def _status_kb(key):
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key):
                return int(line.split()[1])
    raise KeyError(key)


def child(engine, d, n, B, repeats):
    warnings.filterwarnings("ignore")
    if engine.startswith("alibi") or engine == "torch MMD":
        import torch

        if engine.startswith("alibi"):
            import_alibi()
        torch.set_num_threads(torch.get_num_threads())
    else:
        import skkl.drift._gram  # noqa: F401
    rng = np.random.default_rng(123)
    X, Y = make_data(rng, n, d, "none")
    times, peaks = [], []
    for r in range(repeats):
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")  # reset the peak resident set size
        before = _status_kb("VmRSS:")
        t0 = time.perf_counter()
        ENGINES[engine](X, Y, B, r)
        times.append(time.perf_counter() - t0)
        peaks.append(_status_kb("VmHWM:") - before)
    print(json.dumps({"time": min(times), "peak_mb": max(peaks) / 1024}))


def timed(engine, d, n, B, repeats=2):
    cmd = [
        sys.executable,
        __file__,
        "--child",
        engine,
        str(d),
        str(n),
        str(B),
        str(repeats),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
    if out.returncode != 0:
        return {
            "error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"
        }
    return json.loads(out.stdout.strip().splitlines()[-1])


# -- power ------------------------------------------------------------------------


def power(engine, d, n, B, trials, seed=0):
    res = {}
    for k, shift in enumerate(SHIFTS):
        rng = np.random.default_rng([seed, d, n, k])
        hits = 0
        for t in range(trials):
            X, Y = make_data(rng, n, d, shift)
            hits += ENGINES[engine](X, Y, B, 1000 * k + t) < ALPHA
        res[shift] = hits / trials
    return res


def cost_table(d, n, Bs, have_alibi):
    """Issue 20's cost targets: the default test against the floor and alibi.

    ``test()`` from raw arrays (validation, effect and attribution included)
    at most 2.5x the products the Gram engine cannot avoid, and at least 3x
    (B=100) and 10x (B=1000) faster than alibi-detect's MMDDrift in total.
    """
    print(f"\n## Cost at d={d}, n={n}+{n}: skkl default vs its floor and alibi")
    print(
        "| B | skkl default (s) | floor (s) | skkl / floor | alibi MMDDrift (s) "
        "| alibi / skkl | skkl peak (MB) |"
    )
    print("|---|---|---|---|---|---|---|")
    floor_name = "floor (Z Z' + part products)"
    for B in Bs:
        ours = timed("skkl default", d, n, B)
        floor = timed(floor_name, d, n, B)
        peer = timed("alibi MMDDrift", d, n, B, repeats=1) if have_alibi else None
        t_peer = peer["time"] if peer and "time" in peer else float("nan")
        print(
            f"| {B} | {ours['time']:.3g} | {floor['time']:.3g} | "
            f"{ours['time'] / floor['time']:.2f} | {t_peer:.3g} | "
            f"{t_peer / ours['time']:.1f} | {ours['peak_mb']:.0f} |",
            flush=True,
        )


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--cost",
        action="store_true",
        help="only the cost table at d=768, n=1000+1000, B=10/100/1000",
    )
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--trials", type=int, default=30)
    ap.add_argument("--perms", type=int, default=1000, help="skkl permutations, n=1000")
    ap.add_argument("--big-trials", type=int, default=10)
    ap.add_argument("--big-perms", type=int, default=199)
    ap.add_argument(
        "--big-peer-power",
        action="store_true",
        help="also measure LSDD power in the n=10000 cells (slow)",
    )
    ap.add_argument("--cells", default=None, help="e.g. 768x1000,32x10000")
    ap.add_argument("--engines", default=None, help="comma-separated subset")
    ap.add_argument("--out", default=None, help="append the markdown table here")
    ap.add_argument("--child", nargs=5, metavar=("ENGINE", "D", "N", "B", "R"))
    args = ap.parse_args()
    if args.child:
        e, d, n, B, r = args.child
        return child(e, int(d), int(n), int(B), int(r))

    if args.cells:
        cells = [tuple(int(v) for v in c.split("x")) for c in args.cells.split(",")]
    elif args.quick:
        cells = [(32, 1000), (256, 1000)]
    else:
        cells = [(d, n) for n in (1000, 10000) for d in (32, 256, 768)]
    have_alibi, have_det = alibi_available(), detector_available()
    if args.cost:
        print(f"BLAS: {blas_kernel()}; load {os.getloadavg()[0]:.1f}")
        return cost_table(768, 1000, (10, 100, 1000), have_alibi)
    import torch

    lines = [
        f"BLAS: {blas_kernel()}; torch {torch.__version__} "
        f"({torch.get_num_threads()} threads); alibi-detect "
        + (
            __import__("alibi_detect").__version__
            + (" (numba stubbed: not installed)" if NUMBA_STUBBED else "")
            if have_alibi
            else "NOT importable"
        )
        + f"; GaussianDriftDetector(method='gram'): {'yes' if have_det else 'not yet'}",
        f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs",
        "",
        "| d | n/side | engine | B | time/test (s) | time/perm (ms) | peak (MB) | "
        + " | ".join(SHIFTS)
        + " | trials |",
        "|" + "---|" * (8 + len(SHIFTS)),
    ]
    print("\n".join(lines), flush=True)
    for d, n in cells:
        big = n >= 5000
        B = args.big_perms if big else args.perms
        trials = args.big_trials if big else args.trials
        engines = [("skkl gram", B, B, "skkl gram")]
        engines.append(("skkl gram+features", B, B, "skkl gram+features"))
        if have_det:
            engines.append(("skkl detector", B, B, "skkl detector"))
        if not big:
            if have_alibi:
                engines.append(
                    ("alibi MMDDrift", PEER_PERMS, PEER_PERMS, "MMD (vectorised)")
                )
            else:
                engines.append(
                    ("torch MMD", PEER_PERMS, PEER_PERMS, "MMD (vectorised)")
                )
        if have_alibi:
            engines.append(
                ("alibi LSDDDrift", PEER_PERMS, PEER_PERMS, "alibi LSDDDrift")
            )
        wanted = args.engines.split(",") if args.engines else None
        if have_alibi and not big and (wanted is None or "alibi MMDDrift" in wanted):
            rng = np.random.default_rng(1)
            X, Y = make_data(rng, n, d, "mean 0.05 sd")
            ours = mmd_vectorised_test(X, Y, 10, 0)[1]
            theirs = alibi_test("mmd", X, Y, 10, 0)[1]
            print(f"check d={d} n={n}: MMD^2 alibi {theirs:.6g}, vectorised {ours:.6g}")
        for name, B_time, B_pow, power_engine in engines:
            if args.engines and name not in args.engines.split(","):
                continue
            t = timed(
                name,
                d,
                n,
                B_time,
                repeats=1 if name.startswith(("alibi M", "torch")) else 2,
            )
            if big and name.startswith("alibi") and not args.big_peer_power:
                pw = dict.fromkeys(SHIFTS, np.nan)  # timing only
            else:
                pw = power(power_engine, d, n, B_pow, trials)
            if "error" in t:
                tcols = f"error: {t['error'][:60]} | - | - | "
            else:
                per_perm = 1e3 * t["time"] / B_time
                tcols = f"{t['time']:.3g} | {per_perm:.3g} | {t['peak_mb']:.0f} | "
            label = name if power_engine == name else f"{name} (power: {power_engine})"
            row = (
                f"| {d} | {n} | {label} | {B_time} | {tcols}"
                + " | ".join("-" if np.isnan(pw[s]) else f"{pw[s]:.2f}" for s in SHIFTS)
                + f" | {trials} |"
            )
            lines.append(row)
            print(row, flush=True)
    if args.out:
        with open(args.out, "a") as f:
            f.write("\n".join(lines) + "\n\n")


if __name__ == "__main__":
    main()
