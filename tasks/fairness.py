"""Tasks: fairness of the final model across each sensitive column's groups, and the
optional post-processing mitigation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from prefect import get_run_logger
from prefect.artifacts import create_table_artifact

from trialflow import progress
from trialflow.config import TrainConfig
from trialflow.fairness import FairnessReport, assess
from trialflow.loading import TrainingTable
from trialflow.tasks.publish import table_records
from trialflow.tasks.step import step
from trialflow.trial import TrialResult


@dataclass
class Mitigation:
    """What the report shows of a mitigation: its constraint and column, the cross-fitted
    trade-off (rows "original" and "mitigated") and which model was registered."""

    constraint: str
    column: str
    tradeoff: pd.DataFrame
    registered: str


@step("fairness")
def check_fairness(
    table: TrainingTable, members: list[TrialResult], weights: list[float], config: TrainConfig
) -> FairnessReport | None:
    """On the final model's out-of-fold predictions (its members', blended by weight)."""
    if not config.sensitive or any(m.oof is None for m in members):
        return None
    progress.emit("stage", name="fairness")
    oof = blended_oof(members, weights)
    report = assess(
        table.X,
        table.y,
        oof,
        sensitive=config.sensitive,
        task=table.task,
        classes=table.classes,
        max_difference=config.fairness_max_difference,
        min_ratio=config.fairness_min_ratio,
        min_representation=config.min_group_share,
    )
    if config.mitigate and table.task == "binary":
        report.mitigation = _tradeoff(table, oof, config)
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
    create_table_artifact(
        key="fairness-representation",
        table=table_records(report.representation),
        description="Each group's share of the training rows.",
    )
    if report.mitigation is not None:
        create_table_artifact(
            key="fairness-mitigation",
            table=table_records(report.mitigation.tradeoff.reset_index(names="model")),
            description=f"Original against mitigated ({config.mitigate}), cross-fitted.",
        )
    return report


@step("mitigate")
def mitigate_model(
    pipeline,
    table: TrainingTable,
    members: list[TrialResult],
    weights: list[float],
    config: TrainConfig,
):
    """The final model post-processed with per-group thresholds learned on its out-of-fold
    scores for the first sensitive column."""
    from trialflow.mitigation import mitigate

    progress.emit("stage", name="mitigate")
    scores = _positive_scores(blended_oof(members, weights))
    known = ~np.isnan(scores)
    return mitigate(
        pipeline,
        table.X[known],
        np.asarray(table.y)[known],
        scores[known],
        sensitive=config.sensitive[0],
        constraint=config.mitigate,
        seed=config.seed,
    )


def blended_oof(members: list[TrialResult], weights: list[float]) -> np.ndarray:
    return sum(w * np.asarray(m.oof) for m, w in zip(members, weights, strict=True))


def _positive_scores(oof: np.ndarray) -> np.ndarray:
    return oof[:, 1] if oof.ndim == 2 else oof


def _tradeoff(table: TrainingTable, oof: np.ndarray, config: TrainConfig) -> Mitigation:
    from trialflow.mitigation import group_bins, groups_of, tradeoff

    column = config.sensitive[0]
    scores = _positive_scores(oof)
    known = ~np.isnan(scores)
    values = table.X[column][known]
    groups = groups_of(values, group_bins(values))
    truth = (np.asarray(table.y)[known] == table.classes[1]).astype(int)
    return Mitigation(
        constraint=config.mitigate,
        column=column,
        tradeoff=tradeoff(scores[known], truth, groups, config.mitigate, seed=config.seed),
        registered="mitigated" if config.register_mitigated else "original",
    )
