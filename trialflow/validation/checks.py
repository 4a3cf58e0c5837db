"""First checks on a training table, run by Great Expectations: can we train on this at all?"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from trialflow.data.tables import infer_task
from trialflow.errors import DataError

MIN_ROWS = 20

_context = None
_context_lock = threading.Lock()


@dataclass(frozen=True)
class CheckResult:
    expectation: str
    column: str | None
    success: bool
    observed: object


def _gx_context():
    """One ephemeral Great Expectations context per process (it costs ~3 s to import)."""
    global _context
    with _context_lock:
        if _context is None:
            import great_expectations as gx
            from great_expectations.data_context.types.base import ProgressBarsConfig

            context = gx.get_context(mode="ephemeral")
            context.variables.progress_bars = ProgressBarsConfig(globally=False)
            _context = context
        return _context


def validate(frame: pd.DataFrame, expectations: list, *, asset: str) -> list[CheckResult]:
    """Validate a DataFrame against Great Expectations expectations; one result each."""
    import great_expectations as gx

    suite = gx.ExpectationSuite(name=f"{asset}-checks", expectations=expectations)
    outcome = validate_suite(frame, suite, "BASIC")
    return [
        CheckResult(
            expectation=r.expectation_config.type,
            column=r.expectation_config.kwargs.get("column"),
            success=bool(r.success),
            observed=(r.result or {}).get("observed_value", (r.result or {}).get("element_count")),
        )
        for r in outcome.results
    ]


def validate_suite(frame: pd.DataFrame, suite, result_format: str = "BASIC"):
    """Great Expectations' validation result of ``frame`` against ``suite``.

    ``result_format="COMPLETE"`` lists every failing row (by position: the frame's index
    should be a RangeIndex).
    """
    context = _gx_context()
    with _context_lock:
        source = context.data_sources.add_or_update_pandas("trialflow")
        frame_asset = source.add_dataframe_asset(
            f"{suite.name}-{id(frame)}-{threading.get_ident()}"
        )
        batch = frame_asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": frame}
        )
    try:
        return batch.validate(suite, result_format={"result_format": result_format})
    finally:
        with _context_lock:
            source.delete_asset(frame_asset.name)


def check_shape(frame: pd.DataFrame, *, target: str, source: str = "") -> None:
    """The checks that need no Great Expectations: the target is a column, there are rows.

    Cheap, so a run can fail on them before Prefect and Dask have started.
    """
    if target not in frame.columns:
        # Every column expectation on a missing column would only error.
        columns = ", ".join(map(str, frame.columns[:20]))
        more = f" and {len(frame.columns) - 20} more" if len(frame.columns) > 20 else ""
        raise DataError(
            f"The target column {target!r} is not in {_named(source)}. Columns are: "
            f"{columns}{more}. "
            "Pass --target with one of them (names are case-sensitive)."
        )
    if frame.empty:
        raise DataError(
            f"{_named(source, start=True)} has a header but no rows; trialflow needs at "
            f"least {MIN_ROWS} rows."
        )


def check_training_table(
    frame: pd.DataFrame,
    *,
    target: str,
    task: str,
    n_folds: int = 5,
    source: str = "",
    record: bool = True,
) -> TableCheck:
    """Checks that must hold before any training; raises DataError naming what failed.

    Rows without a target value are left out (and counted). With ``task="auto"`` the task
    is inferred from the remaining target values before the class-count check. Classes with
    fewer rows than ``n_folds`` (each validation fold needs one) are left out and returned.

    The checks are decided in pandas; ``record`` also validates them with Great
    Expectations, whose results the run records (``record_training_checks``). A run's head
    start records them after its first trials have started: importing Great Expectations
    costs 2-3 s of CPU.
    """
    check_shape(frame, target=target, source=source)
    n_labelled = int(frame[target].notna().sum())
    results = [_result(TARGET_CHECK, target, n_labelled > 0, n_labelled / len(frame))]
    _raise_on_failure(results, target=target, n_rows=len(frame), source=source)
    labelled = frame[frame[target].notna()]
    if task == "auto":
        task, reason = infer_task(labelled[target])
    else:
        reason = "given in the configuration"
    results.append(_result(ROWS_CHECK, None, len(labelled) >= MIN_ROWS, len(labelled)))
    if task in ("binary", "multiclass"):
        n_classes = labelled[target].nunique()
        results.append(_result(CLASSES_CHECK, target, n_classes >= 2, n_classes))
    _raise_on_failure(results, target=target, n_rows=len(frame), source=source)
    rare_classes: dict = {}
    if task in ("binary", "multiclass"):
        labelled, rare_classes = _leave_out_rare_classes(labelled, target, n_folds)
        if rare_classes and len(labelled) < MIN_ROWS:
            raise DataError(
                f"{_named(source, start=True)} has {len(labelled)} rows in the classes of "
                f"{target!r} with enough rows for the folds (left out: {rare_classes}); "
                f"trialflow needs at least {MIN_ROWS} to train and cross-validate a model."
            )
    if task == "regression":
        _check_regression_target(labelled[target], target)
    n_unlabelled = len(frame) - len(labelled) - sum(rare_classes.values())
    check = TableCheck(labelled, task, reason, n_unlabelled, results, rare_classes)
    if record:
        recorded = record_training_checks(frame, target=target, task=task, source=source)
        check = replace(check, results=recorded)
    return check


# The first checks, named as Great Expectations names the expectations that record them.
TARGET_CHECK = "expect_column_proportion_of_non_null_values_to_be_between"
ROWS_CHECK = "expect_table_row_count_to_be_between"
CLASSES_CHECK = "expect_column_unique_value_count_to_be_between"


def _result(expectation: str, column: str | None, success: bool, observed) -> CheckResult:
    return CheckResult(expectation, column, bool(success), _plain(observed))


def record_training_checks(
    frame: pd.DataFrame, *, target: str, task: str, source: str = ""
) -> list[CheckResult]:
    """The first checks, validated by Great Expectations on the rows they were decided
    on; raises DataError if it finds what the pandas checks did not."""
    # Imported under the context's lock: a prewarming thread may be importing it too, and
    # two threads importing Great Expectations at once can see it half-initialised.
    _gx_context()
    import great_expectations.expectations as gxe

    # The expectations read the target and the row count only, so Great Expectations gets
    # the target column alone: it hashes and sizes every column of the frame it is given
    # (half a second on a table of 1,500 columns).
    targets = frame[[target]]
    results = validate(
        targets,
        [gxe.ExpectColumnProportionOfNonNullValuesToBeBetween(column=target, min_value=1e-12)],
        asset="training",
    )
    expectations = [gxe.ExpectTableRowCountToBeBetween(min_value=MIN_ROWS)]
    if task in ("binary", "multiclass"):
        expectations.append(gxe.ExpectColumnUniqueValueCountToBeBetween(column=target, min_value=2))
    results += validate(targets[targets[target].notna()], expectations, asset="labelled")
    _raise_on_failure(results, target=target, n_rows=len(frame), source=source)
    return results


def _leave_out_rare_classes(labelled: pd.DataFrame, target: str, n_folds: int):
    """Rows of the classes with enough rows for the folds, and the classes left out."""
    counts = labelled[target].value_counts()
    rare = counts[counts < n_folds]
    if not len(rare):
        return labelled, {}
    if len(counts) - len(rare) < 2:
        shown = ", ".join(f"{_plain(k)!r}: {v} row(s)" for k, v in rare.head(5).items())
        raise DataError(
            f"The target column {target!r} has too few rows in class(es) {shown}: "
            f"each of the {n_folds} cross-validation folds needs one. Add rows, merge "
            "the rare classes, or lower --cv-folds (at least 2)."
        )
    rare_classes = {_plain(k): int(v) for k, v in rare.items()}
    return labelled[~labelled[target].isin(rare.index)], rare_classes


def _check_regression_target(values: pd.Series, target: str) -> None:
    if not pd.api.types.is_numeric_dtype(values):
        raise DataError(
            f"The target column {target!r} is not numeric, so it cannot be a regression "
            "target. Use --task auto or a classification task."
        )
    infinite = values[np.isinf(values.to_numpy(dtype=np.float64))]
    if len(infinite):
        raise DataError(
            f"The target column {target!r} holds {len(infinite)} infinite value(s) "
            f"({infinite.iloc[0]}); a regression target must be finite. Remove those rows "
            "or replace the values."
        )


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


@dataclass(frozen=True)
class TableCheck:
    """The rows fit to train on, the task, and every check that ran."""

    labelled: pd.DataFrame
    task: str
    task_reason: str
    n_unlabelled: int
    results: list[CheckResult]
    # Classes left out for having fewer rows than the folds need: {class: rows}.
    rare_classes: dict = field(default_factory=dict)


def _named(source: str, *, start: bool = False) -> str:
    """How messages name the table: by its file, or as "the data" for a DataFrame."""
    if source:
        return f"'{source}'"
    return "The data" if start else "the data"


def _raise_on_failure(results, *, target: str, n_rows: int, source: str = "") -> None:
    for r in results:
        if r.success:
            continue
        if r.expectation == "expect_column_proportion_of_non_null_values_to_be_between":
            raise DataError(
                f"The target column {target!r} is empty: all {n_rows} values are missing. "
                "Choose a target column that has values."
            )
        if r.expectation == "expect_table_row_count_to_be_between":
            raise DataError(
                f"{_named(source, start=True)} has {r.observed} rows with a value in "
                f"{target!r}; trialflow needs "
                f"at least {MIN_ROWS} "
                "to train and cross-validate a model."
            )
        if r.expectation == "expect_column_unique_value_count_to_be_between":
            raise DataError(
                f"The target column {target!r} has a single class ({r.observed} distinct "
                "value); classification needs at least 2. Check the target, or use "
                "--task regression if it is a number."
            )
        raise DataError(f"Check {r.expectation} failed on {r.column!r}: observed {r.observed}.")
