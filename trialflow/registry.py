"""The model registry: MLflow, on a SQLite file under the project home unless told otherwise."""

from __future__ import annotations

import contextlib
import json
import os
import re
import sqlite3
import tempfile
import threading
import time
import urllib.parse
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from trialflow.errors import ConfigError, ModelNotFoundError
from trialflow.home import default_mlflow_uri, mlflow_artifact_root

EXPERIMENT = "trialflow"
# The Great Expectations suite learned from the training data, enforced when scoring.
EXPECTATIONS_FILE = "expectations.json"
_MODEL_REF = re.compile(r"^(?P<name>[^/@]+)(?:/(?P<version>\d+)|@(?P<alias>[\w-]+))?$")
_store_lock = threading.RLock()


@dataclass(frozen=True)
class RegisteredModel:
    name: str
    version: str
    run_id: str
    tracking_uri: str

    @property
    def uri(self) -> str:
        return f"models:/{self.name}/{self.version}"


# Where a worker's environment points every run's registry. Not MLFLOW_TRACKING_URI: MLflow
# sets that itself whenever any code in the process picks a store, so it would carry one
# run's store into the next.
MLFLOW_URI_VARIABLE = "TRIALFLOW_MLFLOW_URI"


def tracking_uri(configured: str = "") -> str:
    """The configured URI, else $TRIALFLOW_MLFLOW_URI, else the home's SQLite file."""
    return configured or os.environ.get(MLFLOW_URI_VARIABLE) or default_mlflow_uri()


def _use_store(uri: str):
    """Import MLflow and point it at ``uri``; the first use of a SQLite store migrates it."""
    import mlflow

    with _store_lock:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
    return mlflow


def store_client(configured: str = ""):
    """An MLflow client on the store (``configured`` URI, else the home's SQLite file)."""
    return _use_store(tracking_uri(configured)).MlflowClient()


