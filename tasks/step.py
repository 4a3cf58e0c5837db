"""The one way trialflow declares a Prefect task, so every step retries alike."""

from __future__ import annotations

from prefect import task
from prefect.cache_policies import NO_CACHE

from trialflow.retry import retry_transient


def step(name: str, *, retries: int = 2):
    """A Prefect task that retries transient failures (network, lost workers) only.

    Results stay in memory: the inputs are DataFrames and fitted models, which are neither
    worth hashing for a cache key nor safe to persist outside the project's stores.
    """
    return task(
        name=name,
        retries=retries,
        retry_delay_seconds=2,
        retry_condition_fn=retry_transient,
        cache_policy=NO_CACHE,
        persist_result=False,
    )
