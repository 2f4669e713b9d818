"""The drift engines: one record each, their costs, and the choice between them.

Each engine is an :class:`EngineInfo` record, built with keywords, that the
detector's dispatch reads (as ``scipy.spatial.distance`` keeps one record per
metric): what it needs (rows, covariance type, shrinkage), a cost model
(flops and peak bytes, predicted before anything is allocated), the
combination weights of its parts, and the function that runs it. Every
engine returns one named type, :class:`EngineResult`, or raises
:class:`EngineDeclined` with the reason, and the next engine in the plan
answers.

Choice (``method='auto'``): power first, cost second. The moment engine
('permutation', the exact likelihood-ratio parts) whenever its predicted work
is within ``AUTO_FLOPS``; else the asymptotic test where the samples are
large for the number of moment parameters; else the Gram engine (d large
relative to n). An engine whose predicted peak memory exceeds the budget
(``working_memory``) is never tried. An explicitly requested engine that
cannot fit raises with the predicted figures and the engine that fits;
'asymptotic' falls back, as documented; one predicted to take far longer
than another warns.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sklearn import get_config

from .._errors import InputError
from ._sums import n_second

__all__ = [
    "AUTO_FLOPS",
    "ENGINES",
    "EngineDeclined",
    "EngineInfo",
    "EngineResult",
    "Plan",
    "Problem",
    "Sizes",
    "SplitSampler",
    "engine_table",
    "min_permutations",
    "permutations_text",
    "plan_engines",
]

#: 'auto' uses the moment engine while its predicted work is below this many
#: flops: a few seconds at the 10-50 GFlop/s that BLAS reaches on one or two
#: cores. Seconds, not milliseconds, decide: it is the most powerful engine.
AUTO_FLOPS = 5e10
#: 'auto' uses the asymptotic test only with this many rows per sample per
#: moment parameter (twice what its calibration rule requires, so that the
#: rule rarely sends it back).
ASYMPTOTIC_ROWS_PER_PARAMETER = 10
#: An explicitly requested engine predicted to need this many times the work
#: of the cheapest engine that fits (and more than ``AUTO_FLOPS``) warns.
SLOW_FACTOR = 10.0
#: The effect's null spread is taken over this many permuted splits by the
#: moment engine (each costs a few d x d products): its relative standard
#: error is then about 1 / sqrt(2 * 200) = 5%.
EFFECT_NULL_SPLITS = 200
# Flop-equivalents per moment-feature element for building the features and
# streaming them through memory (measured: at d=768, 2000 rows and B=10, the
# features' construction and traffic took longer than the products).
_FEATURE_TRAFFIC = 40.0


class EngineDeclined(Exception):
    """An engine cannot answer on this data; ``reason`` says why."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Sizes:
    """What the cost models read: sample sizes, dimension and settings."""

    n1: int
    n2: int
    d: int
    covariance_type: str = "full"
    n_permutations: int = 1000
    has_rows: bool = True
    shrinkage: bool = False

    @property
    def N(self) -> int:
        return self.n1 + self.n2

    @property
    def q(self) -> int:
        """Moment parameters: means and second moments."""
        return self.d + n_second(self.d, self.covariance_type)


@dataclass(frozen=True)
class Cost:
    """Predicted floating-point operations and memory of one engine run.

    ``fixed_bytes`` must be held at once whatever the budget (rows and their
    transforms, q x q sums, split memberships); the engine's chunked work
    adapts to ``working_memory``, so the peak is at most the fixed bytes
    plus the budget.
    """

    flops: float
    fixed_bytes: float

    @property
    def peak_bytes(self) -> float:
        return self.fixed_bytes + _budget_bytes()


