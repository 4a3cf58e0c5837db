"""The Python API: train a model, load a registered one, score a table."""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

import pandas as pd

from trialflow.config import TrainConfig
from trialflow.errors import ConfigError
from trialflow.runtime.home import configure_environment


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
    # Before the imports below (Dask's alone is ~0.7 s): the budget counts from the call.
    started = started or time.time()
    from trialflow.runtime import cluster

    frame = data if isinstance(data, pd.DataFrame) else None
    config = _train_config(data, frame, target, config, options)
    if frame is None and config.data:
        _check_header(config.data, config.target)  # in milliseconds, before anything starts
    configure_environment()
    if config.task == "forecast":
        return _forecast(config, frame, started)
    if not config.dask_address:
        cluster.prestart_local_cluster(config.local_workers(), config.gpu_workers)
    return _automl(config, frame, started)


def _train_config(data, frame, target, config, options) -> TrainConfig:
    if config is None:
        if target is None:
            raise TypeError("train() needs target=... (or a config=TrainConfig(...)).")
        return TrainConfig(data=None if frame is not None else data, target=target, **options)
    if options or target is not None:
        raise TypeError("Pass either config=... or keyword options, not both.")
    return config


def _automl(config: TrainConfig, frame: pd.DataFrame | None, started: float):
    """The `automl` flow, with its first steps and search started ahead of Prefect's API."""
    # Imported once the cluster is starting: its worker processes start on the other core
    # while these imports (scikit-learn's among them) run here.
    from trialflow.data import frames
    from trialflow.runtime import cluster, head_start

    # Held here, passed by key: Prefect's API stores flow parameters and refuses big ones.
    frame_key = frames.hold(frame) if frame is not None else ""
    ahead = None
    try:
        # The steps up to the search run now and the search starts on Dask; Prefect's API
        # starts meanwhile, and the flow takes their results over (`head_start`). A bad
        # table fails here, in seconds.
        deadline = started + config.time_budget
        ahead = head_start.start(config, frame_key, deadline)
        # Started only now: importing Prefect beside the search's first submissions and the
        # Great Expectations import (one interpreter lock) delayed the first trial by ~0.6 s
        # on 2 cores, and starting it before the latter made that import 2.5 s slower.
        _start_prefect()
        _start_prewarm(config)
        from trialflow.runtime import prefect_api

        prefect_api.wait_until_ready()
        prefect_ready = time.time() - started
        # Imported late: Prefect and every task module cost seconds of CPU at import, which
        # the first trials need more.
        from trialflow.flows.automl import automl

        with prefect_api.flow_run_settings():
            result = automl(config=config, frame_key=frame_key, deadline=deadline)
        # Prefect's end of the flow run (final state, logs and events sent) after its body.
        result.timings["flow_end"] = round(
            time.time() - started - result.timings.pop("flow_body_ended"), 3
        )
    finally:
        if ahead is not None:
            ahead.discard()  # a search the flow never took over is stopped
        # A run that failed before its search never took the cluster started for it.
        cluster.close_prestarted()
        if frame_key:
            frames.release(frame_key)
    result.timings.update(ahead.timings)
    result.timings["prefect_ready"] = round(prefect_ready, 3)
    if cluster.last_start_seconds is not None and not config.dask_address:
        result.timings["dask_start"] = cluster.last_start_seconds
    result.timings["total"] = round(time.time() - started, 3)
    return result


def _forecast(config: TrainConfig, frame: pd.DataFrame | None, started: float):
    """The `forecast` flow; returns a ForecastResult."""
    from trialflow.data import frames
    from trialflow.runtime import prefect_api

    frame_key = frames.hold(frame) if frame is not None else ""
    try:
        _start_prefect()
        prefect_api.wait_until_ready()
        prefect_ready = time.time() - started
        from trialflow.flows.forecast import forecast

        with prefect_api.flow_run_settings():
            result = forecast(
                config=config, frame_key=frame_key, deadline=started + config.time_budget
            )
    finally:
        if frame_key:
            frames.release(frame_key)
    result.timings.update(prefect_ready=round(prefect_ready, 3))
    result.timings["total"] = round(time.time() - started, 3)
    return result


def _check_header(source: str, target: str) -> None:
    from trialflow.data.tables import read_header
    from trialflow.validation.checks import check_shape

    names = read_header(source)
    if names is not None:
        # One row stands in for the rows read later: only the names are checked here.
        frame = pd.DataFrame([[None] * len(names)], columns=names)
        check_shape(frame, target=target, source=source)


def start_services(config: TrainConfig) -> None:
    """Start what a run will need, in the background: Prefect's API, the local Dask
    cluster, the MLflow store and the imports of the last steps."""
    _start_prefect()
    from trialflow.runtime import cluster

    if not config.dask_address:
        cluster.prestart_local_cluster(config.local_workers(), config.gpu_workers)
    _start_prewarm(config)


def _start_prefect() -> None:
    configure_environment()
    from trialflow.runtime import prefect_api, prefect_server

    # A server started with `trialflow server start` saves the ephemeral API's start-up.
    prefect_server.adopt_running()
    prefect_api.start_in_background()


def _start_prewarm(config: TrainConfig) -> None:
    threading.Thread(target=_prewarm, args=(config,), name="trialflow-prewarm", daemon=True).start()


