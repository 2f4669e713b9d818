"""Mixed tables for the drift benchmarks (not a benchmark itself).

:func:`census` draws a census-like table: numeric columns (one sparse, one
discrete), five categorical columns with 2 to 50 levels (rare ones
included), three booleans, and 10% of the cells missing in three columns
(one numeric, one categorical, one boolean). The planted changes of the
power study are functions ``(frame, rng) -> frame`` of the tested sample:
:data:`SCENARIOS`.

:func:`to_codes` is the preprocessing a user of alibi-detect's
``TabularDrift`` (numbers only) would write: categorical and boolean columns
as integer codes (a missing cell its own code), numeric missing cells filled
with the reference's median plus a 0/1 missing-indicator column, tested as
categorical. It gives the peer every change skkl sees.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["SCENARIOS", "census", "holed", "to_codes"]

_LEVELS = {
    "sex": (2, None),
    "race": (5, [0.85, 0.09, 0.03, 0.02, 0.01]),
    "education": (10, None),
    "occupation": (20, None),
    "country": (50, None),
}
#: Missing cells (10%) in one numeric, one categorical and one boolean column.
MISSING_COLUMNS = ("income", "occupation", "married")


def _zipf(k: int, s: float = 1.0) -> np.ndarray:
    p = 1.0 / np.arange(1, k + 1) ** s
    return p / p.sum()


def _probs(name):
    k, p = _LEVELS[name]
    if p is not None:
        return np.asarray(p)
    if name == "sex":
        return np.array([0.52, 0.48])
    if name == "country":
        # One dominant level and a long tail of rare ones.
        tail = _zipf(k - 1, 1.2) * 0.1
        return np.concatenate([[0.9], tail])
    return _zipf(k, 0.8 if name == "education" else 1.0)


def _plus(p: np.ndarray, k: int, points: float) -> np.ndarray:
    """``p`` with level ``k`` raised by ``points``, the others scaled down."""
    out = p * (1 - p[k] - points) / (1 - p[k])
    out[k] = p[k] + points
    return out


def census(n: int, rng, missing: float = 0.1, education_plus: float = 0.0):
    """A census-like table of ``n`` rows (see the module docstring).

    ``education_plus`` raises the frequency of education's third level by
    that many points (its dependent columns follow, as in a real change of
    the population).
    """
    probs = {name: _probs(name) for name in _LEVELS}
    probs["education"] = _plus(probs["education"], 2, education_plus)
    cats = {name: rng.choice(len(p), p=p, size=n) for name, p in probs.items()}
    age = np.minimum(17 + rng.gamma(2.0, 10.0, n), 90).round()
    edu = cats["education"]
    income = np.exp(10 + 0.08 * (9 - edu) + 0.3 * rng.normal(size=n))
    gain = np.where(rng.random(n) < 0.08, np.exp(8 + rng.normal(size=n)), 0.0)
    frame = pd.DataFrame(
        {
            "age": age,
            "hours": 40 + 12 * rng.normal(size=n),
            "income": income,
            "capital_gain": gain,
            "education_years": 16 - edu + rng.integers(0, 2, n),
            **{
                name: pd.Categorical.from_codes(
                    cats[name], [f"{name[:3]}{k}" for k in range(len(_probs(name)))]
                )
                for name in _LEVELS
            },
            "married": rng.random(n) < 1 / (1 + np.exp(-(age - 35) / 8)),
            "union": rng.random(n) < 0.1,
            "remote": rng.random(n) < 0.5,
        }
    )
    for col in MISSING_COLUMNS:
        holes = rng.random(n) < missing
        if col == "married":
            frame[col] = frame[col].astype("boolean")
        frame.loc[holes, col] = pd.NA if col == "married" else np.nan
    return frame


def holed(X: np.ndarray, rng, share: float = 0.1) -> pd.DataFrame:
    """``X`` as a DataFrame with ``share`` of its cells removed at random."""
    frame = pd.DataFrame(np.asarray(X, dtype=np.float64))
    frame.columns = [f"f{j}" for j in range(frame.shape[1])]
    return frame.mask(rng.random(frame.shape) < share)


# -- planted changes of the tested sample ----------------------------------------


def level_plus_5(frame, rng):
    """One level's frequency +5 points (education's third level, 12% -> 17%).

    The tested sample is drawn again with that frequency, so the columns that
    depend on education (income, education_years) follow it: only the
    level's frequency changes, not how it relates to the rest.
    """
    return census(len(frame), rng, education_plus=0.05)


def new_level(frame, rng):
    """A level the reference never had, in 2% of rows (occupation)."""
    out = frame.copy()
    col = out["occupation"].cat.add_categories(["occNEW"])
    col[rng.random(len(out)) < 0.02] = "occNEW"
    out["occupation"] = col
    return out


def missing_15(frame, rng):
    """income's missing rate 10% -> 15%."""
    out = frame.copy()
    observed = out["income"].notna().to_numpy()
    more = observed & (rng.random(len(out)) < 0.05 / 0.9)
    out.loc[more, "income"] = np.nan
    return out


def joint(frame, rng, beta: float = 0.5):
    """hours and remote become dependent; both marginals stay put.

    ``remote`` is redrawn as Bernoulli(sigmoid(beta z)) with ``z`` the
    standardised hours: symmetric in ``z``, so P(remote) stays 1/2 and the
    hours are untouched, while mean hours move up among remote rows and down
    among the others.
    """
    out = frame.copy()
    z = (out["hours"].to_numpy() - 40) / 12
    out["remote"] = rng.random(len(out)) < 1 / (1 + np.exp(-beta * z))
    return out


SCENARIOS = {
    "one level +5 points": level_plus_5,
    "new level in 2% of rows": new_level,
    "missing rate 10% -> 15%": missing_15,
    "joint (hours x remote)": joint,
}


def to_codes(ref: pd.DataFrame, cur: pd.DataFrame):
    """Both frames as numbers for TabularDrift, and its categorical columns.

    Returns ``X_ref, X_cur`` (float arrays) and the indices of the columns to
    test as categorical.
    """
    cols_ref, cols_cur, categorical = [], [], []
    for name in ref.columns:
        a, b = ref[name], cur[name]
        numeric = pd.api.types.is_float_dtype(a) or pd.api.types.is_integer_dtype(a)
        if numeric:
            fill = float(a.median())
            cols_ref.append(a.fillna(fill).to_numpy(float))
            cols_cur.append(b.fillna(fill).to_numpy(float))
            if a.isna().any() or b.isna().any():
                categorical.append(len(cols_ref))
                cols_ref.append(a.isna().to_numpy(float))
                cols_cur.append(b.isna().to_numpy(float))
            continue
        levels = pd.Index(pd.unique(pd.concat([a.astype(object), b.astype(object)])))
        levels = levels[~pd.isna(levels)]
        categorical.append(len(cols_ref))
        for src, dst in ((a, cols_ref), (b, cols_cur)):
            codes = levels.get_indexer(src.astype(object))
            dst.append(np.where(codes < 0, len(levels), codes).astype(float))
    return np.column_stack(cols_ref), np.column_stack(cols_cur), categorical
