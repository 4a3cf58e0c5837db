"""Task: the ordered portfolio of learners to search for this task."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow.learners import portfolio_for
from trialflow.tasks.step import step


@step("select")
def select_learners(task: str, user_learners: list[str]) -> list[str]:
    names = [spec.name for spec in portfolio_for(task, user_learners)]
    get_run_logger().info("Portfolio for %s: %s.", task, ", ".join(names))
    return names
