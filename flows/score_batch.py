"""The `score-batch` flow: a registered model scores a file into another, validated with the
model's suite, in chunks at constant memory, written atomically."""

from __future__ import annotations

import time

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact

from trialflow.options import CHUNK_ROWS, ScoreBatchOptions
from trialflow.serving.batch_scoring import score_file


@flow(name="score-batch", version="0.1.0")
def score_batch(
    model: str,
    input_path: str,
    output_path: str,
    chunk_rows: int = CHUNK_ROWS,
    strict: bool = False,
    impute_missing: bool = False,
    quarantine_out_of_range: bool = False,
    mlflow_tracking_uri: str = "",
) -> dict:
    """Score ``input_path`` (.csv or .parquet) with ``model`` (NAME, NAME/VERSION or
    NAME@ALIAS) into ``output_path``; quarantined rows go beside it."""
    from trialflow.registry.loading import load_expectations, load_model
    from trialflow.serving import batch_ahead

    options = ScoreBatchOptions(
        chunk_rows=chunk_rows,
        strict=strict,
        impute_missing=impute_missing,
        quarantine_out_of_range=quarantine_out_of_range,
    )
    logger = get_run_logger()

    def log_chunk(c) -> None:
        logger.info("Chunk %d: %s rows so far.", c.chunks, f"{c.rows:,}")

    ahead = batch_ahead.take(
        model, input_path, output_path, options.model_dump(), mlflow_tracking_uri
    )
    if ahead is not None:
        logger.info(
            "Scoring started %.1f s before this flow run, while Prefect's API started; "
            "following it (the files are renamed into place only now).",
            time.time() - ahead.started,
        )
        version = ahead.model_version
        counts = ahead.follow(log_chunk)
    else:
        pipeline, registered = load_model(model, configured_uri=mlflow_tracking_uri)
        version = f"{registered.name}/{registered.version}"
        if getattr(pipeline, "task", None) == "forecast":
            from trialflow.forecast.run import forecast_file

            counts = forecast_file(pipeline, input_path, output_path, model_version=version)
            logger.info("Forecast %d steps from %d rows of history.", counts.scored, counts.rows)
            return {"model_version": version, **vars(counts)}
        counts = score_file(
            pipeline,
            load_expectations(registered),
            input_path,
            output_path,
            model_version=version,
            **options.model_dump(),
            on_chunk=log_chunk,
        )
    for line in counts.summary():
        logger.info(line)
    create_markdown_artifact(
        key="score-batch",
        markdown="\n\n".join(
            [f"Model **{version}** scored `{input_path}` into `{output_path}`.", *counts.summary()]
        ),
    )
    return {"model_version": version, **vars(counts)}
