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

_prestarted: dict[tuple[int, int | None], Future] = {}
# Seconds the most recent local cluster took to start, its learners imported (a figure the
# benchmarks report as orchestration overhead).
last_start_seconds: float | None = None
_prestart_lock = threading.Lock()


def default_worker_count() -> int:
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


def start_local_cluster(n_workers: int, gpu_workers: int | None = None):
    """A LocalCluster of single-threaded worker processes on loopback, learners imported.

    ``gpu_workers`` of the ``n_workers`` declare the ``GPU`` resource, each pinned to its own
    device (None: one per device this machine has, none without CuPy or a device).
    """
    global last_start_seconds
    import dask
    from distributed import Client, LocalCluster

    started = time.perf_counter()
    n_gpu = local_gpu_workers(n_workers, gpu_workers)
    # Workers forked from one server process that has imported Dask's packages once, rather
    # than each spawned worker importing them again: on 2 cores the first trial came ~0.3 s
    # sooner and ~0.6 CPU-seconds cheaper. Only this cluster's start; restarts spawn.
    with dask.config.set({"distributed.worker.multiprocessing-method": "forkserver"}):
        cluster = LocalCluster(
            n_workers=n_workers - n_gpu,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.ERROR,
        )
        if n_gpu:
            _add_gpu_workers(cluster, n_gpu)
    with Client(cluster) as client:
        client.wait_for_workers(n_workers)
        client.run(_prepare_worker)
    last_start_seconds = round(time.perf_counter() - started, 3)
    return cluster


def local_gpu_workers(n_workers: int, gpu_workers: int | None) -> int:
    """How many of the local cluster's ``n_workers`` declare a GPU."""
    if gpu_workers is None:
        from trialflow.gpu.arrays import gpu_device_count

        return min(n_workers, gpu_device_count())
    if not 0 <= gpu_workers <= n_workers:
        raise ConfigError(
            f"The 'gpu_workers' parameter must be between 0 and the {n_workers} local "
            f"workers; got {gpu_workers}."
        )
    return gpu_workers


def _add_gpu_workers(cluster, n_gpu: int) -> None:
    """Start ``n_gpu`` more workers in ``cluster`` that declare the GPU resource, the i-th
    seeing only device i. A LocalCluster gives every worker the same options, so these are
    added to its worker specification, which it starts, restarts and closes like the rest."""
    import copy

    from trialflow.gpu.routing import GPU

    for i in range(n_gpu):
        spec = copy.deepcopy(cluster.new_spec)
        spec["options"] = {
            **spec["options"],
            "nthreads": 1,
            "resources": {GPU: 1},
            "env": {**spec["options"].get("env", {}), "CUDA_VISIBLE_DEVICES": str(i)},
        }
        cluster.worker_spec[f"gpu-{i}"] = spec
    cluster.sync(cluster._correct_state)


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


def prestart_local_cluster(n_workers: int | None = None, gpu_workers: int | None = None) -> None:
    """Start the local cluster in a background thread; ``dask_cluster`` will reuse it."""
    n = n_workers or default_worker_count()
    with _prestart_lock:
        if (n, gpu_workers) in _prestarted:
            return
        future: Future = Future()
        _prestarted[(n, gpu_workers)] = future

    def start() -> None:
        try:
            future.set_result(start_local_cluster(n, gpu_workers))
        except BaseException as exc:  # surfaced when the flow asks for the cluster
            future.set_exception(exc)

    threading.Thread(target=start, name="trialflow-dask-start", daemon=True).start()


def _take_prestarted(n_workers: int, gpu_workers: int | None = None):
    with _prestart_lock:
        future = _prestarted.pop((n_workers, gpu_workers), None)
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
def dask_cluster(
    address: str = "", *, n_workers: int | None = None, gpu_workers: int | None = None
) -> Iterator[str]:
    """Yield a scheduler address: the given one, or a local cluster's that is closed after
    (``gpu_workers`` of its workers declaring a GPU; None: one per device found)."""
    if address:
        _check_address(address)
        yield address
        return
    n = n_workers or default_worker_count()
    cluster = _take_prestarted(n, gpu_workers) or start_local_cluster(n, gpu_workers)
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
