"""Post-processing mitigation for binary classifiers: per-group thresholds, with fairlearn.

fairlearn's ThresholdOptimizer picks, per group of one sensitive column, a randomized rule
on the model's score that maximises accuracy under demographic parity or equalized odds. It
is fitted on out-of-fold scores, so the thresholds suit the scores new rows get, not the
overconfident in-sample ones. The rule is copied into plain numbers (``GroupThresholds``): a
stored model holds no fairlearn object, and skops loads it with trusted types only.

The rule is randomized: rows with the same score and group may get different decisions. A
mitigated model's ``predict_proba`` is the rule's probability of a positive decision, not a
calibrated probability of the positive class.
"""

from __future__ import annotations

import operator
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin

from trialflow.errors import ConfigError, DataError
from trialflow.fairness.measure import NUMERIC_BINS

CONSTRAINTS = ("demographic_parity", "equalized_odds")
MISSING = "(missing)"
# Groups fairlearn did not see (new values, or groups with one class at training) keep the
# unmitigated rule, the same score >= 0.5 the fairness report judges.
PLAIN_RULE = {
    "p0": 1.0,
    "threshold0": 0.5,
    "operator0": ">=",
    "p1": 0.0,
    "threshold1": 0.5,
    "operator1": ">=",
    "p_ignore": 0.0,
    "constant": 0.0,
}
_OPERATORS = {">": operator.gt, "<": operator.lt, ">=": operator.ge}


@dataclass
class GroupThresholds:
    """Per group: with probability p0 decide ``score operator0 threshold0``, else (p1) by
    ``operator1 threshold1``; then, with probability p_ignore, the decision is replaced by a
    coin that is positive with probability ``constant`` (equalized odds mixes groups towards
    the shared ROC point this way)."""

    constraint: str
    groups: dict[str, dict] = field(default_factory=dict)
    fallback: dict = field(default_factory=lambda: dict(PLAIN_RULE))


def learn_thresholds(scores, y, groups, constraint: str) -> GroupThresholds:
    """The fairlearn rule for ``constraint`` learned on out-of-fold positive-class ``scores``,
    0/1 truth ``y`` and each row's group label; groups with one class keep the plain rule."""
    optimizer = _fit_optimizer(scores, y, groups, constraint)
    learned = optimizer.interpolated_thresholder_.interpolation_dict
    return GroupThresholds(constraint, {str(g): _plain(rule) for g, rule in learned.items()})


def positive_probability(rule: GroupThresholds, scores, groups) -> np.ndarray:
    """Each row's probability that the randomized rule decides positive."""
    scores = np.asarray(scores, dtype=float)
    groups = np.asarray(groups).astype(str)
    probability = np.zeros(len(scores))
    for group in np.unique(groups):
        r = rule.groups.get(group, rule.fallback)
        rows = groups == group
        s = scores[rows]
        op0, op1 = _OPERATORS[r["operator0"]], _OPERATORS[r["operator1"]]
        chosen = r["p0"] * op0(s, r["threshold0"]) + r["p1"] * op1(s, r["threshold1"])
        probability[rows] = r["p_ignore"] * r["constant"] + (1 - r["p_ignore"]) * chosen
    return probability


def decide(rule: GroupThresholds, scores, groups, seed: int = 0) -> np.ndarray:
    """Seeded 0/1 decisions of the randomized rule."""
    probability = positive_probability(rule, scores, groups)
    return (np.random.default_rng(seed).random(len(probability)) < probability).astype(int)


def group_bins(values: pd.Series) -> np.ndarray | None:
    """The quartile edges ``fairness.group_labels`` cuts a numeric column at (None where it
    keeps the values as groups), to be reused on new rows."""
    if pd.api.types.is_numeric_dtype(values) and values.nunique() > 10:
        _, edges = pd.qcut(values, NUMERIC_BINS, retbins=True, duplicates="drop")
        return np.asarray(edges, dtype=float)
    return None


def groups_of(values: pd.Series, edges: np.ndarray | None) -> np.ndarray:
    """Each row's group label, as ``fairness.group_labels`` gives it on the training column."""
    values = pd.Series(values).reset_index(drop=True)
    if edges is None:
        labels = values.astype(str)
    else:
        # Values beyond the training range join the outer quartiles rather than no group.
        clipped = pd.to_numeric(values).clip(edges[0], edges[-1])
        labels = pd.cut(clipped, edges, include_lowest=True, duplicates="drop").astype(str)
    return labels.where(values.notna(), MISSING).to_numpy(dtype=object)


