"""Sampled Shapley contributions: exact additivity, exact on linear models, any dtype."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression

from trialflow.explain.contributions import EXPECTED, top_contributions
from trialflow.explain.shapley import model_output, sampled_contributions
from trialflow.featurizers import plan_columns
from trialflow.model.pipeline import build_pipeline

from .conftest import make_frame

WEIGHTS = {"a": 2.0, "b": -3.0, "c": 0.5, "d": 0.0}


def _numeric(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({c: rng.normal(size=n) for c in WEIGHTS})


def _linear(X: pd.DataFrame) -> np.ndarray:
    # Ignores "d" entirely (its weight is only for the expected values below).
    return 2.0 * X["a"].to_numpy() - 3.0 * X["b"].to_numpy() + 0.5 * X["c"].to_numpy() + 1.0


def _assert_additive(contributions: pd.DataFrame, prediction: np.ndarray) -> None:
    total = contributions.drop(columns=EXPECTED).sum(axis=1) + contributions[EXPECTED]
    np.testing.assert_allclose(total.to_numpy(), prediction, rtol=0, atol=1e-9)


def test_contributions_add_up_to_the_prediction():
    X = _numeric(200, seed=0)
    y = X["a"] * X["b"] + np.sin(X["c"]) + X["d"] ** 2
    model = HistGradientBoostingRegressor(max_iter=20, random_state=0).fit(X, y)
    rows = X.iloc[:10]
    out = sampled_contributions(model.predict, rows, X.iloc[100:], n_samples=8)
    assert list(out.columns) == [*WEIGHTS, EXPECTED]
    assert out.index.equals(rows.index)
    _assert_additive(out, model.predict(rows))


def test_a_single_background_row_gives_the_exact_linear_shapley_values():
    rows, background = _numeric(7, seed=1), _numeric(1, seed=2)
    out = sampled_contributions(_linear, rows, background, n_samples=5)
    for column, weight in WEIGHTS.items():
        expected = weight * (rows[column] - background[column].iloc[0])
        np.testing.assert_allclose(out[column], expected, rtol=0, atol=1e-12)
    np.testing.assert_allclose(out[EXPECTED], _linear(background)[0], rtol=0, atol=1e-12)


def test_a_column_the_model_ignores_gets_exactly_zero():
    out = sampled_contributions(_linear, _numeric(9, seed=3), _numeric(30, seed=4))
    assert (out["d"] == 0.0).all()


def test_mixed_dtypes_reach_predict_unchanged():
    n = 12
    rows = pd.DataFrame(
        {
            "size": pd.Categorical(["s", "m", "l", None] * 3, categories=["s", "m", "l"]),
            "name": ["ab", "abcd", None, "a"] * 3,
            "text": pd.array(["x", "yy", pd.NA, "zzz"] * 3, dtype="string"),
            "when": pd.date_range("2024-01-01", periods=n, freq="17D"),
            "count": pd.array([1, None, 3, 4] * 3, dtype="Int64"),
            "value": [0.5, np.nan, 2.0, 3.5] * 3,
        },
        index=[f"r{i}" for i in range(n)],
    )
    background = rows.sample(n=8, random_state=0).reset_index(drop=True)
    # A category the explained rows never hold must not turn the column into object.
    background["size"] = pd.Categorical(["xl", "s", "m", "l"] * 2, categories=["s", "m", "l", "xl"])
    dtypes = rows.dtypes
    seen = []

    def predict(X: pd.DataFrame) -> np.ndarray:
        seen.append(X.dtypes)
        size = X["size"].map({"s": 1.0, "m": 2.0, "l": 3.0, "xl": 4.0}).astype(float)
        return (
            size.fillna(0).to_numpy()
            + X["name"].str.len().fillna(-1).to_numpy()
            + X["text"].str.len().fillna(-2).astype(float).to_numpy()
            + X["when"].dt.dayofyear.to_numpy() / 100
            + X["count"].fillna(10).astype(float).to_numpy()
            + X["value"].fillna(-5).to_numpy() ** 2
        )

    out = sampled_contributions(predict, rows, background, n_samples=6)
    assert seen and all((d.drop("size") == dtypes.drop("size")).all() for d in seen), (
        "dtypes changed"
    )
    assert all(isinstance(d["size"], pd.CategoricalDtype) for d in seen)
    assert out.index.equals(rows.index)
    assert not out.isna().any().any()
    _assert_additive(out, predict(rows))


def test_same_seed_same_values_and_a_column_subset_stays_additive():
    rows, background = _numeric(6, seed=5), _numeric(40, seed=6)
    first = sampled_contributions(_linear, rows, background, seed=3)
    pd.testing.assert_frame_equal(first, sampled_contributions(_linear, rows, background, seed=3))
    other = sampled_contributions(_linear, rows, background, seed=4)
    assert not np.allclose(first["a"], other["a"])

    subset = sampled_contributions(_linear, rows, background, columns=["b", "a"])
    assert list(subset.columns) == ["b", "a", EXPECTED]
    _assert_additive(subset, _linear(rows))
    # Columns left out stay at the row's value, so their effect lands in the expected value.
    one = background.iloc[:1]
    subset = sampled_contributions(_linear, rows, one, columns=["b", "a"])
    np.testing.assert_allclose(subset["a"], 2.0 * (rows["a"] - one["a"].iloc[0]), atol=1e-12)
    start = rows.assign(a=one["a"].iloc[0], b=one["b"].iloc[0])
    np.testing.assert_allclose(subset[EXPECTED], _linear(start), atol=1e-12)
    with pytest.raises(ValueError, match="missing"):
        sampled_contributions(_linear, rows, background, columns=["nope"])


@pytest.mark.parametrize("batch_rows", [50, 130, 333])
def test_batching_does_not_change_the_values(batch_rows):
    rows, background = _numeric(11, seed=7), _numeric(25, seed=8)
    sizes = []

    def predict(X: pd.DataFrame) -> np.ndarray:
        sizes.append(len(X))
        return _linear(X) ** 2  # not additive, so the draws matter

    reference = sampled_contributions(predict, rows, background, n_samples=16)
    assert sizes == [11 * 16 * 5]
    sizes.clear()
    batched = sampled_contributions(predict, rows, background, n_samples=16, batch_rows=batch_rows)
    assert max(sizes) <= batch_rows and sum(sizes) == 11 * 16 * 5
    pd.testing.assert_frame_equal(reference, batched, check_exact=True)


def test_top_contributions_reads_the_output():
    rows = _numeric(4, seed=9)
    out = sampled_contributions(_linear, rows, _numeric(20, seed=10))
    top = top_contributions(out, k=2)
    assert list(top.columns) == [
        "column_1",
        "contribution_1",
        "column_2",
        "contribution_2",
        "expected_value",
    ]
    assert set(top["column_1"]) <= {"a", "b", "c"}
    np.testing.assert_array_equal(top["expected_value"], out[EXPECTED])


def test_model_output_explains_a_class_probability():
    X = _numeric(120, seed=11)
    y = np.where(X["a"] + X["b"] > 0, "yes", "no")
    binary = LogisticRegression().fit(X, y)
    f = model_output(binary, "binary", ["no", "yes"])
    np.testing.assert_allclose(f(X), binary.predict_proba(X)[:, 1])

    y3 = np.select([X["a"] > 0.5, X["a"] < -0.5], ["high", "low"], "mid")
    multi = LogisticRegression().fit(X, y3)
    classes = ["high", "low", "mid"]
    np.testing.assert_allclose(
        model_output(multi, "multiclass", classes)(X), multi.predict_proba(X)[:, 0]
    )
    mid = model_output(multi, "multiclass", classes, target_class="mid")
    np.testing.assert_allclose(mid(X), multi.predict_proba(X)[:, 2])


def test_a_trialflow_pipeline_is_explained_in_raw_columns():
    frame = make_frame(n=80, task="binary")
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    plan = plan_columns(X, target="target", exclude={})
    pipeline = build_pipeline("logistic_regression", {"C": 1.0}, plan, "binary", seed=0, n_jobs=1)
    pipeline.fit(X, y)
    f = model_output(pipeline, "binary", ["no", "yes"])
    rows = X.iloc[:5]
    out = sampled_contributions(f, rows, X.iloc[40:], n_samples=8)
    assert list(out.columns) == [*X.columns, EXPECTED]
    _assert_additive(out, f(rows))
