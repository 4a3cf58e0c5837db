"""The run's time budget: one wall-clock deadline that every step reads."""

from __future__ import annotations

import time
from dataclasses import dataclass

# Seconds kept after the search for explain, the model's serialisation check, the report,
# register and flow teardown. Measured on credit_data with a 4-model ensemble: ensemble 0.5 s,
# check 2.0 s, report 0.4 s, register 2.3 s, end of flow 0.5 s; explain gets the other ~2 s.
FINISHING_SECONDS = 8.0
# Of those, what explain, register and the end of the flow take after the refit: measured
# 4.4 s on credit_data (explain 0.5 s, register with its MLflow writes 3.0 s, the rest 0.9 s).
AFTER_REFIT_SECONDS = 4.5
# What follows explain besides serialising the model again: the report (~0.5 s), MLflow's
# writes (~0.5 s) and Prefect's end of the flow (~1 s), with a little to spare.
AFTER_EXPLAIN_SECONDS = 2.5


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
        """When explain must stop: registration serialises the model again (and MLflow
        loads it back), about as long as the check that timed it (``serialise_seconds``)."""
        return self.deadline - AFTER_EXPLAIN_SECONDS - serialise_seconds

    def search_seconds_left(self, refit_seconds: float) -> float:
        """Seconds the search may still use, keeping room to refit and finish."""
        return self.seconds_left() - refit_seconds - FINISHING_SECONDS
