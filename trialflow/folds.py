"""Validation splits: k-fold cross-validation, or one holdout split when data is large."""

from __future__ import annotations

import numpy as np

# Above this many rows one holdout split is as informative as k folds at 1/k of the cost.
HOLDOUT_ROWS = 50_000
HOLDOUT_SHARE = 0.2


def make_folds(
    y: np.ndarray, *, task: str, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row indices (train, validation) per fold; stratified for classification."""
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    stratify = task in ("binary", "multiclass")
    index = np.arange(len(y))
    if len(y) > HOLDOUT_ROWS:
        train, valid = train_test_split(
            index, test_size=HOLDOUT_SHARE, random_state=seed, stratify=y if stratify else None
        )
        return [(np.sort(train), np.sort(valid))]
    if stratify:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(index, y if stratify else None))


def validation_scheme(n_rows: int, n_folds: int) -> str:
    if n_rows > HOLDOUT_ROWS:
        return f"holdout ({HOLDOUT_SHARE:.0%} of {n_rows} rows)"
    return f"{n_folds}-fold cross-validation"
