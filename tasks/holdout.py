"""Tasks: keep the holdout rows aside, and score the final model once on them."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow.config import TrainConfig
from trialflow.data.holdout import Holdout, holdout_scores, split_holdout
from trialflow.data.loading import TrainingTable
from trialflow.run_record import RunRecord
from trialflow.tasks.step import step


@step("hold-out")
def hold_out(table: TrainingTable, config: TrainConfig) -> tuple[TrainingTable, Holdout | None]:
    """(the rows to train on, the holdout), split before anything is learned from the rows,
    the feature plan included."""
    training, holdout = split_holdout(table, config.holdout, config.seed)
    if holdout is not None:
        get_run_logger().info("Kept %d of %d rows out as the holdout.", len(holdout), len(table.y))
    return training, holdout


@step("holdout")
def score_holdout(run: RunRecord) -> dict[str, float]:
    if run.holdout is None:
        return {}
    scores = holdout_scores(run.final, run.holdout, run.table.task, run.metric)
    get_run_logger().info(
        "Holdout (%d rows): %s.",
        len(run.holdout),
        ", ".join(f"{k} {v:.4f}" for k, v in scores.items()),
    )
    return scores
