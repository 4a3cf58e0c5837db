"""Which failures a Prefect task retries: transient ones only, never bad input."""

from __future__ import annotations

from trialflow.errors import TrialflowError

TRANSIENT = (ConnectionError, TimeoutError)


def _exception_of(state) -> BaseException | None:
    data = getattr(state, "data", None)
    if isinstance(data, BaseException):
        return data
    try:
        result = state.result(raise_on_failure=False)
    except Exception as exc:  # the stored result itself may not load
        return exc
    return result if isinstance(result, BaseException) else None


def is_transient(exc: BaseException | None) -> bool:
    if exc is None or isinstance(exc, TrialflowError):
        return False
    if isinstance(exc, TRANSIENT):
        return True
    # distributed's CommClosedError and StreamClosedError are IOErrors: a lost connection.
    return type(exc).__name__ in {"CommClosedError", "StreamClosedError"}


def retry_transient(task, task_run, state) -> bool:
    """Prefect ``retry_condition_fn``: retry network and cluster hiccups, not user errors."""
    return is_transient(_exception_of(state))
