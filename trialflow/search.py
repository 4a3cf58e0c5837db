"""The search loop: fan trials out to Dask workers until the budget or trial limit is spent."""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from trialflow.budget import Budget
from trialflow.errors import SearchError
from trialflow.gpu.routing import submit_kwargs
from trialflow.metrics import METRICS
from trialflow.strategies import SearchStrategy
from trialflow.trial import TrialData, TrialResult, TrialSpec, host_of, run_trial
from trialflow.trial_store import TrialStore

# The final refit fits on all rows (k/(k-1) of a fold) in one go; keep a margin on top.
REFIT_MARGIN = 1.5
# Longest single wait for a trial before the loop looks again (deterministic runs have no
# deadline, and Dask's timeouts must be finite).
MAX_WAIT = 600.0
# How often a search that can be cancelled looks at its cancel event while trials run.
CANCEL_POLL = 0.5


# Refits the search keeps time for: the best few trials of the ensemble's pool. The
# ensemble step draws only members whose refits fit the time then left, so the rest of the
# pool need not be reserved; reserving all 8 ended searches on large tables 10-20 s early
# (diamonds at 60 s: the search stopped at 40 s, 21 trials).
RESERVED_REFITS = 3


def estimate_refit_seconds(trial: TrialResult | None) -> float:
    """Seconds the final refit of ``trial``'s configuration is expected to take: one fold's
    fit, on all the rows (a trial on a share of the rows refits on all of them).

    From the trial's fit seconds, not its wall clock: a worker's first trial also
    featurizes its folds and receives the data, which on 250,000 rows made LightGBM's first
    trial 13.1 s against a 6.6 s refit, and the reserve ended the search after 3 trials.
    """
    if trial is None or not trial.fold_scores:
        return 0.0
    seconds = trial.fit_seconds or trial.wall_seconds
    return seconds / len(trial.fold_scores) / max(trial.rows, 1e-3) * REFIT_MARGIN


def reserved_refit_seconds(history: Sequence[TrialResult], metric: str) -> float:
    """Seconds to keep for the final refit: of the best few trials an ensemble may draw on,
    not only of the best one (reserving only the best trial's refit cost credit_data an
    ensemble worth 0.005 AUC out of fold: its 0.7 s refit no longer fit)."""
    from trialflow.ensemble import ensemble_pool

    pool = ensemble_pool(history, metric)[:RESERVED_REFITS]
    return sum(estimate_refit_seconds(r) for r in pool)


def best_trial(history: Sequence[TrialResult], metric: str) -> TrialResult | None:
    scored = [r for r in history if r.status == "ok" and r.score is not None]
    if not scored:
        return None
    return min(scored, key=lambda r: METRICS[metric].loss(r.score))


@dataclass(frozen=True)
class StopRules:
    """When the search stops, besides the clock."""

    max_trials: int | None = None
    # Stop once a trial reaches this score.
    target_score: float | None = None
    # Stop after this many finished trials without a new best.
    patience: int | None = None
    # Seconds one trial may run; past it the trial stops itself, or its worker is killed.
    trial_time_limit: float | None = None
    # Set from another thread to end the search now (its run ended before taking it over).
    cancel: threading.Event | None = None


