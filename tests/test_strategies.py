"""Search strategies: a conformance test every registered strategy must pass, then what each
one promises on its own. Strategies are plain objects, driven here without a cluster."""

import math

import pytest

from trialflow.learners import LEARNERS, portfolio_for
from trialflow.learners.space import Choice, Float, Int
from trialflow.learners.spec import MIN_ROUNDS, LearnerSpec
from trialflow.search.strategies import (
    ASHA,
    STRATEGIES,
    GridSearch,
    LocalRefinement,
    RandomSearch,
    make_strategy,
)
from trialflow.search.strategies.base import MAX_FAILURES
from trialflow.search.strategies.grid import grid_values
from trialflow.search.trial import TrialResult


def fake_score(learner: str, params: dict) -> float:
    """A deterministic objective with a clear optimum, standing in for cross-validation."""
    score = {"lightgbm": 0.8, "hist_gradient_boosting": 0.78}.get(learner, 0.7)
    for value in params.values():
        if isinstance(value, int | float) and not isinstance(value, bool):
            score += 0.01 * math.sin(value)
    return score


def drive(strategy, n: int, *, seconds_left: float = 1e6, fail: str = ""):
    """Propose ``n`` trials one at a time, each finishing before the next is proposed."""
    history: list[TrialResult] = []
    proposals = []
    for trial_id in range(n):
        proposal = strategy.propose(trial_id, history, seconds_left=seconds_left)
        if proposal is None:
            break
        proposals.append(proposal)
        status = "failed" if proposal.learner == fail else "ok"
        history.append(
            TrialResult.of(
                proposal,
                status,
                score=fake_score(proposal.learner, proposal.params) if status == "ok" else None,
                wall_seconds=0.01 * proposal.rows,
            )
        )
    return proposals, history


def settings(**overrides) -> dict:
    return {"seed": 3, "greater_is_better": True, **overrides}


STRATEGY_VARIANTS = [(name, refine) for name in sorted(STRATEGIES) for refine in (False, True)]


@pytest.mark.parametrize(("name", "refine"), STRATEGY_VARIANTS)
class TestConformance:
    """What the search loop relies on from every strategy."""

    def test_library_then_strong_defaults_first_in_portfolio_order(self, name, refine):
        portfolio = portfolio_for("binary")
        openers = [(s.name, s.library_defaults) for s in portfolio if s.library_defaults] + [
            (s.name, s.defaults) for s in portfolio
        ]
        # Even when max_trials leaves room for the openers only.
        strategy = make_strategy(
            name, portfolio, refine=refine, **settings(max_trials=len(openers))
        )
        proposals, _ = drive(strategy, len(openers))
        assert [(p.learner, p.params) for p in proposals] == openers
        assert all(p.rows == 1.0 for p in proposals)
        assert [p.learner for p in proposals[:2]] == ["lightgbm", "hist_gradient_boosting"]

    def test_proposals_are_valid_configurations(self, name, refine):
        portfolio = portfolio_for("regression")
        proposals, _ = drive(make_strategy(name, portfolio, refine=refine, **settings()), 60)
        assert len(proposals) == 60
        for trial_id, proposal in enumerate(proposals):
            spec = LEARNERS[proposal.learner]
            assert proposal.trial_id == trial_id and spec in portfolio
            assert 0 < proposal.rows <= 1
            if proposal.params == spec.library_defaults:
                continue  # the library's own values, which the space need not hold
            for param, value in proposal.params.items():
                if param == spec.resource:
                    assert MIN_ROUNDS <= value <= spec.space[param].high
                else:
                    assert spec.space[param].contains(value), (param, value)
            spec.make("regression", proposal.params, seed=0)

    def test_the_seed_fixes_the_sequence(self, name, refine):
        portfolio = portfolio_for("binary")
        first, _ = drive(make_strategy(name, portfolio, refine=refine, **settings()), 30)
        again, _ = drive(make_strategy(name, portfolio, refine=refine, **settings()), 30)
        other, _ = drive(make_strategy(name, portfolio, refine=refine, **settings(seed=4)), 30)
        assert first == again
        assert first != other

    def test_no_configuration_is_proposed_twice(self, name, refine):
        proposals, _ = drive(
            make_strategy(name, portfolio_for("binary"), refine=refine, **settings()), 80
        )
        keys = [(p.learner, repr(sorted(p.params.items())), p.rows) for p in proposals]
        assert len(keys) == len(set(keys))

    def test_nothing_is_proposed_that_cannot_finish_in_time(self, name, refine):
        spec = LEARNERS["lightgbm"]
        strategy = make_strategy(name, [spec], refine=refine, **settings())
        strategy.propose(0, [], seconds_left=100)
        slow = [
            TrialResult(0, "lightgbm", dict(spec.defaults), 0, "ok", score=0.8, wall_seconds=500)
        ]
        assert strategy.propose(1, slow, seconds_left=0.001) is None

    def test_a_learner_that_keeps_failing_is_dropped(self, name, refine):
        portfolio = [LEARNERS["lightgbm"], LEARNERS["logistic_regression"]]
        strategy = make_strategy(name, portfolio, refine=refine, **settings())
        proposals, _ = drive(strategy, 40, fail="logistic_regression")
        tried = [p.learner for p in proposals].count("logistic_regression")
        assert 1 <= tried <= MAX_FAILURES


