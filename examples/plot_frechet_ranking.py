"""
Ranking two generative models by Fréchet distance, with error bars
===================================================================

The Fréchet distance (FID) of N generated samples to a reference is biased
upward by about ``slope / N``, and the slope depends on the model: a model
can look worse than another at 500 samples and better at 4,000.
:func:`skkl.frechet_infinity` extrapolates the distance to infinitely many
samples (FID∞, Chong & Forsyth 2020), and :func:`skkl.frechet_difference`
gives a paired confidence interval for the difference of two models'
distances to one reference.

The "features" here are synthetic, 64-dimensional with a decaying spectrum
(like Inception or DINOv2 embeddings): model A reproduces the reference's
covariance but misplaces its mean a little; model B gets the mean right but
shrinks the spectrum's tail, which also lowers its bias.
"""

import matplotlib.pyplot as plt
import numpy as np

from skkl import FeatureMoments, frechet_difference, frechet_infinity

rng = np.random.default_rng(0)
d = 64
spectrum = 1.0 / (1.0 + np.arange(d))
Q = np.linalg.qr(rng.normal(size=(d, d)))[0]
L_ref = Q * np.sqrt(spectrum)
L_b = Q * np.sqrt(np.where(np.arange(d) < 8, spectrum, 0.25 * spectrum))
shift = Q[:, -32:] @ rng.normal(size=32)
mean_a = 0.69 * shift / np.linalg.norm(shift)

reference = rng.normal(size=(20_000, d)) @ L_ref.T
model_a = rng.normal(size=(4000, d)) @ L_ref.T + mean_a
model_b = rng.normal(size=(4000, d)) @ L_b.T

# The reference statistics are computed once (and could be saved with
# FeatureMoments.save, in pytorch-fid's format).
ref_stats = FeatureMoments().update(reference)

# %%
# FID at several sample sizes, and FID∞
# -------------------------------------
# ``frechet_infinity`` computes the distance at sizes n, n/2, ..., n/8
# (each the mean over the parts of a random partition), fits
# ``FID = FID∞ + slope / N`` and reports the intercept with its standard
# error. With the reference as FeatureMoments, only the candidates'
# sampling noise is in that error.
res_a = frechet_infinity(model_a, ref_stats, n_sizes=8, random_state=0)
res_b = frechet_infinity(model_b, ref_stats, n_sizes=8, random_state=0)
for name, res in (("A", res_a), ("B", res_b)):
    print(
        f"model {name}: FID at N=500 {res.distances[-1]:.4f}, at N=4000 "
        f"{res.plug_in:.4f}; FID∞ {res.value:.4f} ± {res.standard_error:.4f}"
    )

# %%
# A paired interval for the difference
# ------------------------------------
# Both models are measured against the same reference, so the reference's
# own sampling noise moves both distances together; the jackknife over the
# rows of A, B and the reference pairs them. A negative difference means
# that A is closer to the reference.
diff = frechet_difference(model_a, model_b, reference, random_state=0).difference
print(
    f"FID(A) - FID(B): {diff.estimate:.4f}, 95% interval "
    f"[{diff.low:.4f}, {diff.high:.4f}] (plain difference {diff.plug_in:.4f})"
)

# %%
# The distance against 1/N: the lines cross, FID∞ does not depend on N.
fig, ax = plt.subplots(figsize=(6, 4))
for name, res, color in (("A", res_a, "C0"), ("B", res_b, "C1")):
    x = 1.0 / res.sizes
    ax.plot(x, res.distances, "o", color=color, label=f"model {name}: FID at N")
    grid = np.linspace(0, x.max(), 50)
    ax.plot(grid, res.value + res.slope * grid, "-", color=color, alpha=0.6)
    ax.errorbar(
        0,
        res.value,
        yerr=2 * res.standard_error,
        fmt="s",
        color=color,
        capsize=4,
        label=f"model {name}: FID∞ ± 2 s.e.",
    )
ticks = [4000, 2000, 1000, 500]
ax.set_xticks([0.0] + [1.0 / t for t in ticks], ["∞"] + [str(t) for t in ticks])
ax.set_xlabel("N, generated samples (the axis is linear in 1/N)")
ax.set_ylabel("Fréchet distance to the reference")
ax.legend(fontsize=8)
fig.tight_layout()
plt.show()
