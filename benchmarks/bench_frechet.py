"""Benchmark: Fréchet distance (FID) at d=2048 against pytorch-fid, torchmetrics
and clean-fid, with exact references.

Feature sets are Inception-like: non-negative (ReLU of a linear map with a
decaying spectrum), d=2048, n=10,000 rows (positive definite covariances)
and n=1,000 rows (n < d: singular covariances, as in many FID evaluations).
The second set is ``Y = X T + b`` with ``T`` symmetric positive definite:
the optimal transport map between the two Gaussians is then ``x -> T x``, so
the distance is known in closed form,

    FID = ||mean(X) (T - I) + b||^2 + ||Xc (T - I)||_F^2 / (n - 1),

a sum of squares computed in float64 without cancellation (relative error
about 1e-13): the high-precision reference. One more case, two independent
feature sets, has no closed form; its reference is the float64 sum of the
singular values of ``L2' L1`` (absolute error ~ d eps sigma_max).

Methods, all on the same float64 means and covariances (``np.cov``):

- skkl ``frechet_distance_from_moments`` (and ``frechet_distance`` from the
  features, which includes computing the moments);
- pytorch-fid ``calculate_frechet_distance`` (scipy ``sqrtm`` of S1 S2);
- torchmetrics' FID computation ``_compute_fid`` on CPU float64 tensors
  (``torch.linalg.eigvals`` of S1 S2);
- clean-fid ``frechet_distance`` (the same ``sqrtm`` formula).

A peer that is not installed is replaced by its published formula,
implemented here and labelled "(formula)". Then the nearly identical case:
``T = I + eps H`` with the distance about 1e-6 of the trace, where the
``sqrtm`` and ``eigvals`` formulas return rounding noise.

Usage::

    python benchmarks/bench_frechet.py [--d 2048] [--quick]
"""

from __future__ import annotations

import argparse
import platform
import time
import warnings

import numpy as np
import scipy
from _common import blas_kernel
from scipy import linalg
from threadpoolctl import threadpool_limits

import skkl
from skkl import frechet_distance, frechet_distance_from_moments

warnings.filterwarnings("ignore", category=DeprecationWarning)


# -- peers ---------------------------------------------------------------------


def _sqrtm_formula(mu1, sigma1, mu2, sigma2):
    """pytorch-fid / clean-fid published formula (scipy sqrtm), re-implemented."""
    diff = mu1 - mu2
    covmean = linalg.sqrtm(sigma1.dot(sigma2))
    covmean = np.real(covmean)
    return diff.dot(diff) + np.trace(sigma1) + np.trace(sigma2) - 2 * np.trace(covmean)


def peers():
    """(label, function(mu1, s1, mu2, s2) -> float) for each peer."""
    out = []
    try:
        from pytorch_fid.fid_score import calculate_frechet_distance

        out.append(("pytorch-fid", calculate_frechet_distance))
    except ImportError:
        out.append(("pytorch-fid (formula)", _sqrtm_formula))
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


def _eigvals_formula(mu1, sigma1, mu2, sigma2):
    """torchmetrics' published formula (eigenvalues of S1 S2), re-implemented."""
    diff = mu1 - mu2
    ev = np.linalg.eigvals(sigma1 @ sigma2)
    return (
        diff @ diff
        + np.trace(sigma1)
        + np.trace(sigma2)
        - 2 * np.sqrt(ev.astype(complex)).real.sum()
    )


# -- data ----------------------------------------------------------------------


def inception_like(n, d, rng, W=None):
    """Non-negative features with a decaying covariance spectrum."""
    if W is None:
        U = np.linalg.qr(rng.normal(size=(d, d)))[0]
        W = U * (1.0 / np.sqrt(1.0 + np.arange(d)))  # singular values 1/sqrt(i)
    Z = rng.normal(size=(n, d)) @ W.T + 0.3
    np.maximum(Z, 0.0, out=Z)
    return Z, W


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


# -- runs ----------------------------------------------------------------------


def timed(func):
    t0 = time.perf_counter()
    out = func()
    return time.perf_counter() - t0, out


SKKL = "skkl frechet_distance_from_moments"
FEATURES = "skkl frechet_distance(X, Y), moments included"


