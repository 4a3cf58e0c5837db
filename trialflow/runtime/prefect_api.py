"""Getting Prefect's API ready: a configured server, or the embedded ephemeral one.

Starting the ephemeral server costs ~6-13 s. Started in the background as soon as the
process starts, it overlaps with the Dask cluster start-up and the heavy imports.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_started: threading.Thread | None = None
_error: list[BaseException] = []
# Set once the start thread has imported Prefect's server (or given up). Its ORM models are
# SQLAlchemy mappers: MLflow configuring its own mappers in another thread while they are
# half-imported fails every later MLflow call in the process ("One or more mappers failed to
# initialize ... 'WorkQueue'"), so MLflow waits for this.
_server_imported = threading.Event()


def uses_ephemeral_api() -> bool:
    # Prefect's settings, not os.environ: Prefect reads the environment once, at import.
    from prefect.settings import PREFECT_API_URL

    return not PREFECT_API_URL.value()


def start_in_background() -> None:
    """Begin starting the ephemeral API server, if that is what this process will use."""
    global _started
    if _started is not None or not uses_ephemeral_api():
        return

    def start() -> None:
        try:
            try:
                from prefect.server.api.server import SubprocessASGIServer
            finally:
                _server_imported.set()
            from prefect.settings import PREFECT_HOME

            from trialflow.runtime import store_templates

            store_templates.install_prefect(Path(PREFECT_HOME.value()).expanduser())

            SubprocessASGIServer().start()
        except BaseException as exc:  # re-raised by wait_until_ready
            _error.append(exc)

    _started = threading.Thread(target=start, name="trialflow-prefect-start", daemon=True)
    _started.start()


def wait_until_server_imported(timeout: float = 120.0) -> None:
    """Block until a background start has imported Prefect's server (at once if none)."""
    if _started is not None:
        _server_imported.wait(timeout)


def wait_until_ready() -> None:
    """Block until the background start has finished; Prefect then reuses that server.

    A failed start is raised once and forgotten, so the next run in this process tries again
    rather than failing on the old error.
    """
    global _started
    if _started is not None:
        _started.join()
    if _error:
        error = _error.pop()
        _error.clear()
        _started = None
        raise error


@contextmanager
def flow_run_settings() -> Iterator[None]:
    """Prefect settings for a flow run started by this process, and its logs sent to the
    API by the time the run returns (Prefect sends them in batches every few seconds; a
    caller reading the run's logs, or a UI open on it, would otherwise miss the last ones).

    On the embedded server, flow-run heartbeats are off: they exist so that a server can
    tell when a run's process died, and the embedded server dies with that process. Their
    thread sleeps in 1 s steps and is joined when the run ends, so each run paid 0-1 s
    (0.5 s on average, a full second for short flows) after its last task for nothing.
    A configured server keeps them.
    """
    from prefect.logging.handlers import APILogWorker
    from prefect.settings import PREFECT_FLOWS_HEARTBEAT_FREQUENCY, temporary_settings

    updates = {PREFECT_FLOWS_HEARTBEAT_FREQUENCY: None} if uses_ephemeral_api() else {}
    try:
        with temporary_settings(updates=updates):
            yield
    finally:
        APILogWorker.drain_all(timeout=5)
