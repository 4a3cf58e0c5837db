"""What every search strategy shares: the interface the search loop calls, the settings it
is built from, and the bookkeeping strategies have in common.

A strategy sees the finished trials and the seconds left, and answers with a proposal or
``None`` (nothing worth starting now). The search loop owns timing and distribution, so a
strategy is a plain object that tests can drive without a cluster.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from trialflow.learners import LearnerSpec
from trialflow.trial import TrialResult, TrialSpec

# Proposals whose expected duration exceeds the time left by this factor are not started.
DURATION_SAFETY = 1.3
# A learner is dropped from the search after this many failed trials without a success.
MAX_FAILURES = 2


class SearchStrategy(Protocol):
    name: str

    def propose(
        self, trial_id: int, history: Sequence[TrialResult], *, seconds_left: float
    ) -> TrialSpec | None: ...


@dataclass(frozen=True)
class StrategySettings:
    """A strategy's settings, taken from the run's config."""

    seed: int
    greater_is_better: bool
    max_trials: int | None = None
    # Successive halving: keep the best 1/reduction_factor of each rung; the lowest rung
    # gets min_resource of the full resource; brackets > 1 runs Hyperband's brackets.
    reduction_factor: int = 3
    min_resource: float = 1 / 9
    brackets: int = 1
    # Grid: values per numeric hyperparameter.
    grid_points: int = 3
    # The recommender: the task and the data profile (trialflow.metalearn.profile).
    task: str = ""
    profile: dict | None = None


def config_key(learner: str, params: dict[str, Any]) -> str:
    return learner + json.dumps(params, sort_keys=True, default=str)


class Proposer:
    """Shared state of the built-in strategies: portfolio, seeded RNG, what was proposed.

    Every learner's strong default runs first, in portfolio order and on its full resource,
    so no search ends below the defaults; a default already in the history (a resumed
    search) is not proposed again.
    """

    name = "base"

    def __init__(self, portfolio: Sequence[LearnerSpec], settings: StrategySettings):
        if not portfolio:
            raise ValueError("The 'portfolio' parameter must hold at least one learner; got none.")
        self.portfolio = list(portfolio)
        self.settings = settings
        self.rng = np.random.default_rng(settings.seed)
        self.proposed: set[str] = set()
        self._history_keys: set[str] = set()
        self._history_seen = 0
        self._defaults_left = list(self.portfolio)

    def spec(self, trial_id: int, learner: str, params: dict, **fields) -> TrialSpec:
        self.proposed.add(config_key(learner, params))
        return TrialSpec(trial_id, learner, params, self.settings.seed, origin=self.name, **fields)

    @property
    def defaults_pending(self) -> bool:
        """Whether some learner's default has not been proposed yet."""
        return bool(self._defaults_left)

    def skip_default(self, learner: str) -> None:
        """Another strategy already proposed this learner's default."""
        self._defaults_left = [s for s in self._defaults_left if s.name != learner]

    def next_default(self, trial_id: int, history: Sequence[TrialResult]) -> TrialSpec | None:
        done = {config_key(r.learner, r.params) for r in history}
        while self._defaults_left:
            learner = self._defaults_left.pop(0)
            if config_key(learner.name, learner.defaults) not in done:
                return self.spec(trial_id, learner.name, dict(learner.defaults))
        return None

    def seen(self, learner: str, params: dict, history: Sequence[TrialResult]) -> bool:
        # History only grows, so only its new records are serialised (grid asks per point).
        for r in history[self._history_seen :]:
            self._history_keys.add(config_key(r.learner, r.params))
        self._history_seen = len(history)
        key = config_key(learner, params)
        return key in self.proposed or key in self._history_keys

    def ranked_learners(self, history: Sequence[TrialResult]) -> list[LearnerSpec]:
        """Usable learners, best score first; a learner that only fails drops out."""
        sign = -1.0 if self.settings.greater_is_better else 1.0
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

    def pick_learner(self, history: Sequence[TrialResult]) -> LearnerSpec | None:
        """A learner drawn with weight 1/rank²: the best ones get most of the budget."""
        candidates = self.ranked_learners(history)
        if not candidates:
            return None
        weights = np.array([1.0 / (rank + 1) ** 2 for rank in range(len(candidates))])
        return candidates[self.rng.choice(len(candidates), p=weights / weights.sum())]

    def loss(self, result: TrialResult) -> float:
        return -result.score if self.settings.greater_is_better else result.score


def fits_in(
    learner: str, params: dict, rows: float, history: Sequence[TrialResult], seconds_left: float
) -> bool:
    return expected_seconds(learner, params, history, rows=rows) * DURATION_SAFETY <= seconds_left


def _size(params: dict) -> float:
    """A learner's cost grows about linearly with its number of trees or iterations."""
    return float(params.get("n_estimators") or params.get("max_iter") or 1)


def expected_seconds(
    learner: str, params: dict, history: Sequence[TrialResult], *, rows: float = 1.0
) -> float:
    """Expected wall seconds of a trial, from finished trials of the same learner.

    Cost is taken as proportional to the trees or iterations and to the rows fitted.
    """
    rates = [
        r.wall_seconds / (_size(r.params) * r.rows)
        for r in history
        if r.learner == learner and r.status == "ok"
    ]
    if not rates:
        return 0.0
    return float(np.median(rates) * _size(params) * rows)
