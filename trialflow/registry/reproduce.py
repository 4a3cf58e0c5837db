"""`trialflow reproduce MODEL[/VERSION]`: train again from a version's recorded config and
data path, and say whether the leaderboard came out the same.

Only a deterministic run (`--deterministic --max-trials N`) is expected to match exactly; a
time-budgeted one depends on the machine's speed, and the comparison says where it differs.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from trialflow.errors import ConfigError

CONFIG_FILE = "config.json"
# Leaderboard columns that must agree for two runs to count as the same.
COMPARED = ("learner", "status", "config")


@dataclass
class Reproduction:
    original: str  # name/version
    reproduced: str  # name/version of the new registration
    same_data: bool
    matches: bool
    differences: list[str]
    leaderboard: pd.DataFrame


def recorded_config(ref: str, configured_uri: str = ""):
    """The TrainConfig a registered version was trained with."""
    from trialflow.config import TrainConfig
    from trialflow.registry.loading import resolve_model
    from trialflow.registry.store import store_client

    name, version = resolve_model(ref, configured_uri=configured_uri)
    client = store_client(configured_uri)
    run_id = client.get_model_version(name, version).run_id
    import mlflow

    try:
        values = mlflow.artifacts.load_dict(f"runs:/{run_id}/{CONFIG_FILE}")
    except Exception as exc:  # an MLflow or file error: the version predates config.json
        raise ConfigError(
            f"{name}/{version} has no recorded {CONFIG_FILE} (registered before trialflow "
            "recorded its whole config), so it cannot be reproduced automatically."
        ) from exc
    return name, version, run_id, TrainConfig(**values)


def reproduce(ref: str, *, configured_uri: str = "") -> Reproduction:
    import mlflow

    from trialflow.api import train

    name, version, run_id, config = recorded_config(ref, configured_uri)
    if not config.data:
        raise ConfigError(
            f"{name}/{version} was trained on a DataFrame passed from Python, not a data "
            "path, so there is nothing to read again."
        )
    original = pd.read_csv(mlflow.artifacts.download_artifacts(f"runs:/{run_id}/leaderboard.csv"))
    fingerprint = store_tag(run_id, "data.fingerprint", configured_uri)
    # Fresh: a reproduction that resumed from the original run's checkpoints would prove nothing.
    config = config.model_copy(update={"model_name": f"{name}-reproduced", "fresh": True})
    result = train(config=config)
    again = result.leaderboard
    differences = compare(original, again, result.metric)
    same_data = result.data_fingerprint == fingerprint
    if not same_data:
        differences.insert(
            0, f"the data changed: fingerprint {fingerprint} then, {result.data_fingerprint} now"
        )
    return Reproduction(
        original=f"{name}/{version}",
        reproduced=f"{result.model_name}/{result.model_version}",
        same_data=same_data,
        matches=not differences,
        differences=differences,
        leaderboard=again,
    )


def store_tag(run_id: str, key: str, configured_uri: str = "") -> str:
    from trialflow.registry.store import store_client

    return store_client(configured_uri).get_run(run_id).data.tags.get(key, "")


def compare(original: pd.DataFrame, again: pd.DataFrame, metric: str) -> list[str]:
    """Where two leaderboards differ, row by row: trials, learners, configs and scores."""
    if len(original) != len(again):
        return [f"{len(original)} leaderboard rows then, {len(again)} now"]
    differences = []
    for rank, (old, new) in enumerate(
        zip(original.to_dict("records"), again.to_dict("records"), strict=True), start=1
    ):
        for column in COMPARED:
            if column in old and str(old[column]) != str(new.get(column)):
                differences.append(
                    f"rank {rank}: {column} {old[column]!r} then, {new.get(column)!r} now"
                )
        before, after = old.get(metric), new.get(metric)
        if pd.notna(before) and (pd.isna(after) or abs(float(before) - float(after)) > 1e-9):
            differences.append(f"rank {rank}: {metric} {before} then, {after} now")
    return differences
