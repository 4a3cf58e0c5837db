import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from trialflow.errors import DataError
from trialflow.featurizers import (
    FEATURIZERS,
    KINDS,
    HolidayFeaturizer,
    TableFeaturizer,
    make_featurizer,
    plan_columns,
)

from .conftest import make_frame

COLUMNS = {
    "numeric": ["x1", "x2"],
    "boolean": ["flag"],
    "categorical": ["colour"],
    "high_cardinality": ["shop"],
    "datetime": ["when"],
    "text": ["review"],
}
WORDS = ["good", "bad", "fast", "slow", "cheap", "dear", "fresh", "stale", "kind", "rude"]


def mixed_frame(n: int = 160, seed: int = 0) -> pd.DataFrame:
    """make_frame plus a boolean, a many-levelled and a free-text column."""
    rng = np.random.default_rng(seed)
    frame = make_frame(n=n, seed=seed)
    frame["flag"] = rng.choice(["yes", "no", None], size=n)
    frame["shop"] = [f"shop-{i}" for i in rng.integers(0, 400, size=n)]
    frame["review"] = [" ".join(rng.choice(WORDS, size=6)) for _ in range(n)]
    return frame


def test_every_column_kind_has_a_featurizer():
    assert set(FEATURIZERS) == set(KINDS)


@pytest.mark.parametrize("kind", sorted(FEATURIZERS))
def test_featurizer_conformance(kind):
    """Every registered featurizer: fits, names its outputs, transforms unseen rows alike,
    and maps values it never saw (or missing ones) without failing."""
    frame = mixed_frame()
    featurizer = make_featurizer(kind, COLUMNS[kind])
    assert clone(featurizer).get_params() == featurizer.get_params()
    train, test = frame.iloc[:120], frame.iloc[120:].copy()
    out = featurizer.fit(train, train["target"]).transform(test)
    assert list(out.columns) == featurizer.get_feature_names_out()
    assert len(out) == len(test) and out.index.equals(test.index)
    fitted_out = featurizer.fit_transform(train, train["target"])
    assert list(fitted_out.columns) == list(out.columns) and len(fitted_out) == len(train)
    odd = test.copy()
    for column in COLUMNS[kind]:
        odd[column] = odd[column].where(np.arange(len(odd)) % 2 == 0, None)
    assert list(featurizer.transform(odd).columns) == list(out.columns)


def test_booleans_read_common_spellings():
    frame = pd.DataFrame({"b": ["Yes", "no", None, "y", "N"]})
    out = make_featurizer("boolean", ["b"]).fit(frame).transform(frame)
    assert out["b"].tolist()[:2] == [1.0, 0.0] and np.isnan(out["b"].iloc[2])
    assert out["b"].tolist()[3:] == [1.0, 0.0]


def test_high_cardinality_encodes_training_rows_out_of_fold():
    rng = np.random.default_rng(1)
    levels = [f"l{i}" for i in rng.integers(0, 300, size=600)]
    y = np.array([int(level[1:]) % 2 for level in levels])
    frame = pd.DataFrame({"c": levels})
    featurizer = make_featurizer("high_cardinality", ["c"])
    in_fold = featurizer.fit_transform(frame, y)
    refit = featurizer.transform(frame)
    # Cross-fitted training encodings differ from the full-data ones a scorer sees.
    assert not np.allclose(in_fold["c__target"], refit["c__target"])
    unseen = featurizer.transform(pd.DataFrame({"c": ["never-seen"]}))
    assert unseen.loc[0, "c__frequency"] == 0.0
    assert unseen.loc[0, "c__target"] == pytest.approx(y.mean(), abs=0.05)


def test_text_becomes_dense_components():
    frame = mixed_frame()
    out = make_featurizer("text", ["review"]).fit(frame).transform(frame)
    assert out.shape[0] == len(frame) and 1 <= out.shape[1] <= 20
    assert np.isfinite(out.to_numpy()).all()


def test_holidays_from_a_country_code():
    frame = pd.DataFrame({"d": ["2024-07-04", "2024-07-01", "2024-12-24", None]})
    out = HolidayFeaturizer(("d",), country="US").fit(frame).transform(frame)
    assert out["d__is_holiday"].tolist()[:3] == [1.0, 0.0, 0.0]
    assert out.loc[1, "d__days_to_holiday"] == 3  # Independence Day
    assert out.loc[1, "d__days_since_holiday"] == 12  # Juneteenth, 19 June
    assert out.loc[0, "d__holiday"] == "Independence Day"
    assert out.loc[1, "d__holiday"] == "none"
    assert np.isnan(out.loc[3, "d__is_holiday"])


def test_holidays_per_row_country_and_subdivision():
    frame = pd.DataFrame(
        {"d": ["2024-03-08", "2024-03-08", "2024-03-08"], "country": ["US", "DE-BE", "de"]}
    )
    out = HolidayFeaturizer(("d",), country_column="country").fit(frame).transform(frame)
    # Women's Day is a public holiday in Berlin only, not in the rest of Germany or the US.
    assert out["d__is_holiday"].tolist() == [0.0, 1.0, 0.0]


