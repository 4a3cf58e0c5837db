"""The fitted model trialflow returns: a scikit-learn Pipeline from raw table to prediction."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.pipeline import Pipeline

from trialflow.featurizers import ColumnPlan, TableFeaturizer
from trialflow.learners import get_learner


class ExplainsRows:
    """``model.explain(rows)``: each row's largest contributions in raw-column terms."""

    def explain(self, rows, *, top: int = 5, background=None, seed: int = 0):
        """A frame of ``column_k`` / ``contribution_k`` pairs (largest first) and
        ``expected_value`` per row; ``.attrs["explained"]`` names what they add up to (see
        ``trialflow.explain.row_explanations``)."""
        from trialflow.explain.row_explanations import explain_rows

        frame, explained = explain_rows(self, rows, background=background, top=top, seed=seed)
        frame.attrs["explained"] = explained
        return frame


class TrialflowPipeline(ExplainsRows, Pipeline):
    """A scikit-learn Pipeline (featurizer, then learner) that can explain its predictions."""


def build_pipeline(
    learner: str,
    params: dict[str, Any],
    plan: ColumnPlan,
    task: str,
    *,
    seed: int,
    n_jobs: int,
    bag_folds: int = 0,
    fold_seed: int = 0,
) -> Pipeline:
    """An unfitted pipeline: the table featurizer the learner wants, then the learner.

    With ``bag_folds``, a learner that allows it is bagged over the search's folds
    (``fold_seed`` is the seed they were drawn with): see ``trialflow.model.bagging``."""
    spec = get_learner(learner)
    model = spec.make(task, params, seed=seed, n_jobs=n_jobs)
    if bag_folds and spec.fold_bagging:
        from trialflow.model.bagging import FoldBag

        model = FoldBag(model, n_folds=bag_folds, seed=fold_seed, task=task)
    return TrialflowPipeline(
        [
            ("features", TableFeaturizer(plan, categorical_encoding=spec.encoding(params))),
            ("model", model),
        ]
    )


def aligned_proba(model, X, classes: list) -> np.ndarray:
    """Class probabilities with one column per class in ``classes``.

    A model fitted on a fold that lacked a rare class has fewer columns; the missing
    classes get probability 0.
    """
    proba = np.asarray(model.predict_proba(X))
    fitted = list(model.classes_)
    if fitted == list(classes):
        return proba
    out = np.zeros((proba.shape[0], len(classes)))
    for j, cls in enumerate(fitted):
        out[:, classes.index(cls)] = proba[:, j]
    return out