def test_asha_starts_low_and_promotes_the_best_third():
    spec = LEARNERS["lightgbm"]
    strategy = ASHA([spec], **settings(reduction_factor=3, min_resource=1 / 9))
    assert strategy.resources == pytest.approx([1 / 9, 1 / 3, 1.0])
    proposals, history = drive(strategy, 40)
    library, default, *searched = proposals
    assert library.rung == 2 and library.params == spec.library_defaults
    assert default.rung == 2 and default.params == spec.defaults
    assert searched[0].rung == 0
    full = strategy.configs[searched[0].config_id][1]
    assert searched[0].params["n_estimators"] == max(MIN_ROUNDS, round(full["n_estimators"] / 9))
    promoted = [p for p in proposals if p.rung == 1]
    assert promoted, "three results on rung 0 promote their best"
    first_promotion = promoted[0]
    rung0_before = [
        r for r in history[: first_promotion.trial_id] if r.rung == 0 and r.status == "ok"
    ]
    best = max(rung0_before, key=lambda r: r.score)
    assert first_promotion.config_id == best.config_id
    # Promotion happens as soon as a rung holds reduction_factor results, not later.
    assert len(rung0_before) == 3
    assert any(
        p.rung == 2 and p.config_id not in (library.trial_id, default.trial_id) for p in proposals
    )


def test_asha_scales_rows_for_learners_without_a_resource():
    strategy = ASHA([LEARNERS["logistic_regression"]], **settings(min_resource=0.25))
    proposals, _ = drive(strategy, 6)
    assert proposals[0].rows == 1.0  # the default runs on everything
    # min_resource 0.25 with reduction factor 3 rounds to rungs of 1/3 and all the rows.
    assert proposals[1].rows == pytest.approx(1 / 3)


def test_asha_brackets_start_new_configurations_on_different_rungs():
    strategy = ASHA([LEARNERS["lightgbm"]], **settings(brackets=3))
    drive(strategy, 30)
    starts = [bracket for _, _, bracket in strategy.configs.values()]
    assert set(starts) == {0, 1, 2}
    assert starts[:3] == [0, 1, 2]


def test_grid_values_cover_each_dimension():
    assert grid_values(Float(0.01, 1.0, log=True), 3) == pytest.approx((0.01, 0.1, 1.0))
    assert grid_values(Int(1, 9), 3) == (1, 5, 9)
    assert grid_values(Choice(("a", "b")), 3) == ("a", "b")


def test_grid_walks_every_point_once_then_stops():
    space = {"a": Float(0.0, 1.0), "b": Choice(("x", "y"))}
    spec = LearnerSpec("tiny", ("binary",), lambda *a: None, space, {"a": 0.5, "b": "x"})
    proposals, _ = drive(GridSearch([spec], **settings(grid_points=3)), 100)
    # The default (0.5, "x") is a grid point too, so 6 points in all.
    assert len(proposals) == 6
    assert {(p.params["a"], p.params["b"]) for p in proposals} == {
        (a, b) for a in (0.0, 0.5, 1.0) for b in ("x", "y")
    }


def test_refinement_perturbs_the_best_configurations_late_in_the_search():
    portfolio = portfolio_for("binary")
    base = RandomSearch(portfolio, **settings())
    strategy = LocalRefinement(base, portfolio, **settings(max_trials=50))
    proposals, history = drive(strategy, 50)
    early = [p.origin for p in proposals[:30]]
    late = [p.origin for p in proposals[30:]]
    assert "refine" not in early
    assert late.count("refine") > len(late) / 2
    best_learners = {r.learner for r in sorted(history[:30], key=lambda r: -r.score)[:3]}
    assert {p.learner for p in proposals[30:] if p.origin == "refine"} <= best_learners


