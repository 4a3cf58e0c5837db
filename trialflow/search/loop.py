"""The search loop: fan trials out to Dask workers until the budget or trial limit is spent."""

from __future__ import annotations

import math
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from trialflow.gpu.routing import submit_kwargs
from trialflow.model.metrics import METRICS
from trialflow.runtime.budget import Budget
from trialflow.search.results import best_trial
from trialflow.search.strategies import SearchStrategy
from trialflow.search.trial import TrialData, TrialResult, TrialSpec, run_trial
from trialflow.search.trial_store import TrialStore
from trialflow.search.workers import (
    kill_trials,
    pickling_problem,
    quiet_expected_losses,
    scatter,
    threads_by_host,
)

# The final refit fits on all rows (k/(k-1) of a fold) in one go; keep a margin on top.
REFIT_MARGIN = 1.5
# Longest single wait for a trial before the loop looks again (deterministic runs have no
# deadline, and Dask's timeouts must be finite).
MAX_WAIT = 600.0
# How often a search that can be cancelled looks at its cancel event while trials run.
CANCEL_POLL = 0.5

# Refits the search keeps time for: those of the ensemble's pool (its best 8 trials), so the
# ensemble step can draw on them; but no more than RESERVE_SHARE of the search's time, and
# never less than the best trial's. Reserving all 8 without a cap ended searches on large
# tables 10-20 s early (diamonds at 60 s: the search stopped at 40 s, 21 trials); reserving
# only the best 3 left small tables without ensembles (17 of 24 suite tables at 60 s); a
# floor of the best 3's refits, above the cap, ended the search on 250,000 rows after its
# first 2 trials, 27 s into 60 (their refits estimated at 15 s and 30 s; the run ended at
# 40 s).
POOL_REFITS = 8
RESERVE_SHARE = 0.15


def estimate_refit_seconds(trial: TrialResult | None) -> float:
    """Seconds the final refit of ``trial``'s configuration is expected to take: one fold's
    fit, on all the rows (a trial on a share of the rows refits on all of them).

    From the CPU seconds of the trial's fits: the refit is one single-threaded fit after the
    search, with the cores to itself, while a trial's wall clock counts what it shared the
    cores with. Trials' wall clocks (even without a worker's first featurization of its
    folds and receipt of the data) made the reserve end the search after 2 trials on
    250,000 rows: LightGBM's library default on a third of the rows fitted in 7.2 s while
    Prefect's server started beside the search, and its refit on all rows was estimated at
    32 s; it took 7.9 s. Records without CPU seconds fall back to fit, then wall seconds.
    """
    if trial is None or not trial.fold_scores:
        return 0.0
    seconds = trial.fit_cpu_seconds or trial.fit_seconds or trial.wall_seconds
    return seconds / len(trial.fold_scores) / max(trial.rows, 1e-3) * REFIT_MARGIN


