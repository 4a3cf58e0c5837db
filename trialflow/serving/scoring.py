"""Batch scoring: validate a raw table against the model's suite, score what passes, and
write predictions and quarantined rows whole or not at all."""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from trialflow.errors import ConfigError

if TYPE_CHECKING:
    from trialflow.validation.batch_checks import BatchFinding

OUTPUT_SUFFIXES = (".csv", ".parquet")


@dataclass
class ScoredBatch:
    """Predictions for the rows that passed the checks (``row`` numbers input rows from 1),
    the quarantined rows with their reasons, and what the checks found."""

    predictions: pd.DataFrame
    quarantined: pd.DataFrame
    findings: list[BatchFinding] = field(default_factory=list)
    validated: bool = True

    @property
    def n_rows(self) -> int:
        return len(self.predictions) + len(self.quarantined)

    def summary(self) -> list[str]:
        lines = [
            f"Scored {len(self.predictions)} of {self.n_rows} rows; "
            f"quarantined {len(self.quarantined)}."
        ]
        if not self.validated:
            lines.append(
                "The model has no expectation suite (registered before trialflow "
                "saved one), so the batch was not validated."
            )
        for f in self.findings:
            count = f" ({f.rows} rows)" if f.rows else ""
            detail = f": {f.detail}" if f.detail else ""
            lines.append(f"Column {f.column!r} {f.problem}{count}{detail}; {f.action}.")
        return lines


def check_and_score(
    pipeline,
    frame: pd.DataFrame,
    suite: dict | None,
    *,
    source: str = "a DataFrame",
    strict: bool = False,
    impute_missing: bool = False,
    quarantine_out_of_range: bool = False,
) -> ScoredBatch:
    """Check ``frame`` against ``suite`` (when the model has one), then score every row that
    can be scored; the ``warnings`` column flags values outside the training range and
    unseen categories. ``strict`` fails the batch on any row quarantined or flagged;
    ``quarantine_out_of_range`` quarantines out-of-range rows instead of flagging them."""
    if suite is None:
        frame = frame.reset_index(drop=True)
        rows = pd.RangeIndex(1, len(frame) + 1)
        return ScoredBatch(score_frame(pipeline, frame, rows=rows), frame.iloc[:0], validated=False)
    # Deferred: the checks import scikit-learn (through the featurizers), which the CLI's
    # output-path check, made before Prefect's API starts, should not wait for.
    from trialflow.validation.batch_checks import check_batch

    check = check_batch(
        frame,
        suite,
        source=source,
        strict=strict,
        impute_missing=impute_missing,
        quarantine_out_of_range=quarantine_out_of_range,
    )
    predictions = score_frame(pipeline, check.scorable, rows=check.scorable.index + 1)
    predictions["warnings"] = check.warnings()
    return ScoredBatch(predictions, check.quarantined, check.findings)


def score_frame(pipeline, frame: pd.DataFrame, *, rows=None) -> pd.DataFrame:
    """Predictions in input row order: `row` (when given), `prediction`, plus
    `proba_<class>` for classifiers."""
    out = pd.DataFrame(index=range(len(frame)))
    if rows is not None:
        out["row"] = list(rows)
    if len(frame):
        out["prediction"] = pipeline.predict(frame)
    else:
        out["prediction"] = pd.Series(dtype=object)
    if hasattr(pipeline, "predict_proba") and hasattr(pipeline, "classes_"):
        proba = pipeline.predict_proba(frame) if len(frame) else None
        for j, cls in enumerate(pipeline.classes_):
            out[f"proba_{cls}"] = proba[:, j] if proba is not None else pd.Series(dtype=float)
    return out


def check_output_path(path: str) -> Path:
    target = Path(path).expanduser()
    if target.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ConfigError(
            f"Output '{path}' must end in .csv or .parquet; got '{target.suffix or '(none)'}'."
        )
    if not target.parent.exists():
        raise ConfigError(f"The folder of output '{path}' does not exist: create it first.")
    if target.is_dir():
        raise ConfigError(f"Output '{path}' is a directory; give a file path.")
    return target


def quarantine_path(output: Path) -> Path:
    """Beside the predictions: ``scores.csv`` quarantines into ``scores.quarantine.csv``."""
    return output.with_name(f"{output.stem}.quarantine{output.suffix}")


def write_table_atomically(frame: pd.DataFrame, path: str) -> Path:
    """Write to a temporary file beside ``path``, then rename: readers never see half a file."""
    return write_tables_atomically({path: frame})[0]


def write_tables_atomically(frames: dict[str, pd.DataFrame]) -> list[Path]:
    """Write every frame to a temporary file first, then rename them all into place: a
    failure in any write leaves every destination as it was."""
    targets = [check_output_path(str(path)) for path in frames]
    written: list[tuple[str, Path]] = []
    try:
        for frame, target in zip(frames.values(), targets, strict=True):
            fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
            os.close(fd)
            written.append((tmp, target))
            if target.suffix.lower() == ".csv":
                frame.to_csv(tmp, index=False)
            else:
                frame.to_parquet(tmp, index=False)
    except BaseException:
        for tmp, _ in written:
            Path(tmp).unlink(missing_ok=True)
        raise
    for tmp, target in written:
        os.replace(tmp, target)
    return targets
