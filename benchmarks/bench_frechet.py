"""Benchmark: Fréchet distance (FID) speed and accuracy against pytorch-fid,
torchmetrics and clean-fid, and streaming statistics.

Cases (``--cases``, comma-separated; all by default):

``moments`` (and ``near``, the nearly identical sets)
    d=2048, all methods on the same float64 means and covariances; the peers
    are the floor. Feature sets are Inception-like (non-negative, decaying
    spectrum); the second is ``Y = X T + b`` with ``T`` symmetric positive
    definite, so the optimal map is ``x -> T x`` and the distance has the
    closed form ``||mean(X)(T - I) + b||^2 + ||Xc (T - I)||_F^2 / (n - 1)``, a
    sum of squares (relative error ~1e-13): the exact reference. Also
    n < d (singular covariances) and nearly identical sets (distance 1e-6 and
    1e-10 of the trace), where ``sqrtm``/``eigvals`` formulas return noise.
``features``
    ``frechet_distance(X, Y)`` from raw arrays, validation included, at
    several sizes; floor: the two covariance products ``X.T @ X``, ``Y.T @ Y``.
``files``
    Statistics files in pytorch-fid's own format (``mu`` from float32
    activations, ``sigma = np.cov``, ``np.savez_compressed``), read with
    ``FeatureMoments.load`` and compared with pytorch-fid's
    ``calculate_frechet_distance`` on the same files (target: 1e-6 relative),
    n > d and n < d.
``stream``
    10^6 x 2048 float32 features in batches of 10^4 through
    ``FeatureMoments.update``; floor: the float64 covariance product of each
    batch. Memory traced beyond the accumulator (tracemalloc, numpy's
    allocations included); covariance against a two-pass float64 computation
    and against raw sums ``sum x``, ``sum x x'`` (torchmetrics' accumulation)
    on features with a large common offset.

A peer that is not installed is replaced by its published formula, labelled
"(formula)". pytorch-fid's module imports torchvision; where that import
fails (a torchvision built for another torch), its
``calculate_frechet_distance`` is taken from its installed source file.

Usage::

    python benchmarks/bench_frechet.py [--quick] [--threads 1] [--cases ...]
"""

from __future__ import annotations

import argparse
import ast
import importlib.util
import os
import platform
import tempfile
import time
import tracemalloc
import warnings

import numpy as np
import scipy
from _common import blas_kernel
from scipy import linalg
from threadpoolctl import threadpool_limits

import skkl
from skkl import FeatureMoments, frechet_distance, frechet_distance_from_moments

warnings.filterwarnings("ignore", category=DeprecationWarning)


# -- peers ---------------------------------------------------------------------


def pytorch_fid_function():
    """(pytorch-fid's calculate_frechet_distance, label), or None if absent."""
    try:
        from pytorch_fid.fid_score import calculate_frechet_distance

        return calculate_frechet_distance, "pytorch-fid"
    except ImportError:
        if importlib.util.find_spec("pytorch_fid") is None:
            return None
    except Exception:
        pass
    # The module's import failed past pytorch-fid itself: run the function's
    # own source (numpy and scipy only).
    origin = importlib.util.find_spec("pytorch_fid.fid_score").origin
    with open(origin, encoding="utf-8") as fh:
        tree = ast.parse(fh.read())
    (node,) = [
        n
        for n in tree.body
        if isinstance(n, ast.FunctionDef) and n.name == "calculate_frechet_distance"
    ]
    namespace = {"np": np, "linalg": linalg}
    exec(compile(ast.Module([node], []), origin, "exec"), namespace)
    return namespace["calculate_frechet_distance"], "pytorch-fid (from its source)"


def _sqrtm_formula(mu1, sigma1, mu2, sigma2):
    """pytorch-fid / clean-fid published formula (scipy sqrtm), re-implemented."""
    diff = mu1 - mu2
    covmean = np.real(linalg.sqrtm(sigma1.dot(sigma2)))
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def _eigvals_formula(mu1, sigma1, mu2, sigma2):
    """torchmetrics' published formula (eigenvalues of S1 S2), re-implemented."""
    diff = mu1 - mu2
    ev = np.linalg.eigvals(sigma1 @ sigma2)
    roots = np.sqrt(ev.astype(complex)).real.sum()
    return diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2 * roots


