"""Learners users bring: loaded by import path, registered like the built-in ones.

``package.module:NAME`` names either a ``LearnerSpec`` (a factory plus a search space) or a
scikit-learn estimator (class or instance), which competes with its fixed configuration.
The path travels with each trial, so Dask workers import the learner themselves.
"""

from __future__ import annotations

import importlib
from dataclasses import replace

from trialflow.errors import ConfigError
from trialflow.learners.spec import LearnerSpec


def load_learner(path: str) -> LearnerSpec:
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"A learner is given as package.module:NAME; got {path!r}.")
    try:
        target = getattr(importlib.import_module(module_name), attribute)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(
            f"Could not load learner {path!r}: {exc}. It must be importable on this machine "
            "and on every Dask worker (installed, or on PYTHONPATH)."
        ) from exc
    if isinstance(target, LearnerSpec):
        return replace(target, source=path)
    if hasattr(target, "fit") and hasattr(target, "get_params"):
        return replace(fixed_learner(attribute, target), source=path)
    raise ConfigError(
        f"Learner {path!r} is a {type(target).__name__}; expected a LearnerSpec or a "
        "scikit-learn estimator."
    )


def fixed_learner(name: str, estimator) -> LearnerSpec:
    """A scikit-learn estimator (class or instance) as a learner with no search space."""
    from sklearn.base import clone, is_classifier, is_regressor

    instance = estimator() if isinstance(estimator, type) else estimator
    if is_classifier(instance):
        tasks = ("binary", "multiclass")
    elif is_regressor(instance):
        tasks = ("regression",)
    else:
        raise ConfigError(f"Learner {name!r} is neither a classifier nor a regressor.")

    def build(task, params, seed, n_jobs):
        model = clone(instance).set_params(**params)
        if "random_state" in model.get_params():
            model.set_params(random_state=seed)
        return model

    return LearnerSpec(
        name=name,
        tasks=tasks,
        build=build,
        space={},
        defaults={},
        categorical_encoding="onehot",
        description=f"user estimator {type(instance).__name__}",
    )
