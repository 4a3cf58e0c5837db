"""The model registry: MLflow, on a SQLite file under the project home unless told otherwise."""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
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
    (``trusted_types``); serialising a large model takes seconds, so it is done once.

    The version is created only after every artifact is logged, and a failure at any
    point marks the run failed and deletes a version already made: no half-made version.
    Registrations into one SQLite store take turns (``store_write_lock``).
    """
    from mlflow.models import infer_signature

    uri = tracking_uri(configured_uri)
    mlflow = _use_store(uri)
    # Integer columns are declared as doubles: a later batch with a missing value in one
    # would otherwise break MLflow's schema enforcement.
    ints = sample.select_dtypes("integer").columns
    sample = sample.astype(dict.fromkeys(ints, "float64"))
    signature = infer_signature(sample, pipeline.predict(sample))
    types = (
        trusted if trusted is not None else trusted_types(pipeline, extra_modules=trusted_modules)
    )
    # In the store's database, beside the version: loading checks the artifact against it.
    tags = {**tags, USER_MODULES_TAG: ",".join(trusted_modules)}
    with store_write_lock(uri):
        experiment_id = _experiment_id(mlflow, uri)  # two first runs would both create it
        run = mlflow.start_run(experiment_id=experiment_id, run_name=name)
        try:
            mlflow.log_params({k: _param_text(v) for k, v in params.items()})
            mlflow.log_metrics(metrics)
            mlflow.set_tags(tags)
            for filename, table in tables.items():
                mlflow.log_text(table.to_csv(index=False), filename)
            for filename, document in (documents or {}).items():
                mlflow.log_dict(document, filename)
            for filename, text in (texts or {}).items():
                mlflow.log_text(text, filename)
            info = mlflow.sklearn.log_model(
                pipeline,
                name="model",
                signature=signature,
                pip_requirements=_requirements(),
                skops_trusted_types=types,
            )
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

    types = skops.io.get_untrusted_types(data=skops.io.dumps(pipeline))
    allowed = TRUSTED_MODULES + tuple(f"{m}." for m in extra_modules)
    unknown = [t for t in types if not t.startswith(allowed) and t not in TRUSTED_NAMES]
    if unknown:
        raise ConfigError(
            f"The fitted model holds types from outside trialflow's trusted libraries: {unknown}."
        )
    return types


def _param_text(value: Any) -> str:
    text = str(value)
    return text if len(text) <= 6000 else text[:5997] + "..."


def resolve_model(ref: str, *, configured_uri: str = "") -> tuple[str, str]:
    """(name, version) for ``name``, ``name/version`` or ``name@alias``; latest for a name."""
    match = _MODEL_REF.match(ref.strip())
    if not match:
        raise ConfigError(
            f"Model reference {ref!r} is not of the form NAME, NAME/VERSION or NAME@ALIAS."
        )
    mlflow = _use_store(tracking_uri(configured_uri))
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
    """The fitted pipeline registered under ``ref``, from this project's own store."""
    name, version = resolve_model(ref, configured_uri=configured_uri)
    mlflow = _use_store(tracking_uri(configured_uri))
    registered = mlflow.MlflowClient().get_model_version(name, version)
    uri = f"models:/{name}/{version}"
    check_stored_types(uri, registered.tags.get(USER_MODULES_TAG, ""), f"{name}/{version}")
    return mlflow.sklearn.load_model(uri), RegisteredModel(
        name, version, registered.run_id or "", tracking_uri(configured_uri)
    )


def check_stored_types(model_uri: str, user_modules: str, label: str) -> None:
    """Refuse a stored model that is not skops, or whose list of types to rebuild strays
    outside trialflow's libraries and the user's own modules.

    MLflow hands skops the trusted types listed in the artifact's own MLmodel file, so an
    altered file could widen them to anything; the list is checked here first.
    """
    from mlflow.models import Model

    flavor = Model.load(model_uri).flavors.get("sklearn", {})
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
    mlflow = _use_store(model.tracking_uri)
    from mlflow.exceptions import MlflowException

    try:
        return mlflow.artifacts.load_dict(f"runs:/{model.run_id}/{EXPECTATIONS_FILE}")
    except (MlflowException, OSError):
        return None


def _quoted(name: str) -> str:
    return name.replace("'", "\\'")


def _not_found(client, ref: str) -> str:
    names = sorted(m.name for m in client.search_registered_models(max_results=50))
    known = ", ".join(names) if names else "none yet: train one with `trialflow train`"
    return f"No registered model matches {ref!r}. Registered models: {known}."
