"""Featurization time and peak memory on a large mixed table.

    python -m benchmarks.featurization [--rows 1000000] [--seed 0]

Builds a table of ``--rows`` rows × 30 columns (20 numeric with gaps, 2 booleans, 5
categoricals of 3–50 levels, one of 20 000 levels, a date and a short text), then plans the
columns and fits the table featurizer on all rows (``fit_transform``, as the final refit
does), with US holidays on the date. Prints the seconds of each step and the process's peak
resident memory against the input frame's own size (targets: ≤ 60 s on 2 cores, ≤ 3× the
input). The table is synthetic: no real table of this size ships offline.
"""

from __future__ import annotations

import argparse
import threading
import time

import numpy as np
import pandas as pd
import psutil

TARGET_SECONDS = 60.0
TARGET_MEMORY_RATIO = 3.0
WORDS = np.array(
    [
        "late",
        "early",
        "fast",
        "slow",
        "broken",
        "fine",
        "cheap",
        "dear",
        "fresh",
        "stale",
        "kind",
        "rude",
        "loud",
        "quiet",
    ]
)


def make_table(rows: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {}
    for i in range(20):
        values = rng.normal(size=rows)
        values[rng.random(rows) < 0.05] = np.nan
        columns[f"num{i}"] = values
    for i in range(2):
        columns[f"flag{i}"] = rng.choice(np.array(["yes", "no"]), size=rows)
    for i, levels in enumerate((3, 5, 10, 20, 50)):
        columns[f"cat{i}"] = pd.Categorical.from_codes(
            rng.integers(0, levels, size=rows), [f"c{i}_{j}" for j in range(levels)]
        ).astype(str)
    columns["shop"] = pd.Categorical.from_codes(
        rng.integers(0, 20_000, size=rows), [f"shop{j}" for j in range(20_000)]
    ).astype(str)
    days = rng.integers(0, 3 * 365, size=rows)
    columns["day"] = pd.Timestamp("2021-01-01") + pd.to_timedelta(days, unit="D")
    picks = rng.integers(0, len(WORDS), size=(rows, 5))
    columns["note"] = [" ".join(words) for words in WORDS[picks]]
    frame = pd.DataFrame(columns)
    frame["target"] = (frame["num0"].fillna(0) + (frame["cat0"] == "c0_1") > 0.5).astype(int)
    return frame


class PeakMemory:
    """Samples this process's resident memory in a thread; ``peak`` is the largest seen."""

    def __init__(self, interval: float = 0.05):
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._process = psutil.Process()

    def __enter__(self) -> PeakMemory:
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._process.memory_info().rss)
            time.sleep(self.interval)

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, self._process.memory_info().rss)


def measure(rows: int, seed: int) -> dict:
    from trialflow.featurizers import TableFeaturizer, plan_columns

    frame = make_table(rows, seed)
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    input_bytes = int(X.memory_usage(deep=True).sum())
    baseline = psutil.Process().memory_info().rss
    with PeakMemory() as memory:
        started = time.perf_counter()
        plan = plan_columns(X, target="target", exclude={}, holidays="US")
        planned = time.perf_counter()
        features = TableFeaturizer(plan).fit_transform(X, y)
        fitted = time.perf_counter()
    return {
        "rows": rows,
        "columns": X.shape[1],
        "features": features.shape[1],
        "kinds": {k: len(v) for k, v in plan.kinds.items() if v},
        "plan_seconds": planned - started,
        "featurize_seconds": fitted - planned,
        "total_seconds": fitted - started,
        "input_mb": input_bytes / 2**20,
        # Memory above what the process held with the input frame already built.
        "peak_extra_mb": (memory.peak - baseline) / 2**20,
    }


def format_result(r: dict) -> list[str]:
    ratio = r["peak_extra_mb"] / r["input_mb"]
    return [
        f"Featurization: {r['rows']:,} rows × {r['columns']} columns "
        f"({', '.join(f'{n} {k}' for k, n in r['kinds'].items())}) → {r['features']} features",
        f"  plan {r['plan_seconds']:.1f} s, fit_transform {r['featurize_seconds']:.1f} s, "
        f"total {r['total_seconds']:.1f} s "
        f"({'meets' if r['total_seconds'] <= TARGET_SECONDS else 'misses'} the "
        f"{TARGET_SECONDS:.0f} s target)",
        f"  input frame {r['input_mb']:.0f} MB; peak memory above it {r['peak_extra_mb']:.0f} MB "
        f"= {ratio:.2f}× the input "
        f"({'meets' if ratio <= TARGET_MEMORY_RATIO else 'misses'} the "
        f"{TARGET_MEMORY_RATIO:.0f}× target)",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    print("\n".join(format_result(measure(args.rows, args.seed))))


if __name__ == "__main__":
    main()
