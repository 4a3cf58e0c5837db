"""Champion / challenger for forecast models: the newest steps of every series held out,
forecast by both models from the rows before them, compared by MASE."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from tests.test_forecast_predict import HORIZON, quick_learners, stores
from trialflow.errors import DataError
from trialflow.forecast.evaluation import forecast_error, split_newest_steps
from trialflow.forecast.forecaster import fit_forecaster
from trialflow.registry.champion import beats


def test_each_series_newest_steps_are_held_out():
    frame = stores(length=60, n=3)
    history, evaluation = split_newest_steps(frame, time="date", series=("store",), horizon=HORIZON)
    assert len(evaluation) == 3 * HORIZON and len(history) == len(frame) - 3 * HORIZON
    newest = pd.to_datetime(frame["date"]).max()
    assert (pd.to_datetime(evaluation["date"]) > newest - pd.Timedelta(days=HORIZON)).all()
    assert pd.to_datetime(history["date"]).max() == newest - pd.Timedelta(days=HORIZON)
    with pytest.raises(DataError, match="nothing would be left to train"):
        split_newest_steps(frame.head(5), time="date", series=("store",), horizon=HORIZON)


def test_forecast_error_scores_the_forecast_against_the_held_out_steps():
    frame = stores()
    frame = frame[frame["date"] < "2023-05-20"].reset_index(drop=True)
    history, evaluation = split_newest_steps(frame, time="date", series=("store",), horizon=HORIZON)
    forecaster = fit_forecaster(
        history, target="sales", time="date", series=("store",), horizon=HORIZON,
        known_covariates=("promo",), time_budget=60, learners=quick_learners(),
    )  # fmt: skip
    error = forecast_error(forecaster, history, evaluation)
    # The series are a weekly sine with noise: well under seasonal naive's error.
    assert 0 < error < 1
    # A forecast that is off by the series' size scores far worse.
    shifted = evaluation.assign(sales=evaluation["sales"] + 500)
    assert forecast_error(forecaster, history, shifted) > 10 * error
    assert forecast_error(forecaster, history, evaluation, "rmse") > 0
    # Evaluation rows past the horizon are left out; none in range is an error.
    # (the promotions are known for the forecast steps, the outcomes only after them).
    later = stores(length=200)
    later = later[later["date"] > history["date"].max()].reset_index(drop=True)
    later.loc[later["date"] <= evaluation["date"].max(), "sales"] = np.nan
    with pytest.raises(DataError, match="No evaluation row falls"):
        forecast_error(forecaster, history, later)


def test_forecast_errors_are_better_lower():
    assert beats(0.4, 0.5, metric="mase", margin=0.05)
    assert not beats(0.48, 0.5, metric="mase", margin=0.05)
    assert not beats(np.float64(0.6), 0.5, metric="smape", margin=0.0)