def run_search(
    client,
    data: TrialData,
    strategy: SearchStrategy,
    *,
    budget: Budget,
    rules: StopRules = StopRules(),
    sequential: bool = False,
    on_result: Callable[[TrialResult, Sequence[TrialResult]], None] | None = None,
    on_submitted: Callable[[], None] | None = None,
    store: TrialStore | None = None,
) -> list[TrialResult]:
    """Run trials on the client's workers; returns every trial, finished or not.

    ``sequential`` runs one trial at a time, so the history each proposal sees, and with it
    the whole search, depends only on the seed.

    The data is scattered to every worker once; each trial ships only its small spec. New
    trials start only while the time left (after reserving the refit of a likely ensemble
    and the finishing steps) covers them, and each carries that time as its limit, which
    the worker enforces. Trials still running when the time is up are cancelled; a trial
    that overstays its own limit has its worker process killed (its nanny starts a new one).
    With a ``store``, finished trials are recorded there and reused when the search runs
    again (a retried task), and only the rest are run. ``on_submitted`` is called once,
    when the first trials are on the workers.
    """
    from distributed import wait

    _quiet_expected_losses()
    history: list[TrialResult] = store.load() if store is not None else []
    metric = METRICS[data.metric]
    data_future = _scatter(client, data)
    threads = {} if sequential else threads_by_host(client, len(data.y))
    slots = 1 if sequential else max(1, sum(client.nthreads().values()))
    run_key = uuid.uuid4().hex[:8]
    pending: dict = {}
    next_id = max((r.trial_id for r in history), default=-1) + 1
    stopped = _stop_reason(history, rules, metric)
    search_started = time.perf_counter()

    def seconds_left() -> float:
        return budget.search_seconds_left(reserved_refit_seconds(history, data.metric))

    def finish(result: TrialResult) -> None:
        if result.finished_seconds is None:
            result.finished_seconds = round(time.perf_counter() - search_started, 3)
        history.append(result)
        if store is not None:
            store.save(result)
        if on_result is not None:
            on_result(result, history)

    while True:
        while (
            not stopped
            and len(pending) < slots
            and (rules.max_trials is None or next_id < rules.max_trials)
        ):
            left = seconds_left()
            first = not history and not pending
            # The very first trial always runs, so even a tiny budget yields a model.
            if left <= 0 and not first:
                break
            proposal = strategy.propose(next_id, history, seconds_left=math.inf if first else left)
            if proposal is None:
                break
            proposal = replace(proposal, time_limit=_time_limit(rules, None if first else left))
            next_id += 1
            problem = pickling_problem(proposal)
            if problem:
                finish(TrialResult.of(proposal, "failed", error=problem))
                continue
            if data_future.status != "finished":  # every worker holding it died
                data_future = _scatter(client, data)
            future = client.submit(
                run_trial,
                data_future,
                proposal,
                threads,
                key=f"trial-{run_key}-{proposal.trial_id}",
                pure=False,
                **submit_kwargs(client, proposal.learner),
            )
            pending[future] = (proposal, time.monotonic())
        if not pending:
            break
        if on_submitted is not None:
            on_submitted()
            on_submitted = None
        try:
            done, _ = wait(
                list(pending),
                timeout=min(
                    max(0.1, seconds_left()),
                    _next_kill(pending),
                    MAX_WAIT if rules.cancel is None else CANCEL_POLL,
                ),
                return_when="FIRST_COMPLETED",
            )
        except TimeoutError:
            done = set()
        for future in done:
            proposal, _ = pending.pop(future)
            finish(_collect(future, proposal))
        overdue = _overdue(pending)
        if overdue:
            for future in overdue:
                proposal, started = pending.pop(future)
                seconds = time.monotonic() - started
                finish(
                    TrialResult.of(
                        proposal,
                        "timeout",
                        wall_seconds=seconds,
                        error=f"killed after {seconds:.1f} s: ran past its "
                        f"{proposal.time_limit:.1f} s limit and did not stop",
                    )
                )
            kill_trials(client, overdue)
        stopped = stopped or _stop_reason(history, rules, metric)
        # Past the deadline (or stopped by a rule), stop waiting, unless no trial has
        # finished yet: a run always returns a model, so the first one is waited for.
        out_of_time = not done and seconds_left() <= 0
        cancelled = rules.cancel is not None and rules.cancel.is_set()
        if pending and (
            cancelled or ((out_of_time or stopped) and best_trial(history, data.metric))
        ):
            reason = stopped or "still running when the time budget ran out"
            # Killed, not only cancelled: a cancelled fit keeps its core busy until it ends,
            # slowing the refit that follows and the cluster's shutdown.
            data_future.release()  # nothing left to lose when its holders are killed
            kill_trials(client, list(pending))
            for proposal, started in pending.values():
                finish(
                    TrialResult.of(
                        proposal,
                        "cancelled",
                        wall_seconds=time.monotonic() - started,
                        error=reason,
                    )
                )
            pending.clear()
            break
    return history


