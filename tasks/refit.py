"""Task: refit the best configuration on all training rows."""

from __future__ import annotations

from prefect import get_run_logger
from sklearn.pipeline import Pipeline

from trialflow import progress
from trialflow.featurizers import ColumnPlan
from trialflow.loading import TrainingTable
from trialflow.refit import refit_best
from trialflow.tasks.step import step
from trialflow.trial import TrialResult


@step("refit")
def refit(table: TrainingTable, plan: ColumnPlan, best: TrialResult) -> Pipeline:
    progress.emit("stage", name="refit")
    get_run_logger().info(
        "Refitting trial %d (%s) on %d rows.", best.trial_id, best.learner, len(table.X)
    )
    return refit_best(table, plan, best)
