"""Random forests and extremely randomised trees over one-hot or ordinal categoricals.

Each configuration may see categorical columns either way (the search decides per table).
The defaults differ because measurements do (benchmarks/results/encoding.md, 5-fold CV at
the strong default on the 16 suite tables where the encodings differ): extra trees do
better on ordinal codes on 13 of them (lending_club +0.035 AUC), random forests on one-hot
(ordinal worse on 9, hpc_data -0.027 log loss).
"""

from __future__ import annotations

from trialflow.learners.space import Choice, Float, Int
from trialflow.learners.spec import LearnerSpec

_SPACE = {
    "n_estimators": Int(50, 500, log=True),
    "max_features": Choice(("sqrt", 0.5, 1.0)),
    "min_samples_leaf": Int(1, 20, log=True),
    "max_samples": Float(0.5, 1.0),
}
_DEFAULTS = {"n_estimators": 200, "max_features": "sqrt", "min_samples_leaf": 2, "max_samples": 1.0}


def _forest(classifier_name: str, regressor_name: str):
    def build(task, params, seed, n_jobs):
        from sklearn import ensemble

        name = regressor_name if task == "regression" else classifier_name
        params = dict(params)
        # Extra trees sample no rows unless bootstrapping; max_samples needs bootstrap.
        bootstrap = params.get("max_samples", 1.0) < 1.0
        if not bootstrap:
            params.pop("max_samples", None)
        return getattr(ensemble, name)(
            **params, bootstrap=bootstrap, random_state=seed, n_jobs=n_jobs
        )

    return build


RANDOM_FOREST = LearnerSpec(
    name="random_forest",
    tasks=("binary", "multiclass", "regression"),
    build=_forest("RandomForestClassifier", "RandomForestRegressor"),
    space=_SPACE,
    defaults=_DEFAULTS,
    categorical_encoding="onehot",
    encodings=("ordinal",),
    resource="n_estimators",
    relative_cost=5.8,
    fold_bagging=False,
    description="scikit-learn RandomForest",
)

EXTRA_TREES = LearnerSpec(
    name="extra_trees",
    tasks=("binary", "multiclass", "regression"),
    build=_forest("ExtraTreesClassifier", "ExtraTreesRegressor"),
    space=_SPACE,
    defaults=_DEFAULTS,
    categorical_encoding="ordinal",
    encodings=("onehot",),
    resource="n_estimators",
    relative_cost=4.7,
    fold_bagging=False,
    description="scikit-learn ExtraTrees",
)
