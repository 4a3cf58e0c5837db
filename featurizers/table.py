"""The whole-table featurizer: the featurizers a column plan calls for, features side by side."""

from __future__ import annotations

import importlib

import pandas as pd
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from trialflow.errors import ConfigError, DataError
from trialflow.featurizers.base import Featurizer
from trialflow.featurizers.detect import ColumnPlan


class TableFeaturizer(TransformerMixin, BaseEstimator):
    """Featurizes a raw table according to a column plan.

    ``categorical_encoding`` is chosen by the learner: "native" for learners that split on
    pandas categories, "ordinal" (numeric codes) for trees that split on numbers only,
    "onehot" for the others. ``fit_transform`` passes the target to
    featurizers that learn from it (target encoding), which encode the training rows out of
    fold.
    """

    def __init__(self, plan: ColumnPlan | None = None, *, categorical_encoding: str = "native"):
        self.plan = plan
        self.categorical_encoding = categorical_encoding

    def fit(self, X: pd.DataFrame, y=None) -> TableFeaturizer:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: pd.DataFrame, y=None, **fit_params) -> pd.DataFrame:
        plan = self.plan or ColumnPlan()
        self.required_columns_ = plan.input_columns
        _check_columns(X, self.required_columns_)
        self.featurizers_ = self._featurizers(plan)
        parts = [f.fit_transform(X, y) for f in self.featurizers_]
        dropped = set(plan.drop_features)
        self.feature_names_out_ = [
            n for f in self.featurizers_ for n in f.feature_names_out_ if n not in dropped
        ]
        joined = self._joined(parts, fill=False)
        # Learners fed one-hot or ordinal features (linear models, forests) are not sure to
        # take NaN, which dates, holidays and related tables leave where a value is missing.
        self.fill_values_ = (
            joined.median(numeric_only=True).fillna(0.0).to_dict()
            if self.categorical_encoding != "native"
            else {}
        )
        return joined.fillna(self.fill_values_) if self.fill_values_ else joined

    def _featurizers(self, plan: ColumnPlan) -> list[Featurizer]:
        from trialflow.featurizers import HolidayFeaturizer, make_featurizer

        featurizers = [
            make_featurizer(kind, columns, categorical_encoding=self.categorical_encoding)
            for kind, columns in plan.kinds.items()
            if columns and kind not in plan.disabled
        ]
        dates = plan.kinds.get("datetime", [])
        calendar = plan.holiday_country or plan.holiday_column
        if dates and calendar and "holidays" not in plan.disabled:
            featurizers.append(
                HolidayFeaturizer(
                    tuple(dates),
                    country=plan.holiday_country,
                    country_column=plan.holiday_column,
                    encoding=self.categorical_encoding,
                )
            )
        primitives = plan.dfs.get("primitives")
        if (plan.related or primitives) and "relational" not in plan.disabled:
            from trialflow.featurizers.relational import RelationalFeaturizer, dfs_settings

            # Transform primitives read the planned columns of the kinds left on.
            own = [c for kind, cs in plan.kinds.items() if kind not in plan.disabled for c in cs]
            featurizers.append(
                RelationalFeaturizer(
                    tuple(own) if primitives else (),
                    related=plan.related,
                    encoding=self.categorical_encoding,
                    **dfs_settings(plan.dfs),
                )
            )
        featurizers += [
            load_featurizer(user["path"])(tuple(user.get("columns", ())))
            for user in plan.user_featurizers
        ]
        return featurizers

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "featurizers_")
        _check_columns(X, self.required_columns_)
        return self._joined([f.transform(X) for f in self.featurizers_])

    def _joined(self, parts: list[pd.DataFrame], *, fill: bool = True) -> pd.DataFrame:
        if not parts:
            raise DataError("No usable feature columns: every input column was dropped.")
        joined = pd.concat(parts, axis=1)[self.feature_names_out_]
        return joined.fillna(self.fill_values_) if fill and self.fill_values_ else joined

    def get_feature_names_out(self, input_features=None) -> list[str]:
        check_is_fitted(self, "feature_names_out_")
        return list(self.feature_names_out_)


def load_featurizer(path: str) -> type[Featurizer]:
    """A user's featurizer class from ``package.module:ClassName``."""
    module_name, _, name = path.partition(":")
    try:
        target = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise ConfigError(
            f"Could not load featurizer {path!r}: {exc}. Give it as package.module:ClassName, "
            "importable here and on every Dask worker."
        ) from exc
    if not (isinstance(target, type) and hasattr(target, "fit") and hasattr(target, "transform")):
        raise ConfigError(
            f"Featurizer {path!r} is not a class with fit and transform; subclass "
            "trialflow.featurizers.Featurizer."
        )
    return target


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
