"""The search's results: the best trial and the leaderboard, best first."""

from __future__ import annotations

import json
from collections.abc import Sequence

import pandas as pd

from trialflow.model.metrics import METRICS
from trialflow.search.trial import TrialResult


def best_trial(history: Sequence[TrialResult], metric: str) -> TrialResult | None:
    scored = [r for r in history if r.status == "ok" and r.score is not None]
    if not scored:
        return None
    return min(scored, key=lambda r: METRICS[metric].loss(r.score))


def leaderboard(history: Sequence[TrialResult], metric: str) -> pd.DataFrame:
    """One row per trial, best first; trials without a score last, with their reason."""
    loss = METRICS[metric].loss
    rows = [_row(r, metric) for r in history]
    frame = pd.DataFrame(rows, columns=["trial", "learner", metric, *COLUMNS_AFTER_SCORE])
    order = sorted(
        range(len(history)),
        key=lambda i: (
            history[i].status != "ok",
            loss(history[i].score) if history[i].score is not None else 0.0,
            history[i].trial_id,
        ),
    )
    frame = frame.iloc[order].reset_index(drop=True)
    frame.insert(0, "rank", range(1, len(frame) + 1))
    return frame


# The leaderboard's columns after trial, learner and the metric's score.
COLUMNS_AFTER_SCORE = [
    "status",
    "origin",
    "rung",
    "rows",
    "fit_seconds",
    "fit_cpu_seconds",
    "wall_seconds",
    "worker",
    "seed",
    "config",
    "data_fingerprint",
    "error",
    "finished_seconds",
]


def _row(r: TrialResult, metric: str) -> dict:
    return {
        "trial": r.trial_id,
        "learner": r.learner,
        metric: r.score,
        "status": r.status,
        "origin": r.origin,
        "rung": r.rung,
        "rows": r.rows,
        "fit_seconds": round(r.fit_seconds, 3),
        "fit_cpu_seconds": round(r.fit_cpu_seconds, 3),
        "wall_seconds": round(r.wall_seconds, 3),
        "worker": r.worker,
        "seed": r.seed,
        "config": json.dumps(r.params, sort_keys=True, default=str),
        "data_fingerprint": r.data_fingerprint,
        "error": r.error,
        # Seconds into the search when it finished: the best score against time.
        "finished_seconds": r.finished_seconds,
    }
