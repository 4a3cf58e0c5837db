"""Random search: each learner's default first, then random configurations of the learners
that score best."""

from __future__ import annotations

from collections.abc import Sequence

from trialflow.learners.space import sample_config
from trialflow.search.strategies.base import Proposer, fits_in
from trialflow.search.trial import TrialResult, TrialSpec

# Draws per proposal before giving up on finding a configuration that fits the time left.
ATTEMPTS = 10


class RandomSearch(Proposer):
    """Defaults first; then random configurations, favouring learners whose best score ranks
    high (weight 1/rank²) and skipping any whose expected duration does not fit."""

    name = "random"

    def propose(
        self, trial_id: int, history: Sequence[TrialResult], *, seconds_left: float
    ) -> TrialSpec | None:
        default = self.next_default(trial_id, history, seconds_left)
        if default is not None:
            return default
        for _ in range(ATTEMPTS):
            learner = self.pick_learner(history)
            if learner is None:
                return None
            params = sample_config(learner.space, self.rng)
            if fits_in(learner.name, params, 1.0, history, seconds_left):
                return self.spec(trial_id, learner.name, params)
        return None
