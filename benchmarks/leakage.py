"""The target-leakage guardrail on every table of the suite.

    python -m benchmarks.leakage

For each table's training split: the columns flagged as given (should be none), whether a
copy of the target added under another name is caught, and whether a near-copy is caught
(regression: the target plus noise of 0.5 % of its spread; classes: the target with 0.5 % of
labels changed), with the seconds the check took.
"""

from __future__ import annotations

import time

import numpy as np

from benchmarks.suite import load_suite, split


def near_copy(y: np.ndarray, task: str, rng: np.random.Generator) -> np.ndarray:
    if task == "regression":
        return y + rng.normal(0, 0.005 * np.nanstd(y), size=len(y))
    changed = rng.random(len(y)) < 0.005
    labels = np.unique(y)
    return np.where(changed, rng.choice(labels, size=len(y)), y)


def check_table(table) -> dict:
    from trialflow.validation.leakage import find_leaks

    train, _ = split(table)
    X = train.drop(columns=[table.target])
    y = train[table.target].to_numpy()
    task = table.task
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    as_given = [leak.column for leak in find_leaks(X, y, task)]
    seconds = time.perf_counter() - started
    copied = find_leaks(X.assign(target_copy=y), y, task)
    noisy = find_leaks(X.assign(target_near_copy=near_copy(y, task, rng)), y, task)
    return {
        "table": table.name,
        "rows": len(X),
        "columns": X.shape[1],
        "as_given": as_given,
        "copy_caught": "target_copy" in {leak.column for leak in copied},
        "near_copy_caught": "target_near_copy" in {leak.column for leak in noisy},
        "seconds": seconds,
    }


def main() -> None:
    rows = [check_table(table) for table in load_suite().values()]
    print("table          rows  cols  alerts as given        copy  near-copy  seconds")
    for r in rows:
        alerts = ", ".join(r["as_given"]) or "none"
        copy = "yes" if r["copy_caught"] else "NO"
        near = "yes" if r["near_copy_caught"] else "NO"
        print(
            f"{r['table']:<12} {r['rows']:>6} {r['columns']:>5}  {alerts:<20}  "
            f"{copy:>4}  {near:>9}  {r['seconds']:>7.2f}"
        )
    clean = sum(not r["as_given"] for r in rows)
    copies = sum(r["copy_caught"] for r in rows)
    near_copies = sum(r["near_copy_caught"] for r in rows)
    print(
        f"{len(rows)} tables: no alert as given on {clean}, copy caught on {copies}, "
        f"near-copy caught on {near_copies}."
    )


if __name__ == "__main__":
    main()
