"""trialflow's orchestration overhead: one trial (max_trials=1) on a small table, twice in a
row on one TRIALFLOW_HOME, first fresh, then warm.

    python -m benchmarks.overhead [--table concrete] [--budget 60] [--python PYTHON]

Prints Prefect's start-up, the Dask cluster's start-up, the per-trial dispatch overhead (the
search stage minus the trial's own seconds), the registration and the total.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from benchmarks.runner import run_system, trialflow_env, write_split
from benchmarks.suite import load_suite, split

RUNS = ("first (fresh home)", "second (warm home)")
FIGURES = (
    "Prefect start-up",
    "Dask cluster start-up",
    "per-trial dispatch",
    "registration",
    "total in train()",
    "process start to fitted",
)


def figures(row: dict) -> dict[str, float | None]:
    """The overhead figures of one run's raw row, in seconds."""
    timings, extra = json.loads(row["timings"] or "{}"), row.get("extra") or {}
    search = timings.get("search")
    values = (
        timings.get("prefect_ready"),
        timings.get("dask_start"),
        None if search is None else search - extra["trial_seconds"],
        timings.get("register"),
        timings.get("total"),
        row["fit_seconds"],
    )
    return dict(zip(FIGURES, values, strict=True))


def measure(table_name: str, budget: float, python: str, logs: Path | None = None) -> dict:
    """Two one-trial runs; their raw rows, keyed by run label."""
    tables = load_suite()
    table = tables.get(table_name) or tables["credit_data"]
    train, test = split(table)
    rows = {}
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        data = write_split(table, train, test, Path(tmp) / "data")
        env = trialflow_env(Path(tmp) / "home")  # fresh for the first run only
        for label in RUNS:
            rows[label] = run_system(
                "trialflow",
                data,
                budget=budget,
                python=python,
                logs=logs or Path(tmp) / "logs",
                env=env,
                options={"max_trials": 1},
            )
    return rows


def format_overhead(rows: dict, budget: float) -> list[str]:
    table = next(iter(rows.values()))["table"]
    lines = [
        f"Orchestration overhead (seconds): trialflow, max_trials=1, {table}, "
        f"budget {budget:.0f} s",
        f"  {'':28s}" + "".join(f"{label:>22s}" for label in rows),
    ]
    values = {label: figures(row) if row["status"] == "ok" else {} for label, row in rows.items()}
    for name in FIGURES:
        cells = [values[label].get(name) for label in rows]
        lines.append(
            f"  {name:28s}"
            + "".join(f"{v:22.2f}" if v is not None else f"{'—':>22s}" for v in cells)
        )
    shares = "".join(f"{row['background_cpu']:22.0%}" for row in rows.values())
    lines.append(f"  {'CPU used by other processes':28s}{shares}")
    for label, row in rows.items():
        if row["status"] != "ok":
            lines.append(f"  {label} failed: {row['message']}")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="concrete", help="a small suite table")
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--python", default=sys.executable, help="interpreter to run trialflow")
    args = parser.parse_args()
    print("\n".join(format_overhead(measure(args.table, args.budget, args.python), args.budget)))


if __name__ == "__main__":
    main()
