"""Load and check: from a data source to the rows, target and task a run trains on."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from trialflow.data.tables import (
    READ_NOTES,
    check_column_names,
    fingerprint,
    nested_target_error,
    read_table,
)
from trialflow.data.tidy import TidyNote, tidy_features
from trialflow.errors import ConfigError
from trialflow.validation.checks import CheckResult, check_training_table, record_training_checks


@dataclass
class TrainingTable:
    """Labelled training rows with the facts every later step needs."""

    X: pd.DataFrame
    y: np.ndarray
    target: str
    task: str
    task_reason: str
    source: str
    fingerprint: str
    n_unlabelled: int = 0
    checks: list[CheckResult] = field(default_factory=list)
    # What loading changed in the raw columns (numbers parsed from text, ...).
    notes: list[TidyNote] = field(default_factory=list)
    # Classes left out for having too few rows for the folds: {class: rows}.
    rare_classes: dict = field(default_factory=dict)

    @property
    def classes(self) -> list | None:
        if self.task == "regression":
            return None
        return sorted(pd.unique(self.y).tolist())


def load_training_table(
    source: str | None,
    frame: pd.DataFrame | None,
    *,
    target: str,
    task: str,
    cv_folds: int = 5,
    record: bool = True,
) -> TrainingTable:
    """Read the data (unless a frame is given), run the first checks, parse numbers written
    as text, and split off the target.

    ``record=False`` leaves the Great Expectations record of the checks for later
    (`record_checks`): the checks themselves always run.
    """
    frame = read_training_frame(source, frame)
    # What reading repaired (encoding, column names, nested columns left out), if it read.
    read_notes = list(frame.attrs.get(READ_NOTES, []))
    nested_target = nested_target_error(source or "the data", target, frame)
    if nested_target is not None:
        raise nested_target
    check = check_training_table(
        frame, target=target, task=task, n_folds=cv_folds, source=source or "", record=record
    )
    labelled, notes = tidy_features(check.labelled, target=target)
    y = labelled[target].to_numpy()
    if check.task == "regression":
        y = y.astype(np.float64)
    return TrainingTable(
        X=labelled.drop(columns=[target]).reset_index(drop=True),
        y=y,
        target=target,
        task=check.task,
        task_reason=check.task_reason,
        source=source or "<DataFrame>",
        fingerprint=fingerprint(labelled),
        n_unlabelled=check.n_unlabelled,
        checks=check.results,
        notes=read_notes + notes,
        rare_classes=check.rare_classes,
    )


def read_training_frame(source: str | None, frame: pd.DataFrame | None = None) -> pd.DataFrame:
    """The training data as read (a given frame as it is), its column names checked."""
    if frame is None:
        if not source:
            raise ConfigError("No data given: pass a .csv/.parquet path or a DataFrame.")
        frame = read_table(source)
    elif not isinstance(frame, pd.DataFrame):
        raise TypeError(f"Expected a pandas DataFrame as data; got {type(frame).__name__}.")
    check_column_names(list(frame.columns), source or "the DataFrame")
    if not all(isinstance(c, str) for c in frame.columns):
        frame = frame.rename(columns=str)
    return frame


def record_checks(table: TrainingTable, frame: pd.DataFrame) -> None:
    """Fill in ``table.checks`` with Great Expectations' record of the first checks on the
    ``frame`` it was loaded from."""
    table.checks = record_training_checks(
        frame, target=table.target, task=table.task, source=table.source
    )
