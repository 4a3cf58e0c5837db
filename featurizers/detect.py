"""Column kind detection: which featurizer each input column goes to, and what is dropped.

Kinds: numeric, boolean, categorical (few levels), high_cardinality (many levels), datetime
(including date strings) and text (free text). Identifier-like columns (a different value in
every row) are dropped and said so. A user's ``types`` override any column's kind.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

DATE_SAMPLE = 200
DATE_PARSE_SHARE = 0.95
DATE_SHAPE = (
    r"\d[-/:.]\d|\d{8}"
    r"|\b[A-Za-z]{3,9}\.? \d{1,2},? \d{4}\b|\b\d{1,2} [A-Za-z]{3,9}\.?,? \d{4}\b"
)
# Above this many levels, a categorical gets frequency and target encoding instead of
# categories (HistGradientBoosting bins at most 255 values, LightGBM slows past a few
# hundred).
HIGH_CARDINALITY = 250
# Free text: many words per value and mostly distinct values.
TEXT_MIN_WORDS = 4.0
TEXT_MIN_DISTINCT_SHARE = 0.3
TEXT_SAMPLE = 500
# A column whose values are all distinct is an identifier only with enough rows to tell.
ID_MIN_ROWS = 20
TRUE_WORDS = frozenset({"true", "t", "yes", "y"})
FALSE_WORDS = frozenset({"false", "f", "no", "n"})

KINDS = ("numeric", "boolean", "categorical", "high_cardinality", "datetime", "text")


@dataclass
class ColumnPlan:
    """Input columns grouped by kind, the columns left out and why, and the settings of the
    featurizers that read more than one column kind (holidays, users' featurizers)."""

    kinds: dict[str, list[str]] = field(default_factory=dict)
    dropped: dict[str, str] = field(default_factory=dict)
    # Holiday calendar for date columns: a country code (US, US-CA) ...
    holiday_country: str = ""
    # ... or a column whose values are such codes.
    holiday_column: str = ""
    # Featurizers turned off by name (a kind, or "holidays").
    disabled: list[str] = field(default_factory=list)
    # Output features to leave out, by name.
    drop_features: list[str] = field(default_factory=list)
    # Users' featurizers: {"path": "package.module:ClassName", "columns": [...]}.
    user_featurizers: list[dict] = field(default_factory=list)
    # Related tables for deep feature synthesis: {"data": SOURCE, "key": COLUMN or [COLUMNS],
    # "foreign_key": the target table's column(s), when named differently}.
    related: list[dict] = field(default_factory=list)
    # Deep feature synthesis settings (see featurizers/relational.py).
    dfs: dict = field(default_factory=dict)

    @property
    def input_columns(self) -> list[str]:
        columns = [c for columns in self.kinds.values() for c in columns]
        extra = [self.holiday_column] if self.holiday_column else []
        for user in self.user_featurizers:
            extra += list(user.get("columns", []))
        for table in self.related:
            keys = table.get("foreign_key") or table.get("key") or []
            extra += [keys] if isinstance(keys, str) else list(keys)
        return list(dict.fromkeys(columns + extra))

    def to_frame(self) -> pd.DataFrame:
        rows = [(c, kind, "") for kind, cols in self.kinds.items() for c in cols]
        rows += [(c, "dropped", why) for c, why in self.dropped.items()]
        return pd.DataFrame(rows, columns=["column", "kind", "note"])


def plan_columns(
    frame: pd.DataFrame,
    *,
    target: str,
    exclude: dict[str, str],
    types: dict[str, str] | None = None,
    holidays: str = "",
) -> ColumnPlan:
    """Assign every column but the target a kind, or a reason to drop it.

    ``exclude`` maps columns the caller leaves out (sensitive columns, say) to the reason.
    ``types`` forces a column's kind (one of KINDS, or "drop"). ``holidays`` is a country
    code or the name of a column of country codes. Detection looks at types and value shapes
    only, never at the target, so planning on the whole training table leaks nothing into
    cross-validation.
    """
    from trialflow.errors import ConfigError

    types = dict(types or {})
    unknown = {c: k for c, k in types.items() if k not in (*KINDS, "drop")}
    if unknown:
        raise ConfigError(
            f"Unknown column type(s) {unknown}; a column's type is one of "
            f"{', '.join(KINDS)} or drop."
        )
    missing = sorted(set(types) - set(frame.columns))
    if missing:
        raise ConfigError(f"The plan sets types for column(s) {missing} that the data lacks.")
    plan = ColumnPlan(kinds={kind: [] for kind in KINDS})
    for column in frame.columns:
        if column == target:
            continue
        if column in exclude:
            plan.dropped[column] = exclude[column]
            continue
        if column in types:
            if types[column] == "drop":
                plan.dropped[column] = "dropped by the plan"
            else:
                plan.kinds[types[column]].append(column)
            continue
        reason = drop_reason(frame[column])
        if reason:
            plan.dropped[column] = reason
        else:
            plan.kinds[column_kind(frame[column])].append(column)
    if holidays:
        _set_holidays(plan, holidays, frame)
    return plan


def _set_holidays(plan: ColumnPlan, holidays: str, frame: pd.DataFrame) -> None:
    if holidays in frame.columns:
        plan.holiday_column = holidays
        return
    from trialflow.featurizers.holidays import check_country

    check_country(holidays)
    plan.holiday_country = holidays.upper()


def drop_reason(values: pd.Series) -> str:
    """Why a column cannot help a model ("" if it can)."""
    n_distinct = values.nunique(dropna=True)
    if n_distinct == 0:
        return "all values are missing"
    if n_distinct == 1 and not values.isna().any():
        return f"a single value ({values.iloc[0]!r}) in every row"
    n = int(values.notna().sum())
    if n >= ID_MIN_ROWS and n_distinct == n and _identifier_shaped(values):
        return "an identifier: a different value in every row"
    return ""


def _identifier_shaped(values: pd.Series) -> bool:
    """Distinct codes (strings) or a running integer count; distinct measurements are not."""
    if pd.api.types.is_float_dtype(values) or pd.api.types.is_bool_dtype(values):
        return False
    if pd.api.types.is_integer_dtype(values):
        present = values.dropna()
        return int(present.max()) - int(present.min()) + 1 == len(present)
    if pd.api.types.is_datetime64_any_dtype(values):
        return False
    return not _looks_like_dates(values) and not _looks_like_text(values)


def column_kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values):
        return "boolean"
    if pd.api.types.is_numeric_dtype(values):
        return "numeric"
    if pd.api.types.is_datetime64_any_dtype(values) or _looks_like_dates(values):
        return "datetime"
    if _looks_like_booleans(values):
        return "boolean"
    if _looks_like_text(values):
        return "text"
    if values.nunique(dropna=True) > HIGH_CARDINALITY:
        return "high_cardinality"
    return "categorical"


def _looks_like_booleans(values: pd.Series) -> bool:
    words = set(values.dropna().astype(str).str.strip().str.lower().unique())
    return len(words) == 2 and bool(words & TRUE_WORDS) and bool(words & FALSE_WORDS)


def _looks_like_text(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(TEXT_SAMPLE)
    if sample.empty:
        return False
    words = sample.str.split().str.len().mean()
    distinct = sample.nunique() >= TEXT_MIN_DISTINCT_SHARE * len(sample)
    return bool(words >= TEXT_MIN_WORDS and distinct)


def _looks_like_dates(values: pd.Series) -> bool:
    sample = values.dropna().astype(str).head(DATE_SAMPLE)
    # Short codes ("1", "A3") parse as dates surprisingly often; real dates have separators
    # ("2024-01-05", "05/01/2024") or a month's name ("Jan 5 2024", "5 January 2024").
    shaped = sample.str.len().ge(6) & sample.str.contains(DATE_SHAPE, regex=True)
    if sample.empty or shaped.mean() < DATE_PARSE_SHARE:
        return False
    parsed = pd.to_datetime(sample, errors="coerce", format="mixed", utc=True)
    return bool(parsed.notna().mean() >= DATE_PARSE_SHARE)
