"""Global importance of the final model, by raw input column and by engineered feature.

Proportionate to the run: the work is capped in time (``seconds``, shared by an ensemble's
members), and done on a seeded row sample. LightGBM models are explained from their trees
by exact tree SHAP, on as many sample rows as the time allows (LightGBM's split gain when
not even ``MIN_SHAP_ROWS`` fit: a 1,000-tree, 128-leaf model takes 19 ms a row); other
models by permutation importance, few shuffles of the sample predicted in one batch, the
sample shrinking to fit. An ensemble combines its members' importances by weight. Every
raw input column gets a value: a column the model does not use gets 0, never a blank.

Forests' own importance (the mean decrease in impurity) is not used: it credits splits on
noise, and a raw column's many engineered parts add that up. On a table whose target
ignores its date column (600 rows, tests/test_explain.py), the date's 12 parts got 21 % of
a RandomForest's impurity importance and 29 % of an ExtraTrees' (the most of any column);
permutation importance gave the date 5 % and 13 %.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from trialflow.explain.contributions import feature_sources, is_single_lightgbm, shap_importance
from trialflow.model.metrics import METRICS
from trialflow.model.pipeline import aligned_proba

# Rows of the seeded training sample importance is computed on, at most. Mean absolute SHAP
# values are stable well before 2,000 rows, and the cost is linear (tree SHAP of LightGBM's
# default on credit_data: 0.9 s for 2,000 rows, 0.22 s for 500; with 31 leaves 0.6 s).
SAMPLE_ROWS = 500
# Fewest rows for tree SHAP; a model too slow for them is described by its split gain.
MIN_SHAP_ROWS = 100
# Rows timed first to size the SHAP sample.
PROBE_ROWS = 20
# Shuffles of each column for permutation importance, all predicted in one batch, since a
# model's per-call overhead dominates at these sizes.
PERMUTATION_REPEATS = 2
# Fewest rows the sample shrinks to when the shuffles would not fit the time cap: every
# column still gets a value, on fewer rows.
MIN_PERMUTATION_ROWS = 100
# Rows per predict call in the batch (bounds memory for wide tables).
BATCH_ROWS = 50_000


@dataclass(frozen=True)
class ModelImportance:
    """Importance per raw column and, for a single pipeline, per engineered feature."""

    raw: pd.DataFrame  # column, importance, importance_std
    engineered: pd.DataFrame | None  # feature, importance, importance_std
    method: str


@dataclass(frozen=True)
class _Found:
    """One pipeline's importance: raw and engineered values, and what was computed."""

    raw: pd.Series
    raw_std: pd.Series | None
    engineered: pd.Series
    engineered_std: pd.Series | None
    method: str
    short: str  # the method in a few words, for an ensemble's member list


def global_importance(
    model,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    columns: list[str],
    metric: str,
    classes: list | None,
    seed: int,
    seconds: float | None = None,
) -> ModelImportance:
    """Importance of ``model`` (a trialflow pipeline or weighted ensemble of them) for each
    of the raw ``columns``.

    ``seconds`` caps the model calls (tree SHAP, permutation importance's predictions),
    shared equally by an ensemble's members; None keeps the full sample whatever it costs
    (a deterministic run, whose result must not depend on the machine's speed).
    """
    from trialflow.model.bagging import BAGGED_NOTE, full_refit_pipeline

    bagged = list(getattr(model, "members_", None) or [model])
    # A bagged member through its refit on all rows: six models' predictions per shuffle
    # did not fit the cap (ad_data: explain 5.7 s), and its fold models are the same
    # configuration fitted on 4/5 of those rows.
    members = [full_refit_pipeline(m) for m in bagged]
    note = BAGGED_NOTE if any(m is not b for m, b in zip(members, bagged, strict=True)) else ""
    rows = min(len(X), SAMPLE_ROWS)
    picked = np.sort(np.random.default_rng(seed).choice(len(X), size=rows, replace=False))
    X, y = X.iloc[picked].reset_index(drop=True), np.asarray(y)[picked]
    alone = len(members) == 1
    share = None if seconds is None else max(seconds, 0.0) / len(members)
    # One thread, as in the refit: with the cores busy elsewhere (Prefect's server, other
    # runs), OpenMP threads spinning against each other made a HistGradientBoosting predict
    # on 500 rows take 1.9 s instead of 0.01 s.
    with threadpool_limits(limits=1):
        found = [
            _shap(m, X, seconds=share)
            if is_single_lightgbm(m)
            else _permutation(
                m,
                X,
                y,
                engineered=alone,
                columns=columns,
                metric=metric,
                classes=classes,
                seed=seed,
                seconds=share,
            )
            for m in members
        ]
    if alone:
        (one,) = found
        raw = _frame(_all_columns(one.raw, columns), one.raw_std, "column")
        engineered = _frame(one.engineered, one.engineered_std, "feature")
        return ModelImportance(raw, engineered, one.method + note)
    weights = np.asarray(model.weights_, dtype=float)
    combined = sum(
        w * _shares(_all_columns(f.raw, columns)) for f, w in zip(found, weights, strict=True)
    )
    described = "; ".join(
        f"{_learner_name(m)} (weight {w:.2f}): {f.short}"
        for m, f, w in zip(members, found, weights, strict=True)
    )
    method = (
        f"Ensemble of {len(members)} models. Each member's importance is scaled to shares "
        f"summing to 1 and the shares are averaged with the ensemble's weights: {described}. "
        "A raw column's value sums the features engineered from it; 0 means no member uses it."
    )
    return ModelImportance(_frame(combined, None, "column"), None, method + note)


