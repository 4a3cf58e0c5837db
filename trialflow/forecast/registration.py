"""Registering a fitted forecaster in MLflow, and loading it back, without pickle.

The model folder holds the forecaster's files (`forecast.store`) and an MLmodel file with
a ``trialflow_forecaster`` flavor; the version is tagged ``trialflow.task=forecast`` so that
loading knows what it is before reading any file.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import pandas as pd

from trialflow.forecast.forecaster import Forecaster
from trialflow.forecast.store import read_forecaster, write_forecaster

FLAVOR = "trialflow_forecaster"
TASK_TAG = "trialflow.task"


class _ForecasterFiles:
    """A flavor for MLflow's ``Model.log``: the forecaster's files and an MLmodel entry."""

    def __init__(self, forecaster: Forecaster):
        self.forecaster = forecaster

    def save_model(self, path: str, mlflow_model, **_: object) -> None:
        from mlflow.models.model import MLMODEL_FILE_NAME

        folder = Path(path)
        write_forecaster(self.forecaster, folder)
        mlflow_model.add_flavor(
            FLAVOR,
            horizon=self.forecaster.horizon,
            frequency=self.forecaster.frequency,
            series=list(self.forecaster.series),
            time=self.forecaster.time,
            target=self.forecaster.target,
        )
        mlflow_model.save(str(folder / MLMODEL_FILE_NAME))


def register_forecaster(
    forecaster: Forecaster,
    *,
    name: str,
    configured_uri: str,
    params: dict,
    metrics: dict[str, float],
    tables: dict[str, pd.DataFrame],
    texts: dict[str, str],
):
    """Log the forecaster with its params, metrics, tables and report; register a version.
    All or nothing, as `registry.register_model`: a failure leaves no version behind."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.models import Model

    from trialflow import registry

    uri = registry.tracking_uri(configured_uri)
    mlflow = registry._use_store(uri)
    tags = {TASK_TAG: "forecast"}
    with registry.store_write_lock(uri), tempfile.TemporaryDirectory(prefix="trialflow-") as tmp:
        registry._write_artifacts(Path(tmp), tables, {}, texts)
        run = mlflow.start_run(experiment_id=registry._experiment_id(mlflow, uri), run_name=name)
        now = int(time.time() * 1000)
        try:
            mlflow.MlflowClient().log_batch(
                run.info.run_id,
                metrics=[Metric(k, float(v), now, 0) for k, v in metrics.items()],
                params=[Param(k, registry._param_text(v)) for k, v in params.items()],
                tags=[RunTag(k, v) for k, v in tags.items()],
            )
            mlflow.log_artifacts(tmp)
            info = Model.log(artifact_path=None, name="model", flavor=_ForecasterFiles(forecaster))
            version = mlflow.register_model(info.model_uri, name, tags=tags)
        except BaseException:
            client = mlflow.MlflowClient()
            for stray in client.search_model_versions(f"run_id = '{run.info.run_id}'"):
                client.delete_model_version(stray.name, stray.version)
            mlflow.end_run(status="FAILED")
            raise
        mlflow.end_run()
    return registry.RegisteredModel(name, str(version.version), run.info.run_id, uri)


def download_forecaster(mlflow, model_uri: str) -> Forecaster:
    """A forecaster from a store MLflow must read (a server, a remote artifact store)."""
    with tempfile.TemporaryDirectory(prefix="trialflow-") as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
        return read_forecaster(Path(local))
