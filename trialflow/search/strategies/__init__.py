"""Search strategies, registered in one place by name; the config picks one.

A strategy is any object with ``propose(trial_id, history, *, seconds_left)`` (see
``base.SearchStrategy``) made by a factory ``(portfolio, settings) -> strategy``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from trialflow.learners import LearnerSpec
from trialflow.search.strategies.asha import ASHA
from trialflow.search.strategies.base import SearchStrategy, StrategySettings
from trialflow.search.strategies.grid import GridSearch
from trialflow.search.strategies.random import RandomSearch
from trialflow.search.strategies.recommend import Recommend
from trialflow.search.strategies.refine import LocalRefinement

StrategyFactory = Callable[[Sequence[LearnerSpec], StrategySettings], SearchStrategy]

STRATEGIES: dict[str, StrategyFactory] = {
    "asha": ASHA,
    "random": RandomSearch,
    "grid": GridSearch,
    "recommend": Recommend,
}


def register_strategy(name: str, factory: StrategyFactory) -> StrategyFactory:
    STRATEGIES[name] = factory
    return factory


def make_strategy(
    name: str,
    portfolio: Sequence[LearnerSpec],
    settings: StrategySettings,
    *,
    refine: bool = True,
) -> SearchStrategy:
    """The named strategy, wrapped in local refinement unless ``refine`` is off."""
    if name not in STRATEGIES:
        raise KeyError(f"No search strategy named {name!r}; registered: {sorted(STRATEGIES)}.")
    strategy = STRATEGIES[name](portfolio, settings)
    return LocalRefinement(strategy, portfolio, settings) if refine else strategy


__all__ = [
    "ASHA",
    "STRATEGIES",
    "GridSearch",
    "LocalRefinement",
    "RandomSearch",
    "Recommend",
    "SearchStrategy",
    "StrategySettings",
    "make_strategy",
    "register_strategy",
]
