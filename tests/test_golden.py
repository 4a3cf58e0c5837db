"""Models registered by earlier trialflow releases still load and score.

Each ``tests/golden/trialflow-X.Y.Z/`` holds a model directory exactly as that release had
MLflow store it, and the predictions it made then (tests/golden/make_golden.py writes one
per release). Each is registered in a fresh store, as a store that has kept the old version
presents it, then scored through trialflow's public API, which must load it the normal way:
skops with trialflow's trusted types, nothing unpickled.
"""

from __future__ import annotations

import pickle
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import trialflow
from trialflow.registry.trusted import TRUSTED_MODULES, TRUSTED_NAMES

GOLDEN_ROOT = Path(__file__).parent / "golden"
GOLDEN_RELEASES = sorted(p for p in GOLDEN_ROOT.glob("trialflow-*") if p.is_dir())
MODEL_NAME = "golden"


def test_the_golden_artifacts_are_there():
    # An empty parametrisation below would only be skipped: say so loudly instead.
    assert (GOLDEN_ROOT / "trialflow-0.1.0" / "model" / "MLmodel").is_file()


def register_old_version(uri: str, model_dir: Path) -> str:
    """Register ``model_dir`` as a version whose files sit where its release left them; the
    run that logged it is not in this store, as after a store is moved or pruned."""
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri, registry_uri=uri)
    client.create_registered_model(MODEL_NAME)
    return client.create_model_version(MODEL_NAME, source=str(model_dir)).version


def record_skops_loads(monkeypatch) -> list[list[str] | None]:
    """The ``trusted`` list of every skops load from now on; the load itself goes ahead."""
    import skops.io

    trusted_lists: list[list[str] | None] = []
    real_load = skops.io.load

    def recording_load(file, *args, trusted=None, **kwargs):
        trusted_lists.append(trusted)
        return real_load(file, *args, trusted=trusted, **kwargs)

    monkeypatch.setattr(skops.io, "load", recording_load)
    return trusted_lists


def forbid_unpickling(monkeypatch) -> None:
    """Loading must never fall back to pickle, which would run whatever the file holds."""
    import cloudpickle

    def refuse(*args, **kwargs):
        raise AssertionError("The golden model was unpickled; it must load with skops.")

    for module in (pickle, cloudpickle):
        monkeypatch.setattr(module, "load", refuse)
        monkeypatch.setattr(module, "loads", refuse)


def is_trusted_by_trialflow(type_name: str) -> bool:
    return type_name.startswith(TRUSTED_MODULES) or type_name in TRUSTED_NAMES


@pytest.mark.parametrize("release", GOLDEN_RELEASES, ids=lambda path: path.name)
def test_a_model_from_an_earlier_release_loads_and_scores(release, tmp_path, monkeypatch):
    # A copy: MLflow may write beside a version's files, and tests/ must stay untouched.
    model_dir = shutil.copytree(release / "model", tmp_path / "model")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    version = register_old_version(uri, model_dir)
    expected = pd.read_csv(release / "expected.csv")
    features = expected.drop(columns="prediction")
    trusted_lists = record_skops_loads(monkeypatch)
    forbid_unpickling(monkeypatch)

    scored = trialflow.predict(f"{MODEL_NAME}/{version}", features, tracking_uri=uri)

    assert scored["row"].tolist() == list(range(1, len(features) + 1))
    np.testing.assert_allclose(scored["prediction"], expected["prediction"], rtol=1e-6)
    # skops rebuilds only the types it is told to trust, and MLflow reads that list from the
    # artifact itself, so the list is what decides whether loading it was safe.
    assert len(trusted_lists) == 1, "the model must load exactly once, with skops"
    trusted = trusted_lists[0]
    assert trusted, "skops was given no trusted types"
    assert [t for t in trusted if not is_trusted_by_trialflow(t)] == []


def test_an_artifact_that_widens_its_trusted_types_is_refused(tmp_path):
    """MLflow passes skops the trusted types listed in the artifact's own MLmodel file, so an
    altered file could trust anything; trialflow checks the list before loading."""
    import yaml

    from trialflow.errors import ConfigError

    model_dir = shutil.copytree(GOLDEN_ROOT / "trialflow-0.1.0" / "model", tmp_path / "model")
    mlmodel = yaml.safe_load((model_dir / "MLmodel").read_text())
    mlmodel["flavors"]["sklearn"]["skops_trusted_types"].append("builtins.eval")
    (model_dir / "MLmodel").write_text(yaml.safe_dump(mlmodel))
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    version = register_old_version(uri, model_dir)
    features = pd.read_csv(GOLDEN_ROOT / "trialflow-0.1.0" / "expected.csv").head(3)
    with pytest.raises(ConfigError, match=r"'builtins.eval'.*it is not loaded"):
        trialflow.predict(
            f"{MODEL_NAME}/{version}", features.drop(columns="prediction"), tracking_uri=uri
        )
