"""Registering a fitted forecaster in MLflow, and loading it back, without pickle.

The model folder holds the forecaster's files (`forecast.store`) and an MLmodel file with
a ``trialflow_forecaster`` flavor; the version is tagged ``trialflow.task=forecast`` so that
loading knows what it is before reading any file.
"""

from __future__ import annotations

import tempfile
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
    """Log the forecaster with its params, metrics, tables and report; register a version
    (all or nothing, as every registration: `registry.register_logged`)."""
    from mlflow.models import Model

    from trialflow.registry import store as registry

    return registry.register_logged(
        name,
        uri=registry.tracking_uri(configured_uri),
        params=params,
        metrics=metrics,
        tags={TASK_TAG: "forecast"},
        artifacts=lambda folder: registry._write_artifacts(folder, tables, {}, texts),
        log_model=lambda: Model.log(
            artifact_path=None, name="model", flavor=_ForecasterFiles(forecaster)
        ),
    )


def download_forecaster(mlflow, model_uri: str) -> Forecaster:
    """A forecaster from a store MLflow must read (a server, a remote artifact store)."""
    with tempfile.TemporaryDirectory(prefix="trialflow-") as tmp:
        local = mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=tmp)
        return read_forecaster(Path(local))
