"""Task: read the training data and run the first Great Expectations checks."""

from __future__ import annotations

import pandas as pd
from prefect import get_run_logger

from trialflow import progress
from trialflow.checkpoints import config_digest, source_digest, step_key
from trialflow.config import TrainConfig
from trialflow.loading import TrainingTable, load_training_table
from trialflow.tasks.step import step


def checkpoint_key(parameters: dict) -> str:
    config = parameters["config"]
    data = source_digest(config.data, parameters.get("frame"))
    return step_key("load", data, config_digest(config))


@step("load-and-check", checkpoint=checkpoint_key)
def load_and_check(config: TrainConfig, frame: pd.DataFrame | None = None) -> TrainingTable:
    progress.emit("stage", name="load & check")
    table = load_training_table(
        config.data, frame, target=config.target, task=config.task, cv_folds=config.cv_folds
    )
    logger = get_run_logger()
    logger.info(
        "Loaded %d rows x %d columns from %s; task %s (%s); %d/%d checks passed.",
        len(table.X),
        table.X.shape[1],
        table.source,
        table.task,
        table.task_reason,
        sum(c.success for c in table.checks),
        len(table.checks),
    )
    if table.n_unlabelled:
        logger.warning("Left out %d rows with no value in %r.", table.n_unlabelled, table.target)
    return table
