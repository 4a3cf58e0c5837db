"""Task: global importance of the final model, by raw column and by engineered feature."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import pandas as pd
from prefect import get_run_logger

from trialflow import progress
from trialflow.explain import global_importance
from trialflow.featurizers import ColumnPlan
from trialflow.loading import TrainingTable
from trialflow.tasks.step import step

# Most seconds the importance's model calls may take (tree SHAP, permutation importance's
# predictions), shared by an ensemble's members; a deadline nearer than that shortens it.
# About 2 % of a 60 s budget. On credit_data, all of the 500-row sample fits for the
# defaults: LightGBM's tree SHAP 0.22 s, a logistic regression's shuffles 0.2 s, a
# RandomForest's 0.5 s.
EXPLAIN_SECONDS = 1.0


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
    # No cap without a clock (a deterministic run): the fixed sample then always decides.
    seconds = (
        min(EXPLAIN_SECONDS, max(deadline - time.time(), 0.0)) if math.isfinite(deadline) else None
    )
    found = global_importance(
        pipeline,
        table.X,
        table.y,
        columns=plan.input_columns,
        metric=metric,
        classes=table.classes,
        seed=seed,
        seconds=seconds,
    )
    top = found.raw.head(5)
    get_run_logger().info(
        "Most important columns: %s.",
        ", ".join(f"{c} ({v:.4f})" for c, v in zip(top["column"], top["importance"], strict=True)),
    )
    return Importance(found.raw, found.engineered, found.method)
