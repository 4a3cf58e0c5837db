"""The one switch between NumPy and CuPy: which array module a computation runs on."""

from __future__ import annotations

import functools
import sys
from types import ModuleType

import numpy as np

DEVICES = ("auto", "cpu", "gpu")

# Below this many elements NumPy finishes in a few milliseconds, about what a CuPy call
# costs in kernel launches, the host-to-device copy and (first time) kernel compilation;
# above it the device wins by tens to thousands of times (benchmarks/gpu.py).
GPU_MIN_ELEMENTS = 1_000_000


@functools.cache
def _device_count() -> int:
    # Cached: importing CuPy and asking the driver costs ~0.1-1 s, once per process.
    try:
        import cupy

        return int(cupy.cuda.runtime.getDeviceCount())
    except Exception:  # no CuPy, no driver, no device: all mean "no GPU", never an error
        return 0


def _worker_allows_gpu() -> bool:
    """False on a Dask worker that does not declare a GPU resource: CPU workers sharing a
    machine with a GPU worker must not each open a CUDA context (~0.5 GB) on its device."""
    if "distributed" not in sys.modules:  # not imported: not a worker process
        return True
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # ValueError: not inside a worker's task
        return True
    from trialflow.gpu.routing import GPU

    return worker.state.total_resources.get(GPU, 0) > 0


def gpu_device_count() -> int:
    """CUDA devices CuPy sees in this process (0 without CuPy or a driver)."""
    return _device_count()


def gpu_available() -> bool:
    """Whether this process may compute on a GPU: CuPy imports, a device exists, and (on a
    Dask worker) the worker declares the GPU resource. Never raises."""
    return _device_count() > 0 and _worker_allows_gpu()


def array_module(device: str = "auto") -> ModuleType:
    """NumPy or CuPy: "cpu" is NumPy, "gpu" is CuPy (an error without one), "auto" is CuPy
    when ``gpu_available()``."""
    if device not in DEVICES:
        raise ValueError(f"The 'device' parameter must be one of {DEVICES}; got {device!r}.")
    if device == "cpu" or (device == "auto" and not gpu_available()):
        return np
    if _device_count() == 0:
        raise RuntimeError("device='gpu' needs CuPy and a CUDA device; found neither.")
    import cupy

    return cupy


def module_for(n_elements: int, device: str = "auto") -> ModuleType:
    """``array_module(device)``, but NumPy under "auto" while the data is too small to pay
    for the device (``GPU_MIN_ELEMENTS``)."""
    if device == "auto" and n_elements < GPU_MIN_ELEMENTS:
        return np
    return array_module(device)


def is_device_array(a) -> bool:
    return type(a).__module__.startswith("cupy")


def to_device(a, xp: ModuleType):
    """``a`` as an array of ``xp`` (a copy to the device when ``xp`` is CuPy)."""
    return xp.asarray(a)


def to_host(a):
    """``a`` as a NumPy array (CuPy arrays are copied back; NumPy ones returned as they are)."""
    return a.get() if is_device_array(a) else np.asarray(a)
