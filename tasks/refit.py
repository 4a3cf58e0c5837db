"""Task: refit the chosen trial, or ensemble of trials, on all training rows."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow import progress
from trialflow.featurizers import ColumnPlan
from trialflow.loading import TrainingTable
from trialflow.refit import refit_final
from trialflow.tasks.step import step
from trialflow.trial import TrialResult


@step("refit")
def refit(table: TrainingTable, plan: ColumnPlan, members: list[TrialResult], weights: list[float]):
    progress.emit("stage", name="refit")
    get_run_logger().info(
        "Refitting %s on %d rows.",
        " + ".join(
            f"trial {m.trial_id} ({m.learner}) x{w:.2f}"
            for m, w in zip(members, weights, strict=True)
        ),
        len(table.X),
    )
    return refit_final(table, plan, members, weights)
