"""Task: choose an ensemble of the top trials when it beats the best single one."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow.model.ensemble import EnsembleChoice, select_ensemble
from trialflow.run_record import RunRecord
from trialflow.runtime import progress
from trialflow.search.folds import make_folds
from trialflow.search.loop import estimate_refit_seconds
from trialflow.tasks.step import step


@step("ensemble")
def ensemble(run: RunRecord) -> EnsembleChoice | None:
    progress.emit("stage", name="ensemble")
    logger = get_run_logger()
    table, config = run.table, run.config
    # The same folds the search used: same rows, task, fold count and seed.
    folds = make_folds(table.y, task=table.task, n_folds=config.cv_folds, seed=config.seed)
    choice = select_ensemble(
        run.search_trials,
        table.y,
        folds,
        metric=run.metric,
        classes=table.classes,
        refit_cost=estimate_refit_seconds,
        # Members are drawn only from trials whose refits fit in the time left.
        refit_allowance=run.budget.refit_seconds_left(),
    )
    if choice is None:
        logger.info("No ensemble beats the best single trial; keeping it.")
        return None
    if len(choice.members) == 1:
        member = choice.members[0]
        logger.info(
            "The best trial's refit on all rows would not finish in time; refitting trial %d "
            "(%s, %s %.4f out of fold), the best one whose refit fits.",
            member.trial_id,
            member.learner,
            run.metric,
            choice.score,
        )
        return choice
    logger.info(
        "Ensemble of %d trials scores %s %.4f out of fold.",
        len(choice.members),
        run.metric,
        choice.score,
    )
    return choice
