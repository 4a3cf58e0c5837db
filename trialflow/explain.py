"""Global feature importance of the final model, in terms of the raw input columns."""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from trialflow.metrics import METRICS
from trialflow.pipeline import aligned_proba

# Fewest rows permutation importance shrinks its sample to when time is short.
MIN_ROWS = 200


def permutation_importance(
    pipeline,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    columns: list[str],
    metric: str,
    classes: list | None,
    seed: int,
    max_rows: int = 2000,
    n_repeats: int = 3,
    deadline: float | None = None,
) -> pd.DataFrame:
    """How much the metric worsens when one raw column's values are shuffled.

    Computed on a seeded sample of at most ``max_rows`` rows. Columns not reached before
    ``deadline`` (epoch seconds) get no value rather than delaying the run.
    """
    rng = np.random.default_rng(seed)
    if len(X) > max_rows:
        rows = np.sort(rng.choice(len(X), size=max_rows, replace=False))
        X, y = X.iloc[rows].reset_index(drop=True), y[rows]
    m = METRICS[metric]

    def loss(frame: pd.DataFrame) -> float:
        if m.needs_proba:
            prediction = aligned_proba(pipeline, frame, classes)
        else:
            prediction = pipeline.predict(frame)
        return m.loss(m.score(y, prediction, classes))

    started = time.time()
    base = loss(X)
    if deadline is not None and np.isfinite(deadline):
        # Fewer rows rather than columns left blank: one scoring of the sample timed, the
        # sample shrinks (not below MIN_ROWS) until every column's shuffles fit the time.
        per_row = (time.time() - started) / max(len(X), 1)
        affordable = int((deadline - time.time()) / max(per_row * len(columns) * n_repeats, 1e-9))
        if affordable < len(X) and len(X) > MIN_ROWS:
            size = max(affordable, MIN_ROWS)
            keep = np.sort(rng.choice(len(X), size=size, replace=False))
            X, y = X.iloc[keep].reset_index(drop=True), y[keep]
            base = loss(X)
    return _shuffled_losses(X, columns, loss, base, rng, n_repeats, deadline, name="column")


def engineered_permutation_importance(
    pipeline,
    X: pd.DataFrame,
    y: np.ndarray,
    *,
    metric: str,
    classes: list | None,
    seed: int,
    max_rows: int = 2000,
    n_repeats: int = 3,
    deadline: float | None = None,
) -> pd.DataFrame:
    """Permutation importance of a single pipeline's engineered features: the featurizer
    runs once, then each feature's column of its output is shuffled before the model."""
    rng = np.random.default_rng(seed)
    if len(X) > max_rows:
        rows = np.sort(rng.choice(len(X), size=max_rows, replace=False))
        X, y = X.iloc[rows].reset_index(drop=True), y[rows]
    features = pipeline.named_steps["features"].transform(X)
    model = pipeline.named_steps["model"]
    m = METRICS[metric]

    def loss(frame: pd.DataFrame) -> float:
        prediction = aligned_proba(model, frame, classes) if m.needs_proba else model.predict(frame)
        return m.loss(m.score(y, prediction, classes))

    columns = list(features.columns)
    base = loss(features)
    return _shuffled_losses(features, columns, loss, base, rng, n_repeats, deadline, name="feature")


def _shuffled_losses(frame, columns, loss, base, rng, n_repeats, deadline, *, name: str):
    """Per column, the mean and spread of the loss increase over ``n_repeats`` shuffles of
    that column alone; columns not reached by ``deadline`` get no value."""
    rows = []
    for column in columns:
        if deadline is not None and time.time() > deadline:
            rows.append((column, np.nan, np.nan))
            continue
        drops = []
        for _ in range(n_repeats):
            shuffled = frame.copy()
            shuffled[column] = rng.permutation(shuffled[column].to_numpy())
            drops.append(loss(shuffled) - base)
        rows.append((column, float(np.mean(drops)), float(np.std(drops))))
    ranked = pd.DataFrame(rows, columns=[name, "importance", "importance_std"])
    return ranked.sort_values("importance", ascending=False, na_position="last").reset_index(
        drop=True
    )
