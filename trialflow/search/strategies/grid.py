"""Grid search over each learner's declared space, learners taking turns."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from trialflow.learners import LearnerSpec
from trialflow.learners.space import Choice, Dimension, Float, Int
from trialflow.search.strategies.base import Proposer, fits_in
from trialflow.search.trial import TrialResult, TrialSpec

# Grid points looked at per learner and proposal (skipping those that do not fit in time).
ATTEMPTS = 20


def grid_values(dimension: Dimension, points: int) -> tuple[Any, ...]:
    """Evenly spaced values across a dimension (log-spaced where it is log-scaled)."""
    if isinstance(dimension, Choice):
        return tuple(dimension.values)
    if points == 1:
        middle = (
            math.sqrt(dimension.low * dimension.high)
            if dimension.log
            else (dimension.low + dimension.high) / 2
        )
        values = [middle]
    elif dimension.log:
        values = np.geomspace(dimension.low, dimension.high, points).tolist()
    else:
        values = np.linspace(dimension.low, dimension.high, points).tolist()
    if isinstance(dimension, Int):
        return tuple(dict.fromkeys(int(round(v)) for v in values))
    assert isinstance(dimension, Float)
    return tuple(float(v) for v in values)


class _LearnerGrid:
    """One learner's grid, walked in a seeded random order without repeats.

    Points are decoded from a permutation of their indices, so a grid of any size costs
    memory only for the permutation (capped: large grids are walked on a random subset).
    """

    MAX_POINTS = 100_000

    def __init__(self, spec: LearnerSpec, points: int, rng: np.random.Generator):
        self.spec = spec
        self.names = list(spec.space)
        self.axes = [grid_values(spec.space[name], points) for name in self.names]
        size = math.prod(len(axis) for axis in self.axes)
        if size <= self.MAX_POINTS:
            self.order = rng.permutation(size)
        else:
            self.order = rng.choice(size, self.MAX_POINTS, replace=False)
        self.position = 0

    def next(self) -> dict[str, Any] | None:
        if self.position >= len(self.order):
            return None
        index = int(self.order[self.position])
        self.position += 1
        params = {}
        for name, axis in zip(self.names, self.axes, strict=True):
            index, digit = divmod(index, len(axis))
            params[name] = axis[digit]
        return params


class GridSearch(Proposer):
    """Defaults first; then grid points, the learners taking turns best-ranked first.

    A point whose expected duration does not fit the time left is skipped for good (time
    only shrinks); the strategy returns None once every grid is walked.
    """

    name = "grid"

    takes = ("grid_points",)

    def __init__(self, portfolio: Sequence[LearnerSpec], *, grid_points: int = 3, **common):
        """``grid_points``: values per numeric hyperparameter."""
        super().__init__(portfolio, **common)
        self.grids = {spec.name: _LearnerGrid(spec, grid_points, self.rng) for spec in portfolio}
        self.turn = 0

    def propose(
        self, trial_id: int, history: Sequence[TrialResult], *, seconds_left: float
    ) -> TrialSpec | None:
        default = self.next_default(trial_id, history, seconds_left)
        if default is not None:
            return default
        learners = self.ranked_learners(history)
        for _ in range(len(learners)):
            grid = self.grids[learners[self.turn % len(learners)].name]
            self.turn += 1
            for _ in range(ATTEMPTS):
                params = grid.next()
                if params is None:
                    break
                if self.seen(grid.spec.name, params, history):
                    continue
                if fits_in(grid.spec.name, params, 1.0, history, seconds_left):
                    return self.spec(trial_id, grid.spec.name, params)
        return None
