"""Features for the global model: one row per (series, forecast origin t, step k).

The strategy is direct multi-horizon with the step as a feature: one model predicts
y[t+k] for every k = 1..H from what is known at the origin t. Against leakage, every
column is computed either at the origin (lags of the target, rolling statistics, past-only
covariates: values at t and before) or at the target time t+k from things known in advance
(calendar, holidays, known covariates, and the target one season before t+k, taken at or
before t). A past-only covariate is therefore never read after the origin, whatever k.

Targets and target features are centred on the level at the origin (mean of the last
season) and divided by the series' seasonal naive MAE, so one model serves series of any
size and its squared error weighs series as MASE does.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from trialflow.errors import DataError
from trialflow.forecast.dates import calendar_columns, calendar_parts, holiday_columns
from trialflow.forecast.metrics import seasonal_scale
from trialflow.forecast.series import Panel

# Longer cycles looked up at the target time besides the season: a year of days, a week
# of hours.
LONG_PERIODS = {"D": 364, "h": 168, "H": 168}


@dataclass(frozen=True)
class FeatureSpec:
    """What the global model's columns are; plain values, stored with the model."""

    horizon: int
    season_length: int
    frequency: str
    lags: tuple[int, ...]
    periods: tuple[int, ...]
    windows: tuple[int, ...]
    calendar: tuple[str, ...]
    country: str
    known: tuple[str, ...]
    past: tuple[str, ...]
    series_ids: tuple[str, ...]
    categories: dict[str, list]

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, state: dict) -> FeatureSpec:
        tuples = {k: tuple(v) for k, v in state.items() if isinstance(v, list)}
        return cls(**{**state, **tuples, "categories": dict(state["categories"])})

    def names(self) -> list[str]:
        names = ["step", "series", "level", "trend", "std_season"]
        names += [f"lag_{j}" for j in self.lags] + [f"mean_{w}" for w in self.windows]
        names += [f"same_{p}" for p in self.periods]
        names += [f"change_{p}" for p in self.periods if p > self.season_length]
        names += [f"cal_{c}" for c in self.calendar]
        if self.country:
            names += ["is_holiday", "days_to_holiday", "days_since_holiday"]
        names += [f"known_{c}" for c in self.known]
        names += [f"past_{c}" for c in self.past] + [f"past_mean_{c}" for c in self.past]
        return names


def make_spec(
    panel: Panel, horizon: int, *, country: str = "", known: tuple[str, ...] = ()
) -> FeatureSpec:
    """Columns for ``panel``: past-only covariates are the numeric covariates not named as
    known (text past covariates are left out; the caller notes it)."""
    m = panel.season_length
    base = to_offset(panel.frequency).rule_code.split("-")[0]
    frame = panel.frame
    past = tuple(
        c
        for c in panel.covariates
        if c not in known
        and (pd.api.types.is_numeric_dtype(frame[c]) or pd.api.types.is_bool_dtype(frame[c]))
    )
    categories = {
        c: sorted(frame[c].dropna().astype(str).unique().tolist())
        for c in known
        if not pd.api.types.is_numeric_dtype(frame[c])
    }
    periods = tuple(p for p in (m, LONG_PERIODS.get(base, 0)) if p > 1)
    return FeatureSpec(
        horizon=horizon,
        season_length=m,
        frequency=panel.frequency,
        lags=tuple(range(min(max(2 * m, horizon, 4), 48))),
        periods=periods,
        windows=(2 * m, 4 * m) if m > 1 else (4, 12),
        calendar=calendar_parts(panel.frequency),
        country=country,
        known=tuple(known),
        past=past,
        series_ids=tuple(sorted(frame["unique_id"].unique())),
        categories=categories,
    )


def training_rows(
    panel: Panel, spec: FeatureSpec, *, max_rows: int, seed: int
) -> tuple[pd.DataFrame, np.ndarray]:
    """Features and normalised targets for every (origin, step) inside the history, a
    uniform sample of them beyond ``max_rows``."""
    first_origin = max(spec.season_length, 1) - 1
    groups = list(panel.frame.groupby("unique_id", sort=False))
    total = sum(max(len(g) - first_origin - k, 0) for _, g in groups for k in _steps(spec))
    keep = min(1.0, max_rows / max(total, 1))
    rng = np.random.default_rng(seed)
    blocks, targets = [], []
    for uid, part in groups:
        state = _SeriesState(uid, part, spec)
        for k in _steps(spec):
            t = np.arange(first_origin, len(part) - k)
            if keep < 1:
                t = t[rng.random(len(t)) < keep]
            if len(t) == 0:
                continue
            ks = np.full(len(t), k)
            stamps = pd.DatetimeIndex(part["ds"].to_numpy()[t + k])
            known = {c: part[c].to_numpy()[t + k] for c in spec.known}
            blocks.append(state.rows(t, ks, stamps, known))
            targets.append((state.y[t + k] - state.level[t]) / state.scale)
    if not blocks:
        return pd.DataFrame(columns=spec.names()), np.empty(0)
    return pd.concat(blocks, ignore_index=True), np.concatenate(targets)


