"""The `automl` flow: load & check, featurize, select, search, refit, explain, register."""

from __future__ import annotations

from prefect import flow
from prefect.runtime import flow_run

from trialflow.config import TrainConfig
from trialflow.result import TrainResult
from trialflow.run_record import RunRecord
from trialflow.tasks.ensemble import ensemble
from trialflow.tasks.explain import explain
from trialflow.tasks.fairness import check_fairness, mitigate_model
from trialflow.tasks.featurize import plan_features
from trialflow.tasks.guard import check_guardrails
from trialflow.tasks.holdout import hold_out, score_holdout
from trialflow.tasks.load import load_and_check
from trialflow.tasks.package import package
from trialflow.tasks.publish import publish
from trialflow.tasks.refit import refit
from trialflow.tasks.register import register
from trialflow.tasks.report import write_report
from trialflow.tasks.search import search
from trialflow.tasks.select import select_learners


@flow(name="automl", version="0.1.0")
def automl(config: TrainConfig, frame_key: str = "", deadline: float | None = None) -> TrainResult:
    """Train, select and register a model for ``config.target``.

    ``frame_key`` names a DataFrame held in this process (`trialflow.data.frames`) to use
    instead of ``config.data``: tables never travel as flow parameters, which Prefect's API
    stores. ``deadline`` (epoch seconds) is set by callers that started the clock before the
    flow. A re-run with the same data and config resumes the checkpointed steps (load,
    featurize, guardrails); a run started from the CLI or Python finds them done ahead
    (`trialflow.runtime.head_start`).
    """
    if config.task == "forecast":  # a deployment's or the UI's run with task=forecast
        from trialflow.flows.forecast import forecast

        return forecast(config=config, frame_key=frame_key, deadline=deadline)
    run = RunRecord.begin(config, frame_key, deadline)
    fresh = {"refresh_cache": config.fresh}
    loaded = load_and_check.with_options(**fresh)(config, frame_key)
    run.table, run.holdout = hold_out(loaded, config)  # before anything learns from the rows
    run.plan = plan_features.with_options(**fresh)(run.table, config)
    run.learners = select_learners(run.table.task, config.learners)
    run.validation = check_guardrails.with_options(**fresh)(run.table, run.plan, config, run.metric)
    run.search_trials = search(run)
    run.choice = ensemble(run)
    run.fairness = check_fairness(run)
    run.pipeline = refit(run)
    run.mitigated = mitigate_model(run)
    run.holdout_scores = score_holdout(run)
    run.trusted = package(run)
    run.importance = explain(run)
    run.report_path, run.report_page = write_report(run)
    run.registered = register(run)
    publish(run)
    return run.train_result(run_id=str(flow_run.get_id() or ""))
