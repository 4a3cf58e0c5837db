"""A ready-made Prefect database for new project homes.

Prefect's embedded API creates its SQLite database on first use by running every one of its
migrations, which took 6 of the 9 s its first start took on 2 idle cores (2.5 s after that).
A new home (a first run, a container job, a benchmark's fresh home) therefore starts from a
copy of an empty database already migrated by the same Prefect release, shipped with the
package (66 KB gzipped). Prefect still checks the migrations when its server starts, so a
template one migration behind is brought up to date; one it does not know (a Prefect older
than the template) is never copied, and the database is then created the usual way.

Rebuild it after changing the Prefect pin: ``python -m trialflow.prefect_template``.
"""

from __future__ import annotations

import gzip
import logging
import os
import shutil
import sqlite3
import tempfile
from pathlib import Path

logger = logging.getLogger(__name__)

TEMPLATE = Path(__file__).with_name("prefect-template.db.gz")
DATABASE_SETTINGS = (
    "PREFECT_API_DATABASE_CONNECTION_URL",
    "PREFECT_SERVER_DATABASE_CONNECTION_URL",
)


def install(prefect_home: Path) -> bool:
    """Put the template in place as ``prefect_home``'s database, unless a database is there,
    another database is configured, or the installed Prefect does not know the template's
    migration. True if it was copied."""
    database = prefect_home / "prefect.db"
    if database.exists() or any(os.environ.get(name) for name in DATABASE_SETTINGS):
        return False
    revision = template_revision()
    if revision is None or revision not in installed_revisions():
        return False
    prefect_home.mkdir(parents=True, exist_ok=True)
    with (
        tempfile.NamedTemporaryFile(dir=prefect_home, prefix=".prefect-db-", delete=False) as f,
        gzip.open(TEMPLATE, "rb") as template,
    ):
        shutil.copyfileobj(template, f)
    try:
        # A link, not a rename: a process that got there first keeps its database.
        os.link(f.name, database)
    except FileExistsError:
        return False
    finally:
        os.unlink(f.name)
    return True


def template_revision() -> str | None:
    """The Alembic revision the shipped template is migrated to."""
    try:
        with gzip.open(TEMPLATE, "rb") as template:
            return _revision_of(template.read())
    except (OSError, sqlite3.Error) as exc:
        logger.debug("No usable Prefect database template: %s", exc)
        return None


def installed_revisions() -> set[str]:
    """Revision ids of the installed Prefect's SQLite migrations, read from the file names
    (``<date>_<revision>_<what>.py``) rather than by loading Alembic."""
    import importlib.util

    spec = importlib.util.find_spec("prefect")
    if spec is None or not spec.submodule_search_locations:
        return set()
    versions = Path(spec.submodule_search_locations[0]) / "server/database/_migrations/versions"
    return {
        parts[4]
        for path in (versions / "sqlite").glob("*.py")
        if len(parts := path.stem.split("_")) > 5
    }


def _revision_of(database: bytes) -> str | None:
    with tempfile.NamedTemporaryFile(suffix=".db") as f:
        f.write(database)
        f.flush()
        with sqlite3.connect(f.name) as connection:
            row = connection.execute("SELECT version_num FROM alembic_version").fetchone()
    return row[0] if row else None


def build() -> Path:
    """Create the template with the installed Prefect: start its API on an empty home, let
    it migrate and register its block types, then store the database compacted."""
    with tempfile.TemporaryDirectory(prefix="trialflow-template-") as home:
        os.environ["PREFECT_HOME"] = home
        os.environ["PREFECT_API_URL"] = ""
        os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
        from prefect.server.api.server import SubprocessASGIServer

        server = SubprocessASGIServer()
        server.start()
        server.stop()
        database = Path(home) / "prefect.db"
        with sqlite3.connect(database) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            connection.execute("PRAGMA journal_mode=DELETE")
        connection.close()
        with sqlite3.connect(database) as connection:
            connection.execute("VACUUM")
        connection.close()
        with open(database, "rb") as source, gzip.open(TEMPLATE, "wb", compresslevel=9) as out:
            shutil.copyfileobj(source, out)
    return TEMPLATE


if __name__ == "__main__":
    path = build()
    print(f"Wrote {path} ({path.stat().st_size:,} bytes, revision {template_revision()}).")
