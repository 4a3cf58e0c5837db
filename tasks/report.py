"""Task: the run's HTML report, written under the run's folder in the project home."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from trialflow import progress
from trialflow.config import TrainConfig
from trialflow.ensemble import EnsembleChoice
from trialflow.files import write_atomically
from trialflow.home import run_directory
from trialflow.loading import TrainingTable
from trialflow.metrics import METRICS
from trialflow.report import RunReport, render
from trialflow.tasks.explain import Importance
from trialflow.tasks.guard import Validation
from trialflow.tasks.step import step
from trialflow.trial import TrialResult

REPORT_FILE = "report.html"


@step("report")
def write_report(
    *,
    run_id: str,
    config: TrainConfig,
    table: TrainingTable,
    metric: str,
    validation: Validation,
    features: pd.DataFrame,
    leaderboard: pd.DataFrame,
    trials: list[TrialResult],
    importance: Importance,
    fairness,
    choice: EnsembleChoice | None,
    timings: dict[str, float],
    holdout: dict[str, float] | None = None,
    holdout_rows: int = 0,
) -> tuple[Path, str]:
    """The report's path and its HTML (the register step logs the same text to MLflow)."""
    progress.emit("stage", name="report")
    from trialflow.guardrails import guardrails_frame

    report = RunReport(
        model_name=config.resolved_model_name(),
        task=table.task,
        task_reason=table.task_reason,
        metric=metric,
        greater_is_better=METRICS[metric].greater_is_better,
        source=table.source,
        rows=len(table.X),
        columns=table.X.shape[1],
        fingerprint=table.fingerprint,
        config=config.model_dump(mode="json"),
        timings=dict(timings),
        profile=validation.profile,
        guardrails=guardrails_frame(validation.guardrails),
        features=features,
        leaderboard=leaderboard,
        trials=trial_progress(trials),
        importance=importance.raw,
        importance_method=importance.method,
        engineered_importance=importance.engineered,
        fairness=fairness,
        excluded_sensitive=[] if config.sensitive_as_input else list(config.sensitive),
        ensemble=ensemble_members(choice),
        holdout=dict(holdout or {}),
        holdout_rows=holdout_rows,
    )
    page = render(report)
    path = run_directory(run_id or "local") / REPORT_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lambda handle: handle.write(page.encode("utf-8")))
    return path, page


def trial_progress(trials: list[TrialResult]) -> pd.DataFrame:
    """Each trial's learner, score and when it finished (seconds into the search)."""
    rows = [
        {
            "trial": t.trial_id,
            "learner": t.learner,
            "score": t.score if t.status == "ok" else None,
            "seconds": t.finished_seconds,
            "origin": t.origin,
        }
        for t in trials
        if t.learner != "ensemble"
    ]
    frame = pd.DataFrame(rows, columns=["trial", "learner", "score", "seconds", "origin"])
    # Trials reused from an earlier attempt of the task have no time in this one.
    return frame.astype({"score": float, "seconds": float})


def ensemble_members(choice: EnsembleChoice | None) -> pd.DataFrame | None:
    if choice is None:
        return None
    return pd.DataFrame(
        [
            {
                "member": f"trial {m.trial_id}",
                "learner": m.learner,
                "weight": round(float(w), 4),
                "cv_score": m.score,
            }
            for m, w in choice.pairs()
        ]
    )
