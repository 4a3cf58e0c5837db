"""Task: read the training data and run the first Great Expectations checks."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow import steps
from trialflow.config import TrainConfig
from trialflow.data.loading import TrainingTable
from trialflow.runtime import head_start
from trialflow.tasks.step import log_ran_ahead, step


def checkpoint_key(parameters: dict) -> str:
    return steps.load_key(parameters["config"], parameters.get("frame_key", ""))


@step("load-and-check", checkpoint=checkpoint_key)
def load_and_check(config: TrainConfig, frame_key: str = "") -> TrainingTable:
    """``frame_key`` names a DataFrame held in this process (`trialflow.data.frames`); a table
    never travels as a parameter, which Prefect's API would store."""
    ahead = head_start.take(steps.load_key(config, frame_key))
    table = ahead.value if ahead else steps.load_table(config, frame_key)
    logger = get_run_logger()
    log_ran_ahead(logger, ahead)
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