@dataclass(frozen=True)
class EngineResult:
    """What every engine returns (row 0 of permutation arrays is the observed split).

    Attributes
    ----------
    engine : str
        The engine's name.
    part_names : tuple of str
        Names of the part statistics.
    values : ndarray of shape (R, n_parts) or None
        Permutation engines: the parts of the observed split and of every
        permutation.
    part_p_values : ndarray of shape (n_parts,) or None
        Asymptotic engine: the parts' p-values.
    part_weights : dict
        Weights of the parts in ``statistic='combined'``.
    feature_values : ndarray of shape (R, d) or None
        Permutation engines: per-feature statistics (larger is more drift).
    feature_p_values : ndarray of shape (d,) or None
        Asymptotic engine: unadjusted per-feature p-values.
    effect : EffectEstimate
    beyond_resolution : str or None
        Why the samples differ beyond what float64 sums resolve (drift
        beyond doubt, p-value 0), when they do.
    """

    engine: str
    part_names: tuple
    effect: object
    values: np.ndarray | None = None
    part_p_values: np.ndarray | None = None
    part_weights: dict = field(default_factory=dict)
    feature_values: np.ndarray | None = None
    feature_p_values: np.ndarray | None = None
    beyond_resolution: str | None = None


@dataclass(frozen=True)
class EngineInfo:
    """One drift engine: what it needs, what it costs, how to run it.

    Attributes
    ----------
    name : str
        The ``method`` value that requests it.
    summary : str
        One line for the user guide's table.
    exact : bool
        Permutation p-values, exact for any distribution.
    needs_rows : bool
        Whether it needs the rows in memory (not sums of a dask collection).
    covariance_types : frozenset of str
    accepts_shrinkage : bool
    cost : callable
        ``Sizes -> Cost``, evaluated before anything is allocated.
    unusable : callable
        ``Sizes -> str or None``: why the engine cannot run at these sizes.
    runner : str
        ``'module:function'`` of the engine's ``run(problem) -> EngineResult``.
    """

    name: str
    summary: str
    exact: bool
    needs_rows: bool
    covariance_types: frozenset
    accepts_shrinkage: bool
    cost: Callable[[Sizes], Cost]
    unusable: Callable[[Sizes], str | None]
    runner: str

    def run(self, problem) -> EngineResult:
        module, func = self.runner.split(":")
        return getattr(importlib.import_module(module, __package__), func)(problem)

    def refusal(self, sizes: Sizes) -> str | None:
        """Why this engine cannot take these sizes at all (None if it can)."""
        if self.needs_rows and not sizes.has_rows:
            return "it needs the rows in memory (the data are moment sums)"
        if sizes.covariance_type not in self.covariance_types:
            return f"it does not support covariance_type={sizes.covariance_type!r}"
        if sizes.shrinkage and not self.accepts_shrinkage:
            return "it does not use shrinkage (leave shrinkage=None)"
        return self.unusable(sizes)


# -- cost models --------------------------------------------------------------------


def _budget_bytes() -> float:
    return get_config()["working_memory"] * 2.0**20


def _moment_cost(s: Sizes) -> Cost:
    full = s.covariance_type == "full"
    cols = 1 + s.q + 3
    R = s.n_permutations + 1
    E = min(R, EFFECT_NULL_SPLITS + 1)
    # The products; building the moment features and streaming them through
    # memory (``_FEATURE_TRAFFIC`` flop-equivalents per element, whatever R);
    # per split three Cholesky factorisations and the d x d matrices they
    # read (counted twice: batched small factorisations run at half a GEMM's
    # rate); the effect's whitening of E splits' moments.
    flops = 2.0 * s.N * cols * R + _FEATURE_TRAFFIC * s.N * cols
    flops += R * 2.0 * s.d**3 + 4.0 * E * s.d**3 if full else 0.0
    # Held at once: the pooled rows, standardised and whitened, the effect's
    # per-row columns, the parts and per-feature statistics of every split,
    # and the effect's split sums (feature blocks and split chunks adapt).
    fixed = 16.0 * s.N * s.d + 24.0 * s.N + 8.0 * R * (7 + s.d)
    fixed += 8.0 * E * cols + (8.0 * E * s.d * s.d * 3 if full else 0.0)
    return Cost(flops, fixed)


