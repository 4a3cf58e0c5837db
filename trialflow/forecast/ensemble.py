"""Combining learners on their backtest predictions: greedy ensemble selection.

Caruana's forward selection with replacement: start from the learner with the lowest
backtest MASE and repeatedly add (again, possibly) the learner whose addition lowers the
MASE of the average most. The weights are the counts; with a handful of learners they
cannot overfit much, and a learner that never helps gets weight 0 and is never run again.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

ROUNDS = 20


def greedy_weights(predictions: pd.DataFrame, learners: list[str]) -> dict[str, float]:
    """Weights (summing to 1) over ``learners``, chosen to minimise the backtest MASE."""
    if not learners:
        raise ValueError("no learner finished its backtests")
    P = predictions[learners].to_numpy(dtype=float)
    y = predictions["y"].to_numpy(dtype=float)
    scale = predictions["scale"].to_numpy(dtype=float)
    counts = np.zeros(len(learners))
    total = np.zeros(len(y))
    for round_ in range(1, ROUNDS + 1):
        errors = np.abs(y[:, None] - (total[:, None] + P) / round_) / scale[:, None]
        best = int(np.argmin(np.nanmean(errors, axis=0)))
        counts[best] += 1
        total += P[:, best]
    return {name: float(c / ROUNDS) for name, c in zip(learners, counts, strict=True) if c}


def combine(predictions: pd.DataFrame, weights: dict[str, float]) -> np.ndarray:
    """The weighted average of the learners' columns."""
    return sum(predictions[name].to_numpy(dtype=float) * w for name, w in weights.items())
