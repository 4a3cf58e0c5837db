"""Task: global importance of each raw input column for the final model."""

from __future__ import annotations

import pandas as pd
from prefect import get_run_logger

from trialflow import progress
from trialflow.explain import permutation_importance
from trialflow.featurizers import ColumnPlan
from trialflow.loading import TrainingTable
from trialflow.tasks.step import step


@step("explain")
def explain(
    pipeline, table: TrainingTable, plan: ColumnPlan, metric: str, seed: int, deadline: float
) -> pd.DataFrame:
    progress.emit("stage", name="explain")
    importance = permutation_importance(
        pipeline,
        table.X,
        table.y,
        columns=plan.input_columns,
        metric=metric,
        classes=table.classes,
        seed=seed,
        deadline=deadline,
    )
    top = importance.head(5)
    get_run_logger().info(
        "Most important columns: %s.",
        ", ".join(f"{c} ({v:.4f})" for c, v in zip(top["column"], top["importance"], strict=True)),
    )
    return importance
