"""The run report's charts: each a function from plain frames to PNG bytes.

Drawn on bare matplotlib Figures (the Agg renderer), so charts draw on machines without a
display; the report embeds the bytes, so it needs no files beside it and no network to view.
"""

from __future__ import annotations

import io

import numpy as np
import pandas as pd

WIDTH = 7.5


def new_figure(height: float):
    # A bare Figure, not pyplot: no global backend or figure registry is touched, so a
    # notebook that calls trialflow keeps its own matplotlib settings.
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH, height), dpi=100)
    return figure, figure.subplots()


def png_bytes(figure) -> bytes:
    buffer = io.BytesIO()
    figure.tight_layout()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def search_progress(trials: pd.DataFrame, metric: str, greater_is_better: bool) -> bytes:
    """Each finished trial a dot at (seconds into the search, CV score), coloured by
    learner; the line is the best score so far, the dashed one the best of the plain
    library defaults (the score a user would get without a search)."""
    from trialflow.search.trial import LIBRARY_DEFAULT

    figure, axes = new_figure(4.0)
    done = trials[trials["score"].notna()].sort_values("seconds")
    for learner, group in done.groupby("learner", sort=True):
        axes.scatter(group["seconds"], group["score"], s=18, alpha=0.75, label=learner)
    if len(done):
        best = done["score"].cummax() if greater_is_better else done["score"].cummin()
        axes.step(
            done["seconds"], best, where="post", color="black", linewidth=1.2, label="best so far"
        )
        plain = done.loc[done["origin"] == LIBRARY_DEFAULT, "score"] if "origin" in done else []
        if len(plain):
            floor = plain.max() if greater_is_better else plain.min()
            axes.axhline(floor, color="grey", linestyle="--", linewidth=1, label="library defaults")
        axes.legend(fontsize=8, loc="best")
    axes.set_xlabel("seconds into the search")
    direction = "" if greater_is_better else " (lower is better)"
    axes.set_ylabel(f"cross-validated {metric}{direction}")
    axes.grid(alpha=0.3)
    return png_bytes(figure)


def group_metrics(groups: pd.DataFrame, column: str, metrics: list[str]) -> bytes:
    """One sensitive column: grouped bars of each metric per group, and each group's share
    of the data; groups too small to judge are hatched."""
    rows = groups[groups["column"] == column]
    labels = [str(g) for g in rows["group"]]
    series = ["share", *[m for m in metrics if m in rows.columns]]
    figure, axes = new_figure(3.6)
    x = np.arange(len(rows))
    width = 0.8 / len(series)
    for k, metric in enumerate(series):
        bars = axes.bar(
            x + k * width - 0.4 + width / 2,
            rows[metric].astype(float),
            width,
            label=metric.replace("_", " "),
        )
        for bar, small in zip(bars, rows["too_small"], strict=True):
            if small:
                bar.set_hatch("//")
    axes.set_xticks(x, labels, rotation=30 if len(labels) > 4 else 0, ha="right", fontsize=8)
    axes.set_title(f"{column} (hatched: too small to judge)", fontsize=10)
    axes.legend(fontsize=8)
    axes.grid(axis="y", alpha=0.3)
    return png_bytes(figure)


def tradeoff(points: pd.DataFrame, fairness: str, accuracy: str = "accuracy") -> bytes:
    """Original and mitigated models as points: accuracy against the disparity."""
    figure, axes = new_figure(3.4)
    for name, row in points.iterrows():
        axes.scatter(row[fairness], row[accuracy], s=60)
        axes.annotate(
            str(name), (row[fairness], row[accuracy]), xytext=(6, 4), textcoords="offset points"
        )
    axes.set_xlabel(fairness.replace("_", " ") + " (lower is fairer)")
    axes.set_ylabel(accuracy.replace("_", " "))
    axes.grid(alpha=0.3)
    return png_bytes(figure)