def peers():
    """(label, function(mu1, s1, mu2, s2) -> float) for each peer."""
    found = pytorch_fid_function()
    out = [found[::-1] if found else ("pytorch-fid (formula)", _sqrtm_formula)]
    try:
        import torch
        from torchmetrics.image.fid import _compute_fid

        def torchmetrics_fid(mu1, s1, mu2, s2):
            t = [torch.from_numpy(np.ascontiguousarray(a)) for a in (mu1, s1, mu2, s2)]
            return float(_compute_fid(*t))

        out.append(("torchmetrics", torchmetrics_fid))
    except ImportError:
        out.append(("torchmetrics (formula)", _eigvals_formula))
    try:
        from cleanfid.fid import frechet_distance as clean_fid

        out.append(("clean-fid", clean_fid))
    except ImportError:
        out.append(("clean-fid (formula)", _sqrtm_formula))
    return out


# -- data ----------------------------------------------------------------------


def inception_like(n, d, rng, W=None, dtype=np.float64):
    """Non-negative features with a decaying covariance spectrum."""
    if W is None:
        U = np.linalg.qr(rng.normal(size=(d, d)))[0]
        W = U * (1.0 / np.sqrt(1.0 + np.arange(d)))  # singular values 1/sqrt(i)
    Z = rng.normal(size=(n, d)) @ W.T + 0.3
    np.maximum(Z, 0.0, out=Z)
    return Z.astype(dtype, copy=False), W


def spd_map(d, rng, spread):
    """T = I + spread * H / ||H||_2 with H symmetric: eigenvalues in 1 +- spread."""
    H = rng.normal(size=(d, d))
    H = H + H.T
    H /= np.linalg.norm(H, 2)
    return np.eye(d) + spread * H


def closed_form(X, T, b):
    """Exact FID between X and X T + b (T symmetric positive definite)."""
    Xc = X - X.mean(0)
    D = T - np.eye(len(T))
    shift = X.mean(0) @ D + b
    return float(shift @ shift + np.square(Xc @ D).sum() / (len(X) - 1))


def svd_reference(m1, S1, m2, S2):
    """float64 singular values of L2' L1 (no squaring, no sqrtm)."""
    L1, L2 = np.linalg.cholesky(S1), np.linalg.cholesky(S2)
    nuclear = np.linalg.svd(L2.T @ L1, compute_uv=False).sum()
    diff = m1 - m2
    return float(diff @ diff + np.trace(S1) + np.trace(S2) - 2 * nuclear)


def timed(func):
    t0 = time.perf_counter()
    out = func()
    return time.perf_counter() - t0, out


def rounds(methods, repeat):
    """Each method ``repeat`` times in rotating order: (times, last values)."""
    times = {name: [] for name, _ in methods}
    values = {}
    for r in range(repeat):
        k = r % len(methods)
        for name, func in methods[k:] + methods[:k]:
            t, values[name] = timed(func)
            times[name].append(t)
    return times, values


# -- moments: skkl against the peers on the same statistics --------------------

SKKL = "skkl frechet_distance_from_moments"


def moments_case(label, X, Y, reference, ref_label, peer_list, repeat):
    """Minimum time and median ratio over rounds of each method against skkl."""
    m1, m2 = X.mean(0), Y.mean(0)
    S1, S2 = np.cov(X, rowvar=False), np.cov(Y, rowvar=False)
    methods = [(SKKL, lambda: frechet_distance_from_moments(m1, S1, m2, S2))]
    methods += [
        (name, lambda func=func: float(func(m1, S1, m2, S2)))
        for name, func in peer_list
    ]
    times, values = rounds(methods, repeat)
    n1, d = X.shape
    print(f"\n## {label}: n = {n1} + {len(Y)}, d = {d}; reference: {ref_label}")
    print(
        f"FID = {reference:.10g} (trace of S1 + S2: {np.trace(S1) + np.trace(S2):.4g})"
    )
    print(f"{repeat} round(s); time: minimum; ratio: median over rounds")
    print("| method (same means and covariances) | time | time / skkl | rel. error |")
    print("|---|---|---|---|")
    out = {}
    base = np.array(times[SKKL])
    for name, _ in methods:
        ratio = float(np.median(np.array(times[name]) / base))
        err = abs(values[name] - reference) / abs(reference)
        out[name] = (ratio, err)
        print(f"| {name} | {min(times[name]):.2f} s | {ratio:.1f}x | {err:.1e} |")
    return out


