"""The systems under comparison: one small function per system, each fitting on the training
frame within the budget and returning a Fitted. They run inside benchmarks.worker, one
system per process; every import of a system's package happens inside its function, so this
module stays cheap to import and a missing package fails one system only."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.defaults import align, cap_levels, features, hgb_model, lightgbm_model
from benchmarks.suite import Table


@dataclass
class Fitted:
    """A fitted model. `predict` gives class probabilities (columns in `classes` order) for
    classification and values for regression; `extra` goes into the raw results."""

    predict: Callable[[pd.DataFrame], np.ndarray]
    classes: list | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def _split_xy(train: pd.DataFrame, table: Table) -> tuple[pd.DataFrame, pd.Series]:
    return train.drop(columns=table.target), train[table.target]


def _is_classification(table: Table) -> bool:
    return table.task != "regression"


def trialflow_system(
    train: pd.DataFrame, table: Table, budget: float, scratch: Path, **options: Any
) -> Fitted:
    import trialflow

    called_at = time.time()
    result = trialflow.train(
        train,
        target=table.target,
        task=table.task,
        time_budget=budget,
        seed=0,
        model_name=f"bench-{table.name}",
        # The suite's holiday calendar is user configuration, as --holidays US would be.
        **({"holidays": table.holidays} if table.holidays else {}),
        **options,  # max_trials, for the overhead figure
    )
    board = result.leaderboard
    # The leaderboard may end with an "ensemble" row (the chosen blend), which is no trial.
    trials = board[board["learner"] != "ensemble"] if "learner" in board else board
    extra = {
        "timings": dict(result.timings),
        "trials": len(trials),
        # The overhead figure subtracts the trials' own seconds from the search stage.
        "trial_seconds": float(trials["wall_seconds"].sum()),
        "best": str(board.iloc[0]["learner"]) if len(board) and "learner" in board else "",
        "model_version": str(result.model_version),
        "curve": search_curve(trials, result.metric, result.timings),
        # When train() was called: its timings count from here, the harness from the spawn.
        "called_at": called_at,
    }
    pipeline = result.pipeline
    if _is_classification(table):
        return Fitted(pipeline.predict_proba, list(pipeline.classes_), extra)
    return Fitted(pipeline.predict, None, extra)


def search_curve(trials: pd.DataFrame, metric: str, timings: dict) -> dict:
    """The best cross-validated score against seconds into the run (a point per new best),
    the plain library defaults' best score, and when the search first reached it."""
    from trialflow.model.metrics import METRICS
    from trialflow.search.trial import LIBRARY_DEFAULT

    sign = 1.0 if METRICS[metric].greater_is_better else -1.0
    done = trials[trials[metric].notna() & trials["finished_seconds"].notna()]
    done = done.sort_values("finished_seconds")
    # finished_seconds counts from the search's start, which is when the first trial began.
    offset = float(timings.get("first_trial") or 0.0)
    points, best = [], -float("inf")
    for seconds, value in zip(done["finished_seconds"], done[metric], strict=True):
        if sign * value > best:
            best = sign * value
            points.append([round(offset + float(seconds), 2), float(value)])
    plain = done.loc[done["origin"] == LIBRARY_DEFAULT, metric]
    floor = float((sign * plain).max() * sign) if len(plain) else None
    reached = next((t for t, v in points if floor is not None and sign * v >= sign * floor), None)
    return {"points": points, "library_defaults": floor, "reached_defaults_at": reached}


def flaml_system(train: pd.DataFrame, table: Table, budget: float, scratch: Path) -> Fitted:
    from flaml import AutoML

    X, y = _split_xy(train, table)
    automl = AutoML()
    automl.fit(
        X,
        y,
        task="classification" if _is_classification(table) else "regression",
        time_budget=budget,
        metric=table.metric,
        n_jobs=2,
        seed=0,
        verbose=0,
    )
    # config_history keeps improvements only; the per-learner iteration counts are every trial.
    tried = getattr(automl, "_iter_per_learner", None)
    trials = sum(tried.values()) if tried else len(automl.config_history)
    extra = {"trials": trials, "best": str(automl.best_estimator)}
    if _is_classification(table):
        return Fitted(automl.predict_proba, list(automl.classes_), extra)
    return Fitted(automl.predict, None, extra)


