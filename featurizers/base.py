"""The small interface every featurizer implements: fit on some columns, emit named features."""

from __future__ import annotations

from typing import ClassVar

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted


class Featurizer(TransformerMixin, BaseEstimator):
    """Turns the input columns of one kind into model features.

    Subclasses declare ``kind`` (the column kind they handle, see ``featurizers.detect``),
    learn their state in ``fit`` into attributes ending in ``_`` and return a DataFrame of
    features with stable names from ``transform``.
    """

    kind: ClassVar[str]

    def __init__(self, columns: tuple[str, ...] = ()):
        self.columns = columns

    def fit(self, X: pd.DataFrame, y=None) -> Featurizer:
        raise NotImplementedError

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        raise NotImplementedError

    def get_feature_names_out(self, input_features=None) -> list[str]:
        check_is_fitted(self, "feature_names_out_")
        return list(self.feature_names_out_)
