"""Fairness of the final model across the groups of each sensitive column, with fairlearn.

Measured on out-of-fold predictions (each row predicted by a model that did not see it), so
the figures are what the model does on new rows, not on rows it memorised. Numeric sensitive
columns are cut into quartiles. Groups too small to judge are flagged, never hidden, and a
disparity beyond its threshold is an alert.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

# Groups with fewer rows or a smaller share than these are flagged as too small to judge.
MIN_GROUP_ROWS = 30
MIN_GROUP_SHARE = 0.02
# Alerts: a difference in selection rate (demographic parity) or in true/false positive
# rates (equalized odds) above this, or a selection-rate ratio below the four-fifths rule.
MAX_DIFFERENCE = 0.1
MIN_RATIO = 0.8
NUMERIC_BINS = 4
# Representation: a group below this share of the training rows is flagged.
MIN_REPRESENTATION = 0.05


@dataclass
class FairnessReport:
    """Per-group metrics and per-column disparities, with the alerts they raise."""

    groups: pd.DataFrame
    disparities: pd.DataFrame
    alerts: list[str] = field(default_factory=list)
    # Each group's rows and share of the training data, flagged when under-represented.
    representation: pd.DataFrame = field(default_factory=pd.DataFrame)
    # A post-processed model's trade-off (trialflow.fairness.mitigation), when one was asked for.
    mitigation: Any = None


def assess(
    X: pd.DataFrame,
    y: np.ndarray,
    oof: np.ndarray,
    *,
    sensitive: list[str],
    task: str,
    classes: list | None,
    max_difference: float = MAX_DIFFERENCE,
    min_ratio: float = MIN_RATIO,
    min_representation: float = MIN_REPRESENTATION,
) -> FairnessReport:
    """Fairness of out-of-fold predictions ``oof`` (class probabilities, or values for
    regression) across the groups of each sensitive column of ``X``."""
    groups, disparities, alerts, shares = [], [], [], []
    known = ~np.isnan(oof).any(axis=1) if oof.ndim == 2 else ~np.isnan(oof)
    for column in sensitive:
        every = group_labels(X[column])
        share = representation(column, every, min_representation)
        shares.append(share)
        alerts += [
            f"{column!r}: group {g!r} is {s:.1%} of the training rows, below "
            f"{min_representation:.0%}: under-represented"
            for g, s in zip(share["group"], share["share"], strict=True)
            if s < min_representation
        ]
        labels = every[known]
        table, gaps = _column_report(column, labels, y[known], oof[known], task, classes)
        groups.append(table)
        disparities.append(gaps)
        alerts += _alerts(column, table, gaps, max_difference, min_ratio)
    return FairnessReport(
        pd.concat(groups, ignore_index=True) if groups else pd.DataFrame(),
        pd.DataFrame(disparities),
        alerts,
        pd.concat(shares, ignore_index=True) if shares else pd.DataFrame(),
    )


def representation(column: str, labels: pd.Series, threshold: float) -> pd.DataFrame:
    """Each group's rows and share of the training data, and whether it falls below
    ``threshold``."""
    counts = labels.value_counts()
    return pd.DataFrame(
        {
            "column": column,
            "group": counts.index.astype(str),
            "rows": counts.to_numpy().astype(int),
            "share": counts.to_numpy() / len(labels),
            "under_represented": counts.to_numpy() / len(labels) < threshold,
        }
    )


def group_labels(values: pd.Series) -> pd.Series:
    """Each row's group: its value, or its quartile for a numeric column; missing values are
    a group of their own."""
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 10:
        binned = pd.qcut(values, NUMERIC_BINS, duplicates="drop")
        labels = binned.astype(str)
    else:
        labels = values.astype(str)
    return labels.where(values.notna(), "(missing)").reset_index(drop=True)


def _column_report(column, labels, y, oof, task, classes):
    from fairlearn.metrics import MetricFrame

    if task == "binary":
        # fairlearn hands each metric one group's truth and scores (the probability of the
        # positive class); the rates threshold the scores at 0.5.
        frame = MetricFrame(
            metrics={
                "selection_rate": _selection_rate,
                "true_positive_rate": _tpr,
                "false_positive_rate": _fpr,
                "auc": _auc,
            },
            y_true=(y == classes[1]).astype(int),
            y_pred=oof[:, 1],
            sensitive_features=labels,
        )
    elif task == "multiclass":
        predicted = np.asarray(classes)[oof.argmax(axis=1)]
        frame = MetricFrame(
            metrics={"accuracy": lambda t, p: float(np.mean(t == p))},
            y_true=y,
            y_pred=predicted,
            sensitive_features=labels,
        )
    else:
        frame = MetricFrame(
            metrics={
                "mean_absolute_error": lambda t, p: float(np.mean(np.abs(t - p))),
                "mean_prediction": lambda t, p: float(np.mean(p)),
            },
            y_true=y.astype(float),
            y_pred=oof.astype(float),
            sensitive_features=labels,
        )
    table = frame.by_group.reset_index().rename(columns={labels.name or 0: "group"})
    table = table.rename(columns={table.columns[0]: "group"})
    counts = labels.value_counts()
    table.insert(0, "column", column)
    table.insert(2, "rows", table["group"].map(counts).astype(int))
    table.insert(3, "share", table["rows"] / len(labels))
    table["too_small"] = (table["rows"] < MIN_GROUP_ROWS) | (table["share"] < MIN_GROUP_SHARE)
    return table, _disparities(column, table, task)


def _disparities(column: str, table: pd.DataFrame, task: str) -> dict:
    judged = table[~table["too_small"]]
    row = {
        "column": column,
        "groups": len(table),
        "groups_too_small": int(table["too_small"].sum()),
    }
    if len(judged) < 2:
        return row
    if task == "binary":
        rates = judged["selection_rate"]
        row["demographic_parity_difference"] = float(rates.max() - rates.min())
        row["demographic_parity_ratio"] = float(rates.min() / rates.max()) if rates.max() else 1.0
        row["equalized_odds_difference"] = float(
            max(
                judged["true_positive_rate"].max() - judged["true_positive_rate"].min(),
                judged["false_positive_rate"].max() - judged["false_positive_rate"].min(),
            )
        )
        row["auc_difference"] = float(judged["auc"].max() - judged["auc"].min())
    elif task == "multiclass":
        row["accuracy_difference"] = float(judged["accuracy"].max() - judged["accuracy"].min())
    else:
        errors = judged["mean_absolute_error"]
        row["error_ratio"] = float(errors.max() / errors.min()) if errors.min() else float("inf")
    return row


def _alerts(
    column: str,
    table: pd.DataFrame,
    gaps: dict,
    max_difference: float = MAX_DIFFERENCE,
    min_ratio: float = MIN_RATIO,
) -> list[str]:
    alerts = []
    small = table[table["too_small"]]
    if len(small):
        shown = ", ".join(
            f"{g!r} ({n} rows)" for g, n in zip(small["group"], small["rows"], strict=True)
        )
        alerts.append(f"{column!r}: group(s) {shown} too small to judge fairly")
    dp = gaps.get("demographic_parity_difference")
    if dp is not None and dp > max_difference:
        alerts.append(f"{column!r}: selection rates differ by {dp:.3f} across groups")
    ratio = gaps.get("demographic_parity_ratio")
    if ratio is not None and ratio < min_ratio:
        alerts.append(f"{column!r}: selection-rate ratio {ratio:.2f} is below {min_ratio}")
    eo = gaps.get("equalized_odds_difference")
    if eo is not None and eo > max_difference:
        alerts.append(f"{column!r}: true/false positive rates differ by {eo:.3f} (equalized odds)")
    return alerts


def _selection_rate(t, score) -> float:
    return float(np.mean(np.asarray(score) >= 0.5))


def _tpr(t, score) -> float:
    positives = np.asarray(t) == 1
    return float(np.mean(np.asarray(score)[positives] >= 0.5)) if positives.any() else np.nan


def _fpr(t, score) -> float:
    negatives = np.asarray(t) == 0
    return float(np.mean(np.asarray(score)[negatives] >= 0.5)) if negatives.any() else np.nan


def _auc(t, score) -> float:
    from sklearn.metrics import roc_auc_score

    t = np.asarray(t)
    return float(roc_auc_score(t, score)) if 0 < t.sum() < len(t) else np.nan
