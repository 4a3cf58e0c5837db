"""A past-only covariate is never read after the forecast origin.

The covariate is the target shifted by s steps: at the origin it only repeats a lag the
model has anyway, so it must gain nothing at steps beyond s. Declared as a known covariate
(read at the target time, which is what a leaky implementation does with every covariate)
the same column reveals y[t+k-s] and gains a lot there: the check can see a leak.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from trialflow.forecast.backtest import run_backtests
from trialflow.forecast.learners import GlobalLightGBM
from trialflow.forecast.metrics import mase_by_step
from trialflow.forecast.series import prepare_panel

HORIZON, SHIFT = 6, 1


def persistent_series(n_series: int = 8, length: int = 300) -> pd.DataFrame:
    """A weekly cycle plus AR(1) noise (phi 0.9): the last value says much about the next
    one, and less and less about later ones."""
    rng = np.random.default_rng(0)
    parts = []
    for i in range(n_series):
        noise = np.zeros(length)
        for t in range(1, length):
            noise[t] = 0.9 * noise[t - 1] + rng.normal(0, 1)
        weekly = 3 * np.sin(np.arange(length) * 2 * np.pi / 7)
        parts.append(
            pd.DataFrame(
                {
                    "id": f"s{i}",
                    "day": pd.date_range("2020-01-01", periods=length),
                    "y": 100 + weekly + noise,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    frame["copy"] = frame.groupby("id")["y"].shift(SHIFT)
    return frame


def backtest_by_step(frame: pd.DataFrame, covariates: tuple, known: tuple = ()) -> pd.Series:
    panel = prepare_panel(
        frame, target="y", time="day", series=("id",), horizon=HORIZON, covariates=covariates
    )
    learner = GlobalLightGBM(HORIZON, known=known, rounds=150, seed=0)
    result = run_backtests(
        panel, [learner], horizon=HORIZON, windows=6, deadline=time.perf_counter() + 600
    )
    return mase_by_step(result.predictions, learner.name)


def test_a_shifted_copy_of_the_target_gains_nothing_beyond_its_shift():
    frame = persistent_series()
    without = backtest_by_step(frame, ())
    past = backtest_by_step(frame, ("copy",))
    leaky = backtest_by_step(frame, ("copy",), known=("copy",))
    beyond = without.index > SHIFT
    # Past-only: no better than without it (allowing for tree noise).
    assert past[beyond].mean() >= 0.93 * without[beyond].mean(), (past, without)
    assert (past[beyond] >= 0.85 * without[beyond]).all(), (past, without)
    # Read at the target time, the same column is a leak the backtest shows plainly.
    assert leaky[beyond].mean() < 0.8 * without[beyond].mean(), (leaky, without)
