"""What `trialflow train` shows: a progress bar while it runs, then the leaderboard."""

from __future__ import annotations

import threading
import time

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from trialflow.runtime import progress

stderr = Console(stderr=True)
# Off a terminal (pipes, CI logs) rich would wrap at 80 columns; the table needs more.
stdout = Console(width=None if Console().is_terminal else 160)


class TrainProgress:
    """A progress bar over the time budget, with the stage, trial count and best score."""

    def __init__(self, config, *, enabled: bool = True):
        self.config = config
        self.enabled = enabled and stderr.is_terminal
        self._stage = "starting Prefect and Dask"
        self._trials = "trials 0"
        self._best = ""
        self._stop = threading.Event()

    def __enter__(self) -> TrainProgress:
        if not self.enabled:
            self._listening = progress.listening(self._print_event)
            self._listening.__enter__()
            return self
        self._progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=stderr,
            transient=True,
        )
        self._task = self._progress.add_task(self._stage, total=self.config.time_budget, detail="")
        self._started = time.time()
        self._progress.__enter__()
        self._listening = progress.listening(self._on_event)
        self._listening.__enter__()
        self._ticker = threading.Thread(target=self._tick, daemon=True)
        self._ticker.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._listening.__exit__(*exc)
        if self.enabled:
            self._ticker.join(timeout=1)
            self._progress.__exit__(*exc)

    def _on_event(self, event: str, payload: dict) -> None:
        if event == "stage":
            self._stage = payload["name"]
        elif event == "trial":
            limit = f"/{self.config.max_trials}" if self.config.max_trials else ""
            self._trials = f"trials {payload['done']}{limit}"
            if payload["best"] is not None:
                self._best = f"best {payload['metric']} {payload['best']:.4f}"
        elif event == "resumed":
            self._trials = _resumed_text(payload)
        self._refresh()

    def _print_event(self, event: str, payload: dict) -> None:
        # Without a terminal (CI, logs) one line per stage beats a redrawn bar.
        if event == "stage":
            # markup=False: rich would read "[load & check]" as a style tag and print nothing.
            stderr.print(f"[{payload['name']}]", highlight=False, markup=False)
        elif event == "task":
            stderr.print(f"task: {payload['task']} ({payload['reason']})", highlight=False)
        elif event == "resumed":
            stderr.print(_resumed_text(payload), highlight=False)

    def _refresh(self) -> None:
        elapsed = min(time.time() - self._started, self.config.time_budget)
        detail = "  ".join(x for x in (self._trials, self._best) if x)
        self._progress.update(self._task, completed=elapsed, description=self._stage, detail=detail)

    def _tick(self) -> None:
        while not self._stop.wait(0.25):
            self._refresh()


def _resumed_text(payload: dict) -> str:
    if payload["finished"]:
        return f"reused the {payload['trials']} trials this flow run's search finished"
    return f"resumed {payload['trials']} trials an interrupted run of this data and config left"


def print_train_result(result, *, wall_seconds: float, top: int = 15) -> None:
    board = result.leaderboard
    table = Table(title=f"Leaderboard: {result.metric} ({result.task}), {len(board)} trials")
    for column in ("rank", "learner", result.metric, "status", "fit s", "worker", "config"):
        table.add_column(column, overflow="fold")
    for _, row in board.head(top).iterrows():
        score = row[result.metric]
        table.add_row(
            str(row["rank"]),
            row["learner"],
            "" if score != score or score is None else f"{score:.4f}",
            row["status"],
            f"{row['fit_seconds']:.2f}",
            row["worker"].rsplit(":", 1)[-1] if row["worker"] else "",
            _config_text(row["config"]) if row["status"] == "ok" else _short(row["error"]),
        )
    stdout.print(table)
    stdout.print(f"Task: {result.task} ({result.task_reason}).", highlight=False)
    if result.holdout_scores:
        scores = ", ".join(f"{k} {v:.4f}" for k, v in result.holdout_scores.items())
        stdout.print(
            f"Holdout scores: {scores} (cross-validated {result.metric} {result.best_score:.4f}).",
            highlight=False,
        )
    print_guardrails(result.guardrails)
    print_fairness(result.fairness)
    for column, reason in result.plan.dropped.items():
        if reason.startswith(GUARDED_DROPS):
            continue  # in the guardrails above
        stdout.print(f"Dropped column {column!r}: {_escape_markup(reason)}.")
    stdout.print(
        f"Registered model: {result.model_name} version {result.model_version} "
        f"(predict with: trialflow predict {result.model_name}/{result.model_version} DATA "
        "--output OUT)",
        highlight=False,
    )
    if result.report_path:
        # Plain print: a path must not wrap or take markup.
        print(f"Report: {result.report_path}")
    split = ", ".join(f"{k} {v:.1f} s" for k, v in result.timings.items())
    stdout.print(f"Wall clock: {wall_seconds:.1f} s ({split}).", highlight=False)


