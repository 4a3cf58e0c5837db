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


def _register_fitted(store: str, name: str, seed: int = 0):
    pipeline, X = fitted()
    return register_model(
        pipeline,
        name=name,
        configured_uri=store,
        sample=X.head(),
        params={"seed": seed},
        metrics={"cv_roc_auc": 0.9},
        tags={"seed": str(seed)},
        tables={"leaderboard.csv": X.head(3)},
    )


def test_a_failure_after_the_artifacts_leaves_no_version(store, monkeypatch):
    import mlflow

    real = mlflow.register_model

    def register_then_fail(*args, **kwargs):
        real(*args, **kwargs)  # the version exists for a moment...
        raise RuntimeError("store went away")

    monkeypatch.setattr(mlflow, "register_model", register_then_fail)
    with pytest.raises(RuntimeError, match="store went away"):
        _register_fitted(store, "half-made")
    client = mlflow.MlflowClient(tracking_uri=store, registry_uri=store)
    assert client.search_model_versions("name = 'half-made'") == []
    runs = client.search_runs(
        [client.get_experiment_by_name("trialflow").experiment_id],
        "attributes.run_name = 'half-made'",
    )
    assert [r.info.status for r in runs] == ["FAILED"]


CONCURRENT_REGISTRATION = """
import sys
from tests.test_registry import _register_fitted
for i in range(3):
    print(_register_fitted(sys.argv[1], "shared", seed=int(sys.argv[2]) * 10 + i).version)
"""


def test_two_trainings_registering_at_once_both_land(store, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", CONCURRENT_REGISTRATION, store, str(k)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
            cwd=root,
        )
        for k in (1, 2)
    ]
    outputs = [w.communicate(timeout=240) for w in writers]
    for writer, (_, err) in zip(writers, outputs, strict=True):
        assert writer.returncode == 0, err[-3000:]
    versions = sorted(int(v) for out, _ in outputs for v in out.split())
    assert versions == [1, 2, 3, 4, 5, 6]
    _, X = fitted()
    for version in versions:
        loaded, info = load_model(f"shared/{version}", configured_uri=store)
        assert len(loaded.predict(X.head())) == 5
