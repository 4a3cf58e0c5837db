"""Refit: the best configuration, fitted on every training row."""

from __future__ import annotations

from sklearn.pipeline import Pipeline

from trialflow.cluster import default_worker_count
from trialflow.featurizers import ColumnPlan
from trialflow.loading import TrainingTable
from trialflow.pipeline import build_pipeline
from trialflow.trial import TrialResult


def refit_best(table: TrainingTable, plan: ColumnPlan, best: TrialResult) -> Pipeline:
    """Fit the winning learner and its featurizer on all rows, using every local core."""
    from threadpoolctl import threadpool_limits

    n_jobs = default_worker_count()
    pipeline = build_pipeline(
        best.learner, best.params, plan, table.task, seed=best.seed, n_jobs=n_jobs
    )
    with threadpool_limits(limits=n_jobs):
        pipeline.fit(table.X, table.y)
    return pipeline
