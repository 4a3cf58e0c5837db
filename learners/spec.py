"""What a learner declares: its name, tasks, estimator factory, search space and defaults."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from trialflow.learners.space import Dimension

# A hyperparameter any regression learner may get: fit on log(1 + y) and predict back with
# exp(.) - 1. Prices, counts and durations are skewed; their errors shrink on the log scale.
TARGET_TRANSFORM = "target_transform"
# A trial parameter, like TARGET_TRANSFORM: "balanced" weighs each class inversely to its
# frequency, through the estimator's own class_weight.
CLASS_WEIGHT = "class_weight"

# A trial parameter of learners that declare ``encodings``: how categorical columns reach
# the estimator in that configuration ("onehot" or "ordinal"), when the table has any.
CATEGORICAL_ENCODING = "categorical_encoding"

# Fewest boosting rounds or trees a scaled-down trial gets; fewer say little about a config.
MIN_ROUNDS = 10

# (task, hyperparameters, seed, n_jobs) -> an unfitted scikit-learn estimator
EstimatorFactory = Callable[[str, dict[str, Any], int, int], Any]


@dataclass(frozen=True)
class LearnerSpec:
    """A learner as the search sees it.

    ``defaults`` is the strong default configuration tried first; it must lie in ``space``.
    ``categorical_encoding`` says how categorical columns reach the estimator: "native"
    (pandas categories), "onehot" or "ordinal" (one numeric code per column). ``encodings``
    lists others the search may try instead, per configuration, on tables with categorical
    columns.
    """

    name: str
    tasks: tuple[str, ...]
    build: EstimatorFactory
    space: dict[str, Dimension]
    defaults: dict[str, Any]
    categorical_encoding: str = "native"
    encodings: tuple[str, ...] = ()
    description: str = ""
    fixed: dict[str, Any] = field(default_factory=dict)
    # Import path (package.module:NAME) of a user's learner, so workers can load it too.
    source: str = ""
    # The hyperparameter that sets how much work a fit does (boosting rounds, trees), which
    # successive halving scales down on its low rungs; learners without one get fewer rows.
    resource: str | None = None
    # Extra fit() arguments that make the fit stop by a perf_counter() deadline (a trainer
    # callback); learners without one are stopped between folds or by killing the worker.
    fit_deadline: Callable[[float], dict[str, Any]] | None = None
    # The library's own defaults, as a user would run the estimator first: cheap and
    # informative, so they open the search and set the floor a run must not end below.
    library_defaults: dict[str, Any] | None = None
    # Seconds per boosting round or tree (per fit for learners without a resource) against
    # one LightGBM round, the median over the knowledge base's datasets: the first estimate
    # of a trial's cost before any trial of this learner has finished.
    relative_cost: float = 1.0
    # Trains on a GPU when its trial gets one: such trials go to workers declaring the GPU
    # resource, and the learner joins the portfolio only where GPU workers are expected or
    # the user names it (a GPU learner costs CPU-only runs trials of stronger learners).
    wants_gpu: bool = False
    # Whether the final model may average this learner over the search's folds on small
    # tables (trialflow.model.bagging). Forests are averages of bootstrapped trees already:
    # bagging them again multiplies their size, and the package and explain steps' time, by
    # six (ad_data at 60 s: package 3.4 s, explain 5.7 s with two forests among six members).
    fold_bagging: bool = True

    def supports(self, task: str) -> bool:
        return task in self.tasks

    def encoding(self, params: dict[str, Any]) -> str:
        """The categorical encoding a configuration's features are built with."""
        return params.get(CATEGORICAL_ENCODING, self.categorical_encoding)

    def make(self, task: str, params: dict[str, Any], *, seed: int, n_jobs: int = 1):
        if not self.supports(task):
            raise ValueError(f"Learner {self.name!r} does not support {task} tasks.")
        params = {**self.fixed, **params}
        params.pop(CATEGORICAL_ENCODING, None)  # the featurizer's, not the estimator's
        transform = params.pop(TARGET_TRANSFORM, "none")
        class_weight = params.pop(CLASS_WEIGHT, None)
        model = self.build(task, params, seed, n_jobs)
        if class_weight:
            # Also inside a learner's own pipeline (scaler + logistic regression).
            names = [k for k in model.get_params() if k.rpartition("__")[2] == "class_weight"]
            model.set_params(**dict.fromkeys(names, class_weight))
        if transform == "log":
            return log_target(model)
        return model

    def fit_kwargs(self, stop_at: float | None) -> dict[str, Any]:
        if stop_at is None or self.fit_deadline is None:
            return {}
        return self.fit_deadline(stop_at)

    def at_resource(self, params: dict[str, Any], fraction: float) -> tuple[dict[str, Any], float]:
        """``params`` scaled to ``fraction`` of their full resource: (params, row fraction).

        The resource hyperparameter shrinks when the learner declares one (never below
        ``MIN_ROUNDS``); otherwise the trial trains on that fraction of each fold's rows.
        """
        if fraction >= 1.0:
            return dict(params), 1.0
        if self.resource and self.resource in params:
            full = params[self.resource]
            scaled = max(MIN_ROUNDS, min(full, round(full * fraction)))
            return {**params, self.resource: scaled}, 1.0
        return dict(params), fraction


