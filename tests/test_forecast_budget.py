"""The backtests' budget bookkeeping, on a simulated clock: a learner that would overrun is
not started, one that turns out slower than estimated stops before a window that would
end past the deadline, a kept learner's final fit is reserved from the budget, and the
cheapest learner runs whatever the budget, so there is always a forecast.

A clock of our own, not the wall clock: the rules are about what the backtests decide from
the seconds they see, which a busy machine must not change."""

from __future__ import annotations

import types

import numpy as np
import pandas as pd
import pytest

from trialflow.forecast import backtest
from trialflow.forecast.series import prepare_panel

HORIZON = 7


class SimulatedClock:
    def __init__(self):
        self.now = 1000.0

    def perf_counter(self) -> float:
        return self.now


class TimedLearner:
    """A global learner whose probe, fit and each window's forecast take set seconds."""

    refits_at_predict = False

    def __init__(self, name: str, clock: SimulatedClock, probe: float, fit: float, window: float):
        self.name, self.clock = name, clock
        self.probe, self.fit_cost, self.window_cost = probe, fit, window

    def probe_seconds(self, panel) -> float:
        return self.probe

    def fit(self, panel):
        self.clock.now += self.fit_cost
        return self

    def predict(self, history, horizon, future=None):
        self.clock.now += self.window_cost
        return future[["unique_id", "ds"]].assign(prediction=1.0)


@pytest.fixture
def clock(monkeypatch) -> SimulatedClock:
    clock = SimulatedClock()
    monkeypatch.setattr(backtest, "time", types.SimpleNamespace(perf_counter=clock.perf_counter))
    return clock


def panel():
    days = pd.date_range("2021-01-01", periods=120)
    series = [
        pd.DataFrame({"id": s, "day": days, "y": np.arange(120.0) + i})
        for i, s in [(0, "a"), (1, "b")]
    ]
    frame = pd.concat(series)
    return prepare_panel(frame, target="y", time="day", series=("id",), horizon=HORIZON)


def run(learners, clock, seconds: float, refit: dict | None = None):
    return backtest.run_backtests(
        panel(),
        learners,
        horizon=HORIZON,
        windows=3,
        deadline=clock.now + seconds,
        refit_seconds=refit,
    )


def test_a_learner_estimated_past_the_deadline_is_not_started(clock):
    cheap = TimedLearner("cheap", clock, probe=1.0, fit=1.0, window=0.5)
    dear = TimedLearner("dear", clock, probe=20.0, fit=20.0, window=1.0)
    started = clock.now
    result = run([dear, cheap], clock, seconds=10.0)
    assert result.learners == ["cheap"]
    assert any(n.startswith("dear skipped") for n in result.notes)
    assert clock.now - started == pytest.approx(1.0 + 3 * 0.5)  # dear never ran


def test_a_learner_slower_than_estimated_stops_before_overrunning(clock):
    cheap = TimedLearner("cheap", clock, probe=0.1, fit=0.1, window=0.1)
    slow = TimedLearner("slow", clock, probe=0.5, fit=1.0, window=4.0)
    deadline = clock.now + 10.4
    result = run([slow, cheap], clock, seconds=10.4)
    assert result.learners == ["cheap"]
    assert any(n.startswith("slow stopped") for n in result.notes)
    # After the cheap one (0.4 s), fit (1 s) and two windows (4 s each); the third would
    # have ended at 13.4 s.
    assert clock.now == pytest.approx(deadline - 1.0)


def test_a_kept_learners_final_fit_is_reserved(clock):
    first = TimedLearner("first", clock, probe=0.5, fit=3.0, window=0.1)
    # 2 x 2.5 s estimated: fits the 7 s left after the first, not the 4 s once its 3 s
    # final fit is reserved.
    second = TimedLearner("second", clock, probe=2.5, fit=2.5, window=0.1)
    refit: dict[str, float] = {}
    result = run([first, second], clock, seconds=3.0 + 3 * 0.1 + 7.0, refit=refit)
    assert result.learners == ["first"]
    assert refit == {"first": pytest.approx(3.0)}
    assert any(n.startswith("second skipped") for n in result.notes)


def test_the_cheapest_learner_runs_whatever_the_budget(clock):
    cheap = TimedLearner("cheap", clock, probe=2.0, fit=2.0, window=1.0)
    dear = TimedLearner("dear", clock, probe=3.0, fit=3.0, window=1.0)
    result = run([dear, cheap], clock, seconds=1.0)
    assert result.learners == ["cheap"]
    assert any(n.startswith("dear skipped") for n in result.notes)
