"""Per-row explanations for any model: sampled Shapley values over the raw input columns.

Exact tree SHAP (``trialflow.explain.contributions``) needs a single LightGBM model; ensembles,
random forests and linear models are explained here by permutation sampling (Štrumbelj &
Kononenko, 2014). For each explained row and each sample, a random order of the columns and a
background row are drawn; starting from the background row, the columns are switched to the
row's values one at a time, and each column is credited with the change in prediction its
switch caused. The changes telescope, so contributions plus the expected value add up to the
prediction exactly, whatever the sample. The cost is rows × n_samples × (columns + 1)
predictions, made in large batches because a pipeline's per-call overhead dominates.

The output has the format of ``row_contributions``, so ``top_contributions`` works on it.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from trialflow.explain.contributions import EXPECTED


def sampled_contributions(
    predict: Callable[[pd.DataFrame], np.ndarray],
    rows: pd.DataFrame,
    background: pd.DataFrame,
    *,
    columns: list[str] | None = None,
    n_samples: int = 16,
    seed: int = 0,
    batch_rows: int = 50_000,
) -> pd.DataFrame:
    """One row per row of ``rows``: a column per attributed column, and the expected value.

    ``predict`` maps a frame with the columns of ``rows`` to one number per row. Columns not
    in ``columns`` keep the explained row's value throughout, so they get no credit.
    """
    attributed = list(rows.columns) if columns is None else list(columns)
    unknown = [c for c in attributed if c not in rows.columns or c not in background.columns]
    if unknown:
        raise ValueError(f"columns missing from rows or background: {unknown}")
    if len(background) == 0:
        raise ValueError("background needs at least one row")
    if n_samples < 1 or batch_rows < 1:
        raise ValueError("n_samples and batch_rows must be at least 1")
    n, p, n_bg = len(rows), len(attributed), len(background)
    # Each attributed column as one series of the row values followed by the background
    # values, so a frame's column is a single positional take (which keeps the dtype).
    pooled = {c: _pooled(rows[c], background[c]) for c in attributed}
    per_row = n_samples * (p + 1)
    chunk = max(1, batch_rows // per_row)  # explained rows per frame
    # One stream of doubles drawn in row order: the same draws whatever the chunking.
    rng = np.random.default_rng(seed)
    contributions = np.zeros((n, p))
    expected = np.zeros(n)
    steps = np.arange(p + 1)
    for start in range(0, n, chunk):
        m = min(chunk, n - start)
        draws = rng.random((m, n_samples, p + 1))
        rank = np.argsort(np.argsort(draws[..., :p], axis=-1), axis=-1)  # column's turn
        picked = (draws[..., p] * n_bg).astype(np.int64).clip(max=n_bg - 1)
        row_pos = np.broadcast_to(np.arange(start, start + m)[:, None, None], (m, n_samples, p + 1))
        bg_pos = np.broadcast_to(n + picked[..., None], (m, n_samples, p + 1))
        frame = {}
        for c in rows.columns:
            if c in pooled:
                # Step k has switched the columns whose turn is before k to the row's value.
                own = rank[..., attributed.index(c), None] < steps
                take = np.where(own, row_pos, bg_pos).reshape(-1)
                frame[c] = pooled[c].take(take).reset_index(drop=True)
            else:
                frame[c] = rows[c].take(row_pos.reshape(-1)).reset_index(drop=True)
        f = _predict_in_batches(predict, pd.DataFrame(frame), batch_rows)
        f = f.reshape(m, n_samples, p + 1)
        deltas = np.diff(f, axis=-1)  # deltas[..., k]: the change from the k-th switch
        contributions[start : start + m] = np.take_along_axis(deltas, rank, axis=-1).mean(axis=1)
        expected[start : start + m] = f[..., 0].mean(axis=1)
    out = pd.DataFrame(contributions, columns=attributed, index=rows.index)
    out[EXPECTED] = expected
    return out


def model_output(
    model, task: str, classes: list | None, target_class=None
) -> Callable[[pd.DataFrame], np.ndarray]:
    """The number to explain for a fitted model: the prediction, or one class's probability.

    Binary models explain the probability of ``classes[1]`` unless ``target_class`` says
    otherwise. Multiclass models explain one fixed class (``classes[0]`` by default): to
    explain each row's predicted class, group the rows by it and explain each group with its
    class.
    """
    if task == "regression":
        return lambda X: np.asarray(model.predict(X), dtype=float)
    from trialflow.model.pipeline import aligned_proba  # imports the featurizers; only when needed

    classes = list(classes)
    if target_class is None:
        target_class = classes[1] if task == "binary" else classes[0]
    column = classes.index(target_class)
    return lambda X: aligned_proba(model, X, classes)[:, column]


def _pooled(values: pd.Series, background: pd.Series) -> pd.Series:
    """``values`` then ``background`` as one series in the dtype of ``values``."""
    if isinstance(values.dtype, pd.CategoricalDtype) and values.dtype != background.dtype:
        # Categories the rows lack would make concat fall back to object.
        known = values.cat.categories
        extra = [v for v in pd.unique(background.dropna().astype(object)) if v not in known]
        values = values.cat.add_categories(extra)
        background = background.astype(values.dtype)
    return pd.concat([values, background], ignore_index=True)


def _predict_in_batches(predict, frame: pd.DataFrame, batch_rows: int) -> np.ndarray:
    parts = []
    for start in range(0, len(frame), batch_rows):
        part = np.asarray(predict(frame.iloc[start : start + batch_rows]), dtype=float)
        parts.append(part.reshape(-1))
    out = np.concatenate(parts) if parts else np.zeros(0)
    if len(out) != len(frame):
        raise ValueError(f"predict returned {len(out)} values for {len(frame)} rows")
    return out