# Dropped-column reasons the guardrails already report.
GUARDED_DROPS = ("target leakage", "a single value", "all values are missing", "an identifier")
STATUS_STYLE = {"passed": "green", "done": "cyan", "alert": "bold red"}


def print_guardrails(guardrails: list) -> None:
    """Guardrails that did something or raise an alert, one row each; passed ones counted."""
    if not guardrails:
        return
    shown = [g for g in guardrails if g.status != "passed"]
    passed = [g.name for g in guardrails if g.status == "passed"]
    table = Table(title=f"Guardrails: {len(shown)} to read, {len(passed)} passed")
    for column in ("guardrail", "status", "found", "done about it"):
        table.add_column(column, overflow="fold")
    for g in shown:
        style = STATUS_STYLE.get(g.status, "")
        table.add_row(
            _escape_markup(g.name),
            f"[{style}]{g.status}[/]",
            _escape_markup(g.found),
            _escape_markup(g.action),
        )
    if shown:
        stdout.print(table)
    stdout.print(f"Guardrails passed: {', '.join(passed)}.", highlight=False)


def print_fairness(report) -> None:
    """Disparities per sensitive column, then the alerts they raise."""
    if report is None or report.disparities.empty:
        return
    table = Table(title="Fairness across sensitive groups (out-of-fold predictions)")
    columns = [c for c in report.disparities.columns]
    for column in columns:
        table.add_column(column.replace("_", " "), overflow="fold")
    for _, row in report.disparities.iterrows():
        table.add_row(
            *[_escape_markup(f"{v:.3f}" if isinstance(v, float) else str(v)) for v in row.tolist()]
        )
    stdout.print(table)
    for alert in report.alerts:
        stdout.print(f"[bold red]Fairness alert[/]: {_escape_markup(alert)}.")
    mitigation = getattr(report, "mitigation", None)
    if mitigation is not None:
        table = Table(
            title=f"Mitigation ({mitigation.constraint.replace('_', ' ')} on "
            f"{_escape_markup(mitigation.column)}), cross-fitted; registered: "
            f"{mitigation.registered}"
        )
        shown = mitigation.tradeoff
        table.add_column("model")
        for column in shown.columns:
            table.add_column(column.replace("_", " "), overflow="fold")
        for name, row in shown.iterrows():
            table.add_row(str(name), *[f"{v:.3f}" for v in row.tolist()])
        stdout.print(table)


def _config_text(config_json: str) -> str:
    """`name=value` pairs with 3 significant digits: readable, and the full values are in
    the leaderboard the run registered."""
    import json

    params = json.loads(config_json)
    return " ".join(
        f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items()
    )


def _short(text: str, width: int = 90) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def print_feature_plan(document: dict) -> None:
    """The plan of ``trialflow features``: output features, then the dropped columns."""
    table = Table(title=f"Features for target {document['target']!r}")
    for column in ("feature", "from", "featurizer"):
        table.add_column(column)
    for feature in document["features"]:
        table.add_row(feature["name"], ", ".join(feature["sources"]), feature["featurizer"])
    stdout.print(table)
    for column, reason in document["dropped_because"].items():
        stdout.print(f"Dropped {column!r}: {reason}.")
    if document["holidays"]:
        stdout.print(f"Holiday calendar: {document['holidays']}.")


def _escape_markup(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def print_forecast_result(result, *, wall_seconds: float) -> None:
    """The backtest leaderboard of a forecast run, its notes and where it went."""
    board = result.leaderboard
    forecaster = result.forecaster
    table = Table(
        title=f"Backtests: {forecaster.horizon} steps ahead ({forecaster.frequency}), "
        f"{int(forecaster.backtest['window'].max())} windows"
    )
    for column in ("model", "MASE", "sMAPE", "RMSE", "weight", "s"):
        table.add_column(column)
    for row in board.itertuples():
        table.add_row(
            row.model,
            f"{row.mase:.4f}",
            f"{row.smape:.2f}",
            f"{row.rmse:.4g}",
            "" if row.weight != row.weight else f"{row.weight:.2f}",
            "" if row.seconds != row.seconds else f"{row.seconds:.1f}",
        )
    stdout.print(table)
    for note in forecaster.notes:
        stdout.print(_escape_markup(note), highlight=False)
    stdout.print(
        f"Registered model: {result.model_name} version {result.model_version} (forecast "
        f"with: trialflow predict {result.model_name}/{result.model_version} HISTORY "
        "--output OUT)",
        highlight=False,
    )
    if result.report_path:
        print(f"Report: {result.report_path}")
    stdout.print(f"Wall clock: {wall_seconds:.1f} s.", highlight=False)
