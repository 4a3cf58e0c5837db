"""One trial: cross-validate a learner configuration. Runs inside a Dask worker process."""

from __future__ import annotations

import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from trialflow.errors import TrialTimeout
from trialflow.featurizers import ColumnPlan, TableFeaturizer
from trialflow.learners import get_learner, use_learners
from trialflow.model.metrics import METRICS
from trialflow.model.pipeline import aligned_proba

# The origin of trials that run a library's own defaults: the floor a search must reach.
LIBRARY_DEFAULT = "library default"


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

    @property
    def fingerprint(self) -> str:
        """The training table's fingerprint (the token is fingerprint-runid)."""
        return self.token.rsplit("-", 1)[0]


@dataclass(frozen=True)
class TrialSpec:
    """One configuration to cross-validate, as a strategy proposes it."""

    trial_id: int
    learner: str
    params: dict[str, Any]
    seed: int
    # The configuration this trial evaluates: successive halving runs one configuration on
    # growing resources, one trial per rung, all under the same config_id.
    config_id: int = -1
    rung: int = 0
    # Fraction of each fold's training rows the trial fits on (learners without a resource
    # hyperparameter are scaled down this way on low rungs).
    rows: float = 1.0
    # Seconds the trial may run on its worker before it stops itself.
    time_limit: float | None = None
    # Which strategy proposed it (e.g. "asha", "refine"), for the leaderboard.
    origin: str = ""


# How a trial ended. Only "ok" trials have a score; the rest say why in ``error``.
STATUSES = ("ok", "failed", "timeout", "cancelled", "lost")


@dataclass
class TrialResult:
    trial_id: int
    learner: str
    params: dict[str, Any]
    seed: int
    status: str  # one of STATUSES
    score: float | None = None
    fold_scores: list[float] = field(default_factory=list)
    fit_seconds: float = 0.0
    # CPU seconds of the worker process over those fits: the work itself, whatever else
    # shared the cores (all threads of a multi-threaded fit counted).
    fit_cpu_seconds: float = 0.0
    wall_seconds: float = 0.0
    worker: str = ""
    error: str = ""
    # Out-of-fold predictions (class probabilities, or values for regression), NaN for rows
    # no fold validated; the ensemble is selected on these.
    oof: np.ndarray | None = field(default=None, repr=False)
    config_id: int = -1
    rung: int = 0
    rows: float = 1.0
    origin: str = ""
    # Fingerprint of the training data the trial ran on.
    data_fingerprint: str = ""
    # Threads the trial's learner was given.
    threads: int = 1
    # Seconds into the search when the result arrived (the report's progress chart).
    finished_seconds: float | None = None
    # When the trial began on its worker (epoch seconds).
    started_at: float | None = None

    @classmethod
    def of(cls, spec: TrialSpec, status: str, **fields) -> TrialResult:
        """A result for ``spec``, with its identity fields copied over."""
        return cls(
            spec.trial_id,
            spec.learner,
            spec.params,
            spec.seed,
            status,
            config_id=spec.config_id if spec.config_id >= 0 else spec.trial_id,
            rung=spec.rung,
            rows=spec.rows,
            origin=spec.origin,
            **fields,
        )


