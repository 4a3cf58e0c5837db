"""Search strategies: small objects that propose the next configuration to try.

A strategy sees the finished trials and the seconds left, and answers with a proposal or
``None`` (nothing worth starting). The search loop owns timing and distribution.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from trialflow.learners import LearnerSpec
from trialflow.learners.space import sample_config
from trialflow.trial import TrialResult, TrialSpec

# Proposals whose expected duration exceeds the time left by this factor are not started.
DURATION_SAFETY = 1.3
# A learner is dropped from the search after this many failed trials without a success.
MAX_FAILURES = 2


class SearchStrategy(Protocol):
    def propose(
        self, trial_id: int, history: Sequence[TrialResult], *, seconds_left: float
    ) -> TrialSpec | None: ...


class RandomSearch:
    """Each learner's strong default first, in portfolio order; then random configurations.

    Random proposals favour learners whose best score ranks high (weight 1/rank²), and skip
    any whose expected duration does not fit in the time left.
    """

    def __init__(self, portfolio: Sequence[LearnerSpec], *, seed: int, greater_is_better: bool):
        if not portfolio:
            raise ValueError("The 'portfolio' parameter must hold at least one learner; got none.")
        self.portfolio = list(portfolio)
        self.seed = seed
        self.greater_is_better = greater_is_better
        self._rng = np.random.default_rng(seed)
        self._defaults_left = list(self.portfolio)

    def propose(
        self, trial_id: int, history: Sequence[TrialResult], *, seconds_left: float
    ) -> TrialSpec | None:
        if self._defaults_left:
            spec = self._defaults_left.pop(0)
            return TrialSpec(trial_id, spec.name, dict(spec.defaults), self.seed)
        candidates = self._ranked_learners(history)
        if not candidates:
            return None
        weights = np.array([1.0 / (rank + 1) ** 2 for rank in range(len(candidates))])
        for _ in range(10):
            spec = candidates[self._rng.choice(len(candidates), p=weights / weights.sum())]
            params = sample_config(spec.space, self._rng)
            expected = expected_seconds(spec.name, params, history)
            if expected * DURATION_SAFETY <= seconds_left:
                return TrialSpec(trial_id, spec.name, params, self.seed)
        return None

    def _ranked_learners(self, history: Sequence[TrialResult]) -> list[LearnerSpec]:
        sign = -1.0 if self.greater_is_better else 1.0
        best: dict[str, float] = {}
        failures: dict[str, int] = {}
        for r in history:
            if r.status == "ok" and r.score is not None:
                best[r.learner] = min(best.get(r.learner, np.inf), sign * r.score)
            elif r.status == "failed":
                failures[r.learner] = failures.get(r.learner, 0) + 1
        usable = [
            s for s in self.portfolio if s.name in best or failures.get(s.name, 0) < MAX_FAILURES
        ]
        return sorted(usable, key=lambda s: best.get(s.name, np.inf))


def _size(params: dict) -> float:
    """A learner's cost grows about linearly with its number of trees or iterations."""
    return float(params.get("n_estimators") or params.get("max_iter") or 1)


def expected_seconds(learner: str, params: dict, history: Sequence[TrialResult]) -> float:
    """Expected wall seconds of a trial, from finished trials of the same learner."""
    rates = [
        r.wall_seconds / _size(r.params)
        for r in history
        if r.learner == learner and r.status == "ok"
    ]
    if not rates:
        return 0.0
    return float(np.median(rates) * _size(params))
