"""The run record: what one `automl` run has produced, step by step.

The flow fills it in as its tasks return (each task returns its own typed result; the flow
stores it here), and the steps that need several earlier results (report, register,
publish) take the record instead of a long argument list. Steps that take it have their
wall time recorded in it (`trialflow.tasks.step`), which the returned TrainResult carries.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from trialflow.config import TrainConfig
from trialflow.runtime.budget import Budget


@dataclass
class RunRecord:
    config: TrainConfig
    budget: Budget
    # Epoch seconds the run's clock started (before the flow run, for a head start).
    started: float
    frame_key: str = ""
    # Seconds per step that took the record, and when each ended (seconds from `started`).
    timings: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)

    table: Any = None  # trialflow.data.loading.TrainingTable, the rows trained on
    holdout: Any = None  # trialflow.data.holdout.Holdout, or None
    plan: Any = None  # trialflow.featurizers.ColumnPlan
    learners: list[str] = field(default_factory=list)
    validation: Any = None  # trialflow.steps.Validation
    search_trials: list = field(default_factory=list)  # TrialResult, as the search ran them
    choice: Any = None  # trialflow.model.ensemble.EnsembleChoice, or None
    fairness: Any = None  # trialflow.fairness.measure.FairnessReport, or None
    pipeline: Any = None  # the refit model
    mitigated: Any = None  # trialflow.fairness.mitigation.MitigatedModel, or None
    holdout_scores: dict[str, float] = field(default_factory=dict)
    trusted: list[str] | None = None  # the registered model's skops types
    importance: Any = None  # trialflow.explain.importance.ModelImportance
    report_path: Path | None = None
    report_page: str = ""
    registered: Any = None  # trialflow.registry.store.RegisteredModel

    @classmethod
    def begin(cls, config: TrainConfig, frame_key: str, deadline: float | None) -> RunRecord:
        """``deadline`` (epoch seconds) is set by callers that started the clock before the
        flow; the time before the flow run is recorded as ``before_flow_run``."""
        from trialflow.steps import run_budget

        started = deadline - config.time_budget if deadline else time.time()
        record = cls(config, run_budget(config, deadline), started, frame_key)
        record.timings["before_flow_run"] = round(time.time() - started, 3)
        return record

    def record_step(self, name: str, seconds: float) -> None:
        self.timings[name] = round(seconds, 3)
        self.ended[name] = round(time.time() - self.started, 3)

    @property
    def metric(self) -> str:
        return self.config.resolved_metric(self.table.task)

    @property
    def trials(self) -> list:
        """The search's trials, and the chosen ensemble as one more row."""
        if self.choice is None:
            return list(self.search_trials)
        return [*self.search_trials, self.choice.as_result(trial_id=len(self.search_trials))]

    @property
    def best(self):
        """The chosen trial: the ensemble's row when one was chosen, else the best trial.
        (A choice of one trial is made when the best trial cannot be refitted in time; it
        may then score below that trial.)"""
        from trialflow.search.results import best_trial

        if self.choice is not None:
            return self.trials[-1]
        return best_trial(self.trials, self.metric)

    @property
    def members(self) -> list:
        return list(self.choice.members) if self.choice else [self.best]

    @property
    def weights(self) -> list[float]:
        return list(self.choice.weights) if self.choice else [1.0]

    @property
    def final(self):
        """The model registered: the mitigated one when the config asks for it."""
        return self.mitigated if self.config.register_mitigated else self.pipeline

    @property
    def leaderboard(self) -> pd.DataFrame:
        from trialflow.search.results import leaderboard

        return leaderboard(self.trials, self.metric)

    @property
    def holdout_rows(self) -> int:
        return len(self.holdout) if self.holdout else 0

    def train_result(self, run_id: str):
        """What `trialflow.train` returns."""
        from trialflow.result import TrainResult

        first = min((t.started_at for t in self.search_trials if t.started_at), default=None)
        timings = {
            **self.timings,
            # When the first trial began on a worker and when the search ended, in seconds
            # from the run's start: the time before and after them is the run's fixed cost.
            "first_trial": round(first - self.started, 3) if first else None,
            "search_ended": self.ended.get("search"),
            "flow_body_ended": round(time.time() - self.started, 3),
        }
        return TrainResult(
            pipeline=self.pipeline,
            leaderboard=self.leaderboard,
            model_name=self.registered.name,
            model_version=self.registered.version,
            task=self.table.task,
            task_reason=self.table.task_reason,
            metric=self.metric,
            best_score=float(self.best.score),
            importance=self.importance.raw,
            engineered_importance=self.importance.engineered,
            plan=self.plan,
            data_fingerprint=self.table.fingerprint,
            flow_run_id=run_id,
            timings=timings,
            guardrails=self.validation.guardrails,
            fairness=self.fairness,
            mitigated=self.mitigated,
            report_path=str(self.report_path),
            holdout_scores=self.holdout_scores,
        )
