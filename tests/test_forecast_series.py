"""The forecasting panel: frequency, gaps, duplicates and the errors that name the series."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialflow.errors import ConfigError, DataError
from trialflow.forecast.series import prepare_panel


def daily(n: int = 60, series=("a", "b"), start="2024-01-01") -> pd.DataFrame:
    rng = np.random.default_rng(0)
    parts = [
        pd.DataFrame(
            {
                "store": name,
                "date": pd.date_range(start, periods=n, freq="D"),
                "sales": rng.normal(100, 5, n),
                "temp": rng.normal(20, 3, n),
            }
        )
        for name in series
    ]
    return pd.concat(parts, ignore_index=True)


def prepare(frame, **options):
    options = {"target": "sales", "time": "date", "series": ("store",), "horizon": 7, **options}
    return prepare_panel(frame, **options)


def test_daily_frequency_and_season_are_inferred():
    panel = prepare(daily())
    assert panel.frequency == "D"
    assert panel.season_length == 7
    assert list(panel.frame.columns) == ["unique_id", "ds", "y", "temp"]
    assert panel.lengths().to_dict() == {"a": 60, "b": 60}
    assert list(panel.keys["store"]) == ["a", "b"]


def test_monthly_frequency_from_strings():
    frame = pd.DataFrame(
        {"month": [f"{2000 + i // 12}-{i % 12 + 1:02d}-01" for i in range(48)], "sales": 1.0}
    )
    frame["sales"] = np.arange(48, dtype=float)
    panel = prepare_panel(frame, target="sales", time="month", horizon=6)
    assert panel.frequency == "MS"
    assert panel.season_length == 12


def test_gaps_are_filled_and_noted():
    frame = daily()
    frame = frame.drop(index=[10, 11]).reset_index(drop=True)
    panel = prepare(frame)
    a = panel.frame[panel.frame["unique_id"] == "a"]
    assert len(a) == 60
    assert a["y"].notna().all()
    assert any("2 missing step(s) in 1 series" in note for note in panel.notes)


def test_irregular_timestamps_are_refused_naming_the_series():
    rng = np.random.default_rng(1)
    stamps = pd.Timestamp("2024-01-01") + pd.to_timedelta(
        np.sort(rng.uniform(0, 5000, 40)), unit="h"
    )
    frame = pd.DataFrame({"store": "north", "date": stamps, "sales": 1.0})
    with pytest.raises(DataError, match="irregular") as error:
        prepare(frame)
    assert "north" in str(error.value)


def test_a_frequency_that_does_not_fit_names_the_series():
    frame = daily()
    with pytest.raises(DataError, match="Series 'a' has timestamps off a regular W-SUN grid"):
        prepare(frame, frequency="W-SUN")


def test_duplicate_timestamps_name_the_series_and_the_stamps():
    frame = daily()
    dup = frame[(frame["store"] == "b") & (frame["date"] == "2024-01-05")]
    frame = pd.concat([frame, dup], ignore_index=True)
    with pytest.raises(DataError, match="Series 'b' has duplicate timestamps") as error:
        prepare(frame)
    assert "2024-01-05" in str(error.value)
    assert "--aggregate" in str(error.value)


def test_duplicate_timestamps_aggregate_when_asked():
    frame = daily()
    row = frame[(frame["store"] == "b") & (frame["date"] == "2024-01-05")]
    frame = pd.concat([frame, row.assign(sales=1.0, temp=0.0)], ignore_index=True)
    expected = float(row["sales"].iloc[0]) + 1.0
    panel = prepare(frame, aggregate="sum")
    b = panel.frame[(panel.frame["unique_id"] == "b") & (panel.frame["ds"] == "2024-01-05")]
    assert b["y"].iloc[0] == pytest.approx(expected)
    # Covariates are averaged, not summed.
    assert b["temp"].iloc[0] == pytest.approx(float(row["temp"].iloc[0]) / 2)
    with pytest.raises(ConfigError, match="'aggregate' parameter must be one of"):
        prepare(frame, aggregate="median")


def test_a_string_time_column_that_is_not_dates_names_the_column_and_a_value():
    frame = daily()
    frame["date"] = frame["date"].astype(str)
    frame.loc[3, "date"] = "next tuesday"
    with pytest.raises(DataError, match="time column 'date'.*'next tuesday'"):
        prepare(frame)
    frame["date"] = "soon"
    with pytest.raises(DataError, match="'soon'"):
        prepare(frame)


def test_impossible_dates_are_reported():
    frame = daily()
    frame["date"] = frame["date"].astype(str)
    frame.loc[5, "date"] = "2024-02-30"
    with pytest.raises(DataError, match="2024-02-30"):
        prepare(frame)


def test_one_row_per_series_is_an_error():
    frame = pd.DataFrame(
        {"store": list("abcdef"), "date": pd.date_range("2024-01-01", periods=6), "sales": 1.0}
    )
    with pytest.raises(DataError, match="Every series has one row"):
        prepare(frame)


def test_short_series_are_left_out_with_a_note_or_refused():
    frame = pd.concat([daily(60, ("a",)), daily(12, ("short",))], ignore_index=True)
    panel = prepare(frame)
    assert panel.keys["store"].tolist() == ["a"]
    assert any("'short' (12)" in note for note in panel.notes)
    with pytest.raises(DataError, match="too short"):
        prepare(frame, drop_short=False)


def test_missing_target_at_the_ends_is_trimmed():
    frame = daily(60, ("a",))
    frame.loc[:4, "sales"] = np.nan
    panel = prepare(frame)
    assert panel.frame["ds"].iloc[0] == pd.Timestamp("2024-01-06")


def test_a_text_target_is_refused():
    frame = daily().assign(sales="many")
    with pytest.raises(DataError, match="must be numeric"):
        prepare(frame)
