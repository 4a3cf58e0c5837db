"""Guardrails on small frames: each reports passed / done / alert with what it found."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.conftest import make_frame
from trialflow.config import TrainConfig
from trialflow.data.loading import load_training_table
from trialflow.features.plan_file import plan_for
from trialflow.learners import get_learner, portfolio_for
from trialflow.learners.spec import CLASS_WEIGHT, needs_class_weights, with_class_weights
from trialflow.validation.guardrails import guardrails_frame, training_guardrails


def _guardrails(frame: pd.DataFrame, metric: str = "roc_auc", target: str = "target") -> dict:
    config = TrainConfig(data="x.csv", target=target)
    table = load_training_table(None, frame, target=target, task="auto")
    plan = plan_for(table, config, {})
    return {g.name: g for g in training_guardrails(table, plan, config, metric)}


def _imbalanced(n: int = 400) -> pd.DataFrame:
    frame = make_frame(n)
    frame["target"] = np.where(np.arange(n) % 10 == 0, "yes", "no")  # 10 % "yes"
    return frame


def test_a_clean_table_passes_every_guardrail_it_can():
    guardrails = _guardrails(make_frame(200))
    assert guardrails["target leakage"].status == "passed"
    assert guardrails["duplicate rows"].status == "passed"
    assert guardrails["constant columns"].status == "passed"
    assert guardrails["date strings"].status == "done"  # `when` holds "2024-03-01" strings
    frame = guardrails_frame(list(guardrails.values()))
    assert list(frame.columns) == ["name", "status", "found", "action"]
    assert set(frame["status"]) <= {"passed", "done", "alert"}


def test_imbalance_is_an_alert_for_probability_metrics_and_reweighted_for_f1():
    frame = _imbalanced()
    alert = _guardrails(frame, "roc_auc")["class imbalance"]
    assert alert.status == "alert" and "'yes' has 40 rows" in alert.found
    done = _guardrails(frame, "f1")["class imbalance"]
    assert done.status == "done" and "class_weight=balanced" in done.action
    assert needs_class_weights(frame["target"], "binary", "f1")
    assert not needs_class_weights(frame["target"], "binary", "roc_auc")
    assert not needs_class_weights(make_frame(200)["target"], "binary", "f1")


@pytest.mark.parametrize("learner", [s.name for s in portfolio_for("binary", [])])
def test_class_weights_reach_every_classifier(learner):
    spec = with_class_weights(get_learner(learner))
    assert spec.defaults[CLASS_WEIGHT] == "balanced"
    model = spec.make("binary", dict(spec.defaults), seed=0)
    weights = {k: v for k, v in model.get_params().items() if k.endswith("class_weight")}
    assert weights and set(weights.values()) == {"balanced"}


def test_duplicates_alert_from_one_percent_of_rows():
    frame = make_frame(200)
    few = pd.concat([frame, frame.head(1)], ignore_index=True)
    many = pd.concat([frame, frame.head(10)], ignore_index=True)
    assert _guardrails(few)["duplicate rows"].status == "passed"
    duplicates = _guardrails(many)["duplicate rows"]
    assert duplicates.status == "alert" and "10 rows" in duplicates.found


def test_regression_has_no_class_guardrails():
    guardrails = _guardrails(make_frame(200, task="regression"))
    assert "class imbalance" not in guardrails
    assert "stratified" not in guardrails["validation split"].found