class _ExpectedDataLoss(logging.Filter):
    """Drops the scheduler's error about losing our scattered training data: it is expected
    when the only worker holding it is killed for overstaying, and the search scatters the
    data again."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("lose scattered data" in message and "TrialData-" in message)


def _quiet_expected_losses() -> None:
    scheduler_log = logging.getLogger("distributed.scheduler")
    if not any(isinstance(f, _ExpectedDataLoss) for f in scheduler_log.filters):
        scheduler_log.addFilter(_ExpectedDataLoss())


# A trial past its own limit gets this long to stop itself before its worker is killed.
KILL_GRACE = 2.0


def _time_limit(rules: StopRules, search_seconds_left: float | None) -> float | None:
    limits = [x for x in (rules.trial_time_limit, search_seconds_left) if x is not None]
    limits = [x for x in limits if math.isfinite(x)]
    return max(0.0, min(limits)) if limits else None


def _next_kill(pending: dict) -> float:
    """Seconds until the next pending trial is due to be killed."""
    now = time.monotonic()
    due = [
        started + proposal.time_limit + KILL_GRACE - now
        for proposal, started in pending.values()
        if proposal.time_limit is not None
    ]
    return max(0.1, min(due)) if due else MAX_WAIT


def _overdue(pending: dict) -> list:
    now = time.monotonic()
    return [
        future
        for future, (proposal, started) in pending.items()
        if proposal.time_limit is not None and now > started + proposal.time_limit + KILL_GRACE
    ]


def _stop_reason(history: Sequence[TrialResult], rules: StopRules, metric) -> str:
    """Why the search should stop now ("" to go on)."""
    if rules.cancel is not None and rules.cancel.is_set():
        return "cancelled: the run ended before its search did"
    scores = [r.score for r in history if r.status == "ok" and r.score is not None]
    if rules.target_score is not None and scores:
        best = min(scores, key=metric.loss)
        if metric.loss(best) <= metric.loss(rules.target_score):
            return f"stopped: the target score {rules.target_score} was reached"
    if rules.patience is not None:
        best_loss, since = math.inf, 0
        for r in history:
            if r.status not in ("ok", "failed", "timeout"):
                continue
            if r.status == "ok" and r.score is not None and metric.loss(r.score) < best_loss:
                best_loss, since = metric.loss(r.score), 0
            else:
                since += 1
        if since >= rules.patience:
            return f"stopped: {rules.patience} trials without a new best"
    return ""


def kill_trials(client, futures) -> None:
    """Cancel ``futures`` and kill the worker processes running them.

    Blocking code (a C extension in the middle of a fit) cannot be interrupted from
    another thread, so the process goes; a worker under a nanny (every local cluster
    worker, and ``dask worker`` by default) is restarted by it.
    """
    keys = {future.key for future in futures}
    running_on = [
        worker
        for worker, worker_keys in client.processing().items()
        if keys.intersection(worker_keys)
    ]
    client.cancel(list(futures))
    if not running_on:
        return
    client.run(_exit_process, workers=running_on, wait=False)
    # Wait until the scheduler has dropped them, so that nothing more is sent their way.
    give_up = time.monotonic() + KILL_CONFIRM_SECONDS
    while time.monotonic() < give_up and set(running_on) & set(client.nthreads()):
        time.sleep(0.05)


# Longest wait for the scheduler to notice a killed worker is gone.
KILL_CONFIRM_SECONDS = 5.0


async def _exit_process() -> None:
    # A coroutine: Dask runs only coroutines without waiting for their answer (wait=False),
    # and this one never answers.
    import os

    os._exit(1)


def _usable_cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# Below this many training rows per thread, extra threads cost more in synchronisation than
# they save. Measured on credit_data (3 340 rows, LightGBM, 500 rounds, 5 folds): 1.12 s per
# trial on one thread, 1.39 s on two.
ROWS_PER_THREAD = 10_000


def threads_by_host(client, n_rows: int | None = None) -> dict[str, int]:
    """Threads per trial on each host: its cores divided by the trials it runs at once,
    and no more than one per ROWS_PER_THREAD training rows."""
    concurrent: dict[str, int] = {}
    for address, nthreads in client.nthreads().items():
        concurrent[host_of(address)] = concurrent.get(host_of(address), 0) + nthreads
    cores = {host_of(address): n for address, n in client.run(_usable_cores).items()}
    cap = max(1, n_rows // ROWS_PER_THREAD) if n_rows is not None else None
    threads = {host: max(1, cores.get(host, 1) // n) for host, n in concurrent.items()}
    return {host: min(n, cap) if cap else n for host, n in threads.items()}


def pickling_problem(proposal: TrialSpec) -> str:
    """Why a trial's arguments cannot travel to a worker, naming the argument ("" if fine)."""
    import cloudpickle

    for name, value in proposal.params.items():
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            return (
                f"argument params[{name!r}] of trial {proposal.trial_id} ({proposal.learner}) "
                f"cannot be pickled for the Dask workers: {type(exc).__name__}: {exc}. "
                "Search spaces must hold plain values (numbers, strings, tuples)."
            )
    return ""


# Seconds to wait for a broadcast of the training data to reach the workers.
SCATTER_TIMEOUT = 60


