"""trialflow: AutoML as Prefect flows, with trials on Dask and models in MLflow."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["TrainConfig", "__version__", "load_model", "predict", "score", "train"]


def __getattr__(name: str):
    # Lazy: `import trialflow` must stay cheap for the CLI's --help and for Dask workers.
    if name in ("train", "load_model", "predict", "score"):
        from trialflow import api

        return getattr(api, name)
    if name == "TrainConfig":
        from trialflow.config import TrainConfig

        return TrainConfig
    raise AttributeError(f"module 'trialflow' has no attribute {name!r}")
