"""A search made ready before the cluster is: the trial data, the portfolio adapted to the
table, the strategy and the stop rules; then run on the scheduler's workers.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from trialflow.model.metrics import METRICS
from trialflow.runtime.budget import Budget
from trialflow.search.loop import StopRules, run_search
from trialflow.search.strategies import SearchStrategy
from trialflow.search.trial import TrialData, TrialResult
from trialflow.search.trial_store import TrialStore


@dataclass(frozen=True)
class PreparedSearch:
    """Everything a search needs but the cluster: built while the cluster starts."""

    data: TrialData
    strategy: SearchStrategy
    rules: StopRules
    store: TrialStore | None
    sequential: bool
    # Plain refits one member of the final model costs (fold bagging: one per fold besides
    # the refit on all rows), so the search keeps time for them.
    refit_multiple: float = 1.0


def prepare_search(
    table,
    plan,
    learners: Sequence[str],
    config,
    *,
    metric: str,
    store_directory: str | None = None,
    profile: dict | None = None,
    cancel: threading.Event | None = None,
) -> PreparedSearch:
    """The trial data, the strategy and the stop rules for searching ``learners`` on
    ``table`` with the config's strategy.

    ``store_directory`` keeps trial records so that a repeated call (a retried task) reuses
    the trials already finished. ``profile`` is the data profile the recommender starts from.
    """
    from trialflow.search.folds import make_folds
    from trialflow.search.strategies import make_strategy

    data = TrialData(
        X=table.X,
        y=table.y,
        folds=make_folds(table.y, task=table.task, n_folds=config.cv_folds, seed=config.seed),
        task=table.task,
        metric=metric,
        plan=plan,
        classes=table.classes,
        token=f"{table.fingerprint}-{uuid.uuid4().hex[:8]}",
        user_learners=tuple(config.learners),
    )
    # The recommender factorises its knowledge base here: ~0.5 s that overlaps with the
    # cluster's start when this runs before it is ready.
    strategy = make_strategy(
        config.strategy,
        _portfolio(learners, table, metric, plan),
        seed=config.seed,
        greater_is_better=METRICS[metric].greater_is_better,
        rows=len(table.y),
        refine=config.refine,
        max_trials=config.max_trials,
        # Each strategy takes the fields it declares; the run's task replaces the config's
        # (which may be "auto").
        available={**config.model_dump(), "task": table.task, "profile": profile},
    )
    rules = StopRules(
        max_trials=config.max_trials,
        target_score=config.target_score,
        patience=config.patience,
        trial_time_limit=config.trial_time_limit,
        cancel=cancel,
    )
    store = (
        TrialStore(store_directory, data_fingerprint=table.fingerprint) if store_directory else None
    )
    from trialflow.model.bagging import bag_refit_multiple

    multiple = bag_refit_multiple(len(table.y), config.cv_folds, config.fold_bagging)
    return PreparedSearch(
        data, strategy, rules, store, sequential=config.deterministic, refit_multiple=multiple
    )


def _portfolio(learners: Sequence[str], table, metric: str, plan=None) -> list:
    """The learners' specs, adapted to the table: categorical columns may reach forests as
    one-hot or ordinal codes, a skewed positive regression target may be fitted on
    log(1 + y), imbalanced classes may be weighted (each decided per trial)."""
    from trialflow.learners import get_learner
    from trialflow.learners.spec import (
        needs_class_weights,
        skewed_positive,
        with_class_weights,
        with_encoding_choice,
        with_target_transform,
    )

    portfolio = [get_learner(name) for name in learners]
    if plan is not None and plan.kinds.get("categorical") and "categorical" not in plan.disabled:
        portfolio = [with_encoding_choice(spec) for spec in portfolio]
    if table.task == "regression" and skewed_positive(table.y):
        # The search decides, per configuration, whether fitting on log(1 + y) pays.
        portfolio = [with_target_transform(spec) for spec in portfolio]
    if needs_class_weights(table.y, table.task, metric):
        portfolio = [with_class_weights(spec) for spec in portfolio]
    return portfolio


def search_trials(
    prepared: PreparedSearch,
    *,
    scheduler_address: str,
    budget: Budget,
    on_result: Callable[[TrialResult, Sequence[TrialResult]], None] | None = None,
    on_submitted: Callable[[], None] | None = None,
) -> list[TrialResult]:
    """Run a prepared search on the scheduler's workers; returns every trial."""
    from trialflow.runtime.cluster import connect

    client = connect(scheduler_address)
    try:
        with client.as_current():
            return run_search(
                client,
                prepared.data,
                prepared.strategy,
                budget=budget,
                rules=prepared.rules,
                sequential=prepared.sequential,
                on_result=on_result,
                on_submitted=on_submitted,
                store=prepared.store,
                refit_multiple=prepared.refit_multiple,
            )
    finally:
        client.close()
