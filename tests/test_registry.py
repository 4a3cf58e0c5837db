import pytest

from trialflow.errors import ModelNotFoundError
from trialflow.featurizers import plan_columns
from trialflow.model.pipeline import build_pipeline
from trialflow.registry.loading import load_model, resolve_model
from trialflow.registry.store import register_model

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


def test_registering_a_checked_model_serialises_it_once_and_logs_everything(store, monkeypatch):
    import mlflow
    import skops.io

    from trialflow.registry.trusted import trusted_types

    pipeline, X = fitted()
    calls = []
    dumps = skops.io.dumps
    monkeypatch.setattr(skops.io, "dumps", lambda obj: calls.append(obj) or dumps(obj))
    types = trusted_types(pipeline)
    registered = register_model(
        pipeline,
        name="once",
        configured_uri=store,
        sample=X.head(),
        params={"seed": 3, "learner": "lightgbm"},
        metrics={"cv_roc_auc": 0.9, "trials": 4.0},
        tags={"data.fingerprint": "abc"},
        tables={"leaderboard.csv": X.head(3)},
        documents={"expectations.json": {"expectations": [1, 2]}},
        texts={"report.html": "<p>report</p>"},
        trusted=types,
    )
    assert len(calls) == 1
    loaded, _ = load_model("once", configured_uri=store)
    assert (loaded.predict_proba(X) == pipeline.predict_proba(X)).all()
    client = mlflow.MlflowClient(tracking_uri=store)
    run = client.get_run(registered.run_id)
    assert run.data.params == {"seed": "3", "learner": "lightgbm"}
    assert run.data.metrics == {"cv_roc_auc": 0.9, "trials": 4.0}
    assert run.data.tags["data.fingerprint"] == "abc"
    artifacts = f"runs:/{registered.run_id}"
    assert mlflow.artifacts.load_dict(f"{artifacts}/expectations.json") == {"expectations": [1, 2]}
    assert mlflow.artifacts.load_text(f"{artifacts}/report.html") == "<p>report</p>"
    assert mlflow.artifacts.load_text(f"{artifacts}/leaderboard.csv") == X.head(3).to_csv(
        index=False
    )


def test_the_model_folder_is_the_one_mlflow_sklearn_writes(tmp_path):
    """Registration writes MLflow's scikit-learn model folder around skops bytes made
    earlier; it must stay what mlflow.sklearn.save_model writes, file for file."""
    import mlflow
    import skops.io
    import yaml
    from mlflow.models import Model, infer_signature

    from trialflow.registry.store import _requirements, _SkopsBytes
    from trialflow.registry.trusted import trusted_types

    pipeline, X = fitted()
    types = trusted_types(pipeline)
    signature = infer_signature(X.head(), pipeline.predict(X.head()))
    options = dict(
        signature=signature,
        pip_requirements=_requirements(),
        skops_trusted_types=types,
        serialization_format="skops",
    )
    mlflow.sklearn.save_model(pipeline, str(tmp_path / "mlflow"), **options)
    _SkopsBytes(skops.io.dumps(pipeline)).save_model(str(tmp_path / "ours"), Model(), **options)
    theirs, ours = tmp_path / "mlflow", tmp_path / "ours"
    assert sorted(p.name for p in ours.iterdir()) == sorted(p.name for p in theirs.iterdir())
    for name in ("requirements.txt", "conda.yaml", "python_env.yaml"):
        assert (ours / name).read_text() == (theirs / name).read_text(), name

    def described(folder):
        document = yaml.safe_load((folder / "MLmodel").read_text())
        # When and which save: these differ between any two saves.
        for key in ("utc_time_created", "model_uuid", "model_size_bytes"):
            document.pop(key, None)
        return document

    assert described(ours) == described(theirs)
    loaded = mlflow.sklearn.load_model(str(ours))
    assert (loaded.predict_proba(X) == pipeline.predict_proba(X)).all()


def test_the_store_read_directly_answers_as_mlflow(store, monkeypatch):
    """Scoring reads versions, aliases and files straight from the SQLite store; MLflow's
    own client, asked the same, names the same version and loads the same model."""
    from trialflow.registry import loading
    from trialflow.registry import store as registry

    _, X = fitted()
    versions = [_register_fitted(store, "direct", seed=s).version for s in range(3)]
    client = registry.store_client(store)
    client.set_registered_model_alias("direct", "champion", versions[0])
    client.delete_model_version("direct", versions[2])  # the latest is now the second
    refs = ["direct", "direct@champion", f"direct/{versions[0]}", f"direct/{versions[1]}"]

    def no_mlflow(uri):
        raise AssertionError("read through MLflow")

    with monkeypatch.context() as patched:
        patched.setattr(loading, "use_store", no_mlflow)
        direct = {
            ref: (resolve_model(ref, configured_uri=store), *load_model(ref, configured_uri=store))
            for ref in refs
        }
    assert direct["direct"][0] == ("direct", versions[1])
    monkeypatch.setattr(loading, "_stored_version", lambda uri, match: None)
    for ref in refs:
        resolved, model, info = direct[ref]
        assert resolve_model(ref, configured_uri=store) == resolved
        through_mlflow, mlflow_info = load_model(ref, configured_uri=store)
        assert info == mlflow_info
        assert (model.predict_proba(X) == through_mlflow.predict_proba(X)).all()
    # What the store does not hold is MLflow's to word, as before.
    with pytest.raises(ModelNotFoundError, match=f"has no version {versions[2]}"):
        resolve_model(f"direct/{versions[2]}", configured_uri=store)


def test_expectations_read_directly_are_mlflows(store, monkeypatch):
    from trialflow.registry import loading
    from trialflow.registry import store as registry

    pipeline, X = fitted()
    suite = {"expectations": [{"type": "expect_column_to_exist", "kwargs": {"column": "x1"}}]}
    registered = register_model(
        pipeline,
        name="with-suite",
        configured_uri=store,
        sample=X.head(),
        params={},
        metrics={},
        tags={},
        tables={},
        documents={registry.EXPECTATIONS_FILE: suite},
    )
    assert loading._run_artifact(store, registered.run_id, registry.EXPECTATIONS_FILE)
    assert loading.load_expectations(registered) == suite
    monkeypatch.setattr(loading, "_run_artifact", lambda uri, run_id, filename: None)
    assert loading.load_expectations(registered) == suite


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"skops_trusted_types": ["builtins.eval"]}, "builtins.eval"),
        ({"serialization_format": "cloudpickle"}, "not skops"),
    ],
    ids=["widened-types", "pickle"],
)
def test_an_altered_model_file_is_refused_read_directly_or_through_mlflow(
    store, monkeypatch, change, refusal
):
    import yaml

    from trialflow.errors import ConfigError
    from trialflow.registry import loading

    name = f"altered-{next(iter(change))}"
    _register_fitted(store, name)
    stored = loading._stored_version(store, loading._parse_ref(name))
    description_file = stored.model_dir / "MLmodel"
    description = yaml.safe_load(description_file.read_text())
    flavor = description["flavors"]["sklearn"]
    for key, value in change.items():
        flavor[key] = flavor.get(key, []) + value if isinstance(value, list) else value
    description_file.write_text(yaml.safe_dump(description))

    with pytest.raises(ConfigError, match=refusal):
        load_model(name, configured_uri=store)
    monkeypatch.setattr(loading, "_stored_version", lambda uri, match: None)
    with pytest.raises(ConfigError, match=refusal):
        load_model(name, configured_uri=store)
