import numpy as np
import pytest
from sklearn.base import clone

from trialflow.featurizers import plan_columns
from trialflow.learners import LEARNERS, portfolio_for
from trialflow.learners.space import sample_config
from trialflow.model.pipeline import aligned_proba, build_pipeline
from trialflow.registry.trusted import trusted_types

from .conftest import make_frame


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_learner_conformance(name):
    """Every registered learner: valid space, default in it, fits and predicts its tasks."""
    spec = LEARNERS[name]
    assert spec.space and spec.tasks
    assert set(spec.defaults) == set(spec.space)
    for param, value in spec.defaults.items():
        assert spec.space[param].contains(value), f"{name}.{param}={value!r} not in its space"
    rng = np.random.default_rng(0)
    for _ in range(20):
        config = sample_config(spec.space, rng)
        assert all(spec.space[p].contains(v) for p, v in config.items())
    for task in spec.tasks:
        frame = make_frame(task=task, n=80)
        X, y = frame.drop(columns="target"), frame["target"].to_numpy()
        plan = plan_columns(X, target="target", exclude={})
        pipeline = build_pipeline(name, spec.defaults, plan, task, seed=0, n_jobs=1)
        clone(pipeline).fit(X, y)
        pipeline.fit(X, y)
        trusted_types(pipeline)  # the registry can store it safely (raises if not)
        prediction = pipeline.predict(X)
        assert len(prediction) == len(X)
        if task != "regression":
            proba = aligned_proba(pipeline, X, sorted(set(y)))
            assert np.allclose(proba.sum(axis=1), 1.0)


def test_portfolio_covers_every_task_in_order():
    assert [s.name for s in portfolio_for("binary")][:2] == ["lightgbm", "hist_gradient_boosting"]
    assert "elastic_net" in [s.name for s in portfolio_for("regression")]
    assert "elastic_net" not in [s.name for s in portfolio_for("multiclass")]


def test_aligned_proba_fills_classes_a_fold_lacked():
    frame = make_frame(task="multiclass", n=90)
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    keep = y != "low"
    plan = plan_columns(X, target="target", exclude={})
    pipeline = build_pipeline(
        "logistic_regression", {"C": 1.0}, plan, "multiclass", seed=0, n_jobs=1
    )
    pipeline.fit(X[keep], y[keep])
    proba = aligned_proba(pipeline, X, ["high", "low", "mid"])
    assert proba.shape == (90, 3)
    assert (proba[:, 1] == 0).all()


def test_forests_search_the_categorical_encoding_on_tables_with_categoricals():
    import numpy as np
    import pandas as pd

    from trialflow.featurizers import plan_columns
    from trialflow.learners.spec import CATEGORICAL_ENCODING
    from trialflow.model.pipeline import build_pipeline
    from trialflow.search.prepare import _portfolio

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "x": rng.normal(size=200),
            "grade": rng.choice(["A1", "A2", "B1", "B2", "C1"], size=200),
            "y": rng.normal(size=200),
        }
    )
    plan = plan_columns(frame, target="y", exclude={})
    table = type("Table", (), {"task": "regression", "y": frame["y"].to_numpy()})
    by_name = {
        s.name: s
        for s in _portfolio(["extra_trees", "random_forest", "lightgbm"], table, "r2", plan)
    }
    assert by_name["extra_trees"].space[CATEGORICAL_ENCODING].values == ("ordinal", "onehot")
    assert by_name["random_forest"].space[CATEGORICAL_ENCODING].values == ("onehot", "ordinal")
    assert CATEGORICAL_ENCODING not in by_name["lightgbm"].space  # splits on categories itself
    numeric_plan = plan_columns(frame.drop(columns="grade"), target="y", exclude={})
    plain = _portfolio(["extra_trees"], table, "r2", numeric_plan)[0]
    assert CATEGORICAL_ENCODING not in plain.space  # nothing to encode: no extra dimension

    # The configuration's encoding reaches the features, and the estimator never sees it.
    X, y = frame.drop(columns="y"), frame["y"]
    for encoding, width in (("ordinal", 2), ("onehot", 6)):
        params = {
            **by_name["random_forest"].defaults,
            "n_estimators": 5,
            CATEGORICAL_ENCODING: encoding,
        }
        model = build_pipeline("random_forest", params, plan, "regression", seed=0, n_jobs=1)
        model.fit(X, y)
        assert model.named_steps["model"].n_features_in_ == width
        assert np.isfinite(model.predict(X)).all()


def test_a_log_target_is_searched_for_skewed_positive_targets():
    import numpy as np
    from sklearn.compose import TransformedTargetRegressor

    from trialflow.learners.spec import (
        TARGET_TRANSFORM,
        skewed_positive,
        with_target_transform,
    )

    rng = np.random.default_rng(0)
    prices = np.exp(rng.normal(12, 0.6, size=500))
    assert skewed_positive(prices)
    assert not skewed_positive(rng.normal(size=500))
    assert not skewed_positive(-prices)
    spec = with_target_transform(LEARNERS["lightgbm"])
    assert spec.space[TARGET_TRANSFORM].values == ("none", "log")
    model = spec.make("regression", {**spec.defaults, TARGET_TRANSFORM: "log"}, seed=0)
    assert isinstance(model, TransformedTargetRegressor)
    X = rng.normal(size=(500, 3))
    fitted = model.fit(X, prices)
    assert fitted.predict(X).min() > 0
    plain = spec.make("regression", {**spec.defaults, TARGET_TRANSFORM: "none"}, seed=0)
    assert not isinstance(plain, TransformedTargetRegressor)
