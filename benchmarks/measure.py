"""Run one command in its own process group, sampling the peak memory of its whole process
tree, and kill the tree if it runs past a limit."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psutil

SAMPLE_SECONDS = 0.2


@dataclass
class Measurement:
    started_at: float  # epoch seconds just before the process was spawned
    seconds: float  # spawn to exit (or to the kill)
    peak_rss_bytes: int  # largest sum of RSS over the process and all its descendants
    returncode: int | None
    timed_out: bool
    cpu_seconds: float  # user + system CPU of the process and the descendants it waited for
    # Share of the machine's CPU time that processes outside the tree used meanwhile: a busy
    # neighbour (a test suite, another benchmark) makes time-budgeted systems look worse.
    background_cpu: float
    # (epoch seconds, the machine's busy CPU-seconds so far) at every sample: what the run
    # had cost by a given moment (its first trial, say) on an otherwise quiet machine.
    cpu_timeline: list[tuple[float, float]]


def run_measured(
    command: list[str],
    *,
    env: dict[str, str],
    cwd: Path,
    timeout: float,
    log_path: Path,
    interval: float = SAMPLE_SECONDS,
) -> Measurement:
    """Run `command` with stdout and stderr in `log_path`; never raises for the command's
    own failure, which shows in `returncode` and the log."""
    seen: dict[int, psutil.Process] = {}
    peak = 0
    timed_out = False
    tree_cpu = 0.0
    # The last CPU time read of every process seen in the tree: processes that their own
    # parent reaps without passing the usage up (workers forked by a forkserver) are missing
    # from wait4's figure, and would count as other processes' CPU.
    seen_cpu: dict[int, float] = {}
    timeline: list[tuple[float, float]] = []
    with open(log_path, "wb") as log:
        busy_before = _busy_cpu_seconds()
        started_at = time.time()
        clock = time.perf_counter()
        # A session of its own: one killpg reaches every worker and server it starts.
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        # If it already exited, wait4 below still collects it.
        with contextlib.suppress(psutil.NoSuchProcess):
            seen[process.pid] = psutil.Process(process.pid)
        try:
            while True:
                timeline.append((time.time(), _busy_cpu_seconds()))
                peak = max(peak, _tree_rss(process.pid, seen))
                _read_cpu(seen, seen_cpu)
                if time.perf_counter() - clock > timeout and not timed_out:
                    timed_out = True
                    _kill(process.pid, seen)
                # wait4, not Popen.wait: its rusage has the CPU time of the process and of
                # every descendant it waited for (Dask workers, servers).
                pid, status, usage = os.wait4(process.pid, os.WNOHANG)
                if pid:
                    process.returncode = os.waitstatus_to_exitcode(status)
                    tree_cpu = usage.ru_utime + usage.ru_stime
                    break
                time.sleep(interval)
        except BaseException:  # Ctrl-C or a harness error: leave no system running behind
            _kill(process.pid, seen)
            raise
        seconds = time.perf_counter() - clock
        busy = _busy_cpu_seconds() - busy_before
    # Workers or servers a system left behind would steal the next system's cores.
    _kill(process.pid, seen)
    capacity = seconds * (psutil.cpu_count() or 1)
    tree_cpu = max(tree_cpu, sum(seen_cpu.values()))
    background = max(0.0, busy - tree_cpu) / capacity if capacity else 0.0
    return Measurement(
        started_at, seconds, peak, process.returncode, timed_out, tree_cpu, background, timeline
    )


def _busy_cpu_seconds() -> float:
    # Linux counts guest time inside user and nice already; steal is the hypervisor's.
    times = psutil.cpu_times()
    return sum(getattr(times, f, 0.0) for f in ("user", "nice", "system", "irq", "softirq"))


def _read_cpu(seen: dict[int, psutil.Process], cpu: dict[int, float]) -> None:
    for pid, process in list(seen.items()):
        try:
            times = process.cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue  # gone: its last reading stays
        cpu[pid] = times.user + times.system


def _tree_rss(pid: int, seen: dict[int, psutil.Process]) -> int:
    """Sum of RSS over the tree now, plus processes seen before that were orphaned (their
    parent exited, so they no longer show as descendants) but are still running."""
    root = seen.get(pid)
    if root is not None:
        try:
            for child in root.children(recursive=True):
                seen.setdefault(child.pid, child)
        except psutil.NoSuchProcess:
            pass  # the root exited between samples; the orphans are still in `seen`
    total = 0
    for process in list(seen.values()):
        try:
            if process.is_running():  # also false when the pid was reused by another process
                total += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue  # gone or unreadable between listing and reading: nothing to count
    return total


def _kill(pid: int, seen: dict[int, psutil.Process]) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):  # the group may be empty
        os.killpg(pid, signal.SIGKILL)
    for process in seen.values():
        try:
            if process.is_running():
                process.kill()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue  # already gone
