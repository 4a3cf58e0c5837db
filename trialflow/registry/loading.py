"""Loading registered models: a reference (NAME, NAME/VERSION, NAME@ALIAS) resolved to a
version, its skops file checked against the types recorded at registration and loaded.
A local SQLite store is read directly, without starting MLflow, when it can be.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from trialflow.errors import ConfigError, ModelNotFoundError
from trialflow.registry.moved import accept_old_module_paths
from trialflow.registry.store import EXPECTATIONS_FILE, RegisteredModel, tracking_uri, use_store
from trialflow.registry.trusted import (
    USER_MODULES_TAG,
    _check_flavor,
    check_stored_types,
)

_MODEL_REF = re.compile(r"^(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))?$")


def resolve_model(ref: str, *, configured_uri: str = "") -> tuple[str, str]:
    """(name, version) for ``name``, ``name/version`` or ``name@alias``; latest for a name."""
    match = _parse_ref(ref)
    uri = tracking_uri(configured_uri)
    stored = _stored_version(uri, match)
    if stored is not None:
        return stored.name, stored.version
    mlflow = use_store(uri)
    from mlflow.exceptions import MlflowException

    client = mlflow.MlflowClient()
    name = match["name"]
    try:
        if match["alias"]:
            return name, str(client.get_model_version_by_alias(name, match["alias"]).version)
        versions = client.search_model_versions(f"name = '{_quoted(name)}'")
    except MlflowException as exc:
        raise ModelNotFoundError(_not_found(client, ref)) from exc
    available = sorted(int(v.version) for v in versions)
    if not available:
        raise ModelNotFoundError(_not_found(client, ref))
    if match["version"]:
        if int(match["version"]) not in available:
            raise ModelNotFoundError(
                f"Model {name!r} has no version {match['version']}; it has {available}."
            )
        return name, match["version"]
    return name, str(available[-1])


def load_model(ref: str, *, configured_uri: str = ""):
    """The fitted pipeline (or forecaster) registered under ``ref``, from this project's own
    store."""
    uri = tracking_uri(configured_uri)
    stored = _stored_version(uri, _parse_ref(ref))
    pipeline = _load_stored(stored) if stored is not None else None
    if pipeline is not None:
        return pipeline, RegisteredModel(stored.name, stored.version, stored.run_id, uri)
    name, version = resolve_model(ref, configured_uri=configured_uri)
    mlflow = use_store(uri)
    registered = mlflow.MlflowClient().get_model_version(name, version)
    model_uri = f"models:/{name}/{version}"
    found = RegisteredModel(name, version, registered.run_id or "", uri)
    if registered.tags.get("trialflow.task") == "forecast":
        from trialflow.forecast.registration import download_forecaster

        return download_forecaster(mlflow, model_uri), found
    check_stored_types(model_uri, registered.tags.get(USER_MODULES_TAG, ""), f"{name}/{version}")
    accept_old_module_paths()  # a model of an earlier release names its types by them
    return mlflow.sklearn.load_model(model_uri), found


def load_expectations(model: RegisteredModel) -> dict | None:
    """The expectation suite registered with ``model``; None for a model without one
    (registered before trialflow saved suites)."""
    if not model.run_id:
        return None
    local = _run_artifact(model.tracking_uri, model.run_id, EXPECTATIONS_FILE)
    if local is not None:
        try:
            return json.loads(local.read_text(encoding="utf-8"))
        except ValueError:  # not UTF-8 or not JSON: as MLflow's load_dict, no suite
            return None
    mlflow = use_store(model.tracking_uri)
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.artifacts.load_dict(f"runs:/{model.run_id}/{EXPECTATIONS_FILE}")
    except (MlflowException, OSError):
        return None


# Scoring reads a registered version straight from the SQLite store and loads its skops file
# from the artifact folder: importing MLflow and opening its store (schema checks through
# SQLAlchemy) costs ~1.6 s and copying the model to a temporary folder more, against
# milliseconds here, in a command that should take 3 s end to end. Read-only, and only
# where the answer is certain to be MLflow's: a local SQLite store in MLflow's single
# workspace, a version found, files in local folders. Anything else (another store, a
# version not found, whose error MLflow words, a schema this does not know) goes to MLflow.
_DELETED_STAGE = "Deleted_Internal"  # MLflow keeps a deleted version's row in this stage

_WORKSPACE = "default"  # MLflow's one workspace unless MLFLOW_ENABLE_WORKSPACES is on


@dataclass(frozen=True)
class _StoredVersion:
    name: str
    version: str
    run_id: str
    model_dir: Path | None  # the folder of its MLmodel file, when on this file system
    user_modules: str


def _parse_ref(ref: str) -> re.Match:
    match = _MODEL_REF.match(ref.strip())
    if not match:
        raise ConfigError(
            f"Model reference {ref!r} is not of the form NAME, NAME/VERSION or NAME@ALIAS."
        )
    return match


def _read_only_store(uri: str) -> sqlite3.Connection | None:
    if not uri.startswith("sqlite:///"):
        return None
    if os.environ.get("MLFLOW_ENABLE_WORKSPACES", "false").lower() not in ("false", "0"):
        return None
    path = Path(uri.removeprefix("sqlite:///"))
    if not path.is_file():  # MLflow creates a missing store
        return None
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


def _stored_version(uri: str, match: re.Match) -> _StoredVersion | None:
    """The version ``match`` names, read from a local SQLite store; None where MLflow must
    answer."""
    name, alias = match["name"], match["alias"]
    if alias and alias.lower() == "latest":  # MLflow's own meaning, by stage
        return None
    live = "workspace = ? AND name = ? AND current_stage != ?"
    try:
        db = _read_only_store(uri)
        if db is None:
            return None
        with contextlib.closing(db):
            if alias:
                found = db.execute(
                    "SELECT version FROM registered_model_aliases "
                    "WHERE workspace = ? AND name = ? AND alias = ?",
                    (_WORKSPACE, name, alias),
                ).fetchone()
            elif match["version"]:
                found = (int(match["version"]),)
            else:
                found = db.execute(
                    f"SELECT MAX(version) FROM model_versions WHERE {live}",
                    (_WORKSPACE, name, _DELETED_STAGE),
                ).fetchone()
            if found is None or found[0] is None:
                return None
            row = db.execute(
                "SELECT version, run_id, storage_location, source FROM model_versions "
                f"WHERE {live} AND version = ?",
                (_WORKSPACE, name, _DELETED_STAGE, found[0]),
            ).fetchone()
            if row is None:
                return None
            tag = db.execute(
                "SELECT value FROM model_version_tags "
                "WHERE workspace = ? AND name = ? AND version = ? AND key = ?",
                (_WORKSPACE, name, row[0], USER_MODULES_TAG),
            ).fetchone()
    # Busy, a schema of another MLflow version, or a version number past SQLite's integers.
    except (sqlite3.Error, OverflowError):
        return None
    return _StoredVersion(
        name,
        match["version"] or str(row[0]),
        row[1] or "",
        _local_folder(row[2] or row[3]),  # where MLflow downloads the model from
        (tag[0] if tag else "") or "",
    )


def _run_artifact(uri: str, run_id: str, filename: str) -> Path | None:
    """A run's artifact file when the run's artifacts are a local folder holding it."""
    try:
        db = _read_only_store(uri)
        if db is None:
            return None
        with contextlib.closing(db):
            row = db.execute("SELECT artifact_uri FROM runs WHERE run_uuid = ?", (run_id,))
            found = row.fetchone()
    except sqlite3.Error:
        return None
    folder = _local_folder(found[0]) if found else None
    path = folder / filename if folder is not None else None
    return path if path is not None and path.is_file() else None


def _local_folder(location: str | None) -> Path | None:
    """The folder an artifact location names, a file:// URI or an absolute path, read as
    MLflow's local artifact store reads them; None for other schemes, which MLflow reads."""
    parsed = urllib.parse.urlparse(location or "")
    if parsed.scheme == "file" and parsed.netloc in ("", "localhost"):
        path = parsed.path
    elif not parsed.scheme and (location or "").startswith("/"):
        path = location
    else:
        return None
    return Path(urllib.parse.unquote(path))


