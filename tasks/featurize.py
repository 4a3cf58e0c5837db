"""Task: decide how each input column is featurized (the featurizers fit inside each fold)."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow import steps
from trialflow.config import TrainConfig
from trialflow.data.loading import TrainingTable
from trialflow.featurizers import ColumnPlan
from trialflow.runtime import head_start
from trialflow.tasks.step import log_ran_ahead, step


def checkpoint_key(parameters: dict) -> str:
    return steps.plan_key(parameters["table"], parameters["config"])


@step("featurize", checkpoint=checkpoint_key)
def plan_features(table: TrainingTable, config: TrainConfig) -> ColumnPlan:
    ahead = head_start.take(steps.plan_key(table, config))
    plan = ahead.value if ahead else steps.plan_columns(table, config)
    logger = get_run_logger()
    log_ran_ahead(logger, ahead)
    logger.info("Features from %s.", ", ".join(f"{len(v)} {k}" for k, v in plan.kinds.items() if v))
    for column, reason in plan.dropped.items():
        logger.info("Dropped column %r: %s.", column, reason)
    if plan.holiday_country or plan.holiday_column:
        logger.info("Holiday features from %s.", plan.holiday_country or plan.holiday_column)
    return plan
