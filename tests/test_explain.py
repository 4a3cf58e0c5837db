"""Global importance: from the trees where the model has them, capped permutation otherwise,
an ensemble's members combined by weight, and a value for every raw input column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

from trialflow.explain.importance import MIN_PERMUTATION_ROWS, SAMPLE_ROWS, global_importance
from trialflow.featurizers import plan_columns
from trialflow.learners import LEARNERS
from trialflow.model.ensemble import WeightedEnsemble
from trialflow.model.pipeline import build_pipeline

from .conftest import make_frame

METRICS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "r2"}


def _table(task: str = "binary", n: int = 600):
    frame = make_frame(n=n, seed=3, task=task)
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    plan = plan_columns(X, target="target", exclude={})
    classes = None if task == "regression" else sorted(set(y))
    return X, y, plan, classes


def _fitted(learner: str, X, y, plan, task: str = "binary"):
    spec = LEARNERS[learner]
    params = dict(spec.defaults)
    if spec.resource:  # few trees or rounds: quick to fit, and enough to find the signal
        params[spec.resource] = 30
    # One thread, as the refit fits: OpenMP threads contend badly on a busy machine.
    with threadpool_limits(limits=1):
        return build_pipeline(learner, params, plan, task, seed=0, n_jobs=1).fit(X, y)


def _importance(model, X, y, plan, classes, task="binary", seconds=None):
    return global_importance(
        model,
        X,
        y,
        columns=plan.input_columns,
        metric=METRICS[task],
        classes=classes,
        seed=0,
        seconds=seconds,
    )


@pytest.mark.parametrize(
    ("learner", "named"),
    [
        ("lightgbm", "tree SHAP"),
        ("random_forest", "Permutation importance"),
        ("extra_trees", "Permutation importance"),
        ("hist_gradient_boosting", "Permutation importance"),
        ("logistic_regression", "Permutation importance"),
    ],
)
def test_every_raw_column_gets_a_value_and_the_method_says_how(learner, named):
    X, y, plan, classes = _table()
    found = _importance(_fitted(learner, X, y, plan), X, y, plan, classes)
    raw = found.raw.set_index("column")["importance"]
    assert set(plan.input_columns) <= set(raw.index)
    assert raw.notna().all() and np.isfinite(raw).all()
    assert found.raw["importance"].is_monotonic_decreasing
    assert named in found.method
    # The signal is x1, x2 and whether colour is red; a model that finds it ranks one first.
    assert found.raw["column"].iloc[0] in {"x1", "x2", "colour"}
    assert found.engineered is not None and found.engineered["importance"].notna().all()


def test_a_date_column_the_target_ignores_is_not_credited_for_its_many_parts():
    # The forest's own (impurity) importance gave the date's 12 parts 21 % here.
    X, y, plan, classes = _table()
    found = _importance(_fitted("random_forest", X, y, plan), X, y, plan, classes)
    raw = found.raw.set_index("column")["importance"]
    assert found.raw["column"].iloc[-1] == "when"
    assert raw["when"] < 0.25 * raw[["x1", "x2", "colour"]].min()


def test_an_ensemble_averages_its_members_shares_by_weight():
    X, y, plan, classes = _table()
    members = [
        build_pipeline("lightgbm", params, plan, "binary", seed=0, n_jobs=1)
        for params in ({"n_estimators": 30}, {"n_estimators": 20, "num_leaves": 4})
    ]
    model = WeightedEnsemble(members, [0.75, 0.25], task="binary").fit(X, y)
    found = _importance(model, X, y, plan, classes)
    alone = [
        _importance(m, X, y, plan, classes).raw.set_index("column")["importance"]
        for m in model.members_
    ]
    expected = 0.75 * alone[0] / alone[0].sum() + 0.25 * alone[1] / alone[1].sum()
    got = found.raw.set_index("column")["importance"]
    np.testing.assert_allclose(got[expected.index], expected)
    assert got.sum() == pytest.approx(1.0)
    assert found.engineered is None
    assert "weight 0.75" in found.method and "averaged with the ensemble's weights" in found.method


def test_a_mixed_ensemble_reads_lightgbm_trees_and_permutes_only_the_rest():
    X, y, plan, classes = _table()
    members = [_fitted(name, X, y, plan) for name in ("lightgbm", "logistic_regression")]
    model = WeightedEnsemble(members, [0.5, 0.5], task="binary").fit(X, y)
    found = _importance(model, X, y, plan, classes)
    assert "tree SHAP" in found.method and "permutation importance" in found.method
    raw = found.raw.set_index("column")["importance"]
    assert set(plan.input_columns) <= set(raw.index) and raw.notna().all()
    assert raw.sum() == pytest.approx(1.0)


def test_permutation_shrinks_its_sample_to_fit_the_time_and_still_covers_every_column():
    X, y, plan, classes = _table()
    pipeline = _fitted("logistic_regression", X, y, plan)
    unhurried = _importance(pipeline, X, y, plan, classes)
    assert f"{SAMPLE_ROWS:,} training rows" in unhurried.method
    # No time at all: the smallest sample, every column still valued.
    hurried = _importance(pipeline, X, y, plan, classes, seconds=0.0)
    assert f"{MIN_PERMUTATION_ROWS:,} training rows" in hurried.method
    raw = hurried.raw.set_index("column")["importance"]
    assert set(plan.input_columns) <= set(raw.index) and raw.notna().all()


def test_lightgbm_too_slow_for_tree_shap_is_described_by_its_split_gain():
    X, y, plan, classes = _table()
    pipeline = _fitted("lightgbm", X, y, plan)
    exact = _importance(pipeline, X, y, plan, classes)
    assert f"{SAMPLE_ROWS:,} training rows" in exact.method
    hurried = _importance(pipeline, X, y, plan, classes, seconds=0.0)
    assert "split gain" in hurried.method and "would overrun the time" in hurried.method
    raw = hurried.raw.set_index("column")["importance"]
    assert set(plan.input_columns) <= set(raw.index) and raw.notna().all()
    assert raw.sum() == pytest.approx(1.0)
    assert hurried.engineered["importance"].sum() == pytest.approx(1.0)


def test_permutation_keeps_the_categories_a_native_model_was_fitted_on():
    X, y, plan, classes = _table()
    pipeline = _fitted("hist_gradient_boosting", X, y, plan)
    features = pipeline.named_steps["features"].transform(X.head())
    assert isinstance(features["colour"].dtype, pd.CategoricalDtype)
    found = _importance(pipeline, X, y, plan, classes)
    assert found.raw.set_index("column").loc["colour", "importance"] > 0


def test_the_same_seed_gives_the_same_importance():
    X, y, plan, classes = _table()
    pipeline = _fitted("logistic_regression", X, y, plan)
    first = _importance(pipeline, X, y, plan, classes)
    second = _importance(pipeline, X, y, plan, classes)
    pd.testing.assert_frame_equal(first.raw, second.raw)
    pd.testing.assert_frame_equal(first.engineered, second.engineered)


def test_engineered_permutation_importance_names_the_models_inputs():
    X, y, plan, classes = _table()
    pipeline = _fitted("logistic_regression", X, y, plan)
    found = _importance(pipeline, X, y, plan, classes)
    inputs = list(pipeline.named_steps["features"].transform(X.head(2)).columns)
    assert sorted(found.engineered["feature"]) == sorted(inputs)
    assert found.engineered["importance"].iloc[0] > 0


@pytest.mark.parametrize(
    ("task", "learner"),
    [
        ("multiclass", "logistic_regression"),
        ("multiclass", "lightgbm"),
        ("regression", "elastic_net"),
        ("regression", "random_forest"),
        ("regression", "lightgbm"),
    ],
)
def test_multiclass_and_regression_models_are_explained(task, learner):
    X, y, plan, classes = _table(task)
    pipeline = _fitted(learner, X, y, plan, task)
    found = _importance(pipeline, X, y, plan, classes, task)
    raw = found.raw.set_index("column")["importance"]
    assert set(plan.input_columns) <= set(raw.index) and np.isfinite(raw).all()
    assert raw.max() > 0
