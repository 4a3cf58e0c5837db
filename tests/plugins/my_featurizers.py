"""A featurizer a user might write, outside the trialflow package."""

from __future__ import annotations

import numpy as np
import pandas as pd

from trialflow.featurizers import Featurizer


class Ratio(Featurizer):
    """The first column divided by the second (NaN where the second is 0)."""

    kind = "ratio"

    def fit(self, X: pd.DataFrame, y=None) -> Ratio:
        top, bottom = self.columns
        self.feature_names_out_ = [f"{top}_per_{bottom}"]
        return self

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        top, bottom = self.columns
        ratio = X[top].astype(float) / X[bottom].astype(float).replace(0, np.nan)
        return pd.DataFrame({self.feature_names_out_[0]: ratio.to_numpy()}, index=X.index)
