"""Per-row explanations: each row's prediction split into one contribution per raw input
column, plus the model's expected value.

For LightGBM models these are exact tree SHAP values from LightGBM itself
(``pred_contrib``), computed on the engineered features and summed back to the raw column
each feature came from (a feature made from several columns is shared equally). The
contributions plus the expected value add up to the model's raw output: the log-odds of the
positive class for binary models, the prediction for regression (on the log scale where the
model fits log(1 + y)). Multiclass models explain the log-odds of the predicted class.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialflow.errors import ConfigError

EXPECTED = "(expected value)"


def row_contributions(model, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per input row: a column per raw input, and the expected value."""
    pipeline, booster = _lightgbm_pipeline(model)
    featurizer = pipeline.named_steps["features"]
    features = featurizer.transform(rows)
    raw = booster.predict(features, pred_contrib=True)
    n_features = features.shape[1]
    if raw.shape[1] > n_features + 1:  # multiclass: one block per class
        blocks = raw.reshape(len(rows), -1, n_features + 1)
        margins = blocks.sum(axis=2)
        raw = blocks[np.arange(len(rows)), margins.argmax(axis=1)]
    engineered = pd.DataFrame(raw[:, :-1], columns=list(features.columns), index=rows.index)
    by_column = _to_raw_columns(engineered, featurizer)
    by_column[EXPECTED] = raw[:, -1]
    return by_column


def is_single_lightgbm(model) -> bool:
    try:
        _lightgbm_pipeline(model)
    except ConfigError:
        return False
    return True


def shap_importance(
    model, X: pd.DataFrame, *, seed: int = 0, max_rows: int = 2000
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Global importance from exact tree SHAP: the mean absolute contribution per engineered
    feature and per raw column (a raw column's parts summed per row before taking the size,
    so parts that cancel out do not count twice). On a seeded sample of ``max_rows`` rows."""
    if len(X) > max_rows:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), size=max_rows, replace=False))
        X = X.iloc[rows]
    pipeline, booster = _lightgbm_pipeline(model)
    featurizer = pipeline.named_steps["features"]
    features = featurizer.transform(X)
    raw = booster.predict(features, pred_contrib=True)
    n_features = features.shape[1]
    if raw.shape[1] > n_features + 1:  # multiclass: sizes summed over the classes' blocks
        blocks = raw.reshape(len(X), -1, n_features + 1)[:, :, :-1]
        per_feature = np.abs(blocks).sum(axis=1)
        engineered = pd.DataFrame(per_feature, columns=list(features.columns))
        by_column = sum(
            _to_raw_columns(
                pd.DataFrame(blocks[:, k], columns=list(features.columns)), featurizer
            ).abs()
            for k in range(blocks.shape[1])
        )
    else:
        engineered = pd.DataFrame(np.abs(raw[:, :-1]), columns=list(features.columns))
        by_column = _to_raw_columns(
            pd.DataFrame(raw[:, :-1], columns=list(features.columns)), featurizer
        ).abs()
    return _ranked(by_column.mean(), "column"), _ranked(engineered.mean(), "feature")


def _ranked(sizes: pd.Series, name: str) -> pd.DataFrame:
    frame = sizes.rename("importance").rename_axis(name).reset_index()
    frame["importance_std"] = np.nan
    return frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


def raw_margin(model, rows: pd.DataFrame) -> np.ndarray:
    """The LightGBM model's raw output for ``rows`` (what the contributions add up to)."""
    pipeline, booster = _lightgbm_pipeline(model)
    raw = booster.predict(pipeline.named_steps["features"].transform(rows), raw_score=True)
    return raw.max(axis=1) if raw.ndim == 2 else raw


def top_contributions(contributions: pd.DataFrame, k: int = 5) -> pd.DataFrame:
    """Each row's k largest contributions by size: `column_1`, `contribution_1`, ..."""
    values = contributions.drop(columns=EXPECTED)
    order = np.argsort(-values.abs().to_numpy(), axis=1)[:, :k]
    out = {}
    names = np.asarray(values.columns)
    for rank in range(order.shape[1]):
        out[f"column_{rank + 1}"] = names[order[:, rank]]
        out[f"contribution_{rank + 1}"] = np.take_along_axis(
            values.to_numpy(), order[:, rank : rank + 1], axis=1
        )[:, 0]
    out["expected_value"] = contributions[EXPECTED].to_numpy()
    return pd.DataFrame(out, index=contributions.index)


def feature_sources(featurizer) -> dict[str, list[str]]:
    """Each engineered feature of a fitted TableFeaturizer and the raw columns it came from."""
    from trialflow.features.plan_file import describe_features

    return {row["name"]: row["sources"] for row in describe_features(featurizer)}


def _to_raw_columns(engineered: pd.DataFrame, featurizer) -> pd.DataFrame:
    sources = feature_sources(featurizer)
    columns: dict[str, np.ndarray] = {}
    for feature in engineered.columns:
        origin = sources.get(feature) or [feature]
        share = engineered[feature].to_numpy() / len(origin)
        for column in origin:
            columns[column] = columns.get(column, 0.0) + share
    return pd.DataFrame(columns, index=engineered.index)


def _lightgbm_pipeline(model):
    """The pipeline and LightGBM booster of ``model``, or a clear error if it has none."""
    pipeline = model
    if hasattr(model, "members_"):
        if len(model.members_) != 1:
            raise ConfigError(
                "Per-row contributions are exact for a single LightGBM model; this model is an "
                f"ensemble of {len(model.members_)}. Train with --learner restricted, or use "
                "the global importance registered with the run (feature_importance.csv)."
            )
        pipeline = model.members_[0]
    estimator = pipeline.named_steps.get("model") if hasattr(pipeline, "named_steps") else None
    estimator = getattr(estimator, "regressor_", estimator)  # a log-target wrapper
    booster = getattr(estimator, "booster_", None)
    if booster is None:
        raise ConfigError(
            "Per-row contributions need a LightGBM model; this model's learner is "
            f"{type(estimator).__name__}. The run's global importance (feature_importance.csv) "
            "explains it."
        )
    return pipeline, booster
