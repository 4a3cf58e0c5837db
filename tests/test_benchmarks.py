"""The benchmark harness end to end: `python -m benchmarks.run --fast` in a subprocess, with
trialflow and the two plain defaults on credit_data (about 35 s; fast mode's second table,
concrete, adds a trialflow run and nothing the harness does differently)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from benchmarks.suite import SUITE

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[1]
TABLES = ["credit_data"]
# Named, not left to --fast's default, which adds FLAML and AutoGluon wherever they are
# installed and would triple the run time.
SYSTEMS = ["trialflow", "lgbm_default", "hgb_default"]
# The two fast-mode entries of ../shared/benchmarks/suite.json, for checkouts without it (CI).
FALLBACK_SUITE = {
    "tabular": [
        {
            "name": "credit_data",
            "package": "modeldata",
            "table": "credit_data",
            "target": "Status",
            "task": "binary",
        },
        {
            "name": "concrete",
            "package": "modeldata",
            "table": "concrete",
            "target": "compressive_strength",
            "task": "regression",
        },
    ],
    "drop_always": ["rownames"],
}


def test_fast_mode_writes_a_scored_row_per_table_and_system(tmp_path: Path) -> None:
    env = dict(os.environ)
    if not SUITE.exists():
        suite = tmp_path / "suite.json"
        suite.write_text(json.dumps(FALLBACK_SUITE))
        env["TRIALFLOW_SUITE"] = str(suite)
    out = tmp_path / "results"
    command = [
        *(sys.executable, "-m", "benchmarks.run", "--fast", "--systems", ",".join(SYSTEMS)),
        # Fast mode's 15 s is for people; the harness's plumbing is the same at 8 s.
        *("--budget", "8", "--tables", ",".join(TABLES)),
    ]
    run = subprocess.run(
        [*command, "--out", str(out)],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]

    rows = pd.read_csv(out / "results.csv")
    # trialflow runs in a new project home, then again in that home (its warm column).
    assert sorted(zip(rows["table"], rows["system"], strict=True)) == sorted(
        (t, s) for t in TABLES for s in [*SYSTEMS, "trialflow@warm"]
    )
    failed = rows[rows["status"] != "ok"]
    assert failed.empty, failed[["table", "system", "message"]].to_string()
    assert np.isfinite(rows["score"].astype(float)).all()
    assert (rows["fit_seconds"] > 0).all() and (rows["peak_rss_mb"] > 0).all()
    trialflow = rows[rows["system"].str.startswith("trialflow")]
    assert len(trialflow) == 2 and (trialflow["trials"] >= 1).all()
    for timings in map(json.loads, trialflow["timings"]):
        assert timings["first_trial"] > 0 and timings["search_ended"] >= timings["first_trial"]

    markdown = (out / "results.md").read_text()
    assert "| credit_data | roc_auc |" in markdown and "Mean rank" in markdown
    assert (out / "normalized.png").read_bytes().startswith(b"\x89PNG")


def test_time_split_trains_on_the_earliest_75_percent() -> None:
    from benchmarks.suite import Table, split

    table = Table(
        "chicago", "modeldata", "Chicago", "ridership", "regression", split="time", time="date"
    )
    train, test = split(table)
    assert train["date"].max() < test["date"].min()
    assert len(train) == round(0.75 * (len(train) + len(test)))


def _rows(scores: dict[tuple[str, str], float | None]) -> pd.DataFrame:
    metric = {"auc": "roc_auc", "ll": "log_loss"}
    return pd.DataFrame(
        [
            {
                "table": table,
                "metric": metric[table],
                "system": system,
                "status": "failed" if score is None else "ok",
                "score": score,
            }
            for (table, system), score in scores.items()
        ]
    )


def test_report_normalises_per_table_and_counts_ties_by_metric() -> None:
    from benchmarks import report

    rows = _rows(
        {
            ("auc", "trialflow"): 0.901,
            ("auc", "lgbm_default"): 0.80,
            ("auc", "hgb_default"): 0.85,
            ("auc", "flaml"): 0.90,
            ("ll", "trialflow"): 0.50,  # log loss: lower is better
            ("ll", "lgbm_default"): 0.60,
            ("ll", "hgb_default"): 0.70,
            ("ll", "flaml"): None,
        }
    )
    norm = report.normalized(rows)
    assert norm.loc["auc", "hgb_default"] == 0 and norm.loc["auc", "trialflow"] == 1
    assert norm.loc["auc", "flaml"] == pytest.approx(0.05 / 0.051)
    assert norm.loc["ll", "trialflow"] == 1 and norm.loc["ll", "hgb_default"] == pytest.approx(-1)
    # 0.901 vs 0.900 AUC is a tie; flaml failing on "ll" is a win for trialflow.
    assert report.head_to_head(rows)["flaml"] == (1, 1, 0)
    assert report.mean_ranks(rows)["trialflow"] == 1
    assert "**0.9010**" in report.score_table(rows) and "**0.5000**" in report.score_table(rows)


def test_hgb_default_keeps_the_254_most_frequent_levels() -> None:
    from benchmarks.defaults import HGB_MAX_LEVELS, cap_levels, features

    frame = pd.DataFrame({"code": [f"c{i}" for i in range(300)] + ["c0"] * 10, "y": 0})
    X = cap_levels(features(frame, "y"))
    assert len(X["code"].cat.categories) == HGB_MAX_LEVELS and "c0" in X["code"].cat.categories
    assert X["code"].isna().sum() == 300 - HGB_MAX_LEVELS