def test_a_strong_default_too_slow_for_the_time_left_starts_on_a_lower_rung():
    """Mid-size tables: a slow learner's full default must not take most of a short budget;
    it starts where it fits and is promoted like any configuration."""
    portfolio = [LEARNERS["lightgbm"], LEARNERS["random_forest"]]
    strategy = ASHA(portfolio, **settings(reduction_factor=3, min_resource=1 / 9))
    library = strategy.propose(0, [], seconds_left=60)
    # LightGBM's library default (100 rounds) took 6 s: a round costs 0.06 s, a forest's
    # tree about 5.8 times that, so 200 trees would take ~70 s of the 60 left.
    history = [TrialResult.of(library, "ok", score=0.8, wall_seconds=6.0)]
    lightgbm_default = strategy.propose(1, history, seconds_left=60)
    # 300 rounds ~ 18 s > 20% of 60 s; 100 rounds (rung 1) ~ 6 s fit.
    assert lightgbm_default.rung == 1 and lightgbm_default.params["n_estimators"] == 100
    forest = strategy.propose(2, history, seconds_left=60)
    assert forest.learner == "random_forest" and forest.rung == 0
    assert forest.params["n_estimators"] == round(200 / 9)
    assert strategy.configs[2] == ("random_forest", LEARNERS["random_forest"].defaults, 0)
    # With time to spare, defaults run on the full resource as before.
    roomy = ASHA(portfolio, **settings(reduction_factor=3, min_resource=1 / 9))
    roomy.propose(0, [], seconds_left=600)
    assert roomy.propose(1, history, seconds_left=600).rung == 2


def test_on_large_tables_every_learner_s_resource_is_rows():
    spec = LEARNERS["lightgbm"]
    strategy = ASHA([spec], **settings(reduction_factor=3, min_resource=1 / 9, rows=250_000))
    proposals, _ = drive(strategy, 12)
    low = [p for p in proposals if p.rung == 0]
    assert low and all(p.rows == pytest.approx(1 / 9) for p in low)
    assert all(
        p.params["n_estimators"] == strategy.configs[p.config_id][1]["n_estimators"] for p in low
    )


def test_on_very_large_tables_the_library_defaults_start_on_a_third_of_the_rows():
    from trialflow.search.strategies.asha import LIBRARY_SAMPLE_ROWS
    from trialflow.search.trial import LIBRARY_DEFAULT

    spec = LEARNERS["lightgbm"]
    strategy = ASHA([spec], **settings(reduction_factor=3, min_resource=1 / 9, rows=250_000))
    history: list[TrialResult] = []
    proposals = []
    for trial_id in range(30):
        proposal = strategy.propose(trial_id, history, seconds_left=1e6)
        proposals.append(proposal)
        # The library default wins on every rung, so it is promoted to all the rows.
        score = 0.99 if proposal.params == spec.library_defaults else 0.8
        history.append(TrialResult.of(proposal, "ok", score=score, wall_seconds=0.01))
    library = proposals[0]
    assert library.params == spec.library_defaults and library.origin == LIBRARY_DEFAULT
    assert library.rung == 1 and library.rows == pytest.approx(1 / 3)
    promoted = [p for p in proposals[1:] if p.config_id == library.config_id]
    assert [p.rung for p in promoted] == [2] and promoted[0].rows == 1.0
    # Promoted, it is still the library default (the report's "library defaults" line).
    assert promoted[0].origin == LIBRARY_DEFAULT
    # Below the threshold the library default runs on every row at once.
    smaller = ASHA([spec], **settings(rows=LIBRARY_SAMPLE_ROWS - 1))
    assert smaller.propose(0, [], seconds_left=1e6).rows == 1.0


def test_a_configuration_whose_refit_cannot_finish_is_not_started():
    """On large tables trials run on a share of the rows; one that would win but could not
    be refitted on all of them in the time left is not worth starting."""
    spec = LEARNERS["lightgbm"]
    strategy = ASHA([spec], **settings(reduction_factor=3, min_resource=1 / 9, rows=250_000))
    library = strategy.propose(0, [], seconds_left=1e6)
    # 3 CPU seconds for 100 rounds on a third of the rows: 0.09 s a round on all of them.
    done = TrialResult.of(
        library, "ok", score=0.8, fold_scores=[0.8], wall_seconds=9.0, fit_cpu_seconds=3.0
    )
    history = [done]
    for trial_id in range(1, 40):
        proposal = strategy.propose(trial_id, history, seconds_left=30.0)
        if proposal is None:
            break
        full = strategy.configs[proposal.config_id][1]
        # Its refit, full["n_estimators"] x 0.09 s with the 1.5 margin, fits in 30 s.
        assert full["n_estimators"] * 0.09 * 1.5 <= 30.0 + 1e-9
        cpu = 0.09 * proposal.params["n_estimators"] * proposal.rows
        history.append(
            TrialResult.of(
                proposal, "ok", score=0.7, fold_scores=[0.7], wall_seconds=cpu, fit_cpu_seconds=cpu
            )
        )
    assert len(history) > 5
    roomy = ASHA([spec], **settings(reduction_factor=3, min_resource=1 / 9, rows=250_000))
    roomy.propose(0, [], seconds_left=1e6)
    proposals = [roomy.propose(i, [done], seconds_left=1e6) for i in range(1, 20)]
    full = [roomy.configs.get(p.config_id, ("", p.params))[1] for p in proposals]
    assert any(params["n_estimators"] * 0.09 * 1.5 > 30 for params in full)
