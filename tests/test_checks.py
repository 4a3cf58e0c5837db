import numpy as np
import pytest

from trialflow.errors import DataError
from trialflow.validation.checks import MIN_ROWS, check_training_table


def test_valid_table_passes_real_great_expectations_checks(binary_frame):
    check = check_training_table(binary_frame, target="target", task="auto")
    assert check.task == "binary"
    assert all(r.success for r in check.results)
    assert {r.expectation for r in check.results} >= {
        "expect_column_proportion_of_non_null_values_to_be_between",
        "expect_table_row_count_to_be_between",
        "expect_column_unique_value_count_to_be_between",
    }


def test_rows_without_target_are_left_out_and_counted(binary_frame):
    binary_frame.loc[:9, "target"] = None
    check = check_training_table(binary_frame, target="target", task="binary")
    assert check.n_unlabelled == 10
    assert len(check.labelled) == len(binary_frame) - 10


def test_missing_target_lists_the_columns(binary_frame):
    with pytest.raises(DataError, match=r"'Target' is not in the data.*x1, x2, colour"):
        check_training_table(binary_frame, target="Target", task="auto")


def test_all_null_target(binary_frame):
    binary_frame["target"] = np.nan
    with pytest.raises(DataError, match="'target' is empty: all 120 values are missing"):
        check_training_table(binary_frame, target="target", task="auto")


def test_single_class_target(binary_frame):
    binary_frame["target"] = "yes"
    with pytest.raises(DataError, match="single class"):
        check_training_table(binary_frame, target="target", task="auto")


def test_too_few_rows_and_header_only(binary_frame):
    with pytest.raises(DataError, match=f"at least {MIN_ROWS}"):
        check_training_table(binary_frame.head(5), target="target", task="auto")
    with pytest.raises(DataError, match="header but no rows"):
        check_training_table(binary_frame.head(0), target="target", task="auto")


def test_regression_needs_a_numeric_target(binary_frame):
    with pytest.raises(DataError, match="not numeric"):
        check_training_table(binary_frame, target="target", task="regression")
