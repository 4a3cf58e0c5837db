"""Task: serialise the final model and check every type it holds is trusted."""

from __future__ import annotations

from trialflow.registry.trusted import trusted_types, user_modules
from trialflow.run_record import RunRecord
from trialflow.tasks.step import step


@step("package")
def package(run: RunRecord) -> list[str]:
    """The model's skops types. Before explain: how long the model takes to serialise sets
    how much time registration needs, and so when explain must stop."""
    return trusted_types(run.final, extra_modules=user_modules(run.config, run.plan))
