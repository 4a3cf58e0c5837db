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
# The dtypes a numeric column may arrive in.
NUMERIC_TYPES = (
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
)
CRITICAL, WARNING = "critical", "warning"


def learn_suite(X: pd.DataFrame, plan: ColumnPlan) -> dict:
    """A Great Expectations suite (as its JSON document) learned from the training rows.

    The document is written here in Great Expectations' own format (a test checks that
    Great Expectations reads it back unchanged) rather than by building its expectation
    objects and serialising the suite: that deep-copies the suite and runs a schema per
    expectation: 2 s on a table of 1,500 columns.
    """
    import great_expectations as gx

    kind_of = {c: kind for kind, columns in plan.kinds.items() for c in columns}
    inputs = [c for c in plan.input_columns if c in X.columns]
    # Over the whole frame, block by block: selecting the inputs first would copy them.
    present = X.notna().mean() if len(X) else pd.Series(1.0, index=X.columns)
    ranges = _numeric_ranges(X, [c for c in inputs if kind_of.get(c) == "numeric"])
    expectations = [
        _expectation(
            "expect_table_columns_to_match_set",
            WARNING,
            column_set=list(X.columns),
            exact_match=False,
        )
    ]
    columns_meta = {}
    for column in inputs:
        kind = kind_of.get(column, "other")
        columns_meta[column] = {"kind": kind, "dtype": str(X[column].dtype)}
        expectations += _column_expectations(X[column], kind, float(present[column]), ranges)
    for column, reason in plan.dropped.items():
        if reason.startswith("an identifier"):
            expectations.append(
                _expectation("expect_column_values_to_be_unique", WARNING, column=column)
            )
    suite = {
        "name": SUITE_NAME,
        "id": None,
        "expectations": expectations,
        "meta": {
            "trialflow": {"columns": columns_meta, "training_columns": list(X.columns)},
            "great_expectations_version": gx.__version__,
        },
        "notes": None,
    }
    return json.loads(json.dumps(suite, default=str))


def _column_expectations(values: pd.Series, kind: str, share: float, ranges: dict) -> list:
    """An input column's expectations: present, as often filled, in range or in its set."""
    from great_expectations.util import convert_to_json_serializable

    column = values.name
    expectations = [
        _expectation("expect_column_to_exist", CRITICAL, column=column),
        _expectation(
            "expect_column_proportion_of_non_null_values_to_be_between",
            WARNING,
            meta={"training_share": round(share, 6)},
            column=column,
            min_value=round(max(0.0, share - NULL_TOLERANCE), 6),
        ),
    ]
    if column in ranges:
        expectations += _numeric_expectations(column, *ranges[column])
    elif kind in ("categorical", "boolean"):
        levels = values.dropna().unique()
        if 0 < len(levels) <= MAX_VALUE_SET:
            value_set = sorted((_plain(v) for v in levels), key=str)
            expectations.append(
                _expectation(
                    "expect_column_values_to_be_in_set",
                    WARNING,
                    column=column,
                    # As Great Expectations writes values (a date as ISO text, say).
                    value_set=convert_to_json_serializable(value_set),
                )
            )
    return expectations


def _expectation(type_: str, severity: str, *, meta: dict | None = None, **kwargs) -> dict:
    """One expectation as Great Expectations writes it in a suite's JSON document."""
    return {"type": type_, "kwargs": kwargs, "meta": meta or {}, "severity": severity}


def _numeric_ranges(X: pd.DataFrame, columns: list[str]) -> dict[str, tuple[float, float]]:
    """The finite min and max of each numeric column that has a finite value."""
    ranges = {}
    # Column by column: selecting the columns as one array copies and transposes the table,
    # slower on a wide table than 1,500 reads of one column each.
    for column in columns:
        values = X[column]
        if isinstance(values.dtype, np.dtype) and values.dtype.kind in "biu" and len(values):
            # NumPy integers are all finite and present: no float copy to filter.
            ranges[column] = float(values.min()), float(values.max())
            continue
        numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
        finite = numbers[np.isfinite(numbers)]
        if len(finite):
            ranges[column] = float(finite.min()), float(finite.max())
    return ranges


def _numeric_expectations(column: str, low: float, high: float) -> list[dict]:
    span = high - low or max(abs(high), 1.0)
    return [
        _expectation(
            "expect_column_values_to_be_in_type_list",
            WARNING,
            column=column,
            type_list=list(NUMERIC_TYPES),
        ),
        _expectation(
            "expect_column_values_to_be_between",
            CRITICAL,
            meta={"training_range": [low, high]},
            column=column,
            min_value=low - RANGE_TOLERANCE * span,
            max_value=high + RANGE_TOLERANCE * span,
        ),
    ]


def suite_columns(suite: dict) -> dict[str, dict]:
    """The model's input columns: {column: {"kind": ..., "dtype": ...}}."""
    return suite.get("meta", {}).get("trialflow", {}).get("columns", {})


def training_columns(suite: dict) -> list[str]:
    return suite.get("meta", {}).get("trialflow", {}).get("training_columns", [])


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value
