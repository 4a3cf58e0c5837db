"""What a learner declares: its name, tasks, estimator factory, search space and defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trialflow.learners.space import Dimension

# (task, hyperparameters, seed, n_jobs) -> an unfitted scikit-learn estimator
EstimatorFactory = Callable[[str, dict[str, Any], int, int], Any]


@dataclass(frozen=True)
class LearnerSpec:
    """A learner as the search sees it.

    ``defaults`` is the strong default configuration tried first; it must lie in ``space``.
    ``categorical_encoding`` says how categorical columns reach the estimator: "native"
    (pandas categories) or "onehot".
    """

    name: str
    tasks: tuple[str, ...]
    build: EstimatorFactory
    space: dict[str, Dimension]
    defaults: dict[str, Any]
    categorical_encoding: str = "native"
    description: str = ""
    fixed: dict[str, Any] = field(default_factory=dict)
    # Import path (package.module:NAME) of a user's learner, so workers can load it too.
    source: str = ""

    def supports(self, task: str) -> bool:
        return task in self.tasks

    def make(self, task: str, params: dict[str, Any], *, seed: int, n_jobs: int = 1):
        if not self.supports(task):
            raise ValueError(f"Learner {self.name!r} does not support {task} tasks.")
        return self.build(task, {**self.fixed, **params}, seed, n_jobs)
