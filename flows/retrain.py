"""The `retrain` flow: train a challenger and let it take `champion` only if it wins on fresh
evaluation rows (a nightly deployment runs this)."""

from __future__ import annotations

import pandas as pd
from prefect import flow

from trialflow.config import TrainConfig
from trialflow.flows.automl import automl
from trialflow.tasks.champion import decide_champion


@flow(name="retrain", version="0.1.0")
def retrain(
    config: TrainConfig,
    evaluation_data: str = "",
    newest_share: float = 0.2,
    margin: float = 0.0,
) -> dict:
    """Train on ``config.data`` and compare with the serving champion.

    The evaluation rows are ``evaluation_data`` when given; otherwise the newest
    ``newest_share`` of ``config.data`` (its last rows, as appended data grows), which the
    challenger then does not train on. The challenger must beat the champion by ``margin``
    in the run's metric. A forecast model's evaluation rows are each series' newest
    ``horizon`` steps (or ``evaluation_data``, which continues the data), forecast by both
    models from the rows before them and compared by MASE.
    """
    from trialflow.data import frames
    from trialflow.data.tables import read_table
    from trialflow.options import RetrainOptions

    options = RetrainOptions(
        evaluation_data=evaluation_data, newest_share=newest_share, margin=margin
    )
    frame = read_table(config.data)
    if config.task == "forecast":
        training, evaluation = split_for_forecast(frame, config, options.evaluation_data)
    else:
        training, evaluation = split_for_evaluation(
            frame, options.evaluation_data, options.newest_share
        )
    # By key, not as a parameter: Prefect's API stores subflow parameters too.
    frame_key = frames.hold(training)
    try:
        result = automl(config=config, frame_key=frame_key)
    finally:
        frames.release(frame_key)
    decision = decide_champion(
        result.model_name,
        result.model_version,
        evaluation,
        target=config.target,
        metric=result.metric,
        margin=options.margin,
        tracking_uri=config.mlflow_tracking_uri,
        history=training if config.task == "forecast" else None,
    )
    return decision.as_dict()


def split_for_evaluation(
    frame: pd.DataFrame, evaluation_data: str, newest_share: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(training rows, evaluation rows): a given evaluation file, or the newest rows."""
    from trialflow.data.tables import read_table

    if evaluation_data:
        return frame, read_table(evaluation_data)
    # newest_share is checked by RetrainOptions, between 0 and 1.
    cut = len(frame) - max(1, int(round(len(frame) * newest_share)))
    return frame.iloc[:cut].reset_index(drop=True), frame.iloc[cut:].reset_index(drop=True)


def split_for_forecast(
    frame: pd.DataFrame, config: TrainConfig, evaluation_data: str
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(history, evaluation rows) for a forecast model: a given evaluation file continues
    the data; otherwise each series' newest ``horizon`` steps are held out (a share of rows
    would cut series unevenly)."""
    from trialflow.data.tables import read_table
    from trialflow.forecast.evaluation import split_newest_steps

    if evaluation_data:
        return frame, read_table(evaluation_data)
    return split_newest_steps(
        frame, time=config.time_column, series=tuple(config.series), horizon=config.horizon
    )
