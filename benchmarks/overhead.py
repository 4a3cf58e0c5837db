"""trialflow's fixed costs: how much of a run's budget goes to anything but trials.

    python -m benchmarks.overhead [--tables all|credit_data,...] [--budget 60]
        [--modes cold,warm,server] [--out benchmarks/results/overhead]

Each table runs once per mode, as a user's process would (`benchmarks.worker`, the same
subprocess the suite's harness uses):

- cold: a new, empty TRIALFLOW_HOME (a first run, a container job);
- warm: the same home again (a second run on a machine);
- server: the same home with `trialflow server start` running (the Prefect API is up).

Per run: process start → first trial running on a worker, the machine's CPU-seconds spent
before it (all processes: the run's own, its workers and the Prefect server), the search's
end, and every stage after it up to the fitted model; "not in trials" is the time before
the first trial plus the time after the search, as a share of the budget. Run it with
nothing else busy (2 cores): the CPU figures are the machine's.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import pandas as pd

from benchmarks.runner import REPO, run_system, trialflow_env, write_split
from benchmarks.suite import load_suite, split

MODES = ("cold", "warm", "server")
MODE_LABELS = {"cold": "cold home", "warm": "warm home", "server": "running server"}
# Stages after the search, in the order the flow runs them (TrainResult.timings' names).
AFTER_SEARCH = (
    "ensemble",
    "fairness",
    "refit",
    "mitigate",
    "holdout",
    "package",
    "explain",
    "report",
    "register",
    "publish",
    "flow_end",
)
DEFAULT_OUT = REPO / "benchmarks" / "results" / "overhead"


def figures(row: dict) -> dict:
    """One run's overhead figures (seconds, CPU-seconds, shares) from its harness row."""
    extra = row.get("extra") or {}
    timings = extra.get("timings") or {}
    called = extra.get("called_at")
    out = {
        "table": row["table"],
        "status": row["status"],
        "trials": row["trials"],
        "fit_seconds": row["fit_seconds"],
        "overrun_seconds": row["overrun_seconds"],
        "background_cpu": row["background_cpu"],
    }
    if row["status"] != "ok" or called is None or timings.get("first_trial") is None:
        return out
    # Seconds from the process's spawn to `trialflow.train()` being called (interpreter,
    # pandas, reading the parquet file), then train's own clock.
    before_train = called - row["started_at"]
    first = before_train + timings["first_trial"]
    search_end = before_train + timings["search_ended"]
    after = row["fit_seconds"] - search_end
    out.update(
        first_trial=round(first, 2),
        cpu_before_first=round(_cpu_at(row["cpu_timeline"], row["started_at"] + first), 1),
        prefect_ready=round(before_train + timings["prefect_ready"], 2),
        search_ended=round(search_end, 2),
        after_search=round(after, 2),
        not_in_trials=round(first + after, 2),
        share_not_in_trials=round((first + after) / row["budget_seconds"], 3),
        **{f"{stage}_seconds": timings.get(stage) for stage in AFTER_SEARCH},
    )
    return out


def _cpu_at(timeline: list[tuple[float, float]], at: float) -> float:
    """Machine CPU-seconds busy from the first sample to ``at`` (linear between samples)."""
    if not timeline:
        return float("nan")
    start = timeline[0][1]
    for (t0, c0), (t1, c1) in zip(timeline, timeline[1:], strict=False):
        if t0 <= at <= t1:
            return c0 - start + (c1 - c0) * (at - t0) / max(t1 - t0, 1e-9)
    return timeline[-1][1] - start


