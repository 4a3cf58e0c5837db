"""The holdout split and its scores, on small frames."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

from trialflow.data.holdout import holdout_scores, split_holdout
from trialflow.data.loading import TrainingTable
from trialflow.errors import ConfigError


def _table(n: int, task: str) -> TrainingTable:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=n), "b": rng.normal(size=n)})
    signal = X["a"] + 0.5 * X["b"]
    if task == "binary":
        # An imbalanced target: 10 % positives, so stratification shows.
        y = np.where(signal > np.quantile(signal, 0.9), "yes", "no")
    else:
        y = signal.to_numpy() + rng.normal(scale=0.1, size=n)
    return TrainingTable(
        X=X, y=y, target="t", task=task, task_reason="", source="", fingerprint="f"
    )


def test_no_holdout_leaves_the_table_alone():
    table = _table(100, "binary")
    assert split_holdout(table, 0.0, seed=0) == (table, None)


def test_the_split_is_stratified_seeded_and_disjoint():
    table = _table(1000, "binary")
    training, holdout = split_holdout(table, 0.2, seed=3)
    assert len(holdout) == 200 and len(training.y) == 800
    assert (holdout.y == "yes").sum() == 20  # the 10 % positives, exactly
    again, same = split_holdout(table, 0.2, seed=3)
    pd.testing.assert_frame_equal(holdout.X, same.X)
    rows = pd.concat([training.X, holdout.X])
    assert not rows.duplicated().any() and len(rows) == 1000


def test_a_holdout_too_small_to_mean_anything_is_refused():
    with pytest.raises(ConfigError, match="holdout 0.1 of 100 rows leaves 10 rows to score"):
        split_holdout(_table(100, "binary"), 0.1, seed=0)


def test_scores_are_the_runs_metric_first_then_the_tasks_usual_ones():
    table = _table(600, "binary")
    training, holdout = split_holdout(table, 0.25, seed=0)
    model = LogisticRegression().fit(training.X, training.y)
    scores = holdout_scores(model, holdout, "binary", "accuracy")
    assert list(scores) == ["accuracy", "roc_auc", "log_loss", "f1"]
    assert scores["roc_auc"] > 0.9

    table = _table(600, "regression")
    training, holdout = split_holdout(table, 0.25, seed=0)
    model = LinearRegression().fit(training.X, training.y)
    scores = holdout_scores(model, holdout, "regression", "r2")
    assert list(scores) == ["r2", "rmse", "mae"] and scores["r2"] > 0.9


def test_a_model_without_probabilities_gets_the_label_metrics():
    class LabelsOnly:
        classes_ = np.array(["no", "yes"])

        def predict(self, X):
            return np.where(X["a"] > 1.2, "yes", "no")

    training, holdout = split_holdout(_table(600, "binary"), 0.25, seed=0)
    assert list(holdout_scores(LabelsOnly(), holdout, "binary", "roc_auc")) == ["accuracy", "f1"]
