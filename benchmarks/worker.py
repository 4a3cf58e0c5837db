"""One system on one table, in a process of its own (started by benchmarks.runner):

    python -m benchmarks.worker SPEC.json

SPEC names the system, the table, the budget, the split's parquet files, where to write the
test predictions (.npy) and the result (.json), and options for the system. The result
records when the model was fitted, so the caller can time process start to fitted model.
"""

from __future__ import annotations

import json
import sys
import time
import traceback
from pathlib import Path


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    result_path = Path(spec["result"])
    try:
        result = run(spec)
    except Exception as exc:  # any failure of the system is a result row, not a crash
        traceback.print_exc()
        result = {"status": "failed", "message": failure_message(exc, spec["system"])}
    tmp = result_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, default=str))
    tmp.replace(result_path)  # atomic: the harness never reads half a result
    return 0 if result["status"] == "ok" else 1


def run(spec: dict) -> dict:
    import numpy as np
    import pandas as pd

    from benchmarks.suite import Table
    from benchmarks.systems import SYSTEMS

    table = Table(**spec["table"])
    train = pd.read_parquet(spec["train"])
    X_test = pd.read_parquet(spec["test"]).drop(columns=table.target)
    fit = SYSTEMS[spec["system"]]
    fitted = fit(train, table, spec["budget"], Path(spec["scratch"]), **spec.get("options", {}))
    fitted_at = time.time()
    predictions = np.asarray(fitted.predict(X_test), dtype=float)
    np.save(spec["predictions"], predictions)
    classes = None if fitted.classes is None else [_plain(c) for c in fitted.classes]
    return {"status": "ok", "fitted_at": fitted_at, "classes": classes, "extra": fitted.extra}


def failure_message(exc: BaseException, system: str) -> str:
    from benchmarks.systems import MODULES

    module = MODULES[system]
    # Only the system's own package (or its parent) counts as "not installed"; a missing
    # dependency deeper down is a real failure and keeps its message.
    if (
        isinstance(exc, ModuleNotFoundError)
        and exc.name
        and f"{module}.".startswith(f"{exc.name}.")
    ):
        return f"not installed ({exc}); run `make bench-env` and use .bench-venv/bin/python"
    # One line, so results.csv and the Failures list in results.md stay readable.
    return " ".join(f"{type(exc).__name__}: {exc}".split())[:500]


def _plain(value):
    """A class label as JSON keeps it: numpy scalars become Python ones."""
    return value.item() if hasattr(value, "item") else value


if __name__ == "__main__":  # Dask's spawned workers re-import this module: run once only
    sys.exit(main(sys.argv[1]))
