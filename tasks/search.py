"""Task: fan trials out to the Dask workers within the time budget."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from prefect import get_run_logger
from prefect.runtime import flow_run

from trialflow import steps
from trialflow.errors import SearchError
from trialflow.run_record import RunRecord
from trialflow.runtime import head_start
from trialflow.search.folds import validation_scheme
from trialflow.search.results import best_trial
from trialflow.search.trial import TrialResult
from trialflow.tasks.step import step


@step("search", retries=1)
def search(run: RunRecord) -> list[TrialResult]:
    """Every trial of the search; fails when none produced a model within the budget."""
    trials = _search(run)
    if best_trial(trials, run.metric) is None:
        errors = "; ".join(sorted({t.error for t in trials if t.error})) or "no trial finished"
        raise SearchError(f"No trial produced a model within the budget: {errors}")
    return trials


def _search(run: RunRecord) -> list[TrialResult]:
    table, config, metric = run.table, run.config, run.metric
    logger = get_run_logger()
    run_id = str(flow_run.get_id() or uuid.uuid4().hex)

    def log_trial(result: TrialResult, history: Sequence[TrialResult]) -> None:
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

    logger.info(
        "Searching %s with %s, scored by %s.",
        ", ".join(run.learners),
        validation_scheme(len(table.X), config.cv_folds),
        metric,
    )
    running = head_start.take_search(steps.search_key(table, config, metric))
    if running is None:
        return steps.search(
            table,
            run.plan,
            run.learners,
            config,
            metric,
            run.budget.deadline,
            run.validation.profile,
            run_id=run_id,
            on_trial=log_trial,
            notice=logger.info,
        )
    logger.info(
        "The search started %.1f s before this task, while Prefect's API started; following it.",
        max(0.0, running.started_seconds_ago()),
    )
    trials = running.follow(log_trial, logger.info)
    # A Retry of this flow run after the search (a crash in refit or registration) reuses it.
    running.mark_finished(run_id, len(trials))
    return trials