class MitigatedModel(ClassifierMixin, BaseEstimator):
    """A fitted binary classifier whose decisions follow per-group thresholds on its score.

    ``predict`` draws each row's decision from a uniform number hashed from the row's values
    and ``seed``, so the same row always gets the same decision, whatever batch it comes in.
    ``predict_proba`` is the rule's probability of a positive decision, not a calibrated one.
    """

    def __init__(self, estimator=None, thresholds=None, sensitive="", bin_edges=None, seed=0):
        self.estimator = estimator
        self.thresholds = thresholds
        self.sensitive = sensitive
        self.bin_edges = bin_edges
        self.seed = seed

    @property
    def classes_(self):
        return self.estimator.classes_

    def __sklearn_is_fitted__(self) -> bool:  # wraps a fitted model; there is no fit
        return True

    def groups(self, X: pd.DataFrame) -> np.ndarray:
        if self.sensitive not in X.columns:
            raise ConfigError(
                f"The mitigated model picks each row's threshold by the sensitive column "
                f"{self.sensitive!r}, which the data lacks. Add {self.sensitive!r} to the rows "
                "to score (missing values are allowed), or score with the unmitigated model."
            )
        return groups_of(X[self.sensitive], self.bin_edges)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        groups = self.groups(X)  # first: a missing column is named before the model trips on it
        p = positive_probability(self.thresholds, self.estimator.predict_proba(X)[:, 1], groups)
        return np.c_[1 - p, p]

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        p = self.predict_proba(X)[:, 1]
        return np.asarray(self.classes_)[(_row_uniforms(X, self.seed) < p).astype(int)]


def mitigate(model, X: pd.DataFrame, y, oof_scores, *, sensitive: str, constraint: str, seed=0):
    """Wrap the fitted ``model`` with thresholds learned on its out-of-fold positive-class
    scores ``oof_scores`` over the training rows ``X`` and labels ``y``."""
    if sensitive not in X.columns:
        raise ConfigError(f"sensitive column {sensitive!r} is not a column of the data.")
    edges = group_bins(X[sensitive])
    truth = (np.asarray(y) == model.classes_[1]).astype(int)
    rule = learn_thresholds(oof_scores, truth, groups_of(X[sensitive], edges), constraint)
    return MitigatedModel(model, rule, sensitive, edges, seed)


def tradeoff(scores, y, groups, constraint: str, *, folds: int = 5, seed: int = 0):
    """Accuracy and disparities of the plain 0.5 threshold on out-of-fold ``scores`` against
    the mitigated rule, each fold's rows decided by thresholds learned on the other folds.
    Disparities count every group, however small (fairlearn's own metrics)."""
    from fairlearn import metrics as fm
    from sklearn import metrics
    from sklearn.model_selection import StratifiedKFold

    scores, y = np.asarray(scores, dtype=float), np.asarray(y).astype(int)
    groups = np.asarray(groups).astype(str)
    strata = pd.Series(groups).str.cat(y.astype(str), sep="|")
    # A group+label stratum smaller than the folds cannot be spread over them; fall back to
    # stratifying by label alone.
    if strata.value_counts().min() < folds:
        strata = pd.Series(y)
    probability = np.zeros(len(y))
    splitter = StratifiedKFold(folds, shuffle=True, random_state=seed)
    for train, test in splitter.split(np.zeros((len(y), 1)), strata):
        rule = learn_thresholds(scores[train], y[train], groups[train], constraint)
        probability[test] = positive_probability(rule, scores[test], groups[test])
    decisions = {
        "original": (scores >= 0.5).astype(int),
        "mitigated": (np.random.default_rng(seed).random(len(y)) < probability).astype(int),
    }
    plain = {
        "accuracy": metrics.accuracy_score,
        "balanced_accuracy": metrics.balanced_accuracy_score,
        "selection_rate": fm.selection_rate,
    }
    by_group = {
        "demographic_parity_difference": fm.demographic_parity_difference,
        "demographic_parity_ratio": fm.demographic_parity_ratio,
        "equalized_odds_difference": fm.equalized_odds_difference,
    }
    rows = {
        name: {m: f(y, d) for m, f in plain.items()}
        | {m: f(y, d, sensitive_features=groups) for m, f in by_group.items()}
        for name, d in decisions.items()
    }
    return pd.DataFrame.from_dict(rows, orient="index").astype(float)


