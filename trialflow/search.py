"""The search loop: fan trials out to Dask workers until the budget or trial limit is spent."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence

import pandas as pd

from trialflow.budget import Budget
from trialflow.metrics import METRICS
from trialflow.strategy import SearchStrategy
from trialflow.trial import TrialData, TrialResult, TrialSpec, run_trial

# The final refit fits on all rows (k/(k-1) of a fold) in one go; keep a margin on top.
REFIT_MARGIN = 1.5
# Longest single wait for a trial before the loop looks again (deterministic runs have no
# deadline, and Dask's timeouts must be finite).
MAX_WAIT = 600.0


def estimate_refit_seconds(best: TrialResult | None) -> float:
    if best is None or not best.fold_scores:
        return 0.0
    return best.wall_seconds / len(best.fold_scores) * REFIT_MARGIN


def best_trial(history: Sequence[TrialResult], metric: str) -> TrialResult | None:
    scored = [r for r in history if r.status == "ok" and r.score is not None]
    if not scored:
        return None
    return min(scored, key=lambda r: METRICS[metric].loss(r.score))


def run_search(
    client,
    data: TrialData,
    strategy: SearchStrategy,
    *,
    budget: Budget,
    max_trials: int | None = None,
    sequential: bool = False,
    on_result: Callable[[TrialResult, Sequence[TrialResult]], None] | None = None,
) -> list[TrialResult]:
    """Run trials on the client's workers; returns every trial, finished or cancelled.

    ``sequential`` runs one trial at a time, so the history each proposal sees, and with it
    the whole search, depends only on the seed.

    The data is scattered to every worker once; each trial ships only its small spec.
    New trials start only while the time left (after reserving the refit of the best
    trial so far and the finishing steps) covers them; trials still running when that
    time is up are cancelled and recorded as such.
    """
    from distributed import wait

    data_future = client.scatter(data, broadcast=True, hash=False)
    slots = 1 if sequential else max(1, sum(client.nthreads().values()))
    run_key = uuid.uuid4().hex[:8]
    pending: dict = {}
    history: list[TrialResult] = []
    next_id = 0

    def seconds_left() -> float:
        best = best_trial(history, data.metric)
        return budget.search_seconds_left(estimate_refit_seconds(best))

    while True:
        while len(pending) < slots and (max_trials is None or next_id < max_trials):
            left = seconds_left()
            # The very first trial always runs, so even a tiny budget yields a model.
            if left <= 0 and (history or pending):
                break
            proposal = strategy.propose(next_id, history, seconds_left=left)
            if proposal is None:
                break
            future = client.submit(
                run_trial, data_future, proposal, key=f"trial-{run_key}-{next_id}", pure=False
            )
            pending[future] = proposal
            next_id += 1
        if not pending:
            break
        try:
            done, _ = wait(
                list(pending),
                timeout=min(max(0.1, seconds_left()), MAX_WAIT),
                return_when="FIRST_COMPLETED",
            )
        except TimeoutError:
            done = set()
        # Past the deadline, stop waiting, unless no trial has finished yet: a run always
        # returns a model, so the first trial is waited for.
        if not done and seconds_left() <= 0 and best_trial(history, data.metric) is not None:
            client.cancel(list(pending))
            for proposal in pending.values():
                history.append(_cancelled(proposal))
            break
        for future in done:
            result = _collect(future, pending.pop(future))
            history.append(result)
            if on_result is not None:
                on_result(result, history)
    return history


def _collect(future, proposal: TrialSpec) -> TrialResult:
    try:
        return future.result()
    except Exception as exc:  # the worker died or the task could not run at all
        return TrialResult(
            proposal.trial_id,
            proposal.learner,
            proposal.params,
            proposal.seed,
            "failed",
            error=f"{type(exc).__name__}: {exc}",
        )


def _cancelled(proposal: TrialSpec) -> TrialResult:
    return TrialResult(
        proposal.trial_id,
        proposal.learner,
        proposal.params,
        proposal.seed,
        "cancelled",
        error="still running when the time budget ran out",
    )


def leaderboard(history: Sequence[TrialResult], metric: str) -> pd.DataFrame:
    """One row per trial, best first; failed and cancelled trials last, with their reason."""
    loss = METRICS[metric].loss
    rows = [
        {
            "trial": r.trial_id,
            "learner": r.learner,
            metric: r.score,
            "status": r.status,
            "fit_seconds": round(r.fit_seconds, 3),
            "wall_seconds": round(r.wall_seconds, 3),
            "worker": r.worker,
            "seed": r.seed,
            "config": json.dumps(r.params, sort_keys=True),
            "error": r.error,
        }
        for r in history
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "trial",
            "learner",
            metric,
            "status",
            "fit_seconds",
            "wall_seconds",
            "worker",
            "seed",
            "config",
            "error",
        ],
    )
    order = sorted(
        range(len(history)),
        key=lambda i: (
            history[i].status != "ok",
            loss(history[i].score) if history[i].score is not None else 0.0,
            history[i].trial_id,
        ),
    )
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


def search_trials(
    table,
    plan,
    learners: Sequence[str],
    *,
    metric: str,
    n_folds: int,
    seed: int,
    max_trials: int | None,
    user_learners: Sequence[str] = (),
    deterministic: bool = False,
    scheduler_address: str,
    budget: Budget,
    on_result: Callable[[TrialResult, Sequence[TrialResult]], None] | None = None,
) -> list[TrialResult]:
    """Random search over ``learners`` for ``table`` on the scheduler's workers."""
    from trialflow.cluster import connect
    from trialflow.folds import make_folds
    from trialflow.learners import get_learner
    from trialflow.strategy import RandomSearch

    data = TrialData(
        X=table.X,
        y=table.y,
        folds=make_folds(table.y, task=table.task, n_folds=n_folds, seed=seed),
        task=table.task,
        metric=metric,
        plan=plan,
        classes=table.classes,
        token=f"{table.fingerprint}-{uuid.uuid4().hex[:8]}",
        user_learners=tuple(user_learners),
    )
    strategy = RandomSearch(
        [get_learner(name) for name in learners],
        seed=seed,
        greater_is_better=METRICS[metric].greater_is_better,
    )
    client = connect(scheduler_address)
    try:
        with client.as_current():
            return run_search(
                client,
                data,
                strategy,
                budget=budget,
                max_trials=max_trials,
                sequential=deterministic,
                on_result=on_result,
            )
    finally:
        client.close()
