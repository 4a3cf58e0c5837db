"""From a user's table to a regular panel: one row per series and timestamp, on one grid.

The panel is long (``unique_id, ds, y`` and the covariates), sorted by series then time, with
gaps filled; what was repaired or dropped is said in ``notes``. Anything that cannot be
repaired (a time column that is not dates, irregular timestamps, duplicate timestamps
without an aggregation, one row per series) is a DataError naming the column or series.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from trialflow.errors import ConfigError, DataError
from trialflow.forecast.frequency import resolve_frequency, season_length

AGGREGATIONS = ("sum", "mean", "last")
SINGLE_SERIES = "all"
_KEY_SEPARATOR = " | "


@dataclass
class Panel:
    """Regular series in long form. ``keys`` maps each ``unique_id`` to the values of the
    user's series columns, so forecasts can be reported under them."""

    frame: pd.DataFrame
    frequency: str
    season_length: int
    series: tuple[str, ...]
    keys: pd.DataFrame
    covariates: tuple[str, ...]
    notes: list[str] = field(default_factory=list)

    @property
    def n_series(self) -> int:
        return int(self.frame["unique_id"].nunique())

    def lengths(self) -> pd.Series:
        return self.frame.groupby("unique_id", sort=False).size()

    def replace_frame(self, frame: pd.DataFrame) -> Panel:
        """The same panel description over other rows (a backtest's history)."""
        keys = self.keys[self.keys["unique_id"].isin(frame["unique_id"].unique())]
        return Panel(
            frame.reset_index(drop=True),
            self.frequency,
            self.season_length,
            self.series,
            keys,
            self.covariates,
            [],
        )


def prepare_panel(
    frame: pd.DataFrame,
    *,
    target: str,
    time: str,
    series: tuple[str, ...] = (),
    horizon: int,
    frequency: str | None = None,
    aggregate: str | None = None,
    covariates: tuple[str, ...] | None = None,
    min_length: int | None = None,
    drop_short: bool = True,
) -> Panel:
    """Check and regularise ``frame``; see the module docstring.

    ``covariates`` defaults to every column but the target, time and series columns.
    ``min_length`` defaults to two horizons plus a season; shorter series are dropped with
    a note when ``drop_short``, else they are a DataError (prediction needs every series).
    """
    series = tuple(series)
    _check_columns(frame, target, time, series, covariates)
    if aggregate is not None and aggregate not in AGGREGATIONS:
        raise ConfigError(
            f"The 'aggregate' parameter must be one of {', '.join(AGGREGATIONS)}; "
            f"got {aggregate!r}."
        )
    notes: list[str] = []
    if covariates is None:
        covariates = tuple(c for c in frame.columns if c not in {target, time, *series})
    long = _long_frame(frame, target, time, series, covariates, notes)
    if len(long) and long.groupby("unique_id").size().max() == 1:
        named = f"the series columns {list(series)} identify" if series else "there is"
        raise DataError(
            f"Every series has one row: {named} single rows, not series. A forecast needs "
            "a history per series; check the --series columns."
        )
    long = _deduplicate(long, aggregate, covariates, notes)
    frequency = resolve_frequency(long, frequency)
    long = _fill_gaps(long, frequency, covariates, notes)
    m = season_length(frequency)
    needed = 2 * horizon + m if min_length is None else min_length
    long = _drop_short(long, needed, drop_short, notes)
    keys = _keys(frame, series, long["unique_id"].unique())
    return Panel(long, frequency, m, series, keys, tuple(covariates), notes)


def _check_columns(frame, target, time, series, covariates) -> None:
    needed = [target, time, *series, *(covariates or ())]
    missing = [c for c in needed if c not in frame.columns]
    if missing:
        raise DataError(f"Columns {missing} are not in the table; it has {list(frame.columns)}.")
    if not pd.api.types.is_numeric_dtype(frame[target]) or frame[target].dtype == bool:
        raise DataError(
            f"The target '{target}' must be numeric to forecast; got {frame[target].dtype} "
            f"values such as {frame[target].dropna().iloc[:1].tolist()}."
        )


