"""Learners a user might write, outside the trialflow package: one with a search space, one a
plain scikit-learn estimator, and one that is broken."""

from __future__ import annotations

from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.naive_bayes import GaussianNB
from sklearn.neighbors import KNeighborsClassifier

from trialflow.learners import LearnerSpec
from trialflow.learners.space import Float, Int


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


class Stubborn(ClassifierMixin, BaseEstimator):
    """Blocks in fit and never looks at a clock: only killing its process stops it."""

    def fit(self, X, y):
        import time

        time.sleep(600)
        return self


class Sluggish(ClassifierMixin, BaseEstimator):
    """Takes a second or two per fit, so that trials are running when a test kills a worker."""

    def __init__(self, pause: float = 1.5):
        self.pause = pause

    def fit(self, X, y):
        import time

        time.sleep(self.pause)
        self.classes_ = sorted(set(y))
        self.prior_ = {c: float((y == c).mean()) for c in self.classes_}
        return self

    def predict_proba(self, X):
        import numpy as np

        return np.tile([self.prior_[c] for c in self.classes_], (len(X), 1))

    def predict(self, X):
        import numpy as np

        return np.full(len(X), max(self.prior_, key=self.prior_.get))


class MemoryHog(ClassifierMixin, BaseEstimator):
    """Asks NumPy for more memory than any machine has: a real out-of-memory failure."""

    def fit(self, X, y):
        import numpy as np

        np.ones((1 << 50,), dtype=np.uint8)
        return self


SLUGGISH = LearnerSpec(
    name="sluggish",
    tasks=("binary",),
    build=lambda task, params, seed, n_jobs: Sluggish(**params),
    space={"pause": Float(0.8, 1.6)},
    defaults={"pause": 1.2},
)
