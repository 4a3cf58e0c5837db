"""A long-lived local Prefect server under the project home, started once and reused.

Each run otherwise starts Prefect's ephemeral API (6-13 s). With `trialflow server start`,
runs find the server through a small state file and start in about a second; the server
also serves the Prefect UI. It binds to 127.0.0.1 only.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from trialflow.errors import TrialflowError
from trialflow.runtime.home import configure_environment, project_home

DEFAULT_PORT = 4200
START_TIMEOUT = 90.0


def _state_file() -> Path:
    return project_home() / "prefect-server.json"


def _log_file() -> Path:
    return project_home() / "prefect-server.log"


def healthy(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=timeout) as response:
            return response.status == 200
    except (urllib.error.URLError, OSError):
        return False


def running_url() -> str | None:
    """The API URL of this home's server, if one is recorded and answering."""
    try:
        state = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return None
    url = state.get("url")
    return url if url and healthy(url) else None


def adopt_running() -> str | None:
    """Point this process at the home's running server, unless an API URL is already set.

    Must run before Prefect is imported: Prefect reads its settings once, at import.
    """
    if os.environ.get("PREFECT_API_URL"):
        return None
    url = running_url()
    if url:
        os.environ["PREFECT_API_URL"] = url
    return url


def start(port: int | None = None) -> str:
    """Start the server in the background (or return the running one's URL)."""
    url = running_url()
    if url:
        return url
    configure_environment()
    from trialflow.runtime import store_templates

    store_templates.install_prefect(Path(os.environ["PREFECT_HOME"]).expanduser())
    port = port or _free_port(DEFAULT_PORT)
    url = f"http://127.0.0.1:{port}/api"
    log = _log_file().open("ab")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "prefect",
            "server",
            "start",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "PREFECT_API_URL": "", "PREFECT_UI_API_URL": url},
        start_new_session=True,  # outlives this command; stopped by `trialflow server stop`
    )
    deadline = time.time() + START_TIMEOUT
    while time.time() < deadline:
        if process.poll() is not None:
            raise TrialflowError(
                f"The Prefect server exited with code {process.returncode} while starting; "
                f"see {_log_file()}."
            )
        if healthy(url):
            _write_state({"pid": process.pid, "url": url, "port": port})
            return url
        time.sleep(0.25)
    process.terminate()
    raise TrialflowError(f"The Prefect server did not answer within {START_TIMEOUT:.0f} s.")


def stop() -> bool:
    """Stop the home's server; False if none was running."""
    try:
        state = json.loads(_state_file().read_text())
    except (OSError, ValueError):
        return False
    pid = state.get("pid")
    stopped = False
    if pid:
        try:
            os.killpg(pid, signal.SIGTERM)
            stopped = True
        except ProcessLookupError:
            pass
        for _ in range(40):
            if not _alive(pid):
                break
            time.sleep(0.25)
        else:
            os.killpg(pid, signal.SIGKILL)
    _state_file().unlink(missing_ok=True)
    return stopped


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A stopped child of this process stays a zombie until reaped.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == 0
    except ChildProcessError:
        return True


def _write_state(state: dict) -> None:
    tmp = _state_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(state))
    os.replace(tmp, _state_file())


def _free_port(preferred: int) -> int:
    for port in (preferred, 0):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return sock.getsockname()[1]
    raise TrialflowError("No free port on 127.0.0.1 for the Prefect server.")
