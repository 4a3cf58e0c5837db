"""The holdout: rows kept out of the search and the refit, scored once by the final model.

Cross-validation scores pick the model, so the best of many trials is an optimistic
estimate of it; the holdout is the one score nothing was chosen on. It costs training rows,
so it is asked for (``holdout`` in the config), not taken by default.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from trialflow.data.loading import TrainingTable
from trialflow.errors import ConfigError
from trialflow.model.metrics import METRICS

# Fewest holdout rows whose score means anything.
MIN_ROWS = 30
# What the holdout reports, beside the run's own metric.
REPORTED = {
    "binary": ("roc_auc", "log_loss", "accuracy", "f1"),
    "multiclass": ("log_loss", "accuracy"),
    "regression": ("r2", "rmse", "mae"),
}


@dataclass(frozen=True)
class Holdout:
    X: pd.DataFrame
    y: np.ndarray

    def __len__(self) -> int:
        return len(self.y)


def split_holdout(
    table: TrainingTable, share: float, seed: int
) -> tuple[TrainingTable, Holdout | None]:
    """(the rows to train on, the holdout), stratified by class for classification."""
    if share <= 0:
        return table, None
    from sklearn.model_selection import train_test_split

    n_holdout = int(round(len(table.y) * share))
    if n_holdout < MIN_ROWS or len(table.y) - n_holdout < MIN_ROWS:
        raise ConfigError(
            f"holdout {share:g} of {len(table.y)} rows leaves {n_holdout} rows to score and "
            f"{len(table.y) - n_holdout} to train on; each needs at least {MIN_ROWS}. "
            "Use a larger table, or holdout 0 to rely on cross-validation alone."
        )
    stratify = table.y if table.task != "regression" and _each_class_splits(table.y) else None
    rows = np.arange(len(table.y))
    train_rows, holdout_rows = train_test_split(
        rows, test_size=n_holdout, random_state=seed, stratify=stratify
    )
    train_rows, holdout_rows = np.sort(train_rows), np.sort(holdout_rows)
    training = replace(
        table, X=table.X.iloc[train_rows].reset_index(drop=True), y=table.y[train_rows]
    )
    holdout = Holdout(X=table.X.iloc[holdout_rows].reset_index(drop=True), y=table.y[holdout_rows])
    return training, holdout


def _each_class_splits(y: np.ndarray) -> bool:
    _, counts = np.unique(y, return_counts=True)
    return bool(counts.min() >= 2)


def holdout_scores(model, holdout: Holdout, task: str, metric: str) -> dict[str, float]:
    """``{metric: score}`` of ``model`` on the holdout: the run's metric first, then the
    task's usual ones; a metric the holdout cannot compute (one class only) is left out."""
    from trialflow.model.pipeline import aligned_proba

    names = [metric, *(m for m in REPORTED[task] if m != metric)]
    classes = list(model.classes_) if task != "regression" else None
    predicted = np.asarray(model.predict(holdout.X))
    proba = None
    if classes and hasattr(model, "predict_proba"):  # a fairness-mitigated model has none
        proba = aligned_proba(model, holdout.X, classes)
    scores = {}
    for name in names:
        m = METRICS[name]
        if m.needs_proba and proba is None:
            continue
        try:
            value = m.score(holdout.y, proba if m.needs_proba else predicted, classes)
        except ValueError:  # e.g. ROC AUC with a single class among the rows
            continue
        if np.isfinite(value):
            scores[name] = float(value)
    return scores
