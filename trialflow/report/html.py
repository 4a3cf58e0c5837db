"""The run report: one self-contained HTML file per run, charts embedded as PNG data.

Every string that came from the user's data or configuration (column names, category
values, paths, learner names) passes through ``text_html`` or ``table_html``, which escape it: a
column named ``<script>`` shows as text, it does not run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

from trialflow.report import plots as report_plots
from trialflow.report.html_parts import (
    STYLE,
    facts_html,
    image_html,
    section_html,
    table_html,
    text_html,
)

# Section ids in page order; the render test checks each is present. The answer first (the
# chosen model and its scores, the search curve, the importance chart: one screen), then
# the guardrails, the features, fairness and the ensemble; configuration and the full
# leaderboard last, collapsed.
SECTIONS = (
    "summary",
    "search",
    "importance",
    "data",
    "features",
    "fairness",
    "ensemble",
    "leaderboard",
    "config",
)
# Leaderboard rows shown in the summary.
TOP_ROWS = 3
# Per-group metrics charted for each task.
GROUP_METRICS = {
    "binary": ["selection_rate", "true_positive_rate", "false_positive_rate", "auc"],
    "multiclass": ["accuracy"],
    "regression": ["mean_absolute_error"],
}


# The report's file name, in the run's folder and among the MLflow run's artifacts.
REPORT_FILE = "report.html"


@dataclass
class RunReport:
    """What the report shows; each frame as the run produced it."""

    model_name: str
    task: str
    task_reason: str
    metric: str
    greater_is_better: bool
    source: str
    rows: int
    columns: int
    fingerprint: str
    config: dict[str, Any]
    timings: dict[str, float]
    profile: dict[str, Any]
    guardrails: pd.DataFrame
    features: pd.DataFrame
    leaderboard: pd.DataFrame
    # One row per trial: learner, score, seconds (into the search) when it finished.
    trials: pd.DataFrame
    importance: pd.DataFrame
    importance_method: str
    engineered_importance: pd.DataFrame | None = None
    fairness: Any = None  # a trialflow.fairness.measure.FairnessReport
    excluded_sensitive: list[str] = field(default_factory=list)
    # member, learner, weight, score; None when a single model won.
    ensemble: pd.DataFrame | None = None
    # {metric: score} of the final model on rows kept out of search and refit; {} for none.
    holdout: dict[str, float] = field(default_factory=dict)
    holdout_rows: int = 0
    created: str = field(default_factory=lambda: f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC")


def render(report: RunReport) -> str:
    """The whole report as one HTML document."""
    body = "\n".join(
        [
            _summary(report),
            f"<div class='answer'>{_search(report)}{_importance(report)}</div>",
            _data(report),
            _features(report),
            _fairness(report),
            _ensemble(report),
            _leaderboard(report),
            _config(report),
        ]
    )
    title = text_html(f"trialflow report: {report.model_name}")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{STYLE}</style></head>"
        f"<body><h1>{title}</h1>{_contents()}{body}</body></html>\n"
    )


def _summary(r: RunReport) -> str:
    """The answer: the chosen model and its scores, the leaderboard's top rows; then the
    run's facts."""
    best = r.leaderboard.iloc[0] if len(r.leaderboard) else None
    direction = "" if r.greater_is_better else " (lower is better)"
    if best is None:
        answer = "<p class='answer'>No model was chosen.</p>"
    else:
        score = float(best[r.metric])
        scores = f"cross-validated {text_html(r.metric)}{direction} <strong>{score:.4f}</strong>"
        if r.holdout:
            held = ", ".join(
                f"{text_html(k)} <strong>{v:.4f}</strong>" for k, v in r.holdout.items()
            )
            scores += f"; on {r.holdout_rows:,} held-out rows: {held}"
        answer = (
            f"<p class='answer' id='chosen'>Chosen model: <strong>{text_html(best['learner'])}"
            f"</strong>, {scores}.</p>"
        )
    top = r.leaderboard.head(TOP_ROWS).drop(
        columns=["config", "data_fingerprint", "error", "worker", "seed"], errors="ignore"
    )
    facts = {
        "model": r.model_name,
        "task": f"{r.task} ({r.task_reason})" if r.task_reason else r.task,
        "data": f"{r.source}: {r.rows:,} rows, {r.columns:,} input columns",
        "trials": f"{int((r.trials['score'].notna()).sum())} finished of {len(r.trials)}",
        "data fingerprint": r.fingerprint,
        "created": r.created,
    }
    timings = ", ".join(f"{k} {v:.1f} s" for k, v in r.timings.items())
    return section_html(
        "summary",
        "Result",
        answer
        + table_html(top)
        + "<details><summary>Run facts</summary>"
        + facts_html(facts)
        + f"<p class='note'>Seconds per stage: {text_html(timings)}</p></details>",
    )


def _config(r: RunReport) -> str:
    shown = {
        k: json.dumps(v, default=str) if isinstance(v, list | dict) else v
        for k, v in r.config.items()
    }
    return section_html(
        "config", "Configuration", _collapsed("the run's settings", facts_html(shown))
    )


def _collapsed(label: str, content: str) -> str:
    return f"<details><summary>{text_html(label)}</summary>{content}</details>"


def _data(r: RunReport) -> str:
    profile = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r.profile.items()}
    parts = [
        "<h3>Guardrails</h3>",
        table_html(r.guardrails, status_column="status"),
        "<h3>Data profile</h3><p class='note'>The meta-features the recommender starts from.</p>",
        facts_html(profile),
    ]
    return section_html("data", "Data and guardrails", "".join(parts))


