"""Task: register the fitted pipeline with its leaderboard and lineage in MLflow."""

from __future__ import annotations

from prefect import get_run_logger
from prefect.runtime import flow_run

from trialflow.metalearn.knowledge import record_run
from trialflow.registry.contents import model_contents
from trialflow.registry.store import RegisteredModel, register_model
from trialflow.registry.trusted import user_modules
from trialflow.run_record import RunRecord
from trialflow.runtime import progress
from trialflow.tasks.step import step


@step("register")
def register(run: RunRecord) -> RegisteredModel:
    progress.emit("stage", name="register")
    contents = model_contents(run, flow_run_id=str(flow_run.get_id() or ""))
    registered = register_model(
        run.final,
        name=run.config.resolved_model_name(),
        configured_uri=run.config.mlflow_tracking_uri,
        sample=run.table.X.head(50),
        **vars(contents),  # not asdict: that deep-copies every table
        trusted_modules=user_modules(run.config, run.plan),
        trusted=run.trusted,
    )
    logger = get_run_logger()
    logger.info("Registered %s version %s.", registered.name, registered.version)
    try:
        # The recommender learns from this project's runs (trialflow metalearn refresh).
        record_run(
            name=registered.name,
            task=run.table.task,
            metric=run.metric,
            rows=len(run.table.X),
            profile=run.validation.profile,
            trials=run.trials,
        )
    except OSError as exc:  # the model is registered; a history line is not worth failing for
        logger.warning("Could not record this run for the recommender: %s", exc)
    return registered
