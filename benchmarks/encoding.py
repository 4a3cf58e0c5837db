"""How forests should see categorical columns: one-hot against ordinal codes, on the suite.

For each suite table (the suite's split) and each forest (random forest, extra trees) at its
strong default, trialflow's pipeline is scored with the two encodings: mean 5-fold CV score
on the training rows (what the search would see) and the test score of a fit on all of them.
Tables above ``--max-rows`` training rows are subsampled (the same rows for both encodings).
Prints a table and writes it.

    python -m benchmarks.encoding [--tables a,b] [--max-rows 10000] [--out benchmarks/results]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from benchmarks.suite import HIGHER_IS_BETTER, load_suite, score, split
from trialflow.featurizers import TableFeaturizer, plan_columns
from trialflow.learners import get_learner

LEARNERS = ("random_forest", "extra_trees")
ENCODINGS = ("onehot", "ordinal")
FOLDS = 5


def _pipeline(learner: str, encoding: str, plan, task: str):
    from sklearn.pipeline import Pipeline

    spec = get_learner(learner)
    model = spec.make(task, spec.defaults, seed=0, n_jobs=2)
    return Pipeline(
        [("features", TableFeaturizer(plan, categorical_encoding=encoding)), ("model", model)]
    )


def _output(model, X, classes):
    if classes is None:
        return np.asarray(model.predict(X), dtype=float)
    proba = np.asarray(model.predict_proba(X))
    out = np.zeros((len(X), len(classes)))
    for j, cls in enumerate(model.classes_):
        out[:, classes.index(cls)] = proba[:, j]
    return out


def measure(table, max_rows: int) -> dict[tuple[str, str], tuple[float, float, float]]:
    """(learner, encoding) -> (CV score, test score, seconds)."""
    from sklearn.model_selection import KFold, StratifiedKFold

    train, test = split(table)
    if len(train) > max_rows:
        train = train.sample(max_rows, random_state=0)
    X = train.drop(columns=[table.target]).reset_index(drop=True)
    y = train[table.target].to_numpy()
    X_test, y_test = test.drop(columns=[table.target]), test[table.target].to_numpy()
    plan = plan_columns(X, target=table.target, exclude={}, holidays=table.holidays or "")
    classes = sorted(set(y)) if table.task != "regression" else None
    splitter = (
        KFold(FOLDS, shuffle=True, random_state=0)
        if classes is None
        else StratifiedKFold(FOLDS, shuffle=True, random_state=0)
    )
    results = {}
    for learner in LEARNERS:
        for encoding in ENCODINGS:
            started = time.perf_counter()
            fold_scores = []
            for fit_rows, valid_rows in splitter.split(X, y):
                model = _pipeline(learner, encoding, plan, table.task)
                model.fit(X.iloc[fit_rows], y[fit_rows])
                predicted = _output(model, X.iloc[valid_rows], classes)
                fold_scores.append(score(table, y[valid_rows], predicted, classes))
            model = _pipeline(learner, encoding, plan, table.task).fit(X, y)
            test_score = score(table, y_test, _output(model, X_test, classes), classes)
            seconds = time.perf_counter() - started
            results[learner, encoding] = (float(np.mean(fold_scores)), test_score, seconds)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tables", default="", help="comma-separated suite tables (all)")
    parser.add_argument("--max-rows", type=int, default=10_000)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = parser.parse_args(argv)
    suite = load_suite()
    names = [n for n in args.tables.split(",") if n] or list(suite)
    lines = [
        f"Forests at their strong default, one-hot vs ordinal categoricals: {FOLDS}-fold CV and",
        f"test score (training rows capped at {args.max_rows:,}); gain = ordinal - onehot, sign",
        "flipped for log loss so that positive is better; seconds = CV + final fit.",
        "",
        f"{'table':14s} {'learner':14s} {'metric':8s} {'cv onehot':>10s} {'cv gain':>8s} "
        f"{'test onehot':>11s} {'test gain':>9s} {'s onehot':>8s} {'s ordinal':>9s}",
    ]
    print("\n".join(lines), flush=True)
    gains: dict[str, list[tuple[float, float]]] = {learner: [] for learner in LEARNERS}
    for name in names:
        table = suite[name]
        sign = 1.0 if HIGHER_IS_BETTER[table.metric] else -1.0
        results = measure(table, args.max_rows)
        for learner in LEARNERS:
            cv_hot, test_hot, s_hot = results[learner, "onehot"]
            cv_ord, test_ord, s_ord = results[learner, "ordinal"]
            gain = (sign * (cv_ord - cv_hot), sign * (test_ord - test_hot))
            gains[learner].append(gain)
            line = (
                f"{name:14s} {learner:14s} {table.metric:8s} {cv_hot:10.4f} {gain[0]:+8.4f} "
                f"{test_hot:11.4f} {gain[1]:+9.4f} {s_hot:8.1f} {s_ord:9.1f}"
            )
            lines.append(line)
            print(line, flush=True)
    summary = [""]
    for learner, values in gains.items():
        cv, test = np.asarray(values).T
        summary.append(
            f"{learner:14s} ordinal better in CV on {(cv > 0).sum()} of {len(cv)} "
            f"(mean {cv.mean():+.4f}, worst {cv.min():+.4f}); on test {(test > 0).sum()} "
            f"of {len(test)} (mean {test.mean():+.4f}, worst {test.min():+.4f})"
        )
    print("\n".join(summary), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "encoding.md").write_text(
        "# Categorical encoding for forests\n\n`python -m benchmarks.encoding`\n\n```\n"
        + "\n".join(lines + summary)
        + "\n```\n"
    )


if __name__ == "__main__":
    main()