def _gram_cost(s: Sizes) -> Cost:
    from ._gram import gram_flops, gram_peak_bytes

    B = s.n_permutations
    R = B + 1
    flops = gram_flops(s.N, s.d, B) + s.d**3 / 3.0 + 4.0 * s.N * s.d**2
    flops += 2.0 * R * s.N * (1 + 2 * s.d)  # per-feature parts
    # gram_peak_bytes holds its blocks within the budget: count the rest.
    blocks = min(_budget_bytes(), gram_peak_bytes(s.N, s.d, B))
    fixed = gram_peak_bytes(s.N, s.d, B) - blocks + R * s.N
    fixed += 24.0 * s.N * s.d + 8.0 * s.d * s.d
    return Cost(flops, fixed)


def _asymptotic_cost(s: Sizes) -> Cost:
    q = float(s.q)
    # The rank-k updates of the sums, then eigendecompositions and the
    # effect's null spread on q x q matrices.
    flops = s.N * q * q + 30.0 * q**3
    # Two samples' sums, their merge and the test's work copies of q x q.
    return Cost(flops, 6.0 * 8.0 * q * q)


def _moment_unusable(s: Sizes) -> str | None:
    return None


def _gram_unusable(s: Sizes) -> str | None:
    if min(s.n1, s.n2) < 2:
        return "its U-statistics need at least 2 rows in each sample"
    return None


def _asymptotic_unusable(s: Sizes) -> str | None:
    from ._asymptotic import CALIBRATION_MIN_RATIO

    need = CALIBRATION_MIN_RATIO * s.q
    if min(s.n1, s.n2) < need:
        return (
            f"the smaller sample has {min(s.n1, s.n2)} rows for q={s.q} moment "
            f"parameters; the moment covariance needs {CALIBRATION_MIN_RATIO:g} * q "
            f"= {need:.0f} rows per sample"
        )
    return None


ENGINES: tuple[EngineInfo, ...] = (
    EngineInfo(
        name="permutation",
        summary="moment features; all permutations from one matrix product",
        exact=True,
        needs_rows=True,
        covariance_types=frozenset({"full", "diag"}),
        accepts_shrinkage=True,
        cost=_moment_cost,
        unusable=_moment_unusable,
        runner="._permutation:run",
    ),
    EngineInfo(
        name="asymptotic",
        summary="distribution-free Wald test on streaming moment sums",
        exact=False,
        needs_rows=False,
        covariance_types=frozenset({"full", "diag"}),
        accepts_shrinkage=False,
        cost=_asymptotic_cost,
        unusable=_asymptotic_unusable,
        runner="._asymptotic:run",
    ),
    EngineInfo(
        name="gram",
        summary="U-statistics from the Gram matrix of the whitened rows",
        exact=True,
        needs_rows=True,
        covariance_types=frozenset({"full"}),
        accepts_shrinkage=True,
        cost=_gram_cost,
        unusable=_gram_unusable,
        runner="._gram:run",
    ),
)
_BY_NAME = {e.name: e for e in ENGINES}


@dataclass(frozen=True)
class Plan:
    """Engines to try in order, why the first was chosen, and what to warn."""

    order: tuple
    reason: str
    warnings: tuple = ()


def _fmt_bytes(b: float) -> str:
    return f"{b / 2**30:.3g} GiB" if b >= 2**30 else f"{b / 2**20:.3g} MiB"


def _fits(engine: EngineInfo, sizes: Sizes) -> bool:
    return engine.cost(sizes).fixed_bytes <= _budget_bytes()


def _auto_order(sizes: Sizes) -> tuple[list, str]:
    usable = [e for e in ENGINES if e.refusal(sizes) is None and _fits(e, sizes)]
    moment = _BY_NAME["permutation"]
    order, reason = [], ""
    if moment in usable and moment.cost(sizes).flops <= AUTO_FLOPS:
        order.append(moment)
        reason = (
            f"the moment engine's {moment.cost(sizes).flops:.2g} flops are affordable"
        )
    asym = _BY_NAME["asymptotic"]
    big = min(sizes.n1, sizes.n2) >= ASYMPTOTIC_ROWS_PER_PARAMETER * sizes.q
    if asym in usable and big:
        order.append(asym)
        reason = reason or (
            f"{min(sizes.n1, sizes.n2)} rows per sample for q={sizes.q} moment "
            "parameters: the asymptotic test is calibrated and cheapest"
        )
    for e in sorted(usable, key=lambda e: e.cost(sizes).flops):
        if e not in order and e is not asym:
            order.append(e)
    if asym in usable and asym not in order:
        order.append(asym)  # a last resort where its calibration may hold
    if not order:
        raise _nothing_fits(sizes)
    reason = reason or (
        f"the {order[0].name!r} engine is the cheapest that fits "
        f"({order[0].cost(sizes).flops:.2g} flops)"
    )
    return order, reason


