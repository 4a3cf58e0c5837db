"""The `automl` flow's steps up to the search, as plain functions: load & check, the feature
plan, the guardrails (with the expectation suite and the data profile) and the search.

The tasks in `tasks/` wrap them for Prefect (logs, artifacts, checkpoints); a run's head
start (`trialflow.runtime.head_start`) calls the same functions before Prefect's API is up. Each
step's checkpoint key lives here too, so both find the same results under the same key.
None of this imports Prefect: it is on the path to the first trial.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trialflow.config import TrainConfig
from trialflow.data.loading import TrainingTable
from trialflow.featurizers import ColumnPlan
from trialflow.runtime import progress
from trialflow.runtime.budget import Budget
from trialflow.runtime.checkpoints import SearchDirectory, config_digest, source_digest, step_key
from trialflow.search.trial import TrialResult
from trialflow.validation.guardrails import Guardrail

# Called with each finished trial and the history so far.
OnTrial = Callable[[TrialResult, Sequence[TrialResult]], None]


@dataclass(frozen=True)
class Validation:
    guardrails: list[Guardrail]
    # The Great Expectations suite (its JSON document) saved with the model.
    suite: dict
    # The data profile (meta-features) the recommender starts from.
    profile: dict


def load_key(config: TrainConfig, frame_key: str = "") -> str:
    # A held DataFrame's key is its content fingerprint, which is what source_digest gives.
    return step_key("load", frame_key or source_digest(config.data), config_digest(config))


def plan_key(table: TrainingTable, config: TrainConfig) -> str:
    return step_key("featurize", table.fingerprint, config_digest(config))


def validation_key(table: TrainingTable, config: TrainConfig, metric: str) -> str:
    # The plan is a function of the table and the config, so they key it too.
    return step_key("guardrails", table.fingerprint, config_digest(config), metric)


def search_key(table: TrainingTable, config: TrainConfig, metric: str) -> str:
    return step_key("search", table.fingerprint, config_digest(config), metric)


def load_table(
    config: TrainConfig, frame_key: str = "", frame=None, *, record: bool = True
) -> TrainingTable:
    """Read the data (a path, or a DataFrame held under ``frame_key``) and check it;
    ``frame`` is the data already read. ``record=False`` leaves Great Expectations' record
    of the checks for later (`loading.record_checks`)."""
    from trialflow.data.frames import held
    from trialflow.data.loading import load_training_table

    progress.emit("stage", name="load & check")
    if frame is None and frame_key:
        frame = held(frame_key)
    table = load_training_table(
        config.data,
        frame,
        target=config.target,
        task=config.task,
        cv_folds=config.cv_folds,
        record=record,
    )
    progress.emit("task", task=table.task, reason=table.task_reason, rows=len(table.X))
    return table


def plan_columns(table: TrainingTable, config: TrainConfig) -> ColumnPlan:
    from trialflow.features.plan_file import plan_for, sensitive_exclusions

    progress.emit("stage", name="featurize")
    return plan_for(table, config, sensitive_exclusions(config))


def validate(
    table: TrainingTable, plan: ColumnPlan, config: TrainConfig, metric: str, *, suite: bool = True
) -> Validation:
    """The guardrails, the expectation suite scoring will enforce (unless ``suite`` is
    False: `learn_suite` needs Great Expectations), and the data profile."""
    from trialflow.metalearn.profile import profile_table
    from trialflow.validation.expectation_suite import learn_suite
    from trialflow.validation.guardrails import training_guardrails

    progress.emit("stage", name="guardrails")
    return Validation(
        guardrails=training_guardrails(table, plan, config, metric),
        suite=learn_suite(table.X, plan) if suite else {},
        profile=profile_table(table.X, table.y, table.task, plan.kinds, seed=config.seed),
    )


def search(
    table: TrainingTable,
    plan: ColumnPlan,
    learners: list[str],
    config: TrainConfig,
    metric: str,
    deadline: float,
    profile: dict | None,
    *,
    run_id: str,
    on_trial: OnTrial,
    notice: Callable[[str], None],
    on_directory: Callable[[SearchDirectory], None] | None = None,
    cancel: threading.Event | None = None,
    on_submitted: Callable[[], None] | None = None,
) -> list[TrialResult]:
    """Run the search on the configured Dask cluster (or a local one, closed after).

    Trial records are keyed on the data and the config, so a retry, or a re-run of a killed
    run, carries on from the trials already finished. ``on_trial`` sees each finished trial
    (the progress bar is fed here); ``notice`` receives what a log should say;
    ``on_directory`` is told where the trials are recorded; setting ``cancel`` ends the
    search early; ``on_submitted`` is called once the first trials are on the workers.
    """
    from trialflow.runtime.checkpoints import claimed_search_directory
    from trialflow.runtime.cluster import dask_cluster
    from trialflow.runtime.home import run_directory
    from trialflow.search.prepare import prepare_search, search_trials

    progress.emit("stage", name="search")
    private = run_directory(run_id) / "trials"
    with claimed_search_directory(
        search_key(table, config, metric), run_id=run_id, private=private, fresh=config.fresh
    ) as directory:
        if on_directory is not None:
            on_directory(directory)
        finished = _finished_trials(directory, table, notice)
        if finished is not None:
            return finished
        # Prepared before the cluster is asked for: a local one may still be starting.
        prepared = prepare_search(
            table,
            plan,
            learners,
            config,
            metric=metric,
            store_directory=str(directory.path),
            profile=profile,
            cancel=cancel,
        )
        with dask_cluster(
            config.dask_address, n_workers=config.local_workers(), gpu_workers=config.gpu_workers
        ) as address:
            trials = search_trials(
                prepared,
                scheduler_address=address,
                budget=Budget(deadline),
                on_result=_reporting(metric, on_trial),
                on_submitted=on_submitted,
            )
        directory.mark_finished(run_id, len(trials))
        return trials


def _reporting(metric: str, on_trial: OnTrial) -> OnTrial:
    """``on_trial``, after each trial is also sent as a progress event (the progress bar)."""
    from trialflow.search.results import best_trial

    def report(result: TrialResult, history: Sequence[TrialResult]) -> None:
        best = best_trial(history, metric)
        progress.emit(
            "trial",
            done=len(history),
            metric=metric,
            best=best.score if best else None,
            learner=result.learner,
            status=result.status,
        )
        on_trial(result, history)

    return report


def _finished_trials(directory, table: TrainingTable, notice) -> list[TrialResult] | None:
    """The trials of a search this flow run already finished in ``directory`` (a retry after
    the search), or None to search, saying what is resumed from where."""
    from trialflow.search.trial_store import TrialStore

    if not directory.shared:
        notice("Another run is searching the same data and config; searching apart.")
    if directory.finished:
        trials = TrialStore(directory.path, data_fingerprint=table.fingerprint).load()
        notice(f"Reusing the {len(trials)} trials this flow run's search finished.")
        progress.emit("resumed", trials=len(trials), finished=True)
        return trials
    recorded = len(list(directory.path.glob("trial-*.json")))
    if recorded:
        notice(f"Resuming from {recorded} trials an earlier run recorded.")
        progress.emit("resumed", trials=recorded, finished=False)
    return None


def run_budget(config: TrainConfig, deadline: float | None) -> Budget:
    """The run's budget: ``deadline`` (epoch seconds, set by a caller that started the clock
    before the flow did), or the time budget from now."""
    if config.deterministic:
        # A deterministic run counts trials; a clock would make its result depend on speed.
        return Budget(float("inf"))
    return Budget(deadline) if deadline else Budget.starting_now(config.time_budget)
