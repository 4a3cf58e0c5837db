"""Task: the run's results as Prefect artifacts, one click away in the UI."""

from __future__ import annotations

import pandas as pd
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from trialflow.registry import RegisteredModel
from trialflow.tasks.step import step


@step("publish")
def publish(
    leaderboard: pd.DataFrame,
    importance: pd.DataFrame,
    registered: RegisteredModel,
    *,
    task: str,
    metric: str,
    features: pd.DataFrame | None = None,
) -> None:
    shown = leaderboard.drop(columns=["error"]).head(50)
    create_table_artifact(
        key="leaderboard",
        table=table_records(shown),
        description=f"Trials ranked by cross-validated {metric} ({task}).",
    )
    create_table_artifact(
        key="feature-importance",
        table=table_records(importance),
        description=f"Permutation importance of raw columns ({metric} lost when shuffled).",
    )
    if features is not None and len(features):
        create_table_artifact(
            key="features",
            table=table_records(features.head(500)),
            description="The featurization: every model input, its source columns and featurizer.",
        )
    best = leaderboard.iloc[0]
    create_markdown_artifact(
        key="model",
        markdown=(
            f"Registered **{_escape(registered.name)}** version **{registered.version}** "
            f"(`{registered.uri}`, tracking `{_escape(registered.tracking_uri)}`).\n\n"
            f"Best trial: {best['learner']} with CV {metric} {best[metric]:.4f} "
            f"out of {len(leaderboard)} trials."
        ),
    )


def table_records(frame: pd.DataFrame) -> list[dict]:
    """A frame as the rows of a Prefect table artifact (missing values as nulls)."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _escape(text: str) -> str:
    import html

    return html.escape(str(text))