def _nothing_fits(sizes: Sizes) -> InputError:
    lines = []
    for e in ENGINES:
        why = e.refusal(sizes)
        if why is None:
            c = e.cost(sizes)
            why = f"needs {_fmt_bytes(c.fixed_bytes)} ({c.flops:.2g} flops)"
        lines.append(f"{e.name}: {why}")
    fix = (
        "raise the budget with sklearn.config_context(working_memory=...), "
        "or test a subsample of rows or fewer features"
        if sizes.has_rows
        else "compute an in-memory sample (a few partitions or rows) and test "
        "it with method='permutation', exact for any distribution"
    )
    return InputError(
        "no drift engine can test {n1}+{n2} rows x {d} features "
        "(working_memory={wm} MiB): " + "; ".join(lines) + "; {fix}.",
        n1=sizes.n1,
        n2=sizes.n2,
        d=sizes.d,
        wm=get_config()["working_memory"],
        fix=fix,
    )


def plan_engines(method: str, sizes: Sizes) -> Plan:
    """The engines to try for ``method`` at these sizes, in order.

    Raises an :class:`~skkl._errors.InputError` (a ValueError) before
    anything is allocated when the requested engine cannot run or does not
    fit, naming the predicted figures and the engine that fits.
    """
    if method == "auto":
        order, reason = _auto_order(sizes)
        return Plan(tuple(order), reason)
    engine = _BY_NAME[method]
    why = engine.refusal(sizes)
    cost = engine.cost(sizes)
    if why is None and cost.fixed_bytes > _budget_bytes():
        why = (
            f"it is predicted to need {_fmt_bytes(cost.fixed_bytes)} at once, "
            f"over working_memory={get_config()['working_memory']} MiB"
        )
    try:
        alternatives, _ = _auto_order(sizes)
    except ValueError:
        alternatives = []
    others = [e for e in alternatives if e is not engine]
    if why is not None:
        if method == "asymptotic" and others:
            note = (
                f"method='asymptotic' cannot run here ({why}); used the "
                f"{others[0].name!r} engine instead."
            )
            return Plan(tuple(others), "fallback", (note,))
        raise _refused(method, why, others, sizes)
    warnings = []
    if others:
        best = min(others, key=lambda e: e.cost(sizes).flops)
        ratio = cost.flops / max(best.cost(sizes).flops, 1.0)
        if cost.flops > AUTO_FLOPS and ratio > SLOW_FACTOR:
            warnings.append(
                f"method={method!r} is predicted to take {cost.flops:.2g} flops, "
                f"{ratio:.0f} times the {best.name!r} engine's "
                f"{best.cost(sizes).flops:.2g}: expect it to be slow, or use "
                f"method={best.name!r} (or 'auto')."
            )
    fallback = tuple(e for e in others if method == "asymptotic")
    return Plan((engine, *fallback), "requested", tuple(warnings))


def _refused(method, why, others, sizes) -> InputError:
    fix = (
        f"use method={others[0].name!r} (or 'auto')"
        if others
        else "raise working_memory or test fewer rows or features"
    )
    return InputError(
        "{argument}={method!r} cannot test {n1}+{n2} rows x {d} features: {why}; "
        "{fix}.",
        argument="method",
        method=method,
        n1=sizes.n1,
        n2=sizes.n2,
        d=sizes.d,
        why=why,
        fix=fix,
    )


