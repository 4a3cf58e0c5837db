"""Training matrices kept on the GPU between trials: each worker copies a featurized fold to
its device once, and every later trial on the same fold finds it there.

Trials on a worker share featurized folds (``trialflow.search.trial`` caches them per run), so the
host object is the key: while it is alive its device copy is reused, and when the run's
folds are evicted the device copy is freed with them.
"""

from __future__ import annotations

import threading
import weakref
from types import ModuleType

import numpy as np

_copies: dict[int, tuple[weakref.ref, object]] = {}
_lock = threading.Lock()


def host_matrix(X, dtype=np.float32) -> np.ndarray:
    """``X`` (a DataFrame or array) as a 2-D NumPy array of ``dtype``, missing as NaN."""
    if hasattr(X, "to_numpy"):
        return X.to_numpy(dtype=dtype, na_value=np.nan)
    return np.asarray(X, dtype=dtype)


def device_matrix(X, xp: ModuleType, dtype=np.float32):
    """``X`` as a 2-D ``xp`` array of ``dtype``; on a device, the copy made for the same host
    object earlier in this process when there is one."""
    if xp is np:
        return host_matrix(X, dtype)
    key = id(X)
    with _lock:
        held = _copies.get(key)
        if held is not None and held[0]() is X:
            copy = held[1]
            if copy.dtype == np.dtype(dtype):
                return copy
    copy = xp.asarray(host_matrix(X, dtype))
    try:
        ref = weakref.ref(X, lambda _, key=key: _forget(key))
    except TypeError:  # a type without weak references (a NumPy array): not kept
        return copy
    with _lock:
        _copies[key] = (ref, copy)
    return copy


def _forget(key: int) -> None:
    with _lock:
        _copies.pop(key, None)


def cached_count() -> int:
    """How many device copies this process holds (for tests and diagnostics)."""
    with _lock:
        return len(_copies)
