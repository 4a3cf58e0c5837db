"""Search strategies, registered in one place by name; the config picks one.

A strategy is any object with ``propose(trial_id, history, *, seconds_left)`` and
``defaults_pending`` (see ``base.SearchStrategy``), built with its own keyword arguments:
the common ones (``seed``, ``greater_is_better``, ``rows``) and those it declares in
``takes`` (ASHA's ``reduction_factor``, the grid's ``grid_points``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from trialflow.learners import LearnerSpec
from trialflow.search.strategies.asha import ASHA
from trialflow.search.strategies.base import SearchStrategy
from trialflow.search.strategies.grid import GridSearch
from trialflow.search.strategies.random import RandomSearch
from trialflow.search.strategies.recommend import Recommend
from trialflow.search.strategies.refine import LocalRefinement

STRATEGIES: dict[str, type] = {
    "asha": ASHA,
    "random": RandomSearch,
    "grid": GridSearch,
    "recommend": Recommend,
}


def register_strategy(name: str, factory: type) -> type:
    STRATEGIES[name] = factory
    return factory


def make_strategy(
    name: str,
    portfolio: Sequence[LearnerSpec],
    *,
    seed: int = 0,
    greater_is_better: bool = True,
    rows: int = 0,
    refine: bool = True,
    max_trials: int | None = None,
    available: dict[str, Any] | None = None,
) -> SearchStrategy:
    """The named strategy, wrapped in local refinement unless ``refine`` is off.

    ``available`` holds what a strategy may be built from (the config's strategy fields,
    the run's task and data profile); each strategy gets the keys it ``takes`` and no
    others."""
    if name not in STRATEGIES:
        raise KeyError(f"No search strategy named {name!r}; registered: {sorted(STRATEGIES)}.")
    factory = STRATEGIES[name]
    common = {"seed": seed, "greater_is_better": greater_is_better, "rows": rows}
    own = {k: v for k, v in (available or {}).items() if k in getattr(factory, "takes", ())}
    strategy = factory(portfolio, **common, **own)
    if not refine:
        return strategy
    return LocalRefinement(strategy, portfolio, max_trials=max_trials, **common)


__all__ = [
    "ASHA",
    "STRATEGIES",
    "GridSearch",
    "LocalRefinement",
    "RandomSearch",
    "Recommend",
    "SearchStrategy",
    "make_strategy",
    "register_strategy",
]
