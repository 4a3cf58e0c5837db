import numpy as np
import pytest
from sklearn.base import clone

from trialflow.featurizers import plan_columns
from trialflow.learners import LEARNERS
from trialflow.model.ensemble import WeightedEnsemble, select_ensemble
from trialflow.model.pipeline import build_pipeline
from trialflow.search.folds import make_folds
from trialflow.search.trial import TrialData, TrialSpec, run_trial

from .conftest import make_frame


def trials_for(task, metric, learners):
    frame = make_frame(task=task, n=300, seed=4)
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    folds = make_folds(y, task=task, n_folds=3, seed=0)
    classes = None if task == "regression" else sorted(set(y))
    data = TrialData(
        X,
        y,
        folds,
        task,
        metric,
        plan_columns(X, target="target", exclude={}),
        classes,
        token=f"ens-{task}",
    )
    results = [
        run_trial(data, TrialSpec(i, name, LEARNERS[name].defaults, 0))
        for i, name in enumerate(learners)
    ]
    return results, y, folds, classes


@pytest.mark.parametrize(
    ("task", "metric", "learners"),
    [
        ("binary", "roc_auc", ["lightgbm", "logistic_regression", "extra_trees"]),
        ("regression", "r2", ["lightgbm", "elastic_net", "extra_trees"]),
        ("multiclass", "log_loss", ["lightgbm", "logistic_regression", "extra_trees"]),
    ],
)
def test_selected_ensemble_beats_every_member_out_of_fold(task, metric, learners):
    results, y, folds, classes = trials_for(task, metric, learners)
    assert all(r.oof is not None and not np.isnan(r.oof).any() for r in results)
    choice = select_ensemble(results, y, folds, metric=metric, classes=classes)
    if choice is None:  # allowed, but then no member mix may beat the best single trial
        return
    assert len(choice.members) >= 2 and sum(choice.weights) == pytest.approx(1.0)
    loss = lambda s: -s if metric != "log_loss" else s  # noqa: E731
    assert loss(choice.score) < min(loss(r.score) for r in results)
    row = choice.as_result(trial_id=99)
    assert row.learner == "ensemble" and row.status == "ok"


def test_no_ensemble_from_a_single_trial():
    results, y, folds, classes = trials_for("binary", "roc_auc", ["lightgbm"])
    assert select_ensemble(results, y, folds, metric="roc_auc", classes=classes) is None


def test_weighted_ensemble_is_a_scikit_learn_estimator():
    frame = make_frame(task="binary", n=200)
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    plan = plan_columns(X, target="target", exclude={})
    members = [
        build_pipeline(name, LEARNERS[name].defaults, plan, "binary", seed=0, n_jobs=1)
        for name in ("lightgbm", "logistic_regression")
    ]
    ensemble = WeightedEnsemble(members, [0.75, 0.25], task="binary").fit(X, y)
    proba = ensemble.predict_proba(X)
    expected = 0.75 * ensemble.members_[0].predict_proba(X) + 0.25 * ensemble.members_[
        1
    ].predict_proba(X)
    np.testing.assert_allclose(proba, expected)
    assert set(ensemble.predict(X)) <= {"yes", "no"}
    assert clone(ensemble).get_params()["weights"] == [0.75, 0.25]
    regressor = WeightedEnsemble(members, [1, 1], task="regression")
    assert not hasattr(regressor, "predict_proba")
    with pytest.raises(ValueError, match="equal length"):
        WeightedEnsemble(members, [1.0], task="binary").fit(X, y)


def test_the_best_trial_that_cannot_be_refitted_in_time_gives_way_alone():
    results, y, folds, classes = trials_for("binary", "roc_auc", ["lightgbm", "extra_trees"])
    best = max(results, key=lambda r: r.score)
    other = next(r for r in results if r is not best)
    # The best's refit (on all rows, from a share of them) would not finish in time.
    cost = lambda r: 100.0 if r is best else 1.0  # noqa: E731
    choice = select_ensemble(
        results, y, folds, metric="roc_auc", classes=classes, refit_cost=cost, refit_allowance=10
    )
    assert choice is not None and len(choice.members) == 1 and choice.members[0] is other
    assert choice.weights == [1.0]
    assert choice.score == pytest.approx(other.score)
    # With the time to refit it, the best trial (or a mix with it) is chosen as before.
    choice = select_ensemble(
        results, y, folds, metric="roc_auc", classes=classes, refit_cost=cost, refit_allowance=200
    )
    assert choice is None or any(m is best for m in choice.members)
