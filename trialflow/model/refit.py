"""Refit: the chosen configuration (or ensemble of configurations) on every training row."""

from __future__ import annotations

from collections.abc import Sequence

from trialflow.data.loading import TrainingTable
from trialflow.featurizers import ColumnPlan
from trialflow.model.pipeline import build_pipeline
from trialflow.search.trial import TrialResult


def refit_final(
    table: TrainingTable,
    plan: ColumnPlan,
    members: Sequence[TrialResult],
    weights: Sequence[float] = (1.0,),
    *,
    bag_folds: int = 0,
    fold_seed: int = 0,
):
    """Fit the winning pipeline, or a weighted ensemble of them, on all rows; with
    ``bag_folds``, each bagged over the search's folds (``trialflow.model.bagging``)."""
    from threadpoolctl import threadpool_limits

    from trialflow.model.ensemble import WeightedEnsemble

    # One thread, as in the trials whose timings budgeted this refit. Measured with one core
    # busy elsewhere (Prefect's server, a straggling worker): LightGBM on credit_data took
    # 0.24 s single-threaded and 7.3 s with 2 OpenMP threads spinning against each other.
    n_jobs = 1
    pipelines = [
        build_pipeline(
            m.learner,
            m.params,
            plan,
            table.task,
            seed=m.seed,
            n_jobs=n_jobs,
            bag_folds=bag_folds,
            fold_seed=fold_seed,
        )
        for m in members
    ]
    model = (
        pipelines[0]
        if len(pipelines) == 1
        else WeightedEnsemble(pipelines, list(weights), task=table.task)
    )
    with threadpool_limits(limits=n_jobs):
        return model.fit(table.X, table.y)
