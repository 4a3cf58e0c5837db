"""Tasks of the `forecast` flow: thin Prefect wrappers over `trialflow.forecast.run`."""

from __future__ import annotations

import pandas as pd
from prefect import get_run_logger
from prefect.artifacts import create_table_artifact

from trialflow.config import TrainConfig
from trialflow.forecast import run
from trialflow.forecast.forecaster import Forecaster
from trialflow.tasks.step import step


@step("read-series")
def read_series(config: TrainConfig, frame_key: str = "") -> pd.DataFrame:
    """``frame_key`` names a DataFrame held in this process; tables never travel as flow
    parameters, which Prefect's API stores."""
    from trialflow.data.frames import held

    history = run.read_history(config, held(frame_key) if frame_key else None)
    get_run_logger().info(
        "Read %d rows x %d columns from %s.",
        len(history),
        history.shape[1],
        config.data or "a DataFrame",
    )
    return history


@step("backtest-and-fit", retries=0)
def backtest_and_fit(history: pd.DataFrame, config: TrainConfig, deadline: float) -> Forecaster:
    forecaster = run.fit(config, history, deadline)
    logger = get_run_logger()
    for note in forecaster.notes:
        logger.info(note)
    scores = forecaster.scores.sort_values("mase", kind="stable")
    for row in scores.fillna({"seconds": 0.0}).itertuples():
        logger.info(
            "%s: backtest MASE %.4f, sMAPE %.2f, RMSE %.4g (%.1f s).",
            row.model, row.mase, row.smape, row.rmse, row.seconds,
        )  # fmt: skip
    create_table_artifact(
        key="forecast-backtests",
        table=scores.round(4).astype(object).where(scores.notna(), None).to_dict("records"),
        description="Backtest scores per model (MASE, sMAPE, RMSE) and ensemble weights.",
    )
    return forecaster


@step("forecast-ahead")
def forecast_ahead(forecaster: Forecaster, history: pd.DataFrame) -> pd.DataFrame:
    """The horizon after the training data (known covariates, if any, are not known yet:
    the global model is left out of this preview then)."""
    if forecaster.known_covariates:
        return pd.DataFrame(columns=[*forecaster.series, forecaster.time, "prediction"])
    return forecaster.predict(history)


@step("forecast-report")
def forecast_report(
    forecaster: Forecaster,
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    config: TrainConfig,
    run_id: str,
) -> tuple[str, str]:
    """(path, page) of the HTML report under the run's directory."""
    from trialflow.forecast.report import render
    from trialflow.runtime.files import write_atomically
    from trialflow.runtime.home import run_directory

    page = render(
        forecaster,
        history,
        forecast,
        model_name=config.resolved_model_name(),
        config=config.model_dump(exclude_defaults=True),
    )
    path = run_directory(run_id or "local") / "report.html"
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda handle: handle.write(page.encode("utf-8")))
    get_run_logger().info("Report: %s", path)
    return str(path), page


@step("register")
def register_forecast(
    forecaster: Forecaster, config: TrainConfig, forecast: pd.DataFrame, page: str
):
    from trialflow.forecast.registration import register_forecaster

    registered = register_forecaster(
        forecaster,
        name=config.resolved_model_name(),
        configured_uri=config.mlflow_tracking_uri,
        params=run.registry_params(config, forecaster),
        metrics=run.registry_metrics(forecaster),
        tables={"backtest_scores.csv": forecaster.scores, "forecast.csv": forecast},
        texts={"report.html": page},
    )
    get_run_logger().info("Registered %s version %s.", registered.name, registered.version)
    return registered
