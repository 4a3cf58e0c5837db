"""The learner registry: the one place a learner is made known to the search.

Order matters: it is the portfolio order, strongest first on typical tables.
"""

from __future__ import annotations

from trialflow.errors import ConfigError
from trialflow.learners.forests import EXTRA_TREES, RANDOM_FOREST
from trialflow.learners.hist_gradient_boosting import HIST_GRADIENT_BOOSTING
from trialflow.learners.lightgbm import LIGHTGBM
from trialflow.learners.linear import ELASTIC_NET, LOGISTIC_REGRESSION
from trialflow.learners.mlp import MLP
from trialflow.learners.spec import LearnerSpec

LEARNERS: dict[str, LearnerSpec] = {
    spec.name: spec
    for spec in (
        LIGHTGBM,
        HIST_GRADIENT_BOOSTING,
        EXTRA_TREES,
        RANDOM_FOREST,
        LOGISTIC_REGRESSION,
        ELASTIC_NET,
        MLP,
    )
}


def get_learner(name: str) -> LearnerSpec:
    if name not in LEARNERS:
        raise KeyError(f"No learner named {name!r}; registered: {sorted(LEARNERS)}.")
    return LEARNERS[name]


def register_learner(spec: LearnerSpec) -> LearnerSpec:
    """Make a learner known to the search; a user's learner registers the same way."""
    known = LEARNERS.get(spec.name)
    if known is not None and known.source != spec.source:
        raise ConfigError(
            f"A learner named {spec.name!r} is already registered"
            f"{f' from {known.source!r}' if known.source else ' (built in)'}; rename yours."
        )
    LEARNERS[spec.name] = spec
    return spec


def use_learners(paths) -> list[LearnerSpec]:
    """Load and register users' learners by import path (idempotent; runs on workers too).

    A plain name (no ``:``) of a built-in learner asks for it: how an opt-in learner such as
    ``mlp`` joins a run that would leave it out.
    """
    from trialflow.learners.user import load_learner

    by_source = {spec.source: spec for spec in LEARNERS.values() if spec.source}
    return [
        _built_in(path) or by_source.get(path) or register_learner(load_learner(path))
        for path in paths
    ]


def _built_in(name: str) -> LearnerSpec | None:
    spec = LEARNERS.get(name) if ":" not in name else None
    return spec if spec is not None and not spec.source else None


def portfolio_for(task: str, user_learners=(), *, gpu: bool | None = None) -> list[LearnerSpec]:
    """The built-in learners, then the given users' learners, that support ``task``.

    GPU learners join only with ``gpu`` (None: when this machine has a GPU, where the local
    cluster starts GPU workers) or when named in ``user_learners``.
    """
    if gpu is None:
        from trialflow.gpu.arrays import gpu_available

        gpu = gpu_available()
    built_in = [
        spec for spec in LEARNERS.values() if not spec.source and (gpu or not spec.wants_gpu)
    ]
    named = [spec for spec in use_learners(user_learners) if spec not in built_in]
    return [spec for spec in [*built_in, *named] if spec.supports(task)]


__all__ = [
    "LEARNERS",
    "LearnerSpec",
    "get_learner",
    "portfolio_for",
    "register_learner",
    "use_learners",
]
