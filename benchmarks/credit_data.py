"""Issue 2's acceptance figures: `trialflow train` on credit_data with a 60 s budget.

Prints the wall clock of the whole command (start-up included), its split by stage, and the
test AUC on the suite's split next to LightGBM's defaults on the same split.

    python -m benchmarks.credit_data [--budget 60]
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.defaults import lightgbm_default
from benchmarks.suite import load_suite, score, split


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=60)
    args = parser.parse_args()
    table = load_suite()["credit_data"]
    train, test = split(table)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "credit_train.csv"
        train.to_csv(data, index=False)
        env = {**os.environ, "TRIALFLOW_HOME": os.environ.get("TRIALFLOW_HOME", tmp)}
        command = [
            str(Path(sys.executable).with_name("trialflow")),
            "train",
            str(data),
            "--target",
            table.target,
            "--time-budget",
            str(args.budget),
            "--name",
            "bench-credit",
            "--no-progress",
        ]
        started = time.perf_counter()
        run = subprocess.run(command, capture_output=True, text=True, env=env)
        wall = time.perf_counter() - started
        if run.returncode != 0:
            raise SystemExit(f"trialflow failed:\n{run.stderr}")
        version = re.search(r"Registered model: bench-credit version (\d+)", run.stdout)[1]
        os.environ["TRIALFLOW_HOME"] = env["TRIALFLOW_HOME"]
        import trialflow

        model = trialflow.load_model(f"bench-credit/{version}")
        X_test = test.drop(columns=table.target)
        auc = score(table, test[table.target], model.predict_proba(X_test), list(model.classes_))
        split_line = re.search(r"Wall clock: .*", run.stdout, re.S)[0].replace("\n", " ")
    print(f"budget                  {args.budget:.0f} s")
    print(f"wall clock (process)    {wall:.1f} s")
    print(f"trialflow               {split_line}")
    print(f"test AUC trialflow      {auc:.4f}")
    print(f"test AUC LightGBM dflt  {lightgbm_default(train, test, table):.4f}")


if __name__ == "__main__":
    main()
