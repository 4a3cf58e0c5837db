"""Deep feature synthesis's outputs as the column types the learners take: numbers as floats,
dates as days, everything else as text categories, with unique names.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def output_kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return "number"
    if isinstance(values.dtype, pd.CategoricalDtype) and pd.api.types.is_numeric_dtype(
        values.cat.categories
    ):
        return "number"  # ordered numbers such as MONTH(date): their order is what counts
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    return "category"


def as_float(values: pd.Series) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    numbers = pd.to_numeric(values, errors="coerce")
    numbers = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    # Infinities carry no order a model can use; treat them as missing.
    return np.where(np.isfinite(numbers), numbers, np.nan)


def as_days(values: pd.Series) -> np.ndarray:
    """Dates as days since 1970-01-01."""
    stamps = pd.to_datetime(values, errors="coerce", utc=True)
    return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(days=1)).to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).astype(str).where(values.notna())


def unique_names(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        unique, n = name, 1
        while unique in seen:
            n += 1
            unique = f"{name}__{n}"
        seen.add(unique)
        out.append(unique)
    return out
