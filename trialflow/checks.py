"""First checks on a training table, run by Great Expectations: can we train on this at all?"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import pandas as pd

from trialflow.data import infer_task
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

    context = _gx_context()
    with _context_lock:
        source = context.data_sources.add_or_update_pandas("trialflow")
        frame_asset = source.add_dataframe_asset(f"{asset}-{id(frame)}-{threading.get_ident()}")
        batch = frame_asset.add_batch_definition_whole_dataframe("all").get_batch(
            batch_parameters={"dataframe": frame}
        )
    suite = gx.ExpectationSuite(name=f"{asset}-checks", expectations=expectations)
    outcome = batch.validate(suite)
    with _context_lock:
        source.delete_asset(frame_asset.name)
    return [
        CheckResult(
            expectation=r.expectation_config.type,
            column=r.expectation_config.kwargs.get("column"),
            success=bool(r.success),
            observed=(r.result or {}).get("observed_value", (r.result or {}).get("element_count")),
        )
        for r in outcome.results
    ]


def check_training_table(frame: pd.DataFrame, *, target: str, task: str) -> TableCheck:
    """Checks that must hold before any training; raises DataError naming what failed.

    Rows without a target value are left out (and counted). With ``task="auto"`` the task
    is inferred from the remaining target values before the class-count check.
    """
    import great_expectations.expectations as gxe

    if target not in frame.columns:
        # Reported without GE: every column expectation on a missing column would only error.
        columns = ", ".join(map(str, frame.columns[:20]))
        more = f" and {len(frame.columns) - 20} more" if len(frame.columns) > 20 else ""
        raise DataError(
            f"The target column {target!r} is not in the data. Columns are: {columns}{more}. "
            "Pass --target with one of them (names are case-sensitive)."
        )
    if frame.empty:
        raise DataError(
            f"The data has a header but no rows; trialflow needs at least {MIN_ROWS} rows."
        )
    results = validate(
        frame,
        [gxe.ExpectColumnProportionOfNonNullValuesToBeBetween(column=target, min_value=1e-12)],
        asset="training",
    )
    _raise_on_failure(results, target=target, n_rows=len(frame))
    labelled = frame[frame[target].notna()]
    if task == "auto":
        task, reason = infer_task(labelled[target])
    else:
        reason = "given in the configuration"
    expectations = [gxe.ExpectTableRowCountToBeBetween(min_value=MIN_ROWS)]
    if task in ("binary", "multiclass"):
        expectations.append(gxe.ExpectColumnUniqueValueCountToBeBetween(column=target, min_value=2))
    results += validate(labelled, expectations, asset="labelled")
    _raise_on_failure(results, target=target, n_rows=len(frame))
    if task == "regression" and not pd.api.types.is_numeric_dtype(labelled[target]):
        raise DataError(
            f"The target column {target!r} is not numeric, so it cannot be a regression "
            "target. Use --task auto or a classification task."
        )
    return TableCheck(labelled, task, reason, len(frame) - len(labelled), results)


@dataclass(frozen=True)
class TableCheck:
    """The rows fit to train on, the task, and every check that ran."""

    labelled: pd.DataFrame
    task: str
    task_reason: str
    n_unlabelled: int
    results: list[CheckResult]


def _raise_on_failure(results, *, target: str, n_rows: int) -> None:
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
                f"The data has {r.observed} rows with a value in {target!r}; trialflow needs "
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
