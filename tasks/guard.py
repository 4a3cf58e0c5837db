"""Task: the training guardrails and the expectation suite scoring will enforce."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger
from prefect.artifacts import create_table_artifact

from trialflow import progress
from trialflow.config import TrainConfig
from trialflow.expectation_suite import learn_suite
from trialflow.featurizers import ColumnPlan
from trialflow.guardrails import Guardrail, guardrails_frame, training_guardrails
from trialflow.loading import TrainingTable
from trialflow.tasks.step import step


@dataclass(frozen=True)
class Validation:
    guardrails: list[Guardrail]
    # The Great Expectations suite (its JSON document) saved with the model.
    suite: dict


@step("guardrails")
def check_guardrails(
    table: TrainingTable, plan: ColumnPlan, config: TrainConfig, metric: str
) -> Validation:
    progress.emit("stage", name="guardrails")
    guardrails = training_guardrails(table, plan, config, metric)
    suite = learn_suite(table.X, plan)
    logger = get_run_logger()
    for g in guardrails:
        if g.status != "passed":
            log = logger.warning if g.status == "alert" else logger.info
            log("Guardrail %s (%s): %s. %s", g.name, g.status, g.found, g.action)
    create_table_artifact(
        key="guardrails",
        table=guardrails_frame(guardrails).to_dict(orient="records"),
        description="What trialflow found in the training data (passed / done / alert) "
        "and what it did about it.",
    )
    return Validation(guardrails, suite)
