"""The Dask cluster trials run on: an embedded LocalCluster, or a user's scheduler address.

Starting worker processes and importing learners in them takes seconds, so the CLI and the
Python API start the local cluster in the background while Prefect starts up
(``prestart_local_cluster``); the flow then picks it up instead of starting another.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager

from trialflow.errors import ConfigError

logger = logging.getLogger(__name__)

_prestarted: dict[int, Future] = {}
# Seconds the most recent local cluster took to start, its learners imported (a figure the
# benchmarks report as orchestration overhead).
last_start_seconds: float | None = None
_prestart_lock = threading.Lock()


def default_worker_count() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def start_local_cluster(n_workers: int):
    """A LocalCluster of single-threaded worker processes on loopback, learners imported."""
    global last_start_seconds
    import dask
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    # Workers forked from one server process that has imported Dask's packages once, rather
    # than each spawned worker importing them again: on 2 cores the first trial came ~0.3 s
    # sooner and ~0.6 CPU-seconds cheaper. Only this cluster's start; restarts spawn.
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        cluster = LocalCluster(
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
    with Client(cluster) as client:
        client.run(_prepare_worker)
    last_start_seconds = round(time.perf_counter() - started, 3)
    return cluster


# How much lower the local workers' CPU priority is than the run's own process: trials take
# every core that is free, but on a small machine the run's orchestration (the search loop,
# Prefect's API starting beside the first trials, the final steps) comes first; starved,
# Prefect's start took 11-17 s of a 30 s run on 2 cores and the flow waited for it.
WORKER_NICENESS = 5


def _prepare_worker() -> None:
    # Paid once per worker here rather than inside the first trials' timings.
    import lightgbm  # noqa: F401
    import sklearn.ensemble  # noqa: F401
    import sklearn.linear_model  # noqa: F401

    # After the imports: they are on the way to the first trial.
    os.nice(WORKER_NICENESS)


def prestart_local_cluster(n_workers: int | None = None) -> None:
    """Start the local cluster in a background thread; ``dask_cluster`` will reuse it."""
    n = n_workers or default_worker_count()
    with _prestart_lock:
        if n in _prestarted:
            return
        future: Future = Future()
        _prestarted[n] = future

    def start() -> None:
        try:
            future.set_result(start_local_cluster(n))
        except BaseException as exc:  # surfaced when the flow asks for the cluster
            future.set_exception(exc)

    threading.Thread(target=start, name="trialflow-dask-start", daemon=True).start()


def _take_prestarted(n_workers: int):
    with _prestart_lock:
        future = _prestarted.pop(n_workers, None)
    return future.result() if future is not None else None


def close_prestarted() -> None:
    """Close local clusters started ahead of a run that did not use them."""
    with _prestart_lock:
        futures = list(_prestarted.values())
        _prestarted.clear()
    for future in futures:
        try:
            future.result().close()
        except Exception as exc:  # it failed to start; nothing to close
            logger.debug("Prestarted cluster did not start: %s", exc)


@contextmanager
def dask_cluster(address: str = "", *, n_workers: int | None = None) -> Iterator[str]:
    """Yield a scheduler address: the given one, or a local cluster's that is closed after."""
    if address:
        _check_address(address)
        yield address
        return
    n = n_workers or default_worker_count()
    cluster = _take_prestarted(n) or start_local_cluster(n)
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


def connect(address: str):
    """A client for the scheduler at ``address``, with a clear error when none answers."""
    from distributed import Client

    try:
        return Client(address, timeout=10, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise ConfigError(
            f"Could not reach a Dask scheduler at {address!r} ({exc}). Start one with "
            "`dask scheduler`, or leave --dask-address empty to use a local cluster."
        ) from exc


def _check_address(address: str) -> None:
    if "://" not in address and ":" not in address:
        raise ConfigError(
            f"The 'dask_address' parameter must look like tcp://HOST:PORT; got {address!r}."
        )
