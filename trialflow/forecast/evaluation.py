"""A forecaster's errors on fresh data, for champion / challenger retraining of forecast
models: hold out the newest ``horizon`` steps of every series, forecast them from the
history before, and score the forecast as the backtests do (MASE by default).
"""

from __future__ import annotations

import pandas as pd

from trialflow.errors import DataError
from trialflow.forecast.metrics import mase, rmse, series_scales, smape
from trialflow.forecast.series import parse_time, series_ids

# Forecast errors a retrain may compare models by; every one is better lower.
FORECAST_METRICS = ("mase", "smape", "rmse")


def split_newest_steps(
    frame: pd.DataFrame, *, time: str, series: tuple[str, ...], horizon: int
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, evaluation rows): the rows at each series' newest ``horizon`` timestamps
    are held out, so a challenger trains without them and both models forecast them."""
    stamps = parse_time(frame[time], time)
    keys = series_ids(frame, series)
    newest = stamps.groupby(keys.to_numpy()).rank(method="dense", ascending=False)
    held = (newest <= horizon).to_numpy()
    if held.all():
        raise DataError(
            f"Every series has {horizon} timestamps or fewer: nothing would be left to train "
            f"on after holding out the newest {horizon} steps for the champion / challenger "
            "comparison."
        )
    return frame[~held].reset_index(drop=True), frame[held].reset_index(drop=True)


def forecast_error(
    forecaster, history: pd.DataFrame, evaluation: pd.DataFrame, metric: str = "mase"
) -> float:
    """``metric`` of ``forecaster``'s forecast from ``history`` against the outcomes in
    ``evaluation`` (same columns) at the forecast's steps; evaluation rows past the horizon
    or of series without history are not scored. MASE scales each series' errors by its
    seasonal naive MAE over ``history``."""
    if metric not in FORECAST_METRICS:
        raise ValueError(f"Forecasts are compared by {FORECAST_METRICS}; got {metric!r}.")
    time, target, series = forecaster.time, forecaster.target, tuple(forecaster.series)
    future = evaluation if forecaster.known_covariates else None
    predicted = forecaster.predict(history, future)
    actual = evaluation[[*series, time, target]].copy()
    actual[time] = parse_time(actual[time], time)
    predicted[time] = parse_time(predicted[time], time)
    merged = predicted.merge(actual, on=[*series, time], how="inner")
    merged = merged[merged[target].notna()]
    if merged.empty:
        raise DataError(
            f"No evaluation row falls in the {forecaster.horizon} steps forecast after each "
            "series' history: give evaluation data that continues the training data."
        )
    y, prediction = merged[target].to_numpy(float), merged["prediction"].to_numpy(float)
    if metric == "smape":
        return smape(y, prediction)
    if metric == "rmse":
        return rmse(y, prediction)
    scales = _scales(history, forecaster)
    return mase(y, prediction, series_ids(merged, series).map(scales).to_numpy(float))


def _scales(history: pd.DataFrame, forecaster) -> pd.Series:
    """Each series' seasonal naive MAE over its history (``series_scales`` of the history
    in long form, in time order)."""
    time, series = forecaster.time, tuple(forecaster.series)
    long = pd.DataFrame(
        {
            "unique_id": series_ids(history, series).to_numpy(),
            "ds": parse_time(history[time], time).to_numpy(),
            "y": history[forecaster.target].to_numpy(float),
        }
    )
    long = long[long["y"].notna()].sort_values(["unique_id", "ds"], kind="stable")
    return series_scales(long, forecaster.season_length)