def run_moments(args, peer_list, rng):
    d = args.d
    X, W = inception_like(args.n, d, rng)
    T = spd_map(d, rng, 0.3)
    b = 0.05 * rng.normal(size=d)
    summary = {}
    summary["pd"] = moments_case(
        "Positive definite (Y = X T + b)",
        X,
        X @ T + b,
        closed_form(X, T, b),
        "closed form (optimal map T)",
        peer_list,
        args.repeat,
    )
    Y, _ = inception_like(args.n, d, rng, W=W * 1.05)
    moments_case(
        "Two independent feature sets",
        X,
        Y,
        svd_reference(
            X.mean(0), np.cov(X, rowvar=False), Y.mean(0), np.cov(Y, rowvar=False)
        ),
        "float64 singular values of L2' L1",
        peer_list,
        1,
    )
    Xs = X[: args.n_small]
    summary["singular"] = moments_case(
        "Singular covariances, n < d (Y = X T + b)",
        Xs,
        Xs @ T + b,
        closed_form(Xs, T, b),
        "closed form (optimal map T)",
        peer_list,
        1,
    )
    _moments_targets(summary)
    return X


def run_near(args, peer_list, rng, X):
    """Nearly identical: the same mean, covariance term 1e-6 and 1e-10 of the
    trace (Y = (X - m) T + m, so that only the cancelling term remains)."""
    d = X.shape[1]
    summary = {}
    Xc = X - X.mean(0)
    H = spd_map(d, rng, 1.0) - np.eye(d)
    norm = np.linalg.norm(Xc @ H)
    for level in (1e-6, 1e-10):
        scale = np.sqrt(level * np.trace(np.cov(X, rowvar=False)) * (args.n - 1)) / norm
        Tn = np.eye(d) + scale * H
        b_near = X.mean(0) @ (np.eye(d) - Tn)
        summary[f"near {level:g}"] = moments_case(
            f"Nearly identical sets, {level:g} of the trace",
            X,
            X @ Tn + b_near,
            closed_form(X, Tn, b_near),
            "closed form (optimal map I + eps H)",
            peer_list,
            1,
        )
    print("\n### Relative errors, nearly identical sets")
    for key, near in summary.items():
        errors = ", ".join(f"{name} {err:.1e}" for name, (_, err) in near.items())
        print(f"- {key}: {errors}")


def _moments_targets(summary):
    print("\n### Targets (moments)")
    for name, (ratio, _) in summary["pd"].items():
        if name.startswith("pytorch-fid"):
            verdict = "met" if ratio >= 5 else "MISSED"
            print(f"- from moments >= 5x {name}: {ratio:.1f}x ({verdict})")
    for key in ("pd", "singular"):
        err = summary[key][SKKL][1]
        verdict = "met" if err <= 1e-8 else "MISSED"
        print(f"- relative error ({key}): {err:.1e} ({verdict})")


# -- features: frechet_distance(X, Y) against the two covariance products -----


def run_features(args, rng):
    print("\n## frechet_distance(X, Y) from raw arrays; floor: X.T @ X and Y.T @ Y")
    print("(float64 inputs; time: minimum over rounds; ratio: median over rounds)")
    print("| n | d | floor | skkl | skkl / floor | value |")
    print("|---|---|---|---|---|---|")
    sizes = [(2000, 256), (10000, 256), (2000, 2048), (args.n, args.d)]
    verdict = None
    for n, d in dict.fromkeys(sizes):
        X, W = inception_like(n, d, rng)
        Y, _ = inception_like(n, d, rng, W=W * 1.05)
        methods = [
            ("floor", lambda X=X, Y=Y: (X.T @ X, Y.T @ Y)),
            ("skkl", lambda X=X, Y=Y: frechet_distance(X, Y)),
        ]
        times, values = rounds(methods, args.repeat)
        ratio = float(np.median(np.array(times["skkl"]) / np.array(times["floor"])))
        print(
            f"| {n} | {d} | {min(times['floor']):.3f} s | {min(times['skkl']):.3f} s "
            f"| {ratio:.2f}x | {values['skkl']:.6g} |"
        )
        if (n, d) == (args.n, args.d):
            verdict = ratio
    print(
        f"\n- d={args.d}, n={args.n}: <= 2.5x the two covariance products: "
        f"{verdict:.2f}x ({'met' if verdict <= 2.5 else 'MISSED'})"
    )


# -- files: pytorch-fid's own statistics files ---------------------------------


def _pytorch_fid_stats(act: np.ndarray, path: str) -> None:
    """Write statistics as pytorch-fid does (calculate_activation_statistics,
    then save_fid_stats): mu of float32 activations, sigma by np.cov."""
    mu = np.mean(act, axis=0)
    sigma = np.cov(act, rowvar=False)
    np.savez_compressed(path, mu=mu, sigma=sigma)


def _load_pytorch_fid(path: str):
    """pytorch-fid's reader of a .npz statistics file (compute_statistics_of_path)."""
    with np.load(path) as f:
        return f["mu"][:], f["sigma"][:]


