"""The `forecast` flow: read the series, backtest and fit, forecast, report, register."""

from __future__ import annotations

import time

from prefect import flow
from prefect.runtime import flow_run

from trialflow.config import TrainConfig
from trialflow.forecast.run import ForecastResult
from trialflow.tasks.forecast import (
    backtest_and_fit,
    forecast_ahead,
    forecast_report,
    read_series,
    register_forecast,
)


@flow(name="forecast", version="0.1.0")
def forecast(config: TrainConfig, frame_key: str = "", deadline: float | None = None):
    """Forecast ``config.target`` ``config.horizon`` steps ahead per series, and register
    the forecaster. ``deadline`` (epoch seconds) is set by callers that started the clock."""
    deadline = deadline or time.time() + config.time_budget
    run_id = str(flow_run.get_id() or "")
    history = read_series(config, frame_key)
    forecaster = backtest_and_fit(history, config, deadline)
    ahead = forecast_ahead(forecaster, history)
    report_path, page = forecast_report(forecaster, history, ahead, config, run_id)
    registered = register_forecast(forecaster, config, ahead, page)
    return ForecastResult(
        forecaster=forecaster,
        forecast=ahead,
        model_name=registered.name,
        model_version=registered.version,
        report_path=report_path,
        flow_run_id=run_id,
    )
