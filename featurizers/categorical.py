"""Categorical columns: native categories (for learners that split on them), one-hot, or
ordinal codes (for forests, which split on numbers only)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from trialflow.featurizers.base import Featurizer

OTHER = "__other__"
ENCODINGS = ("native", "onehot", "ordinal")


class CategoricalFeaturizer(Featurizer):
    """Encodes categories seen in training; rarer ones and unseen ones map to ``__other__``.

    ``encoding="native"`` keeps one pandas categorical column per input (LightGBM and
    HistGradientBoosting split on these directly), capped at ``max_categories`` levels
    because HistGradientBoosting bins at most 255. ``encoding="onehot"`` emits one 0/1
    column per frequent level. ``encoding="ordinal"`` emits one numeric column per input:
    the level's rank in sorted order (numerically when every level is a number), so ordered
    codes such as grades A1 < A2 < ... keep their order; rarer and unseen levels get the
    code after the last, missing values -1. Missing values stay missing (native) or all-zero
    (one-hot).
    """

    kind = "categorical"

    def __init__(
        self,
        columns: tuple[str, ...] = (),
        *,
        encoding: str = "native",
        max_categories: int = 250,
        max_onehot: int = 20,
    ):
        self.columns = columns
        self.encoding = encoding
        self.max_categories = max_categories
        self.max_onehot = max_onehot

    def fit(self, X: pd.DataFrame, y=None) -> CategoricalFeaturizer:
        if self.encoding not in ENCODINGS:
            raise ValueError(
                f"The 'encoding' parameter must be one of {', '.join(ENCODINGS)}; "
                f"got {self.encoding!r}."
            )
        cap = self.max_onehot if self.encoding == "onehot" else self.max_categories
        self.levels_ = {}
        for column in self.columns:
            counts = _as_text(X[column]).value_counts(dropna=True)
            levels = [str(v) for v in counts.index[:cap]]
            self.levels_[column] = _sorted_levels(levels) if self.encoding == "ordinal" else levels
        if self.encoding in ("native", "ordinal"):
            self.feature_names_out_ = list(self.columns)
        else:
            self.feature_names_out_ = [
                f"{column}={level}" for column in self.columns for level in self.levels_[column]
            ]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "levels_")
        out = {}
        for column in self.columns:
            text = _as_text(X[column])
            levels = self.levels_[column]
            if self.encoding == "native":
                known = text.where(text.isin(levels) | text.isna(), OTHER)
                out[column] = pd.Categorical(known, categories=[*levels, OTHER])
            elif self.encoding == "ordinal":
                codes = pd.Categorical(text, categories=levels).codes.astype(np.float64)
                codes[(codes < 0) & text.notna().to_numpy()] = len(levels)
                out[column] = codes
            else:
                for level in levels:
                    out[f"{column}={level}"] = (text == level).to_numpy(dtype=np.float64)
        return pd.DataFrame(out, index=X.index, columns=self.feature_names_out_)


def _as_text(values: pd.Series) -> pd.Series:
    """Category values as strings; missing values stay missing."""
    return values.astype(str).where(values.notna())


def _sorted_levels(levels: list[str]) -> list[str]:
    """Levels in their natural order: as numbers when all are numbers, else as text."""
    try:
        return sorted(levels, key=float)
    except ValueError:
        return sorted(levels)
