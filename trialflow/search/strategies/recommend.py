"""The recommender strategy: ASHA whose configurations come from a probabilistic model of
past results on many datasets, asked anew after every trial.

The model (trialflow.metalearn.recommender) starts from the data profile and takes each
finished full-resource trial of a portfolio pipeline as evidence. It orders the learners'
defaults (the first trials), and each new configuration ASHA starts is the portfolio
pipeline with the best expected improvement per expected second, until RECOMMENDED of them
have started; ASHA then samples as usual around the learners that came out best, promoting
whichever configurations do well, recommended or not. Without a knowledge base or a profile
it is plain ASHA.
"""

from __future__ import annotations

from collections.abc import Sequence

from trialflow.learners import LearnerSpec
from trialflow.metalearn.knowledge import RUN_EXTRAS
from trialflow.search.strategies.asha import ASHA
from trialflow.search.trial import TrialResult

# New configurations taken from the recommender before ASHA samples its own.
RECOMMENDED = 10


class Recommend(ASHA):
    name = "recommend"

    takes = (*ASHA.takes, "task", "profile", "deterministic")

    def __init__(
        self,
        portfolio: Sequence[LearnerSpec],
        *,
        task: str = "",
        profile: dict | None = None,
        deterministic: bool = False,
        **asha,
    ):
        """``task`` and ``profile`` (`trialflow.metalearn.profile`) are what the recommender
        matches against its knowledge base; without a profile this is ASHA. A
        ``deterministic`` run uses the shipped knowledge base only, not the project's runs."""
        from trialflow.metalearn.knowledge import load_recommender, pipeline_key

        super().__init__(portfolio, **asha)
        self.task, self.profile = task, profile
        self.model = load_recommender(own_runs=not deterministic) if profile else None
        self._key = pipeline_key
        self.recommended: set[int] = set()
        if self.model is None:
            return
        known = self.model.knowledge
        self.candidates = [
            j
            for j, learner in enumerate(known.learners)
            if learner in self.learners and self.learners[learner].supports(task)
        ]
        self.keys = {pipeline_key(known.learners[j], known.params[j]): j for j in self.candidates}
        self._order_defaults()

    def _order_defaults(self) -> None:
        """The learners' defaults, most promising for this profile first."""
        mean = self.model.posterior(self.profile, self.task, {}).mean
        inf = float("inf")

        def promise(spec: LearnerSpec) -> float:
            j = self.keys.get(self._key(spec.name, spec.defaults))
            return -mean[j] if j is not None else inf

        self.order_defaults(promise)

    def next_candidate(self, history: Sequence[TrialResult]) -> tuple[LearnerSpec, dict] | None:
        if self.model is not None and len(self.recommended) < RECOMMENDED:
            choice = self._recommendation(history)
            if choice is not None:
                return choice
        return super().next_candidate(history)

    def _recommendation(self, history) -> tuple[LearnerSpec, dict] | None:
        known = self.model.knowledge
        tried = {self._key(r.learner, r.params) for r in history}
        usable = {spec.name for spec in self.ranked_learners(history)}
        # Defaults run anyway, first and on the full resource.
        defaults = {self._key(s.name, s.defaults) for s in self.portfolio}
        left = [
            j
            for j in self.candidates
            if j not in self.recommended
            and known.learners[j] in usable
            and self._key(known.learners[j], known.params[j]) not in tried | defaults
        ]
        ranking = self.model.rank(self.profile, self.task, self.observed(history), left)
        if not ranking:
            return None
        j = ranking[0]
        self.recommended.add(j)
        learner = self.learners[known.learners[j]]
        # The run's own extras (class weights) ride along, as on every trial of the run.
        extras = {k: learner.defaults[k] for k in RUN_EXTRAS if k in learner.defaults}
        return learner, {**known.params[j], **extras}

    def observed(self, history: Sequence[TrialResult]) -> dict[int, float]:
        """Full-resource results of portfolio pipelines: pipeline index -> best score,
        higher is better."""
        sign = 1.0 if self.greater_is_better else -1.0
        out: dict[int, float] = {}
        for r in history:
            if r.status != "ok" or r.score is None or r.rows < 1.0:
                continue
            j = self.keys.get(self._key(r.learner, r.params))
            if j is not None:
                out[j] = max(out.get(j, -float("inf")), sign * r.score)
        return out
