"""One (table, system) measurement: write the split once, run the system in a measured
subprocess, score its test predictions, and return the raw result row."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.measure import run_measured
from benchmarks.suite import Table, score

REPO = Path(__file__).resolve().parents[1]
COLUMNS = [
    "table",
    "task",
    "metric",
    "system",
    "status",
    "score",
    "fit_seconds",
    "budget_seconds",
    "overrun_seconds",
    "process_seconds",
    "peak_rss_mb",
    "cpu_seconds",
    "background_cpu",
    "n_train",
    "n_test",
    "trials",
    "best",
    "timings",
    "message",
    "log",
    "curve",
]


@dataclass
class Split:
    table: Table
    train: Path
    test: Path
    y_test: pd.Series
    n_train: int


def write_split(table: Table, train: pd.DataFrame, test: pd.DataFrame, folder: Path) -> Split:
    """The split as parquet files every system reads the same way (dtypes preserved)."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / f"{table.name}-train.parquet", folder / f"{table.name}-test.parquet"
    train.reset_index(drop=True).to_parquet(paths[0])
    test.reset_index(drop=True).to_parquet(paths[1])
    return Split(table, paths[0], paths[1], test[table.target].reset_index(drop=True), len(train))


def new_row(table: Table, system: str, budget: float, message: str = "") -> dict[str, Any]:
    """A result row with the table's facts; with a message, the row of a failure."""
    row: dict[str, Any] = dict.fromkeys(COLUMNS)
    row.update(table=table.name, task=table.task, metric=table.metric, system=system)
    row.update(budget_seconds=budget, background_cpu=0.0)
    if message:
        row.update(status="failed", message=message)
    return row


# The row label of trialflow run a second time in the same project home.
WARM = "@warm"


def trialflow_env(home: Path) -> dict[str, str | None]:
    """trialflow in its documented default set-up, everything embedded under one project
    home: no Prefect home or API server inherited from the caller's environment."""
    return {"TRIALFLOW_HOME": str(home.resolve()), "PREFECT_HOME": None, "PREFECT_API_URL": None}


def kill_after(budget: float) -> float:
    """Seconds after which a system is killed: twice its budget plus a minute of slack."""
    return budget * 2 + 60


def run_system(
    system: str,
    split: Split,
    *,
    budget: float,
    python: str,
    logs: Path,
    env: dict[str, str | None] | None = None,
    options: dict[str, Any] | None = None,
    label: str | None = None,
) -> dict[str, Any]:
    """Fit `system` on the split in a subprocess of `python`; the row for results.csv.
    `env` changes the inherited environment; a None value removes that variable. `label`
    names the row (and its log and predictions) when it is not the system's name."""
    table = split.table
    label = label or system
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / f"{table.name}-{label}.log"
    row = new_row(table, label, budget)
    row.update(n_train=split.n_train, n_test=len(split.y_test), log=str(log))
    # A scratch folder is the working directory too: CatBoost and others write into the cwd.
    with tempfile.TemporaryDirectory(prefix=f"bench-{table.name}-{system}-") as tmp:
        scratch = Path(tmp)
        spec = {
            "system": system,
            "table": table.to_dict(),
            "budget": budget,
            "train": str(split.train),
            "test": str(split.test),
            "scratch": str(scratch),
            "predictions": str(scratch / "predictions.npy"),
            "result": str(scratch / "result.json"),
            "options": options or {},
        }
        (scratch / "spec.json").write_text(json.dumps(spec))
        child_env = dict(os.environ)
        for key, value in (env or {}).items():
            if value is None:
                child_env.pop(key, None)
            else:
                child_env[key] = value
        child_env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(REPO), child_env.get("PYTHONPATH", "")) if p
        )
        measured = run_measured(
            [python, "-m", "benchmarks.worker", str(scratch / "spec.json")],
            env=child_env,
            cwd=scratch,
            timeout=kill_after(budget),
            log_path=log,
        )
        row.update(
            process_seconds=round(measured.seconds, 2),
            peak_rss_mb=round(measured.peak_rss_bytes / 2**20, 1),
            cpu_seconds=round(measured.cpu_seconds, 1),
            background_cpu=round(measured.background_cpu, 3),
            started_at=measured.started_at,
            cpu_timeline=measured.cpu_timeline,
        )
        result = _read_result(scratch / "result.json")
        if measured.timed_out:
            result = {"status": "failed", "message": f"killed after {kill_after(budget):.0f} s"}
        elif result is None:
            result = {"status": "failed", "message": _crash_message(log, measured.returncode)}
        row["status"] = result["status"]
        row["message"] = result.get("message", "")
        if result["status"] == "ok":
            _record_fit(row, result, measured.started_at, split, scratch / "predictions.npy")
            if row["status"] == "ok":
                keep_predictions(split, label, result, scratch / "predictions.npy", logs.parent)
        else:
            # Without a fitted model the process's whole life is the best wall clock there is.
            row["fit_seconds"] = round(measured.seconds, 2)
        # AutoGluon's saved models and the like would fill the disk over a suite.
        shutil.rmtree(scratch / "autogluon", ignore_errors=True)
    if row["fit_seconds"] is not None:
        row["overrun_seconds"] = round(row["fit_seconds"] - budget, 2)
    return row


def _record_fit(row: dict, result: dict, started_at: float, split: Split, predictions: Path):
    extra = result.get("extra") or {}
    row["fit_seconds"] = round(result["fitted_at"] - started_at, 2)
    row["trials"] = extra.get("trials")
    row["best"] = extra.get("best")
    if "timings" in extra:
        row["timings"] = json.dumps(extra["timings"], sort_keys=True)
    if "curve" in extra:
        row["curve"] = json.dumps(extra["curve"], sort_keys=True)
    row["extra"] = extra
    try:
        row["score"] = score(split.table, split.y_test, np.load(predictions), result["classes"])
    except (ValueError, IndexError, TypeError) as exc:  # e.g. a class the model never saw
        row.update(status="failed", message=f"scoring failed: {type(exc).__name__}: {exc}")


def keep_predictions(split: Split, system: str, result: dict, predictions: Path, out: Path):
    """The test predictions beside results.csv (predictions/TABLE-SYSTEM.npz, with the test
    labels and class order), for the paired bootstrap that tells a real gap from noise."""
    classes = result.get("classes")
    folder = out / "predictions"
    folder.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        folder / f"{split.table.name}-{system}.npz",
        prediction=np.load(predictions),
        # Labels as text for classification, so loading needs no pickle.
        y_test=split.y_test.to_numpy(float if classes is None else str),
        classes=np.asarray([] if classes is None else [str(c) for c in classes]),
    )


def _read_result(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None  # no result: the process died before writing one


def _crash_message(log: Path, returncode: int | None) -> str:
    """The last meaningful line of the log, for a process that died without a result."""
    try:
        lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    except OSError:
        lines = []
    last = next((line for line in reversed(lines) if line), "no output")
    return f"exited with code {returncode} without a result: {last}"[:500]