def test_an_unknown_holiday_calendar_is_a_clear_error():
    from trialflow.errors import ConfigError

    with pytest.raises(ConfigError, match="No holiday calendar for 'XX'"):
        plan_columns(make_frame(), target="target", exclude={}, holidays="XX")


def test_numeric_imputes_median_and_flags_missing():
    frame = pd.DataFrame({"a": [1.0, np.nan, 3.0, np.inf]})
    out = make_featurizer("numeric", ["a"]).fit(frame).transform(frame)
    assert out["a"].tolist() == [1.0, 2.0, 3.0, 2.0]
    assert out["a__missing"].tolist() == [0.0, 1.0, 0.0, 1.0]


@pytest.mark.parametrize("encoding", ["native", "onehot", "ordinal"])
def test_categorical_maps_unseen_values(encoding):
    train = pd.DataFrame({"c": ["a", "a", "b", None]})
    featurizer = make_featurizer("categorical", ["c"], categorical_encoding=encoding).fit(train)
    out = featurizer.transform(pd.DataFrame({"c": ["a", "zzz", None]}))
    if encoding == "native":
        assert out["c"].tolist()[:2] == ["a", "__other__"]
        assert pd.isna(out["c"].iloc[2])
    elif encoding == "ordinal":
        # a, b, then the code after the last for unseen levels; -1 for missing
        assert out["c"].tolist() == [0.0, 2.0, -1.0]
    else:
        assert out.to_numpy().tolist() == [[1.0, 0.0], [0.0, 0.0], [0.0, 0.0]]


def test_categorical_caps_levels():
    train = pd.DataFrame({"c": [f"v{i}" for i in range(1000)]})
    native = make_featurizer("categorical", ["c"]).fit(train)
    assert len(native.transform(train)["c"].cat.categories) <= 251
    onehot = make_featurizer("categorical", ["c"], categorical_encoding="onehot").fit(train)
    assert onehot.transform(train).shape[1] == 20


def test_ordinal_codes_keep_the_levels_natural_order():
    grades = pd.DataFrame(
        {"grade": ["B2", "A1", "C1", "A2", "B2"], "size": ["10", "9", "100", "9", "10"]}
    )
    featurizer = make_featurizer("categorical", ["grade", "size"], categorical_encoding="ordinal")
    out = featurizer.fit(grades).transform(grades)
    assert list(out.columns) == ["grade", "size"]
    assert out["grade"].tolist() == [2.0, 0.0, 3.0, 1.0, 2.0]  # A1 < A2 < B2 < C1
    assert out["size"].tolist() == [1.0, 0.0, 2.0, 0.0, 1.0]  # 9 < 10 < 100, as numbers


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
    assert {k: v for k, v in plan.kinds.items() if v} == {
        "numeric": ["x1"],
        "categorical": ["colour"],
        "datetime": ["when"],
    }
    assert plan.dropped["x2"] == "sensitive"
    assert "missing" in plan.dropped["empty"]
    assert "single value" in plan.dropped["same"]
    assert set(plan.to_frame()["column"]) == set(binary_frame.columns) - {"target"}


def test_table_featurizer_names_missing_columns(binary_frame):
    plan = plan_columns(binary_frame, target="target", exclude={})
    featurizer = TableFeaturizer(plan).fit(binary_frame)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['colour'\]"):
        featurizer.transform(binary_frame.drop(columns=["colour"]))


def test_detection_of_booleans_identifiers_text_and_many_levels():
    frame = mixed_frame(n=800)  # enough rows for the shop column to show > 250 levels
    frame["order_id"] = [f"A{i:05d}" for i in range(len(frame))]
    frame["row"] = np.arange(len(frame))
    plan = plan_columns(frame, target="target", exclude={})
    kinds = {c: k for k, cs in plan.kinds.items() for c in cs}
    assert kinds["flag"] == "boolean"
    assert kinds["shop"] == "high_cardinality"
    assert kinds["review"] == "text"
    assert kinds["when"] == "datetime"
    assert plan.dropped["order_id"].startswith("an identifier")
    assert plan.dropped["row"].startswith("an identifier")


def test_users_override_column_types():
    frame = mixed_frame()
    plan = plan_columns(
        frame, target="target", exclude={}, types={"x2": "categorical", "review": "drop"}
    )
    assert "x2" in plan.kinds["categorical"]
    assert plan.dropped["review"] == "dropped by the plan"
    from trialflow.errors import ConfigError

    with pytest.raises(ConfigError, match="Unknown column type"):
        plan_columns(frame, target="target", exclude={}, types={"x2": "colourful"})
    with pytest.raises(ConfigError, match=r"\['nope'\]"):
        plan_columns(frame, target="target", exclude={}, types={"nope": "numeric"})
