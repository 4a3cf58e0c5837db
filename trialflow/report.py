"""The run report: one self-contained HTML file per run, charts embedded as PNG data.

Every string that came from the user's data or configuration (column names, category
values, paths, learner names) passes through ``_text`` or ``_table``, which escape it: a
column named ``<script>`` shows as text, it does not run.
"""

from __future__ import annotations

import base64
import html
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

from trialflow import report_plots

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
# Rows shown of long tables (the registered CSVs hold them all).
MAX_ROWS = 50
# Length of the longest bar in a table's bar column.
BAR_REM = 12
# Per-group metrics charted for each task.
GROUP_METRICS = {
    "binary": ["selection_rate", "true_positive_rate", "false_positive_rate", "auc"],
    "multiclass": ["accuracy"],
    "regression": ["mean_absolute_error"],
}


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
    fairness: Any = None  # a trialflow.fairness.FairnessReport
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
    title = _text(f"trialflow report: {report.model_name}")
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{title}</title><style>{_STYLE}</style></head>"
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
        scores = f"cross-validated {_text(r.metric)}{direction} <strong>{score:.4f}</strong>"
        if r.holdout:
            held = ", ".join(f"{_text(k)} <strong>{v:.4f}</strong>" for k, v in r.holdout.items())
            scores += f"; on {r.holdout_rows:,} held-out rows: {held}"
        answer = (
            f"<p class='answer' id='chosen'>Chosen model: <strong>{_text(best['learner'])}"
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
    return _section(
        "summary",
        "Result",
        answer
        + _table(top)
        + "<details><summary>Run facts</summary>"
        + _facts(facts)
        + f"<p class='note'>Seconds per stage: {_text(timings)}</p></details>",
    )


def _config(r: RunReport) -> str:
    shown = {
        k: json.dumps(v, default=str) if isinstance(v, list | dict) else v
        for k, v in r.config.items()
    }
    return _section("config", "Configuration", _collapsed("the run's settings", _facts(shown)))


def _collapsed(label: str, content: str) -> str:
    return f"<details><summary>{_text(label)}</summary>{content}</details>"


def _data(r: RunReport) -> str:
    profile = {k: (f"{v:.4g}" if isinstance(v, float) else v) for k, v in r.profile.items()}
    parts = [
        "<h3>Guardrails</h3>",
        _table(r.guardrails, status_column="status"),
        "<h3>Data profile</h3><p class='note'>The meta-features the recommender starts from.</p>",
        _facts(profile),
    ]
    return _section("data", "Data and guardrails", "".join(parts))


def _features(r: RunReport) -> str:
    note = (
        f"<p>{len(r.features):,} model inputs made from the raw columns; each row says which "
        "columns it came from and which featurizer made it.</p>"
    )
    if r.excluded_sensitive:
        note += (
            "<p>Sensitive column(s) "
            + ", ".join(f"<code>{_text(c)}</code>" for c in r.excluded_sensitive)
            + " were reported on for fairness and <strong>not used as model inputs</strong>.</p>"
        )
    return _section("features", "Featurization plan", note + _table(r.features))


def _leaderboard(r: RunReport) -> str:
    shown = r.leaderboard.drop(columns=["config", "data_fingerprint", "error"], errors="ignore")
    return _section(
        "leaderboard",
        "Leaderboard",
        _collapsed(
            f"all {len(shown):,} trials, ranked by cross-validated {r.metric}", _table(shown)
        ),
    )


def _search(r: RunReport) -> str:
    chart = report_plots.search_progress(r.trials, r.metric, r.greater_is_better)
    return _section(
        "search",
        "Search progress",
        _image(
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
        _table(r.importance, bar="importance", anchor="importance-chart"),
        f"<p class='note'>{_text(r.importance_method)}</p>",
    ]
    if r.engineered_importance is not None and len(r.engineered_importance):
        parts += [
            "<h3>Engineered features</h3>",
            _table(r.engineered_importance, bar="importance"),
        ]
    else:
        parts.append(
            "<p class='note'>Engineered-feature importance is shown for single models; an "
            "ensemble's members each engineer their own features, so it is explained by its "
            "raw columns.</p>"
        )
    return _section("importance", "Feature importance", "".join(parts))


def _fairness(r: RunReport) -> str:
    f = r.fairness
    if f is None:
        return _section(
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
            "<ul class='alerts'>" + "".join(f"<li>{_text(a)}</li>" for a in alerts) + "</ul>"
        )
    else:
        parts.append("<p>No disparity beyond its threshold.</p>")
    representation = getattr(f, "representation", None)
    if representation is not None and len(representation):
        parts += ["<h3>Representation in the training data</h3>", _table(representation)]
    parts += ["<h3>Disparities</h3>", _table(f.disparities)]
    metrics = GROUP_METRICS[r.task]
    for column in dict.fromkeys(f.groups["column"]) if len(f.groups) else []:
        parts += [
            f"<h3>Groups of <code>{_text(column)}</code></h3>",
            _image(
                report_plots.group_metrics(f.groups, column, metrics),
                f"per-group metrics for {column}",
            ),
            _table(f.groups[f.groups["column"] == column]),
        ]
    mitigation = getattr(f, "mitigation", None)
    if mitigation is not None:
        parts += _mitigation(mitigation)
    return _section("fairness", "Fairness", "".join(parts))


def _mitigation(m) -> list[str]:
    disparity = (
        "demographic_parity_difference"
        if m.constraint == "demographic_parity"
        else "equalized_odds_difference"
    )
    return [
        f"<h3>Mitigation: {_text(m.constraint.replace('_', ' '))} on "
        f"<code>{_text(m.column)}</code></h3>",
        "<p>fairlearn's ThresholdOptimizer post-processes the final model with a threshold per "
        "group; the figures are cross-fitted on out-of-fold scores (thresholds learned on "
        f"the other folds). Registered: <strong>{_text(m.registered)}</strong> model.</p>",
        _image(report_plots.tradeoff(m.tradeoff, disparity), "accuracy against disparity"),
        _table(m.tradeoff.reset_index(names="model")),
    ]


def _ensemble(r: RunReport) -> str:
    if r.ensemble is None or not len(r.ensemble):
        return _section(
            "ensemble",
            "Ensemble",
            "<p>No blend beat the best single model out of fold; the single model was chosen.</p>",
        )
    return _section(
        "ensemble",
        "Ensemble",
        "<p>Greedy ensemble selection with replacement over out-of-fold predictions; weights "
        "are how often each member was picked.</p>" + _table(r.ensemble, bar="weight"),
    )


# --- HTML pieces: the only places text enters the page, each escaping it ---


def _text(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _section(anchor: str, title: str, content: str) -> str:
    return f"<section id='{anchor}'><h2>{_text(title)}</h2>{content}</section>"


def _contents() -> str:
    links = "".join(f"<a href='#{s}'>{s}</a>" for s in SECTIONS)
    return f"<nav>{links}</nav>"


def _facts(facts: dict[str, Any]) -> str:
    rows = "".join(f"<tr><th>{_text(k)}</th><td>{_text(v)}</td></tr>" for k, v in facts.items())
    return f"<table class='facts'>{rows}</table>"


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return ""
    if isinstance(value, float | np.floating):
        return f"{value:.4g}"
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return str(value)


def _table(
    frame: pd.DataFrame,
    *,
    status_column: str | None = None,
    bar: str | None = None,
    anchor: str = "",
) -> str:
    """The first rows of ``frame``; the ``bar`` column's numbers also drawn as bars, scaled
    to its largest value (a negative or missing value draws none)."""
    if frame is None or not len(frame):
        return "<p class='note'>(none)</p>"
    shown = frame.head(MAX_ROWS)
    head = "".join(f"<th>{_text(c)}</th>" for c in shown.columns)
    top = float(pd.to_numeric(shown[bar], errors="coerce").max()) if bar else 0.0
    body = []
    for _, row in shown.iterrows():
        css = f" class='{_text(row[status_column])}'" if status_column else ""
        cells = "".join(
            _bar_cell(v, top) if c == bar else f"<td>{_text(_cell(v))}</td>"
            for c, v in zip(shown.columns, row.tolist(), strict=True)
        )
        body.append(f"<tr{css}>{cells}</tr>")
    more = (
        f"<p class='note'>First {MAX_ROWS} of {len(frame):,} rows.</p>"
        if len(frame) > MAX_ROWS
        else ""
    )
    ident = f" id='{anchor}'" if anchor else ""
    return (
        f"<table{ident}><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>" + more
    )


def _bar_cell(value: Any, top: float) -> str:
    number = float(value) if isinstance(value, int | float | np.number) else np.nan
    share = number / top if np.isfinite(number) and number > 0 and top > 0 else 0.0
    width = f"{BAR_REM * share:.2f}rem"
    return f"<td class='bar'><span style='width:{width}'></span>{_text(_cell(value))}</td>"


def _image(png: bytes, alt: str, *, anchor: str = "") -> str:
    data = base64.b64encode(png).decode("ascii")
    ident = f" id='{anchor}'" if anchor else ""
    return f"<img{ident} alt='{_text(alt)}' src='data:image/png;base64,{data}'>"


_STYLE = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#222;padding:0 1rem}
nav a{margin-right:.8rem}
section{border-top:1px solid #ddd;margin-top:1.5rem}
table{border-collapse:collapse;font-size:.85rem;margin:.5rem 0;display:block;overflow-x:auto}
th,td{border:1px solid #ddd;padding:.2rem .5rem;text-align:left;vertical-align:top}
table.facts th{background:#f5f5f5}
tr.alert td{background:#fff3cd}
tr.done td{background:#e8f4ea}
.note{color:#666;font-size:.85rem}
ul.alerts li{color:#8a4b00}
img{max-width:100%}
p.answer{font-size:1.15rem}
div.answer{display:grid;grid-template-columns:minmax(0,1.1fr) minmax(0,1fr);gap:1.5rem}
div.answer section{margin-top:.5rem}
details summary{cursor:pointer;color:#444;margin:.4rem 0}
td.bar{white-space:nowrap;min-width:16rem}
td.bar span{display:inline-block;height:.75rem;margin-right:.5rem;vertical-align:middle;
background:#4c72b0}
"""
