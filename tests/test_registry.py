import pytest

from trialflow.errors import ModelNotFoundError
from trialflow.featurizers import plan_columns
from trialflow.pipeline import build_pipeline
from trialflow.registry import load_model, register_model, resolve_model

from .conftest import make_frame


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def fitted():
    frame = make_frame()
    X, y = frame.drop(columns="target"), frame["target"]
    plan = plan_columns(X, target="target", exclude={})
    return build_pipeline("lightgbm", {"n_estimators": 20}, plan, "binary", seed=0, n_jobs=1).fit(
        X, y
    ), X


def test_register_then_load_predicts_identically(store):
    pipeline, X = fitted()
    registered = register_model(
        pipeline,
        name="unit-model",
        configured_uri=store,
        sample=X.head(),
        params={"seed": 0},
        metrics={"cv_roc_auc": 0.9},
        tags={"data.fingerprint": "abc"},
        tables={},
    )
    loaded, info = load_model("unit-model", configured_uri=store)
    assert info.version == registered.version
    assert (loaded.predict_proba(X) == pipeline.predict_proba(X)).all()
    assert (
        resolve_model(f"unit-model/{registered.version}", configured_uri=store)[1]
        == registered.version
    )


def test_unknown_models_and_versions_say_what_exists(store):
    with pytest.raises(ModelNotFoundError, match="Registered models: .*unit-model"):
        resolve_model("nope", configured_uri=store)
    with pytest.raises(ModelNotFoundError, match="has no version 99"):
        resolve_model("unit-model/99", configured_uri=store)
    with pytest.raises(ModelNotFoundError):
        resolve_model("unit-model@champion", configured_uri=store)
