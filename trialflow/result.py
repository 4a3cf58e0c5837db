"""What a training run returns."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from trialflow.featurizers import ColumnPlan


@dataclass
class TrainResult:
    """The fitted pipeline (a scikit-learn estimator over raw DataFrames), its leaderboard,
    and where it was registered."""

    pipeline: object
    leaderboard: pd.DataFrame
    model_name: str
    model_version: str
    task: str
    task_reason: str
    metric: str
    best_score: float
    importance: pd.DataFrame
    plan: ColumnPlan
    data_fingerprint: str
    flow_run_id: str = ""
    timings: dict[str, float] = field(default_factory=dict)
    # What the guardrails found in the training data (trialflow.validation.guardrails.Guardrail).
    guardrails: list = field(default_factory=list)
    # Per-group metrics and disparities over the sensitive columns (trialflow.fairness.measure).
    fairness: object = None
    # Importance per engineered feature (single models; None for an ensemble).
    engineered_importance: pd.DataFrame | None = None
    # The fairness-mitigated model (trialflow.fairness.mitigation.MitigatedModel), when asked for.
    mitigated: object = None
    # The run's HTML report.
    report_path: str = ""
    # {metric: score} of the registered model on the held-out rows (config.holdout > 0).
    holdout_scores: dict[str, float] = field(default_factory=dict)

    def predict(self, X: pd.DataFrame):
        return self.pipeline.predict(X)

    def predict_proba(self, X: pd.DataFrame):
        return self.pipeline.predict_proba(X)
