"""What a training run registers beside its model: params, metrics, tags, tables and
documents, from the run record."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from trialflow.run_record import RunRecord


@dataclass
class ModelContents:
    """The keyword arguments of `trialflow.registry.store.register_model` besides the model."""

    params: dict[str, Any]
    metrics: dict[str, float]
    tags: dict[str, str]
    tables: dict[str, pd.DataFrame]
    documents: dict[str, dict]
    texts: dict[str, str] = field(default_factory=dict)


def model_contents(run: RunRecord, flow_run_id: str) -> ModelContents:
    from trialflow.features.plan_file import fitted_features_frame
    from trialflow.registry.reproduce import CONFIG_FILE
    from trialflow.registry.store import EXPECTATIONS_FILE
    from trialflow.report.html import REPORT_FILE
    from trialflow.validation.guardrails import guardrails_frame

    config, importance, validation = run.config, run.importance, run.validation
    tables = {
        "leaderboard.csv": run.leaderboard,
        "feature_importance.csv": importance.raw,
        "column_plan.csv": run.plan.to_frame(),
        "features.csv": fitted_features_frame(run.pipeline),
        "guardrails.csv": guardrails_frame(validation.guardrails),
        **_fairness_tables(run.fairness),
    }
    if importance.engineered is not None:
        tables["engineered_importance.csv"] = importance.engineered
    return ModelContents(
        params=_params(run),
        metrics=_metrics(run),
        tags=_tags(run, flow_run_id),
        tables=tables,
        documents={
            EXPECTATIONS_FILE: validation.suite,
            "data_profile.json": validation.profile,
            # The whole config, exactly, so `trialflow reproduce` can train again from it.
            CONFIG_FILE: config.model_dump(mode="json"),
        },
        texts={REPORT_FILE: run.report_page} if run.report_page else {},
    )


def _params(run: RunRecord) -> dict[str, Any]:
    best = run.best
    return {
        **run.config.model_dump(exclude={"sensitive"}),
        "sensitive": ",".join(run.config.sensitive),
        "task": run.table.task,
        "metric": run.metric,
        "best_learner": best.learner,
        **{f"best.{k}": v for k, v in best.params.items()},
    }


def _metrics(run: RunRecord) -> dict[str, float]:
    best, metric = run.best, run.metric
    metrics = {f"cv_{metric}": best.score, "trials": float(len(run.trials))}
    metrics |= {f"cv_{metric}_fold{i}": s for i, s in enumerate(best.fold_scores)}
    return metrics | {f"holdout_{name}": value for name, value in run.holdout_scores.items()}


def _tags(run: RunRecord, flow_run_id: str) -> dict[str, str]:
    from trialflow import __version__
    from trialflow.registry.lineage import lineage_tags

    table = run.table
    return {
        "trialflow.version": __version__,
        "data.fingerprint": table.fingerprint,
        "data.source": table.source,
        "data.rows": str(len(table.X)),
        "data.holdout_rows": str(run.holdout_rows),
        "seed": str(run.config.seed),
        "trials": str(len(run.trials)),
        "prefect.flow_run_id": flow_run_id,
        # What feature_importance.csv holds depends on the model.
        "importance.method": run.importance.method,
        **lineage_tags(table.X),
    }


def _fairness_tables(fairness) -> dict[str, pd.DataFrame]:
    if fairness is None:
        return {}
    tables = {
        "fairness_groups.csv": fairness.groups,
        "fairness_disparities.csv": fairness.disparities,
        "fairness_representation.csv": fairness.representation,
    }
    if fairness.mitigation is not None:
        tables["fairness_mitigation.csv"] = fairness.mitigation.tradeoff.reset_index(names="model")
    return tables