def case(label, X, Y, reference, ref_label, peer_list, repeat):
    """Time every method ``repeat`` times in rotating order (rounds), so that
    a change of machine load hits all of them; report the minimum time and
    the median over rounds of each method's time / skkl's time."""
    m1, m2 = X.mean(0), Y.mean(0)
    S1, S2 = np.cov(X, rowvar=False), np.cov(Y, rowvar=False)
    methods = [(SKKL, lambda: frechet_distance_from_moments(m1, S1, m2, S2))]
    methods += [
        (name, lambda func=func: float(func(m1, S1, m2, S2)))
        for name, func in peer_list
    ]
    methods.append((FEATURES, lambda: frechet_distance(X, Y)))
    times = {name: [] for name, _ in methods}
    values = {}
    for r in range(repeat):
        for name, func in methods[r % len(methods) :] + methods[: r % len(methods)]:
            t, values[name] = timed(func)
            times[name].append(t)
    t_cov, _ = timed(lambda: (np.cov(X, rowvar=False), np.cov(Y, rowvar=False)))
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
    print(f"(np.cov of both sets, which the peers need first: {t_cov:.2f} s)")
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--d", type=int, default=2048)
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--n-small", type=int, default=1_000)
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="timing rounds of the positive definite case (the others: 1)",
    )
    parser.add_argument("--quick", action="store_true", help="d=256, n=2000/200")
    parser.add_argument(
        "--cases",
        default="pd,independent,singular,near",
        help="comma-separated subset of pd, independent, singular, near",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="BLAS and torch threads for every method (default: library default)",
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
        args.d, args.n, args.n_small = 256, 2000, 200
    d = args.d
    np.zeros(1) @ np.zeros(1)
    peer_list = peers()
    print(
        f"skkl {skkl.__version__}, numpy {np.__version__}, scipy {scipy.__version__}, "
        f"Python {platform.python_version()}"
    )
    print(f"BLAS: {blas_kernel()}")
    try:
        import torch

        print(f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    except ImportError:
        pass
    print("peers: " + ", ".join(name for name, _ in peer_list))
    rng = np.random.default_rng(0)

    X, W = inception_like(args.n, d, rng)
    T = spd_map(d, rng, 0.3)
    b = 0.05 * rng.normal(size=d)
    summary = {}
    cases = set(args.cases.split(","))
    if "pd" in cases:
        summary["pd"] = case(
            "Positive definite (Y = X T + b)",
            X,
            X @ T + b,
            closed_form(X, T, b),
            "closed form (optimal map T)",
            peer_list,
            args.repeat,
        )
    Y, _ = inception_like(args.n, d, rng, W=W * 1.05)
    m1, m2 = X.mean(0), Y.mean(0)
    S1, S2 = np.cov(X, rowvar=False), np.cov(Y, rowvar=False)
    if "independent" in cases:
        case(
            "Two independent feature sets",
            X,
            Y,
            svd_reference(m1, S1, m2, S2),
            "float64 singular values of L2' L1",
            peer_list,
            1,
        )
    Xs = X[: args.n_small]
    if "singular" in cases:
        summary["singular"] = case(
            "Singular covariances, n < d (Y = X T + b)",
            Xs,
            Xs @ T + b,
            closed_form(Xs, T, b),
            "closed form (optimal map T)",
            peer_list,
            1,
        )
    # Nearly identical: the same mean, covariance term 1e-6 and 1e-10 of the
    # trace (Y = (X - m) T + m, so that only the cancelling term remains).
    Xc = X - X.mean(0)
    H = spd_map(d, rng, 1.0) - np.eye(d)
    norm = np.linalg.norm(Xc @ H)
    for level in (1e-6, 1e-10):
        scale = np.sqrt(level * np.trace(np.cov(X, rowvar=False)) * (args.n - 1)) / norm
        Tn = np.eye(d) + scale * H
        b_near = X.mean(0) @ (np.eye(d) - Tn)
        if "near" in cases:
            summary[f"near {level:g}"] = case(
                f"Nearly identical sets, {level:g} of the trace "
                "(Y = (X - m)(I + eps H) + m)",
                X,
                X @ Tn + b_near,
                closed_form(X, Tn, b_near),
                "closed form (optimal map I + eps H)",
                peer_list,
                1,
            )

    print("\n## Targets")
    for name, (ratio, _) in summary.get("pd", {}).items():
        for prefix, target in (("pytorch-fid", 5), ("torchmetrics", 2)):
            if name.startswith(prefix):
                verdict = "met" if ratio >= target else "MISSED"
                print(f"- >= {target}x faster than {name}: {ratio:.1f}x ({verdict})")
    for key in ("pd", "singular"):
        if key in summary:
            err = summary[key][SKKL][1]
            verdict = "met" if err <= 1e-8 else "MISSED"
            print(f"- relative error <= 1e-8 ({key}): {err:.1e} ({verdict})")
    for key in [k for k in summary if k.startswith("near")]:
        near = summary[key]
        others = ", ".join(
            f"{name} {err:.1e}" for name, (_, err) in near.items() if name != SKKL
        )
        print(f"- {key}, relative error: skkl {near[SKKL][1]:.1e}; {others}")


if __name__ == "__main__":
    main()
