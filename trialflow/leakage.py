"""Target leakage: a single column that alone predicts the target almost perfectly.

Such a column is usually the target under another name, or something recorded after the
outcome (a refund date for churn), and a model that uses it is useless in production. Each
column is scored alone, out of fold so that a many-levelled column cannot score by
memorising: its values are binned (numbers into quantiles, categories as they are), each
bin's mean target is learnt on one half of the rows and scored on the other half, and the
halves swap. A column scoring above the threshold on both halves is leakage.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# A column alone scoring above these (AUC for classes, R² for numbers) is leakage.
AUC_LEAK = 0.99
R2_LEAK = 0.99
BINS = 100
# Rows looked at: the check must stay a small part of a run.
SAMPLE_ROWS = 50_000


@dataclass(frozen=True)
class Leak:
    column: str
    score: float
    metric: str

    @property
    def reason(self) -> str:
        return (
            f"target leakage: alone it predicts the target with {self.metric} "
            f"{self.score:.3f} (a copy of the target, or known only after it); "
            "set its type in a featurization plan to keep it"
        )


def find_leaks(X: pd.DataFrame, y: np.ndarray, task: str, *, seed: int = 0) -> list[Leak]:
    """Columns of ``X`` that alone predict ``y`` beyond the leakage thresholds."""
    rng = np.random.default_rng(seed)
    rows = np.arange(len(y))
    if len(rows) > SAMPLE_ROWS:
        rows = np.sort(rng.choice(rows, SAMPLE_ROWS, replace=False))
    if len(rows) < 20:
        return []
    half = rng.permutation(len(rows)) < len(rows) // 2
    target = _target_matrix(np.asarray(y)[rows], task)
    leaks = []
    for column in X.columns:
        values = X[column].iloc[rows]
        codes = _bins(values)
        score = min(
            _score(codes, target, train=half, test=~half, task=task),
            _score(codes, target, train=~half, test=half, task=task),
        )
        if task == "regression" and _is_number(values):
            # Bins blur a long tail (house prices); a near-copy of the target is also a
            # straight line in its values or in its ranks.
            score = max(score, _linear_r2(values, target[:, 0], half))
        threshold = R2_LEAK if task == "regression" else AUC_LEAK
        if score > threshold:
            leaks.append(Leak(column, score, "R²" if task == "regression" else "AUC"))
    return leaks


def _is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _linear_r2(values: pd.Series, y: np.ndarray, half: np.ndarray) -> float:
    """Out-of-fold R² of a straight line through the values, and through their ranks."""
    x = values.astype(float).replace([np.inf, -np.inf], np.nan).to_numpy()
    known = ~np.isnan(x)
    ranked_x = pd.Series(x).rank().to_numpy()
    ranked_y = pd.Series(y).rank().to_numpy()
    return max(_line_r2(x, y, known, half), _line_r2(ranked_x, ranked_y, known, half))


def _line_r2(x: np.ndarray, y: np.ndarray, known: np.ndarray, half: np.ndarray) -> float:
    """The worse of the two halves' R² for a line fitted on the other half."""
    scores = []
    for train, test in ((half & known, ~half & known), (~half & known, half & known)):
        if train.sum() < 3 or test.sum() < 3 or np.std(x[train]) == 0:
            return 0.0
        slope, intercept = np.polyfit(x[train], y[train], 1)
        residual = ((y[test] - (slope * x[test] + intercept)) ** 2).sum()
        total = ((y[test] - y[test].mean()) ** 2).sum()
        scores.append(1 - residual / total if total > 0 else 0.0)
    return float(min(scores))


def _target_matrix(y: np.ndarray, task: str) -> np.ndarray:
    """Regression: the values as one column; classes: one 0/1 column per class."""
    if task == "regression":
        return y.astype(float).reshape(-1, 1)
    classes = pd.unique(y)
    return np.column_stack([(y == c).astype(float) for c in classes])


def _bins(values: pd.Series) -> np.ndarray:
    """Integer bin codes: quantile bins for numbers, the value itself otherwise; -1 missing."""
    if _is_number(values):
        numbers = values.astype(float).replace([np.inf, -np.inf], np.nan)
        if numbers.nunique() > BINS:
            codes = pd.qcut(numbers, BINS, labels=False, duplicates="drop")
            return codes.fillna(-1).to_numpy(dtype=np.int64)
    codes, _ = pd.factorize(values.astype(str).where(values.notna()), use_na_sentinel=True)
    return codes.astype(np.int64)


def _score(codes, target, *, train, test, task: str) -> float:
    """The test half's score when each bin predicts its train-half mean target."""
    n_codes = int(codes.max()) + 2
    shifted = codes + 1  # missing (-1) becomes a bin of its own
    counts = np.bincount(shifted[train], minlength=n_codes).astype(float)
    overall = target[train].mean(axis=0)
    predicted = np.empty((int(test.sum()), target.shape[1]))
    for j in range(target.shape[1]):
        sums = np.bincount(shifted[train], weights=target[train, j], minlength=n_codes)
        means = np.where(counts > 0, sums / np.maximum(counts, 1), overall[j])
        predicted[:, j] = means[shifted[test]]
    actual = target[test]
    if task == "regression":
        residual = ((actual - predicted) ** 2).sum()
        total = ((actual - actual.mean()) ** 2).sum()
        return float(1 - residual / total) if total > 0 else 0.0
    from sklearn.metrics import roc_auc_score

    aucs = [
        roc_auc_score(actual[:, j], predicted[:, j])
        for j in range(actual.shape[1])
        if 0 < actual[:, j].sum() < len(actual)
    ]
    return float(np.mean(aucs)) if aucs else 0.0
