"""Task: register the fitted pipeline with its leaderboard and lineage in MLflow."""

from __future__ import annotations

import pandas as pd
from prefect import get_run_logger
from prefect.runtime import flow_run

from trialflow import progress
from trialflow.config import TrainConfig
from trialflow.fairness import FairnessReport
from trialflow.featurizers import ColumnPlan
from trialflow.guardrails import guardrails_frame
from trialflow.lineage import lineage_tags
from trialflow.loading import TrainingTable
from trialflow.metalearn.knowledge import record_run
from trialflow.plan_file import fitted_features_frame
from trialflow.registry import EXPECTATIONS_FILE, RegisteredModel, register_model
from trialflow.reproduce import CONFIG_FILE
from trialflow.tasks.explain import Importance
from trialflow.tasks.guard import Validation
from trialflow.tasks.report import REPORT_FILE
from trialflow.tasks.step import step
from trialflow.trial import TrialResult


@step("register")
def register(
    pipeline,
    table: TrainingTable,
    plan: ColumnPlan,
    config: TrainConfig,
    metric: str,
    best: TrialResult,
    leaderboard: pd.DataFrame,
    importance: Importance,
    validation: Validation,
    trials: list[TrialResult] | None = None,
    fairness: FairnessReport | None = None,
    *,
    report: str = "",
    trusted: list[str] | None = None,
    holdout: dict[str, float] | None = None,
    holdout_rows: int = 0,
) -> RegisteredModel:
    progress.emit("stage", name="register")
    from trialflow import __version__

    params = {
        **config.model_dump(exclude={"sensitive"}),
        "sensitive": ",".join(config.sensitive),
        "task": table.task,
        "metric": metric,
        "best_learner": best.learner,
        **{f"best.{k}": v for k, v in best.params.items()},
    }
    metrics = {f"cv_{metric}": best.score, "trials": float(len(leaderboard))}
    metrics |= {f"cv_{metric}_fold{i}": s for i, s in enumerate(best.fold_scores)}
    metrics |= {f"holdout_{name}": value for name, value in (holdout or {}).items()}
    tags = {
        "trialflow.version": __version__,
        "data.fingerprint": table.fingerprint,
        "data.source": table.source,
        "data.rows": str(len(table.X)),
        "data.holdout_rows": str(holdout_rows),
        "seed": str(config.seed),
        "trials": str(len(trials or [])),
        "prefect.flow_run_id": str(flow_run.get_id() or ""),
        # What feature_importance.csv holds depends on the model.
        "importance.method": importance.method,
        **lineage_tags(table.X),
    }
    registered = register_model(
        pipeline,
        name=config.resolved_model_name(),
        configured_uri=config.mlflow_tracking_uri,
        sample=table.X.head(50),
        params=params,
        metrics=metrics,
        tags=tags,
        tables={
            "leaderboard.csv": leaderboard,
            "feature_importance.csv": importance.raw,
            **(
                {"engineered_importance.csv": importance.engineered}
                if importance.engineered is not None
                else {}
            ),
            "column_plan.csv": plan.to_frame(),
            "features.csv": fitted_features_frame(pipeline),
            "guardrails.csv": guardrails_frame(validation.guardrails),
            **(
                {
                    "fairness_groups.csv": fairness.groups,
                    "fairness_disparities.csv": fairness.disparities,
                    "fairness_representation.csv": fairness.representation,
                }
                if fairness is not None
                else {}
            ),
            **(
                {"fairness_mitigation.csv": fairness.mitigation.tradeoff.reset_index(names="model")}
                if fairness is not None and fairness.mitigation is not None
                else {}
            ),
        },
        documents={
            EXPECTATIONS_FILE: validation.suite,
            "data_profile.json": validation.profile,
            # The whole config, exactly, so `trialflow reproduce` can train again from it.
            CONFIG_FILE: config.model_dump(mode="json"),
        },
        texts={REPORT_FILE: report} if report else {},
        trusted_modules=user_modules(config, plan),
        trusted=trusted,
    )
    logger = get_run_logger()
    logger.info("Registered %s version %s.", registered.name, registered.version)
    try:
        # The recommender learns from this project's runs (trialflow metalearn refresh).
        record_run(
            name=registered.name,
            task=table.task,
            metric=metric,
            rows=len(table.X),
            profile=validation.profile,
            trials=trials or [],
        )
    except OSError as exc:  # the model is registered; a history line is not worth failing for
        logger.warning("Could not record this run for the recommender: %s", exc)
    return registered


def user_modules(config: TrainConfig, plan: ColumnPlan) -> tuple[str, ...]:
    """Modules of the learners and featurizers the user named: their types are trusted."""
    return tuple(
        path.partition(":")[0]
        for path in [*config.learners, *(u["path"] for u in plan.user_featurizers)]
    )
