"""Per-row explanations of any trialflow model, in raw-column terms: exact tree SHAP for a
single LightGBM model, sampled Shapley values for everything else (ensembles included).

What the numbers explain differs and is named in the result: LightGBM's raw margin
(log-odds for classification) or the model's output (the probability of the positive or
predicted class, or the predicted value). Either way, contributions plus the expected value
add up to it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialflow.explain.contributions import (
    is_single_lightgbm,
    row_contributions,
    top_contributions,
)

# Rows of the reference distribution for sampled Shapley values, and samples per row.
BACKGROUND_ROWS = 100
SAMPLES = 16


def explain_rows(
    model,
    rows: pd.DataFrame,
    *,
    background: pd.DataFrame | None = None,
    top: int | None = None,
    seed: int = 0,
) -> tuple[pd.DataFrame, str]:
    """(contributions, what they explain). With ``top``, each row's ``top`` largest
    contributions (``top_contributions``) instead of one column per raw input.

    ``background`` is the reference rows for sampled Shapley values (default: a seeded
    sample of ``rows`` themselves, so the expected value is the batch's mean output).
    """
    if is_single_lightgbm(model):
        contributions = row_contributions(model, rows)
        explained = "LightGBM raw margin" + (
            " (log-odds of the predicted class)" if hasattr(model, "classes_") else ""
        )
    else:
        contributions, explained = _sampled(model, rows, background, seed)
    if top is not None:
        contributions = top_contributions(contributions, k=top)
    return contributions, explained


def _sampled(model, rows, background, seed) -> tuple[pd.DataFrame, str]:
    from trialflow.errors import ConfigError
    from trialflow.explain.shapley import model_output

    if background is None:
        if len(rows) < 2:
            raise ConfigError(
                "Explaining a single row of a model that is not one LightGBM needs reference "
                "rows: pass background=... (e.g. a sample of the training table)."
            )
        take = min(BACKGROUND_ROWS, len(rows))
        picked = np.sort(np.random.default_rng(seed).choice(len(rows), take, replace=False))
        background = rows.iloc[picked]
    columns = _input_columns(model, rows)
    classes = list(getattr(model, "classes_", []))
    if not classes:
        predict = model_output(model, "regression", None)
        return _run(predict, rows, background, columns, seed), "predicted value"
    if len(classes) == 2:
        predict = model_output(model, "binary", classes)
        return _run(predict, rows, background, columns, seed), f"probability of {classes[1]!r}"
    # Multiclass: each row explains the probability of its own predicted class.
    predicted = np.asarray(model.predict(rows))
    parts = []
    for cls in dict.fromkeys(predicted.tolist()):
        mine = rows[predicted == cls]
        predict = model_output(model, "multiclass", classes, target_class=cls)
        parts.append(_run(predict, mine, background, columns, seed))
    return pd.concat(parts).loc[rows.index], "probability of the predicted class"


def _run(predict, rows, background, columns, seed) -> pd.DataFrame:
    from trialflow.explain.shapley import sampled_contributions

    return sampled_contributions(
        predict, rows, background, columns=columns, n_samples=SAMPLES, seed=seed
    )


def _input_columns(model, rows: pd.DataFrame) -> list[str]:
    """The raw columns the model reads (its featurizer's inputs), in the rows' order."""
    pipelines = getattr(model, "members_", None) or [model]
    needed: set[str] = set()
    for pipeline in pipelines:
        featurizer = getattr(pipeline, "named_steps", {}).get("features")
        needed |= set(getattr(featurizer, "required_columns_", rows.columns))
    return [c for c in rows.columns if c in needed]
