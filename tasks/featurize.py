"""Task: decide how each input column is featurized (the featurizers fit inside each fold)."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow import progress
from trialflow.checkpoints import config_digest, step_key
from trialflow.config import TrainConfig
from trialflow.featurizers import ColumnPlan
from trialflow.loading import TrainingTable
from trialflow.plan_file import plan_for, sensitive_exclusions
from trialflow.tasks.step import step


def checkpoint_key(parameters: dict) -> str:
    return step_key(
        "featurize", parameters["table"].fingerprint, config_digest(parameters["config"])
    )


@step("featurize", checkpoint=checkpoint_key)
def plan_features(table: TrainingTable, config: TrainConfig) -> ColumnPlan:
    progress.emit("stage", name="featurize")
    plan = plan_for(table, config, sensitive_exclusions(config))
    logger = get_run_logger()
    logger.info("Features from %s.", ", ".join(f"{len(v)} {k}" for k, v in plan.kinds.items() if v))
    for column, reason in plan.dropped.items():
        logger.info("Dropped column %r: %s.", column, reason)
    if plan.holiday_country or plan.holiday_column:
        logger.info("Holiday features from %s.", plan.holiday_country or plan.holiday_column)
    return plan
