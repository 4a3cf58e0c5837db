"""`trialflow deploy`: the deployments of deployments/prefect.yaml on a Prefect server, with a
process work pool and a worker to run them.

The server is PREFECT_API_URL when set, else the project home's own (started if needed, on
127.0.0.1). The worker is a background process under the project home, like the server;
`trialflow deploy --stop-worker` stops it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from trialflow.errors import TrialflowError
from trialflow.runtime.home import configure_environment, project_home

WORK_POOL = "trialflow-process"
DEPLOYMENTS_FILE = Path("deployments") / "prefect.yaml"


def repository_root() -> Path:
    """The checkout holding deployments/prefect.yaml and flows/ (where the worker runs)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / DEPLOYMENTS_FILE).exists():
        raise TrialflowError(
            f"No {DEPLOYMENTS_FILE} beside trialflow's code ({root}): deploy from a source "
            "checkout of trialflow (pip install -e .), whose flows/ the worker runs."
        )
    return root


def server_url() -> str:
    """The Prefect API to deploy to: PREFECT_API_URL, else the home's server."""
    configure_environment()
    url = os.environ.get("PREFECT_API_URL", "")
    if url:
        return url
    from trialflow.runtime import prefect_server

    url = prefect_server.start()
    os.environ["PREFECT_API_URL"] = url
    return url


def deploy(*, start_worker: bool = True) -> dict:
    """Create the work pool, deploy every deployment, start a worker; what was done."""
    url = server_url()
    root = repository_root()
    env = {**os.environ, "PREFECT_API_URL": url, "TRIALFLOW_REPO": str(root)}
    _prefect(["work-pool", "create", WORK_POOL, "--type", "process", "--overwrite"], env, root)
    _prefect(
        ["--no-prompt", "deploy", "--all", "--prefect-file", str(root / DEPLOYMENTS_FILE)],
        env,
        root,
    )
    worker = start_worker_process(env, root) if start_worker else None
    return {"api_url": url, "work_pool": WORK_POOL, "worker_pid": worker}


def _prefect(args: list[str], env: dict, cwd: Path) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "prefect", *args],
        capture_output=True,
        text=True,
        env=env,
        cwd=cwd,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise TrialflowError(
            f"`prefect {' '.join(args)}` failed (exit {done.returncode}): "
            f"{(done.stderr or done.stdout).strip()[-1500:]}"
        )
    return done.stdout


def _worker_state() -> Path:
    return project_home() / "prefect-worker.json"


def start_worker_process(env: dict, cwd: Path) -> int:
    """A process worker for the pool, in the background; its pid (an existing one is kept)."""
    running = worker_pid()
    if running:
        return running
    log = (project_home() / "prefect-worker.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "prefect", "worker", "start", "--pool", WORK_POOL],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        start_new_session=True,  # outlives this command, as the server does
    )
    _worker_state().write_text(json.dumps({"pid": process.pid, "api_url": env["PREFECT_API_URL"]}))
    return process.pid


def worker_pid() -> int | None:
    try:
        pid = int(json.loads(_worker_state().read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None
    try:
        os.kill(pid, 0)
    except OSError:
        return None
    return pid


def stop_worker() -> bool:
    pid = worker_pid()
    _worker_state().unlink(missing_ok=True)
    if pid is None:
        return False
    os.killpg(pid, signal.SIGTERM)
    return True
