"""Task: fan trials out to the Dask workers within the time budget."""

from __future__ import annotations

from collections.abc import Sequence

from prefect import get_run_logger
from prefect.runtime import flow_run

from trialflow import progress
from trialflow.budget import Budget
from trialflow.config import TrainConfig
from trialflow.featurizers import ColumnPlan
from trialflow.folds import validation_scheme
from trialflow.home import run_directory
from trialflow.loading import TrainingTable
from trialflow.search import best_trial, search_trials
from trialflow.tasks.step import step
from trialflow.trial import TrialResult


@step("search", retries=1)
def search(
    table: TrainingTable,
    plan: ColumnPlan,
    learners: list[str],
    config: TrainConfig,
    metric: str,
    scheduler_address: str,
    deadline: float,
    profile: dict | None = None,
) -> list[TrialResult]:
    logger = get_run_logger()
    progress.emit("stage", name="search")
    logger.info(
        "Searching %s with %s, scored by %s.",
        ", ".join(learners),
        validation_scheme(len(table.X), config.cv_folds),
        metric,
    )

    def report(result: TrialResult, history: Sequence[TrialResult]) -> None:
        best = best_trial(history, metric)
        if result.status == "ok":
            logger.info(
                "Trial %d %s: %s %.4f in %.1f s on %s.",
                result.trial_id,
                result.learner,
                metric,
                result.score,
                result.wall_seconds,
                result.worker,
            )
        else:
            logger.warning("Trial %d %s failed: %s", result.trial_id, result.learner, result.error)
        progress.emit(
            "trial",
            done=len(history),
            metric=metric,
            best=best.score if best else None,
            learner=result.learner,
            status=result.status,
        )

    # Trial records live under the flow run, so a retry of this task (same flow run)
    # reuses the trials its earlier attempt finished.
    run_id = flow_run.get_id()
    store_directory = run_directory(str(run_id)) / "trials" if run_id else None
    if store_directory is not None and store_directory.is_dir():
        recorded = len(list(store_directory.glob("trial-*.json")))
        logger.info("Reusing %d trials recorded by an earlier attempt of this task.", recorded)
    return search_trials(
        table,
        plan,
        learners,
        config,
        metric=metric,
        scheduler_address=scheduler_address,
        budget=Budget(deadline),
        on_result=report,
        store_directory=str(store_directory) if store_directory else None,
        profile=profile,
    )