class _ScoreColumn(BaseEstimator):
    """Hands fairlearn the scores it is given as a one-column frame, as predict_proba."""

    def fit(self, X=None, y=None):
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X):
        s = np.asarray(X, dtype=float)[:, 0]
        return np.c_[1 - s, s]


def _fit_optimizer(scores, y, groups, constraint: str):
    from fairlearn.postprocessing import ThresholdOptimizer

    if constraint not in CONSTRAINTS:
        raise ConfigError(f"constraint must be one of {CONSTRAINTS}; not {constraint!r}.")
    scores, y = np.asarray(scores, dtype=float), np.asarray(y).astype(int)
    groups = np.asarray(groups).astype(str)
    # fairlearn cannot place a group whose rows are all one class (no ROC curve).
    both = pd.Series(y).groupby(groups).nunique() == 2
    kept = np.isin(groups, both.index[both]) & ~np.isnan(scores)
    if not kept.any():
        raise DataError("Mitigation needs a group with both classes among its rows; none has.")
    optimizer = ThresholdOptimizer(
        estimator=_ScoreColumn().fit(),
        constraints=constraint,
        objective="accuracy_score",
        prefit=True,
        predict_method="predict_proba",
    )
    frame = pd.DataFrame({"score": scores[kept]})
    return optimizer.fit(frame, y[kept], sensitive_features=groups[kept])


def _plain(rule) -> dict:
    return {
        "p0": float(rule.p0),
        "threshold0": float(rule.operation0.threshold),
        "operator0": rule.operation0.operator,
        "p1": float(rule.p1),
        "threshold1": float(rule.operation1.threshold),
        "operator1": rule.operation1.operator,
        "p_ignore": float(rule.get("p_ignore", 0.0)),
        "constant": float(rule.get("prediction_constant", 0.0)),
    }


def _row_uniforms(X: pd.DataFrame, seed: int) -> np.ndarray:
    # A hash of the row's values, keyed by the seed: the same row draws the same number.
    hashes = pd.util.hash_pandas_object(X, index=False, hash_key=f"{seed:016d}"[-16:])
    return (hashes.to_numpy() >> np.uint64(11)) * 2.0**-53


@dataclass
class Mitigation:
    """What the report shows of a mitigation: its constraint and column, the cross-fitted
    trade-off (rows "original" and "mitigated") and which model was registered."""

    constraint: str
    column: str
    tradeoff: pd.DataFrame
    registered: str


def blended_oof(members: list, weights: list[float]) -> np.ndarray:
    """The final model's out-of-fold predictions: its members' (trials), blended by weight."""
    return sum(w * np.asarray(m.oof) for m, w in zip(members, weights, strict=True))


def positive_scores(oof: np.ndarray) -> np.ndarray:
    return oof[:, 1] if oof.ndim == 2 else oof


def mitigation_tradeoff(X: pd.DataFrame, y, classes: list, oof: np.ndarray, config) -> Mitigation:
    """The original model against the mitigated one on the first sensitive column, both
    judged on out-of-fold scores with cross-fitted thresholds (``config``: TrainConfig)."""
    column = config.sensitive[0]
    scores = positive_scores(oof)
    known = ~np.isnan(scores)
    values = X[column][known]
    groups = groups_of(values, group_bins(values))
    truth = (np.asarray(y)[known] == classes[1]).astype(int)
    return Mitigation(
        constraint=config.mitigate,
        column=column,
        tradeoff=tradeoff(scores[known], truth, groups, config.mitigate, seed=config.seed),
        registered="mitigated" if config.register_mitigated else "original",
    )


def mitigate_final(model, X: pd.DataFrame, y, oof: np.ndarray, config) -> MitigatedModel:
    """The final model post-processed with per-group thresholds learned on its out-of-fold
    scores for the first sensitive column (``config``: TrainConfig)."""
    scores = positive_scores(oof)
    known = ~np.isnan(scores)
    return mitigate(
        model,
        X[known],
        np.asarray(y)[known],
        scores[known],
        sensitive=config.sensitive[0],
        constraint=config.mitigate,
        seed=config.seed,
    )
