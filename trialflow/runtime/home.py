"""The project home: where the embedded Prefect database, MLflow store and run files live.

Everything trialflow writes by default goes under ``TRIALFLOW_HOME`` (default
``~/.trialflow``), so one environment variable moves or isolates a whole installation.
"""

from __future__ import annotations

import os
from pathlib import Path


def project_home() -> Path:
    """The project home directory, created if needed."""
    home = Path(os.environ.get("TRIALFLOW_HOME") or Path.home() / ".trialflow").expanduser()
    home.mkdir(parents=True, exist_ok=True)
    return home


def default_mlflow_uri() -> str:
    """MLflow tracking and registry on a SQLite file under the project home (in a new home,
    a copy of an empty store already migrated: `store_templates`)."""
    database = project_home() / "mlflow.db"
    if not database.exists():
        from trialflow.runtime import store_templates

        store_templates.install_mlflow(database, mlflow_artifact_root())
    return f"sqlite:///{database}"


def mlflow_artifact_root() -> Path:
    return project_home() / "mlartifacts"


def configure_environment() -> None:
    """Point Prefect at the project home and turn telemetry off, before Prefect is imported.

    Values the user has set in the environment win; we only fill in defaults.
    """
    home = project_home()
    defaults = {
        "PREFECT_HOME": str(home / "prefect"),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        # The cached results of finished steps, which a re-run of a killed run resumes from.
        "PREFECT_RESULTS_LOCAL_STORAGE_PATH": str(home / "checkpoints"),
        # Nothing here may reach the network: no update checks, no hosted UI assets.
        "DO_NOT_TRACK": "1",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "GX_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_API_HOST": "127.0.0.1",
        # Prefect waits 20 s for its ephemeral server by default; its first start in a new
        # home (database migrations) takes ~19 s on 2 idle cores, and longer on busy ones.
        "PREFECT_SERVER_EPHEMERAL_STARTUP_TIMEOUT_SECONDS": "90",
    }
    for key, value in defaults.items():
        os.environ.setdefault(key, value)


def run_directory(run_id: str) -> Path:
    """Files of one flow run (e.g. its trial records), under the project home."""
    return project_home() / "runs" / run_id
