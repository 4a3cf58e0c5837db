"""Batch scoring: predictions for a raw table, written out whole or not at all."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd

from trialflow.errors import ConfigError

OUTPUT_SUFFIXES = (".csv", ".parquet")


def score_frame(pipeline, frame: pd.DataFrame) -> pd.DataFrame:
    """Predictions in input row order: `prediction`, plus `proba_<class>` for classifiers."""
    out = pd.DataFrame({"prediction": pipeline.predict(frame)}, index=frame.index)
    if hasattr(pipeline, "predict_proba") and hasattr(pipeline, "classes_"):
        proba = pipeline.predict_proba(frame)
        for j, cls in enumerate(pipeline.classes_):
            out[f"proba_{cls}"] = proba[:, j]
    return out.reset_index(drop=True)


def check_output_path(path: str) -> Path:
    target = Path(path).expanduser()
    if target.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ConfigError(
            f"Output '{path}' must end in .csv or .parquet; got '{target.suffix or '(none)'}'."
        )
    if not target.parent.exists():
        raise ConfigError(f"The folder of output '{path}' does not exist: create it first.")
    return target


def write_atomically(frame: pd.DataFrame, path: str) -> Path:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file."""
    target = check_output_path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    os.close(fd)
    try:
        if target.suffix.lower() == ".csv":
            frame.to_csv(tmp, index=False)
        else:
            frame.to_parquet(tmp, index=False)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target
