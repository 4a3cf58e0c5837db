"""Boolean columns (True/False, yes/no, y/n, t/f): one 0/1 feature each, missing kept."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from trialflow.featurizers.base import Featurizer
from trialflow.featurizers.detect import FALSE_WORDS, TRUE_WORDS


class BooleanFeaturizer(Featurizer):
    """1.0 for true-like values, 0.0 for false-like ones, NaN for missing or anything else
    (an unseen spelling at scoring time is treated as missing, not as an error)."""

    kind = "boolean"

    def fit(self, X: pd.DataFrame, y=None) -> BooleanFeaturizer:
        self.feature_names_out_ = list(self.columns)
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "feature_names_out_")
        return pd.DataFrame({column: as_flags(X[column]) for column in self.columns}, index=X.index)


def as_flags(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(values) and not values.isna().any():
        return values.to_numpy(dtype=np.float64)
    words = values.astype(str).str.strip().str.lower()
    flags = np.where(words.isin(TRUE_WORDS | {"1", "1.0"}), 1.0, np.nan)
    flags = np.where(words.isin(FALSE_WORDS | {"0", "0.0"}), 0.0, flags)
    return np.where(values.isna().to_numpy(), np.nan, flags)