def engine_table(cases=None, n_permutations: int = 1000) -> str:
    """The engine 'auto' picks for typical sizes, as an rst table.

    The user guide's table is this function's output (a doctest keeps them
    equal).

    Parameters
    ----------
    cases : sequence of (label, n_per_sample, d), default=None
        None gives the guide's cases.
    n_permutations : int, default=1000

    Returns
    -------
    str
    """
    if cases is None:
        cases = (
            ("breast cancer halves", 284, 30),
            ("digits halves", 898, 61),
            ("embeddings", 1000, 768),
            ("d > n", 100, 500),
            ("", 2000, 10),
            ("", 2000, 100),
            ("", 100_000, 20),
            ("", 1_000_000, 20),
        )
    rows = [("rows per sample", "d", "engine", "predicted flops")]
    for label, n, d in cases:
        sizes = Sizes(n, n, d, n_permutations=n_permutations, shrinkage=d >= n)
        plan = plan_engines("auto", sizes)
        first = plan.order[0]
        what = f"{n} ({label})" if label else f"{n}"
        rows.append((what, str(d), first.name, f"{first.cost(sizes).flops:.1e}"))
    widths = [max(len(r[k]) for r in rows) for k in range(4)]
    rule = "  ".join("=" * w for w in widths)
    lines = [
        rule,
        "  ".join(c.ljust(w) for c, w in zip(rows[0], widths, strict=True)),
        rule,
    ]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
        for r in rows[1:]
    ]
    lines.append(rule)
    return "\n".join(line.rstrip() for line in lines)


def min_permutations(alpha: float) -> float:
    """Smallest B with ``1 / (B + 1) < alpha`` (inf when 1/alpha overflows).

    Closed form, no search over B: ``alpha = 1e-30`` answers at once.
    """
    with np.errstate(over="ignore", divide="ignore"):
        inv = 1.0 / np.float64(alpha)
    if not math.isfinite(inv):
        return math.inf
    B = max(1, math.floor(inv) - 1)
    if inv > 2.0**52:  # B + 1 is not representable apart from B: done
        return B
    # At most two steps: floor(1/alpha) - 1 is within one of the answer.
    while 1.0 / (B + 1) >= alpha:
        B += 1
    return B


def permutations_text(B: float) -> str:
    """``B`` for a message: all its digits while they are exact, else 3.

    Above 2**53 a float no longer holds every integer, so its digits past the
    third would be noise (and ``inf`` has none).

    Examples
    --------
    >>> permutations_text(1999.0), permutations_text(1e30)
    ('1999', '1e+30')
    """
    return str(int(B)) if B <= 2.0**53 else f"{B:.3g}"


@dataclass(frozen=True)
class Problem:
    """Everything an engine's ``run`` reads: the prepared samples and settings."""

    prepared: object
    covariance_type: str = "full"
    shrinkage: object = None
    statistic: str = "combined"
    n_permutations: int = 1000
    seed: int = 0
    n_jobs: int | None = None


class SplitSampler:
    """The observed split and B random splits, generated chunk by chunk.

    Row 0 is the observed split (the first ``n1`` rows in group 1); each
    random split is a uniformly random ``n1``-subset of the ``N`` rows, drawn
    in order from one generator seeded by ``seed``, so the splits do not
    depend on the chunk size or on ``n_jobs``.
    """

    def __init__(self, N: int, n1: int, B: int, seed):
        self.N, self.n1, self.B = N, n1, B
        self._rng = np.random.default_rng(seed)
        self._next = 0
        self._base = np.zeros(N, dtype=bool)
        self._base[:n1] = True

    @property
    def n_rows(self) -> int:
        return self.B + 1

    def take(self, k: int) -> np.ndarray:
        """The next ``k`` splits (bool, shape (k, N)), row 0 first."""
        k = min(k, self.n_rows - self._next)
        out = np.empty((k, self.N), dtype=bool)
        start = 0
        if self._next == 0 and k > 0:
            out[0] = self._base
            start = 1
        if k > start:
            out[start:] = self._rng.permuted(
                np.broadcast_to(self._base, (k - start, self.N)), axis=1
            )
        self._next += k
        return out

    def all(self) -> np.ndarray:
        return self.take(self.n_rows - self._next)
