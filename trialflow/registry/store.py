"""The model registry: MLflow, on a SQLite file under the project home unless told otherwise."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from trialflow.registry.trusted import (
    USER_MODULES_TAG,
    _checked_skops,
)
from trialflow.runtime.home import default_mlflow_uri, mlflow_artifact_root

EXPERIMENT = "trialflow"
# The Great Expectations suite learned from the training data, enforced when scoring.
EXPECTATIONS_FILE = "expectations.json"
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


def use_store(uri: str):
    """Import MLflow and point it at ``uri``; the first use of a SQLite store migrates it."""
    import mlflow

    with _store_lock:
        mlflow.set_tracking_uri(uri)
        mlflow.set_registry_uri(uri)
    return mlflow


def store_client(configured: str = ""):
    """An MLflow client on the store (``configured`` URI, else the home's SQLite file)."""
    return use_store(tracking_uri(configured)).MlflowClient()


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
    mlflow = use_store(tracking_uri(configured))
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
    mlflow = use_store(uri)
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

    mlflow = use_store(uri)
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
