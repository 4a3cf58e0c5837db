"""The project's metrics, as losses over a stack of predictions (one per candidate, first
axis), computed at once on NumPy or CuPy: greedy ensemble selection scores every model's
blend each round, permutation importance every shuffled copy.

Each loss equals ``Metric.loss(Metric.score(y, prediction, classes))`` of
``trialflow.model.metrics`` for every candidate, within float tolerance. ``stacked_loss`` answers
None for a metric or input it does not vectorise (f1, multiclass ROC AUC, labels that are
not among the classes); the caller then scores candidates one at a time.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import numpy as np

from trialflow.gpu.kernels import roc_auc_rows

StackedLoss = Callable[[object], object]

METRICS = ("roc_auc", "log_loss", "accuracy", "r2", "rmse", "mae")


def stacked_loss(metric: str, y, classes, xp: ModuleType) -> StackedLoss | None:
    """A function of a stack of predictions (``xp`` arrays: candidates × rows, with a last
    axis of class probabilities for classification) to one loss per candidate."""
    y = np.asarray(y)
    if metric in ("r2", "rmse", "mae"):
        return _regression(metric, y.astype(np.float64), xp)
    if metric not in METRICS or classes is None:
        return None
    index = _class_index(y, classes)
    if index is None:
        return None
    if metric == "accuracy":
        return _accuracy(index, xp)
    if metric == "log_loss":
        return _log_loss(index, xp)
    if len(classes) != 2 or len(np.unique(index)) < 2:
        return None  # ROC AUC over several classes, or of one: scikit-learn's own rules
    positive = xp.asarray(index == 1)

    def roc_auc(stack):
        if stack.ndim != 3 or not bool(xp.isfinite(stack[:, :, 1]).all()):
            raise ValueError("ROC AUC needs finite class probabilities for each candidate.")
        return -roc_auc_rows(positive, stack[:, :, 1])

    return roc_auc


def _class_index(y: np.ndarray, classes) -> np.ndarray | None:
    """Each label's position in ``classes``; None when a label is not among them."""
    known = np.asarray(classes)
    order = np.argsort(known, kind="stable")
    at = np.clip(np.searchsorted(known[order], y), 0, len(known) - 1)
    index = order[at]
    return index if bool((known[index] == y).all()) else None


def _accuracy(index: np.ndarray, xp: ModuleType) -> StackedLoss:
    truth = xp.asarray(index)

    def accuracy(stack):
        if stack.ndim != 3:  # predicted labels, not probabilities
            raise ValueError("Stacked accuracy needs class probabilities.")
        return -(stack.argmax(axis=2) == truth[None, :]).mean(axis=1)

    return accuracy


def _log_loss(index: np.ndarray, xp: ModuleType) -> StackedLoss:
    truth = xp.asarray(index)
    eps = np.finfo(np.float64).eps

    def log_loss(stack):
        picked = xp.take_along_axis(stack, truth[None, :, None], axis=2)[:, :, 0]
        return -xp.log(xp.clip(picked, eps, 1 - eps)).mean(axis=1)

    return log_loss


def _regression(metric: str, y: np.ndarray, xp: ModuleType) -> StackedLoss | None:
    truth = xp.asarray(y)
    if metric == "r2":
        total = float(((y - y.mean()) ** 2).sum())
        if total == 0:
            return None  # scikit-learn's special cases for a constant target
        return lambda stack: ((truth[None, :] - stack) ** 2).sum(axis=1) / total - 1.0
    if metric == "rmse":
        return lambda stack: xp.sqrt(((truth[None, :] - stack) ** 2).mean(axis=1))
    return lambda stack: xp.abs(truth[None, :] - stack).mean(axis=1)
