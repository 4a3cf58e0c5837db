"""What every search strategy shares: the interface the search loop (and a strategy wrapping
another) calls, and the bookkeeping the built-in strategies have in common. Each strategy
is built with its own keyword arguments, as Optuna's samplers are.

A strategy sees the finished trials and the seconds left, and answers with a proposal or
``None`` (nothing worth starting now). The search loop owns timing and distribution, so a
strategy is a plain object that tests can drive without a cluster.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from trialflow.learners import LearnerSpec
from trialflow.search.trial import LIBRARY_DEFAULT, TrialResult, TrialSpec

# Proposals whose expected duration exceeds the time left by this factor are not started.
DURATION_SAFETY = 1.3
# A learner is dropped from the search after this many failed trials without a success.
MAX_FAILURES = 2


class SearchStrategy(Protocol):
    """Everything the search loop, and a strategy that wraps another, reads of a strategy."""

    name: str

    @property
    def defaults_pending(self) -> bool:
        """Whether some opening trial (a learner's default) has not been proposed yet."""
        ...

    def propose(
        self, trial_id: int, history: Sequence[TrialResult], *, seconds_left: float
    ) -> TrialSpec | None: ...


def config_key(learner: str, params: dict[str, Any]) -> str:
    return learner + json.dumps(params, sort_keys=True, default=str)


@dataclass(frozen=True)
class Opener:
    """A trial that opens the search, before the strategy's own proposals."""

    learner: LearnerSpec
    params: dict[str, Any]
    # The library's own defaults (always on the full resource), else the strong default.
    library: bool = False

    @property
    def origin(self) -> str:
        """How the leaderboard and the report name these trials."""
        return LIBRARY_DEFAULT if self.library else "default"


class Proposer:
    """Shared state of the built-in strategies: portfolio, seeded RNG, what was proposed.

    The search opens with the library defaults of the learners that declare them (LightGBM
    and HistGradientBoosting as a user would run them first: cheap, and the floor no run
    should end below), then every learner's strong default, in portfolio order. An opener
    already in the history (a resumed search) is not proposed again.
    """

    name = "base"

    # The config fields (and run facts) a strategy is built from, besides the common ones
    # below; `trialflow.search.strategies.make_strategy` passes these and no others.
    takes: tuple[str, ...] = ()

    def __init__(
        self,
        portfolio: Sequence[LearnerSpec],
        *,
        seed: int = 0,
        greater_is_better: bool = True,
        rows: int = 0,
    ):
        """``rows``: the training rows (cost estimates and resources scale with them)."""
        if not portfolio:
            raise ValueError("The 'portfolio' parameter must hold at least one learner; got none.")
        self.portfolio = list(portfolio)
        self.seed, self.greater_is_better, self.rows = seed, greater_is_better, rows
        self.rng = np.random.default_rng(seed)
        self.proposed: set[str] = set()
        self._history_keys: set[str] = set()
        self._history_seen = 0
        self._openers = [
            Opener(spec, dict(spec.library_defaults), library=True)
            for spec in self.portfolio
            if spec.library_defaults
        ] + [Opener(spec, dict(spec.defaults)) for spec in self.portfolio]

    def spec(self, trial_id: int, learner: str, params: dict, **fields) -> TrialSpec:
        self.proposed.add(config_key(learner, params))
        fields.setdefault("origin", self.name)
        return TrialSpec(trial_id, learner, params, self.seed, **fields)

    @property
    def defaults_pending(self) -> bool:
        """Whether some opening trial has not been proposed yet."""
        return bool(self._openers)

    def skip_default(self, learner: str) -> None:
        """Another strategy already proposed this learner's strong default."""
        self._openers = [o for o in self._openers if o.library or o.learner.name != learner]

    def order_defaults(self, promise) -> None:
        """Strong defaults sorted by ``promise(spec)`` (lowest first); library defaults stay
        first."""
        library = [o for o in self._openers if o.library]
        strong = sorted(
            (o for o in self._openers if not o.library), key=lambda o: promise(o.learner)
        )
        self._openers = library + strong

    def next_opener(self, history: Sequence[TrialResult]) -> Opener | None:
        done = {config_key(r.learner, r.params) for r in history} | self.proposed
        while self._openers:
            opener = self._openers.pop(0)
            if config_key(opener.learner.name, opener.params) not in done:
                return opener
        return None

    def next_default(
        self, trial_id: int, history: Sequence[TrialResult], seconds_left: float = math.inf
    ) -> TrialSpec | None:
        """The next opening trial that fits the time left, on the full resource."""
        while (opener := self.next_opener(history)) is not None:
            if fits_in(opener.learner.name, opener.params, 1.0, history, seconds_left):
                return self.spec(
                    trial_id, opener.learner.name, dict(opener.params), origin=opener.origin
                )
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

    def pick_learner(self, history: Sequence[TrialResult]) -> LearnerSpec | None:
        """A learner drawn with weight 1/rank²: the best ones get most of the budget."""
        candidates = self.ranked_learners(history)
        if not candidates:
            return None
        weights = np.array([1.0 / (rank + 1) ** 2 for rank in range(len(candidates))])
        return candidates[self.rng.choice(len(candidates), p=weights / weights.sum())]

    def loss(self, result: TrialResult) -> float:
        return -result.score if self.greater_is_better else result.score


def fits_in(
    learner: str, params: dict, rows: float, history: Sequence[TrialResult], seconds_left: float
) -> bool:
    return expected_seconds(learner, params, history, rows=rows) * DURATION_SAFETY <= seconds_left


def refit_fits(
    learner: str, full_params: dict, history: Sequence[TrialResult], seconds_left: float
) -> bool:
    """Whether the configuration's final refit (one fit on all rows, ``full_params``) is
    expected to fit in ``seconds_left``, from the CPU seconds per fold of the learner's
    finished trials (True before any). A trial on a share of the rows is worth starting
    only if its configuration, should it win, can be refitted on all of them: on 250,000
    rows a LightGBM configuration that won on a ninth of the rows, 42 s into a 60 s run,
    took 20 s to refit and the run overran by 10 s."""
    from trialflow.search.loop import estimate_refit_seconds

    # Each trial's refit estimate per tree or iteration, scaled to this configuration's.
    rates = [
        estimate_refit_seconds(r) / _size(r.params)
        for r in history
        if r.status == "ok" and r.learner == learner and r.fold_scores
    ]
    if not rates:
        return True
    return float(np.median(rates)) * _size(full_params) <= seconds_left


def starts_in_time(
    learner: str,
    params: dict,
    rows: float,
    full_params: dict,
    history: Sequence[TrialResult],
    seconds_left: float,
) -> bool:
    """Whether a trial of ``params`` on ``rows`` fits in ``seconds_left`` and so would the
    refit of its configuration (``full_params``) on all rows, should it win."""
    return fits_in(learner, params, rows, history, seconds_left) and refit_fits(
        learner, full_params, history, seconds_left
    )


def _size(params: dict) -> float:
    """A learner's cost grows about linearly with its number of trees or iterations."""
    return float(params.get("n_estimators") or params.get("max_iter") or 1)


def expected_seconds(
    learner: str, params: dict, history: Sequence[TrialResult], *, rows: float = 1.0
) -> float:
    """Expected wall seconds of a trial, from finished trials of the same learner; before
    the first of them, from the other learners' trials and the learners' relative costs
    (0.0 when nothing has finished yet).

    Cost is taken as proportional to the trees or iterations and to the rows fitted.
    """
    finished = [r for r in history if r.status == "ok"]
    rates = [r.wall_seconds / (_size(r.params) * r.rows) for r in finished if r.learner == learner]
    if rates:
        return float(np.median(rates) * _size(params) * rows)
    per_unit = [
        r.wall_seconds / (_size(r.params) * r.rows) / _relative_cost(r.learner) for r in finished
    ]
    if not per_unit:
        return 0.0
    return float(np.median(per_unit) * _relative_cost(learner) * _size(params) * rows)


def _relative_cost(learner: str) -> float:
    from trialflow.learners import LEARNERS

    spec = LEARNERS.get(learner)
    return spec.relative_cost if spec is not None else 1.0