def measure_table(table, budget: float, python: str, modes: list[str], logs: Path) -> list[dict]:
    """The table's runs, one per mode, in one project home made for it."""
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-overhead-") as tmp:
        data = write_split(table, *split(table), Path(tmp) / "data")
        home = Path(tmp) / "home"
        env = trialflow_env(home)
        if "cold" not in modes:  # warm and server need a home that has run once
            run_system("trialflow", data, budget=budget, python=python, logs=logs, env=env)
        for mode in MODES:
            if mode not in modes:
                continue
            if mode == "server":
                _server(python, env, "start")
            try:
                row = run_system(
                    "trialflow", data, budget=budget, python=python, logs=logs, env=env
                )
            finally:
                if mode == "server":
                    _server(python, env, "stop")
            rows.append({"mode": mode, **figures(row)})
    return rows


def _server(python: str, env: dict, action: str) -> None:
    import os

    child = {k: v for k, v in {**os.environ, **env}.items() if v is not None}
    subprocess.run(
        [python, "-m", "trialflow.cli.main", "server", action],
        env=child,
        check=True,
        capture_output=True,
        timeout=180,
    )


SUMMARY = (
    ("first_trial", "process start → first trial (s)"),
    ("cpu_before_first", "CPU-seconds before it (machine)"),
    ("prefect_ready", "Prefect API ready (s)"),
    ("after_search", "after the search (s)"),
    ("not_in_trials", "not in trials (s)"),
    ("share_not_in_trials", "not in trials (share of budget)"),
    ("overrun_seconds", "fit − budget (s)"),
    *((f"{stage}_seconds", f"  {stage} (s)") for stage in AFTER_SEARCH),
    ("trials", "trials"),
)


def summary_lines(frame: pd.DataFrame, budget: float) -> list[str]:
    """Medians per mode (with the range over tables), as a markdown table."""
    modes = [m for m in MODES if m in set(frame["mode"])]
    lines = [
        f"Medians over {frame['table'].nunique()} tables (min–max), budget {budget:g} s",
        "",
        "| figure | "
        + " | ".join(f"{m} home" if m != "server" else "server" for m in modes)
        + " |",
        "|---|" + "---|" * len(modes),
    ]
    for column, label in SUMMARY:
        cells = []
        for mode in modes:
            values = pd.to_numeric(
                frame.loc[frame["mode"] == mode, column], errors="coerce"
            ).dropna()
            if values.empty:
                cells.append("—")
                continue
            fmt = "{:.1%}" if column.startswith("share") else "{:.2f}"
            if column == "trials":
                fmt = "{:.0f}"
            cells.append(
                f"{fmt.format(statistics.median(values))} "
                f"({fmt.format(values.min())}–{fmt.format(values.max())})"
            )
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    failed = frame[frame["status"] != "ok"]
    for _, row in failed.iterrows():
        lines.append(f"\nfailed: {row['table']} ({row['mode']})")
    busy = frame["background_cpu"].max()
    lines.append(f"\nLargest share of CPU used by other processes during a run: {busy:.0%}.")
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="credit_data,concrete", help="names, or 'all'")
    parser.add_argument("--budget", type=float, default=60)
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--python", default=sys.executable, help="interpreter to run trialflow")
    args = parser.parse_args(argv)
    suite = load_suite()
    tabular = [t for t in suite.values() if t.task in ("binary", "multiclass", "regression")]
    names = [t.name for t in tabular] if args.tables == "all" else args.tables.split(",")
    modes = [m for m in args.modes.split(",") if m]
    args.out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for name in names:
        rows += measure_table(suite[name], args.budget, args.python, modes, args.out / "logs")
        for row in rows[-len(modes) :]:
            print(json.dumps(row), flush=True)
        pd.DataFrame(rows).to_csv(args.out / "overhead.csv", index=False)
    frame = pd.DataFrame(rows)
    lines = summary_lines(frame, args.budget)
    (args.out / "overhead.md").write_text(
        "# trialflow's fixed costs\n\n"
        f"`python -m benchmarks.overhead --tables {args.tables} --budget {args.budget:g} "
        f"--modes {args.modes}`\n\n" + "\n".join(lines) + "\n"
    )
    print("\n".join(lines))


if __name__ == "__main__":
    main()
