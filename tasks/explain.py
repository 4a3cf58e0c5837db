"""Task: global importance of the final model, by raw column and by engineered feature."""

from __future__ import annotations

import math
import time

from prefect import get_run_logger

from trialflow.explain.importance import ModelImportance, global_importance
from trialflow.run_record import RunRecord
from trialflow.runtime import progress
from trialflow.tasks.step import step

# Most seconds the importance's model calls may take (tree SHAP, permutation importance's
# predictions), shared by an ensemble's members; a deadline nearer than that shortens it.
# About 2 % of a 60 s budget. On credit_data, all of the 500-row sample fits for the
# defaults: LightGBM's tree SHAP 0.22 s, a logistic regression's shuffles 0.2 s, a
# RandomForest's 0.5 s.
EXPLAIN_SECONDS = 1.0


@step("explain")
def explain(run: RunRecord) -> ModelImportance:
    """Of the refit model (a mitigated model post-processes it, with the same inputs)."""
    progress.emit("stage", name="explain")
    deadline = run.budget.explain_deadline(serialise_seconds=run.timings.get("package", 0.0))
    # No cap without a clock (a deterministic run): the fixed sample then always decides.
    seconds = (
        min(EXPLAIN_SECONDS, max(deadline - time.time(), 0.0)) if math.isfinite(deadline) else None
    )
    found = global_importance(
        run.pipeline,
        run.table.X,
        run.table.y,
        columns=run.plan.input_columns,
        metric=run.metric,
        classes=run.table.classes,
        seed=run.config.seed,
        seconds=seconds,
    )
    top = found.raw.head(5)
    get_run_logger().info(
        "Most important columns: %s.",
        ", ".join(f"{c} ({v:.4f})" for c, v in zip(top["column"], top["importance"], strict=True)),
    )
    return found
