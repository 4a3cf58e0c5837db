"""Categoricals with many levels: frequency encoding plus out-of-fold target encoding.

Target encoding replaces a level by the mean target of its training rows (smoothed towards
the overall mean). Fitted naively it leaks: a model trained on the encoded training rows
sees its own targets. ``fit_transform`` therefore encodes each training row with encodings
learnt on the other folds (cross-fitting, scikit-learn's ``TargetEncoder``), while
``transform`` of new rows uses encodings from all training rows. Unseen levels get the
overall mean and a frequency of 0.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from trialflow.featurizers.base import Featurizer
from trialflow.gpu.arrays import module_for, to_host
from trialflow.gpu.kernels import frequency_encode, target_encode, target_encode_out_of_fold

MISSING = "__missing__"


class HighCardinalityFeaturizer(Featurizer):
    kind = "high_cardinality"

    def __init__(self, columns: tuple[str, ...] = (), *, seed: int = 0):
        self.columns = columns
        self.seed = seed

    def fit(self, X: pd.DataFrame, y=None) -> HighCardinalityFeaturizer:
        self._fit(X, y)
        return self

    def fit_transform(self, X: pd.DataFrame, y=None, **fit_params) -> pd.DataFrame:
        encoded = self._fit(X, y)
        return self._frame(X, encoded)

    def _fit(self, X: pd.DataFrame, y) -> np.ndarray | None:
        text = _levels(X, self.columns)
        levels = {c: pd.factorize(text[c], sort=True) for c in self.columns}
        self.levels_ = {c: list(uniques) for c, (_, uniques) in levels.items()}
        # On a GPU from a million rows, where bincounts over folds pay for the copy.
        xp = module_for(len(X) * max(len(self.columns), 1))
        codes = {c: xp.asarray(found) for c, (found, _) in levels.items()}
        self.frequencies_ = {
            c: to_host(frequency_encode(codes[c], n_levels=len(self.levels_[c])))
            for c in self.columns
        }
        self.target_suffixes_: list[str] = []
        self.target_encodings_: dict[str, list[np.ndarray]] = {}
        self.target_means_: list[float] = []
        encoded = None
        if y is not None and self.columns:
            from sklearn.model_selection import KFold, StratifiedKFold
            from sklearn.utils.multiclass import type_of_target

            # A regression target is float (whole-number delays included, which "auto"
            # would take for hundreds of classes); class labels are strings or integers.
            y = np.asarray(y)
            continuous = y.dtype.kind == "f" or type_of_target(y) == "continuous"
            # The folds scikit-learn's TargetEncoder(cv=...) cross-fitted on before.
            folds = list(
                (KFold if continuous else StratifiedKFold)(
                    5, shuffle=True, random_state=self.seed
                ).split(np.zeros(len(y)), y)
            )
            targets, self.target_suffixes_ = _target_columns(y, continuous)
            columns = []
            for c in self.columns:
                n_levels = len(self.levels_[c])
                self.target_encodings_[c] = []
                for j in range(targets.shape[1]):
                    target = xp.asarray(targets[:, j])
                    columns.append(
                        to_host(
                            target_encode_out_of_fold(codes[c], target, folds, n_levels=n_levels)
                        )
                    )
                    full, mean = target_encode(codes[c], target, n_levels=n_levels)
                    self.target_encodings_[c].append(to_host(full))
            self.target_means_ = [float(m) for m in targets.mean(axis=0)]
            encoded = np.column_stack(columns)
        self.feature_names_out_ = [f"{c}__frequency" for c in self.columns] + [
            f"{c}{suffix}__target" for c in self.columns for suffix in self.target_suffixes_
        ]
        return encoded

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "frequencies_")
        if not hasattr(self, "levels_"):
            return self._fitted_by_scikit_learn(X)
        text = _levels(X, self.columns)
        codes = {c: pd.Categorical(text[c], categories=self.levels_[c]).codes for c in self.columns}
        encoded = None
        if self.target_suffixes_:
            encoded = np.column_stack(
                [
                    _lookup(table, codes[c], self.target_means_[j])
                    for c in self.columns
                    for j, table in enumerate(self.target_encodings_[c])
                ]
            )
        return self._frame(X, encoded, codes)

    def _frame(self, X: pd.DataFrame, encoded: np.ndarray | None, codes=None) -> pd.DataFrame:
        if codes is None:
            text = _levels(X, self.columns)
            codes = {
                c: pd.Categorical(text[c], categories=self.levels_[c]).codes for c in self.columns
            }
        out = {
            f"{c}__frequency": _lookup(self.frequencies_[c], codes[c], 0.0) for c in self.columns
        }
        if encoded is not None:
            names = self.feature_names_out_[len(self.columns) :]
            for i, name in enumerate(names):
                out[name] = encoded[:, i]
        return pd.DataFrame(out, index=X.index, columns=self.feature_names_out_)

    def _fitted_by_scikit_learn(self, X: pd.DataFrame) -> pd.DataFrame:
        """Featurizers fitted before the kernels (models already registered) hold a level ->
        share dict per column and scikit-learn's TargetEncoder: they score as they did."""
        text = _levels(X, self.columns)
        encoded = self.encoder_.transform(text) if self.encoder_ is not None else None
        out = {
            f"{c}__frequency": text[c].map(self.frequencies_[c]).fillna(0.0).to_numpy(np.float64)
            for c in self.columns
        }
        if encoded is not None:
            for i, name in enumerate(self.feature_names_out_[len(self.columns) :]):
                out[name] = encoded[:, i]
        return pd.DataFrame(out, index=X.index, columns=self.feature_names_out_)


def _target_columns(y: np.ndarray, continuous: bool) -> tuple[np.ndarray, list[str]]:
    """The target as numeric columns and their name suffixes, as TargetEncoder reads it: the
    values; one 0/1 column (of the second class) for two classes; one per class for more."""
    if continuous:
        return y.astype(np.float64).reshape(-1, 1), [""]
    classes = np.unique(y)
    if len(classes) <= 2:
        return (y == classes[-1]).astype(np.float64).reshape(-1, 1) * (len(classes) == 2), [""]
    return (y[:, None] == classes[None, :]).astype(np.float64), [f"_{c}" for c in classes]


def _lookup(table: np.ndarray, codes: np.ndarray, missing: float) -> np.ndarray:
    """``table[code]`` for each code, ``missing`` for -1 (a level not seen in fitting)."""
    found = codes >= 0
    return np.where(found, np.asarray(table, dtype=np.float64)[np.where(found, codes, 0)], missing)


def _levels(X: pd.DataFrame, columns) -> pd.DataFrame:
    """Levels as strings, missing values as a level of their own."""
    return pd.DataFrame(
        {c: X[c].astype(str).where(X[c].notna(), MISSING) for c in columns}, index=X.index
    )
