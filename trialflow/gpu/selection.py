"""Where the project's scoring of many candidates at once (ensemble blends, shuffled copies)
runs: on the GPU with stacked losses when the data is large enough to pay, else on NumPy
exactly as before."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from trialflow.gpu.arrays import module_for, to_host
from trialflow.gpu.kernels import greedy_selection
from trialflow.gpu.losses import stacked_loss


def select_counts(
    predictions: Sequence[np.ndarray],
    y: np.ndarray,
    loss: Callable[[np.ndarray], float],
    rounds: int,
    *,
    metric: str,
    classes,
) -> np.ndarray:
    """Greedy ensemble selection's counts in its best round (``kernels.greedy_selection``):
    NumPy and ``loss`` (one blend at a time) for small pools, the metric's stacked loss on a
    GPU for large ones."""
    xp = module_for(len(predictions) * predictions[0].size)
    stacked = stacked_loss(metric, y, classes, xp) if xp is not np else None
    if stacked is None:
        return greedy_selection(predictions, rounds=rounds, loss=loss)
    stack = xp.asarray(np.stack(predictions))
    return greedy_selection(stack, rounds=rounds, stacked_loss=stacked)


def copy_losses(
    prediction: np.ndarray,
    copies: int,
    y: np.ndarray,
    loss: Callable[[np.ndarray, np.ndarray], float],
    *,
    metric: str,
    classes,
) -> np.ndarray:
    """The loss of each of ``copies`` equal blocks of rows of ``prediction`` (permutation
    importance's shuffled copies), all at once where the metric vectorises."""
    xp = module_for(prediction.size)
    numeric = prediction.dtype.kind in "fiu"
    probabilities = classes is not None and prediction.ndim == 2
    stacked = (
        stacked_loss(metric, y, classes, xp)
        if numeric and (probabilities or classes is None)
        else None
    )
    if stacked is None:
        return np.array([loss(block, y) for block in np.split(prediction, copies)])
    stack = xp.asarray(prediction).reshape(copies, -1, *prediction.shape[1:])
    return to_host(stacked(stack)).astype(np.float64)