def _features(r: RunReport) -> str:
    note = (
        f"<p>{len(r.features):,} model inputs made from the raw columns; each row says which "
        "columns it came from and which featurizer made it.</p>"
    )
    if r.excluded_sensitive:
        note += (
            "<p>Sensitive column(s) "
            + ", ".join(f"<code>{text_html(c)}</code>" for c in r.excluded_sensitive)
            + " were reported on for fairness and <strong>not used as model inputs</strong>.</p>"
        )
    return section_html("features", "Featurization plan", note + table_html(r.features))


def _leaderboard(r: RunReport) -> str:
    shown = r.leaderboard.drop(columns=["config", "data_fingerprint", "error"], errors="ignore")
    return section_html(
        "leaderboard",
        "Leaderboard",
        _collapsed(
            f"all {len(shown):,} trials, ranked by cross-validated {r.metric}", table_html(shown)
        ),
    )


def _search(r: RunReport) -> str:
    chart = report_plots.search_progress(r.trials, r.metric, r.greater_is_better)
    return section_html(
        "search",
        "Search progress",
        image_html(
            chart,
            f"best cross-validated {r.metric} against seconds into the search",
            anchor="search-chart",
        ),
    )


def _importance(r: RunReport) -> str:
    # Bars drawn by the browser from the table's own numbers: as clear as a chart here, and
    # free, where each matplotlib chart costs ~0.1 s at the end of the run.
    parts = [
        "<h3>Raw input columns</h3>",
        table_html(r.importance, bar="importance", anchor="importance-chart"),
        f"<p class='note'>{text_html(r.importance_method)}</p>",
    ]
    if r.engineered_importance is not None and len(r.engineered_importance):
        parts += [
            "<h3>Engineered features</h3>",
            table_html(r.engineered_importance, bar="importance"),
        ]
    else:
        parts.append(
            "<p class='note'>Engineered-feature importance is shown for single models; an "
            "ensemble's members each engineer their own features, so it is explained by its "
            "raw columns.</p>"
        )
    return section_html("importance", "Feature importance", "".join(parts))


def _fairness(r: RunReport) -> str:
    f = r.fairness
    if f is None:
        return section_html(
            "fairness",
            "Fairness",
            "<p>No sensitive columns were given (<code>--sensitive COLUMN</code>), so no "
            "fairness figures were computed.</p>",
        )
    parts = [
        "<p>Measured on out-of-fold predictions: each row predicted by a model that did not "
        "see it. Groups too small to judge are flagged, not hidden.</p>"
    ]
    alerts = list(f.alerts)
    if alerts:
        parts.append(
            "<ul class='alerts'>" + "".join(f"<li>{text_html(a)}</li>" for a in alerts) + "</ul>"
        )
    else:
        parts.append("<p>No disparity beyond its threshold.</p>")
    representation = getattr(f, "representation", None)
    if representation is not None and len(representation):
        parts += ["<h3>Representation in the training data</h3>", table_html(representation)]
    parts += ["<h3>Disparities</h3>", table_html(f.disparities)]
    metrics = GROUP_METRICS[r.task]
    for column in dict.fromkeys(f.groups["column"]) if len(f.groups) else []:
        parts += [
            f"<h3>Groups of <code>{text_html(column)}</code></h3>",
            image_html(
                report_plots.group_metrics(f.groups, column, metrics),
                f"per-group metrics for {column}",
            ),
            table_html(f.groups[f.groups["column"] == column]),
        ]
    mitigation = getattr(f, "mitigation", None)
    if mitigation is not None:
        parts += _mitigation(mitigation)
    return section_html("fairness", "Fairness", "".join(parts))


def _mitigation(m) -> list[str]:
    disparity = (
        "demographic_parity_difference"
        if m.constraint == "demographic_parity"
        else "equalized_odds_difference"
    )
    return [
        f"<h3>Mitigation: {text_html(m.constraint.replace('_', ' '))} on "
        f"<code>{text_html(m.column)}</code></h3>",
        "<p>fairlearn's ThresholdOptimizer post-processes the final model with a threshold per "
        "group; the figures are cross-fitted on out-of-fold scores (thresholds learned on "
        f"the other folds). Registered: <strong>{text_html(m.registered)}</strong> model.</p>",
        image_html(report_plots.tradeoff(m.tradeoff, disparity), "accuracy against disparity"),
        table_html(m.tradeoff.reset_index(names="model")),
    ]


def _ensemble(r: RunReport) -> str:
    if r.ensemble is None or not len(r.ensemble):
        return section_html(
            "ensemble",
            "Ensemble",
            "<p>No blend beat the best single model out of fold; the single model was chosen.</p>",
        )
    if len(r.ensemble) == 1:  # trialflow.model.ensemble: the best trial's refit did not fit
        text = (
            "<p>No ensemble: the best trial's refit on all rows would not have finished in the "
            "time left, so the best trial whose refit fits was refitted alone.</p>"
        )
    else:
        text = (
            "<p>Greedy ensemble selection with replacement over out-of-fold predictions; "
            "weights are how often each member was picked.</p>"
        )
    return section_html("ensemble", "Ensemble", text + table_html(r.ensemble, bar="weight"))


def _contents() -> str:
    links = "".join(f"<a href='#{s}'>{s}</a>" for s in SECTIONS)
    return f"<nav>{links}</nav>"
