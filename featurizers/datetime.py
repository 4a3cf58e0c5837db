"""Date and time columns: calendar parts a model can split on, and cyclical encodings a
linear model can use."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from trialflow.featurizers.base import Featurizer

DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear")
# Parts that wrap around (December is next to January), with their period.
CYCLES = {"month": 12, "dayofweek": 7, "dayofyear": 366, "hour": 24}


class DatetimeFeaturizer(Featurizer):
    """Year, month, day, day of week, day of year and a weekend flag; the hour too where
    times are present; sine and cosine of the cyclical parts."""

    kind = "datetime"

    def fit(self, X: pd.DataFrame, y=None) -> DatetimeFeaturizer:
        self.parts_ = {}
        for column in self.columns:
            stamps = parse_datetimes(X[column])
            has_time = bool((stamps.dropna().dt.hour != 0).any())
            self.parts_[column] = [*DATE_PARTS, "hour"] if has_time else list(DATE_PARTS)
        self.feature_names_out_ = [name for column in self.columns for name in self._names(column)]
        return self

    def _names(self, column: str) -> list[str]:
        parts = self.parts_[column]
        names = [f"{column}__{part}" for part in parts] + [f"{column}__weekend"]
        for part in parts:
            if part in CYCLES:
                names += [f"{column}__{part}_sin", f"{column}__{part}_cos"]
        return names

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "parts_")
        out = {}
        for column in self.columns:
            stamps = parse_datetimes(X[column])
            values = {
                part: getattr(stamps.dt, part).astype(np.float64) for part in self.parts_[column]
            }
            for part, value in values.items():
                out[f"{column}__{part}"] = value.to_numpy()
            out[f"{column}__weekend"] = (
                (values["dayofweek"] >= 5).astype(np.float64).where(stamps.notna()).to_numpy()
            )
            for part, value in values.items():
                if part in CYCLES:
                    angle = 2 * np.pi * value.to_numpy() / CYCLES[part]
                    out[f"{column}__{part}_sin"] = np.sin(angle)
                    out[f"{column}__{part}_cos"] = np.cos(angle)
        return pd.DataFrame(out, index=X.index, columns=self.feature_names_out_)


def parse_datetimes(values: pd.Series) -> pd.Series:
    """Timestamps from a datetime column or date strings; unparseable values become NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values
    else:
        # In UTC, strings with different offsets align (otherwise they parse to objects);
        # strings without an offset are read as they are.
        stamps = pd.to_datetime(values, errors="coerce", format="mixed", utc=True)
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps
