"""Where the recommender's knowledge lives: the knowledge base shipped with the package, the
history of this project's own runs, and the refreshed base combining both.

Every completed run appends its profile and trial results to ``metalearn/history.jsonl``
under the project home. ``trialflow metalearn refresh`` writes the shipped base plus that
history to ``metalearn/knowledge_base.json.gz`` there, which runs then use instead of the
shipped one. All three are JSON: nothing is unpickled.
"""

from __future__ import annotations

import gzip
import json
from functools import lru_cache
from pathlib import Path

from trialflow.metalearn.portfolio import PORTFOLIO_VERSION, portfolio
from trialflow.runtime.home import project_home

SHIPPED = Path(__file__).parent / "knowledge_base.json.gz"
# Extra trial parameters a run adds to a portfolio pipeline (log target, class weights,
# categorical encoding); a trial is still that pipeline.
RUN_EXTRAS = ("target_transform", "class_weight", "categorical_encoding")


def store_directory() -> Path:
    return project_home() / "metalearn"


def history_path() -> Path:
    return store_directory() / "history.jsonl"


def refreshed_path() -> Path:
    return store_directory() / "knowledge_base.json.gz"


def read_document(path: Path) -> dict:
    return json.loads(gzip.decompress(path.read_bytes()))


def knowledge_document() -> dict | None:
    """The refreshed knowledge base if there is one for this portfolio, else the shipped."""
    for path in (refreshed_path(), SHIPPED):
        if path.exists():
            document = read_document(path)
            if document.get("portfolio_version") == PORTFOLIO_VERSION:
                return document
    return None


@lru_cache(maxsize=4)
def _recommender(path: str, mtime: float):
    from trialflow.metalearn.recommender import Knowledge, Recommender

    return Recommender(Knowledge.from_document(read_document(Path(path))))


def load_recommender(own_runs: bool = True):
    """The recommender fitted on the current knowledge base (cached per file), or None.

    Runs finished in this project since the last refresh are folded in first (about 30 ms),
    so the recommender learns from the user's own tables without being asked to. Without
    ``own_runs``, only the shipped knowledge base: a deterministic run's proposals must not
    change because an earlier run in the same project finished (reproducing a run would
    otherwise see the original run's own results).
    """
    if own_runs and _history_is_newer():
        refresh()
    for path in (refreshed_path(), SHIPPED) if own_runs else (SHIPPED,):
        if path.exists() and read_document(path).get("portfolio_version") == PORTFOLIO_VERSION:
            return _recommender(str(path), path.stat().st_mtime)
    return None


def _history_is_newer() -> bool:
    history, refreshed = history_path(), refreshed_path()
    if not history.exists():
        return False
    return not refreshed.exists() or history.stat().st_mtime > refreshed.stat().st_mtime


def pipeline_key(learner: str, params: dict) -> str:
    plain = {k: v for k, v in params.items() if k not in RUN_EXTRAS}
    return learner + json.dumps(plain, sort_keys=True, default=str)


def pipeline_index() -> dict[str, int]:
    """Portfolio position of each pipeline, by its learner and parameters."""
    return {pipeline_key(p.learner, p.params): j for j, p in enumerate(portfolio())}


def record_run(
    *, name: str, task: str, metric: str, rows: int, profile: dict, trials: list
) -> Path:
    """Append a finished run's full-resource trials on portfolio pipelines to the history."""
    index = pipeline_index()
    pipelines = portfolio()
    results = {}
    for t in trials:
        j = index.get(pipeline_key(t.learner, t.params))
        if j is None or t.status != "ok" or t.score is None or t.rows < 1.0:
            continue
        pid = pipelines[j].id
        if pid not in results or _better(t.score, results[pid]["score"], metric):
            results[pid] = {"score": float(t.score), "seconds": round(float(t.wall_seconds), 4)}
    record = {
        "name": name,
        "task": task,
        "metric": metric,
        "rows": rows,
        "rows_evaluated": rows,
        "profile": profile,
        "portfolio_version": PORTFOLIO_VERSION,
        "results": results,
    }
    path = history_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    # One line per run, appended whole: a crash mid-write loses at most that run's line,
    # which reading skips.
    with path.open("a", encoding="utf-8") as handle:
        handle.write(json.dumps(record) + "\n")
    return path


def read_history() -> list[dict]:
    path = history_path()
    if not path.exists():
        return []
    records = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by a crash
        if record.get("portfolio_version") == PORTFOLIO_VERSION and record.get("results"):
            records.append(record)
    return records


def refresh() -> tuple[Path, int, int]:
    """Write the shipped knowledge base plus this project's run history as the base runs
    use; returns (path, shipped datasets, runs added)."""
    from trialflow.runtime.files import write_atomically

    shipped = read_document(SHIPPED)
    history = read_history()
    ids = [p["id"] for p in shipped["pipelines"]]
    document = dict(shipped)
    document["datasets"] = shipped["datasets"] + [
        {k: r[k] for k in ("name", "task", "metric", "rows", "rows_evaluated", "profile")}
        for r in history
    ]
    document["scores"] = shipped["scores"] + [
        [r["results"].get(i, {}).get("score") for i in ids] for r in history
    ]
    document["seconds"] = shipped["seconds"] + [
        [r["results"].get(i, {}).get("seconds") for i in ids] for r in history
    ]
    path = refreshed_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = gzip.compress(json.dumps(document).encode(), mtime=0)
    write_atomically(path, lambda handle: handle.write(payload))
    return path, len(shipped["datasets"]), len(history)


def _better(a: float, b: float, metric: str) -> bool:
    from trialflow.model.metrics import METRICS

    return a > b if METRICS[metric].greater_is_better else a < b
