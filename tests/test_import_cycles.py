"""No import cycle between trialflow's modules at import time.

Module-level imports only: an import inside a function runs when the function is called
(deferred for start-up cost), so it cannot leave a module half-initialised at import.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The installed package's folders (pyproject.toml's package-dir).
PACKAGES = {
    "trialflow": ROOT / "trialflow",
    "trialflow.flows": ROOT / "flows",
    "trialflow.tasks": ROOT / "tasks",
    "trialflow.featurizers": ROOT / "featurizers",
    "trialflow.learners": ROOT / "learners",
}


def modules() -> dict[str, Path]:
    found = {}
    for package, folder in PACKAGES.items():
        for path in folder.rglob("*.py"):
            relative = path.relative_to(folder).with_suffix("")
            parts = [p for p in relative.parts if p != "__init__"]
            found[".".join([package, *parts])] = path
    return found


def module_imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The trialflow modules ``name`` imports at module level (not under TYPE_CHECKING)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    is_package = path.name == "__init__.py"
    imported: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.Import):
            imported |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            imported.add(base)
            imported |= {f"{base}.{a.name}" for a in node.names}
    return {m for m in imported if m in known and m != name}


def test_no_import_cycles():
    found = modules()
    graph = {name: module_imports(name, path, set(found)) for name, path in found.items()}
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target) :], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)
