"""Test isolation: every test session gets its own project home, Prefect database and MLflow
store, so tests never touch a user's ~/.trialflow and start from nothing, as CI does."""

from __future__ import annotations

import os
import tempfile

import numpy as np
import pandas as pd
import pytest

_HOME = tempfile.mkdtemp(prefix="trialflow-tests-")
os.environ["TRIALFLOW_HOME"] = _HOME
os.environ["PREFECT_HOME"] = os.path.join(_HOME, "prefect")
os.environ.pop("PREFECT_API_URL", None)
os.environ["PREFECT_SERVER_ANALYTICS_ENABLED"] = "false"
os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "WARNING"
# The rest of trialflow's environment defaults (telemetry off, loopback, start-up timeout),
# before anything imports Prefect, as the CLI does.
from trialflow.runtime.home import configure_environment  # noqa: E402

configure_environment()


@pytest.fixture
def home() -> str:
    return _HOME


def make_frame(n: int = 120, *, seed: int = 0, task: str = "binary") -> pd.DataFrame:
    """A small mixed-type table whose target depends on its features."""
    rng = np.random.default_rng(seed)
    x1 = rng.normal(size=n)
    x2 = rng.uniform(0, 10, size=n)
    colour = rng.choice(["red", "green", "blue"], size=n)
    when = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, size=n), unit="D")
    signal = x1 + 0.3 * x2 + (colour == "red") * 1.5
    frame = pd.DataFrame(
        {
            "x1": x1,
            "x2": np.where(rng.random(n) < 0.1, np.nan, x2),
            "colour": colour,
            "when": when.strftime("%Y-%m-%d"),
        }
    )
    if task == "binary":
        frame["target"] = np.where(signal > np.median(signal), "yes", "no")
    elif task == "multiclass":
        frame["target"] = pd.qcut(signal, 3, labels=["low", "mid", "high"]).astype(str)
    else:
        frame["target"] = signal + rng.normal(scale=0.1, size=n)
    return frame


@pytest.fixture
def binary_frame() -> pd.DataFrame:
    return make_frame(task="binary")


@pytest.fixture
def regression_frame() -> pd.DataFrame:
    return make_frame(task="regression")
