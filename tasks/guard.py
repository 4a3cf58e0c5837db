"""Task: the training guardrails, the expectation suite scoring will enforce, and the data
profile the recommender starts from."""

from __future__ import annotations

from prefect import get_run_logger
from prefect.artifacts import create_table_artifact

from trialflow import steps
from trialflow.config import TrainConfig
from trialflow.data.loading import TrainingTable
from trialflow.featurizers import ColumnPlan
from trialflow.runtime import head_start
from trialflow.steps import Validation
from trialflow.tasks.step import log_ran_ahead, step
from trialflow.validation.guardrails import guardrails_frame

__all__ = ["Validation", "check_guardrails"]


def checkpoint_key(parameters: dict) -> str:
    return steps.validation_key(parameters["table"], parameters["config"], parameters["metric"])


@step("guardrails", checkpoint=checkpoint_key)
def check_guardrails(
    table: TrainingTable, plan: ColumnPlan, config: TrainConfig, metric: str
) -> Validation:
    ahead = head_start.take(steps.validation_key(table, config, metric))
    validation = ahead.value if ahead else steps.validate(table, plan, config, metric)
    logger = get_run_logger()
    log_ran_ahead(logger, ahead)
    for g in validation.guardrails:
        if g.status != "passed":
            log = logger.warning if g.status == "alert" else logger.info
            log("Guardrail %s (%s): %s. %s", g.name, g.status, g.found, g.action)
    create_table_artifact(
        key="guardrails",
        table=guardrails_frame(validation.guardrails).to_dict(orient="records"),
        description="What trialflow found in the training data (passed / done / alert) "
        "and what it did about it.",
    )
    create_table_artifact(
        key="data-profile",
        table=[{"meta-feature": k, "value": round(v, 4)} for k, v in validation.profile.items()],
        description="The data profile the pipeline recommender starts from.",
    )
    return validation
