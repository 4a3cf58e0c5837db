"""A training run's head start: the work that need not wait for Prefect's API.

Prefect's embedded API takes seconds to start (measured on 2 idle cores: ~9 s in a new
project home, which must create its database, and ~2.5 s after; more on busy cores). A run
started by `trialflow train` or `trialflow.train()` therefore loads and checks the data,
plans the features, runs the guardrails and starts the search on Dask right away, in this
process, while the API starts. The `automl` flow, once the API answers, finds those results
here under the same keys as its checkpoints: each step is still a task run in the UI, with
its state and logs (saying how long the step really took and that it ran ahead), and is
still checkpointed; the search task follows the running search, logging every trial, until
it ends. A failure ahead is raised to the caller at once, as a failed load always was.

A flow run this process did not start ahead (a deployment run, a Retry from the UI, a
subflow) finds nothing here and runs each step inside its task.
"""

from __future__ import annotations

import queue
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from trialflow import steps
from trialflow.config import TrainConfig
from trialflow.search.trial import TrialResult


@dataclass(frozen=True)
class Ahead:
    """A step's result computed before its task ran."""

    value: Any
    started: float  # epoch seconds
    seconds: float


# The longest the Great Expectations work waits for the first trials (a slow cluster start
# must not hold up the rest of the run: Prefect's API starts after it).
FIRST_TRIALS_WAIT = 10.0

_results: dict[str, Ahead] = {}
_searches: dict[str, RunningSearch] = {}
_lock = threading.Lock()


def keep(key: str, ahead: Ahead) -> None:
    """Keep a step's result for the task that will ask for ``key``."""
    with _lock:
        _results[key] = ahead


def take(key: str) -> Ahead | None:
    """The result computed ahead under ``key``, handed over once."""
    with _lock:
        return _results.pop(key, None)


def take_search(key: str) -> RunningSearch | None:
    with _lock:
        return _searches.pop(key, None)


class RunningSearch:
    """The search, running in a thread of this process, and what its task should log."""

    def __init__(self, key: str, **arguments: Any) -> None:
        self.key = key
        self.started = time.time()
        self.ended: float | None = None
        self._arguments = arguments
        # ("trial", result, history) or ("notice", text); None once the search has ended.
        self._events: queue.Queue = queue.Queue()
        self._trials: list[TrialResult] = []
        self._error: BaseException | None = None
        self._directory = None  # the SearchDirectory, once claimed
        self._cancel = threading.Event()
        # Set once the first trials are on the workers, or the search has ended.
        self.submitted = threading.Event()
        self._thread = threading.Thread(target=self._run, name="trialflow-search", daemon=True)

    def start(self) -> RunningSearch:
        with _lock:
            _searches[self.key] = self
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            self._trials = steps.search(
                **self._arguments,
                # Not a flow run's id: none exists yet. The search task marks the finished
                # search with its flow run's id once it has followed it.
                run_id=f"ahead-{uuid.uuid4().hex}",
                on_trial=lambda result, history: self._events.put(("trial", result, list(history))),
                notice=lambda text: self._events.put(("notice", text)),
                on_directory=lambda directory: setattr(self, "_directory", directory),
                cancel=self._cancel,
                on_submitted=self.submitted.set,
            )
        except BaseException as exc:  # re-raised in the task that follows the search
            self._error = exc
        finally:
            self.ended = time.time()
            self.submitted.set()
            self._events.put(None)

    def follow(
        self,
        on_trial: Callable[[TrialResult, Sequence[TrialResult]], None],
        notice: Callable[[str], None],
    ) -> list[TrialResult]:
        """Hand every event so far, then each new one, to the callbacks until the search
        ends; returns its trials or raises its error."""
        while (event := self._events.get()) is not None:
            if event[0] == "trial":
                on_trial(event[1], event[2])
            else:
                notice(event[1])
        self._events.put(None)  # a second follower (a retried task) ends at once
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._trials

    def started_seconds_ago(self) -> float:
        return time.time() - self.started

    def mark_finished(self, run_id: str, trials: int) -> None:
        """Mark the search finished by the flow run that followed it (see `checkpoints`)."""
        if self._directory is not None:
            self._directory.mark_finished(run_id, trials)

    def cancel(self) -> None:
        """End the search now (its trials are killed) and wait for it."""
        self._cancel.set()
        self._thread.join()


