"""80 % prediction intervals from backtest residuals.

The residuals y - prediction of the backtests, divided by each series' seasonal naive MAE
(so series of any size pool), give empirical 10 % and 90 % quantiles for each step ahead;
an interval is prediction + scale * quantile. Where a step has too few residuals (few
series), the quantiles pool all steps. The quantiles are plain numbers, stored as a table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

LOWER, UPPER = 0.1, 0.9
# Below this many residuals at a step, one step's quantiles are too noisy: pool the steps.
MIN_PER_STEP = 60


def calibrate(predictions: pd.DataFrame, column: str, horizon: int) -> pd.DataFrame:
    """Quantiles of scaled residuals per step: a frame ``step, lower, upper``."""
    residual = (predictions["y"] - predictions[column]) / predictions["scale"]
    frame = pd.DataFrame({"step": predictions["step"], "r": residual}).dropna()
    if frame.empty:
        raise ValueError("no backtest residuals to calibrate intervals on")
    counts = frame.groupby("step").size().reindex(range(1, horizon + 1), fill_value=0)
    if counts.min() >= MIN_PER_STEP:
        grouped = frame.groupby("step")["r"]
        lower, upper = grouped.quantile(LOWER), grouped.quantile(UPPER)
    else:
        pooled = frame["r"].to_numpy()
        steps = pd.Index(range(1, horizon + 1))
        lower = pd.Series(np.quantile(pooled, LOWER), index=steps)
        upper = pd.Series(np.quantile(pooled, UPPER), index=steps)
    return pd.DataFrame(
        {"step": range(1, horizon + 1), "lower": lower.to_numpy(), "upper": upper.to_numpy()}
    )


def bounds(
    prediction: np.ndarray, step: np.ndarray, scale: np.ndarray, table: pd.DataFrame
) -> tuple[np.ndarray, np.ndarray]:
    """p10 and p90 for predictions at ``step`` of series with ``scale`` (a constant series,
    NaN scale, gets a zero-width interval)."""
    by_step = table.set_index("step")
    scale = np.nan_to_num(np.asarray(scale, dtype=float), nan=0.0)
    lower = by_step["lower"].reindex(step).to_numpy()
    upper = by_step["upper"].reindex(step).to_numpy()
    p10 = prediction + scale * lower
    p90 = prediction + scale * upper
    return np.minimum(p10, prediction), np.maximum(p90, prediction)


def coverage(y: np.ndarray, p10: np.ndarray, p90: np.ndarray) -> float:
    """Share of outcomes inside [p10, p90]."""
    y = np.asarray(y, dtype=float)
    return float(np.mean((y >= p10) & (y <= p90)))
