"""Task: the run's results as Prefect artifacts, one click away in the UI."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from prefect.artifacts import create_markdown_artifact, create_table_artifact

from trialflow.registry import RegisteredModel
from trialflow.tasks.step import step

# Leaderboard rows shown beside the report link.
LEADERBOARD_ROWS = 10


@step("publish")
def publish(
    leaderboard: pd.DataFrame,
    importance: pd.DataFrame,
    registered: RegisteredModel,
    *,
    task: str,
    metric: str,
    features: pd.DataFrame | None = None,
    report_path: Path | None = None,
    importance_method: str = "",
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
        # How it was computed depends on the model (see trialflow.explain).
        description="Importance of each raw input column. "
        + (importance_method or "How it was computed is in the run's report."),
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
    if report_path is not None:
        create_markdown_artifact(
            key="report",
            markdown=report_markdown(leaderboard, registered, metric, Path(report_path)),
            description="The run's HTML report and its leaderboard.",
        )


def report_markdown(
    leaderboard: pd.DataFrame, registered: RegisteredModel, metric: str, report_path: Path
) -> str:
    """A link to the report (the local file, and the copy in the MLflow run) above the top
    of the leaderboard as a Markdown table."""
    shown = leaderboard.head(LEADERBOARD_ROWS)
    columns = [
        c
        for c in ("rank", "learner", metric, "status", "origin", "fit_seconds")
        if c in shown.columns
    ]
    lines = [
        "## Run report",
        f"[Open the report]({report_path.as_uri()}) — `{_escape(report_path)}`",
        "",
        f"Also in MLflow run `{registered.run_id}` as artifact `report.html` "
        f"(model **{_escape(registered.name)}** version **{registered.version}**).",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for _, row in shown.iterrows():
        cells = [
            f"{row[c]:.4f}" if isinstance(row[c], float) else _escape(row[c]).replace("|", "\\|")
            for c in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if len(leaderboard) > LEADERBOARD_ROWS:
        lines.append(
            f"\n{len(leaderboard) - LEADERBOARD_ROWS} more rows in the leaderboard artifact."
        )
    return "\n".join(lines)


def table_records(frame: pd.DataFrame) -> list[dict]:
    """A frame as the rows of a Prefect table artifact (missing values as nulls)."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def _escape(text: str) -> str:
    import html

    return html.escape(str(text))