@dataclass
class HeadStart:
    """What one run started ahead: its steps' keys and seconds, and its search."""

    keys: list[str]
    timings: dict[str, float]
    search: RunningSearch | None = None

    def discard(self) -> None:
        """Forget what the flow did not take over, and stop the search if it still runs
        (the run failed or was interrupted before the search ended); a no-op after a
        finished run."""
        for key in self.keys:
            take(key)
        if self.search is not None:
            take_search(self.search.key)
            self.search.cancel()


def start(config: TrainConfig, frame_key: str, deadline: float | None) -> HeadStart:
    """Do the flow's steps up to the search now and leave the search running.

    The order is the flow's own (`flows/automl.py`), except that what only needs Great
    Expectations (importing it costs 2-3 s of CPU) is done once the search has started:
    its record of the load's checks and the expectation suite. A failing step raises here,
    after stopping the search and forgetting what the steps before it left.
    """
    from trialflow.data.frames import held
    from trialflow.data.holdout import split_holdout
    from trialflow.data.loading import read_training_frame, record_checks
    from trialflow.learners import portfolio_for

    ahead = HeadStart(keys=[], timings={})
    started_at: dict[str, float] = {}  # step name -> when it started (epoch seconds)

    def run(name: str, key: str, compute: Callable[..., Any], *args: Any, **kwargs: Any):
        started, tic = time.time(), time.perf_counter()
        value = compute(*args, **kwargs)
        if key not in ahead.keys:
            ahead.keys.append(key)
        started_at.setdefault(name, started)
        ahead.timings[name] = round(ahead.timings.get(name, 0.0) + time.perf_counter() - tic, 3)
        return value

    try:
        load = steps.load_key(config, frame_key)
        given = held(frame_key) if frame_key else None
        frame = run("load", load, read_training_frame, config.data, given)
        loaded = run("load", load, steps.load_table, config, frame_key, frame, record=False)
        # Held out before anything is learned from the rows, the plan included. The flow
        # takes the loaded table and holds out the same rows itself.
        table, _ = split_holdout(loaded, config.holdout, config.seed)
        plan = run("featurize", steps.plan_key(table, config), steps.plan_columns, table, config)
        metric = config.resolved_metric(table.task)
        guardrails = steps.validation_key(table, config, metric)
        validation = run(
            "guardrails", guardrails, steps.validate, table, plan, config, metric, suite=False
        )
        ahead.search = RunningSearch(
            steps.search_key(table, config, metric),
            table=table,
            plan=plan,
            learners=[spec.name for spec in portfolio_for(table.task, config.learners)],
            config=config,
            metric=metric,
            deadline=steps.run_budget(config, deadline).deadline,
            profile=validation.profile,
        ).start()
        # While the first trials run: what needs Great Expectations. Its import (2-3 s of
        # CPU, holding this process's interpreter lock) waits until they are on the workers:
        # begun at once, it slowed the local cluster's start (its scheduler runs in this
        # process) and the first trial came ~0.5 s later on 2 cores.
        ahead.search.submitted.wait(timeout=FIRST_TRIALS_WAIT)
        run("record_checks", load, record_checks, loaded, frame)
        from trialflow.validation.expectation_suite import learn_suite

        suite = run("learn_suite", guardrails, learn_suite, table.X, plan)
        validation = replace(validation, suite=suite)
        for name, key, value in (
            ("load", load, loaded),
            ("featurize", steps.plan_key(table, config), plan),
            ("guardrails", guardrails, validation),
        ):
            keep(key, Ahead(value, started_at[name], ahead.timings[name]))
    except BaseException:
        ahead.discard()
        raise
    return ahead
