"""The forecast task's steps as plain functions: read the history, backtest and fit within
the budget, forecast past the data, and what the registry records. The `forecast` flow's
tasks (`tasks/forecast.py`) wrap them for Prefect."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pandas as pd

from trialflow.config import TrainConfig
from trialflow.forecast.forecaster import ENSEMBLE, Forecaster, fit_forecaster

# Kept back from the backtests for the forecast after the data, the report and registration:
# a few seconds, and a share of the budget, as the forecast grows with the series (148
# monthly series: 4.5 s of 60).
FINISH_SECONDS = 3.0
FINISH_SHARE = 0.1


@dataclass
class ForecastResult:
    """What a forecast run returns: the fitted forecaster, its forecast of the steps after
    the training data, the per-model backtest scores and where it was registered."""

    forecaster: Forecaster
    forecast: pd.DataFrame
    model_name: str
    model_version: str
    report_path: str
    flow_run_id: str
    timings: dict[str, float] = field(default_factory=dict)
    task: str = "forecast"
    metric: str = "mase"

    @property
    def leaderboard(self) -> pd.DataFrame:
        """Backtest scores per model, best MASE first, the ensemble included."""
        return self.forecaster.scores.sort_values("mase", kind="stable").reset_index(drop=True)


def read_history(config: TrainConfig, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The training table: ``frame`` when given, else read from ``config.data``."""
    if frame is not None:
        return frame
    from trialflow.data.tables import read_table

    return read_table(config.data)


def fit(config: TrainConfig, history: pd.DataFrame, deadline: float | None) -> Forecaster:
    """Backtest and fit within what is left of the budget (``deadline``, epoch seconds)."""
    reserve = FINISH_SECONDS + FINISH_SHARE * config.time_budget
    left = (deadline - time.time() if deadline else config.time_budget) - reserve
    return fit_forecaster(
        history,
        target=config.target,
        time=config.time_column,
        series=tuple(config.series),
        horizon=int(config.horizon),
        frequency=config.frequency or None,
        holidays=config.holidays or None,
        known_covariates=tuple(config.known_covariates),
        aggregate=config.aggregate,
        time_budget=max(left, 1.0),
        seed=config.seed,
    )


def registry_metrics(forecaster: Forecaster) -> dict[str, float]:
    """The ensemble's backtest scores, and each model's MASE."""
    scores = forecaster.scores.set_index("model")
    metrics = {
        f"backtest_{name}": float(scores.loc[ENSEMBLE, name])
        for name in ("mase", "smape", "rmse")
        if ENSEMBLE in scores.index and name in scores
    }
    for model, value in scores["mase"].items():
        metrics[f"backtest_mase_{model}"] = float(value)
    return metrics


def registry_params(config: TrainConfig, forecaster: Forecaster) -> dict[str, object]:
    return {
        "task": "forecast",
        "target": config.target,
        "time_column": config.time_column,
        "series": ",".join(config.series),
        "horizon": forecaster.horizon,
        "frequency": forecaster.frequency,
        "season_length": forecaster.season_length,
        "holidays": config.holidays,
        "known_covariates": ",".join(config.known_covariates),
        "time_budget": config.time_budget,
        "seed": config.seed,
        "data": config.data or "a DataFrame",
        "weights": ", ".join(f"{k} {v:.2f}" for k, v in forecaster.weights.items()),
    }


@dataclass
class ForecastBatch:
    """`trialflow predict` on a forecast model: the forecast, and (for the CLI's shape)
    no quarantined rows."""

    predictions: pd.DataFrame
    history_rows: int
    n_series: int
    quarantined: pd.DataFrame = field(default_factory=pd.DataFrame)

    def summary(self) -> list[str]:
        return [
            f"Forecast {len(self.predictions)} steps for {self.n_series} series from "
            f"{self.history_rows} rows of history."
        ]


def forecast_batch(
    forecaster: Forecaster, history: pd.DataFrame, future: pd.DataFrame | None
) -> ForecastBatch:
    """Forecast the horizon after each series' last timestamp in ``history``."""
    predictions = forecaster.predict(history, future)
    n_series = predictions.groupby(list(forecaster.series)).ngroups if forecaster.series else 1
    return ForecastBatch(predictions, history_rows=len(history), n_series=n_series)


def forecast_file(forecaster: Forecaster, input_path: str, output_path: str, *, model_version: str):
    """The score-batch flow on a forecast model: forecast from the history in
    ``input_path`` into ``output_path`` (written atomically), each row tagged with the
    model version. A history is read whole: a forecast needs every series' recent past."""
    from trialflow.data.tables import read_table
    from trialflow.serving.batch_scoring import BatchCounts
    from trialflow.serving.scoring import write_tables_atomically

    history = read_table(input_path)
    forecast = forecaster.predict(history).assign(model_version=model_version)
    write_tables_atomically({output_path: forecast})
    return BatchCounts(rows=len(history), scored=len(forecast), chunks=1, output=output_path)
