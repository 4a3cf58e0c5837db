"""Free-text columns: TF-IDF of words and word pairs, reduced to a few dense components.

The reduction (truncated SVD, i.e. latent semantic analysis) keeps the feature count small
and dense, which tree learners need; missing text is the empty string.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from trialflow.featurizers.base import Featurizer


class TextFeaturizer(Featurizer):
    kind = "text"

    def __init__(
        self,
        columns: tuple[str, ...] = (),
        *,
        max_terms: int = 20_000,
        components: int = 20,
        seed: int = 0,
    ):
        self.columns = columns
        self.max_terms = max_terms
        self.components = components
        self.seed = seed

    def fit(self, X: pd.DataFrame, y=None) -> TextFeaturizer:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.models_ = {}
        names = []
        for column in self.columns:
            vectorizer = TfidfVectorizer(
                ngram_range=(1, 2), min_df=2, max_features=self.max_terms, sublinear_tf=True
            )
            try:
                terms = vectorizer.fit_transform(_text(X[column]))
            except ValueError:  # every value empty, or no term in two rows: nothing to learn
                continue
            k = min(self.components, terms.shape[1] - 1, terms.shape[0] - 1)
            if k < 1:
                continue
            svd = TruncatedSVD(n_components=k, random_state=self.seed).fit(terms)
            self.models_[column] = (vectorizer, svd)
            names += [f"{column}__svd{i}" for i in range(k)]
        self.feature_names_out_ = names
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "models_")
        parts = [
            svd.transform(vectorizer.transform(_text(X[column])))
            for column, (vectorizer, svd) in self.models_.items()
        ]
        values = np.hstack(parts) if parts else np.empty((len(X), 0))
        return pd.DataFrame(values, index=X.index, columns=self.feature_names_out_)


def _text(values: pd.Series) -> pd.Series:
    return values.astype(str).where(values.notna(), "")