def _scatter(client, data: TrialData, *, attempts: int = 4):
    """Broadcast the training data to every worker; a failure names the part at fault.

    A worker that has just died (killed for overstaying) may still be on the scheduler's
    list for a moment; scattering to it fails, so the broadcast is tried again.
    """
    from trialflow.retry import is_transient

    for attempt in range(attempts):
        try:
            return client.scatter(data, broadcast=True, hash=False, timeout=SCATTER_TIMEOUT)
        except Exception as exc:
            if is_transient(exc) and attempt + 1 < attempts:
                time.sleep(0.5 * (attempt + 1))
                continue
            _explain_scatter_failure(data, exc)
            raise
    raise AssertionError("the loop returns or raises")


def _explain_scatter_failure(data: TrialData, exc: Exception) -> None:
    """Raise a SearchError naming the column that cannot be pickled, if one cannot."""
    import cloudpickle

    for column in data.X.columns:
        try:
            cloudpickle.dumps(data.X[column])
        except Exception as inner:
            raise SearchError(
                f"Column {column!r} holds values that cannot be pickled for the Dask "
                f"workers ({type(inner).__name__}: {inner}); convert it to numbers or "
                "strings, or drop it."
            ) from exc


def _collect(future, proposal: TrialSpec) -> TrialResult:
    try:
        return future.result()
    except Exception as exc:  # the worker died, the task could not run at all
        lost = type(exc).__name__ in {"KilledWorker", "FutureCancelledError", "CancelledError"}
        return TrialResult.of(
            proposal,
            "lost" if lost else "failed",
            error=f"{type(exc).__name__}: {exc}",
        )


def leaderboard(history: Sequence[TrialResult], metric: str) -> pd.DataFrame:
    """One row per trial, best first; trials without a score last, with their reason."""
    loss = METRICS[metric].loss
    columns = [
        "trial",
        "learner",
        metric,
        "status",
        "origin",
        "rung",
        "rows",
        "fit_seconds",
        "wall_seconds",
        "worker",
        "seed",
        "config",
        "data_fingerprint",
        "error",
        "finished_seconds",
    ]
    rows = [
        {
            "trial": r.trial_id,
            "learner": r.learner,
            metric: r.score,
            "status": r.status,
            "origin": r.origin,
            "rung": r.rung,
            "rows": r.rows,
            "fit_seconds": round(r.fit_seconds, 3),
            "wall_seconds": round(r.wall_seconds, 3),
            "worker": r.worker,
            "seed": r.seed,
            "config": json.dumps(r.params, sort_keys=True, default=str),
            "data_fingerprint": r.data_fingerprint,
            "error": r.error,
            # Seconds into the search when it finished: the best score against time.
            "finished_seconds": r.finished_seconds,
        }
        for r in history
    ]
    frame = pd.DataFrame(rows, columns=columns)
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


@dataclass(frozen=True)
class PreparedSearch:
    """Everything a search needs but the cluster: built while the cluster starts."""

    data: TrialData
    strategy: SearchStrategy
    rules: StopRules
    store: TrialStore | None
    sequential: bool


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
    from trialflow.folds import make_folds
    from trialflow.learners import get_learner
    from trialflow.learners.spec import (
        needs_class_weights,
        skewed_positive,
        with_class_weights,
        with_target_transform,
    )
    from trialflow.strategies import make_strategy

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
    portfolio = [get_learner(name) for name in learners]
    if table.task == "regression" and skewed_positive(table.y):
        # The search decides, per configuration, whether fitting on log(1 + y) pays.
        portfolio = [with_target_transform(spec) for spec in portfolio]
    if needs_class_weights(table.y, table.task, metric):
        portfolio = [with_class_weights(spec) for spec in portfolio]
    settings = replace(
        config.strategy_settings(metric), task=table.task, profile=profile, rows=len(table.y)
    )
    # The recommender factorises its knowledge base here: ~0.5 s that overlaps with the
    # cluster's start when this runs before it is ready.
    strategy = make_strategy(config.strategy, portfolio, settings, refine=config.refine)
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
    return PreparedSearch(data, strategy, rules, store, sequential=config.deterministic)


def search_trials(
    prepared: PreparedSearch,
    *,
    scheduler_address: str,
    budget: Budget,
    on_result: Callable[[TrialResult, Sequence[TrialResult]], None] | None = None,
    on_submitted: Callable[[], None] | None = None,
) -> list[TrialResult]:
    """Run a prepared search on the scheduler's workers; returns every trial."""
    from trialflow.cluster import connect

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
            )
    finally:
        client.close()
