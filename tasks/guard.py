"""Task: the training guardrails, the expectation suite scoring will enforce, and the data
profile the recommender starts from."""

from __future__ import annotations

from dataclasses import dataclass

from prefect import get_run_logger
from prefect.artifacts import create_table_artifact

from trialflow import progress
from trialflow.checkpoints import config_digest, step_key
from trialflow.config import TrainConfig
from trialflow.expectation_suite import learn_suite
from trialflow.featurizers import ColumnPlan
from trialflow.guardrails import Guardrail, guardrails_frame, training_guardrails
from trialflow.loading import TrainingTable
from trialflow.metalearn.profile import profile_table
from trialflow.tasks.step import step


@dataclass(frozen=True)
class Validation:
    guardrails: list[Guardrail]
    # The Great Expectations suite (its JSON document) saved with the model.
    suite: dict
    # The data profile (meta-features) the recommender starts from.
    profile: dict


def checkpoint_key(parameters: dict) -> str:
    # The plan is a function of the table and the config, so they key it too.
    table, config = parameters["table"], parameters["config"]
    return step_key("guardrails", table.fingerprint, config_digest(config), parameters["metric"])


@step("guardrails", checkpoint=checkpoint_key)
def check_guardrails(
    table: TrainingTable, plan: ColumnPlan, config: TrainConfig, metric: str
) -> Validation:
    progress.emit("stage", name="guardrails")
    guardrails = training_guardrails(table, plan, config, metric)
    suite = learn_suite(table.X, plan)
    profile = profile_table(table.X, table.y, table.task, plan.kinds, seed=config.seed)
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
    create_table_artifact(
        key="data-profile",
        table=[{"meta-feature": k, "value": round(v, 4)} for k, v in profile.items()],
        description="The data profile the pipeline recommender starts from.",
    )
    return Validation(guardrails, suite, profile)
