"""The pipeline portfolio: fixed learner + hyperparameter instantiations, the discrete items
the recommender ranks (like the films of a film recommender).

Drawn once, with a fixed seed, from the learners' own search spaces, plus each learner's
default. Pipelines carry ids that the knowledge base refers to, so the portfolio must not
change without rebuilding it (PORTFOLIO_VERSION says which one a knowledge base used).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

PORTFOLIO_VERSION = 1
PORTFOLIO_SEED = 20181203  # NeurIPS 2018, where the PMF recommender was published
# Sampled configurations per learner, besides its default.
SAMPLES = {
    "lightgbm": 19,
    "hist_gradient_boosting": 11,
    "extra_trees": 7,
    "random_forest": 7,
    "logistic_regression": 5,
    "elastic_net": 5,
}


@dataclass(frozen=True)
class Pipeline:
    id: str
    learner: str
    params: dict[str, Any]

    def supports(self, task: str) -> bool:
        from trialflow.learners import get_learner

        return get_learner(self.learner).supports(task)


@lru_cache(maxsize=1)
def portfolio() -> tuple[Pipeline, ...]:
    """Every pipeline of the portfolio, in a fixed order: each learner's default first."""
    from trialflow.learners import get_learner
    from trialflow.learners.space import sample_config

    rng = np.random.default_rng(PORTFOLIO_SEED)
    pipelines = []
    for learner, samples in SAMPLES.items():
        spec = get_learner(learner)
        configs = [dict(spec.defaults)] + [sample_config(spec.space, rng) for _ in range(samples)]
        for params in configs:
            params = {k: _plain(v) for k, v in params.items()}
            pipelines.append(Pipeline(_pipeline_id(learner, params), learner, params))
    return tuple(pipelines)


def _pipeline_id(learner: str, params: dict[str, Any]) -> str:
    text = learner + json.dumps(params, sort_keys=True)
    return f"{learner}-{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _plain(value):
    if isinstance(value, np.generic):
        value = value.item()
    return round(value, 6) if isinstance(value, float) else value
