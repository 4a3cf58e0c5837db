"""The `automl` flow: load & check, featurize, select, search, refit, explain, register."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from prefect import flow
from prefect.runtime import flow_run

from trialflow.config import TrainConfig
from trialflow.errors import SearchError
from trialflow.holdout import split_holdout
from trialflow.plan_file import fitted_features_frame
from trialflow.registry import trusted_types
from trialflow.result import TrainResult
from trialflow.search import best_trial, leaderboard
from trialflow.steps import run_budget
from trialflow.tasks.ensemble import ensemble
from trialflow.tasks.explain import explain
from trialflow.tasks.fairness import check_fairness, mitigate_model
from trialflow.tasks.featurize import plan_features
from trialflow.tasks.guard import check_guardrails
from trialflow.tasks.holdout import score_holdout
from trialflow.tasks.load import load_and_check
from trialflow.tasks.publish import publish
from trialflow.tasks.refit import refit
from trialflow.tasks.register import register, user_modules
from trialflow.tasks.report import write_report
from trialflow.tasks.search import search
from trialflow.tasks.select import select_learners


@flow(name="automl", version="0.1.0")
def automl(config: TrainConfig, frame_key: str = "", deadline: float | None = None) -> TrainResult:
    """Train, select and register a model for ``config.target``.

    ``frame_key`` names a DataFrame held in this process (`trialflow.frames`) to use instead
    of ``config.data``: tables never travel as flow parameters, which Prefect's API stores.
    ``deadline`` (epoch seconds) is set by callers that started the clock before the flow.
    """
    if config.task == "forecast":
        # A deployment's or the UI's training run with task=forecast.
        from trialflow.flows.forecast import forecast

        return forecast(config=config, frame_key=frame_key, deadline=deadline)
    budget = run_budget(config, deadline)
    started = deadline - config.time_budget if deadline else time.time()
    # Before the flow run began: a head start's steps and Prefect's API start (first_trial
    # says when trials began).
    timings = {"before_flow_run": round(time.time() - started, 3)}

    # A re-run with the same data and config resumes these from their checkpoints; a run
    # started from the CLI or Python finds them done ahead (`trialflow.head_start`).
    fresh = {"refresh_cache": config.fresh}
    with _timed(timings, "load"):
        table = load_and_check.with_options(**fresh)(config, frame_key)
        # Held out before anything is learned from the rows, the plan included.
        table, holdout = split_holdout(table, config.holdout, config.seed)
        plan = plan_features.with_options(**fresh)(table, config)
        learners = select_learners(table.task, config.learners)
    metric = config.resolved_metric(table.task)
    with _timed(timings, "guardrails"):
        validation = check_guardrails.with_options(**fresh)(table, plan, config, metric)

    with _timed(timings, "search"):
        trials = search(table, plan, learners, config, metric, budget.deadline, validation.profile)
    # When the first trial began on a worker and when the search ended, in seconds from the
    # run's start: the time before and after them is the run's fixed cost.
    first = min((t.started_at for t in trials if t.started_at), default=None)
    timings["first_trial"] = round(first - started, 3) if first else None
    timings["search_ended"] = round(time.time() - started, 3)
    best = best_trial(trials, metric)
    if best is None:
        errors = "; ".join(sorted({t.error for t in trials if t.error})) or "no trial finished"
        raise SearchError(f"No trial produced a model within the budget: {errors}")
    with _timed(timings, "ensemble"):
        choice = ensemble(table, trials, config, metric, budget.deadline)
    if choice is not None:
        best = choice.as_result(trial_id=len(trials))
        trials = [*trials, best]
    board = leaderboard(trials, metric)

    members, weights = (choice.members, choice.weights) if choice else ([best], [1.0])
    with _timed(timings, "fairness"):
        fairness = check_fairness(table, members, weights, config)
    with _timed(timings, "refit"):
        pipeline = refit(table, plan, members, weights)
    mitigated = None
    if fairness is not None and fairness.mitigation is not None:
        with _timed(timings, "mitigate"):
            mitigated = mitigate_model(pipeline, table, members, weights, config)
    final = mitigated if config.register_mitigated else pipeline
    scores_on_holdout = score_holdout(final, holdout, table.task, metric) if holdout else {}
    holdout_rows = len(holdout) if holdout else 0
    with _timed(timings, "package"):
        # Checked before explain: how long the model takes to serialise sets how much time
        # registration needs, and so when explain must stop.
        trusted = trusted_types(final, extra_modules=user_modules(config, plan))
    with _timed(timings, "explain"):
        importance = explain(
            pipeline,
            table,
            plan,
            metric,
            config.seed,
            budget.explain_deadline(serialise_seconds=timings["package"]),
        )
    features = fitted_features_frame(pipeline)
    with _timed(timings, "report"):
        report_path, page = write_report(
            run_id=str(flow_run.get_id() or ""),
            config=config,
            table=table,
            metric=metric,
            validation=validation,
            features=features,
            leaderboard=board,
            trials=trials,
            importance=importance,
            fairness=fairness,
            choice=choice,
            timings=timings,
            holdout=scores_on_holdout,
            holdout_rows=holdout_rows,
        )
    with _timed(timings, "register"):
        registered = register(
            final,
            table,
            plan,
            config,
            metric,
            best,
            board,
            importance,
            validation,
            trials,
            fairness,
            report=page,
            trusted=trusted,
            holdout=scores_on_holdout,
            holdout_rows=holdout_rows,
        )
        publish(
            board,
            importance.raw,
            registered,
            task=table.task,
            metric=metric,
            features=features,
            report_path=report_path,
            importance_method=importance.method,
        )

    timings["flow_body_ended"] = round(time.time() - started, 3)
    return TrainResult(
        pipeline=pipeline,
        leaderboard=board,
        model_name=registered.name,
        model_version=registered.version,
        task=table.task,
        task_reason=table.task_reason,
        metric=metric,
        best_score=float(best.score),
        importance=importance.raw,
        engineered_importance=importance.engineered,
        plan=plan,
        data_fingerprint=table.fingerprint,
        flow_run_id=str(flow_run.get_id() or ""),
        timings=timings,
        guardrails=validation.guardrails,
        fairness=fairness,
        mitigated=mitigated,
        report_path=str(report_path),
        holdout_scores=scores_on_holdout,
    )


@contextmanager
def _timed(timings: dict[str, float], name: str) -> Iterator[None]:
    start = time.perf_counter()
    try:
        yield
    finally:
        timings[name] = round(time.perf_counter() - start, 3)