def _shap(pipeline, X: pd.DataFrame, *, seconds: float | None) -> _Found:
    """A LightGBM pipeline's mean absolute tree SHAP values on the rows of ``X`` that fit in
    ``seconds`` (all of them without a cap); its split gains when even ``MIN_SHAP_ROWS``
    do not fit."""
    rows = len(X)
    if seconds is not None:
        started = time.perf_counter()
        shap_importance(pipeline, X.iloc[:PROBE_ROWS], max_rows=PROBE_ROWS)
        per_row = (time.perf_counter() - started) / min(len(X), PROBE_ROWS)
        rows = min(rows, int(seconds / max(per_row, 1e-9)))
        if rows < min(MIN_SHAP_ROWS, len(X)):
            return _gain(pipeline, f"tree SHAP on {MIN_SHAP_ROWS} rows would overrun the time")
    # ``X`` is already a seeded sample: its first rows are a smaller one.
    raw, engineered = shap_importance(pipeline, X.iloc[:rows], max_rows=rows)
    return _Found(
        raw.set_index("column")["importance"],
        None,
        engineered.set_index("feature")["importance"],
        None,
        "Mean absolute SHAP value (exact tree SHAP from LightGBM, in the model's raw output: "
        f"log-odds for classifiers) on a sample of {rows:,} training rows; a raw column's "
        "value sums the parts engineered from it, row by row.",
        f"mean absolute tree SHAP value on {rows:,} rows",
    )


def _gain(pipeline, why: str) -> _Found:
    """A LightGBM pipeline's total split gain per feature, as shares, summed to columns."""
    featurizer = pipeline.named_steps["features"]
    booster = _estimator(pipeline).booster_
    gains = np.asarray(booster.feature_importance(importance_type="gain"), dtype=float)
    shares = pd.Series(
        gains / gains.sum() if gains.sum() > 0 else gains,
        index=list(featurizer.get_feature_names_out()),
    )
    sources = feature_sources(featurizer)
    by_column: dict[str, float] = {}
    for feature, share in shares.items():
        origin = sources.get(feature) or [feature]
        for column in origin:
            by_column[column] = by_column.get(column, 0.0) + share / len(origin)
    return _Found(
        pd.Series(by_column, dtype=float),
        None,
        shares,
        None,
        f"LightGBM's split gain: each feature's share of the gain of all splits on it, over "
        f"the trees ({why}); a raw column's value sums the features engineered from it.",
        f"share of LightGBM's split gain ({why})",
    )


def _estimator(pipeline):
    """The pipeline's learner, out of a log-target wrapper."""
    estimator = pipeline.named_steps["model"]
    return getattr(estimator, "regressor_", estimator)


