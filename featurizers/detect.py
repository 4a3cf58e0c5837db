"""Column kind detection: which featurizer each input column goes to, and what is dropped."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

DATE_SAMPLE = 200
DATE_PARSE_SHARE = 0.95


@dataclass
class ColumnPlan:
    """Input columns grouped by kind, plus the columns left out and why."""

    kinds: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)

    @property
    def input_columns(self) -> list[str]:
        return [c for columns in self.kinds.values() for c in columns]

    def to_frame(self) -> pd.DataFrame:
        rows = [(c, kind, "") for kind, cols in self.kinds.items() for c in cols]
        rows += [(c, "dropped", why) for c, why in self.dropped.items()]
        return pd.DataFrame(rows, columns=["column", "kind", "note"])


def plan_columns(frame: pd.DataFrame, *, target: str, exclude: dict[str, str]) -> ColumnPlan:
    """Assign every column but the target a kind, or a reason to drop it.

    ``exclude`` maps columns the caller leaves out (sensitive columns, say) to the reason.
    Detection looks at types and value shapes only, never at the target, so planning on
    the whole training table leaks nothing into cross-validation.
    """
    plan = ColumnPlan(kinds={"numeric": [], "categorical": [], "datetime": []})
    for column in frame.columns:
        if column == target:
            continue
        if column in exclude:
            plan.dropped[column] = exclude[column]
            continue
        values = frame[column]
        n_distinct = values.nunique(dropna=True)
        if n_distinct == 0:
            plan.dropped[column] = "all values are missing"
        elif n_distinct == 1 and not values.isna().any():
            plan.dropped[column] = f"a single value ({values.iloc[0]!r}) in every row"
        else:
            plan.kinds[column_kind(values)].append(column)
    return plan


def column_kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    if _looks_like_dates(values):
        return "datetime"
    return "categorical"


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(DATE_SAMPLE)
    # Short codes ("1", "A3") parse as dates surprisingly often; real dates have separators.
    shaped = sample.str.len().ge(6) & sample.str.contains(r"\d[-/:.]\d|\d{8}", regex=True)
    if sample.empty or shaped.mean() < DATE_PARSE_SHARE:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed")
    return bool(parsed.notna().mean() >= DATE_PARSE_SHARE)
