"""Task: decide how each input column is featurized (the featurizers fit inside each fold)."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow import progress
from trialflow.config import TrainConfig
from trialflow.featurizers import ColumnPlan, plan_columns
from trialflow.loading import TrainingTable
from trialflow.tasks.step import step


@step("featurize")
def plan_features(table: TrainingTable, config: TrainConfig) -> ColumnPlan:
    progress.emit("stage", name="featurize")
    exclude = {
        c: "sensitive column: reported on, not used as a model input" for c in config.sensitive
    }
    plan = plan_columns(table.X, target=table.target, exclude=exclude)
    logger = get_run_logger()
    logger.info("Features from %s.", ", ".join(f"{len(v)} {k}" for k, v in plan.kinds.items() if v))
    for column, reason in plan.dropped.items():
        logger.info("Dropped column %r: %s.", column, reason)
    return plan
