"""Scoring-time validation: an incoming batch checked against the model's expectation suite.

Missing input columns stop the batch (unless the caller allows imputing them). Values that
are not numbers in a numeric column send their row to quarantine with the reason: it cannot
be scored. Every other row is scored. Values far outside the training range and categories
unseen in training are flagged on their row (the output's ``warnings`` column names the
column, the value and the training range); with ``quarantine_out_of_range`` out-of-range
rows are quarantined instead. Everything else the suite notices (more missing values than in
training, extra columns, a column's type changed) is reported.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import pandas as pd

from trialflow.data.tidy import not_numbers, parse_numbers
from trialflow.errors import DataError
from trialflow.validation.expectation_suite import CRITICAL, suite_columns, training_columns
from trialflow.validation.native_expectations import Outcome, native_outcomes

REASONS_PER_COLUMN = 3
QUARANTINE_COLUMNS = ("row", "reason")


@dataclass(frozen=True)
class BatchFinding:
    """One thing the checks found in a batch: the column, what, how many rows, and what
    was done about it ("quarantined", "imputed", "ignored", "scored")."""

    column: str
    problem: str
    rows: int
    action: str
    detail: str = ""


@dataclass
class BatchCheck:
    """The rows to score (their index numbers input rows from 0), the quarantined rows with
    ``row`` (from 1) and ``reason``, and the findings."""

    scorable: pd.DataFrame
    quarantined: pd.DataFrame
    findings: list[BatchFinding] = field(default_factory=list)
    # Input row (from 0) -> what was flagged on it; its prediction is still made.
    flags: dict[int, list[str]] = field(default_factory=dict)

    def warnings(self) -> list[str]:
        """One text per scorable row, in order: its flags, or "" for none."""
        return ["; ".join(self.flags.get(int(i), [])) for i in self.scorable.index]


def check_batch(
    frame: pd.DataFrame,
    suite: dict,
    *,
    source: str = "a DataFrame",
    impute_missing: bool = False,
    strict: bool = False,
    quarantine_out_of_range: bool = False,
) -> BatchCheck:
    """Split ``frame`` into rows to score and rows to quarantine, with the findings.

    With ``strict``, any row that would be quarantined or flagged fails the whole batch
    instead. ``quarantine_out_of_range`` quarantines rows with values outside the training
    range rather than scoring and flagging them.
    """
    columns = suite_columns(suite)
    findings: list[BatchFinding] = []
    frame = _repeated_columns(frame, columns, source, findings).reset_index(drop=True)
    original = frame
    frame = _missing_columns(frame, columns, source, impute_missing, findings)
    known = set(training_columns(suite)) | set(columns)
    for column in frame.columns:
        if column not in known:
            findings.append(BatchFinding(str(column), "is not a model input", 0, "ignored"))
    reasons: dict[int, list[str]] = defaultdict(list)
    unseen: dict[int, list[str]] = defaultdict(list)
    frame = _coerce_numbers(frame, columns, reasons, findings)
    # Out-of-range rows are flagged, or quarantined when asked: either way --strict fails
    # on them, as on rows that cannot be scored (unseen categories never failed a batch).
    out_of_range = reasons if quarantine_out_of_range else defaultdict(list)
    _run_expectations(frame, suite, reasons, out_of_range, unseen, findings)
    bad = sorted(reasons)
    failing = sorted(set(bad) | set(out_of_range))
    if strict and failing:
        first = failing[0]
        why = reasons.get(first, []) if first in reasons else out_of_range.get(first, [])
        raise DataError(
            f"{len(failing)} of {len(frame)} rows of the data to score ({source}) "
            "fail the model's checks (--strict), "
            f"e.g. row {first + 1}: {'; '.join(why)}. Nothing was scored or written."
        )
    quarantined = _quarantined(original, bad, reasons)
    scorable = frame.drop(index=bad)
    flags: dict[int, list[str]] = defaultdict(list)
    for found in ({} if out_of_range is reasons else out_of_range, unseen):
        for i, texts in found.items():
            if i not in reasons:
                flags[i] += texts
    return BatchCheck(scorable, quarantined.reset_index(drop=True), findings, dict(flags))


def _quarantined(original: pd.DataFrame, bad: list[int], reasons: dict) -> pd.DataFrame:
    """The rows that cannot be scored as they came in (before numbers were parsed), as text
    where types are mixed, with their row numbers and reasons first."""
    quarantined = original.loc[bad].copy()
    for column in quarantined.select_dtypes("object").columns:
        quarantined[column] = quarantined[column].astype("string")
    quarantined.insert(0, "reason", ["; ".join(reasons[i]) for i in bad])
    quarantined.insert(0, "row", [i + 1 for i in bad])
    return quarantined


def _repeated_columns(frame, columns, source, findings) -> pd.DataFrame:
    """A model input given twice is ambiguous: an error. Repeats of other columns, which
    the model ignores anyway, keep their first copy."""
    names = pd.Index([str(c) for c in frame.columns])
    repeated = sorted(set(names[names.duplicated()]))
    inputs = [n for n in repeated if n in columns]
    if inputs:
        raise DataError(
            f"The data to score ({source}) has the model's input column(s) {inputs} more "
            "than once. Keep one of each."
        )
    for name in repeated:
        findings.append(BatchFinding(name, "appears more than once", 0, "ignored"))
    return frame.loc[:, ~names.duplicated()] if repeated else frame


def _missing_columns(frame, columns, source, impute_missing, findings) -> pd.DataFrame:
    missing = [c for c in columns if c not in frame.columns]
    if not missing:
        return frame
    if not impute_missing:
        raise DataError(
            f"The data to score ({source}) lacks column(s) {missing} that the model was trained "
            "on. Add them "
            "(empty values are allowed), or pass --impute-missing to score with the training "
            "imputation in their place."
        )
    for column in missing:
        findings.append(BatchFinding(column, "is missing", len(frame), "imputed as in training"))
    return frame.assign(**dict.fromkeys(missing, float("nan")))


def _coerce_numbers(frame, columns, reasons, findings) -> pd.DataFrame:
    """Numeric inputs that arrive as text are parsed as training was; what is not a number
    quarantines its row."""
    parsed_columns = {}
    for column, info in columns.items():
        values = frame[column]
        if info["kind"] != "numeric" or (
            pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
        ):
            continue
        parsed = parse_numbers(values)
        strays = not_numbers(values, parsed)
        for i, value in strays.items():
            reasons[int(i)].append(f"{column}={value!r} is not a number")
        detail = f"was {info['dtype']} in training, is {values.dtype} here"
        action = "parsed as numbers"
        if len(strays):
            action += f"; {len(strays)} rows that are not numbers quarantined"
        findings.append(
            BatchFinding(column, "changed type", int(values.notna().sum()), action, detail)
        )
        parsed_columns[column] = parsed
    return frame.assign(**parsed_columns) if parsed_columns else frame


def _run_expectations(frame, suite, reasons, out_of_range, unseen, findings) -> None:
    """The suite's expectations over the batch, one column at a time.

    Each column's expectations see a frame of that column alone: Great Expectations copies
    the frame it validates for every expectation, and copying all 50 columns of a million
    rows 300 times took 47 s of the 1 M x 50 check; column by column it takes a fraction.
    """
    present = set(frame.columns)
    by_column: dict[str, list[dict]] = defaultdict(list)
    for expectation in suite["expectations"]:
        column = expectation["kwargs"].get("column", "")
        if expectation["type"] != "expect_column_to_exist" and column in present | {""}:
            by_column[column].append(expectation)
    for column, expectations in by_column.items():
        # Table-level expectations look at the column names only.
        part = frame[[column]] if column else frame.iloc[:0]
        _validate_part(part, expectations, reasons, out_of_range, unseen, findings)


def _validate_part(part, expectations, reasons, out_of_range, unseen, findings) -> None:
    critical = [e for e in expectations if e.get("severity") == CRITICAL]
    warnings = [e for e in expectations if e.get("severity") != CRITICAL]
    for outcome in _outcomes(part, critical, "COMPLETE"):
        if not outcome.success:
            by_range = outcome.type == "expect_column_values_to_be_between"
            rows = out_of_range if by_range else reasons
            _record_rows(outcome, part, rows, findings, quarantine=rows is reasons)
    # COMPLETE, so Great Expectations lists the rows with unseen categories, as the native
    # checks do, for their flags.
    for outcome in _outcomes(part, warnings, "COMPLETE"):
        if not outcome.success and not _imputed(outcome, findings):
            findings.append(_warning(outcome, part))
            if outcome.type == "expect_column_values_to_be_in_set":
                _flag_unseen(outcome, part, unseen)


def _outcomes(part, expectations, result_format) -> list[Outcome]:
    """Checked natively where every expectation allows it, else by Great Expectations.

    Importing Great Expectations and validating through it costs seconds per batch (2 s of
    import and 3.4 s for credit_data's 14 columns), against milliseconds natively: that is
    most of the start-up of `trialflow predict`.
    """
    if not expectations:
        return []
    native = native_outcomes(part, expectations)
    if native is not None:
        return native
    return _gx_outcomes(part, expectations, result_format)


def _gx_outcomes(part, expectations, result_format) -> list[Outcome]:
    import great_expectations as gx

    from trialflow.validation.checks import validate_suite

    name = "critical" if result_format == "COMPLETE" else "warnings"
    validation = validate_suite(
        part, gx.ExpectationSuite(name=name, expectations=expectations), result_format
    )
    return [
        Outcome(
            type=r.expectation_config.type,
            kwargs=dict(r.expectation_config.kwargs),
            meta=dict(r.expectation_config.meta or {}),
            success=bool(r.success),
            result=dict(r.result or {}),
            exception_info=dict(r.exception_info or {}),
        )
        for r in validation.results
    ]


def _imputed(outcome: Outcome, findings) -> bool:
    """A column imputed whole is reported once, not again for its missing values."""
    column = outcome.kwargs.get("column")
    return any(f.column == column and f.problem == "is missing" for f in findings)


def _record_rows(outcome: Outcome, frame, rows_out, findings, *, quarantine: bool) -> None:
    """Each failing row's reason, into ``rows_out`` (quarantine reasons or row flags)."""
    column = outcome.kwargs.get("column", "")
    details = outcome.result
    # Great Expectations lists every failing row's index, but only the first 200 values.
    rows = [int(i) for i in details.get("unexpected_index_list") or []]
    values = frame[column].to_numpy()[rows] if rows else []
    if outcome.type == "expect_column_values_to_be_between":
        low, high = outcome.meta.get("training_range", [None, None])
        why = f"outside the training range [{low:.6g}, {high:.6g}]"
    else:
        why = f"fails {outcome.type}"
    for i, value in zip(rows, values, strict=True):
        rows_out[i].append(f"{column}={_plain_text(value)} {why}")
    if not rows and outcome.exception_info.get("raised_exception"):
        raise DataError(
            f"Column {column!r} could not be checked: "
            f"{outcome.exception_info.get('exception_message')}"
        )
    action = "quarantined" if quarantine else "scored; flagged in the 'warnings' column"
    findings.append(BatchFinding(column, f"has values {why}", len(rows), action))


def _flag_unseen(outcome: Outcome, frame, flags) -> None:
    """Rows with a category unseen in training, flagged (where the check listed them)."""
    column = outcome.kwargs.get("column", "")
    rows = [int(i) for i in outcome.result.get("unexpected_index_list") or []]
    values = frame[column].to_numpy()[rows] if rows else []
    for i, value in zip(rows, values, strict=True):
        flags[i].append(f"{column}={_plain_text(value)} unseen in training")


def _warning(outcome: Outcome, frame) -> BatchFinding:
    column = outcome.kwargs.get("column", "")
    details = outcome.result
    examples = ", ".join(repr(v) for v in (details.get("partial_unexpected_list") or [])[:3])
    kind = outcome.type
    if kind == "expect_column_values_to_be_in_set":
        return BatchFinding(
            column,
            "has categories unseen in training",
            int(details.get("unexpected_count") or 0),
            "scored as 'other'",
            f"e.g. {examples}",
        )
    if kind == "expect_column_proportion_of_non_null_values_to_be_between":
        share = 1 - float(details.get("observed_value") or 0)
        trained = 1 - float(outcome.meta.get("training_share", 1))
        return BatchFinding(
            column,
            "has more missing values than in training",
            int(frame[column].isna().sum()),
            "imputed as in training",
            f"{share:.0%} here, {trained:.0%} in training",
        )
    if kind == "expect_table_columns_to_match_set":
        return BatchFinding("", "table columns differ from training", 0, "see the columns above")
    if kind == "expect_column_values_to_be_unique":
        return BatchFinding(
            column, "repeats identifier values", int(details.get("unexpected_count") or 0), "scored"
        )
    return BatchFinding(
        column, f"fails {kind}", int(details.get("unexpected_count") or 0), "scored", examples
    )


def _plain_text(value) -> str:
    return repr(value.item() if hasattr(value, "item") else value)
