"""Numeric columns: median imputation plus a missing-indicator where training data had gaps."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from trialflow.featurizers.base import Featurizer


class NumericFeaturizer(Featurizer):
    kind = "numeric"

    def fit(self, X: pd.DataFrame, y=None) -> NumericFeaturizer:
        values = _as_float(X, self.columns)
        medians = values.median()
        # A column with no values in this fold still needs a fill value.
        self.medians_ = medians.fillna(0.0).to_dict()
        self.indicated_ = [c for c in self.columns if values[c].isna().any()]
        self.feature_names_out_ = list(self.columns) + [f"{c}__missing" for c in self.indicated_]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "medians_")
        values = _as_float(X, self.columns)
        out = values.fillna(self.medians_)
        for column in self.indicated_:
            out[f"{column}__missing"] = values[column].isna().astype(np.float64)
        return out


def _as_float(X: pd.DataFrame, columns) -> pd.DataFrame:
    values = X[list(columns)].astype(np.float64)
    # Infinities carry no order a tree or a linear model can use; treat them as missing.
    return values.replace([np.inf, -np.inf], np.nan)
