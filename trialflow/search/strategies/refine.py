"""Local refinement: late in the search, perturb the best configurations found so far.

It wraps another strategy. Once ``START`` of the search time (or of ``max_trials``) has
gone, or whenever the wrapped strategy has nothing to propose, most proposals are small
perturbations of the current best few full-resource configurations. Whatever improves
becomes one of the best few and is perturbed in turn; the rest stay in the leaderboard.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from trialflow.learners import LearnerSpec
from trialflow.learners.space import Choice, Dimension, Float, Int
from trialflow.search.strategies.base import (
    Proposer,
    SearchStrategy,
    config_key,
    fits_in,
)
from trialflow.search.trial import TrialResult, TrialSpec

# Share of the search (time or trials) after which refinement starts.
START = 0.6
# Configurations perturbed, best first.
CENTRES = 3
# Step size, as a share of each dimension's (log-)range.
STEP = 0.12
# Share of refinement-phase proposals still left to the wrapped strategy (keeps exploring).
EXPLORE = 0.25
ATTEMPTS = 10


def perturb(
    params: dict[str, Any], space: dict[str, Dimension], rng: np.random.Generator
) -> dict[str, Any]:
    """A neighbour of ``params`` inside ``space``: about half the dimensions move a step."""
    names = list(space)
    moving = [name for name in names if rng.random() < 0.5] or [names[rng.integers(len(names))]]
    out = dict(params)
    for name in moving:
        dim, value = space[name], params.get(name)
        if isinstance(dim, Choice) or value is None:
            out[name] = dim.sample(rng)
        elif isinstance(dim, Float | Int):
            if dim.log and value > 0:
                span = math.log(dim.high / dim.low)
                moved = value * math.exp(rng.normal(0.0, STEP * span))
            else:
                moved = value + rng.normal(0.0, STEP * (dim.high - dim.low))
            moved = min(dim.high, max(dim.low, moved))
            out[name] = int(round(moved)) if isinstance(dim, Int) else float(moved)
    return out


class LocalRefinement(Proposer):
    """Wraps ``base``; see the module docstring."""

    name = "refine"

    def __init__(
        self,
        base: SearchStrategy,
        portfolio: Sequence[LearnerSpec],
        *,
        max_trials: int | None = None,
        **common,
    ):
        """``max_trials``: with a trial limit, refinement starts at START of it."""
        super().__init__(portfolio, **common)
        self.max_trials = max_trials
        self.base = base
        self.learners = {spec.name: spec for spec in portfolio}
        self.total_seconds: float | None = None
        self.turn = 0

    def propose(
        self, trial_id: int, history: Sequence[TrialResult], *, seconds_left: float
    ) -> TrialSpec | None:
        if self.total_seconds is None:
            self.total_seconds = seconds_left
        base = self.base.propose
        # The wrapped strategy answering None may only mean nothing of its fits the time
        # left; a neighbour of a cheap configuration still may, and the other way round.
        # Every learner's default runs before any refinement (the floor no search may end
        # below), however small max_trials is.
        defaults_first = self.base.defaults_pending
        late = not defaults_first and self._late(trial_id, seconds_left)
        if late and self.rng.random() >= EXPLORE:
            return self._neighbour(trial_id, history, seconds_left) or base(
                trial_id, history, seconds_left=seconds_left
            )
        return base(trial_id, history, seconds_left=seconds_left) or self._neighbour(
            trial_id, history, seconds_left
        )

    def _late(self, trial_id: int, seconds_left: float) -> bool:
        if self.max_trials is not None and trial_id >= START * self.max_trials:
            return True
        total = self.total_seconds
        return total is not None and math.isfinite(total) and seconds_left <= (1 - START) * total

    def _neighbour(
        self, trial_id: int, history: Sequence[TrialResult], seconds_left: float
    ) -> TrialSpec | None:
        scored = [
            r
            for r in history
            if r.status == "ok"
            and r.score is not None
            and r.rows == 1.0
            and r.learner in self.learners
            and self.learners[r.learner].space
        ]
        centres = sorted(scored, key=self.loss)[:CENTRES]
        if not centres:
            return None
        done = {config_key(r.learner, r.params) for r in history}
        for _ in range(ATTEMPTS):
            centre = centres[self.turn % len(centres)]
            self.turn += 1
            space = self.learners[centre.learner].space
            params = perturb(centre.params, space, self.rng)
            key = config_key(centre.learner, params)
            if key in done or key in self.proposed:
                continue
            if fits_in(centre.learner, params, 1.0, history, seconds_left):
                return self.spec(trial_id, centre.learner, params)
        return None
