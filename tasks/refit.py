"""Task: refit the chosen trial, or ensemble of trials, on all training rows."""

from __future__ import annotations

from prefect import get_run_logger

from trialflow.model.refit import refit_final
from trialflow.run_record import RunRecord
from trialflow.runtime import progress
from trialflow.tasks.step import step


@step("refit")
def refit(run: RunRecord):
    progress.emit("stage", name="refit")
    get_run_logger().info(
        "Refitting %s on %d rows.",
        " + ".join(
            f"trial {m.trial_id} ({m.learner}) x{w:.2f}"
            for m, w in zip(run.members, run.weights, strict=True)
        ),
        len(run.table.X),
    )
    return refit_final(run.table, run.plan, run.members, run.weights)