def _files_reference(X, Y, paths) -> float:
    """Independent float64 value for the statistics in ``paths``.

    Mean and trace terms from the stored ``mu`` and ``sigma``; the cross
    term from singular values without squaring: of ``L2' L1`` (Cholesky)
    when n > d, of ``Yc Xc' / sqrt((n1 - 1)(n2 - 1))`` (the centred rows
    that ``np.cov`` used) when n <= d.
    """
    (m1, S1), (m2, S2) = (_load_pytorch_fid(p) for p in paths)
    diff = m1.astype(np.float64) - m2
    if len(X) > X.shape[1]:
        L1, L2 = np.linalg.cholesky(S1), np.linalg.cholesky(S2)
        nuclear = np.linalg.svd(L2.T @ L1, compute_uv=False).sum()
    else:
        Xc = X.astype(np.float64) - X.astype(np.float64).mean(0)
        Yc = Y.astype(np.float64) - Y.astype(np.float64).mean(0)
        nuclear = np.linalg.svd(Yc @ Xc.T, compute_uv=False).sum()
        nuclear /= np.sqrt((len(X) - 1.0) * (len(Y) - 1.0))
    return float(diff @ diff + np.trace(S1) + np.trace(S2) - 2 * nuclear)


def run_files(args, rng):
    found = pytorch_fid_function()
    if found is None:
        print("\n## pytorch-fid files: pytorch-fid is not installed; skipped")
        return
    fid, label = found
    print(f"\n## Statistics files in pytorch-fid's format, d = {args.d}; peer: {label}")
    print("reference: independent float64 singular values (see _files_reference)")
    print(
        "| case | pytorch-fid | skkl | skkl vs pytorch-fid | error: skkl, pytorch-fid |"
    )
    print("|---|---|---|---|---|")
    worst = 0.0
    folder = tempfile.mkdtemp()
    W = None
    for n in (args.n, args.n_small):
        X, W = inception_like(n, args.d, rng, W=W, dtype=np.float32)
        Y, _ = inception_like(n, args.d, rng, W=W * 1.05, dtype=np.float32)
        paths = [os.path.join(folder, f"{k}_{n}.npz") for k in "xy"]
        for act, path in zip((X, Y), paths, strict=True):
            _pytorch_fid_stats(act, path)
        theirs = float(fid(*_load_pytorch_fid(paths[0]), *_load_pytorch_fid(paths[1])))
        ours = frechet_distance(*(FeatureMoments.load(p) for p in paths))
        ref = _files_reference(X, Y, paths)
        rel = abs(ours - theirs) / abs(theirs)
        worst = max(worst, rel)
        kind = "n > d" if n > args.d else "n < d (singular)"
        print(
            f"| n = {n}, {kind} | {theirs:.10g} | {ours:.10g} | {rel:.1e} | "
            f"{abs(ours - ref) / ref:.1e}, {abs(theirs - ref) / ref:.1e} |"
        )
    verdict = "met" if worst <= 1e-6 else "MISSED"
    print(f"\n- agrees with pytorch-fid to 1e-6 relative: {worst:.1e} ({verdict})")


# -- stream: FeatureMoments over 10^6 rows ---------------------------------------


def _stream_batch(b: int, batch: int, d: int, V: np.ndarray, offset: np.ndarray):
    """Batch b of the stream: float32 features with a large common offset."""
    rng = np.random.default_rng([7, b])
    Z = rng.standard_normal((batch, d), dtype=np.float32)
    Z += rng.standard_normal((batch, len(V)), dtype=np.float32) @ V
    Z += offset
    return Z


def _stream_pass(batches, d):
    """Update, floor and raw sums on each batch, timed side by side.

    The order of the two timed calls alternates from batch to batch, so a
    change of machine load hits both. Returns (moments, skkl time, floor
    time, raw sums, float64 sum of the rows, traced memory beyond state).
    """
    mom = FeatureMoments()
    t_skkl = t_floor = 0.0
    s1, s2, extra = np.zeros(d), np.zeros((d, d)), 0
    tracemalloc.start()
    for k, X in enumerate(batches):
        X64 = X.astype(np.float64)
        s1 += X64.sum(axis=0)

        def skkl(X=X, k=k):
            nonlocal extra
            base = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            t, _ = timed(lambda: mom.update(X))
            if k:  # the first update allocates the state itself
                extra = max(extra, tracemalloc.get_traced_memory()[1] - base)
            return t

        def floor(X64=X64):
            t, P = timed(lambda: X64.T @ X64)
            s2[...] += P
            return t

        first, second = (skkl, floor) if k % 2 == 0 else (floor, skkl)
        times = {first: first(), second: second()}
        t_skkl, t_floor = t_skkl + times[skkl], t_floor + times[floor]
    tracemalloc.stop()
    return mom, t_skkl, t_floor, (s1, s2), extra


