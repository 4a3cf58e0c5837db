"""Ready-made databases for new project homes: Prefect's and MLflow's.

Both create their SQLite databases on first use by running every one of their migrations:
on 2 idle cores that took 6 of the 9 s of Prefect's first start (2.5 s after that), and
MLflow ~3.5 s of CPU more than opening an existing store. A new home (a first run, a
container job, a benchmark's fresh home) therefore starts from copies of empty databases
already migrated by the same releases, shipped with the package (~70 KB each, gzipped).

A template is used only where the installed release knows its migration: Prefect migrates a
database that is behind when its server starts, so any known revision will do; MLflow
refuses a database that is not at its newest revision, so only that one will. Otherwise the
database is created the usual way. A database already there, or configured elsewhere
(another URL), is never touched.

Rebuild both after changing either pin: ``python -m trialflow.runtime.store_templates``.
"""

from __future__ import annotations

import gzip
import logging
import os
import re
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path

logger = logging.getLogger(__name__)

PREFECT_TEMPLATE = Path(__file__).with_name("prefect-template.db.gz")
MLFLOW_TEMPLATE = Path(__file__).with_name("mlflow-template.db.gz")
PREFECT_DATABASE_SETTINGS = (
    "PREFECT_API_DATABASE_CONNECTION_URL",
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
)


def install_prefect(prefect_home: Path) -> bool:
    """Put Prefect's template in place as ``prefect_home``'s database; True if copied."""
    if any(os.environ.get(name) for name in PREFECT_DATABASE_SETTINGS):
        return False
    return _install(PREFECT_TEMPLATE, prefect_home / "prefect.db", prefect_revisions())


def install_mlflow(database: Path, artifact_root: Path) -> bool:
    """Put MLflow's template in place as the store ``database``; True if copied."""

    def default_experiment_here(connection: sqlite3.Connection) -> None:
        # MLflow gives its Default experiment a folder when it creates a store; the
        # template's pointed into the machine that built it.
        location = (artifact_root / "0").as_uri()
        connection.execute(
            "UPDATE experiments SET artifact_location = ? WHERE experiment_id = 0", (location,)
        )

    return _install(MLFLOW_TEMPLATE, database, mlflow_head(), prepare=default_experiment_here)


def _install(
    template: Path,
    database: Path,
    known: set[str],
    prepare: Callable[[sqlite3.Connection], None] | None = None,
) -> bool:
    if database.exists():
        return False
    revision = template_revision(template)
    if revision is None or revision not in known:
        return False
    database.parent.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.NamedTemporaryFile(dir=database.parent, prefix=".db-", delete=False) as f,
        gzip.open(template, "rb") as packed,
    ):
        shutil.copyfileobj(packed, f)
    try:
        if prepare is not None:
            with sqlite3.connect(f.name) as connection:
                prepare(connection)
            connection.close()
        # A link, not a rename: a process that got there first keeps its database.
        os.link(f.name, database)
    except FileExistsError:
        return False
    finally:
        os.unlink(f.name)
    return True


def template_revision(template: Path) -> str | None:
    """The Alembic revision a shipped template is migrated to."""
    try:
        with gzip.open(template, "rb") as packed, tempfile.NamedTemporaryFile() as f:
            shutil.copyfileobj(packed, f)
            f.flush()
            with sqlite3.connect(f.name) as connection:
                row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
            connection.close()
    except (OSError, sqlite3.Error) as exc:
        logger.debug("No usable database template %s: %s", template, exc)
        return None
    return row[0] if row else None


def prefect_revisions() -> set[str]:
    """Revision ids of the installed Prefect's SQLite migrations, from the file names
    (``<date>_<revision>_<what>.py``) rather than by loading Alembic."""
    versions = _package_path("prefect", "server/database/_migrations/versions/sqlite")
    return {parts[4] for path in versions.glob("*.py") if len(parts := path.stem.split("_")) > 5}


def mlflow_head() -> set[str]:
    """The installed MLflow's newest migration (the revision no other revises), as a set."""
    versions = _package_path("mlflow", "store/db_migrations/versions")
    revisions, revised = set(), set()
    for path in versions.glob("*.py"):
        text = path.read_text()
        revisions.update(re.findall(r"^revision\s*=\s*['\"](\w+)['\"]", text, re.M))
        down = re.search(r"^down_revision\s*=\s*(.+)$", text, re.M)
        if down:
            revised.update(re.findall(r"['\"](\w+)['\"]", down.group(1)))
    return revisions - revised


def _package_path(package: str, relative: str) -> Path:
    import importlib.util

    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return Path("/nonexistent")
    return Path(spec.submodule_search_locations[0]) / relative


def build() -> None:
    """Create both templates with the installed releases, compacted and gzipped."""
    with tempfile.TemporaryDirectory(prefix="trialflow-template-") as home:
        os.environ["PREFECT_HOME"] = home
        os.environ["PREFECT_API_URL"] = ""
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
        from prefect.server.api.server import SubprocessASGIServer

        # Its first start migrates the database and registers Prefect's block types.
        server = SubprocessASGIServer()
        server.start()
        server.stop()
        _pack(Path(home) / "prefect.db", PREFECT_TEMPLATE)

        import mlflow

        store = Path(home) / "mlflow.db"
        mlflow.MlflowClient(
            tracking_uri=f"sqlite:///{store}", registry_uri=f"sqlite:///{store}"
        ).search_experiments(max_results=1)
        _pack(store, MLFLOW_TEMPLATE)


def _pack(database: Path, template: Path) -> None:
    with sqlite3.connect(database) as connection:
        connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        connection.execute("PRAGMA journal_mode=DELETE")
    connection.close()
    with sqlite3.connect(database) as connection:
        connection.execute("VACUUM")
    connection.close()
    with open(database, "rb") as source, gzip.open(template, "wb", compresslevel=9) as out:
        shutil.copyfileobj(source, out)


if __name__ == "__main__":
    build()
    for path in (PREFECT_TEMPLATE, MLFLOW_TEMPLATE):
        size, revision = path.stat().st_size, template_revision(path)
        print(f"Wrote {path} ({size:,} bytes, revision {revision}).")
