"""Module paths of earlier releases, so the models they registered still load.

A stored model names each type by its module path (skops records it, and the MLflow flavor
lists it among the trusted types). trialflow 0.1.0 kept its modules in one flat
`trialflow/` folder; they now live in packages by pipeline step. Loading a model installs
a finder that answers an old path with the module now holding the same code, imported only
when a model asks for it. Nothing else changes: the trusted-type checks still read the
paths as stored.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys

# Old path -> new path, for the modules moved since 0.1.0 under a name that is free (those
# that became packages, such as trialflow.data, held no type a model stores).
MOVED = {
    "trialflow.batch_checks": "trialflow.validation.batch_checks",
    "trialflow.batch_scoring": "trialflow.serving.batch_scoring",
    "trialflow.budget": "trialflow.runtime.budget",
    "trialflow.champion": "trialflow.registry.champion",
    "trialflow.checkpoints": "trialflow.runtime.checkpoints",
    "trialflow.checks": "trialflow.validation.checks",
    "trialflow.contributions": "trialflow.explain.contributions",
    "trialflow.ensemble": "trialflow.model.ensemble",
    "trialflow.expectation_suite": "trialflow.validation.expectation_suite",
    "trialflow.folds": "trialflow.search.folds",
    "trialflow.guardrails": "trialflow.validation.guardrails",
    "trialflow.holdout": "trialflow.data.holdout",
    "trialflow.leakage": "trialflow.validation.leakage",
    "trialflow.loading": "trialflow.data.loading",
    "trialflow.metrics": "trialflow.model.metrics",
    "trialflow.mitigation": "trialflow.fairness.mitigation",
    "trialflow.pipeline": "trialflow.model.pipeline",
    "trialflow.plan_file": "trialflow.features.plan_file",
    "trialflow.refit": "trialflow.model.refit",
    "trialflow.row_explanations": "trialflow.explain.row_explanations",
    "trialflow.shapley": "trialflow.explain.shapley",
    "trialflow.tidy": "trialflow.data.tidy",
    "trialflow.trial": "trialflow.search.trial",
}


class _MovedModules(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Imports an old module path as the module that holds its code now."""

    def find_spec(self, name, path=None, target=None):
        if name in MOVED and name not in sys.modules:
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        # The current module itself, so a class loaded by its old path is the same class.
        return importlib.import_module(MOVED[spec.name])

    def exec_module(self, module) -> None:
        pass  # already executed under its current name


_finder = _MovedModules()


def accept_old_module_paths() -> None:
    """From now on in this process, an old module path imports its current module."""
    if _finder not in sys.meta_path:
        sys.meta_path.append(_finder)