def _permutation(pipeline, X, y, *, engineered, columns, metric, classes, seed, seconds) -> _Found:
    """Permutation importance on the engineered features: the featurizer runs once, then
    each raw column's features are shuffled together (the raw column's importance) and, with
    ``engineered``, each feature alone (the feature's). Every shuffled copy is predicted in
    one batch but scored on its own, which costs more than predicting it for cheap models
    (sklearn's roc_auc_score: ~3 ms for 500 rows), so an ensemble's member is shuffled by
    raw column only."""
    rng = np.random.default_rng(seed)
    featurizer = pipeline.named_steps["features"]
    features = featurizer.transform(X)
    sources = feature_sources(featurizer)
    by_column = {c: [f for f in features.columns if c in sources.get(f, [f])] for c in columns}
    by_feature = {f: [f] for f in features.columns} if engineered else {}
    # Each distinct set of features once, in a fixed order so the shuffles are seeded alike.
    distinct = {frozenset(g) for g in [*by_column.values(), *by_feature.values()] if g}
    groups = sorted(distinct, key=sorted)
    m = METRICS[metric]
    model = pipeline.named_steps["model"]

    def predict(frame: pd.DataFrame) -> np.ndarray:
        parts = []
        for start in range(0, len(frame), BATCH_ROWS):
            part = frame.iloc[start : start + BATCH_ROWS]
            parts.append(
                aligned_proba(model, part, classes) if m.needs_proba else model.predict(part)
            )
        return np.concatenate(parts)

    def loss(prediction: np.ndarray, y_rows: np.ndarray) -> float:
        return m.loss(m.score(y_rows, prediction, classes))

    copies = len(groups) * PERMUTATION_REPEATS
    started = time.perf_counter()
    prediction = predict(features)
    predicted = time.perf_counter()
    base = loss(prediction, y)
    if seconds is not None:
        # Each copy costs its rows' prediction and one scoring whatever its rows, both timed
        # on the unshuffled sample; the sample shrinks (never below the floor) when the
        # copies would not fit in ``seconds``.
        per_row = (predicted - started) / len(features)
        per_copy = time.perf_counter() - predicted
        affordable = int((seconds / copies - per_copy) / max(per_row, 1e-12))
        if affordable < len(features):
            size = max(affordable, min(MIN_PERMUTATION_ROWS, len(features)))
            keep = np.sort(rng.choice(len(features), size, replace=False))
            features, y = features.iloc[keep].reset_index(drop=True), y[keep]
            base = loss(predict(features), y)
    from trialflow.gpu.selection import copy_losses

    shuffled = predict(_shuffled(features, groups, rng))
    drops = copy_losses(shuffled, copies, y, loss, metric=metric, classes=classes) - base
    drops = drops.reshape(len(groups), PERMUTATION_REPEATS)
    mean = dict(zip(groups, drops.mean(axis=1), strict=True))
    spread = dict(zip(groups, drops.std(axis=1), strict=True))

    def of(keys: dict[str, list[str]]) -> tuple[pd.Series, pd.Series]:
        found = {k: frozenset(g) for k, g in keys.items()}  # a column with no features: 0
        return (
            pd.Series({k: mean.get(g, 0.0) for k, g in found.items()}, dtype=float),
            pd.Series({k: spread.get(g, 0.0) for k, g in found.items()}, dtype=float),
        )

    rows = len(features)
    return _Found(
        *of(by_column),
        *of(by_feature),
        f"Permutation importance: how much the {metric} worsens when a column's values are "
        f"shuffled (mean of {PERMUTATION_REPEATS} shuffles of a sample of {rows:,} training "
        "rows; a raw column's engineered features are shuffled together).",
        f"permutation importance ({metric} lost, {PERMUTATION_REPEATS} shuffles of {rows:,} rows)",
    )


def _shuffled(features: pd.DataFrame, groups: list[frozenset], rng) -> pd.DataFrame:
    """``PERMUTATION_REPEATS`` copies of ``features`` per group, one after the other, each
    with the group's features shuffled by one permutation of the rows."""
    copies = []
    for group in groups:
        columns = sorted(group)
        for _ in range(PERMUTATION_REPEATS):
            copy = features.copy()
            order = rng.permutation(len(features))
            # Taken row-wise, so the dtypes (pandas categories above all) stay as fitted.
            copy[columns] = features[columns].iloc[order].set_axis(features.index)
            copies.append(copy)
    return pd.concat(copies, ignore_index=True)


def _all_columns(values: pd.Series, columns: list[str]) -> pd.Series:
    """``values`` for every raw input column (0 for one the model does not use), plus any
    other names the features were traced to."""
    extra = [c for c in values.index if c not in set(columns)]
    return values.reindex([*columns, *extra]).fillna(0.0)


def _shares(values: pd.Series) -> pd.Series:
    """Values as shares of their total; a negative permutation drop (noise) counts as 0."""
    positive = values.clip(lower=0.0)
    total = positive.sum()
    return positive / total if total > 0 else positive


def _frame(values: pd.Series, stds: pd.Series | None, name: str) -> pd.DataFrame:
    frame = values.rename("importance").rename_axis(name).reset_index()
    frame["importance_std"] = (
        np.nan if stds is None else stds.reindex(frame[name]).fillna(0.0).to_numpy()
    )
    return frame.sort_values("importance", ascending=False, kind="stable").reset_index(drop=True)


def _learner_name(pipeline) -> str:
    estimator = _estimator(pipeline)
    if hasattr(estimator, "steps"):  # a learner's own pipeline (scaler, then the model)
        estimator = estimator.steps[-1][1]
    return type(estimator).__name__
