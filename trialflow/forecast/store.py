"""A fitted forecaster as files: ``forecaster.json`` (plain values, LightGBM's model text)
and one Parquet file per table (intervals, backtest predictions, scores).

Nothing is pickled: loading a registered forecaster rebuilds it from numbers, strings and
tables, so a tampered artifact cannot run code.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from trialflow.forecast.forecaster import Forecaster

STATE_FILE = "forecaster.json"
TABLES = ("intervals", "backtest", "scores")


def write_forecaster(forecaster: Forecaster, folder: Path) -> None:
    """Write ``forecaster`` into ``folder`` (created)."""
    folder.mkdir(parents=True, exist_ok=True)
    state = forecaster.to_state()
    for name in TABLES:
        state.pop(name).to_parquet(folder / f"{name}.parquet", index=False)
    (folder / STATE_FILE).write_text(json.dumps(state, default=_plain), encoding="utf-8")


def read_forecaster(folder: Path) -> Forecaster:
    """The forecaster ``write_forecaster`` wrote into ``folder``."""
    state = json.loads((folder / STATE_FILE).read_text(encoding="utf-8"))
    for name in TABLES:
        state[name] = pd.read_parquet(folder / f"{name}.parquet")
    return Forecaster.from_state(state)


def _plain(value):
    # numpy scalars and timestamps in the feature spec's categories and the notes.
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    raise TypeError(f"not storable as JSON: {type(value).__name__}")
