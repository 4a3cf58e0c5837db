"""The recommender strategy: portfolio pipelines in the order a probabilistic model of past
results on many datasets suggests for this one, updated after every trial; then ASHA tunes
the learners that came out best.

The model (trialflow.metalearn.recommender) starts from the data profile, so the first
proposal already depends on the table, and takes each finished full-resource trial of a
portfolio pipeline as evidence. Without a knowledge base or a profile it is plain ASHA.
"""

from __future__ import annotations

from collections.abc import Sequence

from trialflow.learners import LearnerSpec
from trialflow.metalearn.knowledge import RUN_EXTRAS
from trialflow.strategies.asha import ASHA
from trialflow.strategies.base import Proposer, StrategySettings, fits_in
from trialflow.trial import TrialResult, TrialSpec

# Recommended pipelines before ASHA takes over (it also stops once none fits the time left).
MAX_RECOMMENDED = 10
# Ranked candidates tried per proposal for one that fits the time left.
ATTEMPTS = 5


class Recommend(Proposer):
    name = "recommend"

    def __init__(self, portfolio: Sequence[LearnerSpec], settings: StrategySettings):
        from trialflow.metalearn.knowledge import load_recommender, pipeline_key

        super().__init__(portfolio, settings)
        self.tuner = ASHA(portfolio, settings)
        self.model = load_recommender() if settings.profile else None
        self.learners = {spec.name: spec for spec in portfolio}
        self.recommended = 0
        self._key = pipeline_key
        self.done: set[int] = set()
        if self.model is not None:
            known = self.model.knowledge
            self.candidates = [
                j
                for j, learner in enumerate(known.learners)
                if learner in self.learners and self.learners[learner].supports(settings.task)
            ]
            self.keys = {
                pipeline_key(known.learners[j], known.params[j]): j for j in self.candidates
            }

    def propose(
        self, trial_id: int, history: Sequence[TrialResult], *, seconds_left: float
    ) -> TrialSpec | None:
        if self.model is not None and self.recommended < MAX_RECOMMENDED:
            proposal = self._recommend(trial_id, history, seconds_left)
            if proposal is not None:
                return proposal
        return self.tuner.propose(trial_id, history, seconds_left=seconds_left)

    def _recommend(self, trial_id, history, seconds_left) -> TrialSpec | None:
        known = self.model.knowledge
        tried = {self._key(r.learner, r.params) for r in history}
        # A learner that only fails drops out here as in every strategy.
        usable = {spec.name for spec in self.ranked_learners(history)}
        left = [
            j
            for j in self.candidates
            if j not in self.done
            and known.learners[j] in usable
            and self._key(known.learners[j], known.params[j]) not in tried
        ]
        ranking = self.model.rank(
            self.settings.profile, self.settings.task, self.observed(history), left
        )
        for j in ranking[:ATTEMPTS]:
            learner = self.learners[known.learners[j]]
            # The run's own extras (class weights) ride along, as on every trial of the run.
            extras = {k: learner.defaults[k] for k in RUN_EXTRAS if k in learner.defaults}
            params = {**known.params[j], **extras}
            if fits_in(learner.name, params, 1.0, history, seconds_left):
                self.done.add(j)
                self.recommended += 1
                if self._key(learner.name, params) == self._key(learner.name, learner.defaults):
                    # ASHA would otherwise start the same default again.
                    self.tuner.skip_default(learner.name)
                return self.spec(trial_id, learner.name, params)
        return None

    def observed(self, history: Sequence[TrialResult]) -> dict[int, float]:
        """Full-resource results of portfolio pipelines: pipeline index -> best score,
        higher is better."""
        sign = 1.0 if self.settings.greater_is_better else -1.0
        out: dict[int, float] = {}
        for r in history:
            if r.status != "ok" or r.score is None or r.rows < 1.0:
                continue
            j = self.keys.get(self._key(r.learner, r.params))
            if j is not None:
                out[j] = max(out.get(j, -float("inf")), sign * r.score)
        return out
