"""Expectations evaluated in pandas, without Great Expectations, for the kinds a model's suite
holds: the same outcome (success, unexpected rows) in milliseconds rather than a GX
validation's seconds. Kinds this module does not know fall back to Great Expectations.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Outcome:
    """One expectation's result as the findings read it, whichever engine checked it:
    ``result`` holds Great Expectations' result fields (``unexpected_index_list``,
    ``unexpected_count``, ``partial_unexpected_list``, ``observed_value``)."""

    type: str
    kwargs: dict
    meta: dict
    success: bool
    result: dict
    exception_info: dict = field(default_factory=dict)


# Great Expectations lists this many failing values per expectation (its default).
PARTIAL_UNEXPECTED = 20

# The keyword arguments the native checks implement, per expectation type: an expectation
# with any other (``mostly``, ``strict_min``, a row condition...) goes to Great Expectations.
NATIVE_KWARGS = {
    "expect_column_values_to_be_between": {"column", "min_value", "max_value"},
    "expect_column_values_to_be_in_set": {"column", "value_set"},
    "expect_column_values_to_be_unique": {"column"},
    "expect_column_values_to_be_in_type_list": {"column", "type_list"},
    "expect_column_proportion_of_non_null_values_to_be_between": {"column", "min_value"},
    "expect_table_columns_to_match_set": {"column_set", "exact_match"},
}


def native_outcomes(part: pd.DataFrame, expectations: list[dict]) -> list[Outcome] | None:
    """The expectations' outcomes computed with pandas as Great Expectations (1.x, pandas
    engine) computes them; None where any expectation, or its column's type, is one this
    does not implement, so the caller asks Great Expectations instead."""
    outcomes = []
    for expectation in expectations:
        kind, kwargs = expectation["type"], expectation["kwargs"]
        if not set(kwargs) <= NATIVE_KWARGS.get(kind, set()):
            return None
        try:
            outcome = _NATIVE[kind](part, kwargs)
        except (TypeError, ValueError):  # e.g. unhashable values: Great Expectations reports it
            return None
        if outcome is None:
            return None
        success, result = outcome
        meta = dict(expectation.get("meta") or {})
        outcomes.append(Outcome(kind, dict(kwargs), meta, success, result))
    return outcomes


def _number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _map_outcome(values: pd.Series, expected: pd.Series) -> tuple[bool, dict]:
    """A column map expectation's outcome over the non-missing ``values``: the failing
    rows' index labels, their count and the first values, as Great Expectations words it."""
    unexpected = values[~expected]
    return len(unexpected) == 0, {
        "unexpected_count": len(unexpected),
        "unexpected_index_list": list(unexpected.index),
        "partial_unexpected_list": list(unexpected[:PARTIAL_UNEXPECTED]),
    }


def _between(part, kwargs):
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    values = part[kwargs["column"]]
    # Great Expectations compares whole arrays only for these dtypes; others value by value.
    if values.dtype not in (np.dtype(int), np.dtype(float)):
        return None
    if not all(v is None or _number(v) for v in (low, high)) or (low is None and high is None):
        return None
    if low is not None and high is not None and low > high:
        return None
    values = values[values.notna()]
    expected = pd.Series(True, index=values.index)
    if low is not None:
        expected &= low <= values
    if high is not None:
        expected &= values <= high
    return _map_outcome(values, expected)


def _in_set(part, kwargs):
    value_set = kwargs.get("value_set")
    if not isinstance(value_set, list):
        return None
    values = part[kwargs["column"]]
    values = values[values.notna()]
    return _map_outcome(values, values.isin(value_set))


def _unique(part, kwargs):
    values = part[kwargs["column"]]
    values = values[values.notna()]
    return _map_outcome(values, ~values.duplicated(keep=False))


def _in_type_list(part, kwargs):
    dtype = part[kwargs["column"]].dtype
    # Only the plain case: a NumPy dtype named in the list passes. Object columns are
    # checked value by value and extension dtypes by other rules: Great Expectations' job.
    if not isinstance(dtype, np.dtype) or dtype.kind == "O":
        return None
    if dtype.name not in (kwargs.get("type_list") or []):
        return None
    return True, {"observed_value": dtype.type.__name__}


def _non_null_share(part, kwargs):
    low = kwargs.get("min_value")
    if not _number(low):
        return None
    values = part[kwargs["column"]]
    share = float(values.notna().sum() / len(values)) if len(values) else 0
    return share >= low, {"observed_value": share}


def _columns_match(part, kwargs):
    expected, exact = kwargs.get("column_set"), kwargs.get("exact_match")
    if not isinstance(expected, list) or not isinstance(exact, bool):
        return None
    actual = set(part.columns)
    unexpected, missing = actual - set(expected), set(expected) - actual
    observed = sorted(str(c) for c in actual)
    if not unexpected and not missing:
        return True, {"observed_value": observed}
    mismatched = {}
    if unexpected:
        mismatched["unexpected"] = sorted(str(c) for c in unexpected)
    if missing:
        mismatched["missing"] = sorted(str(c) for c in missing)
    result = {"observed_value": observed, "details": {"mismatched": mismatched}}
    return not (exact or missing), result


_NATIVE = {
    "expect_column_values_to_be_between": _between,
    "expect_column_values_to_be_in_set": _in_set,
    "expect_column_values_to_be_unique": _unique,
    "expect_column_values_to_be_in_type_list": _in_type_list,
    "expect_column_proportion_of_non_null_values_to_be_between": _non_null_share,
    "expect_table_columns_to_match_set": _columns_match,
}
