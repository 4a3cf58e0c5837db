import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from trialflow.errors import DataError
from trialflow.featurizers import FEATURIZERS, TableFeaturizer, make_featurizer, plan_columns

COLUMNS = {"numeric": ["x1", "x2"], "categorical": ["colour"], "datetime": ["when"]}


@pytest.mark.parametrize("kind", sorted(FEATURIZERS))
def test_featurizer_conformance(kind, binary_frame):
    """Every registered featurizer: fits, names its outputs, transforms unseen rows alike."""
    featurizer = make_featurizer(kind, COLUMNS[kind])
    assert clone(featurizer).get_params() == featurizer.get_params()
    train, test = binary_frame.iloc[:80], binary_frame.iloc[80:]
    out = featurizer.fit(train).transform(test)
    assert list(out.columns) == featurizer.get_feature_names_out()
    assert len(out) == len(test)
    assert out.index.equals(test.index)
    assert list(featurizer.fit(train).transform(test).columns) == list(out.columns)


def test_numeric_imputes_median_and_flags_missing():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.inf]})
    out = make_featurizer("numeric", ["a"]).fit(frame).transform(frame)
    assert out["a"].tolist() == [1.0, 2.0, 3.0, 2.0]
    assert out["a__missing"].tolist() == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("encoding", ["native", "onehot"])
def test_categorical_maps_unseen_values(encoding):
    train = pd.DataFrame({"c": ["a", "a", "b", None]})
    featurizer = make_featurizer("categorical", ["c"], categorical_encoding=encoding).fit(train)
    out = featurizer.transform(pd.DataFrame({"c": ["a", "zzz", None]}))
    if encoding == "native":
        assert out["c"].tolist()[:2] == ["a", "__other__"]
        assert pd.isna(out["c"].iloc[2])
    else:
        assert out.to_numpy().tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]


def test_categorical_caps_levels():
    train = pd.DataFrame({"c": [f"v{i}" for i in range(1000)]})
    native = make_featurizer("categorical", ["c"]).fit(train)
    assert len(native.transform(train)["c"].cat.categories) <= 251
    onehot = make_featurizer("categorical", ["c"], categorical_encoding="onehot").fit(train)
    assert onehot.transform(train).shape[1] == 20


def test_datetime_parts_and_hours():
    frame = pd.DataFrame({"d": ["2024-03-01 10:30", "2024-12-25 00:00", None]})
    out = make_featurizer("datetime", ["d"]).fit(frame).transform(frame)
    assert out.loc[0, "d__month"] == 3
    assert out.loc[1, "d__dayofweek"] == 2  # a Wednesday
    assert out.loc[0, "d__hour"] == 10
    assert np.isnan(out.loc[2, "d__year"])


def test_plan_detects_kinds_and_drops_with_reasons(binary_frame):
    binary_frame["empty"] = np.nan
    binary_frame["same"] = 7
    binary_frame["group"] = "x"
    plan = plan_columns(binary_frame, target="target", exclude={"x2": "sensitive"})
    assert plan.kinds == {"numeric": ["x1"], "categorical": ["colour"], "datetime": ["when"]}
    assert plan.dropped["x2"] == "sensitive"
    assert "missing" in plan.dropped["empty"]
    assert "single value" in plan.dropped["same"]
    assert set(plan.to_frame()["column"]) == set(binary_frame.columns) - {"target"}


def test_table_featurizer_names_missing_columns(binary_frame):
    plan = plan_columns(binary_frame, target="target", exclude={})
    featurizer = TableFeaturizer(plan).fit(binary_frame)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['colour'\]"):
        featurizer.transform(binary_frame.drop(columns=["colour"]))