def _load_stored(stored: _StoredVersion):
    """The pipeline from the version's skops file, under the same type checks as MLflow's
    path; None where MLflow must load it (an MLflow setting that governs deserialising,
    code shipped with the model, files not in the model's own folder)."""
    if stored.model_dir is None or "MLFLOW_ALLOW_PICKLE_DESERIALIZATION" in os.environ:
        return None
    import yaml

    try:
        description = yaml.safe_load((stored.model_dir / "MLmodel").read_text())
    except (OSError, yaml.YAMLError):
        return None
    flavors = description.get("flavors") if isinstance(description, dict) else None
    if not isinstance(flavors, dict):
        return None
    if "trialflow_forecaster" in flavors:
        # Plain files (JSON, Parquet, LightGBM's text), nothing to deserialise as code.
        from trialflow.forecast.store import read_forecaster

        return read_forecaster(stored.model_dir)
    flavor = flavors.get("sklearn") or {}
    _check_flavor(flavor, stored.user_modules, f"{stored.name}/{stored.version}")
    model_file = stored.model_dir / str(flavor.get("pickled_model"))
    if flavor.get("code") or model_file.parent != stored.model_dir or not model_file.is_file():
        return None
    # Deferred: skops imports every scikit-learn estimator (0.65 s), wanted only to load.
    import skops.io

    accept_old_module_paths()  # a model of an earlier release names its types by them
    return skops.io.load(model_file, trusted=flavor.get("skops_trusted_types"))


def _quoted(name: str) -> str:
    return name.replace("'", "\\'")


def _not_found(client, ref: str) -> str:
    names = sorted(m.name for m in client.search_registered_models(max_results=50))
    known = ", ".join(names) if names else "none yet: train one with `trialflow train`"
    return f"No registered model matches {ref!r}. Registered models: {known}."
