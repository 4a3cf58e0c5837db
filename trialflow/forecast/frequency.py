"""The frequency of a panel: given or inferred, and every timestamp on its grid.

pandas.infer_freq names the frequency of an unbroken run of stamps; each series votes,
and a series with gaps votes with runs of five stamps. The winner must then hold every
series: a stamp off its grid is irregular and refused, naming the series.
"""

from __future__ import annotations

from collections import Counter

import pandas as pd
from pandas.tseries.frequencies import to_offset

from trialflow.errors import ConfigError, DataError

# Season length by the frequency's base code: the cycle the calendar repeats over.
SEASON_LENGTHS = {
    "D": 7, "B": 5, "W": 52, "M": 12, "MS": 12, "ME": 12, "BMS": 12, "BME": 12, "SMS": 24,
    "SME": 24, "Q": 4, "QS": 4, "QE": 4, "BQS": 4, "BQE": 4, "h": 24, "H": 24, "bh": 8,
    "min": 60, "T": 60, "s": 60, "S": 60,
}  # fmt: skip


def season_length(frequency: str) -> int:
    """Steps per seasonal cycle for a pandas frequency (1 where none is known)."""
    offset = to_offset(frequency)
    if offset.n != 1:
        return 1
    return SEASON_LENGTHS.get(offset.rule_code.split("-")[0], 1)


def resolve_frequency(long: pd.DataFrame, frequency: str | None) -> str:
    """The given frequency, checked, or the inferred one; every series must lie on its grid."""
    if frequency is not None:
        try:
            frequency = to_offset(frequency).freqstr
        except ValueError as exc:
            raise ConfigError(
                f"The 'frequency' parameter must be a pandas frequency such as D, W-SUN, MS "
                f"or h; got {frequency!r}."
            ) from exc
    else:
        frequency = _infer_frequency(long)
    _check_grid(long, frequency)
    return frequency


def _infer_frequency(long: pd.DataFrame) -> str:
    """The frequency most series agree on; runs of five stamps vote where a whole series
    has gaps (pandas.infer_freq needs an unbroken run)."""
    votes: Counter[str] = Counter()
    for _, stamps in long.groupby("unique_id", sort=False)["ds"]:
        index = pd.DatetimeIndex(stamps)
        if len(index) < 3:
            continue
        found = pd.infer_freq(index)
        if found is None:
            for start in {0, max(len(index) // 2 - 2, 0), max(len(index) - 5, 0)}:
                run = index[start : start + 5]
                found = pd.infer_freq(run) if len(run) >= 3 else None
                if found:
                    votes[to_offset(found).freqstr] += 1
        else:
            votes[to_offset(found).freqstr] += 5
    if not votes:
        first = long["unique_id"].iloc[0]
        shown = ", ".join(str(s) for s in long.loc[long["unique_id"] == first, "ds"].iloc[:4])
        raise DataError(
            f"Could not infer a frequency: the timestamps are irregular (series '{first}': "
            f"{shown}, ...). Give one with --frequency (D, W-SUN, MS, h, ...)."
        )
    return votes.most_common(1)[0][0]


def _check_grid(long: pd.DataFrame, frequency: str) -> None:
    """Every timestamp must lie on the frequency's grid from its series' first one."""
    offset = to_offset(frequency)
    for uid, stamps in long.groupby("unique_id", sort=False)["ds"]:
        first = stamps.iloc[0]
        grid = pd.date_range(first, stamps.iloc[-1], freq=offset)
        off = ~stamps.isin(grid) if offset.is_on_offset(first) else stamps == stamps
        if off.any():
            shown = ", ".join(str(s) for s in stamps[off].iloc[:3])
            raise DataError(
                f"Series '{uid}' has timestamps off a regular {frequency} grid ({shown}). "
                "The timestamps are irregular: give the right --frequency, or resample "
                "the data to a regular one first."
            )
