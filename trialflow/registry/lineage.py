"""Lineage facts a registered model carries as tags: code, libraries, data schema."""

from __future__ import annotations

import functools
import hashlib
import json
import subprocess
from importlib import metadata
from pathlib import Path

import pandas as pd

# Libraries whose versions decide what a model predicts or how it loads.
LIBRARIES = (
    "scikit-learn",
    "lightgbm",
    "pandas",
    "numpy",
    "prefect",
    "dask",
    "distributed",
    "mlflow",
    "skops",
    "featuretools",
    "great-expectations",
    "fairlearn",
)


@functools.cache
def git_commit() -> str:
    """The commit of trialflow's own source checkout, "" when installed from a package or
    git is unavailable; a "+dirty" suffix when the checkout has uncommitted changes."""
    source = Path(__file__).resolve().parents[2]
    if not (source / ".git").exists():
        return ""
    try:
        commit = subprocess.run(
            ["git", "-C", str(source), "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "-C", str(source), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return commit + ("+dirty" if dirty else "")


@functools.cache
def library_versions() -> dict[str, str]:
    versions = {}
    for name in LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def schema(frame: pd.DataFrame) -> dict[str, str]:
    """Column name → dtype, in column order."""
    return {str(c): str(t) for c, t in frame.dtypes.items()}


def schema_hash(frame: pd.DataFrame) -> str:
    """A short hash of the columns' names, order and dtypes: equal schemas, equal hashes."""
    text = json.dumps(list(schema(frame).items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def lineage_tags(frame: pd.DataFrame) -> dict[str, str]:
    """The registry tags: git commit (when known), library versions and the schema hash."""
    tags = {f"library.{name}": version for name, version in library_versions().items()}
    tags["data.schema_hash"] = schema_hash(frame)
    commit = git_commit()
    if commit:
        tags["trialflow.git_commit"] = commit
    return tags
