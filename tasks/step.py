"""The one way trialflow declares a Prefect task, so every step retries alike."""

from __future__ import annotations

import functools
import time
from collections.abc import Callable

from prefect import task
from prefect.cache_policies import NO_CACHE

from trialflow.runtime.retry import retry_transient


def step(name: str, *, retries: int = 2, checkpoint: Callable[[dict], str] | None = None):
    """A Prefect task that retries transient failures (network, lost workers) only.

    A step whose first parameter is the run record (`trialflow.run_record`) has its wall
    time recorded there under ``name``, so the flow body stays one task call per step.

    With ``checkpoint`` (the task's parameters -> a cache key from `trialflow.runtime.checkpoints`),
    Prefect persists the result under the project home and a later run with the same key
    resumes from it instead of running the step again. Other steps keep their results in
    memory: their inputs are fitted models and trial histories that the run recomputes or
    that the search's own trial records resume from.
    """
    declare = _declare(name, retries, checkpoint)
    return lambda function: declare(_timed(name, function))


def _declare(name: str, retries: int, checkpoint: Callable[[dict], str] | None):
    if checkpoint is None:
        return task(
            name=name,
            retries=retries,
            retry_delay_seconds=2,
            retry_condition_fn=retry_transient,
            cache_policy=NO_CACHE,
            persist_result=False,
        )
    from trialflow.runtime.checkpoints import CHECKPOINT_EXPIRATION

    return task(
        name=name,
        retries=retries,
        retry_delay_seconds=2,
        retry_condition_fn=retry_transient,
        cache_key_fn=lambda _context, parameters: checkpoint(parameters),
        cache_expiration=CHECKPOINT_EXPIRATION,
        persist_result=True,
        # The project's own store under the project home: only ever read back by trialflow.
        result_serializer="pickle",
    )


def _timed(name: str, function: Callable) -> Callable:
    from trialflow.run_record import RunRecord

    @functools.wraps(function)
    def timed(*args, **kwargs):
        # Prefect may bind the parameters positionally or by name.
        record = next((a for a in (*args, *kwargs.values()) if isinstance(a, RunRecord)), None)
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            if record is not None:
                record.record_step(name, time.perf_counter() - started)

    return timed


def log_ran_ahead(logger, ahead) -> None:
    """Say in the task's log that its step ran before the flow run, and how long it took."""
    if ahead is not None:
        import datetime

        at = datetime.datetime.fromtimestamp(ahead.started).strftime("%H:%M:%S.%f")[:-3]
        logger.info(
            "Ran ahead of the flow run while Prefect's API started: %.2f s from %s.",
            ahead.seconds,
            at,
        )
