"""Frames and links as Prefect artifacts' contents: the run's results one click away in the UI."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # importing the registry (MLflow) only to name a type would cost seconds
    from trialflow.registry.store import RegisteredModel

# Leaderboard rows shown beside the report link.
LEADERBOARD_ROWS = 10


def table_records(frame: pd.DataFrame) -> list[dict]:
    """A frame as the rows of a Prefect table artifact (missing values as nulls)."""
    return frame.astype(object).where(frame.notna(), None).to_dict(orient="records")


def model_markdown(leaderboard: pd.DataFrame, registered: RegisteredModel, metric: str) -> str:
    best = leaderboard.iloc[0]
    return (
        f"Registered **{escaped(registered.name)}** version **{registered.version}** "
        f"(`{registered.uri}`, tracking `{escaped(registered.tracking_uri)}`).\n\n"
        f"Best trial: {best['learner']} with CV {metric} {best[metric]:.4f} "
        f"out of {len(leaderboard)} trials."
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
        f"[Open the report]({report_path.as_uri()}) — `{escaped(report_path)}`",
        "",
        f"Also in MLflow run `{registered.run_id}` as artifact `report.html` "
        f"(model **{escaped(registered.name)}** version **{registered.version}**).",
        "",
        "| " + " | ".join(columns) + " |",
        "|" + "---|" * len(columns),
    ]
    for _, row in shown.iterrows():
        cells = [
            f"{row[c]:.4f}" if isinstance(row[c], float) else escaped(row[c]).replace("|", "\\|")
            for c in columns
        ]
        lines.append("| " + " | ".join(cells) + " |")
    if len(leaderboard) > LEADERBOARD_ROWS:
        lines.append(
            f"\n{len(leaderboard) - LEADERBOARD_ROWS} more rows in the leaderboard artifact."
        )
    return "\n".join(lines)


def escaped(text) -> str:
    """User-supplied text made safe for the UI's Markdown (rendered as HTML)."""
    return html.escape(str(text))
