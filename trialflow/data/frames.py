"""DataFrames handed to a run from Python, held in this process under their content key.

Prefect's API stores every flow-run parameter and refuses parameters over 512 KB, so a table
never travels as one (a 10,000-row, 4-column DataFrame already exceeded it). The caller
holds the frame here and passes its key; the load step, running in the same process, takes
the frame back by that key. The key is the frame's content fingerprint, which is also its
checkpoint key, so a re-run with the same frame resumes from the same checkpoints.
"""

from __future__ import annotations

import threading

import pandas as pd

from trialflow.errors import ConfigError

_held: dict[str, pd.DataFrame] = {}
# Runs in this process holding each key: two runs on the same frame share one entry.
_holders: dict[str, int] = {}
_lock = threading.Lock()


def hold(frame: pd.DataFrame) -> str:
    """Keep ``frame`` for a run in this process; returns the key to pass instead of it."""
    from trialflow.data.tables import fingerprint

    if not isinstance(frame, pd.DataFrame):
        raise TypeError(f"Expected a pandas DataFrame as data; got {type(frame).__name__}.")
    key = fingerprint(frame)
    with _lock:
        _held[key] = frame
        _holders[key] = _holders.get(key, 0) + 1
    return key


def held(key: str) -> pd.DataFrame:
    """The frame held under ``key``, with a clear error when this process does not hold it."""
    with _lock:
        frame = _held.get(key)
    if frame is None:
        raise ConfigError(
            f"The DataFrame of this run (key {key}) is held only by the process that started "
            "the run, and this process does not hold it. Start the run again from Python with "
            "the DataFrame, or pass a .csv/.parquet path as data so any process can read it."
        )
    return frame


def release(key: str) -> None:
    """Drop this run's hold on ``key``; the frame goes when no run holds it."""
    with _lock:
        _holders[key] = _holders.get(key, 1) - 1
        if _holders[key] <= 0:
            _holders.pop(key, None)
            _held.pop(key, None)
