"""Fold bagging of the final model: the fold models are the search's, the average is right,
and bagging happens only where its refits fit."""

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.dummy import DummyClassifier, DummyRegressor

from trialflow.featurizers import plan_columns
from trialflow.model.bagging import (
    BAG_MAX_ROWS,
    FoldBag,
    bag_folds_for_refit,
    bag_refit_multiple,
)
from trialflow.model.pipeline import build_pipeline
from trialflow.search.folds import make_folds

from .conftest import make_frame


def test_fold_models_are_fitted_on_the_search_folds_training_rows():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"x": rng.normal(size=60)})
    y = rng.normal(size=60) * 10
    bag = FoldBag(DummyRegressor(), n_folds=4, seed=3, task="regression").fit(X, y)
    folds = make_folds(y, task="regression", n_folds=4, seed=3)
    # A mean predictor per model: the full rows' mean, then each fold's training mean.
    expected = [y.mean()] + [y[train].mean() for train, _ in folds]
    assert [e.predict(X.iloc[:1])[0] for e in bag.estimators_] == pytest.approx(expected)
    assert bag.predict(X) == pytest.approx(np.full(60, np.mean(expected)))


def test_class_probabilities_are_averaged_over_every_class():
    X = pd.DataFrame({"x": np.arange(40.0)})
    # "rare" sits in 2 rows: some folds' training rows may lack it; its column stays.
    y = np.array(["a"] * 24 + ["b"] * 14 + ["rare"] * 2)
    bag = FoldBag(DummyClassifier(strategy="prior"), n_folds=5, seed=0, task="multiclass")
    bag.fit(X, y)
    folds = make_folds(y, task="multiclass", n_folds=5, seed=0)
    priors = [np.array([24, 14, 2]) / 40] + [
        np.array([(y[train] == c).mean() for c in ["a", "b", "rare"]]) for train, _ in folds
    ]
    proba = bag.predict_proba(X)
    assert list(bag.classes_) == ["a", "b", "rare"]
    assert proba[0] == pytest.approx(np.mean(priors, axis=0))
    assert proba.sum(axis=1) == pytest.approx(np.ones(40))
    assert set(bag.predict(X)) == {"a"}


def bagged_pipeline(learner, params, plan):
    """A binary pipeline bagged over 3 folds (seed 0)."""
    return build_pipeline(
        learner, params, plan, "binary", seed=0, n_jobs=1, bag_folds=3, fold_seed=0
    )


def test_a_bagged_pipeline_featurizes_once_and_predicts_like_its_average():
    frame = make_frame(task="binary", n=200, seed=2)
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    plan = plan_columns(X, target="target", exclude={})
    bagged = bagged_pipeline("lightgbm", {"n_estimators": 20}, plan).fit(X, y)
    bag = bagged.named_steps["model"]
    assert len(bag.estimators_) == 4
    features = bagged.named_steps["features"].transform(X)
    by_hand = np.mean([e.predict_proba(features) for e in bag.estimators_], axis=0)
    assert bagged.predict_proba(X) == pytest.approx(by_hand)
    # The same seeds and folds give the same model: a deterministic run stays reproducible.
    again = bagged_pipeline("lightgbm", {"n_estimators": 20}, plan).fit(X, y)
    assert again.predict_proba(X) == pytest.approx(bagged.predict_proba(X), abs=0)


def test_bagging_only_where_its_refits_fit():
    small, big = 2_000, BAG_MAX_ROWS + 1
    assert bag_refit_multiple(small, 5) == 5.0
    assert bag_refit_multiple(big, 5) == 1.0  # one validation split: no fold models
    assert bag_refit_multiple(small, 5, enabled=False) == 1.0

    def folds(rows, *, enabled=True, refit=1.0, bagged=None, left=10.0):
        return bag_folds_for_refit(
            rows,
            5,
            enabled=enabled,
            refit_seconds=refit,
            bagged_seconds=refit if bagged is None else bagged,
            seconds_left=left,
        )

    assert folds(small) == 5  # 5 x 1 s of refits in 10 s
    assert folds(small, refit=3.0) == 0  # 15 s of refits do not fit: refit on all rows only
    # 2 s of forests (not bagged) and 1 s of boosting bagged: 2 + 5 x 1 s fit in 10 s.
    assert folds(small, refit=3.0, bagged=1.0) == 5
    assert folds(small, enabled=False) == 0
    assert folds(big) == 0
    # A deterministic run has no clock: its choice cannot depend on the machine's speed.
    assert folds(small, refit=1e6, left=math.inf) == 5


def test_forests_are_not_bagged_again_and_importance_reads_the_full_refit():
    from trialflow.explain.importance import global_importance
    from trialflow.model.bagging import BAGGED_NOTE
    from trialflow.model.ensemble import WeightedEnsemble

    frame = make_frame(task="binary", n=200, seed=5)
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    plan = plan_columns(X, target="target", exclude={})

    forest = bagged_pipeline("random_forest", {"n_estimators": 20}, plan)
    assert not isinstance(forest.named_steps["model"], FoldBag)
    model = WeightedEnsemble(
        [bagged_pipeline("lightgbm", {"n_estimators": 20}, plan), forest], [0.5, 0.5], task="binary"
    ).fit(X, y)
    found = global_importance(
        model,
        X,
        y,
        columns=list(X.columns),
        metric="roc_auc",
        classes=["no", "yes"],
        seed=0,
        seconds=None,
    )
    # The bagged LightGBM member is explained by tree SHAP on its refit on all rows.
    assert "SHAP" in found.method and found.method.endswith(BAGGED_NOTE)
    assert set(found.raw["column"]) == set(X.columns)


def test_the_search_keeps_time_for_bagged_refits():
    from trialflow.search.loop import estimate_refit_seconds, reserved_refit_seconds
    from trialflow.search.trial import TrialResult

    history = [
        TrialResult(
            i,
            "lightgbm",
            {"n_estimators": 100 + i},
            0,
            "ok",
            score=0.7 + i / 100,
            fold_scores=[0.7] * 5,
            fit_seconds=1.0,
            oof=np.zeros(10),
        )
        for i in range(3)
    ]
    plain = reserved_refit_seconds(history, "roc_auc")
    assert plain == pytest.approx(3 * estimate_refit_seconds(history[0]))
    assert reserved_refit_seconds(history, "roc_auc", multiple=5.0) == pytest.approx(5 * plain)
    # The floor (the best trial's refit when the cap is lower) is a plain refit: the bag is
    # dropped at the refit when it does not fit.
    assert reserved_refit_seconds(history, "roc_auc", cap=0.0, multiple=5.0) == pytest.approx(
        plain / 3
    )
    # A forest is refitted once, bagging or not.
    history[0].learner = "random_forest"
    one = estimate_refit_seconds(history[0])
    assert reserved_refit_seconds(history, "roc_auc", multiple=5.0) == pytest.approx(
        one + 5 * 2 * one
    )
