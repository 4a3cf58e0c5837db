"""Column kind detection: which featurizer each input column goes to, and what is dropped.

Kinds: numeric, boolean, categorical (few levels), high_cardinality (many levels), datetime
(including date strings) and text (free text). Identifier-like columns (a different value in
every row) are dropped and said so. A user's ``types`` override any column's kind.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

DATE_SAMPLE = 200
DATE_PARSE_SHARE = 0.95
DATE_SHAPE = (
    r"\d[-/:.]\d|\d{8}"
    r"|\b[A-Za-z]{3,9}\.? \d{1,2},? \d{4}\b|\b\d{1,2} [A-Za-z]{3,9}\.?,? \d{4}\b"
)
_DATE_SHAPE = re.compile(DATE_SHAPE)
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
    # What a check before the search left out of a table too wide for it whole:
    # {check: what was not checked and why}. The guardrails report it.
    unchecked: dict[str, str] = field(default_factory=dict)

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
        values = frame[column]
        # Counted once: both questions need it, and it is most of their cost on a wide table.
        n_distinct = values.nunique(dropna=True)
        reason = drop_reason(values, n_distinct=n_distinct)
        if reason:
            plan.dropped[column] = reason
        else:
            plan.kinds[column_kind(values, n_distinct=n_distinct)].append(column)
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


def drop_reason(values: pd.Series, *, n_distinct: int | None = None) -> str:
    """Why a column cannot help a model ("" if it can). ``n_distinct``: its count of
    distinct values, where the caller has it."""
    if n_distinct is None:
        n_distinct = values.nunique(dropna=True)
    if n_distinct == 0:
        return "all values are missing"
    n = int(values.notna().sum())
    if n_distinct == 1 and n == len(values):
        return f"a single value ({values.iloc[0]!r}) in every row"
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


def column_kind(values: pd.Series, *, n_distinct: int | None = None) -> str:
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
    if (values.nunique(dropna=True) if n_distinct is None else n_distinct) > HIGH_CARDINALITY:
        return "high_cardinality"
    return "categorical"


def _looks_like_booleans(values: pd.Series) -> bool:
    # The distinct values first, then their words: a column has far fewer values than rows.
    words = {str(v).strip().lower() for v in values.unique() if not pd.isna(v)}
    return len(words) == 2 and bool(words & TRUE_WORDS) and bool(words & FALSE_WORDS)


def _looks_like_text(values: pd.Series) -> bool:
    texts = _sample_texts(values, TEXT_SAMPLE)
    n = sum(texts.values())
    if not n:
        return False
    words = sum(len(text.split()) * count for text, count in texts.items()) / n
    distinct = len(texts) >= TEXT_MIN_DISTINCT_SHARE * n
    return bool(words >= TEXT_MIN_WORDS and distinct)


def _looks_like_dates(values: pd.Series) -> bool:
    texts = _sample_texts(values, DATE_SAMPLE)
    n = sum(texts.values())
    # Short codes ("1", "A3") parse as dates surprisingly often; real dates have separators
    # ("2024-01-05", "05/01/2024") or a month's name ("Jan 5 2024", "5 January 2024").
    shaped = sum(c for t, c in texts.items() if len(t) >= 6 and _DATE_SHAPE.search(t))
    if not n or shaped / n < DATE_PARSE_SHARE:
        return False
    parsed = pd.to_datetime(pd.Series(list(texts)), errors="coerce", format="mixed", utc=True)
    dates = sum(count for count, ok in zip(texts.values(), parsed.notna(), strict=True) if ok)
    return dates / n >= DATE_PARSE_SHARE


def _sample_texts(values: pd.Series, n: int) -> Counter:
    """The first ``n`` present values as text, each distinct text with its count: the
    checks above look at each distinct text once (a category label recurs hundreds of times
    in a sample), and there is one such sample per text column of a wide table."""
    return Counter(_first_present(values, n).astype(str).tolist())


def _first_present(values: pd.Series, n: int) -> pd.Series:
    """``values.dropna().head(n)``, reading only as far into the column as that needs."""
    window = n
    while True:
        present = values.iloc[:window].dropna()
        if len(present) >= n or window >= len(values):
            return present.head(n)
        window *= 4
