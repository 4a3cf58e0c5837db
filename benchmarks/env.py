"""What the benchmark ran on: the machine, and the Python and package versions the systems'
interpreter has. `python -m benchmarks.env` prints the interpreter's side as JSON, so the
harness can ask an interpreter other than its own."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from importlib import metadata, util
from pathlib import Path

import psutil

REPO = Path(__file__).resolve().parents[1]


def interpreter_facts() -> dict:
    """This interpreter: Python version, each system's package versions, what is importable."""
    from benchmarks.systems import DISTRIBUTIONS, MODULES

    versions = {}
    for names in DISTRIBUTIONS.values():
        for name in names:
            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                continue  # not installed here: left out of the header
    importable = {system: _importable(module) for system, module in MODULES.items()}
    return {"python": platform.python_version(), "versions": versions, "importable": importable}


def _importable(module: str) -> bool:
    try:
        return util.find_spec(module) is not None
    except ModuleNotFoundError:  # a dotted name whose parent package is missing
        return False


def probe(python: str) -> dict:
    """interpreter_facts() as `python` sees them."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), _pythonpath()]))}
    out = subprocess.run(
        [python, "-m", "benchmarks.env"], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout)


def _pythonpath() -> str:
    return os.environ.get("PYTHONPATH", "")


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "cpu": _cpu_model(),
        "os": platform.platform(terse=True),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass  # not Linux: fall back to what platform knows
    return platform.processor() or platform.machine()


if __name__ == "__main__":
    json.dump(interpreter_facts(), sys.stdout)
