"""Fold bagging against a plain refit, on the suite's tables (test scores, no search).

For each table (the suite's split), trialflow's pipeline with LightGBM's strong default is
fitted three ways per seed: on all training rows (the plain refit), bagged over the search's
5 folds (``trialflow.model.bagging.FoldBag``: the full refit averaged with the 5 fold
models), and as 6 refits on all rows with different seeds (to tell the averaging of any
6 models from that of models fitted on different rows). Prints a table and writes it.

    python -m benchmarks.bagging [--tables a,b] [--seeds 3] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from benchmarks.suite import HIGHER_IS_BETTER, load_suite, score, split
from trialflow.featurizers import plan_columns
from trialflow.learners import get_learner
from trialflow.model.bagging import BAG_MAX_ROWS
from trialflow.model.pipeline import build_pipeline
from trialflow.search.folds import SINGLE_SPLIT_ROWS

FOLDS = 5
WAYS = ("plain", "fold_bag", "seed_bag")


def measure(table, seeds: int) -> dict[str, float]:
    """Mean test score per way over ``seeds`` seeds."""
    train, test = split(table)
    X = train.drop(columns=[table.target])
    y = train[table.target].to_numpy()
    X_test, y_test = test.drop(columns=[table.target]), test[table.target].to_numpy()
    plan = plan_columns(X, target=table.target, exclude={})
    params = get_learner("lightgbm").defaults
    classes = sorted(set(y)) if table.task != "regression" else None

    def fitted(seed: int, bag_folds: int = 0):
        return build_pipeline(
            "lightgbm",
            params,
            plan,
            table.task,
            seed=seed,
            n_jobs=2,
            bag_folds=bag_folds,
            fold_seed=seed,
        ).fit(X, y)

    def output(model) -> np.ndarray:
        if classes is None:
            return np.asarray(model.predict(X_test), dtype=float)
        return np.asarray(model.predict_proba(X_test))

    scores: dict[str, list[float]] = {way: [] for way in WAYS}
    for seed in range(seeds):
        scores["plain"].append(score(table, y_test, output(fitted(seed)), classes))
        scores["fold_bag"].append(score(table, y_test, output(fitted(seed, FOLDS)), classes))
        averaged = np.mean([output(fitted(100 * seed + k)) for k in range(FOLDS + 1)], axis=0)
        scores["seed_bag"].append(score(table, y_test, averaged, classes))
    return {way: float(np.mean(v)) for way, v in scores.items()}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="", help="comma-separated suite tables (all)")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    suite = load_suite()
    names = [n for n in args.tables.split(",") if n] or list(suite)
    lines = [
        f"Fold bagging vs plain refit: LightGBM strong default, {args.seeds} seeds, test scores;",
        "gain = way - plain, sign flipped for log loss so that positive is better.",
        "",
        f"{'table':14s} {'rows':>6s} {'metric':8s} {'plain':>8s} {'fold_bag':>9s} {'seed_bag':>9s}",
    ]
    print("\n".join(lines), flush=True)
    gains: dict[str, list[float]] = {"fold_bag": [], "seed_bag": []}
    sizes: list[int] = []
    for name in names:
        table = suite[name]
        rows = len(split(table)[0])
        if rows > SINGLE_SPLIT_ROWS:  # no folds to bag over
            continue
        result = measure(table, args.seeds)
        sign = 1.0 if HIGHER_IS_BETTER[table.metric] else -1.0
        sizes.append(rows)
        for way in gains:
            gains[way].append(sign * (result[way] - result["plain"]))
        line = (
            f"{name:14s} {rows:6d} {table.metric:8s} {result['plain']:8.4f} "
            f"{sign * (result['fold_bag'] - result['plain']):+9.4f} "
            f"{sign * (result['seed_bag'] - result['plain']):+9.4f}"
        )
        lines.append(line)
        print(line, flush=True)
    summary = [""]
    small = np.asarray(sizes) <= BAG_MAX_ROWS
    for way, values in gains.items():
        for label, keep in (
            ("all tables", np.ones_like(small)),
            (f"<= {BAG_MAX_ROWS:,} rows", small),
            (f"> {BAG_MAX_ROWS:,} rows", ~small),
        ):
            v = np.asarray(values)[keep]
            if len(v):
                summary.append(
                    f"{way:8s} {label:13s} mean gain {v.mean():+.4f}, better on "
                    f"{(v > 0).sum()} of {len(v)}, worst {v.min():+.4f}, best {v.max():+.4f}"
                )
    print("\n".join(summary), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bagging.md").write_text(
        "# Fold bagging\n\n`python -m benchmarks.bagging`\n\n```\n"
        + "\n".join(lines + summary)
        + "\n```\n"
    )


if __name__ == "__main__":
    main()
