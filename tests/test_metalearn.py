"""The data profile, the recommender and its refresh path, on knowledge bases built here.

The synthetic knowledge base has two kinds of datasets that differ in one meta-feature (the
share of categorical columns): on one kind LightGBM pipelines win, on the other the linear
ones do. A recommender that reads profiles must tell them apart before any trial.
"""

from __future__ import annotations

import gzip
import json
from types import SimpleNamespace

import numpy as np
import pytest

from tests.conftest import make_frame
from trialflow.featurizers import plan_columns
from trialflow.metalearn import knowledge as store
from trialflow.metalearn.portfolio import PORTFOLIO_VERSION, portfolio
from trialflow.metalearn.profile import FEATURES, profile_table
from trialflow.metalearn.recommender import Knowledge, Recommender, supported
from trialflow.search.strategies import make_strategy
from trialflow.search.trial import TrialResult


def _profile(categorical_share: float, rows: float = 3.0) -> dict:
    profile = dict.fromkeys(FEATURES, 0.0)
    profile |= {"log_rows": rows, "share_categorical": categorical_share, "classes": 2.0}
    profile["share_numeric"] = 1 - categorical_share
    return profile


def _scores(kind: str, rng) -> list[float | None]:
    """LightGBM wins on "trees" datasets, logistic regression on "linear" ones."""
    row = []
    for p in portfolio():
        if not p.supports("binary"):
            row.append(None)
            continue
        base = {"lightgbm": 0.80, "logistic_regression": 0.70}.get(p.learner, 0.75)
        if kind == "linear":
            base = {"lightgbm": 0.70, "logistic_regression": 0.85}.get(p.learner, 0.72)
        row.append(base + rng.normal(0, 0.01))
    return row


