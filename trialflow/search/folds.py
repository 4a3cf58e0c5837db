"""Validation splits: k-fold cross-validation, or one validation split when data is large.

(Not the holdout, `trialflow.data.holdout`: the rows the user asks to keep out of the whole
search and refit.)
"""

from __future__ import annotations

import numpy as np

# Above this many rows one validation split is as informative as k folds at 1/k of the cost.
SINGLE_SPLIT_ROWS = 50_000
VALIDATION_SHARE = 0.2


def make_folds(
    y: np.ndarray, *, task: str, n_folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Row indices (train, validation) per fold; stratified for classification."""
    from sklearn.model_selection import KFold, StratifiedKFold, train_test_split

    stratify = task in ("binary", "multiclass")
    index = np.arange(len(y))
    if len(y) > SINGLE_SPLIT_ROWS:
        train, valid = train_test_split(
            index, test_size=VALIDATION_SHARE, random_state=seed, stratify=y if stratify else None
        )
        return [(np.sort(train), np.sort(valid))]
    if stratify:
        splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    else:
        splitter = KFold(n_splits=n_folds, shuffle=True, random_state=seed)
    return list(splitter.split(index, y if stratify else None))


def validation_scheme(n_rows: int, n_folds: int) -> str:
    if n_rows > SINGLE_SPLIT_ROWS:
        return f"one validation split ({VALIDATION_SHARE:.0%} of {n_rows} rows)"
    return f"{n_folds}-fold cross-validation"
