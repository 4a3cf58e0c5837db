"""The fitted forecaster: its output, its budget, its plain state and its errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialflow.errors import ConfigError, DataError
from trialflow.forecast.forecaster import Forecaster, fit_forecaster
from trialflow.forecast.learners import GlobalLightGBM, StatisticalLearner

HORIZON = 7


def stores(length: int = 150, n: int = 3, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2023-01-01", periods=length, freq="D")
    parts = []
    for i in range(n):
        weekly = 10 * np.sin(np.arange(length) * 2 * np.pi / 7)
        sales = 100 * (i + 1) + weekly + rng.normal(0, 3, length)
        parts.append(
            pd.DataFrame(
                {
                    "store": f"s{i}",
                    "date": days,
                    "sales": sales,
                    "promo": (np.arange(length) % 10 == 0).astype(float),
                    "visits": sales * 2 + rng.normal(0, 1, length),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def quick_learners():
    return [
        StatisticalLearner("seasonal_naive"),
        GlobalLightGBM(HORIZON, known=("promo",), rounds=60),
    ]


@pytest.fixture(scope="module")
def fitted():
    frame = stores()
    training = frame[frame["date"] < "2023-05-01"]
    forecaster = fit_forecaster(
        training,
        target="sales",
        time="date",
        series=("store",),
        horizon=HORIZON,
        holidays="US",
        known_covariates=("promo",),
        time_budget=60,
        learners=quick_learners(),
    )
    return forecaster, frame


def future_promo(frame: pd.DataFrame, last: str) -> pd.DataFrame:
    days = pd.date_range(pd.Timestamp(last) + pd.Timedelta(days=1), periods=HORIZON)
    return pd.DataFrame(
        [{"store": s, "date": d, "promo": 0.0} for s in frame["store"].unique() for d in days]
    )


def test_predict_forecasts_h_steps_after_each_series_history(fitted):
    forecaster, frame = fitted
    # The history runs 20 days past the training data; one series stops earlier.
    history = frame[frame["date"] <= "2023-05-20"]
    history = history[~((history["store"] == "s2") & (history["date"] > "2023-05-10"))]
    future = pd.concat([future_promo(frame, "2023-05-20"), future_promo(frame, "2023-05-10")])
    out = forecaster.predict(history, future)
    assert list(out.columns) == ["store", "date", "prediction", "p10", "p90"]
    assert len(out) == 3 * HORIZON
    for store, last in {"s0": "2023-05-20", "s1": "2023-05-20", "s2": "2023-05-10"}.items():
        dates = out.loc[out["store"] == store, "date"]
        expected = pd.date_range(pd.Timestamp(last) + pd.Timedelta(days=1), periods=HORIZON)
        assert list(dates) == list(expected)
    assert (out["p10"] <= out["prediction"]).all() and (out["prediction"] <= out["p90"]).all()
    # Store s2 sells about 300: forecasts are in the target's units.
    assert out.loc[out["store"] == "s2", "prediction"].between(250, 350).all()


def test_backtest_scores_weights_and_notes(fitted):
    forecaster, _ = fitted
    assert set(forecaster.scores["model"]) == {"seasonal_naive", "global_lightgbm", "ensemble"}
    assert sum(forecaster.weights.values()) == pytest.approx(1.0)
    assert {"window", "step", "y", "scale", "ensemble", "p10", "p90"} <= set(forecaster.backtest)
    assert any("intervals covered" in note for note in forecaster.notes)


def test_state_is_plain_and_round_trips(fitted):
    forecaster, frame = fitted
    state = forecaster.to_state()

    def plain(value) -> bool:
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list | tuple):
            return all(plain(v) for v in value)
        return value is None or isinstance(value, str | int | float | pd.DataFrame)

    assert plain(state)
    again = Forecaster.from_state(state)
    history = frame[frame["date"] <= "2023-05-20"]
    future = future_promo(frame, "2023-05-20")
    expected = forecaster.predict(history, future)
    pd.testing.assert_frame_equal(expected, again.predict(history, future))


def test_known_covariates_are_required_for_the_forecast_steps(fitted):
    forecaster, frame = fitted
    history = frame[frame["date"] <= "2023-05-20"]
    if "global_lightgbm" not in forecaster.weights:
        pytest.skip("the ensemble did not keep the global model")
    with pytest.raises(DataError, match="known covariates"):
        forecaster.predict(history)
    with pytest.raises(DataError, match="no values for series"):
        forecaster.predict(history, future_promo(frame, "2023-05-19"))


def test_bad_options_and_bad_series_are_clear_errors():
    frame = stores(length=60)
    with pytest.raises(ConfigError, match="'horizon' parameter must be a positive integer"):
        fit_forecaster(frame, target="sales", time="date", series=("store",), horizon=0)
    with pytest.raises(ConfigError, match="'time_budget' parameter must be a positive"):
        fit_forecaster(
            frame, target="sales", time="date", series=("store",), horizon=7, time_budget=-3
        )
    duplicated = pd.concat([frame, frame.iloc[[5]]])
    with pytest.raises(DataError, match="Series 's0' has duplicate timestamps"):
        fit_forecaster(duplicated, target="sales", time="date", series=("store",), horizon=7)


def test_the_log_scale_global_model_is_offered_for_positive_targets_only():
    from trialflow.forecast.learners import make_learners

    names = [learner.name for learner in make_learners(HORIZON, positive=True)]
    assert "global_lightgbm" in names and "global_lightgbm_log" in names
    assert "global_lightgbm_log" not in [lr.name for lr in make_learners(HORIZON)]


def test_the_log_scale_model_learns_ratios_and_round_trips():
    from trialflow.forecast.learners import learner_from_state
    from trialflow.forecast.series import prepare_panel

    # Weekends at a third of weekdays while the level doubles: a ratio, not a difference.
    days = pd.date_range("2022-01-01", periods=400, freq="D")
    level = np.linspace(100, 200, len(days))
    riders = level * np.where(days.dayofweek >= 5, 1 / 3, 1.0)
    frame = pd.DataFrame({"date": days, "riders": riders})
    panel = prepare_panel(frame, target="riders", time="date", horizon=HORIZON)
    model = GlobalLightGBM(HORIZON, rounds=200, log_target=True).fit(panel)
    forecast = model.predict(panel, HORIZON)["prediction"].to_numpy()
    weekend = pd.date_range(days[-1], periods=HORIZON + 1, freq="D")[1:].dayofweek >= 5
    ratio = forecast[weekend].mean() / forecast[~weekend].mean()
    assert ratio == pytest.approx(1 / 3, rel=0.1)
    again = learner_from_state(model.to_state())
    pd.testing.assert_frame_equal(model.predict(panel, HORIZON), again.predict(panel, HORIZON))
    # A later history with a zero still forecasts (the zero is raised to the fitted floor).
    zero = frame.copy()
    zero.loc[len(zero) - 3, "riders"] = 0.0
    later = prepare_panel(zero, target="riders", time="date", horizon=HORIZON)
    assert np.isfinite(again.predict(later, HORIZON)["prediction"]).all()
    with pytest.raises(ValueError, match="above zero"):
        GlobalLightGBM(HORIZON, log_target=True).fit(later)
