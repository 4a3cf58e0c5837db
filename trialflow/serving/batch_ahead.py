"""A batch-scoring command's head start: the scoring that need not wait for Prefect's API.

`trialflow score-batch` runs the `score-batch` flow, which cannot start before Prefect's API
answers: about 4.5 s of a first command's 6.5 s on 2 cores (benchmarks/predict.py), while
loading the model takes 0.2 s and a 1,000-row chunk 0.1 s. So the command starts the batch
at once, in a thread of this process, and the flow, once the API answers, takes the running
batch over: it logs every chunk (those done ahead at once), and only the flow lets the
scored files be renamed into place, so a batch whose flow run never starts (the API failed,
the process was stopped) writes nothing. Its errors are the flow run's errors.

A flow run this process did not start ahead (a deployment run, a retry from the UI) finds
nothing here and scores the file itself; so does a forecast model's batch.
"""

from __future__ import annotations

import contextlib
import queue
import threading
import time
from dataclasses import dataclass, field

_jobs: dict[tuple, BatchAhead] = {}
_lock = threading.Lock()


class Cancelled(Exception):
    """The batch's flow run will not take it over: discard what was scored."""


@dataclass
class BatchAhead:
    """One batch being scored ahead of its flow run."""

    key: tuple
    started: float = field(default_factory=time.time)
    model_version: str = ""
    chunks: queue.Queue = field(default_factory=queue.Queue)
    loaded: threading.Event = field(default_factory=threading.Event)  # or failed
    commit: threading.Event = field(default_factory=threading.Event)
    cancelled: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    counts: object = None
    error: BaseException | None = None
    not_applicable: bool = False  # a forecast model: the flow scores it itself

    def follow(self, on_chunk) -> object:
        """Call ``on_chunk(counts)`` for every chunk scored, let the files be renamed into
        place, and return the batch's counts (or raise its error)."""
        self.commit.set()
        # Every chunk is queued before ``done`` is set: once it is, the queue holds the rest.
        while not (self.done.is_set() and self.chunks.empty()):
            with contextlib.suppress(queue.Empty):
                on_chunk(self.chunks.get(timeout=0.2))
        if self.error is not None:
            raise self.error
        return self.counts

    def cancel(self) -> None:
        self.cancelled.set()


def start(ref: str, source: str, output: str, options: dict, configured_uri: str = "") -> None:
    """Start scoring ``source`` into ``output`` with ``ref`` (NAME, NAME/VERSION or
    NAME@ALIAS) and the batch ``options`` of the `score-batch` flow."""
    key = _key(ref, source, output, options, configured_uri)
    job = BatchAhead(key)
    with _lock:
        _jobs[key] = job
    threading.Thread(target=_run, args=(job, options), name="trialflow-batch", daemon=True).start()


def take(ref: str, source: str, output: str, options: dict, configured_uri: str = ""):
    """The batch started ahead with exactly these arguments, handed over once; None when
    there is none or it is not one the flow can take (a forecast model)."""
    with _lock:
        job = _jobs.pop(_key(ref, source, output, options, configured_uri), None)
    if job is None:
        return None
    # Only once the model is loaded is it known whether the job applies.
    job.loaded.wait()
    return None if job.not_applicable else job


def cancel_all() -> None:
    """Cancel every batch not taken over (its temporary files are removed)."""
    with _lock:
        left = list(_jobs.values())
        _jobs.clear()
    for job in left:
        job.cancel()


def _key(ref, source, output, options, configured_uri) -> tuple:
    return (ref, source, output, tuple(sorted(options.items())), configured_uri)


def _run(job: BatchAhead, options: dict) -> None:
    from trialflow.registry.loading import load_expectations, load_model
    from trialflow.runtime import prefect_api
    from trialflow.serving.batch_scoring import score_file

    ref, source, output, _, configured_uri = job.key
    try:
        # MLflow's SQLAlchemy mappers must not be configured while Prefect's are importing
        # (the registry falls back to MLflow when it cannot read the store directly).
        prefect_api.wait_until_server_imported()
        pipeline, registered = load_model(ref, configured_uri=configured_uri)
        if getattr(pipeline, "task", None) == "forecast":
            job.not_applicable = True
            return
        suite = load_expectations(registered)
        job.model_version = f"{registered.name}/{registered.version}"
        job.loaded.set()

        def on_chunk(counts) -> None:
            if job.cancelled.is_set():
                raise Cancelled
            job.chunks.put(_snapshot(counts))

        def before_commit() -> None:
            while not job.commit.wait(0.2):
                if job.cancelled.is_set():
                    raise Cancelled

        job.counts = score_file(
            pipeline, suite, source, output, model_version=job.model_version,
            on_chunk=on_chunk, before_commit=before_commit, **options,
        )  # fmt: skip
    except Cancelled:
        pass
    except BaseException as exc:  # the flow run raises it as its own
        job.error = exc
    finally:
        job.loaded.set()
        job.done.set()


def _snapshot(counts):
    from dataclasses import replace

    return replace(counts, findings=dict(counts.findings))
