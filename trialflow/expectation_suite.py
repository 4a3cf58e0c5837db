"""The expectation suite a model carries: what its training data looked like, as Great
Expectations checks that scoring runs on every incoming batch.

Severity says what a failure means at scoring. ``critical``: the row cannot be trusted (a
value far outside anything the model saw) and is quarantined. ``warning``: the model can
still score it (an unseen category maps to "other", a missing value is imputed), so the
batch summary reports it.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from trialflow.featurizers import ColumnPlan

# Values may stray this share of the training span beyond its ends before they count as far
# outside the training range (0.5: a span of 0..100 accepts -50..150).
RANGE_TOLERANCE = 0.5
# A column's share of missing values may grow by this much (absolute) before it is reported.
NULL_TOLERANCE = 0.1
# Value sets are kept for categoricals with at most this many levels.
MAX_VALUE_SET = 100
SUITE_NAME = "trialflow-scoring"
CRITICAL, WARNING = "critical", "warning"


def learn_suite(X: pd.DataFrame, plan: ColumnPlan) -> dict:
    """A Great Expectations suite (as its JSON document) learned from the training rows."""
    import great_expectations as gx
    import great_expectations.expectations as gxe

    kind_of = {c: kind for kind, columns in plan.kinds.items() for c in columns}
    inputs = [c for c in plan.input_columns if c in X.columns]
    expectations = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=list(X.columns), exact_match=False, severity=WARNING
        )
    ]
    columns_meta = {}
    for column in inputs:
        values = X[column]
        kind = kind_of.get(column, "other")
        columns_meta[column] = {"kind": kind, "dtype": str(values.dtype)}
        expectations.append(gxe.ExpectColumnToExist(column=column, severity=CRITICAL))
        present_share = float(values.notna().mean()) if len(values) else 1.0
        expectations.append(
            gxe.ExpectColumnProportionOfNonNullValuesToBeBetween(
                column=column,
                min_value=round(max(0.0, present_share - NULL_TOLERANCE), 6),
                severity=WARNING,
                meta={"training_share": round(present_share, 6)},
            )
        )
        if kind == "numeric":
            expectations += _numeric_expectations(column, values, gxe)
        elif kind in ("categorical", "boolean"):
            levels = values.dropna().unique()
            if 0 < len(levels) <= MAX_VALUE_SET:
                expectations.append(
                    gxe.ExpectColumnValuesToBeInSet(
                        column=column,
                        value_set=sorted((_plain(v) for v in levels), key=str),
                        severity=WARNING,
                    )
                )
    for column, reason in plan.dropped.items():
        if reason.startswith("an identifier"):
            expectations.append(gxe.ExpectColumnValuesToBeUnique(column=column, severity=WARNING))
    suite = gx.ExpectationSuite(
        name=SUITE_NAME,
        expectations=expectations,
        meta={"trialflow": {"columns": columns_meta, "training_columns": list(X.columns)}},
    )
    return json.loads(json.dumps(suite.to_json_dict(), default=str))


def _numeric_expectations(column: str, values: pd.Series, gxe) -> list:
    numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
    finite = numbers[np.isfinite(numbers)]
    if not len(finite):
        return []
    low, high = float(finite.min()), float(finite.max())
    span = high - low or max(abs(high), 1.0)
    return [
        gxe.ExpectColumnValuesToBeInTypeList(
            column=column,
            type_list=[
                "int",
                "int8",
                "int16",
                "int32",
                "int64",
                "uint8",
                "uint16",
                "uint32",
                "uint64",
                "float",
                "float16",
                "float32",
                "float64",
                "Int64",
                "Float64",
            ],
            severity=WARNING,
        ),
        gxe.ExpectColumnValuesToBeBetween(
            column=column,
            min_value=low - RANGE_TOLERANCE * span,
            max_value=high + RANGE_TOLERANCE * span,
            severity=CRITICAL,
            meta={"training_range": [low, high]},
        ),
    ]


def suite_columns(suite: dict) -> dict[str, dict]:
    """The model's input columns: {column: {"kind": ..., "dtype": ...}}."""
    return suite.get("meta", {}).get("trialflow", {}).get("columns", {})


def training_columns(suite: dict) -> list[str]:
    return suite.get("meta", {}).get("trialflow", {}).get("training_columns", [])


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
