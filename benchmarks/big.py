"""Issue 17's big-table figures: trials in a short budget on 250k rows, and whether 1M rows
x 50 columns trains within 600 s under 8 GiB.

    python -m benchmarks.big [--rows 250000] [--columns 50] [--budget 60] [--out DIR]
    python -m benchmarks.big --rows 1000000 --budget 600

The table is synthetic (scikit-learn's ``make_classification``: 20 informative columns, 10
redundant, the rest noise, 10 of the columns turned into 8-level categoricals, 2 % label
noise), written to Parquet and trained from the file with ``trialflow train`` in a fresh
project home, as a batch job would. Peak memory is summed over the process tree (the run,
its Dask workers and Prefect's server), sampled every 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.measure import run_measured

REPO = Path(__file__).resolve().parents[1]
CATEGORICAL_COLUMNS = 10
LEVELS = 8


def synthetic_table(rows: int, columns: int, *, seed: int = 0) -> pd.DataFrame:
    from sklearn.datasets import make_classification

    X, y = make_classification(
        n_samples=rows,
        n_features=columns,
        n_informative=min(20, columns),
        n_redundant=min(10, max(0, columns - 20)),
        flip_y=0.02,
        random_state=seed,
    )
    frame = pd.DataFrame(X.astype(np.float32), columns=[f"x{i}" for i in range(columns)])
    for i in range(min(CATEGORICAL_COLUMNS, columns)):
        name = f"x{columns - 1 - i}"
        codes = pd.qcut(frame[name], LEVELS, labels=False)
        frame[name] = pd.Categorical.from_codes(codes, [f"level_{k}" for k in range(LEVELS)])
    frame["target"] = np.where(y == 1, "yes", "no")
    return frame


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=250_000)
    parser.add_argument("--columns", type=int, default=50)
    parser.add_argument("--budget", type=float, default=60.0)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "big")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="trialflow-big-") as scratch:
        scratch = Path(scratch)
        data = scratch / "big.parquet"
        synthetic_table(args.rows, args.columns).to_parquet(data)
        leaderboard = scratch / "leaderboard.csv"
        env = {**os.environ, "TRIALFLOW_HOME": str(scratch / "home")}
        # Through the Python API rather than the CLI only to keep the whole leaderboard.
        script = (
            "import sys, trialflow; "
            "r = trialflow.train(sys.argv[1], target='target', time_budget=float(sys.argv[2])); "
            "r.leaderboard.to_csv(sys.argv[3], index=False)"
        )
        command = [sys.executable, "-c", script, str(data), str(args.budget), str(leaderboard)]
        log = args.out / f"big-{args.rows}x{args.columns}-{args.budget:g}s.log"
        measured = run_measured(
            command, env=env, cwd=REPO, timeout=args.budget * 2 + 120, log_path=log
        )
        board = pd.read_csv(leaderboard) if leaderboard.exists() else pd.DataFrame()
    finished = board[board["status"] == "ok"] if "status" in board else board
    result = {
        "rows": args.rows,
        "columns": args.columns,
        "budget_seconds": args.budget,
        "wall_seconds": round(measured.seconds, 1),
        "peak_rss_gib": round(measured.peak_rss_bytes / 2**30, 2),
        "returncode": measured.returncode,
        "trials": int(len(board[board["learner"] != "ensemble"])) if "learner" in board else 0,
        "finished_trials": int(len(finished[finished["learner"] != "ensemble"]))
        if "learner" in finished
        else 0,
        "background_cpu": round(measured.background_cpu, 3),
        "log": str(log.relative_to(REPO)) if log.is_relative_to(REPO) else str(log),
    }
    name = f"big-{args.rows}x{args.columns}-{args.budget:g}s"
    (args.out / f"{name}.json").write_text(json.dumps(result, indent=2) + "\n")
    print(
        f"{args.rows:,} rows x {args.columns} columns, {args.budget:g} s budget: "
        f"{result['wall_seconds']} s wall, peak {result['peak_rss_gib']} GiB, "
        f"{result['finished_trials']} of {result['trials']} trials finished, "
        f"exit {measured.returncode}; other processes used {measured.background_cpu:.0%} of the CPU"
    )


if __name__ == "__main__":
    main()
