"""Date and time columns: calendar parts a model can split on."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from trialflow.featurizers.base import Featurizer

DATE_PARTS = ("year", "month", "day", "dayofweek", "dayofyear")


class DatetimeFeaturizer(Featurizer):
    """Year, month, day, day of week and day of year; the hour too where times are present."""

    kind = "datetime"

    def fit(self, X: pd.DataFrame, y=None) -> DatetimeFeaturizer:
        self.parts_ = {}
        for column in self.columns:
            stamps = parse_datetimes(X[column])
            has_time = bool((stamps.dropna().dt.hour != 0).any())
            self.parts_[column] = [*DATE_PARTS, "hour"] if has_time else list(DATE_PARTS)
        self.feature_names_out_ = [
            f"{column}__{part}" for column in self.columns for part in self.parts_[column]
        ]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "parts_")
        out = {}
        for column in self.columns:
            stamps = parse_datetimes(X[column])
            for part in self.parts_[column]:
                out[f"{column}__{part}"] = getattr(stamps.dt, part).astype(np.float64)
        return pd.DataFrame(out, index=X.index, columns=self.feature_names_out_)


def parse_datetimes(values: pd.Series) -> pd.Series:
    """Timestamps from a datetime column or date strings; unparseable values become NaT."""
    if pd.api.types.is_datetime64_any_dtype(values):
        stamps = values
    else:
        stamps = pd.to_datetime(values, errors="coerce", format="mixed")
    if getattr(stamps.dt, "tz", None) is not None:
        stamps = stamps.dt.tz_convert("UTC").dt.tz_localize(None)
    return stamps
