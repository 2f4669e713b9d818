"""
Nearest Gaussians with ``GaussianNeighbors``
============================================

:class:`skkl.GaussianNeighbors` finds, for each Gaussian, the Gaussians with
the smallest divergence, exactly and in bounded memory (the search runs on
the chunked pairwise engine). This example also shows why the per-pair
callable ``KLMetric`` must not be handed the fitted array again: scikit-learn
then mirrors one triangle of the asymmetric KL matrix.
"""

import numpy as np
from sklearn.metrics import pairwise_distances
from sklearn.neighbors import NearestNeighbors

from skkl import GaussianNeighbors, Gaussians, KLMetric, pairwise_divergence

rng = np.random.default_rng(0)
K, d = 60, 3
A = rng.normal(size=(K, d, d))
G = Gaussians(rng.normal(size=(K, d)), A @ A.transpose(0, 2, 1) + np.eye(d))
X = G.pack()

# %%
# The estimator: the 3 nearest other Gaussians of each one, by
# KL(G_i || G_j) (``direction='query_first'``): the Gaussians that explain
# G_i best.
nn = GaussianNeighbors(n_neighbors=3).fit(G)
dist, idx = nn.kneighbors()
print("GaussianNeighbors:", idx[:3].tolist())

# %%
# The same neighbours from the whole matrix with ``metric='precomputed'``
# (fine for small K; GaussianNeighbors never holds the matrix).
D = pairwise_divergence(G, kind="kl")
pre = NearestNeighbors(n_neighbors=3, metric="precomputed").fit(D)
print("precomputed:      ", pre.kneighbors()[1][:3].tolist())

# %%
# The symmetry trap: ``NearestNeighbors(metric=KLMetric())`` queried with the
# fitted array itself computes one triangle and mirrors it. KL is not
# symmetric, so many neighbours are WRONG (the query includes each Gaussian
# itself at distance 0, hence 4 neighbours and the first column dropped).
trap = NearestNeighbors(n_neighbors=4, metric=KLMetric(), algorithm="brute").fit(X)
wrong = trap.kneighbors(X)[1][:, 1:]
print("rows with wrong neighbours:", int(np.any(wrong != idx, axis=1).sum()), "of", K)
mirrored = pairwise_distances(X, metric=KLMetric())  # Y=None: the same trap
print("mirrored matrix wrong by up to", np.max(np.abs(mirrored - D)).round(2))
print("symmetric kinds are safe:", KLMetric(kind="jeffreys").symmetric)
