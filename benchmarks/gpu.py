"""GPU kernels and the GPU learner against NumPy on the same machine's CPU.

    python -m benchmarks.gpu --out DIR [--rows 10000000]

Runs where only NumPy, CuPy, pandas and scikit-learn are installed besides this source tree
(no Prefect, Dask or MLflow): it imports ``trialflow.gpu`` and ``trialflow.model.metrics`` only.
Without CuPy or a device it says so and reports the NumPy timings alone. Writes ``gpu.md``
and ``gpu.json`` into DIR and prints the table.

Timings: NumPy once (three times, median, when a run takes under half a second); CuPy
warmed up once, then the median of five runs, the stream synchronised. "With copy" adds
copying the inputs to the device and the result back. The NumPy ensemble baseline is the
project's loop (one blend scored at a time by the metric) timed on one round and scaled to
all rounds, every round costing the same.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
import traceback
from pathlib import Path

import numpy as np

from trialflow.gpu import kernels
from trialflow.gpu.arrays import gpu_device_count, to_host
from trialflow.gpu.losses import stacked_loss

LEVELS = 100_000
BINS = 255


def _cupy():
    if gpu_device_count() == 0:
        return None
    import cupy

    return cupy


def _sync(cp) -> None:
    if cp is not None:
        cp.cuda.Device().synchronize()


def _numpy_seconds(run) -> float:
    started = time.perf_counter()
    run()
    first = time.perf_counter() - started
    if first >= 0.5:
        return first
    times = [first]
    for _ in range(2):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _gpu_seconds(cp, run, repeats: int = 5) -> float:
    run()
    _sync(cp)
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        _sync(cp)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def _difference(a, b) -> float:
    a, b = np.asarray(to_host(a), dtype=float), np.asarray(to_host(b), dtype=float)
    return float(np.max(np.abs(a - b))) if a.size else 0.0


def kernel_cases(rows: int, rng: np.random.Generator) -> list[tuple[str, tuple, object]]:
    """(name, host inputs, kernel taking arrays of one module) for each kernel."""
    y = rng.random(rows) < 0.3
    score = rng.normal(size=rows) + y
    values = rng.lognormal(size=rows)
    values[rng.random(rows) < 0.01] = np.nan
    codes = rng.integers(0, LEVELS, rows)
    target = (rng.random(rows) < 0.2 + (codes % 7) / 20).astype(np.float64)
    fold_of = rng.integers(0, 5, rows)
    folds = [(np.flatnonzero(fold_of != f), np.flatnonzero(fold_of == f)) for f in range(5)]

    def out_of_fold(c, t, *fold_arrays):
        pairs = list(zip(fold_arrays[::2], fold_arrays[1::2], strict=True))
        return kernels.target_encode_out_of_fold(c, t, pairs, n_levels=LEVELS)

    def column_fit(c, t, *fold_arrays):
        # What the high-cardinality featurizer does per column: the codes and target copied
        # once, then frequency, out-of-fold and full target encodings.
        xp = kernels.module_of(c)
        full, _ = kernels.target_encode(c, t, n_levels=LEVELS)
        return xp.concatenate(
            [kernels.frequency_encode(c, n_levels=LEVELS), out_of_fold(c, t, *fold_arrays), full]
        )

    return [
        ("ROC AUC by ranks", (y, score), kernels.roc_auc),
        (f"quantile binning ({BINS} bins)", (values,), lambda v: kernels.quantile_bins(v, BINS)),
        (
            f"frequency encoding ({LEVELS:,} levels)",
            (codes,),
            lambda c: kernels.frequency_encode(c, n_levels=LEVELS),
        ),
        (
            f"target encoding ({LEVELS:,} levels)",
            (codes, target),
            lambda c, t: kernels.target_encode(c, t, n_levels=LEVELS)[0],
        ),
        (
            f"out-of-fold target encoding (5 folds, {LEVELS:,} levels)",
            (codes, target, *[a for pair in folds for a in pair]),
            out_of_fold,
        ),
        (
            "high-cardinality column fit (frequency, 5-fold and full target encoding)",
            (codes, target, *[a for pair in folds for a in pair]),
            column_fit,
        ),
    ]


def bench_kernels(rows: int, cp, rng) -> list[dict]:
    results = []
    for name, inputs, kernel in kernel_cases(rows, rng):
        print(f"  {name} ...", flush=True)
        row = {"name": name, "size": f"{rows:,} rows"}
        expected = kernel(*inputs)
        row["numpy_s"] = _numpy_seconds(lambda k=kernel, i=inputs: k(*i))
        if cp is not None:
            resident = [cp.asarray(a) for a in inputs]
            row["agreement"] = _difference(kernel(*resident), expected)
            row["gpu_s"] = _gpu_seconds(cp, lambda k=kernel, d=resident: k(*d))
            row["gpu_copy_s"] = _gpu_seconds(
                cp, lambda k=kernel, i=inputs: to_host(k(*[cp.asarray(a) for a in i])), 3
            )
            del resident
        results.append(row)
    return results


def bench_ensemble(models: int, rows: int, rounds: int, cp, rng) -> list[dict]:
    from trialflow.model.metrics import METRICS

    labels = rng.integers(0, 2, rows)
    classes = ["no", "yes"]
    y = np.asarray(classes)[labels]
    host = np.empty((models, rows, 2))
    for i in range(models):
        logits = rng.normal(scale=1.0 + i / 20, size=(rows, 2)) + np.eye(2)[labels]
        host[i] = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    results = []
    for metric in ("log_loss", "roc_auc"):
        print(f"  ensemble selection ({metric}) ...", flush=True)
        m = METRICS[metric]

        def loss(p, m=m):
            return m.loss(m.score(y, p, classes))

        predictions = list(host)
        loss(host[0])  # the metric's first call imports scikit-learn's metrics: not timed
        started = time.perf_counter()
        first_round = kernels.greedy_selection(predictions, rounds=1, loss=loss)
        row = {
            "name": f"ensemble selection, {metric} ({rounds} rounds)",
            "size": f"{models} models × {rows:,} rows",
            "numpy_s": (time.perf_counter() - started) * rounds,
        }
        if cp is not None:
            stacked = stacked_loss(metric, y, classes, cp)
            resident = cp.asarray(host)

            def select(stack, rounds=rounds, stacked=stacked):
                return kernels.greedy_selection(stack, rounds=rounds, stacked_loss=stacked)

            one = kernels.greedy_selection(resident, rounds=1, stacked_loss=stacked)
            row["agreement"] = float(np.abs(one - first_round).max())
            row["gpu_s"] = _gpu_seconds(cp, lambda r=resident: select(r), 3)
            row["gpu_copy_s"] = _gpu_seconds(cp, lambda: select(cp.asarray(host)), 3)
            del resident
        results.append(row)
    return results


def bench_mlp(rows: int, features: int, cp, rng) -> list[dict]:
    from trialflow.gpu.mlp import MLPClassifier

    X = rng.normal(size=(rows, features)).astype(np.float32)
    y = (X[:, :5].sum(axis=1) + rng.normal(size=rows) > 0).astype(int)
    results = []
    gpu_epochs = 5
    for batch in (1024, 4096):
        print(f"  MLP epoch, batch {batch} ...", flush=True)

        def fit(device, epochs, batch=batch):
            model = MLPClassifier(
                epochs=epochs, batch_size=batch, validation_fraction=0.0, device=device
            )
            started = time.perf_counter()
            model.fit(X, y)
            return (time.perf_counter() - started) / epochs

        row = {
            "name": f"MLP trial, 2×64 units, batch {batch} (seconds per epoch)",
            "size": f"{rows:,} × {features}",
            "numpy_s": fit("cpu", 1),
        }
        if cp is not None:
            MLPClassifier(epochs=1, batch_size=batch, device="gpu").fit(X[:10_000], y[:10_000])
            # The host matrix is copied per fit here, as in a trial's first fold.
            row["gpu_copy_s"] = fit("gpu", gpu_epochs)
            row["gpu_s"] = row["gpu_copy_s"]
        results.append(row)
    return results


def check_gpu_model_scores_on_cpu(cp, rng) -> dict:
    """A model trained on the GPU, pickled and scored with NumPy alone: its weights are
    host arrays, so it predicts on a machine without CuPy as it does on the device."""
    import pickle

    from trialflow.gpu.mlp import MLPClassifier

    X = rng.normal(size=(50_000, 20)).astype(np.float32)
    y = (X[:, :3].sum(axis=1) + rng.normal(size=len(X)) > 0).astype(int)
    model = MLPClassifier(epochs=5, batch_size=512, device="gpu").fit(X[:40_000], y[:40_000])
    on_device = model.predict_proba(X[40_000:])
    restored = pickle.loads(pickle.dumps(model))
    restored.device = "cpu"
    on_host = restored.predict_proba(X[40_000:])
    weights_on_host = all(type(w) is np.ndarray for w in restored.coefs_ + restored.intercepts_)
    accuracy = float((on_host.argmax(axis=1) == y[40_000:]).mean())
    return {
        "weights_are_numpy": weights_on_host,
        "max_difference_device_vs_numpy": float(np.abs(on_device - on_host).max()),
        "holdout_accuracy_numpy": accuracy,
    }


def environment(cp) -> dict:
    info = {
        "cpu_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "cpu": platform.processor() or platform.machine(),
        "numpy": np.__version__,
        "device": None,
    }
    if cp is not None:
        properties = cp.cuda.runtime.getDeviceProperties(0)
        info["device"] = properties["name"].decode()
        info["cupy"] = cp.__version__
    return info


def markdown(info: dict, rows: list[dict]) -> str:
    def seconds(value):
        return "—" if value is None else f"{value:.4f}"

    def ratio(a, b):
        return "—" if a is None or b is None or b <= 0 else f"{a / b:,.0f}×"

    lines = [
        "# GPU kernels against NumPy",
        "",
        f"Device: {info['device'] or 'none (CuPy or a CUDA device is absent: NumPy only)'}; "
        f"CPU: {info['cpu']}, {info['cpu_cores']} cores ({info['usable_cores']} usable); "
        f"NumPy {info['numpy']}" + (f", CuPy {info['cupy']}" if info.get("cupy") else "") + ".",
        "",
        "| kernel | size | NumPy s | CuPy s (data on GPU) | CuPy s (with copy) "
        "| speed-up | speed-up with copy | max difference |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    check = info.get("gpu_model_on_cpu")
    if check:
        lines[-2:-2] = [
            "A model trained on the GPU, pickled and scored with NumPy: weights NumPy arrays "
            f"{check['weights_are_numpy']}, largest difference from the device's probabilities "
            f"{check['max_difference_device_vs_numpy']:.1e}, holdout accuracy "
            f"{check['holdout_accuracy_numpy']:.3f}.",
            "",
        ]
    for r in rows:
        numpy_s, gpu_s, copy_s = r.get("numpy_s"), r.get("gpu_s"), r.get("gpu_copy_s")
        agreement = r.get("agreement")
        lines.append(
            f"| {r['name']} | {r['size']} | {seconds(numpy_s)} | {seconds(gpu_s)} "
            f"| {seconds(copy_s)} | {ratio(numpy_s, gpu_s)} | {ratio(numpy_s, copy_s)} "
            f"| {'—' if agreement is None else f'{agreement:.2e}'} |"
        )
    return "\n".join(lines) + "\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for gpu.md and gpu.json")
    parser.add_argument("--rows", type=int, default=10_000_000, help="rows per kernel")
    parser.add_argument("--models", type=int, default=60, help="ensemble candidates")
    parser.add_argument("--ensemble-rows", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=50, help="ensemble selection rounds")
    parser.add_argument("--mlp-rows", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    cp = _cupy()
    info = environment(cp)
    if cp is None:
        print("CuPy or a CUDA device is absent: timing NumPy only.", flush=True)
    else:
        print(f"GPU: {info['device']}", flush=True)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    sections = [
        ("kernels", lambda: bench_kernels(args.rows, cp, rng)),
        (
            "ensemble selection",
            lambda: bench_ensemble(
                args.models, min(args.ensemble_rows, args.rows), args.rounds, cp, rng
            ),
        ),
        ("MLP", lambda: bench_mlp(min(args.mlp_rows, args.rows), 50, cp, rng)),
    ]
    if cp is not None:
        sections.append(("a GPU-trained model scored on NumPy", lambda: _check(info, cp, rng)))
    failed = []
    for name, run in sections:
        print(f"{name}:", flush=True)
        try:
            rows += run()
        except Exception:  # one section's failure must not lose the others' figures
            traceback.print_exc()
            failed.append(name)
        # Written after every section: a run cut short by its time limit keeps what it has.
        info["seconds"] = round(time.perf_counter() - started, 1)
        info["failed"] = failed
        table = markdown(info, rows)
        (out / "gpu.md").write_text(table)
        (out / "gpu.json").write_text(json.dumps({"environment": info, "results": rows}, indent=2))
    print(table)
    return 1 if failed else 0


def _check(info: dict, cp, rng) -> list[dict]:
    info["gpu_model_on_cpu"] = check_gpu_model_scores_on_cpu(cp, rng)
    print(f"  {info['gpu_model_on_cpu']}", flush=True)
    return []


if __name__ == "__main__":
    raise SystemExit(main())
