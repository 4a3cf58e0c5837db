"""The Python API: train a model, load a registered one, score a table."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pandas as pd

from trialflow.config import TrainConfig
from trialflow.data import RDATASETS_PREFIX, check_source
from trialflow.home import configure_environment


def train(
    data: str | pd.DataFrame | None = None,
    *,
    target: str | None = None,
    config: TrainConfig | None = None,
    started: float | None = None,
    **options: Any,
):
    """Run the `automl` flow and return a TrainResult.

    Either pass ``config``, or ``data`` (a path or a DataFrame), ``target`` and any other
    TrainConfig field as keyword arguments. The time budget starts at ``started`` (epoch
    seconds; default now), so a caller's own start-up counts against it.
    """
    started = started or time.time()
    frame = data if isinstance(data, pd.DataFrame) else None
    if config is None:
        if target is None:
            raise TypeError("train() needs target=... (or a config=TrainConfig(...)).")
        config = TrainConfig(data=None if frame is not None else data, target=target, **options)
    elif options or target is not None:
        raise TypeError("Pass either config=... or keyword options, not both.")
    if frame is None and config.data and not config.data.startswith(RDATASETS_PREFIX):
        check_source(config.data)  # seconds before Prefect and Dask would find out
    start_services(config)
    from trialflow import cluster, prefect_api
    from trialflow.flows.automl import automl

    try:
        prefect_api.wait_until_ready()
        prefect_ready = time.time() - started
        result = automl(config=config, frame=frame, deadline=started + config.time_budget)
    finally:
        # A run that failed before its search never took the cluster started for it.
        cluster.close_prestarted()
    # Start-up overlaps: Prefect's API and the Dask cluster start side by side.
    result.timings["prefect_ready"] = round(prefect_ready, 3)
    if cluster.last_start_seconds is not None and not config.dask_address:
        result.timings["dask_start"] = cluster.last_start_seconds
    result.timings["total"] = round(time.time() - started, 3)
    return result


def start_services(config: TrainConfig) -> None:
    """Start what the run will need, in the background: Prefect's API, the local Dask
    cluster, the MLflow store and Great Expectations' import."""
    configure_environment()
    from trialflow import cluster, prefect_api, prefect_server

    # A server started with `trialflow server start` saves the ephemeral API's start-up.
    prefect_server.adopt_running()
    prefect_api.start_in_background()
    if not config.dask_address:
        cluster.prestart_local_cluster(config.local_workers())
    threading.Thread(target=_prewarm, args=(config,), name="trialflow-prewarm", daemon=True).start()


def _prewarm(config: TrainConfig) -> None:
    from trialflow import checks, registry

    try:
        checks._gx_context()
        registry.prewarm(config.mlflow_tracking_uri)
    except Exception as exc:  # only a head start: the steps themselves report real failures
        logging.getLogger(__name__).debug("Prewarming Great Expectations/MLflow failed: %s", exc)


def load_model(ref: str, *, tracking_uri: str = ""):
    """The fitted pipeline registered as ``name``, ``name/version`` or ``name@alias``."""
    configure_environment()
    from trialflow.registry import load_model as _load

    pipeline, _ = _load(ref, configured_uri=tracking_uri)
    return pipeline


def predict(ref: str, data: str | pd.DataFrame, *, tracking_uri: str = "") -> pd.DataFrame:
    """Score a table with a registered model: a `prediction` column, plus `proba_<class>`."""
    from trialflow.data import read_table
    from trialflow.scoring import score_frame

    frame = read_table(data) if isinstance(data, str) else data
    return score_frame(load_model(ref, tracking_uri=tracking_uri), frame)
