"""The learner registry: the one place a learner is made known to the search.

Order matters: it is the portfolio order, strongest first on typical tables.
"""

from __future__ import annotations

from trialflow.learners.forests import EXTRA_TREES, RANDOM_FOREST
from trialflow.learners.hist_gradient_boosting import HIST_GRADIENT_BOOSTING
from trialflow.learners.lightgbm import LIGHTGBM
from trialflow.learners.linear import ELASTIC_NET, LOGISTIC_REGRESSION
from trialflow.learners.spec import LearnerSpec

LEARNERS: dict[str, LearnerSpec] = {
    spec.name: spec
    for spec in (
        LIGHTGBM,
        HIST_GRADIENT_BOOSTING,
        EXTRA_TREES,
        RANDOM_FOREST,
        LOGISTIC_REGRESSION,
        ELASTIC_NET,
    )
}


def get_learner(name: str) -> LearnerSpec:
    if name not in LEARNERS:
        raise KeyError(f"No learner named {name!r}; registered: {sorted(LEARNERS)}.")
    return LEARNERS[name]


def portfolio_for(task: str) -> list[LearnerSpec]:
    """The learners that support ``task``, in portfolio order."""
    return [spec for spec in LEARNERS.values() if spec.supports(task)]


__all__ = ["LEARNERS", "LearnerSpec", "get_learner", "portfolio_for"]
