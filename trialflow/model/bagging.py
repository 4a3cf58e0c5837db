"""Fold bagging: the final model averages its refit on all rows with one model per search
fold, each trained on that fold's training rows (the models whose out-of-fold predictions
the search scored and the ensemble was chosen on).

Why: averaging models fitted on different rows lowers the variance of the final model,
which is what small tables lose to. Where it pays was measured (benchmarks/bagging.py,
results/bagging.md: trialflow's pipeline with LightGBM's strong default, 3 seeds, the
suite's test splits): on the 10 tables of up to 2,000 training rows the bag beat the plain
refit on 8, by +0.0034 on average (ad_data +0.012 AUC, housing +0.010 R2, psid1982 +0.007
R2; worst mroz -0.002 AUC); on the 14 larger ones it gained nothing on average (-0.0001;
chicago -0.006 R2, hpc_data -0.005 log loss, lending_club +0.005 AUC), at five times the
refit's cost. So only small tables are bagged. In the whole system (results/bagging-60s,
the 10 tables at 60 s with bagging on and off, one run each) the bag was better on 5 and
worse on 4, -0.0008 on average: within run-to-run noise, so far neither confirmed nor
refuted there.
"""

from __future__ import annotations

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from trialflow.model.pipeline import aligned_proba
from trialflow.search.folds import SINGLE_SPLIT_ROWS, make_folds

# Tables up to this many training rows are bagged (see above). Never above the k-fold regime
# (SINGLE_SPLIT_ROWS), where one validation split leaves a single fold model.
BAG_MAX_ROWS = min(2_000, SINGLE_SPLIT_ROWS)


def bag_refit_multiple(n_rows: int, n_folds: int, enabled: bool = True) -> float:
    """How many plain refits a bagged member costs: the full refit plus ``n_folds`` fits on
    (n_folds - 1) / n_folds of the rows, about ``n_folds`` full refits; 1 without bagging."""
    return float(n_folds) if enabled and uses_bagging(n_rows, n_folds) else 1.0


def uses_bagging(n_rows: int, n_folds: int) -> bool:
    return n_rows <= BAG_MAX_ROWS and n_folds >= 2


def learner_bags(learner: str) -> bool:
    """Whether ``learner``'s members are bagged (forests and HistGradientBoosting are not:
    see their declarations)."""
    from trialflow.learners import LEARNERS

    spec = LEARNERS.get(learner)
    return spec is not None and spec.fold_bagging


def _has_proba(bag: FoldBag) -> bool:
    return hasattr(bag.estimator, "predict_proba")


class FoldBag(BaseEstimator):
    """``estimator`` fitted on all rows and on each fold's training rows; predictions are the
    average of the ``n_folds + 1`` models (class probabilities for classifiers).

    The folds are the search's (``make_folds`` with the same task, fold count and seed over
    the same rows), so each fold model is the one a trial validated.
    """

    def __init__(self, estimator=None, n_folds: int = 5, seed: int = 0, task: str = "binary"):
        self.estimator = estimator
        self.n_folds = n_folds
        self.seed = seed
        self.task = task

    def fit(self, X, y) -> FoldBag:
        y = np.asarray(y)
        folds = make_folds(y, task=self.task, n_folds=self.n_folds, seed=self.seed)
        self.estimators_ = [clone(self.estimator).fit(X, y)]
        for train, _ in folds:
            rows = X.iloc[train] if hasattr(X, "iloc") else X[train]
            self.estimators_.append(clone(self.estimator).fit(rows, y[train]))
        if self.task != "regression":
            self.classes_ = np.unique(y)
        return self

    @available_if(_has_proba)
    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        classes = list(self.classes_)
        return np.mean([aligned_proba(e, X, classes) for e in self.estimators_], axis=0)

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "estimators_")
        if self.task != "regression":
            if _has_proba(self):
                return self.classes_[self.predict_proba(X).argmax(axis=1)]
            # A classifier without probabilities: the models' majority vote.
            votes = np.stack([np.asarray(e.predict(X)) for e in self.estimators_])
            counts = np.stack([(votes == c).sum(axis=0) for c in self.classes_])
            return self.classes_[counts.argmax(axis=0)]
        return np.mean([np.asarray(e.predict(X), dtype=float) for e in self.estimators_], axis=0)


def bag_folds_for_refit(
    n_rows: int,
    n_folds: int,
    *,
    enabled: bool,
    refit_seconds: float,
    bagged_seconds: float,
    seconds_left: float,
) -> int:
    """The folds to bag the final model over (0: refit on all rows only): bagging is on, the
    table is small enough, and the refits fit in ``seconds_left`` (``refit_seconds``: the
    plain refits' estimate; ``bagged_seconds``: the part of it of the members that would be
    bagged). A deterministic run has no clock (infinite ``seconds_left``), so its choice
    never depends on the machine's speed."""
    multiple = bag_refit_multiple(n_rows, n_folds, enabled)
    if multiple == 1.0 or refit_seconds + bagged_seconds * (multiple - 1) > seconds_left:
        return 0
    return n_folds


# What an importance computed on a bagged model's full refits says of itself.
BAGGED_NOTE = (
    " Bagged members are explained through their refit on all rows (their fold models are the"
    " same configuration fitted on each fold's training rows)."
)


def full_refit_pipeline(pipeline):
    """``pipeline`` with a bagged learner replaced by its refit on all rows (the same fitted
    featurizer); any other pipeline as it is."""
    steps = getattr(pipeline, "named_steps", None)
    if not steps or not isinstance(steps.get("model"), FoldBag):
        return pipeline
    from trialflow.model.pipeline import TrialflowPipeline

    return TrialflowPipeline(
        [("features", steps["features"]), ("model", steps["model"].estimators_[0])]
    )
