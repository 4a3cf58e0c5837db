"""Calendar and holiday features of the timestamps being forecast: known in advance."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pandas.tseries.frequencies import to_offset

from trialflow.featurizers.holidays import calendar

# Days between a day and its holiday neighbours are capped: beyond a season it says nothing.
MAX_HOLIDAY_DAYS = 120.0
CALENDAR = {
    "sub-daily": ("hour", "dayofweek"),
    "daily": ("dayofweek", "day", "dayofyear", "week", "month"),
    "weekly": ("week", "month"),
    "monthly": ("month",),
    "quarterly": ("quarter",),
    "yearly": (),
}


def calendar_parts(frequency: str) -> tuple[str, ...]:
    """The calendar parts that vary between steps of ``frequency``."""
    return CALENDAR[_resolution(frequency)]


def calendar_columns(stamps: pd.DatetimeIndex, parts: tuple[str, ...]) -> dict:
    values = {
        "hour": lambda s: s.hour,
        "dayofweek": lambda s: s.dayofweek,
        "day": lambda s: s.day,
        "dayofyear": lambda s: s.dayofyear,
        "week": lambda s: s.isocalendar().week.to_numpy(),
        "month": lambda s: s.month,
        "quarter": lambda s: s.quarter,
    }
    return {f"cal_{p}": np.asarray(values[p](stamps), dtype=float) for p in parts}


def holiday_columns(stamps: pd.DatetimeIndex, country: str) -> dict:
    """Whether the target day is a public holiday, and days to the next and since the last."""
    years = tuple(range(stamps.year.min() - 1, stamps.year.max() + 2))
    days, _ = calendar(country, years)
    d = ((stamps.normalize() - pd.Timestamp(0)).days).to_numpy(dtype=float)
    nxt = np.searchsorted(days, d, side="left")
    prev = np.searchsorted(days, d, side="right") - 1
    has_next = nxt < len(days)
    next_day = days[np.minimum(nxt, len(days) - 1)] if len(days) else d
    prev_day = days[np.maximum(prev, 0)] if len(days) else d
    return {
        "is_holiday": (has_next & (next_day == d)).astype(float),
        "days_to_holiday": np.where(has_next, np.minimum(next_day - d, MAX_HOLIDAY_DAYS), np.nan),
        "days_since_holiday": np.where(
            prev >= 0, np.minimum(d - prev_day, MAX_HOLIDAY_DAYS), np.nan
        ),
    }


def holidays_apply(frequency: str) -> bool:
    """Holiday features are per day: they describe daily and finer steps only."""
    return _resolution(frequency) in {"sub-daily", "daily"}


def _resolution(frequency: str) -> str:
    offset = to_offset(frequency)
    # From a stamp on the offset, one step is a whole period (W-SUN from a Monday is not).
    start = offset.rollforward(pd.Timestamp("2001-01-01"))
    step = start + offset - start
    if step < pd.Timedelta(days=1):
        return "sub-daily"
    if step < pd.Timedelta(days=7):
        return "daily"
    if step < pd.Timedelta(days=28):
        return "weekly"
    if step < pd.Timedelta(days=90):
        return "monthly"
    if step < pd.Timedelta(days=365):
        return "quarterly"
    return "yearly"
