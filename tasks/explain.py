"""Task: global importance of the final model, by raw column and by engineered feature."""

from __future__ import annotations

import time
from dataclasses import dataclass

import pandas as pd
from prefect import get_run_logger

from trialflow import progress
from trialflow.contributions import is_single_lightgbm, shap_importance
from trialflow.explain import engineered_permutation_importance, permutation_importance
from trialflow.featurizers import ColumnPlan
from trialflow.loading import TrainingTable
from trialflow.tasks.step import step


@dataclass
class Importance:
    """Importance per raw input column and, for a single model, per engineered feature."""

    raw: pd.DataFrame
    engineered: pd.DataFrame | None
    method: str


@step("explain")
def explain(
    pipeline, table: TrainingTable, plan: ColumnPlan, metric: str, seed: int, deadline: float
) -> Importance:
    progress.emit("stage", name="explain")
    if is_single_lightgbm(pipeline):
        # Exact and cheap: LightGBM's own tree SHAP, one pass over a sample.
        raw, engineered = shap_importance(pipeline, table.X, seed=seed)
        method = (
            "Mean absolute SHAP value (exact tree SHAP from LightGBM) on a sample of up to "
            "2,000 training rows; a raw column's value sums the parts engineered from it."
        )
    else:
        single = hasattr(pipeline, "named_steps")  # a single pipeline, not an ensemble
        # A single pipeline leaves part of the time to its engineered features.
        raw_deadline = time.time() + 0.6 * (deadline - time.time()) if single else deadline
        raw = permutation_importance(
            pipeline,
            table.X,
            table.y,
            columns=plan.input_columns,
            metric=metric,
            classes=table.classes,
            seed=seed,
            deadline=raw_deadline,
        )
        engineered = None
        if single:
            engineered = engineered_permutation_importance(
                pipeline,
                table.X,
                table.y,
                metric=metric,
                classes=table.classes,
                seed=seed,
                deadline=deadline,
            )
        method = (
            f"Permutation importance: how much the {metric} worsens when one column's values "
            "are shuffled (mean of 3 shuffles on up to 2,000 training rows). Columns not "
            "reached within the time budget are left blank."
        )
    top = raw.head(5)
    get_run_logger().info(
        "Most important columns: %s.",
        ", ".join(f"{c} ({v:.4f})" for c, v in zip(top["column"], top["importance"], strict=True)),
    )
    return Importance(raw, engineered, method)