def log_target(model):
    """``model`` fitted on log(1 + y); predictions mapped back to the original scale."""
    import numpy as np
    from sklearn.compose import TransformedTargetRegressor

    return TransformedTargetRegressor(
        regressor=model, func=np.log1p, inverse_func=np.expm1, check_inverse=False
    )


def with_target_transform(spec: LearnerSpec) -> LearnerSpec:
    """``spec`` with the target transform (none or log) added to its search space."""
    from dataclasses import replace

    from trialflow.learners.space import Choice

    return replace(spec, space={**spec.space, TARGET_TRANSFORM: Choice(("none", "log"))})


def with_encoding_choice(spec: LearnerSpec) -> LearnerSpec:
    """``spec`` with its categorical encodings added to its search space (its own first)."""
    from dataclasses import replace

    from trialflow.learners.space import Choice

    if not spec.encodings:
        return spec
    choices = (
        spec.categorical_encoding,
        *(e for e in spec.encodings if e != spec.categorical_encoding),
    )
    return replace(spec, space={**spec.space, CATEGORICAL_ENCODING: Choice(choices)})


def with_class_weights(spec: LearnerSpec) -> LearnerSpec:
    """``spec`` with balanced class weights in every configuration, its default included."""
    from dataclasses import replace

    from trialflow.learners.space import Choice

    return replace(
        spec,
        space={**spec.space, CLASS_WEIGHT: Choice(("balanced",))},
        defaults={**spec.defaults, CLASS_WEIGHT: "balanced"},
        library_defaults=(
            {**spec.library_defaults, CLASS_WEIGHT: "balanced"} if spec.library_defaults else None
        ),
    )


# A class with fewer rows than this share of the most common class's is imbalance.
IMBALANCE_RATIO = 0.2
# Metrics that count hard predictions per class, where an unweighted model that rarely
# predicts the rare class loses: those runs weight the classes.
WEIGHTED_METRICS = ("f1",)


def class_ratio(y) -> float:
    """Rows of the rarest class over rows of the most common (1.0 when balanced)."""
    import pandas as pd

    counts = pd.Series(y).value_counts()
    return float(counts.iloc[-1] / counts.iloc[0]) if len(counts) else 1.0


def needs_class_weights(y, task: str, metric: str) -> bool:
    return (
        task in ("binary", "multiclass")
        and metric in WEIGHTED_METRICS
        and class_ratio(y) < IMBALANCE_RATIO
    )


def skewed_positive(y) -> bool:
    """Whether a regression target is non-negative and right-skewed enough for a log."""
    import numpy as np
    import pandas as pd

    values = pd.Series(np.asarray(y, dtype=float)).dropna()
    return bool(len(values) > 2 and values.min() >= 0 and values.skew() > SKEW_FOR_LOG)


# Skewness above which a log of the target is worth searching (house prices: about 1.7).
SKEW_FOR_LOG = 1.0
