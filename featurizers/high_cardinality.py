"""Categoricals with many levels: frequency encoding plus out-of-fold target encoding.

Target encoding replaces a level by the mean target of its training rows (smoothed towards
the overall mean). Fitted naively it leaks: a model trained on the encoded training rows
sees its own targets. ``fit_transform`` therefore encodes each training row with encodings
learnt on the other folds (cross-fitting, scikit-learn's ``TargetEncoder``), while
``transform`` of new rows uses encodings from all training rows. Unseen levels get the
overall mean and a frequency of 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from trialflow.featurizers.base import Featurizer

MISSING = "__missing__"


class HighCardinalityFeaturizer(Featurizer):
    kind = "high_cardinality"

    def __init__(self, columns: tuple[str, ...] = (), *, seed: int = 0):
        self.columns = columns
        self.seed = seed

    def fit(self, X: pd.DataFrame, y=None) -> HighCardinalityFeaturizer:
        self._fit(X, y)
        return self

    def fit_transform(self, X: pd.DataFrame, y=None, **fit_params) -> pd.DataFrame:
        encoded = self._fit(X, y)
        return self._frame(X, encoded)

    def _fit(self, X: pd.DataFrame, y) -> np.ndarray | None:
        text = _levels(X, self.columns)
        self.frequencies_ = {
            column: text[column].value_counts(normalize=True).to_dict() for column in self.columns
        }
        self.encoder_ = None
        encoded = None
        if y is not None and self.columns:
            from sklearn.model_selection import KFold, StratifiedKFold
            from sklearn.preprocessing import TargetEncoder
            from sklearn.utils.multiclass import type_of_target

            # A regression target is float (whole-number delays included, which "auto"
            # would take for hundreds of classes); class labels are strings or integers.
            y = np.asarray(y)
            continuous = y.dtype.kind == "f" or type_of_target(y) == "continuous"
            folds = (KFold if continuous else StratifiedKFold)(
                5, shuffle=True, random_state=self.seed
            )
            self.encoder_ = TargetEncoder(
                target_type="continuous" if continuous else "auto", cv=folds
            )
            encoded = self.encoder_.fit_transform(text, np.asarray(y))
        self.feature_names_out_ = [f"{c}__frequency" for c in self.columns] + (
            [f"{name}__target" for name in self.encoder_.get_feature_names_out()]
            if self.encoder_ is not None
            else []
        )
        return encoded

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "frequencies_")
        text = _levels(X, self.columns)
        encoded = self.encoder_.transform(text) if self.encoder_ is not None else None
        return self._frame(X, encoded)

    def _frame(self, X: pd.DataFrame, encoded: np.ndarray | None) -> pd.DataFrame:
        text = _levels(X, self.columns)
        out = {
            f"{c}__frequency": text[c].map(self.frequencies_[c]).fillna(0.0).to_numpy(np.float64)
            for c in self.columns
        }
        if encoded is not None:
            names = self.feature_names_out_[len(self.columns) :]
            for i, name in enumerate(names):
                out[name] = encoded[:, i]
        return pd.DataFrame(out, index=X.index, columns=self.feature_names_out_)


def _levels(X: pd.DataFrame, columns) -> pd.DataFrame:
    """Levels as strings, missing values as a level of their own."""
    return pd.DataFrame(
        {c: X[c].astype(str).where(X[c].notna(), MISSING) for c in columns}, index=X.index
    )
