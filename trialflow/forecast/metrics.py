"""Forecast errors: MASE (seasonal), sMAPE and RMSE over backtest predictions.

MASE divides each series' absolute errors by that series' in-sample seasonal naive MAE
(its ``scale``, from the history before the forecast origin), so series of any size weigh
the same; it is averaged over series and windows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def seasonal_scale(y: np.ndarray, season_length: int) -> float:
    """In-sample MAE of the seasonal naive forecast; the one-step naive MAE where the series
    is shorter than two seasons or flat over seasons; NaN for a constant series."""
    y = np.asarray(y, dtype=float)
    for lag in (season_length, 1):
        if lag < len(y):
            mae = float(np.mean(np.abs(y[lag:] - y[:-lag])))
            if mae > 0:
                return mae
    return float("nan")


def series_scales(frame: pd.DataFrame, season_length: int) -> pd.Series:
    """``seasonal_scale`` of each series in a long ``unique_id, ds, y`` frame."""
    return frame.groupby("unique_id", sort=False)["y"].agg(
        lambda y: seasonal_scale(y.to_numpy(), season_length)
    )


def mase(y: np.ndarray, prediction: np.ndarray, scale: np.ndarray) -> float:
    """Mean of |error| / scale. With the same number of steps in every series and window
    this equals the average over series of each series' MASE; constant series (NaN scale)
    are left out."""
    ratio = np.abs(np.asarray(y, float) - np.asarray(prediction, float)) / np.asarray(scale)
    return float(np.nanmean(ratio))


def smape(y: np.ndarray, prediction: np.ndarray) -> float:
    """Symmetric MAPE in percent (0 to 200); steps where both are zero count as 0."""
    y, prediction = np.asarray(y, float), np.asarray(prediction, float)
    denominator = np.abs(y) + np.abs(prediction)
    ratio = np.divide(
        2 * np.abs(y - prediction), denominator, out=np.zeros_like(y), where=denominator > 0
    )
    return float(100 * np.mean(ratio))


def rmse(y: np.ndarray, prediction: np.ndarray) -> float:
    return float(np.sqrt(np.mean((np.asarray(y, float) - np.asarray(prediction, float)) ** 2)))


def score_models(predictions: pd.DataFrame, models: list[str]) -> pd.DataFrame:
    """One row per model: MASE, sMAPE and RMSE over a backtest table (columns ``y``,
    ``scale`` and one per model)."""
    rows = []
    for model in models:
        y, p, s = predictions["y"], predictions[model], predictions["scale"]
        rows.append(
            {"model": model, "mase": mase(y, p, s), "smape": smape(y, p), "rmse": rmse(y, p)}
        )
    return pd.DataFrame(rows)


def mase_by_step(predictions: pd.DataFrame, model: str) -> pd.Series:
    """MASE of ``model`` at each step ahead (1 = the step after the origin)."""
    ratio = (predictions["y"] - predictions[model]).abs() / predictions["scale"]
    return ratio.groupby(predictions["step"]).mean()
