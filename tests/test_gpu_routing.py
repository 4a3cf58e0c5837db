"""GPU trials go only to workers declaring the GPU resource: a real two-process Dask cluster
on CPUs, one worker declaring GPU=1 (as `--gpu-workers 1` starts it), the real search."""

import pytest
from distributed import Client

from trialflow.errors import ConfigError
from trialflow.featurizers import plan_columns
from trialflow.gpu import routing
from trialflow.learners import LEARNERS
from trialflow.runtime.budget import Budget
from trialflow.runtime.cluster import local_gpu_workers, start_local_cluster
from trialflow.search.folds import make_folds
from trialflow.search.loop import StopRules, run_search
from trialflow.search.strategies import RandomSearch
from trialflow.search.trial import TrialData

from .conftest import make_frame


@pytest.fixture(scope="module")
def client():
    cluster = start_local_cluster(2, gpu_workers=1)
    try:
        with Client(cluster) as client:
            yield client
    finally:
        cluster.close()


def test_one_of_the_local_workers_declares_the_gpu(client):
    assert len(client.nthreads()) == 2
    assert len(routing.gpu_workers(client)) == 1
    assert routing.cluster_has_gpu(client)
    assert routing.submit_kwargs(client, "mlp") == {"resources": {routing.GPU: 1}}
    assert routing.submit_kwargs(client, "logistic_regression") == {}


def test_gpu_trials_run_only_on_the_gpu_worker(client):
    frame = make_frame(task="binary", n=300)
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    data = TrialData(
        X=X,
        y=y,
        folds=make_folds(y, task="binary", n_folds=3, seed=0),
        task="binary",
        metric="roc_auc",
        plan=plan_columns(X, target="target", exclude={}),
        classes=sorted(set(y)),
        token="routing-run",
    )
    portfolio = [LEARNERS["mlp"], LEARNERS["logistic_regression"]]
    strategy = RandomSearch(portfolio, seed=0, greater_is_better=True)
    history = run_search(
        client, data, strategy, budget=Budget.starting_now(120), rules=StopRules(max_trials=10)
    )
    (gpu_worker,) = routing.gpu_workers(client)
    mlp = [r for r in history if r.learner == "mlp"]
    assert len(mlp) >= 3 and any(r.learner != "mlp" for r in history)
    assert all(r.status == "ok" for r in history), [r.error for r in history]
    assert {r.worker for r in mlp} == {gpu_worker}


def test_a_cluster_without_gpu_workers_routes_nothing(client):
    assert local_gpu_workers(2, 0) == 0
    with pytest.raises(ConfigError, match="gpu_workers"):
        local_gpu_workers(2, 3)
    assert routing.submit_kwargs(object(), "logistic_regression") == {}
