"""Forecast metrics against hand computations, the ensemble rule and interval calibration."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialflow.forecast.ensemble import greedy_weights
from trialflow.forecast.intervals import bounds, calibrate, coverage
from trialflow.forecast.metrics import mase, score_models, seasonal_scale, smape


def test_seasonal_scale_by_hand():
    y = np.array([1.0, 5.0, 2.0, 7.0, 4.0, 6.0])
    # Season 2: |2-1|, |7-5|, |4-2|, |6-7| -> mean 1.5.
    assert seasonal_scale(y, 2) == pytest.approx(1.5)
    # Shorter than a season: the one-step naive MAE.
    assert seasonal_scale(y[:2], 7) == pytest.approx(4.0)
    assert np.isnan(seasonal_scale(np.ones(10), 2))


def test_mase_by_hand_averages_over_series():
    # Series a: history [1, 3, 2, 4] with season 2 -> scale (|2-1| + |4-3|) / 2 = 1.
    # Series b: history [10, 30, 20, 50] -> scale (10 + 20) / 2 = 15.
    a_scale = seasonal_scale(np.array([1.0, 3.0, 2.0, 4.0]), 2)
    b_scale = seasonal_scale(np.array([10.0, 30.0, 20.0, 50.0]), 2)
    assert (a_scale, b_scale) == (1.0, 15.0)
    y = np.array([3.0, 5.0, 40.0, 60.0])
    prediction = np.array([2.0, 5.0, 10.0, 60.0])
    scale = np.array([a_scale, a_scale, b_scale, b_scale])
    # a: (1 + 0) / 2 / 1 = 0.5; b: (30 + 0) / 2 / 15 = 1.0; averaged over series: 0.75.
    assert mase(y, prediction, scale) == pytest.approx(0.75)
    table = pd.DataFrame({"y": y, "m": prediction, "scale": scale})
    row = score_models(table, ["m"]).iloc[0]
    assert row["mase"] == pytest.approx(0.75)
    assert row["rmse"] == pytest.approx(np.sqrt((1 + 0 + 900 + 0) / 4))


def test_smape_by_hand():
    assert smape(np.array([100.0, 0.0]), np.array([50.0, 0.0])) == pytest.approx(
        100 * (2 * 50 / 150 + 0) / 2
    )


def test_greedy_weights_pick_the_better_learner_and_mix_complementary_ones():
    y = np.zeros(100)
    table = pd.DataFrame({"y": y, "scale": 1.0, "good": 0.1, "bad": 3.0})
    assert greedy_weights(table, ["good", "bad"]) == {"good": 1.0}
    table = pd.DataFrame({"y": y, "scale": 1.0, "high": 1.0, "low": -1.0})
    weights = greedy_weights(table, ["high", "low"])
    assert weights == pytest.approx({"high": 0.5, "low": 0.5})


def test_intervals_match_known_noise():
    rng = np.random.default_rng(0)
    n, horizon = 3000, 5
    step = np.tile(np.arange(1, horizon + 1), n // horizon)
    sigma = 2.0
    backtest = pd.DataFrame(
        {"step": step, "y": rng.normal(0, sigma, n), "model": 0.0, "scale": 1.0}
    )
    table = calibrate(backtest, "model", horizon)
    # The 80 % interval of N(0, sigma): +-1.2816 sigma.
    assert table["lower"].to_numpy() == pytest.approx(-1.2816 * sigma, rel=0.15)
    assert table["upper"].to_numpy() == pytest.approx(1.2816 * sigma, rel=0.15)
    fresh = rng.normal(0, sigma, n)
    p10, p90 = bounds(np.zeros(n), step, np.ones(n), table)
    assert 0.77 <= coverage(fresh, p10, p90) <= 0.83


def test_few_residuals_pool_the_steps_and_scale_per_series():
    backtest = pd.DataFrame(
        {"step": [1, 2] * 10, "y": np.arange(20.0), "model": np.arange(20.0) + 1, "scale": 2.0}
    )
    table = calibrate(backtest, "model", 2)
    assert table["lower"].tolist() == table["upper"].tolist() == [-0.5, -0.5]
    p10, p90 = bounds(np.array([10.0, 10.0]), np.array([1, 2]), np.array([4.0, np.nan]), table)
    # The interval always holds the point forecast; a constant series has zero width.
    assert p10.tolist() == [8.0, 10.0]
    assert p90.tolist() == [10.0, 10.0]
