"""The shape docs/architecture.md promises: small modules, a flow that reads as the pipeline,
tasks that never import tasks."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("trialflow", "flows", "tasks", "featurizers", "learners", "deployments", "infra")
MAX_MODULE_LINES = 400
MAX_FLOW_LINES = 50


def sources() -> list[Path]:
    return [p for folder in FOLDERS for p in (ROOT / folder).rglob("*.py") if not p.is_symlink()]


def test_no_module_is_over_400_lines():
    long = {
        str(p.relative_to(ROOT)): n
        for p in sources()
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES
    }
    assert not long, long


def test_the_automl_flow_is_one_task_call_per_step():
    tree = ast.parse((ROOT / "flows" / "automl.py").read_text(encoding="utf-8"))
    (flow,) = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == "automl"]
    assert flow.end_lineno - flow.lineno + 1 <= MAX_FLOW_LINES
    # Wiring only: no loops, no raising, no timing of what Prefect already records.
    assert not [n for n in ast.walk(flow) if isinstance(n, ast.For | ast.While | ast.Raise)]
    assert "time" not in {n.id for n in ast.walk(flow) if isinstance(n, ast.Name)}


def test_tasks_never_import_other_tasks():
    shared = {"trialflow.tasks.step"}  # the one way a task is declared
    for path in (ROOT / "tasks").glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported = {
            n.module
            for n in ast.walk(tree)
            if isinstance(n, ast.ImportFrom) and (n.module or "").startswith("trialflow.tasks")
        }
        assert imported <= shared, (path.name, imported - shared)
