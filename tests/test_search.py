import time

import numpy as np
import pytest
from distributed import Client, LocalCluster

from trialflow.featurizers import plan_columns
from trialflow.learners import LEARNERS, portfolio_for
from trialflow.learners.space import Float
from trialflow.learners.spec import LearnerSpec
from trialflow.runtime.budget import Budget
from trialflow.search.folds import make_folds
from trialflow.search.loop import StopRules, run_search
from trialflow.search.results import best_trial, leaderboard
from trialflow.search.strategies import RandomSearch
from trialflow.search.trial import TrialData, TrialResult, TrialSpec, run_trial

from .conftest import make_frame


@pytest.fixture(scope="module")
def client():
    # Threads in one process keep these unit tests fast; the integration test uses processes.
    with (
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        yield client


def trial_data(task="binary", metric="roc_auc", n=120) -> TrialData:
    frame = make_frame(task=task, n=n)
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    classes = None if task == "regression" else sorted(set(y))
    return TrialData(
        X=X,
        y=y,
        folds=make_folds(y, task=task, n_folds=3, seed=0),
        task=task,
        metric=metric,
        plan=plan_columns(X, target="target", exclude={}),
        classes=classes,
        token=f"t{task}{n}-run",
    )


def test_strategy_proposes_defaults_first_then_seeded_random():
    portfolio = portfolio_for("binary")
    first = RandomSearch(portfolio, seed=1, greater_is_better=True)
    openers = [(s.name, s.library_defaults) for s in portfolio if s.library_defaults] + [
        (s.name, s.defaults) for s in portfolio
    ]
    proposals = [first.propose(i, [], seconds_left=100) for i in range(len(openers))]
    assert [(p.learner, p.params) for p in proposals] == openers
    history = [
        TrialResult(i, p.learner, p.params, 1, "ok", score=0.5 + i / 100, wall_seconds=0.1)
        for i, p in enumerate(proposals)
    ]
    again = RandomSearch(portfolio, seed=1, greater_is_better=True)
    for i in range(len(openers)):
        again.propose(i, [], seconds_left=100)
    a = [first.propose(10 + i, history, seconds_left=100) for i in range(5)]
    b = [again.propose(10 + i, history, seconds_left=100) for i in range(5)]
    assert a == b


def test_strategy_skips_configurations_that_do_not_fit_the_time_left():
    spec = LEARNERS["lightgbm"]
    strategy = RandomSearch([spec], seed=0, greater_is_better=True)
    strategy.propose(0, [], seconds_left=100)
    slow = [
        TrialResult(0, "lightgbm", {"n_estimators": 100}, 0, "ok", score=0.8, wall_seconds=50.0)
    ]
    assert strategy.propose(1, slow, seconds_left=1.0) is None
    assert strategy.propose(1, slow, seconds_left=10_000) is not None


@pytest.mark.parametrize(
    ("task", "metric"), [("binary", "roc_auc"), ("multiclass", "log_loss"), ("regression", "r2")]
)
def test_run_trial_cross_validates(task, metric):
    data = trial_data(task, metric)
    spec = LEARNERS["lightgbm"]
    result = run_trial(data, TrialSpec(0, "lightgbm", spec.defaults, 0))
    assert result.status == "ok", result.error
    assert len(result.fold_scores) == 3
    assert result.score == pytest.approx(np.mean(result.fold_scores))
    assert result.fit_seconds > 0 and result.fit_cpu_seconds > 0


def test_a_trial_featurizes_with_its_configurations_categorical_encoding():
    from trialflow.learners.spec import CATEGORICAL_ENCODING
    from trialflow.search import trial as trial_module

    data = trial_data()
    params = {**LEARNERS["extra_trees"].defaults, "n_estimators": 10}
    widths = {}
    for encoding in ("onehot", "ordinal"):
        result = run_trial(
            data, TrialSpec(0, "extra_trees", {**params, CATEGORICAL_ENCODING: encoding}, 0)
        )
        assert result.status == "ok", result.error
        widths[encoding] = trial_module._FOLD_CACHE[data.token, 0, encoding][0].shape[1]
    # "colour" has three levels: three 0/1 columns one-hot, one code column ordinal.
    assert widths["onehot"] == widths["ordinal"] + 2


def test_a_broken_configuration_is_a_failed_trial():
    result = run_trial(trial_data(), TrialSpec(0, "lightgbm", {"num_leaves": -5}, 0))
    assert result.status == "failed"
    assert "num_leaves" in result.error


def test_search_respects_max_trials_and_ranks(client):
    data = trial_data()
    strategy = RandomSearch(portfolio_for("binary"), seed=0, greater_is_better=True)
    seen = []
    history = run_search(
        client,
        data,
        strategy,
        budget=Budget.starting_now(120),
        rules=StopRules(max_trials=7),
        on_result=lambda r, h: seen.append(r.trial_id),
    )
    assert len(history) == 7 == len(seen)
    board = leaderboard(history, "roc_auc")
    assert board["rank"].tolist() == list(range(1, 8))
    ok = board[board["status"] == "ok"]
    assert ok["roc_auc"].is_monotonic_decreasing
    assert board.iloc[0]["trial"] == best_trial(history, "roc_auc").trial_id


def test_search_stops_at_the_budget_but_keeps_the_first_trial(client):
    data = trial_data()
    strategy = RandomSearch(portfolio_for("binary"), seed=0, greater_is_better=True)
    started = time.time()
    history = run_search(client, data, strategy, budget=Budget.starting_now(0.5))
    assert time.time() - started < 15
    assert best_trial(history, "roc_auc") is not None


def test_failing_learner_does_not_stop_the_search(client, monkeypatch):
    def explode(task, params, seed, n_jobs):
        raise RuntimeError("this learner is broken")

    broken = LearnerSpec("broken", ("binary",), explode, {"a": Float(0, 1)}, {"a": 0.5})
    monkeypatch.setitem(LEARNERS, "broken", broken)
    strategy = RandomSearch(
        [broken, LEARNERS["linear" if "linear" in LEARNERS else "logistic_regression"]],
        seed=0,
        greater_is_better=True,
    )
    history = run_search(
        client,
        trial_data(),
        strategy,
        budget=Budget.starting_now(60),
        rules=StopRules(max_trials=4),
    )
    failed = [r for r in history if r.status == "failed"]
    assert failed and all("this learner is broken" in r.error for r in failed)
    assert best_trial(history, "roc_auc").learner == "logistic_regression"


def test_a_cancelled_search_ends_at_once_and_says_why():
    import threading

    data = trial_data()
    strategy = RandomSearch(portfolio_for("binary"), seed=0, greater_is_better=True)
    cancel = threading.Event()

    def cancel_after_two(result, history):
        if len(history) == 2:
            cancel.set()

    # Worker processes: cancelling kills the processes running trials, which for the
    # module's threaded cluster would be this test process.
    with (
        LocalCluster(
            n_workers=1, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster) as client,
    ):
        history = run_search(
            client,
            data,
            strategy,
            budget=Budget.starting_now(300),
            rules=StopRules(cancel=cancel),
            on_result=cancel_after_two,
        )
    finished = [r for r in history if r.status == "ok"]
    assert len(finished) >= 2 and len(history) <= 2 + 2  # at most the two then running
    assert all("cancelled" in r.error for r in history if r.status == "cancelled")
    assert all(r.started_at and r.started_at <= time.time() for r in finished)


def test_the_search_reserves_the_refits_of_the_best_few_trials_at_full_rows():
    from trialflow.search.loop import (
        POOL_REFITS,
        estimate_refit_seconds,
        reserved_refit_seconds,
    )

    def trial(i: int, score: float, wall: float, rows: float = 1.0) -> TrialResult:
        return TrialResult(
            i,
            "lightgbm",
            {"n_estimators": 100 + i},
            0,
            "ok",
            score=score,
            fold_scores=[score] * 5,
            wall_seconds=wall,
            fit_seconds=wall / 2,
            rows=rows,
            oof=np.zeros(10),
        )

    history = [trial(i, 0.70 + i / 100, wall=10.0) for i in range(10)]
    one = estimate_refit_seconds(history[0])
    # The ensemble's pool (its best 8), so the ensemble step can draw on them...
    assert reserved_refit_seconds(history, "roc_auc") == pytest.approx(POOL_REFITS * one)
    # ... within a cap (a share of the search's time), but never less than the best one's.
    assert reserved_refit_seconds(history, "roc_auc", cap=5 * one) == pytest.approx(5 * one)
    assert reserved_refit_seconds(history, "roc_auc", cap=0.5 * one) == pytest.approx(one)
    assert reserved_refit_seconds([], "roc_auc") == 0.0
    # Only trials whose refits can still fit count: the best's refit, on all the rows from a
    # ninth of them, no longer fits, so the floor is the next best's.
    history.append(trial(10, 0.95, wall=30.0, rows=1 / 9))
    assert estimate_refit_seconds(history[-1]) > 20 * one
    assert reserved_refit_seconds(history, "roc_auc", cap=0.5 * one, room=10 * one) == (
        pytest.approx(one)
    )
    history.pop()
    # From the fit seconds, which leave out a worker's first featurization of its folds.
    assert estimate_refit_seconds(history[0]) == pytest.approx(10.0 / 2 / 5 * 1.5)
    # Better, from their CPU seconds: the refit has the cores to itself, a trial shares them.
    history[0].fit_cpu_seconds = 2.0
    assert estimate_refit_seconds(history[0]) == pytest.approx(2.0 / 5 * 1.5)
    # One fold's fit, on all the rows: a trial on a ninth of them refits ~9 times slower.
    assert estimate_refit_seconds(trial(0, 0.8, wall=10.0, rows=1 / 9)) == pytest.approx(
        9 * estimate_refit_seconds(trial(0, 0.8, wall=10.0))
    )
