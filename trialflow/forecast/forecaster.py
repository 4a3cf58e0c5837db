"""Fitting a forecaster end to end, and forecasting with it from any history.

``fit_forecaster``: panel → rolling-origin backtests of every learner that fits the time
budget → greedy ensemble and 80 % intervals from the backtest predictions → final fit on
all the data (only the global model learns anything to keep). ``Forecaster`` holds plain
state: numbers, small tables and LightGBM's model text; ``to_state``/``from_state``
round-trip it without pickle.
"""

from __future__ import annotations

import time as clock
from dataclasses import dataclass, field, fields
from typing import ClassVar

import numpy as np
import pandas as pd

from trialflow.errors import ConfigError, DataError, SearchError
from trialflow.featurizers.holidays import check_country
from trialflow.forecast.backtest import run_backtests, window_count
from trialflow.forecast.dates import holidays_apply
from trialflow.forecast.ensemble import combine, greedy_weights
from trialflow.forecast.intervals import bounds, calibrate, coverage
from trialflow.forecast.learners import is_global, learner_from_state, make_learners
from trialflow.forecast.metrics import score_models, series_scales
from trialflow.forecast.series import parse_time, prepare_panel, series_ids

ENSEMBLE = "ensemble"


@dataclass
class Forecaster:
    """A fitted forecaster; ``predict`` forecasts ``horizon`` steps after each series'
    last timestamp in the history it is given."""

    task: ClassVar[str] = "forecast"
    target: str
    time: str
    series: tuple[str, ...]
    horizon: int
    frequency: str
    season_length: int
    country: str
    known_covariates: tuple[str, ...]
    covariates: tuple[str, ...]
    aggregate: str | None
    weights: dict[str, float]
    intervals: pd.DataFrame
    learners: dict[str, object]
    backtest: pd.DataFrame
    scores: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    fit_seconds: float = 0.0

    def predict(self, history: pd.DataFrame, future: pd.DataFrame | None = None) -> pd.DataFrame:
        """Series columns, the time column, ``prediction``, ``p10`` and ``p90``.

        ``future`` gives the known covariates (with the series and time columns) for the
        forecast steps; it is needed when the global model uses known covariates."""
        panel = prepare_panel(
            history,
            target=self.target,
            time=self.time,
            series=self.series,
            horizon=self.horizon,
            frequency=self.frequency,
            aggregate=self.aggregate,
            # Covariates only feed the global model; without it, a bare history will do.
            covariates=self.covariates if self._uses_covariates() else (),
            min_length=self.season_length + 1,
            drop_short=False,
        )
        future_long = self._future(future)
        forecast = None
        for name in self.weights:
            predicted = self.learners[name].predict(panel, self.horizon, future_long)
            predicted = predicted.rename(columns={"prediction": name})
            on = ["unique_id", "ds"]
            forecast = predicted if forecast is None else forecast.merge(predicted, on=on)
        forecast = forecast.sort_values(["unique_id", "ds"], kind="stable").reset_index(drop=True)
        forecast["prediction"] = combine(forecast, self.weights)
        step = forecast.groupby("unique_id", sort=False).cumcount().to_numpy() + 1
        scale = forecast["unique_id"].map(series_scales(panel.frame, self.season_length))
        forecast["p10"], forecast["p90"] = bounds(
            forecast["prediction"].to_numpy(), step, scale.to_numpy(), self.intervals
        )
        out = forecast.merge(panel.keys, on="unique_id", how="left")
        out = out.rename(columns={"ds": self.time})
        return out[[*self.series, self.time, "prediction", "p10", "p90"]]

    def _future(self, future: pd.DataFrame | None) -> pd.DataFrame | None:
        if not self.known_covariates or not self._uses_covariates():
            return None
        if future is None:
            raise DataError(
                f"The known covariates {list(self.known_covariates)} are needed for the "
                f"{self.horizon} forecast steps: give them in a future table with the "
                f"series and time columns."
            )
        missing = [c for c in (*self.series, self.time, *self.known_covariates) if c not in future]
        if missing:
            raise DataError(f"The future table lacks the columns {missing}.")
        long = pd.DataFrame(
            {
                "unique_id": series_ids(future, self.series).to_numpy(),
                "ds": parse_time(future[self.time], self.time).to_numpy(),
            }
        )
        for column in self.known_covariates:
            long[column] = future[column].to_numpy()
        return long.drop_duplicates(["unique_id", "ds"], keep="last")

    def _uses_covariates(self) -> bool:
        return any(is_global(name) for name in self.weights)

    def to_state(self) -> dict:
        """Plain values and DataFrames only (no pickled objects)."""
        state = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "learners"}
        state["learners"] = {name: lr.to_state() for name, lr in self.learners.items()}
        return state

    @classmethod
    def from_state(cls, state: dict) -> Forecaster:
        learners = {name: learner_from_state(s) for name, s in state["learners"].items()}
        plain = {k: v for k, v in state.items() if k != "learners"}
        for key in ("series", "known_covariates", "covariates"):
            plain[key] = tuple(plain[key])
        return cls(**plain, learners=learners)


