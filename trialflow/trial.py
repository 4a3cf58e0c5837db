"""One trial: cross-validate a learner configuration. Runs inside a Dask worker process."""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trialflow.featurizers import ColumnPlan, TableFeaturizer
from trialflow.learners import get_learner, use_learners
from trialflow.metrics import METRICS
from trialflow.pipeline import aligned_proba


@dataclass(frozen=True)
class TrialData:
    """Everything trials share; scattered to every worker once per run."""

    X: pd.DataFrame
    y: np.ndarray
    folds: list[tuple[np.ndarray, np.ndarray]]
    task: str
    metric: str
    plan: ColumnPlan
    classes: list | None
    token: str
    # Import paths of users' learners, loaded on each worker before its first trial.
    user_learners: tuple[str, ...] = ()


@dataclass(frozen=True)
class TrialSpec:
    trial_id: int
    learner: str
    params: dict[str, Any]
    seed: int


@dataclass
class TrialResult:
    trial_id: int
    learner: str
    params: dict[str, Any]
    seed: int
    status: str  # "ok" | "failed" | "cancelled"
    score: float | None = None
    fold_scores: list[float] = field(default_factory=list)
    fit_seconds: float = 0.0
    wall_seconds: float = 0.0
    worker: str = ""
    error: str = ""
    # Out-of-fold predictions (class probabilities, or values for regression), NaN for rows
    # no fold validated; the ensemble is selected on these.
    oof: np.ndarray | None = field(default=None, repr=False)


def run_trial(data: TrialData, trial: TrialSpec) -> TrialResult:
    """Cross-validate one configuration; a failure is a result, never an exception."""
    started = time.perf_counter()
    worker = _worker_address()
    # Every worker thread runs one trial at a time, so one thread per trial keeps all cores
    # busy without oversubscription (a learner at n_jobs=-1 here is a 10-300x slowdown).
    n_jobs = 1
    result = TrialResult(
        trial.trial_id, trial.learner, trial.params, trial.seed, "ok", worker=worker
    )
    try:
        from threadpoolctl import threadpool_limits

        # OpenMP/BLAS would otherwise grab every core and fight the other trials.
        with threadpool_limits(limits=n_jobs):
            _cross_validate(data, trial, result, n_jobs)
    except Exception as exc:  # a broken configuration is a failed trial, not a failed search
        result.status = "failed"
        result.error = f"{type(exc).__name__}: {exc}"
        result.score = None
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        if last:
            result.error += f" (at {last[0].filename}:{last[0].lineno})"
    result.wall_seconds = time.perf_counter() - started
    return result


def _cross_validate(data: TrialData, trial: TrialSpec, result: TrialResult, n_jobs: int) -> None:
    use_learners(data.user_learners)
    spec = get_learner(trial.learner)
    metric = METRICS[data.metric]
    classify = data.task != "regression"
    oof = np.full((len(data.y), len(data.classes)) if classify else len(data.y), np.nan)
    for fold, (train_idx, valid_idx) in enumerate(data.folds):
        X_train, X_valid = _featurized_fold(data, fold, spec.categorical_encoding)
        model = spec.make(data.task, trial.params, seed=trial.seed, n_jobs=n_jobs)
        tic = time.perf_counter()
        model.fit(X_train, data.y[train_idx])
        result.fit_seconds += time.perf_counter() - tic
        y_valid = data.y[valid_idx]
        if classify and hasattr(model, "predict_proba"):
            oof[valid_idx] = aligned_proba(model, X_valid, data.classes)
        elif not classify:
            oof[valid_idx] = model.predict(X_valid)
        prediction = oof[valid_idx] if metric.needs_proba else model.predict(X_valid)
        result.fold_scores.append(metric.score(y_valid, prediction, data.classes))
    result.score = float(np.mean(result.fold_scores))
    if not classify or hasattr(model, "predict_proba"):
        result.oof = oof


# Featurized folds are the same for every trial with the same encoding, so each worker
# computes them once per run. Keyed by the data token; a new run evicts the old entries.
_FOLD_CACHE: dict[tuple[str, int, str], tuple[pd.DataFrame, pd.DataFrame]] = {}
_FOLD_LOCK = threading.Lock()


def _featurized_fold(data: TrialData, fold: int, encoding: str):
    key = (data.token, fold, encoding)
    with _FOLD_LOCK:
        if key not in _FOLD_CACHE:
            for stale in [k for k in _FOLD_CACHE if k[0] != data.token]:
                del _FOLD_CACHE[stale]
            train_idx, valid_idx = data.folds[fold]
            X_train = data.X.iloc[train_idx]
            featurizer = TableFeaturizer(data.plan, categorical_encoding=encoding).fit(X_train)
            _FOLD_CACHE[key] = (
                featurizer.transform(X_train),
                featurizer.transform(data.X.iloc[valid_idx]),
            )
        return _FOLD_CACHE[key]


def _worker_address() -> str:
    """The Dask worker running this trial, or the local process when not on one."""
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        import os

        return f"local:{os.getpid()}"
