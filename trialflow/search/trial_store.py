"""Trial records on disk, so a retried search task reuses the trials it already finished.

One JSON file per finished trial (its config, seed, rung, fold scores, timings, worker, data
fingerprint, error) plus its out-of-fold predictions as a ``.npy`` file, both written
atomically. Nothing here is unpickled: JSON and NumPy arrays loaded with
``allow_pickle=False``.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path

import numpy as np

from trialflow.runtime.files import write_atomically
from trialflow.search.trial import TrialResult

logger = logging.getLogger(__name__)

# Statuses worth keeping: a cancelled or lost trial is run again on retry.
KEPT = ("ok", "failed", "timeout")


class TrialStore:
    """Finished trials of one search under ``directory``, keyed by data fingerprint."""

    def __init__(self, directory: str | os.PathLike, *, data_fingerprint: str):
        self.directory = Path(directory)
        self.data_fingerprint = data_fingerprint

    def save(self, result: TrialResult) -> None:
        if result.status not in KEPT:
            return
        self.directory.mkdir(parents=True, exist_ok=True)
        stem = f"trial-{result.trial_id:05d}"
        if result.oof is not None:
            write_atomically(self.directory / f"{stem}.npy", lambda f: np.save(f, result.oof))
        record = {k: v for k, v in dataclasses.asdict(result).items() if k != "oof"}
        record["has_oof"] = result.oof is not None
        payload = json.dumps(record, default=_jsonable).encode()
        write_atomically(self.directory / f"{stem}.json", lambda f: f.write(payload))

    def load(self) -> list[TrialResult]:
        """Trials recorded for this data, in trial order; unreadable records are skipped."""
        if not self.directory.is_dir():
            return []
        results = []
        for path in sorted(self.directory.glob("trial-*.json")):
            try:
                record = json.loads(path.read_text())
                has_oof = record.pop("has_oof", False)
                result = TrialResult(**record)
                if result.data_fingerprint != self.data_fingerprint:
                    continue
                if has_oof:
                    result.oof = np.load(path.with_suffix(".npy"), allow_pickle=False)
            except (OSError, ValueError, TypeError) as exc:
                logger.warning("Skipping unreadable trial record %s: %s", path, exc)
                continue
            results.append(result)
        return results


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")