def run_trial(
    data: TrialData, trial: TrialSpec, threads_by_host: dict[str, int] | None = None
) -> TrialResult:
    """Cross-validate one configuration; a failure is a result, never an exception.

    ``threads_by_host`` gives the threads one trial may use on each host: its cores divided
    by the trials running there at once (a learner left at n_jobs=-1 under outer
    parallelism is a known 10-300x slowdown). Hosts not listed get one thread.
    """
    started = time.perf_counter()
    worker = _worker_address()
    n_jobs = (threads_by_host or {}).get(host_of(worker), 1)
    stop_at = started + trial.time_limit if trial.time_limit is not None else None
    result = TrialResult.of(
        trial,
        "ok",
        worker=worker,
        data_fingerprint=data.fingerprint,
        threads=n_jobs,
        started_at=time.time(),
    )
    try:
        from threadpoolctl import threadpool_limits

        # OpenMP/BLAS would otherwise grab every core and fight the other trials.
        with threadpool_limits(limits=n_jobs):
            _cross_validate(data, trial, result, n_jobs, stop_at)
    except TrialTimeout as exc:
        result.status = "timeout"
        result.error = f"exceeded its {trial.time_limit:.1f} s limit ({exc})"
        result.score = None
    except Exception as exc:  # a broken configuration is a failed trial, not a failed search
        result.status = "failed"
        result.error = f"{type(exc).__name__}: {exc}"
        result.score = None
        last = traceback.extract_tb(exc.__traceback__)[-1:]
        if last:
            result.error += f" (at {last[0].filename}:{last[0].lineno})"
    result.wall_seconds = time.perf_counter() - started
    if result.status != "ok":
        result.oof = None
    return result


def _cross_validate(
    data: TrialData, trial: TrialSpec, result: TrialResult, n_jobs: int, stop_at: float | None
) -> None:
    use_learners(data.user_learners)
    spec = get_learner(trial.learner)
    metric = METRICS[data.metric]
    classify = data.task != "regression"
    oof = np.full((len(data.y), len(data.classes)) if classify else len(data.y), np.nan)
    n_folds = len(data.folds)
    for fold, (train_idx, valid_idx) in enumerate(data.folds):
        fold_started = time.perf_counter()
        X_train, X_valid = _featurized_fold(data, fold, spec.encoding(trial.params))
        y_train = data.y[train_idx]
        if trial.rows < 1.0:
            keep = _row_sample(len(y_train), trial.rows, seed=trial.seed + fold)
            X_train, y_train = X_train.iloc[keep], y_train[keep]
        model = spec.make(data.task, trial.params, seed=trial.seed, n_jobs=n_jobs)
        tic, cpu_tic = time.perf_counter(), time.process_time()
        model.fit(X_train, y_train, **spec.fit_kwargs(stop_at))
        result.fit_seconds += time.perf_counter() - tic
        result.fit_cpu_seconds += time.process_time() - cpu_tic
        y_valid = data.y[valid_idx]
        if classify and hasattr(model, "predict_proba"):
            oof[valid_idx] = aligned_proba(model, X_valid, data.classes)
        elif not classify:
            oof[valid_idx] = model.predict(X_valid)
        prediction = oof[valid_idx] if metric.needs_proba else model.predict(X_valid)
        result.fold_scores.append(metric.score(y_valid, prediction, data.classes))
        now = time.perf_counter()
        # Stop between folds once the next fold would end past the limit: the result could
        # not arrive in time anyway.
        if stop_at is not None and fold + 1 < n_folds and now + (now - fold_started) > stop_at:
            raise TrialTimeout(f"after {fold + 1} of {n_folds} folds")
    result.score = float(np.mean(result.fold_scores))
    if not classify or hasattr(model, "predict_proba"):
        result.oof = oof


# Fewest training rows a row-sampled trial fits on.
MIN_ROWS = 50


def _row_sample(n: int, fraction: float, *, seed: int) -> np.ndarray:
    size = min(n, max(MIN_ROWS, round(n * fraction)))
    return np.sort(np.random.default_rng(seed).choice(n, size=size, replace=False))


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
            featurizer = TableFeaturizer(data.plan, categorical_encoding=encoding)
            # fit_transform: featurizers that learn from the target encode the training rows
            # out of fold, so the model never sees its own rows' targets.
            _FOLD_CACHE[key] = (
                featurizer.fit_transform(X_train, data.y[train_idx]),
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


def host_of(address: str) -> str:
    """The host part of a worker address such as tcp://127.0.0.1:40211."""
    return address.split("://")[-1].rsplit(":", 1)[0]
