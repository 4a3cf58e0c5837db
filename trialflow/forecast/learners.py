"""The forecasting learners: seasonal naive, statsforecast's AutoETS, AutoTheta and AutoARIMA,
and a global LightGBM model over all series, on the target's scale and (for positive
targets) on its logarithm.

Every learner has ``fit(panel)`` and ``predict(history, horizon, future)``; the prediction
starts after each series' last timestamp in ``history``, which may run past the data it
was fitted on. The statistical models learn nothing in ``fit``: they are refitted on the
history at predict time (seconds), so a fitted forecaster stores no pickled model. The
global model stores its booster as LightGBM's own text format and its feature spec.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from trialflow.forecast.features import FeatureSpec, forecast_rows, make_spec, training_rows
from trialflow.forecast.series import Panel

STATISTICAL = ("seasonal_naive", "auto_ets", "auto_theta", "auto_arima")
GLOBAL = "global_lightgbm"
GLOBAL_LOG = "global_lightgbm_log"


def is_global(name: str) -> bool:
    """Whether the learner ``name`` is a global model (the only kind that reads covariates)."""
    return name in (GLOBAL, GLOBAL_LOG)


class StatisticalLearner:
    """A statsforecast model fitted per series, one process (``n_jobs=1``)."""

    refits_at_predict = True

    def __init__(self, name: str):
        if name not in STATISTICAL:
            raise ValueError(f"Unknown statistical learner {name!r}; known: {STATISTICAL}.")
        self.name = name

    def fit(self, panel: Panel) -> StatisticalLearner:
        return self

    def predict(
        self, history: Panel, horizon: int, future: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        # statsforecast pulls in fugue and its engines: imported only when a model runs.
        from statsforecast import StatsForecast
        from statsforecast.models import SeasonalNaive

        m = history.season_length
        engine = StatsForecast(
            models=[_model(self.name, m)],
            freq=history.frequency,
            n_jobs=1,
            # A model that fails on one series (too short for its season) falls back.
            fallback_model=SeasonalNaive(season_length=m) if m > 1 else _naive(),
        )
        frame = history.frame[["unique_id", "ds", "y"]]
        forecast = engine.forecast(df=frame, h=horizon)
        if "unique_id" not in forecast.columns:
            forecast = forecast.reset_index()
        value = [c for c in forecast.columns if c not in ("unique_id", "ds")][0]
        return forecast.rename(columns={value: "prediction"})[["unique_id", "ds", "prediction"]]

    def to_state(self) -> dict:
        return {"name": self.name}


def _model(name: str, m: int):
    from statsforecast.models import AutoARIMA, AutoETS, AutoTheta, SeasonalNaive

    if name == "seasonal_naive":
        return SeasonalNaive(season_length=m) if m > 1 else _naive()
    if name == "auto_ets":
        return AutoETS(season_length=m)
    if name == "auto_theta":
        return AutoTheta(season_length=m)
    return AutoARIMA(season_length=m)


def _naive():
    from statsforecast.models import Naive

    return Naive()


class GlobalLightGBM:
    """One LightGBM model for every series and step (see ``features`` for the strategy).

    With ``log_target`` it models the logarithm of a positive target, so the level, the
    weekly pattern and last year's movements act as ratios rather than differences: a
    weekend at a third of the weekdays stays a third when the level grows. On the suite's
    forecasting sets (rolling origin, 3 windows) that took chicago ridership from MASE 0.476
    to 0.355 and us_employment from 0.362 to 0.354; the backtests choose between the two."""

    refits_at_predict = False

    def __init__(
        self,
        horizon: int,
        *,
        country: str = "",
        known: tuple[str, ...] = (),
        rounds: int = 300,
        max_rows: int = 300_000,
        n_jobs: int = 1,
        seed: int = 0,
        log_target: bool = False,
    ):
        self.horizon = horizon
        self.country = country
        self.known = known
        self.rounds = rounds
        self.max_rows = max_rows
        self.n_jobs = n_jobs
        self.seed = seed
        self.log_target = log_target

    @property
    def name(self) -> str:
        return GLOBAL_LOG if self.log_target else GLOBAL

    def _modelled(self, panel: Panel) -> Panel:
        """``panel`` on the scale the model learns: the logarithm for ``log_target``, values
        at or below zero in a later history raised to half the smallest value fitted on."""
        if not self.log_target:
            return panel
        frame = panel.frame.copy()
        frame["y"] = np.log(np.maximum(frame["y"].to_numpy(dtype=float), self.floor_))
        return panel.replace_frame(frame)

    def params(self) -> dict:
        return {
            "objective": "l2",
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_data_in_leaf": 20,
            "feature_fraction": 0.8,
            "bagging_fraction": 0.8,
            "bagging_freq": 1,
            "lambda_l2": 1.0,
            "num_threads": self.n_jobs,
            "seed": self.seed,
            "deterministic": True,
            "force_col_wise": True,
            "verbose": -1,
        }

    def fit(self, panel: Panel, *, max_rows: int | None = None) -> GlobalLightGBM:
        import lightgbm

        if self.log_target:
            y = panel.frame["y"].to_numpy(dtype=float)
            if not (y > 0).all():
                raise ValueError("the log-scale model needs a target above zero everywhere")
            self.floor_ = float(y.min()) / 2
        panel = self._modelled(panel)
        self.spec_ = make_spec(panel, self.horizon, country=self.country, known=self.known)
        X, z = training_rows(panel, self.spec_, max_rows=max_rows or self.max_rows, seed=self.seed)
        if len(z) == 0:
            raise ValueError("no training rows: the series are shorter than a season")
        data = lightgbm.Dataset(
            X, z, categorical_feature=["series"], free_raw_data=True, params={"verbose": -1}
        )
        self.booster_ = lightgbm.train(self.params(), data, num_boost_round=self.rounds)
        return self

    def predict(
        self, history: Panel, horizon: int, future: pd.DataFrame | None = None
    ) -> pd.DataFrame:
        if not hasattr(self, "booster_"):
            raise RuntimeError("GlobalLightGBM.predict called before fit")
        if horizon > self.spec_.horizon:
            raise ValueError(f"fitted for {self.spec_.horizon} steps, asked for {horizon}")
        X, frame = forecast_rows(self._modelled(history), self.spec_, horizon, future)
        z = self.booster_.predict(X[self.booster_.feature_name()])
        frame["prediction"] = frame["level"] + frame["scale"] * z
        if self.log_target:
            frame["prediction"] = np.exp(frame["prediction"])
        return frame[["unique_id", "ds", "prediction"]]

    def probe_seconds(self, panel: Panel) -> float:
        """A guess at one fit's seconds: building features for a tenth of the rows costs
        about half of building them all (most of it is per series and step); training is
        about proportional to the rows."""
        import lightgbm

        rows = max(self.max_rows // 10, 2_000)
        full = min(self.max_rows, _row_count(panel, self.horizon))
        started = time.perf_counter()
        spec = make_spec(panel, self.horizon, country=self.country, known=self.known)
        X, z = training_rows(panel, spec, max_rows=rows, seed=self.seed)
        built = time.perf_counter()
        data = lightgbm.Dataset(X, z, categorical_feature=["series"], params={"verbose": -1})
        lightgbm.train(self.params(), data, num_boost_round=self.rounds)
        trained = time.perf_counter()
        ratio = max(full / max(len(z), 1), 1.0)
        return (built - started) * min(2.0, ratio) + (trained - built) * ratio

    def to_state(self) -> dict:
        return {
            "name": self.name,
            "horizon": self.horizon,
            "country": self.country,
            "known": list(self.known),
            "rounds": self.rounds,
            "max_rows": self.max_rows,
            "seed": self.seed,
            "log_target": self.log_target,
            "floor": getattr(self, "floor_", None),
            "spec": self.spec_.to_dict(),
            "booster": self.booster_.model_to_string(),
        }

    @classmethod
    def from_state(cls, state: dict) -> GlobalLightGBM:
        import lightgbm

        learner = cls(
            state["horizon"], country=state["country"], known=tuple(state["known"]),
            rounds=state["rounds"], max_rows=state["max_rows"], seed=state["seed"],
            log_target=state.get("log_target", False),  # absent from models before it
        )  # fmt: skip
        if learner.log_target:
            learner.floor_ = state["floor"]
        learner.spec_ = FeatureSpec.from_dict(state["spec"])
        learner.booster_ = lightgbm.Booster(model_str=state["booster"])
        return learner


def _row_count(panel: Panel, horizon: int) -> int:
    lengths = panel.lengths().to_numpy()
    return int(np.sum(np.clip(lengths[:, None] - np.arange(1, horizon + 1)[None, :], 0, None)))


def make_learners(
    horizon: int,
    *,
    country: str = "",
    known: tuple[str, ...] = (),
    n_jobs: int = 1,
    seed: int = 0,
    positive: bool = False,
) -> list:
    """The default learners; the log-scale global model only for a ``positive`` target."""
    options = {"country": country, "known": known, "n_jobs": n_jobs, "seed": seed}
    global_models = [GlobalLightGBM(horizon, **options)]
    if positive:
        global_models.append(GlobalLightGBM(horizon, **options, log_target=True))
    return [
        StatisticalLearner("seasonal_naive"),
        StatisticalLearner("auto_ets"),
        *global_models,
        StatisticalLearner("auto_theta"),
        StatisticalLearner("auto_arima"),
    ]


def learner_from_state(state: dict):
    if is_global(state["name"]):
        return GlobalLightGBM.from_state(state)
    return StatisticalLearner(state["name"])
