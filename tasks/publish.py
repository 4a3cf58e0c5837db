"""Task: the run's results as Prefect artifacts, one click away in the UI."""

from __future__ import annotations

from prefect.artifacts import create_markdown_artifact, create_table_artifact

from trialflow.features.plan_file import fitted_features_frame
from trialflow.report.artifacts import model_markdown, report_markdown, table_records
from trialflow.run_record import RunRecord
from trialflow.tasks.step import step


@step("publish")
def publish(run: RunRecord) -> None:
    leaderboard, metric, registered = run.leaderboard, run.metric, run.registered
    importance, importance_method = run.importance.raw, run.importance.method
    features, report_path = fitted_features_frame(run.pipeline), run.report_path
    shown = leaderboard.drop(columns=["error"]).head(50)
    create_table_artifact(
        key="leaderboard",
        table=table_records(shown),
        description=f"Trials ranked by cross-validated {metric} ({run.table.task}).",
    )
    create_table_artifact(
        key="feature-importance",
        table=table_records(importance),
        # How it was computed depends on the model (see trialflow.explain.importance).
        description="Importance of each raw input column. "
        + (importance_method or "How it was computed is in the run's report."),
    )
    if features is not None and len(features):
        create_table_artifact(
            key="features",
            table=table_records(features.head(500)),
            description="The featurization: every model input, its source columns and featurizer.",
        )
    create_markdown_artifact(key="model", markdown=model_markdown(leaderboard, registered, metric))
    if report_path is not None:
        create_markdown_artifact(
            key="report",
            markdown=report_markdown(leaderboard, registered, metric, report_path),
            description="The run's HTML report and its leaderboard.",
        )
