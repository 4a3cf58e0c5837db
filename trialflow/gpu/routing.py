"""Dask routing of GPU trials: workers with a GPU declare the ``GPU`` resource
(``dask worker --resources GPU=1``, or the local cluster's GPU workers) and a trial whose
learner wants a GPU asks for one unit of it, so it runs only there; every other trial runs
anywhere. Without such a worker, GPU learners run on the CPU workers like the rest.
"""

from __future__ import annotations

import time
import weakref

# The resource name a GPU worker declares; one unit per device, one GPU trial at a time.
GPU = "GPU"

# Seconds a client's answer to "which workers have a GPU?" is reused: asking costs a round
# trip to the scheduler, and workers that join later (a GPU worker started after the run)
# are picked up within this long.
REFRESH_SECONDS = 10.0

_known: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def gpu_workers(client) -> list[str]:
    """Addresses of the client's workers that declare the ``GPU`` resource."""
    try:
        workers = client.scheduler_info(n_workers=-1)["workers"]
    except TypeError:  # distributed before n_workers existed lists every worker anyway
        workers = client.scheduler_info()["workers"]
    return sorted(a for a, w in workers.items() if (w.get("resources") or {}).get(GPU, 0) > 0)


def cluster_has_gpu(client) -> bool:
    """Whether some worker declares a GPU, asked at most every ``REFRESH_SECONDS``."""
    checked = _known.get(client)
    if checked is None or time.monotonic() - checked[0] > REFRESH_SECONDS:
        checked = (time.monotonic(), bool(gpu_workers(client)))
        _known[client] = checked
    return checked[1]


def wants_gpu(learner: str) -> bool:
    """Whether the registered learner named ``learner`` trains on a GPU when it gets one."""
    from trialflow.learners import LEARNERS  # the registry needs scikit-learn; callers have it

    spec = LEARNERS.get(learner)
    return bool(spec is not None and spec.wants_gpu)


def submit_kwargs(client, learner: str) -> dict:
    """Extra ``client.submit`` arguments for a trial of ``learner``: one unit of the GPU
    resource when the learner wants a GPU and the cluster has one, else none (a resource
    no worker declares would leave the trial waiting forever)."""
    if wants_gpu(learner) and cluster_has_gpu(client):
        return {"resources": {GPU: 1}}
    return {}
