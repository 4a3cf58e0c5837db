"""Tasks: fairness of the final model across each sensitive column's groups, and the
optional post-processing mitigation."""

from __future__ import annotations

from prefect import get_run_logger
from prefect.artifacts import create_table_artifact

from trialflow.fairness.measure import FairnessReport, assess
from trialflow.report.artifacts import table_records
from trialflow.run_record import RunRecord
from trialflow.runtime import progress
from trialflow.tasks.step import step


@step("fairness")
def check_fairness(run: RunRecord) -> FairnessReport | None:
    """On the final model's out-of-fold predictions (its members', blended by weight)."""
    from trialflow.fairness.mitigation import blended_oof, mitigation_tradeoff

    config, table = run.config, run.table
    if not config.sensitive or any(m.oof is None for m in run.members):
        return None
    progress.emit("stage", name="fairness")
    oof = blended_oof(run.members, run.weights)
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
        report.mitigation = mitigation_tradeoff(table.X, table.y, table.classes, oof, config)
    logger = get_run_logger()
    for alert in report.alerts:
        logger.warning("Fairness: %s.", alert)
    _publish(report, config.mitigate)
    return report


def _publish(report: FairnessReport, constraint: str | None) -> None:
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
            description=f"Original against mitigated ({constraint}), cross-fitted.",
        )


@step("mitigate")
def mitigate_model(run: RunRecord):
    """The refit model post-processed with per-group thresholds, when the fairness report
    has a mitigation trade-off (the config asked for one); else None."""
    if run.fairness is None or run.fairness.mitigation is None:
        return None
    from trialflow.fairness.mitigation import blended_oof, mitigate_final

    progress.emit("stage", name="mitigate")
    oof = blended_oof(run.members, run.weights)
    return mitigate_final(run.pipeline, run.table.X, run.table.y, oof, run.config)
