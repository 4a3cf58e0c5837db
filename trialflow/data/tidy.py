"""Raw feature columns into the types they hold: numbers written as text become numbers.

CSV files and spreadsheets often carry numbers as text: "1,234.5" with thousands separators,
or a column of numbers with a few "n/a" or "?" in it. Left as text, such a column would be
one-hot encoded as hundreds of unrelated categories. Every change is recorded as a TidyNote,
which the guardrails report, and scoring applies the same parser (``parse_numbers``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# "1,234", "-12,345.5": groups of three digits after the first, separated by commas.
_THOUSANDS = r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?$"
# A text column is numeric when at least this share of its values are numbers; the rest
# ("n/a", "?", "unknown") are read as missing.
NUMERIC_SHARE = 0.95
# Below it, but with at least this share of numbers, the column is reported as mixed.
MIXED_SHARE = 0.2
EXAMPLES = 3


@dataclass(frozen=True)
class TidyNote:
    """One change made to (or one finding about) a column of the training table."""

    column: str
    kind: str  # "numbers as text", "mixed types", "infinite values"
    detail: str


def parse_numbers(values: pd.Series) -> pd.Series:
    """Text (or mixed) values as float64; what is not a number becomes NaN."""
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype(np.float64)
    text = values.astype("string").str.strip()
    grouped = text.str.fullmatch(_THOUSANDS, na=False)
    text = text.where(~grouped, text.str.replace(",", "", regex=False))
    return pd.to_numeric(text, errors="coerce").astype(np.float64)


def not_numbers(values: pd.Series, parsed: pd.Series) -> pd.Series:
    """The values present in ``values`` that ``parse_numbers`` could not read."""
    return values[values.notna() & parsed.isna()]


def tidy_features(frame: pd.DataFrame, *, target: str) -> tuple[pd.DataFrame, list[TidyNote]]:
    """The frame with text columns of numbers parsed, and a note per column changed or
    worth a look. The target is left as it is: its type decides the task."""
    notes: list[TidyNote] = []
    changed: dict[str, pd.Series] = {}
    texts = [
        c
        for c in frame.columns
        if c != target
        and (pd.api.types.is_object_dtype(frame[c]) or pd.api.types.is_string_dtype(frame[c]))
    ]
    parsed_texts = _parse_columns(frame, texts)
    for column in frame.columns:
        if column == target:
            continue
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            n_inf = int(np.isinf(values.to_numpy(dtype=np.float64, na_value=np.nan)).sum())
            if n_inf:
                notes.append(
                    TidyNote(column, "infinite values", f"{n_inf} infinite values read as missing")
                )
            continue
        if column not in parsed_texts:
            continue
        present = values.dropna()
        if present.empty:
            continue
        parsed = parsed_texts[column]
        share = float(parsed.notna().sum()) / len(present)
        if share >= NUMERIC_SHARE:
            changed[column] = parsed
            notes.append(TidyNote(column, "numbers as text", _parsed_detail(values, parsed)))
        elif share >= MIXED_SHARE:
            strays = _examples(not_numbers(values, parsed))
            notes.append(
                TidyNote(
                    column,
                    "mixed types",
                    f"{share:.0%} of values are numbers and the rest text ({strays}); "
                    "read as categories",
                )
            )
            changed[column] = _as_text(values)
        elif present.map(type).nunique() > 1:
            # Python objects of several types (3 and "3") would not sort or encode together.
            changed[column] = _as_text(values)
            notes.append(
                TidyNote(column, "mixed types", "values of several Python types; read as text")
            )
    if changed:
        frame = frame.assign(**changed)
    return frame, notes


def _parse_columns(frame: pd.DataFrame, columns: list[str]) -> dict[str, pd.Series]:
    """``parse_numbers`` of each column, each distinct string parsed once and every
    column's in one call: a column of category labels holds a handful of strings among
    thousands of rows, and parsing every row of each such column, a call per column, was
    most of loading a wide table."""
    parsed: dict[str, pd.Series] = {}
    distinct: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for column in columns:
        values = frame[column]
        # Only strings: other objects that compare equal can differ as text (1 and 1.0).
        if pd.api.types.infer_dtype(values, skipna=True) == "string":
            codes, levels = pd.factorize(values, use_na_sentinel=True)
            distinct[column] = codes, np.asarray(levels, dtype=object)
        else:
            parsed[column] = parse_numbers(values)
    if not distinct:
        return parsed
    levels = np.concatenate([own for _, own in distinct.values()])
    numbers = parse_numbers(pd.Series(levels, dtype=object)).to_numpy()
    start = 0
    for column, (codes, own) in distinct.items():
        # One slot past the column's levels holds NaN for its missing values (code -1).
        lookup = np.append(numbers[start : start + len(own)], np.nan)
        start += len(own)
        parsed[column] = pd.Series(lookup[codes], index=frame.index, name=column, dtype=np.float64)
    return parsed


def _parsed_detail(values: pd.Series, parsed: pd.Series) -> str:
    strays = not_numbers(values, parsed)
    grouped = int(values.astype("string").str.strip().str.fullmatch(_THOUSANDS, na=False).sum())
    detail = "numbers stored as text, read as numbers"
    if grouped:
        detail += f" ({grouped} with thousands separators)"
    if len(strays):
        detail += (
            f"; {len(strays)} values that are not numbers ({_examples(strays)}) read as missing"
        )
    return detail


def _examples(values: pd.Series) -> str:
    shown = [repr(v) for v in pd.unique(values)[:EXAMPLES]]
    return ", ".join(shown) + (", ..." if values.nunique() > EXAMPLES else "")


def _as_text(values: pd.Series) -> pd.Series:
    return values.map(lambda v: v if v is None or v is pd.NA or v != v else str(v)).astype(object)