def autogluon_system(train: pd.DataFrame, table: Table, budget: float, scratch: Path) -> Fitted:
    from autogluon.tabular import TabularPredictor

    predictor = TabularPredictor(
        label=table.target,
        problem_type=table.task,  # the suite's task, as every other system is told
        eval_metric=table.metric,
        path=str(scratch / "autogluon"),
        verbosity=0,
    )
    # num_gpus=0: the comparison is CPU only, even on a machine with a GPU.
    predictor.fit(train, time_limit=budget, num_cpus=2, num_gpus=0)
    extra = {"trials": len(predictor.model_names()), "best": str(predictor.model_best)}
    if _is_classification(table):
        classes = list(predictor.class_labels)

        def predict_proba(X: pd.DataFrame) -> np.ndarray:
            return predictor.predict_proba(X, as_multiclass=True)[classes].to_numpy()

        return Fitted(predict_proba, classes, extra)
    return Fitted(lambda X: predictor.predict(X).to_numpy(), None, extra)


def _default_system(make_model: Callable[[str], Any], cap: bool):
    """A plain library default: the preparation in benchmarks.defaults, then fit."""

    def fit(train: pd.DataFrame, table: Table, budget: float, scratch: Path) -> Fitted:
        X_train = features(train, table.target)
        if cap:
            X_train = cap_levels(X_train)
        model = make_model(table.task).fit(X_train, train[table.target])

        def inputs(X: pd.DataFrame) -> pd.DataFrame:
            return align(features(X, table.target), X_train)

        if _is_classification(table):
            return Fitted(lambda X: model.predict_proba(inputs(X)), list(model.classes_))
        return Fitted(lambda X: model.predict(inputs(X)))

    return fit


def trialflow_asha_system(
    train: pd.DataFrame, table: Table, budget: float, scratch: Path, **options: Any
) -> Fitted:
    """trialflow with plain ASHA, without the pipeline recommender (the default before it
    drove the search)."""
    return trialflow_system(train, table, budget, scratch, strategy="asha", **options)


def trialflow_no_bagging_system(
    train: pd.DataFrame, table: Table, budget: float, scratch: Path, **options: Any
) -> Fitted:
    """trialflow without fold bagging of the final model (--no-fold-bagging)."""
    return trialflow_system(train, table, budget, scratch, fold_bagging=False, **options)


SYSTEMS: dict[str, Callable[..., Fitted]] = {
    "trialflow": trialflow_system,
    "trialflow_asha": trialflow_asha_system,
    "trialflow_no_bagging": trialflow_no_bagging_system,
    "flaml": flaml_system,
    "autogluon": autogluon_system,
    "lgbm_default": _default_system(lightgbm_model, cap=False),
    "hgb_default": _default_system(hgb_model, cap=True),
}

# What each system needs importable (module) and which distributions' versions to report.
MODULES = {
    "trialflow": "trialflow",
    "trialflow_asha": "trialflow",
    "trialflow_no_bagging": "trialflow",
    "flaml": "flaml",
    "autogluon": "autogluon.tabular",
    "lgbm_default": "lightgbm",
    "hgb_default": "sklearn",
}
DISTRIBUTIONS = {
    "trialflow": ["trialflow", "prefect", "dask", "distributed", "mlflow", "lightgbm"],
    "trialflow_asha": ["trialflow", "prefect", "dask", "distributed", "mlflow"],
    "trialflow_no_bagging": ["trialflow", "prefect", "dask", "distributed", "mlflow"],
    "flaml": ["flaml", "lightgbm", "xgboost-cpu", "xgboost"],
    "autogluon": ["autogluon.tabular", "lightgbm", "catboost", "xgboost-cpu", "xgboost"],
    "lgbm_default": ["lightgbm"],
    "hgb_default": ["scikit-learn"],
}
PEERS = ("flaml", "autogluon")
# Run only when named (--systems): trialflow with other settings, compared with trialflow.
VARIANTS = ("trialflow_asha", "trialflow_no_bagging")
BASELINES = ("lgbm_default", "hgb_default")
