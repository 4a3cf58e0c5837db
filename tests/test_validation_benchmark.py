"""The data-validation benchmark at toy sizes: it runs end to end and prints its figures
(timings are not asserted; the sizes are far below the targets' 1 M rows)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from benchmarks import suite, validation

# One small suite table, so the test needs neither ../shared nor more than a few seconds.
TINY_SUITE = {
    "tabular": [
        {
            "name": "concrete",
            "package": "modeldata",
            "table": "concrete",
            "target": "compressive_strength",
            "task": "regression",
        }
    ],
    "drop_always": ["rownames"],
}


@pytest.fixture
def tiny_suite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "suite.json"
    path.write_text(json.dumps(TINY_SUITE))
    monkeypatch.setattr(suite, "SUITE", path)
    return path


def test_prints_scoring_and_training_figures(
    tiny_suite: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    results = tmp_path / "validation.md"
    monkeypatch.setattr(validation, "RESULTS", results)
    validation.main(["--rows", "2000", "--columns", "8", "--tables", "concrete", "--write"])
    out = capsys.readouterr().out

    assert "## Scoring: check_batch on 2,000 rows × 8 columns" in out
    row = re.search(r"\| 2,000 \| 8 \| [\d.]+ \| [\d.]+ \| [\d.]+ \| ([\d,]+) \(([\d,]+)\) \|", out)
    assert row, out
    # Every row planted far outside the training range is flagged, and only those.
    assert row.group(1) == row.group(2) != "0"
    assert "has values outside the training range" in out
    assert "num3: changed type" in out
    assert "cat0: has categories unseen in training" in out

    assert "## Training: validation steps of a run, per suite table" in out
    assert re.search(r"\| concrete \| [\d,]+ \| \d+ \|( [\d.]+ \|){7} [\d.]+% \|", out), out
    assert "Max " in out and "of 60 s, concrete" in out
    assert "Leakage flagged: none." in out

    written = results.read_text()
    assert written.startswith("# Data validation benchmark")
    assert "| concrete |" in written and "| 2,000 | 8 |" in written


def test_unknown_table_is_named(tiny_suite: Path) -> None:
    with pytest.raises(SystemExit, match="nosuch"):
        validation.measure_training(["nosuch"])
