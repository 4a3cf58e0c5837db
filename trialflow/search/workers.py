"""The Dask side of the search: trial data scattered to the workers once, threads per worker,
trials killed when they overrun, and a proposal checked for what cannot travel to a worker.
"""

from __future__ import annotations

import logging
import time

from trialflow.errors import SearchError
from trialflow.search.trial import TrialData, TrialSpec, host_of


class ExpectedDataLoss(logging.Filter):
    """Drops the scheduler's error about losing our scattered training data: it is expected
    when the only worker holding it is killed for overstaying, and the search scatters the
    data again."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not ("lose scattered data" in message and "TrialData-" in message)


def quiet_expected_losses() -> None:
    scheduler_log = logging.getLogger("distributed.scheduler")
    if not any(isinstance(f, ExpectedDataLoss) for f in scheduler_log.filters):
        scheduler_log.addFilter(ExpectedDataLoss())


def kill_trials(client, futures) -> None:
    """Cancel ``futures`` and kill the worker processes running them.

    Blocking code (a C extension in the middle of a fit) cannot be interrupted from
    another thread, so the process goes; a worker under a nanny (every local cluster
    worker, and ``dask worker`` by default) is restarted by it.
    """
    keys = {future.key for future in futures}
    running_on = [
        worker
        for worker, worker_keys in client.processing().items()
        if keys.intersection(worker_keys)
    ]
    client.cancel(list(futures))
    if not running_on:
        return
    client.run(exit_process, workers=running_on, wait=False)
    # Wait until the scheduler has dropped them, so that nothing more is sent their way.
    give_up = time.monotonic() + KILL_CONFIRM_SECONDS
    while time.monotonic() < give_up and set(running_on) & set(client.nthreads()):
        time.sleep(0.05)


# Longest wait for the scheduler to notice a killed worker is gone.
KILL_CONFIRM_SECONDS = 5.0


def usable_cores() -> int:
    import os

    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# Below this many training rows per thread, extra threads cost more in synchronisation than
# they save. Measured on credit_data (3 340 rows, LightGBM, 500 rounds, 5 folds): 1.12 s per
# trial on one thread, 1.39 s on two.
ROWS_PER_THREAD = 10_000


def threads_by_host(client, n_rows: int | None = None) -> dict[str, int]:
    """Threads per trial on each host: its cores divided by the trials it runs at once,
    and no more than one per ROWS_PER_THREAD training rows."""
    concurrent: dict[str, int] = {}
    for address, nthreads in client.nthreads().items():
        concurrent[host_of(address)] = concurrent.get(host_of(address), 0) + nthreads
    cores = {host_of(address): n for address, n in client.run(usable_cores).items()}
    cap = max(1, n_rows // ROWS_PER_THREAD) if n_rows is not None else None
    threads = {host: max(1, cores.get(host, 1) // n) for host, n in concurrent.items()}
    return {host: min(n, cap) if cap else n for host, n in threads.items()}


def pickling_problem(proposal: TrialSpec) -> str:
    """Why a trial's arguments cannot travel to a worker, naming the argument ("" if fine)."""
    import cloudpickle

    for name, value in proposal.params.items():
        try:
            cloudpickle.dumps(value)
        except Exception as exc:
            return (
                f"argument params[{name!r}] of trial {proposal.trial_id} ({proposal.learner}) "
                f"cannot be pickled for the Dask workers: {type(exc).__name__}: {exc}. "
                "Search spaces must hold plain values (numbers, strings, tuples)."
            )
    return ""


# Seconds to wait for a broadcast of the training data to reach the workers.
SCATTER_TIMEOUT = 60


def scatter(client, data: TrialData, *, attempts: int = 4):
    """Broadcast the training data to every worker; a failure names the part at fault.

    A worker that has just died (killed for overstaying) may still be on the scheduler's
    list for a moment; scattering to it fails, so the broadcast is tried again.
    """
    from trialflow.runtime.retry import is_transient

    for attempt in range(attempts):
        try:
            return client.scatter(data, broadcast=True, hash=False, timeout=SCATTER_TIMEOUT)
        except Exception as exc:
            if is_transient(exc) and attempt + 1 < attempts:
                time.sleep(0.5 * (attempt + 1))
                continue
            explain_scatter_failure(data, exc)
            raise
    raise AssertionError("the loop returns or raises")


def explain_scatter_failure(data: TrialData, exc: Exception) -> None:
    """Raise a SearchError naming the column that cannot be pickled, if one cannot."""
    import cloudpickle

    for column in data.X.columns:
        try:
            cloudpickle.dumps(data.X[column])
        except Exception as inner:
            raise SearchError(
                f"Column {column!r} holds values that cannot be pickled for the Dask "
                f"workers ({type(inner).__name__}: {inner}); convert it to numbers or "
                "strings, or drop it."
            ) from exc


async def exit_process() -> None:
    # A coroutine: Dask runs only coroutines without waiting for their answer (wait=False),
    # and this one never answers.
    import os

    os._exit(1)
