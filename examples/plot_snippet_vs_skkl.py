"""
Why not the copied ``kl_mvn`` snippet?
======================================

The snippet evaluates the KL divergence with ``np.linalg.inv`` and
``np.linalg.det``. The determinant of a d x d covariance overflows (or
underflows) long before d is large, and the ratio of determinants turns into
``nan``. :func:`skkl.kl_divergence` takes the same arguments and works from
Cholesky factors, so its log-determinants are sums of logarithms.
"""

import matplotlib.pyplot as plt
import numpy as np

from skkl import kl_divergence


def kl_mvn(m0, S0, m1, S1):
    """The snippet found in many code bases (inverse and determinants)."""
    N = m0.shape[0]
    iS1 = np.linalg.inv(S1)
    diff = m1 - m0
    tr_term = np.trace(iS1 @ S0)
    det_term = np.log(np.linalg.det(S1) / np.linalg.det(S0))
    quad_term = diff.T @ np.linalg.inv(S1) @ diff
    return 0.5 * (tr_term + det_term + quad_term - N)


# %%
# KL(N(0, 10 I) || N(0, I)) has the closed form d/2 (10 - 1 - log 10).
dims = np.arange(10, 801, 10)
with np.errstate(all="ignore"):  # the snippet overflows: det(10 I) = 10**d
    snippet = np.array(
        [kl_mvn(np.zeros(d), 10 * np.eye(d), np.zeros(d), np.eye(d)) for d in dims]
    )
ours = np.array(
    [kl_divergence(np.zeros(d), 10 * np.eye(d), np.zeros(d), np.eye(d)) for d in dims]
)
exact = dims / 2 * (10 - 1 - np.log(10))
first_bad = dims[~np.isfinite(snippet)][0]
print(f"snippet first returns {snippet[dims == first_bad][0]} at d = {first_bad}")
print(f"skkl max relative error over d <= 800: {np.max(abs(ours / exact - 1)):.1e}")

fig, ax = plt.subplots()
ax.plot(dims, exact, "k-", lw=4, alpha=0.3, label="closed form")
ax.plot(dims, ours, "C0.", label="skkl.kl_divergence")
ok = np.isfinite(snippet)
ax.plot(dims[ok], snippet[ok], "C3x", label="kl_mvn snippet (finite values)")
ax.axvline(first_bad, color="C3", ls="--", label=f"snippet: nan from d={first_bad}")
ax.set_xlabel("dimension d")
ax.set_ylabel("KL(N(0, 10 I) || N(0, I))")
ax.legend()

# %%
# Nearly equal Gaussians: the snippet's terms of order d cancel to leave
# rounding noise, sometimes negative; skkl sums non-negative terms only.
rng = np.random.default_rng(0)
d = 50
A = rng.normal(size=(d, d))
S = A @ A.T / d + np.eye(d)
m = rng.normal(size=d)
m_close = m + 1e-7 * rng.normal(size=d)
print("snippet:", kl_mvn(m, S, m_close, S), " skkl:", kl_divergence(m, S, m_close, S))
