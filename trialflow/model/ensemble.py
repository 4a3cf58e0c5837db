"""Ensembling: greedy selection with replacement over the top trials' out-of-fold
predictions (Caruana et al., ICML 2004), kept only when it beats the best single model."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.base import BaseEstimator, clone
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted

from trialflow.model.metrics import METRICS
from trialflow.model.pipeline import ExplainsRows, aligned_proba
from trialflow.search.trial import TrialResult

ROUNDS = 20
CANDIDATES = 8
# The ensemble must beat the best single model by more than noise in the last digits.
MIN_GAIN = 1e-4


@dataclass(frozen=True)
class EnsembleChoice:
    members: list[TrialResult]
    weights: list[float]
    fold_scores: list[float]

    @property
    def score(self) -> float:
        return float(np.mean(self.fold_scores))

    def as_result(self, trial_id: int) -> TrialResult:
        """The ensemble as a leaderboard row."""
        return TrialResult(
            trial_id=trial_id,
            learner="ensemble",
            params={f"trial_{m.trial_id}": round(w, 4) for m, w in self.pairs()},
            seed=self.members[0].seed,
            status="ok",
            score=self.score,
            fold_scores=list(self.fold_scores),
            fit_seconds=sum(m.fit_seconds for m in self.members),
            wall_seconds=sum(m.wall_seconds for m in self.members),
            worker="",
        )

    def pairs(self):
        return zip(self.members, self.weights, strict=True)


def select_ensemble(
    history: Sequence[TrialResult],
    y: np.ndarray,
    folds: Sequence[tuple[np.ndarray, np.ndarray]],
    *,
    metric: str,
    classes: list | None,
    rounds: int = ROUNDS,
    candidates: int = CANDIDATES,
    refit_cost: Callable[[TrialResult], float] | None = None,
    refit_allowance: float = math.inf,
) -> EnsembleChoice | None:
    """The weighted ensemble of the top trials that scores best out of fold, or None when no
    mix of two or more beats the best single trial.

    With ``refit_cost``, members are drawn only from trials whose refits together fit in
    ``refit_allowance`` seconds, so the chosen ensemble can always be refitted in time. When
    the best trial's own refit does not fit, the choice is never None: without a better mix
    it is the best trial whose refit fits, alone (a random forest on a ninth of 1,000,000
    rows scored best after 163 s; refitting it on all of them would have taken ~25 min).
    """
    m = METRICS[metric]
    pool = ensemble_pool(
        history, metric, candidates=candidates, refit_cost=refit_cost, allowance=refit_allowance
    )
    alone = _refittable_alone(history, pool, metric, refit_cost, refit_allowance)
    if len(pool) < 2:
        return alone
    validated = np.concatenate([valid for _, valid in folds])
    predictions = [r.oof[validated] for r in pool]
    y_valid = y[validated]

    def loss(prediction: np.ndarray) -> float:
        return m.loss(_score(m, y_valid, prediction, classes))

    from trialflow.gpu.selection import select_counts

    best_counts = select_counts(predictions, y_valid, loss, rounds, metric=metric, classes=classes)
    chosen = np.flatnonzero(best_counts)
    if len(chosen) < 2:
        return alone
    weights = best_counts[chosen] / best_counts[chosen].sum()
    members = [pool[i] for i in chosen]
    blend = sum(w * r.oof for r, w in zip(members, weights, strict=True))
    fold_scores = [_score(m, y[valid], blend[valid], classes) for _, valid in folds]
    if m.loss(float(np.mean(fold_scores))) > m.loss(pool[0].score) - MIN_GAIN:
        return alone
    return EnsembleChoice(members, [float(w) for w in weights], fold_scores)


def _refittable_alone(
    history: Sequence[TrialResult],
    pool: list[TrialResult],
    metric: str,
    refit_cost: Callable[[TrialResult], float] | None,
    allowance: float,
) -> EnsembleChoice | None:
    """The pool's best trial as a choice of its own when the best trial's refit does not fit
    in ``allowance``; else None (the best trial is refitted)."""
    from trialflow.search.results import best_trial

    best = best_trial(history, metric)
    if not pool or best is None or refit_cost is None or refit_cost(best) <= allowance:
        return None
    return EnsembleChoice([pool[0]], [1.0], list(pool[0].fold_scores))


def ensemble_pool(
    history: Sequence[TrialResult],
    metric: str,
    *,
    candidates: int = CANDIDATES,
    refit_cost: Callable[[TrialResult], float] | None = None,
    allowance: float = math.inf,
) -> list[TrialResult]:
    """The trials an ensemble is selected from, best first.

    The best trial of every learner comes first, then the next best overall: a search that
    spends most trials on one learner would otherwise offer only near-copies of it. Trials
    whose refit would overrun ``allowance`` (summed over the pool) are passed over.
    """
    m = METRICS[metric]
    ranked = sorted(
        (r for r in history if r.status == "ok" and r.oof is not None and r.score is not None),
        key=lambda r: m.loss(r.score),
    )
    best_each = list({r.learner: r for r in reversed(ranked)}.values())
    best_each.sort(key=lambda r: m.loss(r.score))
    taken = {id(r) for r in best_each}
    pool: list[TrialResult] = []
    spent = 0.0
    for r in best_each + [r for r in ranked if id(r) not in taken]:
        cost = refit_cost(r) if refit_cost is not None else 0.0
        if spent + cost > allowance:
            continue
        pool.append(r)
        spent += cost
        if len(pool) == candidates:
            break
    pool.sort(key=lambda r: m.loss(r.score))
    return pool


def _score(metric, y, prediction: np.ndarray, classes) -> float:
    if prediction.ndim == 2 and not metric.needs_proba:
        prediction = np.asarray(classes)[prediction.argmax(axis=1)]
    return metric.score(y, prediction, classes)


def _is_classifier(ensemble: WeightedEnsemble) -> bool:
    return ensemble.task != "regression"


class WeightedEnsemble(ExplainsRows, BaseEstimator):
    """A weighted average of fitted pipelines' probabilities (or predictions)."""

    def __init__(self, members=(), weights=(), task: str = "binary"):
        self.members = members
        self.weights = weights
        self.task = task

    def fit(self, X, y) -> WeightedEnsemble:
        if len(self.members) != len(self.weights) or not self.members:
            raise ValueError(
                "The 'members' and 'weights' parameters must be non-empty and of equal length;"
                f" got {len(self.members)} and {len(self.weights)}."
            )
        self.members_ = [clone(member).fit(X, y) for member in self.members]
        self.weights_ = np.asarray(self.weights, dtype=float) / float(np.sum(self.weights))
        if _is_classifier(self):
            self.classes_ = np.unique(np.asarray(y))
        return self

    @available_if(_is_classifier)
    def predict_proba(self, X) -> np.ndarray:
        check_is_fitted(self, "members_")
        classes = list(self.classes_)
        return sum(
            w * aligned_proba(member, X, classes)
            for member, w in zip(self.members_, self.weights_, strict=True)
        )

    def predict(self, X) -> np.ndarray:
        check_is_fitted(self, "members_")
        if _is_classifier(self):
            return self.classes_[self.predict_proba(X).argmax(axis=1)]
        return sum(
            w * np.asarray(member.predict(X), dtype=float)
            for member, w in zip(self.members_, self.weights_, strict=True)
        )
