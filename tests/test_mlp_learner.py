"""The MLP learner on the CPU: fits a small frame through the trial path, is deterministic
with a seed, pickles, and scores on NumPy alone."""

import pickle

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.metrics import roc_auc_score

from trialflow.featurizers import plan_columns
from trialflow.gpu.mlp import MLPClassifier, MLPRegressor
from trialflow.learners import LEARNERS, portfolio_for
from trialflow.model.pipeline import build_pipeline

from .conftest import make_frame


def test_the_mlp_is_opt_in():
    assert "mlp" not in [s.name for s in portfolio_for("binary", gpu=False)]
    assert [s.name for s in portfolio_for("binary", ["mlp"], gpu=False)][-1] == "mlp"
    assert "mlp" in [s.name for s in portfolio_for("regression", gpu=True)]
    assert LEARNERS["mlp"].wants_gpu and LEARNERS["mlp"].resource == "epochs"


@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_mlp_pipeline_fits_deterministically_and_pickles(task):
    frame = make_frame(task=task, n=400)
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    plan = plan_columns(X, target="target", exclude={})
    spec = LEARNERS["mlp"]
    params = {**spec.defaults, "epochs": 30}
    first = build_pipeline("mlp", params, plan, task, seed=3, n_jobs=1).fit(X, y)
    second = build_pipeline("mlp", params, plan, task, seed=3, n_jobs=1).fit(X, y)
    method = "predict" if task == "regression" else "predict_proba"
    np.testing.assert_array_equal(getattr(first, method)(X), getattr(second, method)(X))
    model = first.named_steps["model"]
    model = getattr(model, "regressor_", model)
    assert all(isinstance(w, np.ndarray) for w in model.coefs_ + model.intercepts_)
    again = pickle.loads(pickle.dumps(first))
    np.testing.assert_array_equal(getattr(again, method)(X), getattr(first, method)(X))


def test_mlp_learns_and_follows_the_estimator_contract():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1500, 8))
    y = np.where(X[:, 0] * X[:, 1] + X[:, 2] > 0, "yes", "no")
    model = MLPClassifier(epochs=60, random_state=0, device="cpu")
    assert clone(model).get_params() == model.get_params()
    model.fit(X[:1000], y[:1000])
    assert list(model.classes_) == ["no", "yes"]
    assert roc_auc_score(y[1000:] == "yes", model.predict_proba(X[1000:])[:, 1]) > 0.9
    assert set(model.predict(X[1000:])) <= {"no", "yes"}
    target = X[:, 0] * 3 + np.nan_to_num(X[:, 1])
    X[::7, 1] = np.nan  # missing inputs sit at the mean
    regressor = MLPRegressor(epochs=60, random_state=0).fit(X, target)
    assert np.corrcoef(regressor.predict(X), target)[0, 1] > 0.9


def test_the_epoch_callback_can_stop_a_fit():
    class Stop(Exception):
        pass

    def stop(epoch):
        if epoch == 2:
            raise Stop

    X = np.random.default_rng(1).normal(size=(200, 3))
    with pytest.raises(Stop):
        MLPRegressor(epochs=50).fit(X, X[:, 0], callbacks=[stop])
    kwargs = LEARNERS["mlp"].fit_kwargs(stop_at=0.0)
    from trialflow.errors import TrialTimeout

    with pytest.raises(TrialTimeout):
        MLPRegressor(epochs=50).fit(X, X[:, 0], **kwargs)
