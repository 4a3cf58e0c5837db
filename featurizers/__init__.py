"""The featurizer registry: every column kind and the featurizer that handles it.

A new featurizer is a small module with a ``Featurizer`` subclass, registered here; a
user's own is named by import path in the featurization plan.
"""

from __future__ import annotations

from trialflow.featurizers.base import Featurizer
from trialflow.featurizers.boolean import BooleanFeaturizer
from trialflow.featurizers.categorical import CategoricalFeaturizer
from trialflow.featurizers.datetime import DatetimeFeaturizer
from trialflow.featurizers.detect import KINDS, ColumnPlan, plan_columns
from trialflow.featurizers.high_cardinality import HighCardinalityFeaturizer
from trialflow.featurizers.holidays import HolidayFeaturizer
from trialflow.featurizers.numeric import NumericFeaturizer
from trialflow.featurizers.table import TableFeaturizer
from trialflow.featurizers.text import TextFeaturizer

# Column kind -> the featurizer for columns of that kind.
FEATURIZERS: dict[str, type[Featurizer]] = {
    f.kind: f
    for f in (
        NumericFeaturizer,
        BooleanFeaturizer,
        CategoricalFeaturizer,
        HighCardinalityFeaturizer,
        DatetimeFeaturizer,
        TextFeaturizer,
    )
}


def make_featurizer(kind: str, columns, *, categorical_encoding: str = "native") -> Featurizer:
    """A fresh featurizer for ``columns`` of the given kind."""
    if kind not in FEATURIZERS:
        raise ValueError(f"No featurizer for column kind {kind!r}; known: {sorted(FEATURIZERS)}.")
    if kind == "categorical":
        return CategoricalFeaturizer(tuple(columns), encoding=categorical_encoding)
    return FEATURIZERS[kind](tuple(columns))


__all__ = [
    "FEATURIZERS",
    "KINDS",
    "ColumnPlan",
    "Featurizer",
    "HolidayFeaturizer",
    "TableFeaturizer",
    "make_featurizer",
    "plan_columns",
]
