"""Task: refit the chosen trial, or ensemble of trials, on all training rows."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow.model.bagging import bag_folds_for_refit, learner_bags
from trialflow.model.refit import refit_final
from trialflow.run_record import RunRecord
from trialflow.runtime import progress
from trialflow.search.loop import estimate_refit_seconds
from trialflow.tasks.step import step


@step("refit")
def refit(run: RunRecord):
    progress.emit("stage", name="refit")
    config = run.config
    bag_folds = bag_folds_for_refit(
        len(run.table.X),
        config.cv_folds,
        enabled=config.fold_bagging,
        refit_seconds=sum(estimate_refit_seconds(m) for m in run.members),
        bagged_seconds=sum(
            estimate_refit_seconds(m) for m in run.members if learner_bags(m.learner)
        ),
        seconds_left=run.budget.refit_seconds_left(),
    )
    get_run_logger().info(
        "Refitting %s on %d rows%s.",
        " + ".join(
            f"trial {m.trial_id} ({m.learner}) x{w:.2f}"
            for m, w in zip(run.members, run.weights, strict=True)
        ),
        len(run.table.X),
        f"; LightGBM and linear members averaged with their {bag_folds} fold models"
        if bag_folds
        else "",
    )
    return refit_final(
        run.table,
        run.plan,
        run.members,
        run.weights,
        bag_folds=bag_folds,
        fold_seed=config.seed,
    )