def parse_time(values: pd.Series, column: str) -> pd.Series:
    """Timestamps from a time column; a DataError naming the column and a bad value when
    some values are not dates (missing values stay NaT)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values
    elif pd.api.types.is_numeric_dtype(values):
        raise DataError(
            f"The time column '{column}' holds numbers (e.g. {values.dropna().iloc[:1].tolist()}"
            "), not dates. Convert it to dates, e.g. years to 'YYYY-01-01'."
        )
    else:
        stamps = pd.to_datetime(values, errors="coerce", format="mixed")
        bad = stamps.isna() & values.notna()
        if bad.any():
            example = values[bad].iloc[0]
            raise DataError(
                f"The time column '{column}' has {int(bad.sum())} value(s) that are not "
                f"dates, e.g. {example!r}. Fix or remove those rows."
            )
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps.astype("datetime64[ns]")


def series_ids(frame: pd.DataFrame, series: tuple[str, ...]) -> pd.Series:
    """One string per row naming its series (the same string for the same values)."""
    if not series:
        return pd.Series(SINGLE_SERIES, index=frame.index)
    parts = [frame[c].astype(str) for c in series]
    ids = parts[0]
    for part in parts[1:]:
        ids = ids + _KEY_SEPARATOR + part
    return ids


def _long_frame(frame, target, time, series, covariates, notes) -> pd.DataFrame:
    stamps = parse_time(frame[time], time)
    long = pd.DataFrame(
        {"unique_id": series_ids(frame, series).to_numpy(), "ds": stamps.to_numpy()},
        index=frame.index,
    )
    long["y"] = frame[target].astype(float)
    for column in covariates:
        long[column] = frame[column]
    missing_time = long["ds"].isna()
    if missing_time.any():
        notes.append(f"{int(missing_time.sum())} row(s) without a time were dropped.")
        long = long[~missing_time]
    long = long.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
    return _trim_missing_target(long, notes)


def _trim_missing_target(long: pd.DataFrame, notes: list[str]) -> pd.DataFrame:
    """Series start at their first known target value and end at their last."""
    known = long["y"].notna()
    group = long["unique_id"]
    started = known.groupby(group).cummax()
    not_ended = known[::-1].groupby(group[::-1]).cummax()[::-1]
    keep = started & not_ended
    if (~keep).any():
        notes.append(
            f"{int((~keep).sum())} row(s) before a series' first or after its last known "
            "target value were dropped."
        )
    return long[keep].reset_index(drop=True)


def _deduplicate(long, aggregate, covariates, notes) -> pd.DataFrame:
    duplicated = long.duplicated(["unique_id", "ds"], keep=False)
    if not duplicated.any():
        return long
    if aggregate is None:
        first = long.loc[duplicated, "unique_id"].iloc[0]
        stamps = long.loc[duplicated & (long["unique_id"] == first), "ds"].drop_duplicates()
        shown = ", ".join(str(s) for s in stamps.iloc[:3])
        n_series = long.loc[duplicated, "unique_id"].nunique()
        raise DataError(
            f"Series '{first}' has duplicate timestamps ({shown}); {n_series} series have "
            "some. Add the column that tells them apart to --series, or aggregate them "
            "with --aggregate sum|mean|last."
        )
    how = {"y": aggregate}
    for column in covariates:
        numeric = pd.api.types.is_numeric_dtype(long[column])
        # Summing a covariate such as a temperature means nothing: only the target sums.
        how[column] = "mean" if numeric and aggregate != "last" else "last"
    rows = len(long)
    long = long.groupby(["unique_id", "ds"], sort=True).agg(how).reset_index()
    notes.append(f"{rows - len(long)} duplicate timestamp row(s) merged by {aggregate}.")
    return long


def _fill_gaps(long, frequency, covariates, notes) -> pd.DataFrame:
    """Missing steps become rows: the target is interpolated linearly (the statistical
    models cannot skip a step) and covariates carry their last value forward (only the
    past is used, so nothing leaks backwards)."""
    offset = to_offset(frequency)
    pieces, filled, series_filled = [], 0, 0
    for uid, part in long.groupby("unique_id", sort=False):
        grid = pd.date_range(part["ds"].iloc[0], part["ds"].iloc[-1], freq=offset)
        if len(grid) == len(part) and not part["y"].isna().any():
            pieces.append(part)
            continue
        part = part.set_index("ds").reindex(grid).rename_axis("ds").reset_index()
        part["unique_id"] = uid
        missing = part["y"].isna()
        filled += int(missing.sum())
        series_filled += 1
        part["y"] = part["y"].interpolate(method="linear")
        if covariates:
            part[list(covariates)] = part[list(covariates)].ffill()
        pieces.append(part)
    if filled:
        notes.append(
            f"{filled} missing step(s) in {series_filled} series were filled: the target "
            "linearly interpolated, covariates carried forward."
        )
    columns = ["unique_id", "ds", "y", *covariates]
    return pd.concat(pieces, ignore_index=True)[columns] if pieces else long[columns]


def _drop_short(long, needed, drop_short, notes) -> pd.DataFrame:
    lengths = long.groupby("unique_id", sort=False).size()
    short = lengths[lengths < needed]
    if short.empty:
        return long
    shown = ", ".join(f"'{uid}' ({n})" for uid, n in short.iloc[:3].items())
    if not drop_short or len(short) == len(lengths):
        raise DataError(
            f"{len(short)} series are too short to forecast: {shown}; each needs at least "
            f"{needed} steps (two horizons and a season)."
        )
    notes.append(
        f"{len(short)} series shorter than {needed} steps were left out: {shown}"
        f"{', ...' if len(short) > 3 else ''}."
    )
    return long[~long["unique_id"].isin(short.index)].reset_index(drop=True)


def _keys(frame: pd.DataFrame, series: tuple[str, ...], kept: np.ndarray) -> pd.DataFrame:
    if not series:
        return pd.DataFrame({"unique_id": [SINGLE_SERIES]})
    keys = frame[list(series)].drop_duplicates().copy()
    keys.insert(0, "unique_id", series_ids(keys, series).to_numpy())
    keys = keys.drop_duplicates("unique_id")
    return keys[keys["unique_id"].isin(kept)].reset_index(drop=True)
