"""The parameters of `retrain` and `score-batch` besides a TrainConfig, validated here for the
CLI, the Python API, deployments and the Prefect UI alike, with the same messages as the
TrainConfig's (pydantic's, reported by the CLI as 'invalid configuration: FIELD: ...').
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Rows per chunk of batch scoring: ~100 MB of a 50-column frame, so memory stays flat.
CHUNK_ROWS = 100_000


class RetrainOptions(BaseModel):
    """The `retrain` flow's parameters besides the TrainConfig, checked here for the CLI, the
    Python API, deployments and the UI alike."""

    model_config = ConfigDict(extra="forbid")

    evaluation_data: str = Field(
        default="", description="Rows to compare champion and challenger on (.csv/.parquet)."
    )
    newest_share: float = Field(
        default=0.2,
        gt=0,
        lt=1,
        description="Without evaluation_data: the share of the data's last rows to compare on.",
    )
    margin: float = Field(
        default=0.0,
        ge=0,
        description="How much better, in the metric, the challenger must be to take champion.",
    )


class ScoreBatchOptions(BaseModel):
    """The `score-batch` flow's parameters besides the model and the files, checked here for
    the CLI, the Python API, deployments and the UI alike."""

    model_config = ConfigDict(extra="forbid")

    chunk_rows: int = Field(default=CHUNK_ROWS, ge=1, description="Rows per chunk.")
    strict: bool = Field(default=False, description="Fail the batch on any finding.")
    impute_missing: bool = Field(
        default=False, description="Score rows missing a required column, imputing it."
    )
    quarantine_out_of_range: bool = Field(
        default=False, description="Quarantine rows with out-of-range values, not flag them."
    )