def run_stream(args, rng):
    n, batch, d = args.stream_rows, args.batch, args.d
    n_batches = n // batch
    V = (rng.normal(size=(16, d)) * 0.5).astype(np.float32)  # correlated part
    offset = (1e3 + rng.uniform(0, 1e3, size=d)).astype(np.float32)

    def batches():
        return (_stream_batch(b, batch, d, V, offset) for b in range(n_batches))

    print(
        f"\n## Streaming {n} x {d} float32 rows in batches of {batch}; "
        "offset 1e3-2e3, spread ~1"
    )
    mom, t_skkl, t_floor, (s1, s2), extra = _stream_pass(batches(), d)
    raw = (s2 - np.outer(s1, s1) / n) / (n - 1)
    # the two-pass float64 reference
    mean = s1 / n
    ref = np.zeros((d, d))
    for X in batches():
        Xc = X.astype(np.float64) - mean
        ref += Xc.T @ Xc
    ref /= n - 1
    scale = np.linalg.norm(ref)

    def err(C):
        return float(np.linalg.norm(C - ref) / scale)

    e_skkl, e_raw = err(mom.covariance), err(raw)
    digits = np.log10(e_raw / np.finfo(np.float64).eps)
    ratio = t_skkl / t_floor
    print("(the two timed calls alternate on each batch)")
    print("| method | time | / floor | covariance rel. error (Frobenius) |")
    print("|---|---|---|---|")
    print(f"| floor: float64 X.T @ X per batch | {t_floor:.1f} s | 1 | |")
    print(
        f"| skkl FeatureMoments.update | {t_skkl:.1f} s | {ratio:.2f}x | {e_skkl:.1e} |"
    )
    print(
        f"| raw sums (sum x, sum x x') | | | {e_raw:.1e} ({digits:.1f} digits lost) |"
    )
    state = (d * d + 2 * d) * 8
    print(
        f"\nmemory beyond the accumulator ({state / 2**20:.0f} MiB): "
        f"{extra / 2**20:.1f} MiB traced peak during update"
    )
    print(
        f"- within 1.5x the covariance products: {ratio:.2f}x "
        f"({'met' if ratio <= 1.5 else 'MISSED'})"
    )
    mem_ok = extra <= 100 * 2**20
    print(
        f"- memory <= 100 MB beyond the accumulator: {extra / 1e6:.0f} MB "
        f"({'met' if mem_ok else 'MISSED'})"
    )
    ok = e_skkl <= 1e-12 and digits >= 6
    print(
        f"- 1e-12 relative where raw sums lose >= 6 digits: {e_skkl:.1e} vs raw "
        f"{digits:.1f} digits lost ({'met' if ok else 'MISSED'})"
    )


# -- main ----------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n-small", type=int, default=1_000)
    parser.add_argument("--stream-rows", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="timing rounds")
    parser.add_argument(
        "--quick", action="store_true", help="d=256, n=2000/200, 10^5 streamed rows"
    )
    parser.add_argument("--cases", default="moments,near,features,files,stream")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS and torch threads for every method",
    )
    args = parser.parse_args()
    if args.threads is not None:
        threadpool_limits(args.threads)  # kept for the whole run
        try:
            import torch

            torch.set_num_threads(args.threads)
        except ImportError:
            pass
    if args.quick:
        args.d, args.n, args.n_small, args.stream_rows = 256, 2000, 200, 100_000
    t_start = time.perf_counter()
    peer_list = peers()
    print(
        f"skkl {skkl.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"Python {platform.python_version()}"
    )
    print(f"BLAS: {blas_kernel()}")
    print(f"load average at start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print("peers: " + ", ".join(name for name, _ in peer_list))
    rng = np.random.default_rng(0)
    cases = args.cases.split(",")
    X = None
    if "moments" in cases:
        X = run_moments(args, peer_list, rng)
    if "near" in cases:
        X = inception_like(args.n, args.d, rng)[0] if X is None else X
        run_near(args, peer_list, rng, X)
    if "features" in cases:
        run_features(args, rng)
    if "files" in cases:
        run_files(args, rng)
    if "stream" in cases:
        run_stream(args, rng)
    print(
        f"\ntotal time {time.perf_counter() - t_start:.0f} s; load average at end "
        f"{os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
