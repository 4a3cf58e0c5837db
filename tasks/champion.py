"""Task: champion / challenger on fresh evaluation rows, with the decision as an artifact."""

from __future__ import annotations

import pandas as pd
from prefect import get_run_logger
from prefect.artifacts import create_markdown_artifact

from trialflow.registry.champion import Decision, champion_challenger
from trialflow.runtime import progress
from trialflow.tasks.step import step


@step("champion-challenger")
def decide_champion(
    name: str,
    version: str,
    evaluation: pd.DataFrame,
    *,
    target: str,
    metric: str,
    margin: float,
    tracking_uri: str,
    history: pd.DataFrame | None = None,
) -> Decision:
    progress.emit("stage", name="champion-challenger")
    decision = champion_challenger(
        name,
        version,
        evaluation,
        target=target,
        metric=metric,
        margin=margin,
        configured_uri=tracking_uri,
        history=history,
    )
    get_run_logger().info("Champion / challenger for %s: %s.", name, decision.reason)
    create_markdown_artifact(key="champion-challenger", markdown=decision_markdown(decision))
    return decision


def decision_markdown(d: Decision) -> str:
    from html import escape

    def score(value: float | None) -> str:
        return "—" if value is None else f"{value:.4f}"

    outcome = "**promoted** to champion" if d.promoted else "**not promoted**; champion kept"
    return "\n".join(
        [
            f"## {escape(d.name)}: version {d.challenger_version} {outcome}",
            "",
            escape(d.reason) + ".",
            "",
            f"| version | role | {d.metric} on {d.evaluation_rows:,} evaluation rows |",
            "|---|---|---|",
            f"| {d.challenger_version} | challenger | {score(d.challenger_score)} |",
            f"| {d.champion_version or '—'} | champion before | {score(d.champion_score)} |",
            "",
            f"Margin required: {d.margin:g}. Evaluation data fingerprint "
            f"`{d.evaluation_fingerprint}`.",
        ]
    )