def forecast_rows(
    history: Panel, spec: FeatureSpec, horizon: int, future: pd.DataFrame | None
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features for the ``horizon`` steps after each series' last timestamp, and a frame
    ``unique_id, ds, level, scale`` to turn predictions back into the target's units.
    ``future`` holds the known covariates for those steps (``unique_id, ds, ...``)."""
    offset = to_offset(spec.frequency)
    blocks, frames = [], []
    indexed = future.set_index(["unique_id", "ds"]) if future is not None else None
    for uid, part in history.frame.groupby("unique_id", sort=False):
        state = _SeriesState(uid, part, spec)
        last = len(part) - 1
        stamps = pd.date_range(part["ds"].iloc[-1], periods=horizon + 1, freq=offset)[1:]
        known = _known_at(indexed, uid, stamps, spec.known)
        ks = np.arange(1, horizon + 1)
        t = np.full(horizon, last)
        blocks.append(state.rows(t, ks, stamps, known))
        frames.append(
            pd.DataFrame(
                {
                    "unique_id": uid,
                    "ds": stamps,
                    "level": state.level[last],
                    "scale": state.scale,
                }
            )
        )
    return pd.concat(blocks, ignore_index=True), pd.concat(frames, ignore_index=True)


def _known_at(indexed, uid, stamps, columns) -> dict[str, np.ndarray]:
    if not columns:
        return {}
    rows = pd.MultiIndex.from_arrays([[uid] * len(stamps), stamps])
    found = indexed.reindex(rows) if indexed is not None else None
    if found is None or found[list(columns)].isna().all(axis=1).any():
        missing = stamps if found is None else stamps[found[list(columns)].isna().all(axis=1)]
        raise DataError(
            f"The known covariates {list(columns)} have no values for series '{uid}' at "
            f"{', '.join(str(s) for s in missing[:3])}: give them for the forecast steps "
            "(the future table)."
        )
    return {c: found[c].to_numpy() for c in columns}


def _steps(spec: FeatureSpec) -> range:
    return range(1, spec.horizon + 1)


class _SeriesState:
    """One series' arrays, rolled once, from which rows are gathered by index."""

    def __init__(self, uid: str, part: pd.DataFrame, spec: FeatureSpec):
        self.spec = spec
        self.y = part["y"].to_numpy(dtype=float)
        m = max(spec.season_length, 1)
        y = pd.Series(self.y)
        self.level = y.rolling(m, min_periods=1).mean().to_numpy()
        self.std = y.rolling(m, min_periods=2).std().to_numpy()
        self.means = {w: y.rolling(w, min_periods=w).mean().to_numpy() for w in spec.windows}
        scale = seasonal_scale(self.y, spec.season_length)
        self.scale = scale if np.isfinite(scale) else max(abs(float(np.mean(self.y))), 1.0)
        self.past = {c: _numbers(part[c]) for c in spec.past}
        self.past_means = {
            c: pd.Series(v).rolling(m, min_periods=1).mean().to_numpy()
            for c, v in self.past.items()
        }
        ids = spec.series_ids
        position = int(np.searchsorted(ids, uid))
        self.code = position if position < len(ids) and ids[position] == uid else np.nan

    def rows(self, t, k, stamps, known) -> pd.DataFrame:
        """Feature rows for origins ``t`` and steps ``k``; ``stamps`` are the target times."""
        spec, level, scale = self.spec, self.level[t], self.scale
        m = max(spec.season_length, 1)
        cols: dict[str, np.ndarray] = {
            "step": k.astype(float),
            "series": np.full(len(t), self.code, dtype=float),
            # In the target's units, so raw covariates can be read against it.
            "level": level,
            "trend": (level - _take(self.level, t - m)) / scale,
            "std_season": self.std[t] / scale,
        }
        for j in spec.lags:
            cols[f"lag_{j}"] = (_take(self.y, t - j) - level) / scale
        for w in spec.windows:
            cols[f"mean_{w}"] = (self.means[w][t] - level) / scale
        for p in spec.periods:
            # The last value one or more whole periods before t+k: always at or before t.
            back = p * -(-k // p)
            cols[f"same_{p}"] = (_take(self.y, t + k - back) - level) / scale
            if p > m:
                # How the series moved a cycle ago between the same origin and target times
                # (last year's August fall from its July level, say), both at or before t.
                cols[f"change_{p}"] = (
                    _take(self.y, t + k - back) - _take(self.level, t - back)
                ) / scale
        cols.update(calendar_columns(stamps, spec.calendar))
        if spec.country:
            cols.update(holiday_columns(stamps, spec.country))
        for c in spec.known:
            cols[f"known_{c}"] = _encode(known[c], spec.categories.get(c))
        for c in spec.past:
            cols[f"past_{c}"] = self.past[c][t]
        for c in spec.past:
            cols[f"past_mean_{c}"] = self.past_means[c][t]
        return pd.DataFrame(cols).astype(np.float32)


def _numbers(values: pd.Series) -> np.ndarray:
    return pd.to_numeric(values, errors="coerce").astype(float).to_numpy()


def _take(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[index], NaN where the index falls before the start."""
    out = np.full(len(index), np.nan)
    inside = index >= 0
    out[inside] = values[index[inside]]
    return out


def _encode(values: np.ndarray, categories: list | None) -> np.ndarray:
    if categories is None:
        return pd.to_numeric(pd.Series(values), errors="coerce").to_numpy(dtype=float)
    codes = pd.Categorical(pd.Series(values).astype(str), categories=categories).codes
    return np.where(codes >= 0, codes, np.nan).astype(float)
