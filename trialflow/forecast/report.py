"""The forecast run's report: the answer first (the ensemble's backtest scores and the
forecast with its 80 % band for a few series), then the backtest windows and every model's
errors, then what was repaired and the configuration. One HTML file, charts embedded."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from trialflow.forecast.forecaster import ENSEMBLE, Forecaster
from trialflow.forecast.series import parse_time, series_ids
from trialflow.report.html_parts import (
    STYLE,
    facts_html,
    image_html,
    section_html,
    table_html,
    text_html,
)
from trialflow.report.plots import new_figure, png_bytes

# Series drawn in the forecast chart, and seasons of history shown before the forecast.
SHOWN_SERIES = 4
SHOWN_HORIZONS = 6


def render(
    forecaster: Forecaster,
    history: pd.DataFrame,
    forecast: pd.DataFrame,
    *,
    model_name: str,
    config: dict[str, Any],
) -> str:
    """The whole report as one HTML document."""
    scores = forecaster.scores.sort_values("mase", kind="stable")
    best = scores.set_index("model").loc[ENSEMBLE] if ENSEMBLE in set(scores["model"]) else None
    answer = (
        f"<p class='answer'>Forecasts {forecaster.horizon} steps "
        f"({text_html(forecaster.frequency)}) "
        f"ahead; backtest MASE <b>{best['mase']:.3f}</b>, sMAPE {best['smape']:.2f}, "
        f"RMSE {best['rmse']:.4g}.</p>"
        if best is not None
        else ""
    )
    weights = pd.DataFrame(
        {"model": list(forecaster.weights), "weight": list(forecaster.weights.values())}
    )
    body = [
        section_html(
            "summary",
            "Forecast",
            answer
            + (
                image_html(_forecast_chart(forecaster, history, forecast), "history and forecast")
                if len(forecast)
                else "<p class='note'>No forecast is drawn: the model needs known covariates "
                "for the forecast steps (trialflow predict --future).</p>"
            )
            + table_html(weights, bar="weight"),
        ),
        section_html(
            "backtest",
            "Backtests",
            image_html(_backtest_chart(forecaster), "backtest windows")
            + table_html(scores[["model", "mase", "smape", "rmse", "seconds", "weight"]]),
        ),
        section_html("notes", "What was checked and repaired", _notes(forecaster.notes)),
        section_html("config", "Configuration", facts_html(config)),
    ]
    title = text_html(f"trialflow forecast report: {model_name}")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{STYLE}</style></head>"
        f"<body><h1>{title}</h1>{''.join(body)}</body></html>\n"
    )


def _notes(notes: list[str]) -> str:
    if not notes:
        return "<p class='note'>(nothing to report)</p>"
    return "<ul class='alerts'>" + "".join(f"<li>{text_html(n)}</li>" for n in notes) + "</ul>"


def _forecast_chart(forecaster: Forecaster, history: pd.DataFrame, forecast: pd.DataFrame) -> bytes:
    """The end of each shown series' history, the forecast and its 80 % band."""
    ids = series_ids(forecast, forecaster.series)
    shown = list(dict.fromkeys(ids))[:SHOWN_SERIES]
    figure, _ = new_figure(2.2 * len(shown))
    figure.clf()
    past_ids = series_ids(history, forecaster.series)
    # Only the shown series' timestamps are parsed: all of them took seconds on big tables.
    past = history[past_ids.isin(shown)]
    past = past.assign(_t=parse_time(past[forecaster.time], forecaster.time), _id=past_ids)
    for i, name in enumerate(shown):
        ax = figure.add_subplot(len(shown), 1, i + 1)
        own = past[past["_id"] == name].sort_values("_t").tail(SHOWN_HORIZONS * forecaster.horizon)
        ahead = forecast[ids == name]
        times = parse_time(ahead[forecaster.time], forecaster.time)
        ax.plot(own["_t"], own[forecaster.target], color="#444", lw=1, label="history")
        ax.plot(times, ahead["prediction"], color="#c44e52", lw=1.5, label="forecast")
        ax.fill_between(times, ahead["p10"], ahead["p90"], color="#c44e52", alpha=0.2, label="80 %")
        ax.set_title(name if forecaster.series else forecaster.target, fontsize=9)
        ax.tick_params(labelsize=8)
        if i == 0:
            ax.legend(fontsize=8, loc="upper left")
    return png_bytes(figure)


def _backtest_chart(forecaster: Forecaster) -> bytes:
    """The first series' backtest windows: what happened, the ensemble and its band."""
    backtest = forecaster.backtest
    first = backtest[backtest["unique_id"] == backtest["unique_id"].iloc[0]].sort_values("ds")
    figure, ax = new_figure(2.6)
    ax.plot(first["ds"], first["y"], color="#444", lw=1, label="actual")
    ax.plot(first["ds"], first[ENSEMBLE], color="#4c72b0", lw=1.5, label="ensemble")
    ax.fill_between(first["ds"], first["p10"], first["p90"], color="#4c72b0", alpha=0.2)
    for _, part in first.groupby("window"):
        ax.axvspan(part["ds"].min(), part["ds"].max(), color="#ddd", alpha=0.4, lw=0)
    ax.set_title(f"backtest windows ({np.unique(first['window']).size}) of one series", fontsize=9)
    ax.tick_params(labelsize=8)
    ax.legend(fontsize=8, loc="upper left")
    return png_bytes(figure)
