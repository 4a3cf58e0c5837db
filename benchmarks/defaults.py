"""The plain baselines: LightGBM and HistGradientBoosting with their default settings and
only the preparation each library needs to accept a mixed-type table."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:
    from benchmarks.suite import Table

# HistGradientBoosting bins a categorical feature into at most 255 bins, one of them kept for
# missing values, so a native categorical may have at most 254 known levels.
HGB_MAX_LEVELS = 254


def features(frame: pd.DataFrame, target: str) -> pd.DataFrame:
    """The inputs with every non-numeric column as pandas `category` and datetimes as numbers."""
    X = frame.drop(columns=target, errors="ignore")
    # As categories, test dates never seen in training would all be missing: a plain user
    # hands the booster the timestamp as a number instead.
    dates = X.select_dtypes(include=["datetime", "datetimetz"]).columns
    X = X.assign(**{c: _seconds(X[c]) for c in dates})
    return X.astype({c: "category" for c in X.select_dtypes(exclude="number").columns})


def align(X: pd.DataFrame, like: pd.DataFrame) -> pd.DataFrame:
    """`X`'s categorical columns on the categories of `like` (the training inputs); values
    not seen in training become missing, as both libraries expect."""
    return X.astype({c: like[c].dtype for c in like.select_dtypes("category").columns})


def prepare(train: pd.DataFrame, test: pd.DataFrame, target: str):
    X_train = features(train, target)
    return X_train, align(features(test, target), X_train)


def cap_levels(X: pd.DataFrame, max_levels: int = HGB_MAX_LEVELS) -> pd.DataFrame:
    """Keep the `max_levels` most frequent levels of each categorical column, the rest
    missing, so HistGradientBoosting takes every categorical natively."""
    X = X.copy()
    for column in X.select_dtypes("category").columns:
        counts = X[column].value_counts()
        if len(counts) > max_levels:
            # A plain list: a CategoricalDtype built on the CategoricalIndex itself would
            # take all of that index's categories, not the top ones.
            kept = pd.CategoricalDtype(list(counts.index[:max_levels]))
            X[column] = X[column].astype(object).astype(kept)
    return X


def _seconds(values: pd.Series) -> pd.Series:
    """Seconds since 1970 as floats, missing stays missing, whatever the datetime unit."""
    if values.dt.tz is not None:
        values = values.dt.tz_convert(None)
    return (values - pd.Timestamp(0)).dt.total_seconds()


def lightgbm_model(task: str):
    import lightgbm

    if task == "regression":
        return lightgbm.LGBMRegressor(verbose=-1, random_state=0)
    return lightgbm.LGBMClassifier(verbose=-1, random_state=0)


def hgb_model(task: str):
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    if task == "regression":
        return HistGradientBoostingRegressor(random_state=0, categorical_features="from_dtype")
    return HistGradientBoostingClassifier(random_state=0, categorical_features="from_dtype")


def lightgbm_default(train: pd.DataFrame, test: pd.DataFrame, table: Table) -> float:
    """Test score of LightGBM's defaults on the suite's split."""
    from benchmarks.suite import score

    X_train, X_test = prepare(train, test, table.target)
    model = lightgbm_model(table.task).fit(X_train, train[table.target])
    if table.task == "regression":
        return score(table, test[table.target], model.predict(X_test))
    return score(table, test[table.target], model.predict_proba(X_test), list(model.classes_))
