"""Large-n drift engine: mergeable moment sums and a distribution-free test.

One streaming pass over row blocks reduces a sample of already centred and
scaled rows ``z`` (d features) to :class:`MomentSums`: the total weight, the
mean and the centred cross-product of the moment features

    f(z) = [z, second(z)],   second(z) = upper(z z') ('full') or z**2 ('diag'),

(q = d + d (d + 1) / 2 or q = 2 d columns), plus per-column third and fourth
central moments. Blocks (or dask partitions) are combined with the pairwise
update of Chan, Golub & LeVeque (1979), so sums merged in any tree equal the
one-pass sums to rounding error. Memory is O(q^2) for the sums plus one block
of ``working_memory`` while streaming.

:func:`asymptotic_test` compares two such sums without assuming Gaussian
kurtosis. With ``delta = mean_1(f) - mean_2(f)`` and ``G`` the pooled
within-sample covariance of ``f`` (``scatter_1 + scatter_2`` over ``nu = N -
2``: second *and fourth* moments of ``z``, straight from the sums), under "same
distribution" ``delta`` has covariance ``V = G (1/n1 + 1/n2)``. Each part is a
Wald statistic ``T^2 = delta_b' V_b^+ delta_b`` on a block of ``delta``:

- 'mean': the d means, exactly Hotelling's two-sample T^2;
- 'variance': the squares ``z_j^2`` *given the means* (residual
  ``delta_s - V_sz V_zz^+ delta_z``, Schur-complement covariance): a test of
  the variances that does not depend on the centring (adding a linear
  function of ``z`` to the second moments changes nothing) and is
  asymptotically independent of the mean part;
- 'covariance' ('full', d > 1): all products ``z_i z_j`` given the means.

The fourth moments in ``G`` widen the null of the second-moment parts exactly
as the kurtosis requires: for Gaussian data ``G`` is the Wishart covariance
and the covariance part is Box's M to first order; the Gaussian-theory
chi-square, by contrast, rejects almost always on heavy-tailed data. The
small-sample correction is Hotelling's scaling ``F = (nu_b - k + 1) / (k nu_b)
T^2 ~ F(k, nu_b - k + 1)`` (``k`` the rank, ``nu_b = nu`` for the mean part and
``nu - k_mean`` for the conditional parts), exact for the mean part under
normality. The parts are combined by the weighted Bonferroni rule ``p =
min(1, min_b p_b / w_b)`` (``sum w_b = 1``), valid under any dependence.

Rank rule: a block's covariance is scaled to a correlation matrix; entries
whose (conditional) variance is at most ``RANK_RTOL`` of their unconditional
variance, and eigen-directions with eigenvalue at most ``RANK_RTOL *
lambda_max``, are dropped (a pseudo-inverse), and ``k`` counts the rest.
Exact linear relations among the moment features (0/1 data: ``z^2`` affine
in ``z``; constant features) hold for both samples' means alike, so
``delta`` has no component along them. A component larger than rounding
there (the samples differ where neither varies, e.g. a feature constant in
both with different values) raises :class:`DriftBeyondResolution`, as do
moment sums that overflow; the detector reports both as drift
(``is_drift=True``, p-value 0).

``calibrated`` is False, with a reason and a fallback, when the moment
covariance cannot be estimated reliably (see :func:`asymptotic_test`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import stats

from .._blas import blas_single_thread
from ._sums import MomentSums, check_same_layout, second_pairs

__all__ = [
    "AsymptoticResult",
    "DriftBeyondResolution",
    "MomentSums",
    "STATISTICS",
    "asymptotic_test",
    "run",
    "CALIBRATION_MIN_RATIO",
    "CALIBRATION_MAX_KURTOSIS_RATIO",
    "RANK_RTOL",
    "PART_WEIGHTS",
]

#: Eigenvalues of a part's (correlation-scaled) pooled moment covariance at
#: most ``RANK_RTOL`` times the largest are treated as exact zeros: collinear
#: moment features (0/1 data has ``z**2`` affine in ``z``) leave eigenvalues
#: at rounding level (~1e-15), far below it; a direction that real data
#: spans this thinly would need ~1e10 samples to be estimated anyway.
RANK_RTOL = 1e-10

#: Weights of the weighted Bonferroni combination of the parts.
PART_WEIGHTS = {"mean": 0.5, "variance": 0.25, "covariance": 0.25}
PART_WEIGHTS_DIAG = {"mean": 0.5, "variance": 0.5}

#: ``calibrated`` needs every group to have at least this many samples per
#: moment parameter of the test (q = d + d (d + 1) / 2, or 2 d for 'diag'):
#: below it the q x q moment covariance is too noisy for a Wald test.
CALIBRATION_MIN_RATIO = 5.0
#: ... and at least this many samples per unit of the largest kurtosis of a
#: moment feature: the Wald variance of a feature's square is estimated to
#: relative error about sqrt(kurtosis / n), so n >= 8 kurtosis keeps it
#: within ~35%. The sample kurtosis of n rows is at most about n, and near it
#: when a few rows dominate a feature (lognormal sigma=2 at any n), which the
#: rule then sends to a permutation engine.
CALIBRATION_MAX_KURTOSIS_RATIO = 8.0
# A difference along a direction in which neither sample varies counts as
# real (drift beyond doubt) beyond this many times the rounding level
# ``sqrt(RANK_RTOL)`` of that direction's scale.
_NULL_SLACK = 1e3

# Relative rounding level of the centred sums (a thousand ulps: the Chan
# updates over many blocks accumulate rounding): a feature whose standard
# deviation is below this fraction of its magnitude is constant, and equal
# constants agree to this fraction.
_RESOLUTION = 1e3 * np.finfo(np.float64).eps


class DriftBeyondResolution(ValueError):
    """The two samples differ beyond what float64 moment sums can quantify.

    Raised by :func:`asymptotic_test` when the samples differ along a
    direction in which neither varies (e.g. a feature constant in both
    samples with different values), or when a sample is shifted so far that
    its within-sample fourth moments cannot be resolved from the moment sums.
    Either way the difference is drift beyond doubt: the detector reports
    ``is_drift=True`` with p-value 0 and keeps this message as explanation.

    Attributes
    ----------
    feature : int or None
        Index of the feature concerned, when one is.
    """

    def __init__(self, message: str, feature: int | None = None):
        super().__init__(message)
        self.feature = feature


# -- the test ------------------------------------------------------------------


@dataclass
class AsymptoticResult:
    """Outcome of :func:`asymptotic_test`.

    Attributes
    ----------
    part_names : tuple of str
        'mean', 'variance' and, for ``covariance_type='full'`` with d > 1,
        'covariance' (all entries of the covariance, variances included).
    statistics : ndarray of shape (n_parts,)
        Wald statistics ``T^2`` of the parts.
    dfs : ndarray of shape (n_parts,), int
        Degrees of freedom (ranks) ``k`` of the parts.
    p_values : ndarray of shape (n_parts,)
        Hotelling-scaled F p-values of the parts.
    p_value : float
        Weighted Bonferroni combination ``min(1, min_k p_k / w_k)``.
    weights : ndarray of shape (n_parts,)
        The weights ``w_k`` (see ``PART_WEIGHTS``).
    feature_statistics, feature_p_values : ndarray of shape (d,)
        Per-feature Wald test of (mean, variance) with 2 degrees of freedom
        (unadjusted p-values).
    calibrated : bool
        Whether the rule of :func:`asymptotic_test` vouches for the p-values.
    reason : str
        Why not (and what to use instead); empty when calibrated.
    dropped_features : ndarray of int
        Features constant (with the same value) in both samples, left out.
    """

    part_names: tuple
    statistics: np.ndarray
    dfs: np.ndarray
    p_values: np.ndarray
    p_value: float
    weights: np.ndarray
    feature_statistics: np.ndarray
    feature_p_values: np.ndarray
    calibrated: bool
    reason: str = ""
    dropped_features: np.ndarray = field(
        default_factory=lambda: np.empty(0, dtype=np.intp)
    )


def _wald(delta, V, ref_var):
    """Wald statistic ``delta' V^+ delta`` and its rank, with the rank rule.

    ``ref_var`` gives each entry's natural variance scale (its variance
    before any conditioning): entries whose variance in ``V`` is at most
    ``RANK_RTOL`` of it are treated as exact zeros. The rest is scaled to a
    correlation matrix and eigen-directions with eigenvalue at most
    ``RANK_RTOL * lambda_max`` are dropped. Raises ``_NullDirection`` (with
    the offending index) when ``delta`` has a component beyond
    ``_NULL_SLACK sqrt(RANK_RTOL)`` of its scale along a dropped direction:
    a difference where neither sample varies.
    """
    var = np.diagonal(V)
    live = var > RANK_RTOL * ref_var
    dead = np.flatnonzero(~live)
    if dead.size:
        slack = _NULL_SLACK * np.sqrt(RANK_RTOL * ref_var[dead])
        over = np.abs(delta[dead]) > slack
        if np.any(over):
            raise _NullDirection(int(dead[np.flatnonzero(over)[0]]))
    if not np.any(live):
        return 0.0, 0
    sd = np.sqrt(var[live])
    x = delta[live] / sd
    R = V[np.ix_(live, live)] / np.outer(sd, sd)
    lam, U = np.linalg.eigh(R)
    lam_max = lam[-1]
    keep = lam > RANK_RTOL * lam_max
    y = U.T @ x
    resid = y[~keep]
    if resid.size and np.sqrt(resid @ resid) > _NULL_SLACK * np.sqrt(
        RANK_RTOL * lam_max
    ):
        comp = U[:, ~keep] @ resid
        raise _NullDirection(int(np.flatnonzero(live)[np.argmax(np.abs(comp))]))
    T2 = float(np.sum(y[keep] ** 2 / lam[keep]))
    return T2, int(keep.sum())


class _NullDirection(Exception):
    def __init__(self, index):
        self.index = index


def _f_p_value(T2, k, nu):
    """Hotelling scaling of a Wald statistic: F(k, nu - k + 1), else chi2(k)."""
    if k == 0:
        return 1.0
    df2 = nu - k + 1
    if df2 <= 0:
        return float(stats.chi2.sf(T2, k))
    return float(stats.f.sf(df2 / (k * nu) * T2, k, df2))


def _constant_features(s: MomentSums) -> np.ndarray:
    """Features with no within-sample variation beyond Chan-update rounding."""
    d = s.d
    v = np.diagonal(s.scatter)[:d] / s.n
    return v <= _RESOLUTION**2 * (np.square(s.mean[:d]) + v)


def asymptotic_test(ref: MomentSums, new: MomentSums) -> AsymptoticResult:
    """Distribution-free asymptotic test of "same mean and same covariance".

    With ``delta = mean_ref(f) - mean_new(f)`` the difference of the moment
    features' means and ``G`` their pooled within-sample covariance (the
    empirical fourth moments of ``z``; ``nu = N - 2`` degrees of freedom),
    ``V = G (1/n1 + 1/n2)`` estimates the covariance of ``delta`` without
    any Gaussian assumption. The parts are Wald statistics on blocks of
    ``delta``:

    - 'mean': ``delta_z' V_zz^+ delta_z`` over the d means -- exactly
      Hotelling's two-sample T^2;
    - 'variance': the d squares ``z_j^2`` *given the means* (the residual
      ``delta_s - V_sz V_zz^+ delta_z`` with the Schur complement as its
      covariance), i.e. a test of equal variances that is asymptotically
      independent of the mean part and does not depend on the centring;
    - 'covariance' ('full', d > 1): all d (d + 1) / 2 products given the means.

    Each part's ``T^2`` with rank ``k`` (and ``nu_b = nu`` for the mean part,
    ``nu - k_mean`` for the conditional parts) gets Hotelling's small-sample
    scaling ``(nu_b - k + 1) / (k nu_b) T^2 ~ F(k, nu_b - k + 1)``. The
    p-value is the weighted Bonferroni combination ``min(1, min_k p_k /
    w_k)`` with weights ``PART_WEIGHTS`` (valid under any dependence).
    Per-feature p-values test (mean, second moment) of each feature with 2
    degrees of freedom. Rank rule: see ``RANK_RTOL`` and the module
    docstring.

    ``calibrated`` is True when every sample has

    - at least ``CALIBRATION_MIN_RATIO`` samples per moment parameter
      (``n_min >= 5 q``), so the q x q moment covariance is estimated
      reliably, and
    - at least ``CALIBRATION_MAX_KURTOSIS_RATIO`` samples per unit of the
      largest kurtosis of a moment feature in either sample (``n_min >= 8
      kappa_max``; the sample kurtosis of n rows cannot exceed about n, and
      comes near it when a few rows dominate a feature).

    Otherwise ``reason`` says which condition failed and suggests the
    permutation method (exact for any distribution).

    Parameters
    ----------
    ref, new : MomentSums
        Sums of the two samples (same ``d`` and covariance type), computed on
        rows centred and scaled the same way.

    Returns
    -------
    AsymptoticResult

    Raises
    ------
    DriftBeyondResolution
        When the samples differ where neither varies (a feature constant in
        both samples with different values, a linear relation between moment
        features that holds in both with different constants), or when the
        moment sums overflow float64: drift beyond doubt.

    Examples
    --------
    >>> import numpy as np
    >>> from skkl.drift._asymptotic import MomentSums, asymptotic_test
    >>> rng = np.random.default_rng(0)
    >>> ref = MomentSums.from_rows(rng.normal(size=(5000, 3)))
    >>> res = asymptotic_test(ref, MomentSums.from_rows(rng.normal(size=(5000, 3))))
    >>> res.part_names, res.calibrated, bool(res.p_value > 0.05)
    (('mean', 'variance', 'covariance'), True, True)
    >>> scaled = MomentSums.from_rows(rng.normal(size=(5000, 3)) * [1.1, 1, 1])
    >>> bool(asymptotic_test(ref, scaled).p_values[1] < 1e-6)
    True
    """
    check_same_layout(("ref", ref), ("new", new))
    for name, s in (("ref", ref), ("new", new)):
        if s.n <= 1:
            raise ValueError(
                f"{name} needs a total weight above 1 (at least 2 samples), got {s.n}."
            )
        if not (np.all(np.isfinite(s.mean)) and np.all(np.isfinite(s.scatter))):
            raise DriftBeyondResolution(
                f"the moment sums of {name} overflow float64: its rows are "
                "beyond ~1e154 of the reference's scale from its centre (a "
                "shift of that size is drift beyond doubt; check units and "
                "sentinel values)."
            )
    # q x q eigendecompositions: threads inside BLAS only spin at this size.
    with blas_single_thread():
        return _test(ref, new)


def _constant_in_both(ref, new):
    """Features constant in both samples; drift beyond doubt if their value moved."""
    d = ref.d
    both = _constant_features(ref) & _constant_features(new)
    mz1, mz2 = ref.mean[:d], new.mean[:d]
    tol_eq = _RESOLUTION * np.maximum(np.abs(mz1), np.abs(mz2))
    changed = both & (np.abs(mz1 - mz2) > tol_eq)
    if np.any(changed):
        f = int(np.flatnonzero(changed)[0])
        raise DriftBeyondResolution(
            f"feature {f} is constant in both samples but its value changed "
            f"(from {mz1[f]:.6g} to {mz2[f]:.6g} in the scaled units): drift "
            "beyond doubt.",
            feature=f,
        )
    return both


class _Wald:
    """Wald tests on blocks of ``delta`` with covariance ``V`` (see ``_wald``)."""

    def __init__(self, delta, V, d, pairs):
        self.delta, self.V, self.d, self.i = delta, V, d, pairs[0]

    def __call__(self, dl, Vb, ref_var, idx):
        try:
            return _wald(dl, Vb, ref_var)
        except _NullDirection as e:
            k = int(idx[e.index])
            f = k if k < self.d else int(self.i[k - self.d])
            raise DriftBeyondResolution(
                f"the samples differ in a moment of feature {f} along which "
                "neither sample varies (a linear relation between the features' "
                "moments that holds within both samples with different "
                "constants): drift beyond doubt.",
                feature=f,
            ) from None

    def conditional(self, idx, zi, Vzz_pinv):
        """The block ``idx`` given the means ``zi`` (Schur complement)."""
        V, delta = self.V, self.delta
        Vbz = V[np.ix_(idx, zi)]
        B = Vbz @ Vzz_pinv
        Vbb = V[np.ix_(idx, idx)]
        S = Vbb - B @ Vbz.T
        return self(delta[idx] - B @ delta[zi], (S + S.T) * 0.5, np.diagonal(Vbb), idx)

    def features(self, both, var_idx, nu):
        """Per-feature (mean, second moment) statistics and p-values."""
        feat_T, feat_p = np.zeros(self.d), np.ones(self.d)
        for f in np.flatnonzero(~both):
            idx = np.array([f, var_idx[f]])
            Vb = self.V[np.ix_(idx, idx)]
            feat_T[f], k = self(self.delta[idx], Vb, np.diagonal(Vb), idx)
            feat_p[f] = _f_p_value(feat_T[f], k, nu)
        return feat_T, feat_p


def _test(ref, new):
    d, ctype = ref.d, ref.covariance_type
    i, j = second_pairs(d, ctype)
    n1, n2 = ref.n, new.n
    nu = n1 + n2 - 2.0
    both = _constant_in_both(ref, new)
    # A feature constant (with one value) in both samples carries no evidence:
    # leave out its mean, its square and its products.
    keep = ~np.concatenate([both, both[i] | both[j]])
    V = (ref.scatter + new.scatter) * ((1.0 / n1 + 1.0 / n2) / nu)
    wald = _Wald(ref.mean - new.mean, (V + V.T) * 0.5, d, (i, j))
    zi = np.flatnonzero(keep[:d])
    var_idx = d + np.flatnonzero(i == j)
    blocks = {"variance": var_idx[keep[var_idx]]}
    if ctype == "full" and d > 1:
        second = d + np.arange(i.size)
        blocks["covariance"] = second[keep[second]]
    weights_map = PART_WEIGHTS if "covariance" in blocks else PART_WEIGHTS_DIAG
    Vzz = wald.V[np.ix_(zi, zi)]
    T2_mean, k_mean = wald(wald.delta[zi], Vzz, np.diagonal(Vzz), zi)
    names, T2s, ks = ["mean"], [T2_mean], [k_mean]
    ps = [_f_p_value(T2_mean, k_mean, nu)]
    # Conditional parts: regress the second-moment block on the means with
    # the pseudo-inverse of V_zz under the same rank rule.
    Vzz_pinv = _pinv(Vzz)
    for name, idx in blocks.items():
        T2, k = wald.conditional(idx, zi, Vzz_pinv)
        names.append(name)
        T2s.append(T2)
        ks.append(k)
        ps.append(_f_p_value(T2, k, nu - k_mean))
    weights = np.array([weights_map[nm] for nm in names])
    ps = np.array(ps)
    feat_T, feat_p = wald.features(both, var_idx, nu)
    calibrated, reason = _calibration(ref, new, keep)
    return AsymptoticResult(
        part_names=tuple(names),
        statistics=np.array(T2s),
        dfs=np.array(ks),
        p_values=ps,
        p_value=float(min(1.0, np.min(ps / weights))),
        weights=weights,
        feature_statistics=feat_T,
        feature_p_values=feat_p,
        calibrated=calibrated,
        reason=reason,
        dropped_features=np.flatnonzero(both),
    )


def _pinv(V):
    """Pseudo-inverse of a covariance block under the rank rule of ``_wald``."""
    var = np.diagonal(V)
    live = var > 0
    out = np.zeros_like(V)
    if not np.any(live):
        return out
    sd = np.sqrt(var[live])
    lam, U = np.linalg.eigh(V[np.ix_(live, live)] / np.outer(sd, sd))
    keep = lam > RANK_RTOL * lam[-1]
    inv = (U[:, keep] / lam[keep]) @ U[:, keep].T
    out[np.ix_(live, live)] = inv / np.outer(sd, sd)
    return out


def _calibration(ref, new, keep):
    """The ``calibrated`` rule of :func:`asymptotic_test` and its reason."""
    q = int(np.count_nonzero(keep))
    n_min = min(ref.n, new.n)
    fallback = (
        " Use method='permutation' (exact for any distribution), or more samples."
    )
    if n_min < CALIBRATION_MIN_RATIO * q:
        return False, (
            f"the smaller sample has {n_min:.0f} samples for q={q} moment "
            f"parameters (means and second moments); the moment covariance is "
            f"estimated reliably from {CALIBRATION_MIN_RATIO:g} * q = "
            f"{CALIBRATION_MIN_RATIO * q:.0f} samples per sample." + fallback
        )
    kurt = np.maximum(ref.feature_kurtosis(), new.feature_kurtosis())
    kurt[~keep] = 1.0
    k_max = float(kurt.max())
    if n_min < CALIBRATION_MAX_KURTOSIS_RATIO * k_max:
        k = int(np.argmax(kurt))
        d = ref.d
        if k < d:
            what = f"feature {k}"
        else:
            a, b = (int(t[k - d]) for t in second_pairs(d, ref.covariance_type))
            what = (
                f"the square of feature {a}"
                if a == b
                else (f"the product of features {a} and {b}")
            )
        return False, (
            f"high kurtosis: {what} has kurtosis {k_max:.3g} (15 for the square "
            f"of a Gaussian feature, more for heavy tails), so its variance is "
            f"driven by a few rows; the asymptotic p-value needs at least "
            f"{CALIBRATION_MAX_KURTOSIS_RATIO:g} * kurtosis = "
            f"{CALIBRATION_MAX_KURTOSIS_RATIO * k_max:.0f} samples per sample, "
            f"the smaller has {n_min:.0f}." + fallback
        )
    return True, ""


#: Parts (and weights) of each ``statistic``: 'combined' and the others as
#: the weighted Bonferroni rule reads them (weights sum to 1).
STATISTICS = {
    "combined": PART_WEIGHTS,
    "lrt": dict.fromkeys(("mean", "variance", "covariance"), 1.0 / 3),
    "mean": {"mean": 1.0},
    "covariance": {"variance": 0.5, "covariance": 0.5},
}
STATISTICS_DIAG = {
    "combined": PART_WEIGHTS_DIAG,
    "lrt": {"mean": 0.5, "variance": 0.5},
    "mean": {"mean": 1.0},
    "covariance": {"variance": 1.0},
}


def _sample_sums(sample, std, covariance_type, keep, n_jobs) -> MomentSums:
    """Moment sums of one prepared sample in the reference's coordinates."""
    if sample.sums is not None:
        # Kept by a fit on a dask collection: features the reference does not
        # vary were summed at unit scale; rescale them exactly.
        ref_sd = sample.stats.sd
        return sample.sums.rescaled(np.where(ref_sd > 0, 1.0, 1.0 / std.scale))
    kw = dict(covariance_type=covariance_type, shift=std.centre, scale=std.scale)
    if sample.X is not None:
        return MomentSums.from_rows(sample.X, sample.w, n_jobs=n_jobs, **kw)
    from ._dask_input import moment_sums

    return moment_sums(sample.source, None, columns=keep, **kw)


