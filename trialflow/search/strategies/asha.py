"""Asynchronous successive halving (ASHA; Li et al., MLSys 2020), optionally over Hyperband's
brackets (Li et al., JMLR 2018).

New configurations start on a small resource: fewer boosting rounds or trees for learners
that declare a resource hyperparameter, a fraction of the rows for the others. Whenever a
rung holds enough results, the best 1/reduction_factor of them move up to the next rung on
reduction_factor times the resource; nothing waits for stragglers.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from trialflow.learners import LearnerSpec
from trialflow.learners.space import sample_config
from trialflow.search.strategies.base import (
    Opener,
    Proposer,
    config_key,
    expected_seconds,
    fits_in,
    refit_fits,
    starts_in_time,
)
from trialflow.search.trial import TrialResult, TrialSpec

# Draws per proposal before giving up on a new configuration that fits the time left.
ATTEMPTS = 10
# Most of the search time left one opening trial (a learner's strong default) may take on
# the full resource; beyond it, the default starts on a lower rung.
OPENER_SHARE = 0.2
# Training rows from which every learner's ASHA resource is rows rather than rounds.
ROWS_AS_RESOURCE = 20_000
# Training rows from which the library defaults, too, start on a third of the rows, and are
# promoted to all of them like any configuration. On 250,000 rows x 50 columns (2 cores) the
# two library defaults on all rows took 18.6 s and 22.2 s of a 60 s run's 30 s search, and
# the search ended after 5 trials.
LIBRARY_SAMPLE_ROWS = 100_000


class ASHA(Proposer):
    """Defaults first (on the full resource); then promotions, deepest rung first; else a new
    configuration on its bracket's lowest rung.

    With ``brackets`` = b > 1, new configurations take turns over b brackets: bracket i
    starts them on rung i, trading how many configurations are tried against how much each
    first gets (Hyperband's hedge against a misleading low rung).
    """

    name = "asha"

    takes = ("reduction_factor", "min_resource", "brackets")

    def __init__(
        self,
        portfolio: Sequence[LearnerSpec],
        *,
        reduction_factor: int = 3,
        min_resource: float = 1 / 9,
        brackets: int = 1,
        **common,
    ):
        """Successive halving keeps the best 1/``reduction_factor`` of each rung; the lowest
        rung gets ``min_resource`` of the full resource; ``brackets`` > 1 runs Hyperband's."""
        super().__init__(portfolio, **common)
        if reduction_factor < 2:
            raise ValueError(
                f"The 'reduction_factor' parameter must be at least 2; got {reduction_factor}."
            )
        if not 0 < min_resource <= 1:
            raise ValueError(
                f"The 'min_resource' parameter must lie in (0, 1]; got {min_resource}."
            )
        eta = self.reduction_factor = reduction_factor
        self.top = max(0, round(math.log(1 / min_resource, eta)))
        # resources[k]: fraction of the full resource on rung k; the top rung is the full one.
        self.resources = [float(eta) ** (k - self.top) for k in range(self.top + 1)]
        self.n_brackets = max(1, min(brackets, self.top + 1))
        self.learners = {spec.name: spec for spec in portfolio}
        # config_id -> (learner, full-resource params, bracket)
        self.configs: dict[int, tuple[str, dict, int]] = {}
        self.started: set[tuple[int, int]] = set()
        self.sampled: set[str] = set()
        # config_id -> origin of an opening trial started below the top rung: its promotions
        # are still that default (the report's "library defaults" line reads them).
        self.origins: dict[int, str] = {}

    def propose(
        self, trial_id: int, history: Sequence[TrialResult], *, seconds_left: float
    ) -> TrialSpec | None:
        while (opener := self.next_opener(history)) is not None:
            opening = self._opening(trial_id, opener, history, seconds_left)
            if opening is not None:
                return opening
        return self._promotion(trial_id, history, seconds_left) or self._new_configuration(
            trial_id, history, seconds_left
        )

    def at_resource(self, learner: LearnerSpec, params: dict, rung: int) -> tuple[dict, float]:
        """``params`` scaled to the rung's resource: (params, row fraction). On large tables
        the resource is rows for every learner: a few thousand rows rank configurations
        about as well as all of them, at a fraction of the cost."""
        fraction = self.resources[rung]
        if self.rows >= ROWS_AS_RESOURCE and fraction < 1.0:
            return dict(params), fraction
        return learner.at_resource(params, fraction)

    def _opening(
        self, trial_id: int, opener: Opener, history: Sequence[TrialResult], seconds_left: float
    ) -> TrialSpec | None:
        """An opening trial, or None when it cannot finish in the time left. Library
        defaults run on the full resource (from LIBRARY_SAMPLE_ROWS rows, on a third of the
        rows first); a strong default too where it is expected to take at most OPENER_SHARE
        of the search time left, else on the highest rung that is. Those below the top rung
        are promoted like any configuration (on mid-size tables the full-resource defaults
        of the slower learners took most of a short budget, and some never started)."""
        rung = self.top
        if opener.library and self.rows >= LIBRARY_SAMPLE_ROWS:
            rung = max(0, self.top - 1)
        elif not opener.library:
            while rung > 0:
                params, rows = self.at_resource(opener.learner, opener.params, rung)
                cost = expected_seconds(opener.learner.name, params, history, rows=rows)
                if cost <= OPENER_SHARE * seconds_left:
                    break
                rung -= 1
        params, rows = self.at_resource(opener.learner, opener.params, rung)
        if not fits_in(opener.learner.name, params, rows, history, seconds_left):
            return None
        if rung < self.top:  # promoted like bracket 0's configurations
            if not refit_fits(opener.learner.name, opener.params, history, seconds_left):
                return None
            self.configs[trial_id] = (opener.learner.name, dict(opener.params), 0)
            self.started.add((trial_id, rung))
            self.origins[trial_id] = opener.origin
        return self.spec(
            trial_id,
            opener.learner.name,
            params,
            config_id=trial_id,
            rung=rung,
            rows=rows,
            origin=opener.origin,
        )

    def _promotion(
        self, trial_id: int, history: Sequence[TrialResult], seconds_left: float
    ) -> TrialSpec | None:
        eta = self.reduction_factor
        for rung in reversed(range(self.top)):
            for bracket in range(self.n_brackets):
                results = [
                    r
                    for r in history
                    if r.status == "ok"
                    and r.rung == rung
                    and self.configs.get(r.config_id, ("", {}, -1))[2] == bracket
                ]
                for r in sorted(results, key=self.loss)[: len(results) // eta]:
                    if (r.config_id, rung + 1) in self.started:
                        continue
                    learner, full, _ = self.configs[r.config_id]
                    params, rows = self.at_resource(self.learners[learner], full, rung + 1)
                    if not starts_in_time(learner, params, rows, full, history, seconds_left):
                        continue
                    self.started.add((r.config_id, rung + 1))
                    return self.spec(
                        trial_id,
                        learner,
                        params,
                        config_id=r.config_id,
                        rung=rung + 1,
                        rows=rows,
                        origin=self.origins.get(r.config_id, self.name),
                    )
        return None

    def next_candidate(self, history: Sequence[TrialResult]) -> tuple[LearnerSpec, dict] | None:
        """A learner and a full-resource configuration to start: a learner drawn by rank, a
        random point of its space (the recommender strategy chooses its own)."""
        learner = self.pick_learner(history)
        if learner is None:
            return None
        return learner, sample_config(learner.space, self.rng)

    def _new_configuration(
        self, trial_id: int, history: Sequence[TrialResult], seconds_left: float
    ) -> TrialSpec | None:
        bracket = len(self.configs) % self.n_brackets
        for _ in range(ATTEMPTS):
            candidate = self.next_candidate(history)
            if candidate is None:
                return None
            learner, full = candidate
            key = config_key(learner.name, full)
            if key in self.sampled:
                continue
            params, rows = self.at_resource(learner, full, bracket)
            if not starts_in_time(learner.name, params, rows, full, history, seconds_left):
                continue
            self.sampled.add(key)
            self.configs[trial_id] = (learner.name, full, bracket)
            self.started.add((trial_id, bracket))
            return self.spec(
                trial_id, learner.name, params, config_id=trial_id, rung=bracket, rows=rows
            )
        return None
