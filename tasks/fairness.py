"""Task: fairness of the final model across each sensitive column's groups."""

from __future__ import annotations

import numpy as np
from prefect import get_run_logger
from prefect.artifacts import create_table_artifact

from trialflow import progress
from trialflow.fairness import FairnessReport, assess
from trialflow.loading import TrainingTable
from trialflow.tasks.publish import table_records
from trialflow.tasks.step import step
from trialflow.trial import TrialResult


@step("fairness")
def check_fairness(
    table: TrainingTable, members: list[TrialResult], weights: list[float], sensitive: list[str]
) -> FairnessReport | None:
    """On the final model's out-of-fold predictions (its members', blended by weight)."""
    if not sensitive or any(m.oof is None for m in members):
        return None
    progress.emit("stage", name="fairness")
    oof = sum(w * np.asarray(m.oof) for m, w in zip(members, weights, strict=True))
    report = assess(
        table.X, table.y, oof, sensitive=sensitive, task=table.task, classes=table.classes
    )
    logger = get_run_logger()
    for alert in report.alerts:
        logger.warning("Fairness: %s.", alert)
    create_table_artifact(
        key="fairness-groups",
        table=table_records(report.groups),
        description="Per-group metrics of the final model's out-of-fold predictions.",
    )
    create_table_artifact(
        key="fairness-disparities",
        table=table_records(report.disparities),
        description="Largest differences between groups (groups too small to judge left out).",
    )
    return report