def fit_forecaster(
    frame: pd.DataFrame,
    *,
    target: str,
    time: str,
    series: tuple[str, ...] = (),
    horizon: int,
    frequency: str | None = None,
    holidays: str | None = None,
    known_covariates: tuple[str, ...] = (),
    aggregate: str | None = None,
    time_budget: float = 120.0,
    windows: int | None = None,
    learners: list | None = None,
    n_jobs: int = 1,
    seed: int = 0,
) -> Forecaster:
    """Backtest, ensemble and fit forecasters for ``frame`` within ``time_budget`` seconds.

    ``holidays`` is a country code (US, US-CA) or the name of a column of holiday flags
    (then a known covariate). ``windows`` is the number of backtest windows (default 3,
    more for few series). ``learners`` replaces the default learners."""
    started = clock.perf_counter()
    _check_options(horizon, time_budget)
    known, country = _known_and_country(frame, tuple(known_covariates), holidays)
    panel = prepare_panel(
        frame,
        target=target,
        time=time,
        series=series,
        horizon=horizon,
        frequency=frequency,
        aggregate=aggregate,
    )
    notes = list(panel.notes)
    if country and not holidays_apply(panel.frequency):
        notes.append(f"Holidays ({country}) are per day; not used at frequency {panel.frequency}.")
        country = ""
    text = [c for c in panel.covariates if c not in known and _is_text(panel.frame[c])]
    if text:
        notes.append(f"Past-only covariates that are not numbers were left out: {text}.")
    if learners is None:
        learners = make_learners(
            horizon, country=country, known=known, n_jobs=n_jobs, seed=seed,
            positive=bool((panel.frame["y"] > 0).all()),
        )  # fmt: skip
    n_windows = window_count(panel, horizon, windows)
    refit: dict[str, float] = {}
    backtest = run_backtests(
        panel,
        learners,
        horizon=horizon,
        windows=n_windows,
        deadline=started + time_budget,
        refit_seconds=refit,
    )
    notes += backtest.notes
    if not backtest.learners:
        raise SearchError(
            f"No forecasting learner finished its backtests in {time_budget:g} s: "
            + " ".join(backtest.notes)
        )
    predictions, weights, intervals, scores = _ensemble(backtest, horizon)
    notes.append(
        f"{n_windows} backtest windows of {horizon} steps; 80 % intervals covered "
        f"{coverage(predictions['y'], predictions['p10'], predictions['p90']):.0%} of them."
    )
    by_name = {learner.name: learner for learner in learners}
    fitted = {name: by_name[name].fit(panel) for name in weights}
    return Forecaster(
        target=target,
        time=time,
        series=tuple(series),
        horizon=horizon,
        frequency=panel.frequency,
        season_length=panel.season_length,
        country=country,
        known_covariates=known,
        covariates=panel.covariates,
        aggregate=aggregate,
        weights=weights,
        intervals=intervals,
        learners=fitted,
        backtest=predictions,
        scores=scores,
        notes=notes,
        fit_seconds=clock.perf_counter() - started,
    )


def _known_and_country(
    frame: pd.DataFrame, known: tuple[str, ...], holidays: str | None
) -> tuple[tuple[str, ...], str]:
    """(the known covariates, the holiday country code or ""): ``holidays`` names either a
    column of holiday flags (then one more known covariate) or a country."""
    country = ""
    if holidays and holidays in frame.columns:
        known = (*known, holidays) if holidays not in known else known
    elif holidays:
        check_country(holidays)
        country = holidays.upper()
    absent = [c for c in known if c not in frame.columns]
    if absent:
        raise DataError(f"The known covariates {absent} are not columns of the table.")
    return known, country


def _ensemble(backtest, horizon: int):
    """(backtest predictions with the ensemble's and its interval bounds, ensemble weights,
    calibrated intervals, per-model scores) from the learners' backtests."""
    predictions = backtest.predictions
    weights = greedy_weights(predictions, backtest.learners)
    predictions[ENSEMBLE] = combine(predictions, weights)
    intervals = calibrate(predictions, ENSEMBLE, horizon)
    predictions["p10"], predictions["p90"] = bounds(
        predictions[ENSEMBLE].to_numpy(), predictions["step"].to_numpy(),
        predictions["scale"].to_numpy(), intervals,
    )  # fmt: skip
    scores = score_models(predictions, [*backtest.learners, ENSEMBLE])
    scores["seconds"] = scores["model"].map(backtest.seconds)
    scores["weight"] = scores["model"].map(weights).fillna(0.0)
    scores.loc[scores["model"] == ENSEMBLE, "weight"] = np.nan
    return predictions, weights, intervals, scores


def _check_options(horizon: int, time_budget: float) -> None:
    if isinstance(horizon, bool) or not isinstance(horizon, int | np.integer) or horizon < 1:
        raise ConfigError(f"The 'horizon' parameter must be a positive integer; got {horizon!r}.")
    if not isinstance(time_budget, int | float) or not time_budget > 0:
        raise ConfigError(
            f"The 'time_budget' parameter must be a positive number; got {time_budget!r}."
        )


def _is_text(values: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_bool_dtype(values))
