"""LightGBM gradient boosting, splitting natively on categories."""

from __future__ import annotations

from trialflow.learners.space import Float, Int
from trialflow.learners.spec import LearnerSpec


def _build(task, params, seed, n_jobs):
    import lightgbm

    estimator = lightgbm.LGBMRegressor if task == "regression" else lightgbm.LGBMClassifier
    return estimator(**params, random_state=seed, n_jobs=n_jobs, verbose=-1)


def _stop_at(deadline: float) -> dict:
    """A LightGBM callback that ends a fit once ``deadline`` (perf_counter) has passed."""
    import time

    from trialflow.errors import TrialTimeout

    def stop_when_late(env) -> None:
        if time.perf_counter() > deadline:
            raise TrialTimeout(f"stopped at boosting round {env.iteration + 1}: out of time")

    return {"callbacks": [stop_when_late]}


LIGHTGBM = LearnerSpec(
    name="lightgbm",
    tasks=("binary", "multiclass", "regression"),
    build=_build,
    space={
        "n_estimators": Int(50, 1000, log=True),
        "learning_rate": Float(0.01, 0.3, log=True),
        "num_leaves": Int(4, 128, log=True),
        "min_child_samples": Int(5, 100, log=True),
        "subsample": Float(0.5, 1.0),
        "colsample_bytree": Float(0.3, 1.0),
        "reg_lambda": Float(1e-3, 10.0, log=True),
    },
    # Slower learning and column sampling beat LightGBM's own defaults on most tables.
    defaults={
        "n_estimators": 300,
        "learning_rate": 0.03,
        "num_leaves": 15,
        "min_child_samples": 20,
        "subsample": 0.8,
        "colsample_bytree": 0.7,
        "reg_lambda": 1.0,
    },
    # LGBMClassifier() as it comes (reg_lambda=0 is its default; the space starts at 1e-3).
    library_defaults={
        "n_estimators": 100,
        "learning_rate": 0.1,
        "num_leaves": 31,
        "min_child_samples": 20,
        "subsample": 1.0,
        "colsample_bytree": 1.0,
        "reg_lambda": 0.0,
    },
    fixed={"subsample_freq": 1},
    resource="n_estimators",
    fit_deadline=_stop_at,
    description="LightGBM gradient-boosted trees",
)
