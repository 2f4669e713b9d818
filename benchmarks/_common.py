"""Helpers shared by the benchmark scripts (not a benchmark itself).

The scripts run as ``python benchmarks/bench_<name>.py``, which puts this
folder on ``sys.path``, so they import these as ``from _common import ...``.
"""

from __future__ import annotations

import os

import numpy as np
from threadpoolctl import threadpool_info

from skkl import Gaussians


def blas_kernel(*, all_libraries: bool = False, with_file: bool = False) -> str:
    """The loaded BLAS (or, with ``all_libraries``, every thread pool), one each.

    Each reads ``internal_api version (architecture, N threads[, library file])``:
    the architecture is the OpenBLAS kernel the timings were measured with.
    """
    parts = []
    for info in threadpool_info():
        if not all_libraries and info.get("user_api") != "blas":
            continue
        extra = f", {info.get('filepath', '').rsplit('/', 1)[-1]}" if with_file else ""
        parts.append(
            f"{info.get('internal_api')} {info.get('version')} "
            f"({info.get('architecture')}, {info.get('num_threads')} threads{extra})"
        )
    return "; ".join(parts)


def make_arrays(K: int, d: int, covariance_type: str, seed: int = 0):
    """Means and covariances of K random well-conditioned Gaussians, as arrays.

    Full covariances are ``A A' / (2d) + 0.1 I`` with ``A`` of shape (d, 2d)
    (condition numbers in the tens); diagonal variances are uniform on
    [0.5, 2].
    """
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(K, d))
    if covariance_type == "full":
        A = rng.normal(size=(K, d, 2 * d))
        cov = A @ A.transpose(0, 2, 1) / (2 * d) + 0.1 * np.eye(d)
    else:
        cov = rng.uniform(0.5, 2.0, size=(K, d))
    return means, cov


def make_gaussians(K: int, d: int, covariance_type: str, seed: int = 0) -> Gaussians:
    """K random well-conditioned Gaussians ('full' or 'diag') in d dimensions."""
    return Gaussians(*make_arrays(K, d, covariance_type, seed), covariance_type)


def load_average() -> str:
    """The 1-, 5- and 15-minute load averages (the machine is shared)."""
    return " / ".join(f"{x:.1f}" for x in os.getloadavg())
