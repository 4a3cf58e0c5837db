"""The run's time budget: one wall-clock deadline that every step reads."""

from __future__ import annotations

import time
from dataclasses import dataclass

# Seconds kept after the search for explain, register and flow teardown. Measured with a
# warm MLflow store: explain ~1 s, register ~1.5 s, Prefect's end of flow ~1 s.
FINISHING_SECONDS = 5.0
# Of those, what explain, register and the end of the flow take after the refit: measured
# 4.4 s on credit_data (explain 0.5 s, register with its MLflow writes 3.0 s, the rest 0.9 s).
AFTER_REFIT_SECONDS = 4.5
# What follows explain: the report (charts, ~1.5 s), registration's MLflow writes (~2 s,
# plus serialising the model once more) and Prefect's end of the flow (~1 s).
AFTER_EXPLAIN_SECONDS = 4.5


@dataclass(frozen=True)
class Budget:
    """Wall-clock deadline (epoch seconds) for the whole run, start-up included."""

    deadline: float

    @classmethod
    def starting_now(cls, seconds: float) -> Budget:
        return cls(time.time() + seconds)

    def seconds_left(self) -> float:
        return self.deadline - time.time()

    def refit_seconds_left(self) -> float:
        """Seconds the refit may still use, keeping room for explain and register."""
        return self.seconds_left() - AFTER_REFIT_SECONDS

    def explain_deadline(self, serialise_seconds: float) -> float:
        """When explain must stop: registration serialises the model again, which takes
        about as long as the check that timed it (``serialise_seconds``)."""
        return self.deadline - AFTER_EXPLAIN_SECONDS - 1.2 * serialise_seconds

    def search_seconds_left(self, refit_seconds: float) -> float:
        """Seconds the search may still use, keeping room to refit and finish."""
        return self.seconds_left() - refit_seconds - FINISHING_SECONDS
