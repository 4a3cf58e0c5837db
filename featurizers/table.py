"""The whole-table featurizer: one featurizer per column kind, features side by side."""

from __future__ import annotations

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from trialflow.errors import DataError
from trialflow.featurizers.detect import ColumnPlan


class TableFeaturizer(TransformerMixin, BaseEstimator):
    """Featurizes a raw table according to a column plan.

    ``categorical_encoding`` is chosen by the learner: "native" for learners that split on
    pandas categories, "onehot" for the others.
    """

    def __init__(self, plan: ColumnPlan | None = None, *, categorical_encoding: str = "native"):
        self.plan = plan
        self.categorical_encoding = categorical_encoding

    def fit(self, X: pd.DataFrame, y=None) -> TableFeaturizer:
        from trialflow.featurizers import make_featurizer

        plan = self.plan or ColumnPlan()
        self.required_columns_ = plan.input_columns
        _check_columns(X, self.required_columns_)
        self.featurizers_ = [
            make_featurizer(kind, columns, categorical_encoding=self.categorical_encoding).fit(X)
            for kind, columns in plan.kinds.items()
            if columns
        ]
        self.feature_names_out_ = [n for f in self.featurizers_ for n in f.feature_names_out_]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "featurizers_")
        _check_columns(X, self.required_columns_)
        parts = [f.transform(X) for f in self.featurizers_]
        if not parts:
            raise DataError("No usable feature columns: every input column was dropped.")
        return pd.concat(parts, axis=1)

    def get_feature_names_out(self, input_features=None) -> list[str]:
        check_is_fitted(self, "feature_names_out_")
        return list(self.feature_names_out_)


def _check_columns(X, required: list[str]) -> None:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"Expected a pandas DataFrame of raw input columns; got {type(X).__name__}."
        )
    missing = [c for c in required if c not in X.columns]
    if missing:
        raise DataError(
            f"The input lacks column(s) {missing} that the model was trained on. "
            "Add them (values may be empty) and score again."
        )
