"""
All pairs in one matrix product: a small benchmark
==================================================

A K x K matrix of KL divergences with a per-pair function costs K² Python
calls. :func:`skkl.pairwise_divergence` computes the trace part of every pair
with one GEMM and recomputes exactly only the entries whose rounding-error
bound is too large. This example times, side by side in one run, the K² loop
(measured on a sample of pairs and extrapolated), skkl, and the bare GEMM of
the same shape (the floor no implementation can beat). The full benchmark,
with torch and the copied snippet as peers, is ``benchmarks/bench_pairwise.py``.
"""

import time

import matplotlib.pyplot as plt
import numpy as np

from skkl import Gaussians, kl_divergence, pairwise_divergence

rng = np.random.default_rng(0)
K, d = 400, 16
A = rng.normal(size=(K, d, d)) / np.sqrt(d)
G = Gaussians(rng.normal(size=(K, d)), A @ A.transpose(0, 2, 1) + 0.5 * np.eye(d))


def best_of(fn, repeat=3):
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


# %%
# The per-pair loop, on 500 random pairs, extrapolated to K².
pairs = rng.integers(K, size=(500, 2))
means, covs = G.means, G.covariances
loop = best_of(
    lambda: [kl_divergence(means[i], covs[i], means[j], covs[j]) for i, j in pairs], 1
) * (K * K / len(pairs))

engine = best_of(lambda: pairwise_divergence(G, kind="kl"))
n_packed = d * (d + 1) // 2
left, right = rng.normal(size=(K, n_packed)), rng.normal(size=(K, n_packed))
floor = best_of(lambda: left @ right.T)

D = pairwise_divergence(G, kind="kl")
i, j = pairs[0]
assert np.isclose(D[i, j], kl_divergence(means[i], covs[i], means[j], covs[j]))

rows = [
    ("per-pair loop (K² calls)", loop),
    ("skkl.pairwise_divergence", engine),
    ("bare GEMM floor", floor),
]
for name, seconds in rows:
    print(f"{name:26s} {seconds * 1e3:10.2f} ms   {seconds / engine:8.2f} x skkl")

fig, ax = plt.subplots()
ax.barh([r[0] for r in rows], [r[1] for r in rows], color=["C3", "C0", "C7"])
ax.set_xscale("log")
ax.set_xlabel(f"seconds for the {K} x {K} KL matrix, d = {d} (log scale)")
fig.tight_layout()
