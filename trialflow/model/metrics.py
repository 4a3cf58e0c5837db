"""Metrics trialflow can optimise, each declared once with its direction and what it needs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from trialflow.errors import ConfigError

CLASSIFICATION = ("binary", "multiclass")


@dataclass(frozen=True)
class Metric:
    """A scoring function over (y_true, prediction) with its direction.

    ``needs_proba`` metrics receive the class-probability matrix (columns in ``classes``
    order); the others receive predicted labels or values.
    """

    name: str
    tasks: tuple[str, ...]
    greater_is_better: bool
    needs_proba: bool
    score_fn: Callable[..., float]

    def check_task(self, task: str) -> None:
        if task not in self.tasks:
            raise ConfigError(
                f"The metric {self.name!r} does not apply to a {task} task; "
                f"use one of {sorted(m.name for m in METRICS.values() if task in m.tasks)}."
            )

    def score(self, y_true, prediction, classes=None) -> float:
        return float(self.score_fn(np.asarray(y_true), np.asarray(prediction), classes))

    def loss(self, value: float) -> float:
        """The value turned so that lower is better, for ranking."""
        return -value if self.greater_is_better else value


def _roc_auc(y, proba, classes):
    from sklearn.metrics import roc_auc_score

    if proba.ndim == 2 and proba.shape[1] == 2:
        return binary_roc_auc(np.asarray(y) == classes[1], proba[:, 1])
    return roc_auc_score(y, proba, multi_class="ovr", labels=classes)


def binary_roc_auc(positive: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC from ranks (Mann-Whitney U, ties counted half), as roc_auc_score computes it.

    The ensemble's greedy selection scores hundreds of candidate blends; scikit-learn's input
    validation made each call cost 2-5 ms, most of the ensemble step on credit_data.
    """
    positive = np.asarray(positive, dtype=bool)
    score = np.asarray(score, dtype=np.float64)
    n_positive = int(positive.sum())
    n_negative = len(positive) - n_positive
    if not n_positive or not n_negative or not np.isfinite(score).all():
        # Only scikit-learn's own errors for these: one class, or NaN and infinity.
        from sklearn.metrics import roc_auc_score

        return roc_auc_score(positive, score)
    from trialflow.gpu import kernels
    from trialflow.gpu.arrays import module_for

    # On a GPU from a million rows (the ensemble's and large folds' scoring); NumPy below.
    xp = module_for(len(score))
    return kernels.roc_auc(xp.asarray(positive), xp.asarray(score))


def _log_loss(y, proba, classes):
    from sklearn.metrics import log_loss

    return log_loss(y, proba, labels=classes)


def _accuracy(y, pred, classes):
    return float(np.mean(y == pred))


def _f1(y, pred, classes):
    from sklearn.metrics import f1_score

    if classes is not None and len(classes) == 2:
        return f1_score(y, pred, pos_label=classes[1])
    return f1_score(y, pred, average="macro")


def _r2(y, pred, classes):
    from sklearn.metrics import r2_score

    return r2_score(y, pred)


def _rmse(y, pred, classes):
    return float(np.sqrt(np.mean((y.astype(float) - pred.astype(float)) ** 2)))


def _mae(y, pred, classes):
    return float(np.mean(np.abs(y.astype(float) - pred.astype(float))))


METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric("roc_auc", CLASSIFICATION, True, True, _roc_auc),
        Metric("log_loss", CLASSIFICATION, False, True, _log_loss),
        Metric("accuracy", CLASSIFICATION, True, False, _accuracy),
        Metric("f1", CLASSIFICATION, True, False, _f1),
        Metric("r2", ("regression",), True, False, _r2),
        Metric("rmse", ("regression",), False, False, _rmse),
        Metric("mae", ("regression",), False, False, _mae),
    )
}

_DEFAULTS = {"binary": "roc_auc", "multiclass": "log_loss", "regression": "r2"}


def default_metric(task: str) -> str:
    return _DEFAULTS[task]
