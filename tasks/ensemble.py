"""Task: choose an ensemble of the top trials when it beats the best single one."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow import progress
from trialflow.budget import Budget
from trialflow.config import TrainConfig
from trialflow.ensemble import EnsembleChoice, select_ensemble
from trialflow.folds import make_folds
from trialflow.loading import TrainingTable
from trialflow.search import estimate_refit_seconds
from trialflow.tasks.step import step
from trialflow.trial import TrialResult


@step("ensemble")
def ensemble(
    table: TrainingTable,
    trials: list[TrialResult],
    config: TrainConfig,
    metric: str,
    deadline: float,
) -> EnsembleChoice | None:
    progress.emit("stage", name="ensemble")
    logger = get_run_logger()
    # The same folds the search used: same rows, task, fold count and seed.
    folds = make_folds(table.y, task=table.task, n_folds=config.cv_folds, seed=config.seed)
    # Members are drawn only from trials whose refits fit in the time left.
    allowance = Budget(deadline).refit_seconds_left()
    choice = select_ensemble(
        trials,
        table.y,
        folds,
        metric=metric,
        classes=table.classes,
        refit_cost=estimate_refit_seconds,
        refit_allowance=allowance,
    )
    if choice is None:
        logger.info("No ensemble beats the best single trial; keeping it.")
        return None
    logger.info(
        "Ensemble of %d trials scores %s %.4f out of fold.",
        len(choice.members),
        metric,
        choice.score,
    )
    return choice
