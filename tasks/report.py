"""Task: the run's HTML report, written under the run's folder in the project home."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect.runtime import flow_run

from trialflow.features.plan_file import fitted_features_frame
from trialflow.model.ensemble import EnsembleChoice
from trialflow.model.metrics import METRICS
from trialflow.report.html import REPORT_FILE, RunReport, render
from trialflow.run_record import RunRecord
from trialflow.runtime import progress
from trialflow.runtime.files import write_atomically
from trialflow.runtime.home import run_directory
from trialflow.search.trial import TrialResult
from trialflow.tasks.step import step


@step("report")
def write_report(run: RunRecord) -> tuple[Path, str]:
    """The report's path and its HTML (the register step logs the same text to MLflow)."""
    progress.emit("stage", name="report")
    from trialflow.validation.guardrails import guardrails_frame

    config, table = run.config, run.table
    report = RunReport(
        model_name=config.resolved_model_name(),
        task=table.task,
        task_reason=table.task_reason,
        metric=run.metric,
        greater_is_better=METRICS[run.metric].greater_is_better,
        source=table.source,
        rows=len(table.X),
        columns=table.X.shape[1],
        fingerprint=table.fingerprint,
        config=config.model_dump(mode="json"),
        timings=dict(run.timings),
        profile=run.validation.profile,
        guardrails=guardrails_frame(run.validation.guardrails),
        features=fitted_features_frame(run.pipeline),
        leaderboard=run.leaderboard,
        trials=trial_progress(run.trials),
        importance=run.importance.raw,
        importance_method=run.importance.method,
        engineered_importance=run.importance.engineered,
        fairness=run.fairness,
        excluded_sensitive=[] if config.sensitive_as_input else list(config.sensitive),
        ensemble=ensemble_members(run.choice),
        holdout=dict(run.holdout_scores),
        holdout_rows=run.holdout_rows,
    )
    page = render(report)
    path = run_directory(str(flow_run.get_id() or "local")) / REPORT_FILE
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
