"""Learners a user might write, outside the trialflow package: one with a search space, one a
plain scikit-learn estimator, and one that is broken."""

from __future__ import annotations

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier

from trialflow.learners import LearnerSpec
from trialflow.learners.space import Int


def _knn(task, params, seed, n_jobs):
    return KNeighborsClassifier(**params, n_jobs=n_jobs)


NEIGHBOURS = LearnerSpec(
    name="my_neighbours",
    tasks=("binary", "multiclass"),
    build=_knn,
    space={"n_neighbors": Int(3, 60, log=True)},
    defaults={"n_neighbors": 25},
    categorical_encoding="onehot",
)

NAIVE_BAYES = GaussianNB(var_smoothing=1e-8)


class Broken(ClassifierMixin, BaseEstimator):
    def fit(self, X, y):
        raise RuntimeError("my model cannot fit")