def _prewarm(config: TrainConfig) -> None:
    from trialflow.registry import store as registry
    from trialflow.runtime import prefect_api
    from trialflow.validation import checks

    try:
        checks._gx_context()
        # MLflow's SQLAlchemy mappers must not be configured while Prefect's are importing.
        prefect_api.wait_until_server_imported()
        registry.prewarm(config.mlflow_tracking_uri)
        # Registration checks the model with skops (import ~1.5 s warm, far more cold).
        # The report draws its charts at the end of the run; the import is ~1 s.
        import matplotlib.backends.backend_agg  # noqa: F401
        import matplotlib.figure  # noqa: F401
        import skops.io  # noqa: F401
    except Exception as exc:  # only a head start: the steps themselves report real failures
        logging.getLogger(__name__).debug("Prewarming Great Expectations/MLflow failed: %s", exc)


def load_model(ref: str, *, tracking_uri: str = ""):
    """The fitted pipeline registered as ``name``, ``name/version`` or ``name@alias``."""
    configure_environment()
    from trialflow.registry.loading import load_model as _load

    pipeline, _ = _load(ref, configured_uri=tracking_uri)
    return pipeline


def predict(
    ref: str,
    data: str | pd.DataFrame,
    *,
    tracking_uri: str = "",
    strict: bool = False,
    impute_missing: bool = False,
    quarantine_out_of_range: bool = False,
    future: str | pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Predictions for a table from a registered model: `row` (input row number from 1),
    `prediction`, plus `proba_<class>`, and `warnings` (values outside the training range
    or unseen in training, per row). Rows that cannot be scored are left out; ``score``
    returns them with the reasons. A forecast model forecasts its horizon after each
    series' last timestamp in ``data`` (series columns, time column, `prediction`, `p10`,
    `p90`); ``future`` gives known covariates for those steps."""
    return score(
        ref,
        data,
        tracking_uri=tracking_uri,
        strict=strict,
        impute_missing=impute_missing,
        quarantine_out_of_range=quarantine_out_of_range,
        future=future,
    ).predictions


def score(
    ref: str,
    data: str | pd.DataFrame,
    *,
    tracking_uri: str = "",
    strict: bool = False,
    impute_missing: bool = False,
    quarantine_out_of_range: bool = False,
    future: str | pd.DataFrame | None = None,
):
    """Validate ``data`` against the model's expectation suite and score every row that can
    be scored; returns a ScoredBatch (predictions with per-row warnings, quarantined rows
    with reasons, findings). For a forecast model, ``data`` is the history to forecast
    from and ``future`` the known covariates of the forecast steps (a ForecastBatch)."""
    from trialflow.data.tables import read_table
    from trialflow.registry.loading import load_expectations
    from trialflow.registry.loading import load_model as _load
    from trialflow.serving.scoring import check_and_score

    configure_environment()
    frame = read_table(data) if isinstance(data, str) else data
    pipeline, model = _load(ref, configured_uri=tracking_uri)
    if getattr(pipeline, "task", None) == "forecast":
        from trialflow.forecast.run import forecast_batch

        return forecast_batch(
            pipeline, frame, read_table(future) if isinstance(future, str) else future
        )
    if future is not None:
        raise ConfigError(
            f"--future gives the known covariates of a forecast; {ref!r} is not a forecast model."
        )
    return check_and_score(
        pipeline,
        frame,
        load_expectations(model),
        source=data if isinstance(data, str) else "a DataFrame",
        strict=strict,
        impute_missing=impute_missing,
        quarantine_out_of_range=quarantine_out_of_range,
    )


def retrain(
    config: TrainConfig,
    *,
    evaluation_data: str = "",
    newest_share: float = 0.2,
    margin: float = 0.0,
) -> dict:
    """Champion / challenger retraining (the `retrain` flow): train on ``config.data`` and move
    the `champion` alias only if the new version wins on fresh rows by ``margin``."""
    from trialflow.options import RetrainOptions

    options = RetrainOptions(
        evaluation_data=evaluation_data, newest_share=newest_share, margin=margin
    )
    if not config.data:
        raise ConfigError("Retraining reads its data from a path: set 'data' in the config.")
    _check_header(config.data, config.target)
    start_services(config)
    from trialflow.flows.retrain import retrain as retrain_flow
    from trialflow.runtime import cluster, prefect_api

    try:
        prefect_api.wait_until_ready()
        with prefect_api.flow_run_settings():
            return retrain_flow(config=config, **options.model_dump())
    finally:
        cluster.close_prestarted()


def score_file(
    ref: str,
    data: str,
    output: str,
    *,
    tracking_uri: str = "",
    chunk_rows: int | None = None,
    strict: bool = False,
    impute_missing: bool = False,
    quarantine_out_of_range: bool = False,
) -> dict:
    """Batch scoring as the `score-batch` flow runs it: chunk by chunk at constant memory,
    validated with the model's suite, every output row tagged with the model version, the
    outputs renamed into place only when all chunks are done."""
    from trialflow.options import CHUNK_ROWS, ScoreBatchOptions

    # Checked before anything starts (the flow checks them again for runs from elsewhere).
    options = ScoreBatchOptions(
        chunk_rows=CHUNK_ROWS if chunk_rows is None else chunk_rows,
        strict=strict,
        impute_missing=impute_missing,
        quarantine_out_of_range=quarantine_out_of_range,
    )
    _start_prefect()
    from trialflow.serving import batch_ahead

    # Scored while Prefect's API starts; the flow run takes the batch over (batch_ahead).
    batch_ahead.start(ref, data, output, options.model_dump(), tracking_uri)
    try:
        from trialflow.flows.score_batch import score_batch
        from trialflow.runtime import prefect_api

        prefect_api.wait_until_ready()
        with prefect_api.flow_run_settings():
            return score_batch(
                model=ref,
                input_path=data,
                output_path=output,
                **options.model_dump(),
                mlflow_tracking_uri=tracking_uri,
            )
    finally:
        batch_ahead.cancel_all()  # a batch no flow run took over writes nothing
