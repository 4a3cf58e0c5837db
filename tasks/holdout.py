"""Task: score the final model once on the rows kept out of search and refit."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow.holdout import Holdout, holdout_scores
from trialflow.tasks.step import step


@step("holdout")
def score_holdout(model, holdout: Holdout, task: str, metric: str) -> dict[str, float]:
    scores = holdout_scores(model, holdout, task, metric)
    get_run_logger().info(
        "Holdout (%d rows): %s.", len(holdout), ", ".join(f"{k} {v:.4f}" for k, v in scores.items())
    )
    return scores