def synthetic_document(n: int = 24, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    kinds = ["trees" if i % 2 else "linear" for i in range(n)]
    datasets = [
        {
            "name": f"d{i}",
            "task": "binary",
            "metric": "roc_auc",
            "rows": 1000,
            "rows_evaluated": 1000,
            "profile": _profile(0.9 if kind == "linear" else 0.1, rows=rng.uniform(2.5, 3.5)),
        }
        for i, kind in enumerate(kinds)
    ]
    return {
        "portfolio_version": PORTFOLIO_VERSION,
        "pipelines": [{"id": p.id, "learner": p.learner, "params": p.params} for p in portfolio()],
        "datasets": datasets,
        "scores": [_scores(kind, rng) for kind in kinds],
        "seconds": [[1.0 if s is not None else None for s in _scores(k, rng)] for k in kinds],
    }


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """A project home and a shipped knowledge base of this test's own."""
    monkeypatch.setenv("TRIALFLOW_HOME", str(tmp_path / "home"))
    shipped = tmp_path / "knowledge_base.json.gz"
    shipped.write_bytes(gzip.compress(json.dumps(synthetic_document()).encode()))
    monkeypatch.setattr(store, "SHIPPED", shipped)
    return tmp_path


def test_profile_has_every_meta_feature_and_sane_landmarkers():
    frame = make_frame(400)
    plan = plan_columns(frame, target="target", exclude={})
    X, y = frame.drop(columns="target"), frame["target"].to_numpy()
    profile = profile_table(X, y, "binary", plan.kinds)
    assert list(profile) == list(FEATURES)
    assert profile["classes"] == 2 and 0 < profile["minority_share"] <= 0.5
    assert profile["log_rows"] == pytest.approx(np.log10(400))
    for name in ("landmark_stump", "landmark_simple", "landmark_1nn"):
        assert 0.0 <= profile[name] <= 1.0
    # The target depends on the features: the landmarkers beat chance.
    assert max(profile["landmark_stump"], profile["landmark_simple"]) > 0.6


def _best_by_prior(model, profile) -> str:
    """The learner of the pipeline with the highest prior mean for ``profile``."""
    candidates = supported(model.knowledge, "binary")
    mean = model.posterior(profile, "binary", {}).mean
    return model.knowledge.learners[max(candidates, key=lambda j: mean[j])]


def test_the_profile_alone_picks_the_right_family():
    model = Recommender(Knowledge.from_document(synthetic_document()))
    assert _best_by_prior(model, _profile(0.9)) == "logistic_regression"
    assert _best_by_prior(model, _profile(0.1)) == "lightgbm"
    candidates = supported(model.knowledge, "binary")
    first = model.rank(_profile(0.9), "binary", {}, candidates)[0]
    assert model.knowledge.learners[first] == "logistic_regression"


def test_each_result_updates_the_posterior():
    document = synthetic_document()
    model = Recommender(Knowledge.from_document(document))
    candidates = supported(model.knowledge, "binary")
    profile = _profile(0.1)  # looks like a "trees" dataset ...
    before = model.posterior(profile, "binary", {})
    lgbm = [j for j in candidates if model.knowledge.learners[j] == "lightgbm"]
    linear = [j for j in candidates if model.knowledge.learners[j] == "logistic_regression"]
    # ... but LightGBM does badly and a linear model well, as on "linear" datasets.
    observed = {lgbm[0]: 0.60, lgbm[1]: 0.61, linear[0]: 0.90}
    after = model.posterior(profile, "binary", observed)
    assert (
        after.mean[linear[1]] - after.mean[lgbm[2]] > before.mean[linear[1]] - before.mean[lgbm[2]]
    )
    assert after.std[lgbm[0]] < before.std[lgbm[0]]
    left = [j for j in candidates if j not in observed]
    assert model.knowledge.learners[model.rank(profile, "binary", observed, left)[0]] == (
        "logistic_regression"
    )


def test_the_recommend_strategy_orders_defaults_and_draws_from_the_portfolio(isolated):
    from trialflow.learners import portfolio_for

    strategy = make_strategy(
        "recommend",
        portfolio_for("binary"),
        seed=0,
        available={"task": "binary", "profile": _profile(0.9)},
        refine=False,
    )
    history: list[TrialResult] = []
    for trial_id in range(30):
        proposal = strategy.propose(trial_id, history, seconds_left=1e6)
        assert proposal is not None
        history.append(TrialResult.of(proposal, "ok", score=0.8, wall_seconds=0.01))
    # The library defaults open every search; then, as the profile looks like the datasets
    # where linear models win, the logistic regression's default comes first.
    assert [r.learner for r in history[:2]] == ["lightgbm", "hist_gradient_boosting"]
    assert history[2].learner == "logistic_regression" and history[2].rung == strategy.top
    portfolio_configs = [(p.learner, p.params) for p in portfolio()]
    started = [strategy.configs[c] for c in sorted(strategy.configs)]
    # The first new configurations ASHA starts are recommended portfolio pipelines ...
    assert all((learner, full) in portfolio_configs for learner, full, _ in started[:10])
    # ... then its own samples.
    assert any((learner, full) not in portfolio_configs for learner, full, _ in started[10:])
    keys = [(r.learner, json.dumps(r.params, sort_keys=True), r.rows) for r in history]
    assert len(keys) == len(set(keys))


def _trial(pipeline, score: float) -> SimpleNamespace:
    return SimpleNamespace(
        learner=pipeline.learner,
        params=pipeline.params,
        status="ok",
        score=score,
        wall_seconds=1.0,
        rows=1.0,
    )


def test_refresh_learns_from_this_projects_runs(isolated):
    """Runs on a new kind of data (millions of rows, all categorical) where a random forest
    wins change what the refreshed recommender proposes first for similar data."""
    new_kind = _profile(1.0, rows=6.5)
    forest = [p for p in portfolio() if p.learner == "random_forest"][2]
    before = store.load_recommender()
    assert _best_by_prior(before, new_kind) != "random_forest"
    for run in range(3):
        trials = [_trial(p, 0.60 + 0.01 * run) for p in portfolio() if p.supports("binary")]
        trials.append(_trial(forest, 0.95))
        store.record_run(
            name=f"run{run}",
            task="binary",
            metric="roc_auc",
            rows=3_000_000,
            profile=_profile(1.0, rows=6.5 + 0.01 * run),
            trials=trials,
        )
    # Loading the recommender folds the new runs in without an explicit refresh.
    after = store.load_recommender()
    assert store.refreshed_path().exists()
    assert len(after.knowledge.pipeline_ids) and store.read_history()[-1]["name"] == "run2"
    path, shipped, runs = store.refresh()
    assert (shipped, runs) == (24, 3) and path.exists()
    candidates = supported(after.knowledge, "binary")
    mean = after.posterior(new_kind, "binary", {}).mean
    assert after.knowledge.pipeline_ids[max(candidates, key=lambda j: mean[j])] == forest.id
    first = after.rank(new_kind, "binary", {}, candidates)[0]
    assert after.knowledge.learners[first] == "random_forest"
    # Data like the shipped datasets still gets what they taught.
    assert _best_by_prior(after, _profile(0.1)) == "lightgbm"
    # A deterministic run reads the shipped knowledge only: reproducing a run must not see
    # the runs that finished since (the original run among them).
    assert _best_by_prior(store.load_recommender(own_runs=False), new_kind) != "random_forest"


def test_history_skips_partial_trials_and_a_line_cut_short(isolated):
    pipeline = portfolio()[0]
    partial = _trial(pipeline, 0.9)
    partial.rows = 0.3
    store.record_run(
        name="a",
        task="binary",
        metric="roc_auc",
        rows=100,
        profile=_profile(0.5),
        trials=[partial, _trial(portfolio()[1], 0.8)],
    )
    with store.history_path().open("a") as handle:
        handle.write('{"name": "cut')
    records = store.read_history()
    assert len(records) == 1 and list(records[0]["results"]) == [portfolio()[1].id]


def test_without_a_knowledge_base_recommend_is_asha(tmp_path, monkeypatch):
    from trialflow.learners import portfolio_for

    monkeypatch.setenv("TRIALFLOW_HOME", str(tmp_path))
    monkeypatch.setattr(store, "SHIPPED", tmp_path / "none.json.gz")
    strategy = make_strategy(
        "recommend",
        portfolio_for("binary"),
        seed=0,
        available={"task": "binary", "profile": _profile(0.5)},
        refine=False,
    )
    proposal = strategy.propose(0, [], seconds_left=100)
    assert proposal.learner == "lightgbm" and strategy.model is None


def test_the_evaluation_benchmark_prints_regret_for_every_method(tmp_path, capsys):
    from benchmarks.metalearn import main

    path = tmp_path / "kb.json.gz"
    path.write_bytes(gzip.compress(json.dumps(synthetic_document(n=12)).encode()))
    text = main(
        ["--knowledge", str(path), "--profile-rows", "2000", "--write", "--out", str(tmp_path)]
    )
    for method in (
        "recommender (EI per second)",
        "nearest neighbour",
        "default order",
        "random order",
    ):
        assert f"| {method} |" in text
    assert "Data profile of a 2,000 x 30 table" in text
    assert (tmp_path / "metalearn.png").stat().st_size > 10_000


def test_the_shipped_knowledge_base_holds_no_benchmark_suite_table():
    """Tuning on the suite's tables through the recommender would flatter the benchmark."""
    from benchmarks.suite import SUITE as SUITE_PATH
    from trialflow.metalearn.build import read_datasets

    if not SUITE_PATH.exists():
        pytest.skip(f"no benchmark suite at {SUITE_PATH}")
    suite = json.loads(SUITE_PATH.read_text())["tabular"]
    in_suite = {(t["package"].lower(), t["table"].lower()) for t in suite}
    curated = read_datasets()
    assert not [
        e["name"] for e in curated if (e["package"].lower(), e["table"].lower()) in in_suite
    ]
    shipped = {d["name"] for d in store.read_document(store.SHIPPED)["datasets"]}
    assert shipped <= {e["name"] for e in curated}