@contextmanager
def store_write_lock(configured: str = "") -> Iterator[None]:
    """Writers of one SQLite store take turns, across threads and processes.

    SQLite allows one writer at a time and MLflow gives up on a busy database ("database is
    locked") after a short wait, so two trainings registering at once could lose one
    version. A lock file beside the database serialises them; server stores need none.
    """
    uri = tracking_uri(configured)
    if not uri.startswith("sqlite:///"):
        yield
        return
    import fcntl

    database = Path(uri.removeprefix("sqlite:///"))
    database.parent.mkdir(parents=True, exist_ok=True)
    with _store_lock, open(f"{database}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def prewarm(configured: str = "") -> None:
    """Import MLflow and create the store's tables ahead of registration (seconds, once)."""
    mlflow = _use_store(tracking_uri(configured))
    mlflow.MlflowClient().search_experiments(max_results=1)
    # What the first registration imports otherwise (0.12 s of its 0.42 s on credit_data):
    # the model flavours, and GitPython, which MLflow loads on a run's start to tag it.
    import mlflow.pyfunc
    import mlflow.sklearn  # noqa: F401

    with contextlib.suppress(ImportError):  # GitPython refuses to import without git
        import git  # noqa: F401
    try:
        # MLflow maps installed packages to modules on its first model save (~1 s here).
        from mlflow.utils.requirements_utils import _init_packages_to_modules_map

        _init_packages_to_modules_map()
    except (ImportError, AttributeError):  # a private helper: gone in some MLflow version
        pass


def _experiment_id(mlflow, uri: str) -> str:
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    if experiment is not None:
        return experiment.experiment_id
    location = None
    if uri == default_mlflow_uri():
        # MLflow would otherwise write artifacts under the current directory.
        location = mlflow_artifact_root().as_uri()
    return client.create_experiment(EXPERIMENT, artifact_location=location)


def _requirements() -> list[str]:
    # Listed explicitly: MLflow's inference of requirements re-imports the model in a
    # subprocess and costs ~4 s per registration.
    packages = ["trialflow", "scikit-learn", "lightgbm", "pandas", "numpy"]
    return [f"{p}=={metadata.version(p)}" for p in packages]


def register_model(
    pipeline,
    *,
    name: str,
    configured_uri: str,
    sample: pd.DataFrame,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    tables: dict[str, pd.DataFrame],
    documents: dict[str, dict] | None = None,
    texts: dict[str, str] | None = None,
    trusted_modules: tuple[str, ...] = (),
    trusted: list[str] | None = None,
) -> RegisteredModel:
    """Log the fitted pipeline with its signature, params, metrics and tables; register it.

    ``trusted`` is the pipeline's skops types when the caller has already checked them
    (``trusted_types``): the skops file that check made is the one registered, so a model is
    serialised once per run (a forest ensemble on credit_data: 0.4 s to write, 0.25 s more
    for MLflow's own save to load it back).

    The version is created only after every artifact is logged, and a failure at any
    point marks the run failed and deletes a version already made: no half-made version.
    Registrations into one SQLite store take turns (``store_write_lock``).
    """
    from mlflow.models import Model, infer_signature
    from threadpoolctl import threadpool_limits

    uri = tracking_uri(configured_uri)
    mlflow = _use_store(uri)
    # Integer columns are declared as doubles: a later batch with a missing value in one
    # would otherwise break MLflow's schema enforcement.
    ints = sample.select_dtypes("integer").columns
    sample = sample.astype(dict.fromkeys(ints, "float64"))
    # The output's schema is its type, which two rows show as well as all of them; one
    # thread, as OpenMP threads contending on a busy machine made 50 rows take 0.13 s.
    with threadpool_limits(limits=1):
        output = pipeline.predict(sample.head(2))
    signature = infer_signature(sample, output)
    types, data = _checked_skops(pipeline, trusted, trusted_modules)
    # In the store's database, beside the version: loading checks the artifact against it.
    tags = {**tags, USER_MODULES_TAG: ",".join(trusted_modules)}
    return register_logged(
        name,
        uri=uri,
        params=params,
        metrics=metrics,
        tags=tags,
        artifacts=lambda folder: _write_artifacts(folder, tables, documents or {}, texts or {}),
        log_model=lambda: Model.log(
            artifact_path=None,  # deprecated for name, but without a default
            name="model",
            flavor=_SkopsBytes(data),
            flavor_name=mlflow.sklearn.__name__,
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_SKOPS,
            signature=signature,
            pip_requirements=_requirements(),
            skops_trusted_types=types,
        ),
    )


def register_logged(
    name: str,
    *,
    uri: str,
    params: dict[str, Any],
    metrics: dict[str, float],
    tags: dict[str, str],
    artifacts: Callable[[Path], None],
    log_model: Callable[[], Any],
) -> RegisteredModel:
    """One MLflow run with its params, metrics, tags and artifacts (``artifacts`` writes
    them into a folder), the model ``log_model`` logs in it, and a version registered from
    that model, all or nothing; registrations into one SQLite store take turns."""
    from mlflow.entities import Metric, Param, RunTag

    mlflow = _use_store(uri)
    with store_write_lock(uri), tempfile.TemporaryDirectory(prefix="trialflow-") as folder:
        # Every table and document is written into one folder and logged with one call, and
        # params, metrics and tags go in one batch: each MLflow call is a round trip (a
        # transaction on SQLite, a request on a server).
        artifacts(Path(folder))
        experiment_id = _experiment_id(mlflow, uri)  # two first runs would both create it
        run = mlflow.start_run(experiment_id=experiment_id, run_name=name)
        now = int(time.time() * 1000)
        try:
            mlflow.MlflowClient().log_batch(
                run.info.run_id,
                metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                params=[Param(k, _param_text(v)) for k, v in params.items()],
                tags=[RunTag(k, str(v)) for k, v in tags.items()],
            )
            if any(Path(folder).iterdir()):
                mlflow.log_artifacts(folder)
            info = log_model()
            version = mlflow.register_model(info.model_uri, name, tags=tags)
        except BaseException:
            # All or nothing: the run is marked failed and a version created before the
            # failure is deleted, so no half-made version is ever served.
            client = mlflow.MlflowClient()
            made = client.search_model_versions(f"run_id = '{run.info.run_id}'")
            for stray in made:
                client.delete_model_version(stray.name, stray.version)
            mlflow.end_run(status="FAILED")
            raise
        mlflow.end_run()
    return RegisteredModel(name, str(version.version), run.info.run_id, uri)


# Models are stored with skops, which on loading rebuilds only types listed as trusted, so
# a tampered artifact cannot run arbitrary code the way an unpickled one can.
TRUSTED_MODULES = (
    "trialflow.",
    "sklearn.",
    "lightgbm.",
    "numpy.",
    "pandas.",
    "scipy.",
    "collections.",
)
# Exact names from the standard library: HistGradientBoosting keeps a partial of
# sklearn.utils.validation.check_array; the function it wraps is checked in its own right.
TRUSTED_NAMES = ("functools.partial",)
# The version tag naming the modules of the user's own learners and featurizers.
USER_MODULES_TAG = "trusted.user_modules"


def trusted_types(pipeline, *, extra_modules: tuple[str, ...] = ()) -> list[str]:
    """The non-default types the pipeline's skops file holds; all must come from trialflow's
    libraries or from ``extra_modules`` (the modules of learners the user named)."""
    import skops.io

    data = skops.io.dumps(pipeline)
    types = skops.io.get_untrusted_types(data=data)
    allowed = TRUSTED_MODULES + tuple(f"{m}." for m in extra_modules)
    unknown = [t for t in types if not t.startswith(allowed) and t not in TRUSTED_NAMES]
    if unknown:
        raise ConfigError(
            f"The fitted model holds types from outside trialflow's trusted libraries: {unknown}."
        )
    with _checked_lock:
        _checked[pipeline] = (list(types), data)
    return types


# The skops file ``trusted_types`` made of each pipeline it checked, until that pipeline is
# registered (or garbage collected), so registration does not serialise it again.
_checked: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
_checked_lock = threading.Lock()


def _checked_skops(pipeline, trusted: list[str] | None, modules: tuple[str, ...]):
    """(trusted types, skops bytes) of ``pipeline``: those ``trusted_types`` made when it
    checked the same types, else made and checked now."""
    with _checked_lock:
        made = _checked.pop(pipeline, None)
    if made is None or trusted is None or made[0] != list(trusted):
        trusted_types(pipeline, extra_modules=modules)
        with _checked_lock:
            made = _checked.pop(pipeline)
    return made


def _write_artifacts(
    folder: Path, tables: dict[str, pd.DataFrame], documents: dict[str, dict], texts: dict
) -> None:
    """The run's tables (CSV), documents (JSON) and texts as files of ``folder``."""
    for filename, table in tables.items():
        (folder / filename).write_text(table.to_csv(index=False), encoding="utf-8")
    for filename, document in documents.items():
        # As MLflow's log_dict writes them: YAML by extension, else JSON.
        if Path(filename).suffix in (".yml", ".yaml"):
            import yaml

            text = yaml.dump(document, indent=2, default_flow_style=False)
        else:
            text = json.dumps(document, indent=2, default=str)
        (folder / filename).write_text(text, encoding="utf-8")
    for filename, text in texts.items():
        (folder / filename).write_text(text, encoding="utf-8")


class _SkopsBytes:
    """A flavor for MLflow's ``Model.log``: the directory ``mlflow.sklearn.save_model`` writes
    for the skops format (the same files and MLmodel entries, so MLflow and trialflow load
    it alike), around a skops file already made, where ``save_model`` would serialise the
    model again and load it back. ``tests/test_registry.py`` checks the two agree."""

    def __init__(self, data: bytes):
        self.data = data

    def save_model(
        self,
        path: str,
        mlflow_model,
        *,
        signature,
        pip_requirements: list[str],
        skops_trusted_types: list[str],
        serialization_format: str,
    ) -> None:
        import sklearn
        import yaml
        from mlflow import pyfunc
        from mlflow.models.model import MLMODEL_FILE_NAME

        # Private, as what save_model writes beside the model must be exactly its own.
        from mlflow.utils.environment import _process_pip_requirements, _PythonEnv

        folder = Path(path)
        folder.mkdir(parents=True)
        model_file = "model.skops"
        (folder / model_file).write_bytes(self.data)
        mlflow_model.signature = signature
        pyfunc.add_to_model(
            mlflow_model,
            loader_module="mlflow.sklearn",
            model_path=model_file,
            conda_env="conda.yaml",
            python_env="python_env.yaml",
            code=None,
            predict_fn="predict",
        )
        mlflow_model.add_flavor(
            "sklearn",
            pickled_model=model_file,
            sklearn_version=sklearn.__version__,
            serialization_format=serialization_format,
            code=None,
            skops_trusted_types=skops_trusted_types,
        )
        mlflow_model.model_size_bytes = len(self.data)
        mlflow_model.save(str(folder / MLMODEL_FILE_NAME))
        conda_env, requirements, constraints = _process_pip_requirements(
            None, pip_requirements, None
        )
        with open(folder / "conda.yaml", "w") as handle:
            yaml.safe_dump(conda_env, stream=handle, default_flow_style=False)
        if constraints:
            (folder / "constraints.txt").write_text("\n".join(constraints))
        (folder / "requirements.txt").write_text("\n".join(requirements))
        _PythonEnv.current().to_yaml(str(folder / "python_env.yaml"))


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def resolve_model(ref: str, *, configured_uri: str = "") -> tuple[str, str]:
    """(name, version) for ``name``, ``name/version`` or ``name@alias``; latest for a name."""
    match = _parse_ref(ref)
    uri = tracking_uri(configured_uri)
    stored = _stored_version(uri, match)
    if stored is not None:
        return stored.name, stored.version
    mlflow = _use_store(uri)
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
    mlflow = _use_store(uri)
    registered = mlflow.MlflowClient().get_model_version(name, version)
    model_uri = f"models:/{name}/{version}"
    found = RegisteredModel(name, version, registered.run_id or "", uri)
    if registered.tags.get("trialflow.task") == "forecast":
        from trialflow.forecast.registration import download_forecaster

        return download_forecaster(mlflow, model_uri), found
    check_stored_types(model_uri, registered.tags.get(USER_MODULES_TAG, ""), f"{name}/{version}")
    return mlflow.sklearn.load_model(model_uri), found


def check_stored_types(model_uri: str, user_modules: str, label: str) -> None:
    """Refuse a stored model that is not skops, or whose list of types to rebuild strays
    outside trialflow's libraries and the user's own modules.

    MLflow hands skops the trusted types listed in the artifact's own MLmodel file, so an
    altered file could widen them to anything; the list is checked here first.
    """
    from mlflow.models import Model

    _check_flavor(Model.load(model_uri).flavors.get("sklearn", {}), user_modules, label)


def _check_flavor(flavor: dict, user_modules: str, label: str) -> None:
    if flavor.get("serialization_format") != "skops":
        raise ConfigError(
            f"Model {label} is stored as {flavor.get('serialization_format') or 'unknown'!r}, "
            "not skops; trialflow does not load it, as unpickling can run arbitrary code. "
            "Register it again with trialflow."
        )
    modules = tuple(f"{m}." for m in user_modules.split(",") if m)
    allowed = TRUSTED_MODULES + modules
    listed = flavor.get("skops_trusted_types") or []
    unknown = [t for t in listed if not t.startswith(allowed) and t not in TRUSTED_NAMES]
    if unknown:
        raise ConfigError(
            f"Model {label} asks to rebuild types outside trialflow's trusted libraries: "
            f"{unknown}. It was not written by trialflow or was altered; it is not loaded."
        )


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
    mlflow = _use_store(model.tracking_uri)
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

    return skops.io.load(model_file, trusted=flavor.get("skops_trusted_types"))


def _quoted(name: str) -> str:
    return name.replace("'", "\\'")


def _not_found(client, ref: str) -> str:
    names = sorted(m.name for m in client.search_registered_models(max_results=50))
    known = ", ".join(names) if names else "none yet: train one with `trialflow train`"
    return f"No registered model matches {ref!r}. Registered models: {known}."
