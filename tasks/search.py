"""Task: fan trials out to the Dask workers within the time budget."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from prefect import get_run_logger
from prefect.runtime import flow_run

from trialflow import progress
from trialflow.budget import Budget
from trialflow.checkpoints import claimed_search_directory, config_digest, step_key
from trialflow.config import TrainConfig
from trialflow.featurizers import ColumnPlan
from trialflow.folds import validation_scheme
from trialflow.home import run_directory
from trialflow.loading import TrainingTable
from trialflow.search import best_trial, search_trials
from trialflow.tasks.step import step
from trialflow.trial import TrialResult
from trialflow.trial_store import TrialStore


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

    # Trial records are keyed on the data and the config, so a retry of this task, or a
    # re-run of a killed flow run, carries on from the trials already finished.
    key = step_key("search", table.fingerprint, config_digest(config), metric)
    run_id = str(flow_run.get_id() or uuid.uuid4().hex)
    private = run_directory(run_id) / "trials"
    with claimed_search_directory(
        key, run_id=run_id, private=private, fresh=config.fresh
    ) as directory:
        if not directory.shared:
            logger.info("Another run is searching the same data and config; searching apart.")
        if directory.finished:
            trials = TrialStore(directory.path, data_fingerprint=table.fingerprint).load()
            logger.info("Reusing the %d trials this flow run's search finished.", len(trials))
            progress.emit("resumed", trials=len(trials), finished=True)
            return trials
        recorded = len(list(directory.path.glob("trial-*.json")))
        if recorded:
            logger.info("Resuming from %d trials an earlier run recorded.", recorded)
            progress.emit("resumed", trials=recorded, finished=False)
        trials = search_trials(
            table,
            plan,
            learners,
            config,
            metric=metric,
            scheduler_address=scheduler_address,
            budget=Budget(deadline),
            on_result=report,
            store_directory=str(directory.path),
            profile=profile,
        )
        directory.mark_finished(run_id, len(trials))
        return trials
