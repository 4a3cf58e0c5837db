"""Holiday features for date columns, from the `holidays` package's calendars (offline).

For each date column: whether the day is a public holiday, days to the next and since the
previous one, and the holiday's name. The calendar is one country (``US``), a subdivision
(``US-CA``), or per row: the name of a column whose values are such codes.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from trialflow.errors import ConfigError
from trialflow.featurizers.base import Featurizer
from trialflow.featurizers.datetime import parse_datetimes

NO_HOLIDAY = "none"
# Distances are capped: beyond a season away, the exact count says nothing.
MAX_DAYS = 120.0


class HolidayFeaturizer(Featurizer):
    """``country`` is a code such as ``US`` or ``US-CA``; ``country_column`` names a column
    of such codes instead. ``encoding`` is "native" (the holiday name as a category) or
    "onehot" or "ordinal" (one 0/1 column per holiday name: there are few)."""

    kind = "holidays"

    def __init__(
        self,
        columns: tuple[str, ...] = (),
        *,
        country: str = "",
        country_column: str = "",
        encoding: str = "native",
    ):
        self.columns = columns
        self.country = country
        self.country_column = country_column
        self.encoding = encoding

    def fit(self, X: pd.DataFrame, y=None) -> HolidayFeaturizer:
        if bool(self.country) == bool(self.country_column):
            raise ConfigError(
                "Holiday features need either a country code (such as US or US-CA) or the "
                "name of a column of country codes; got "
                f"country={self.country!r}, country_column={self.country_column!r}."
            )
        codes = [self.country] if self.country else _codes(X[self.country_column]).unique()
        years = _years(X, self.columns)
        names: set[str] = set()
        for code in codes:
            if code:
                names.update(calendar(code, years)[1])
        self.names_ = sorted(names)
        self.feature_names_out_ = [n for column in self.columns for n in self._names(column)]
        return self

    def _names(self, column: str) -> list[str]:
        parts = ("is_holiday", "days_to_holiday", "days_since_holiday")
        base = [f"{column}__{part}" for part in parts]
        if self.encoding == "native":
            return [*base, f"{column}__holiday"]
        return base + [f"{column}__holiday={name}" for name in self.names_]

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "names_")
        years = _years(X, self.columns)
        if self.country:
            groups = {self.country: np.ones(len(X), dtype=bool)}
        else:
            codes = _codes(X[self.country_column]).to_numpy()
            groups = {code: codes == code for code in pd.unique(codes) if code}
        out: dict[str, object] = {}
        for column in self.columns:
            days = _day_numbers(parse_datetimes(X[column]))
            is_holiday = np.full(len(X), np.nan)
            to_next = np.full(len(X), np.nan)
            since = np.full(len(X), np.nan)
            name = np.full(len(X), None, dtype=object)
            for code, rows in groups.items():
                holiday_days, holiday_names = calendar(code, years)
                _fill(days, rows, holiday_days, holiday_names, is_holiday, to_next, since, name)
            out[f"{column}__is_holiday"] = is_holiday
            out[f"{column}__days_to_holiday"] = to_next
            out[f"{column}__days_since_holiday"] = since
            known = pd.Series(name, index=X.index).where(lambda s: s.isin(self.names_))
            known = known.where(is_holiday != 0, NO_HOLIDAY)
            if self.encoding == "native":
                out[f"{column}__holiday"] = pd.Categorical(
                    known, categories=[*self.names_, NO_HOLIDAY]
                )
            else:
                for holiday in self.names_:
                    out[f"{column}__holiday={holiday}"] = (known == holiday).to_numpy(np.float64)
        return pd.DataFrame(out, index=X.index, columns=self.feature_names_out_)


def _fill(days, rows, holiday_days, holiday_names, is_holiday, to_next, since, name) -> None:
    """Holiday facts for the rows selected by ``rows`` whose day number is known."""
    rows = rows & ~np.isnan(days)
    if not rows.any():
        return
    d = days[rows]
    if len(holiday_days) == 0:
        is_holiday[rows] = 0.0
        return
    nxt = np.searchsorted(holiday_days, d, side="left")
    prev = np.searchsorted(holiday_days, d, side="right") - 1
    has_next = nxt < len(holiday_days)
    on_day = has_next & (holiday_days[np.minimum(nxt, len(holiday_days) - 1)] == d)
    is_holiday[rows] = on_day.astype(np.float64)
    gap_next = np.where(has_next, holiday_days[np.minimum(nxt, len(holiday_days) - 1)] - d, np.nan)
    gap_prev = np.where(prev >= 0, d - holiday_days[np.maximum(prev, 0)], np.nan)
    to_next[rows] = np.minimum(gap_next, MAX_DAYS)
    since[rows] = np.minimum(gap_prev, MAX_DAYS)
    name[rows] = np.where(on_day, holiday_names[np.minimum(nxt, len(holiday_days) - 1)], None)


@lru_cache(maxsize=64)
def calendar(code: str, years: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Sorted holiday day numbers (days since 1970-01-01) and their names for ``code``."""
    import holidays

    country, _, subdivision = code.upper().partition("-")
    try:
        days = holidays.country_holidays(country, subdiv=subdivision or None, years=years)
    except NotImplementedError as exc:
        raise ConfigError(
            f"No holiday calendar for {code!r}: {exc}. Use an ISO country code such as US, "
            "GB or DE, optionally with a subdivision (US-CA)."
        ) from exc
    items = sorted(days.items())
    numbers = np.array([(pd.Timestamp(day) - pd.Timestamp(0)).days for day, _ in items], float)
    names = np.array([str(label).split(";")[0].strip() for _, label in items], dtype=object)
    return numbers, names


def check_country(code: str) -> None:
    """Raise ConfigError unless ``code`` names a holiday calendar."""
    calendar(code, (2000,))


def _codes(values: pd.Series) -> pd.Series:
    return values.astype(str).str.strip().str.upper().where(values.notna(), "")


def _years(X: pd.DataFrame, columns) -> tuple[int, ...]:
    """Years the dates span, one either side, so distances across New Year are right."""
    years: set[int] = set()
    for column in columns:
        stamps = parse_datetimes(X[column]).dropna()
        if not stamps.empty:
            years.update(range(int(stamps.dt.year.min()) - 1, int(stamps.dt.year.max()) + 2))
    return tuple(sorted(years)) or (2000,)


def _day_numbers(stamps: pd.Series) -> np.ndarray:
    """Whole days since 1970-01-01 as floats; NaN where the date is missing."""
    days = (stamps.dt.normalize() - pd.Timestamp(0)).dt.days
    return days.to_numpy(dtype=np.float64, na_value=np.nan)