def reserved_refit_seconds(
    history: Sequence[TrialResult],
    metric: str,
    cap: float = math.inf,
    multiple: float = 1.0,
    room: float = math.inf,
) -> float:
    """Seconds to keep for the final refit: of the trials an ensemble may draw on, not only
    of the best one (reserving only the best trial's refit cost credit_data an ensemble
    worth 0.005 AUC out of fold: its 0.7 s refit no longer fit); at most ``cap`` unless the
    best trial alone needs more. ``multiple``: plain refits one bagged member's refit costs
    (a bagged final model refits such a member once per fold besides on all rows).

    Only trials whose refits fit in ``room`` (the seconds the refit would have if the search
    stopped now) count, as in the ensemble step: a trial on a share of the rows whose refit
    on all of them can no longer fit will not be refitted, and keeping time for it ended the
    search on 1,000,000 rows at ~215 s of 600 (a random forest on a ninth of the rows scored
    best after 163 s; its refit was estimated far beyond the budget)."""
    from trialflow.model.bagging import learner_bags
    from trialflow.model.ensemble import ensemble_pool

    pool = ensemble_pool(history, metric, refit_cost=estimate_refit_seconds, allowance=room)[
        :POOL_REFITS
    ]
    plain = [estimate_refit_seconds(r) for r in pool]
    costs = [
        (multiple if learner_bags(r.learner) else 1.0) * p for r, p in zip(pool, plain, strict=True)
    ]
    # The floor is the best trial's plain refit: bagging is dropped at the refit when it does
    # not fit, so it only ever gets the capped share (with bagged refits in the floor, a few
    # slow HistGradientBoosting trials ended cells' 60 s search 25 s early).
    return max(plain[:1] + [min(sum(costs), cap)])


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
    refit_multiple: float = 1.0,
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
    when the first trials are on the workers. ``refit_multiple`` is what one member's final
    refit costs in plain refits (``trialflow.model.bagging``), for the time kept for it.
    """
    quiet_expected_losses()
    search = _Search(
        client, data, strategy, budget, rules, sequential, on_result, store, refit_multiple
    )
    while True:
        search.submit_while_room()
        if not search.pending:
            break
        if on_submitted is not None:
            on_submitted()
            on_submitted = None
        done = search.wait_for_some()
        search.kill_overdue()
        if search.should_end(done):
            search.cancel_pending()
            break
    return search.history


class _Search:
    """One search's state: its history, the trials on the workers, why it stopped."""

    def __init__(
        self, client, data, strategy, budget, rules, sequential, on_result, store, refit_multiple
    ):
        self.client, self.data, self.strategy = client, data, strategy
        self.budget, self.rules, self.on_result, self.store = budget, rules, on_result, store
        self.history: list[TrialResult] = store.load() if store is not None else []
        self.metric = METRICS[data.metric]
        self.data_future = scatter(client, data)
        self.threads = {} if sequential else threads_by_host(client, len(data.y))
        self.slots = 1 if sequential else max(1, sum(client.nthreads().values()))
        self.run_key = uuid.uuid4().hex[:8]
        self.pending: dict = {}  # future -> (proposal, monotonic start)
        self.next_id = max((r.trial_id for r in self.history), default=-1) + 1
        self.stopped = _stop_reason(self.history, rules, self.metric)
        self.started = time.perf_counter()
        self.reserve_cap = RESERVE_SHARE * max(0.0, budget.seconds_left())
        self.refit_multiple = refit_multiple

    def seconds_left(self) -> float:
        reserve = reserved_refit_seconds(
            self.history,
            self.data.metric,
            self.reserve_cap,
            self.refit_multiple,
            room=self.budget.refit_seconds_left(),
        )
        return self.budget.search_seconds_left(reserve)

    def finish(self, result: TrialResult) -> None:
        if result.finished_seconds is None:
            result.finished_seconds = round(time.perf_counter() - self.started, 3)
        self.history.append(result)
        if self.store is not None:
            self.store.save(result)
        if self.on_result is not None:
            self.on_result(result, self.history)

    def submit_while_room(self) -> None:
        rules = self.rules
        while (
            not self.stopped
            and len(self.pending) < self.slots
            and (rules.max_trials is None or self.next_id < rules.max_trials)
        ):
            left = self.seconds_left()
            first = not self.history and not self.pending
            # The very first trial always runs, so even a tiny budget yields a model.
            if left <= 0 and not first:
                break
            proposal = self.strategy.propose(
                self.next_id, self.history, seconds_left=math.inf if first else left
            )
            if proposal is None:
                break
            proposal = replace(proposal, time_limit=_time_limit(rules, None if first else left))
            self.next_id += 1
            problem = pickling_problem(proposal)
            if problem:
                self.finish(TrialResult.of(proposal, "failed", error=problem))
                continue
            self.submit(proposal)

    def submit(self, proposal: TrialSpec) -> None:
        if self.data_future.status != "finished":  # every worker holding it died
            self.data_future = scatter(self.client, self.data)
        future = self.client.submit(
            run_trial,
            self.data_future,
            proposal,
            self.threads,
            key=f"trial-{self.run_key}-{proposal.trial_id}",
            pure=False,
            **submit_kwargs(self.client, proposal.learner),
        )
        self.pending[future] = (proposal, time.monotonic())

    def wait_for_some(self) -> set:
        """The trials that finished while waiting (until one does, a kill is due, the time is
        up, or it is time to look at the cancel flag), collected into the history."""
        from distributed import wait

        try:
            done, _ = wait(
                list(self.pending),
                timeout=min(
                    max(0.1, self.seconds_left()),
                    _next_kill(self.pending),
                    MAX_WAIT if self.rules.cancel is None else CANCEL_POLL,
                ),
                return_when="FIRST_COMPLETED",
            )
        except TimeoutError:
            done = set()
        for future in done:
            proposal, _ = self.pending.pop(future)
            self.finish(_collect(future, proposal))
        return done

    def kill_overdue(self) -> None:
        overdue = _overdue(self.pending)
        if not overdue:
            return
        for future in overdue:
            proposal, started = self.pending.pop(future)
            seconds = time.monotonic() - started
            self.finish(
                TrialResult.of(
                    proposal,
                    "timeout",
                    wall_seconds=seconds,
                    error=f"killed after {seconds:.1f} s: ran past its "
                    f"{proposal.time_limit:.1f} s limit and did not stop",
                )
            )
        kill_trials(self.client, overdue)

    def should_end(self, done: set) -> bool:
        """Past the deadline (or stopped by a rule), stop waiting, unless no trial has
        finished yet: a run always returns a model, so the first one is waited for."""
        self.stopped = self.stopped or _stop_reason(self.history, self.rules, self.metric)
        out_of_time = not done and self.seconds_left() <= 0
        cancelled = self.rules.cancel is not None and self.rules.cancel.is_set()
        if not self.pending:
            return False
        if cancelled:
            return True
        have_model = best_trial(self.history, self.data.metric) is not None
        return (out_of_time or bool(self.stopped)) and have_model

    def cancel_pending(self) -> None:
        reason = self.stopped or "still running when the time budget ran out"
        # Killed, not only cancelled: a cancelled fit keeps its core busy until it ends,
        # slowing the refit that follows and the cluster's shutdown.
        self.data_future.release()  # nothing left to lose when its holders are killed
        kill_trials(self.client, list(self.pending))
        for proposal, started in self.pending.values():
            self.finish(
                TrialResult.of(
                    proposal,
                    "cancelled",
                    wall_seconds=time.monotonic() - started,
                    error=reason,
                )
            )
        self.pending.clear()


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
