"""Rolling-origin backtests: every learner forecasts the last windows of H steps of each
series from the history before them, within a time budget.

Window w (1 = the latest) holds out the last w*H..(w-1)*H steps of a series. A series
takes part in the windows that leave it at least a season and a horizon of history. A
learner is fitted once, on the history before its earliest window, and predicts every
window from that window's own history, as a deployed model forecasts from new data: the
statistical models refit on each history anyway, the global model is not retrained.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trialflow.forecast.metrics import series_scales
from trialflow.forecast.series import Panel

# Residuals the intervals are calibrated on: few series get more windows, up to a cap.
TARGET_RESIDUALS = 150
MAX_WINDOWS = 10


@dataclass
class Backtest:
    """``predictions``: one row per series, window and step with ``y``, ``scale`` (the
    series' seasonal naive MAE before that window) and one column per learner that
    finished every window."""

    predictions: pd.DataFrame
    learners: list[str]
    seconds: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def window_count(panel: Panel, horizon: int, windows: int | None = None) -> int:
    """``windows`` if given, else 3, or more for few series so the intervals have about
    TARGET_RESIDUALS residuals per step, as far as the longest series allows."""
    longest = int(panel.lengths().max())
    fits = max((longest - panel.season_length - horizon) // horizon, 1)
    if windows is None:
        windows = min(max(3, -(-TARGET_RESIDUALS // (panel.n_series * horizon))), MAX_WINDOWS)
    return max(min(windows, fits), 1)


def split_window(panel: Panel, horizon: int, w: int) -> tuple[Panel, pd.DataFrame] | None:
    """History and held-out rows of window ``w``, over the series long enough for it."""
    frame = panel.frame
    from_end = frame.groupby("unique_id", sort=False).cumcount(ascending=False)
    lengths = frame.groupby("unique_id", sort=False)["y"].transform("size")
    eligible = lengths - w * horizon >= panel.season_length + horizon
    history = frame[eligible & (from_end >= w * horizon)]
    held = frame[eligible & (from_end < w * horizon) & (from_end >= (w - 1) * horizon)]
    if history.empty:
        return None
    held = held.assign(window=w, step=horizon - (from_end[held.index] - (w - 1) * horizon))
    return panel.replace_frame(history), held.reset_index(drop=True)


def run_backtests(
    panel: Panel,
    learners: list,
    *,
    horizon: int,
    windows: int,
    deadline: float,
    refit_seconds: dict[str, float] | None = None,
) -> Backtest:
    """Backtest ``learners`` in order; one that would not finish by ``deadline``
    (``time.perf_counter()`` seconds) is skipped with a note, except the cheapest, which
    always runs so that even a tight budget yields a forecast (a 12 s budget on a busy
    machine had skipped them all, seasonal naive at an estimated 4 s included).
    ``refit_seconds`` collects, per learner kept, the seconds its final fit on all the data
    is expected to take, which the budget has reserved."""
    splits = [s for w in range(windows, 0, -1) if (s := split_window(panel, horizon, w))]
    held = pd.concat([h for _, h in splits], ignore_index=True)
    held["scale"] = _scales_by_window(splits, panel.season_length, held)
    predictions = held[["unique_id", "ds", "window", "step", "y", "scale"]].copy()
    result = Backtest(predictions, [])
    reserved = 0.0
    for rank, (learner, estimate) in enumerate(_cheapest_first(learners, splits, result)):
        started = time.perf_counter()
        until = math.inf if rank == 0 else deadline - reserved
        columns = _run_learner(learner, splits, until, result, estimate)
        seconds = time.perf_counter() - started
        fit_seconds = result.seconds.pop(f"{learner.name}:fit", seconds)
        if columns is None:
            continue
        merged = predictions.merge(columns, on=["unique_id", "ds", "window"], how="left")
        if merged["prediction"].isna().any():
            result.notes.append(f"{learner.name} left some backtest steps empty; not used.")
            continue
        predictions[learner.name] = merged["prediction"].to_numpy()
        result.learners.append(learner.name)
        result.seconds[learner.name] = seconds
        if not learner.refits_at_predict:
            reserved += fit_seconds
            if refit_seconds is not None:
                refit_seconds[learner.name] = fit_seconds
    result.predictions = predictions
    return result


def _cheapest_first(learners: list, splits, result: Backtest) -> list[tuple[object, float]]:
    """The learners with their estimated seconds, cheapest first. The order by estimate,
    not a fixed one: AutoETS on 148 monthly series took ~100 s of a 120 s budget and
    crowded out the global model (23 s) that forecast them best; on one daily series it
    takes 7 s. A learner whose probe fails is left out with a note."""
    earliest, _ = splits[0]
    estimated = []
    for learner in learners:
        try:
            estimated.append((learner, _estimate(learner, earliest, splits)))
        except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
            result.notes.append(f"{learner.name} failed in its backtests and was left out: {exc}")
    # Stable: equal estimates keep the given order.
    return sorted(estimated, key=lambda pair: pair[1])


def _run_learner(
    learner, splits, deadline: float, result: Backtest, estimate: float
) -> pd.DataFrame | None:
    """The learner's predictions for every window, or None (noted) when the budget or the
    learner gave out."""
    name = learner.name
    earliest, _ = splits[0]
    pieces = []
    try:
        if time.perf_counter() + estimate > deadline:
            result.notes.append(
                f"{name} skipped: about {estimate:.0f} s of backtests would overrun the budget."
            )
            return None
        started = time.perf_counter()
        learner.fit(earliest)
        result.seconds[f"{name}:fit"] = time.perf_counter() - started
        slowest = 0.0
        for history, held in splits:
            window_started = time.perf_counter()
            # Stop before a window that would end past the deadline, judging by the
            # slowest window so far.
            if window_started + slowest > deadline:
                result.notes.append(f"{name} stopped: the budget ran out during its backtests.")
                return None
            future = held.drop(columns=["y", "window", "step"])
            predicted = learner.predict(history, len(held["step"].unique()), future)
            pieces.append(predicted.assign(window=int(held["window"].iloc[0])))
            slowest = max(slowest, time.perf_counter() - window_started)
    except (ValueError, ArithmeticError, np.linalg.LinAlgError) as exc:
        result.notes.append(f"{name} failed in its backtests and was left out: {exc}")
        return None
    return pd.concat(pieces, ignore_index=True)


def _estimate(learner, earliest: Panel, splits) -> float:
    """Seconds the learner's backtests and final fit are expected to take."""
    if learner.refits_at_predict:
        # One window on the ends of a few series (a probe on a whole long series could
        # itself overrun), scaled to their full length, all series and all windows.
        frame = earliest.frame
        ids = frame["unique_id"].unique()[:4]
        length = max(10 * earliest.season_length, 100)
        ends = frame[frame["unique_id"].isin(ids)].groupby("unique_id", sort=False).tail(length)
        # A first call imports statsforecast and compiles its models (seconds, once per
        # process); timed, that made seasonal naive look like minutes of work and skipped it.
        learner.predict(earliest.replace_frame(ends[ends["unique_id"] == ids[0]]), 1)
        started = time.perf_counter()
        learner.predict(earliest.replace_frame(ends), 1)
        per_series = (time.perf_counter() - started) / len(ids)
        stretch = max(float(earliest.lengths().mean()) / length, 1.0)
        return per_series * stretch * sum(h.n_series for h, _ in splits)
    # Fitted once for the backtests, once more on all the data.
    return 2 * learner.probe_seconds(earliest)


def _scales_by_window(splits, season_length: int, held: pd.DataFrame) -> np.ndarray:
    scales = []
    for history, part in splits:
        by_series = series_scales(history.frame, season_length)
        scales.append(part["unique_id"].map(by_series).to_numpy())
    return np.concatenate(scales)