def run(problem):
    """The asymptotic engine on a prepared problem (see :mod:`._engines`).

    Rows (or a dask collection, blockwise) are reduced to :class:`MomentSums`
    standardised by the reference; the effect comes from the same sums.
    Declines (:class:`~._engines.EngineDeclined`) when the test cannot be
    calibrated, or when a moment barely varies in one sample without other
    evidence of drift.
    """
    from ._effect import EffectMetric, effect_from_moment_sums
    from ._engines import EngineDeclined, EngineResult
    from ._prepare import Standardiser

    prep = problem.prepared
    std = Standardiser.reference(prep.ref.stats, prep.new.stats)
    args = (std, problem.covariance_type, prep.keep, problem.n_jobs)
    ref, new = _sample_sums(prep.ref, std, *args[1:]), _sample_sums(prep.new, *args)
    statistics = (
        STATISTICS if ref.covariance_type == "full" and ref.d > 1 else (STATISTICS_DIAG)
    )
    try:
        res = asymptotic_test(ref, new)
    except DriftBeyondResolution as exc:
        if not prep.evident:
            raise EngineDeclined(
                f"a moment barely varies in one sample ({exc})"
            ) from None
        feat_p = np.zeros(ref.d)
        if exc.feature is not None:
            feat_p = np.ones(ref.d)
            feat_p[exc.feature] = 0.0
        res, beyond = None, str(exc)
    else:
        if not res.calibrated:
            raise EngineDeclined(res.reason)
        feat_p, beyond = res.feature_p_values, None
    with np.errstate(all="ignore"):
        metric = EffectMetric.from_sums(ref.merge(new))
        effect = effect_from_moment_sums(
            ref, new, metric, (prep.ref.w2_ratio, prep.new.w2_ratio)
        )
    return EngineResult(
        engine="asymptotic",
        part_names=() if res is None else res.part_names,
        effect=effect,
        part_p_values=None if res is None else res.p_values,
        part_weights=statistics,
        feature_p_values=feat_p,
        beyond_resolution=beyond,
    )
