"""The `trialflow` command's arguments. The train options are generated from TrainConfig's
fields, so the CLI, the Python API, deployments and the Prefect UI share one definition of
every parameter.
"""

from __future__ import annotations

import argparse
import types
import typing

from trialflow.cli.commands import (
    run_deploy,
    run_explain,
    run_features,
    run_metalearn,
    run_predict,
    run_reproduce,
    run_retrain,
    run_score_batch,
    run_server,
    run_train,
)

# Contract names that differ from the config field names.
OPTION_NAMES = {
    "model_name": "--name",
    "mlflow_tracking_uri": "--mlflow-uri",
    "learners": "--learner",
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trialflow",
        description="AutoML on Prefect + Dask: train, register and score models on tables.",
    )
    parser.set_defaults(command=None, verbose=False)
    commands = parser.add_subparsers(title="commands")
    _add_train_command(commands)
    _add_predict_command(commands)
    _add_retrain_command(commands)
    _add_score_batch_command(commands)
    _add_explain_command(commands)
    _add_features_command(commands)
    _add_metalearn_command(commands)
    _add_server_command(commands)
    _add_reproduce_command(commands)
    _add_deploy_command(commands)
    return parser


def _add_train_command(commands) -> None:
    train = commands.add_parser(
        "train",
        help="search for the best model for a table and register it",
        description="Validate DATA, featurize it, search learners on Dask within the time "
        "budget, refit the best, explain it and register it in MLflow. Prints the leaderboard.",
    )
    train.add_argument("data", metavar="DATA", help=_field_help("data"))
    _add_config_options(train)
    _add_common(train)
    train.add_argument("--no-progress", action="store_true", help="do not draw a progress bar")
    train.set_defaults(command="train", run=run_train)


def _add_predict_command(commands) -> None:
    predict = commands.add_parser(
        "predict",
        help="score a table with a registered model",
        description="Validate DATA against the checks MODEL (NAME, NAME/VERSION or "
        "NAME@ALIAS) learned from its training data, then score it: one row per input row that "
        "passed, in input order: `row` (input row number), `prediction`, plus `proba_<class>` "
        "per class. Rows that fail go to OUT's .quarantine file with the reason. A forecast "
        "model forecasts its horizon after each series' last timestamp in DATA: the series "
        "columns, the time column, `prediction`, `p10` and `p90`.",
    )
    _add_scoring_arguments(predict)
    predict.add_argument(
        "--future",
        default=None,
        metavar="FILE",
        help="forecast models: the known covariates of the forecast steps (.csv or .parquet, "
        "with the series and time columns)",
    )
    _add_common(predict)
    predict.set_defaults(command="predict", run=run_predict)


def _add_retrain_command(commands) -> None:
    retrain = commands.add_parser(
        "retrain",
        help="train a challenger and promote it to champion only if it wins",
        description="Champion / challenger: train on DATA as `train` does and register the "
        "version as a challenger; score it and the current `champion` on the same fresh rows "
        "(--evaluation-data, or the newest --newest-share of DATA, left out of training; for "
        "a forecast, each series' newest --horizon steps, compared by MASE) and "
        "move the `champion` alias only if the challenger wins by --margin. The first model "
        "of a name becomes champion. The decision and both scores are tags on both versions.",
    )
    retrain.add_argument("data", metavar="DATA", help=_field_help("data"))
    _add_config_options(retrain)
    retrain.add_argument(
        "--evaluation-data", default="", metavar="FILE", help="fresh rows to compare on"
    )
    retrain.add_argument(
        "--newest-share",
        type=float,
        default=0.2,
        help="without --evaluation-data: the share of DATA's last rows to compare on (0.2)",
    )
    retrain.add_argument(
        "--margin",
        type=float,
        default=0.0,
        help="how much better (in the metric) the challenger must be to take champion (0)",
    )
    _add_common(retrain)
    retrain.set_defaults(command="retrain", run=run_retrain)


def _add_score_batch_command(commands) -> None:
    score_batch = commands.add_parser(
        "score-batch",
        help="score a large file chunk by chunk at constant memory (the score-batch flow)",
        description="As `predict`, for files of any size: DATA is read, validated and scored "
        "in chunks; every output row carries `model_version`; OUT and its quarantine file "
        "are renamed into place only when every chunk is done. Runs as the Prefect flow "
        "`score-batch`.",
    )
    _add_scoring_arguments(score_batch)
    score_batch.add_argument(
        "--chunk-rows", type=int, default=None, help="rows per chunk (default 100000)"
    )
    _add_common(score_batch)
    score_batch.set_defaults(command="score-batch", run=run_score_batch)


def _add_explain_command(commands) -> None:
    explain = commands.add_parser(
        "explain",
        help="explain each row's prediction by its raw input columns",
        description="For every row of DATA, the raw input columns that moved MODEL's "
        "prediction most, with the expected value: `column_1`, `contribution_1`, ... For a "
        "single LightGBM model these are exact tree SHAP contributions on its raw scale "
        "(log-odds for classifiers), summed back to raw columns; for ensembles and other "
        "learners, sampled Shapley values of the output (probability or value) against a "
        "reference sample (--background, default the rows of DATA). Contributions plus the "
        "expected value add up to what is explained, named in the `explained` column.",
    )
    explain.add_argument("model", metavar="MODEL", help="NAME, NAME/VERSION or NAME@ALIAS")
    explain.add_argument("data", metavar="DATA", help="a .csv or .parquet file")
    explain.add_argument("--output", "-o", required=True, metavar="OUT", help=".csv or .parquet")
    explain.add_argument("--top", type=int, default=5, help="contributions per row (default 5)")
    explain.add_argument(
        "--background",
        default="",
        metavar="REF",
        help="reference rows for sampled Shapley values, e.g. a sample of the training table "
        "(.csv or .parquet; default: the rows of DATA)",
    )
    explain.add_argument("--mlflow-uri", default="", help=_field_help("mlflow_tracking_uri"))
    _add_common(explain)
    explain.set_defaults(command="explain", run=run_explain)


def _add_features_command(commands) -> None:
    features = commands.add_parser(
        "features",
        help="show, and write as an editable YAML plan, how a table would be featurized",
        description="Detect each column's type of DATA, fit the featurizers and list every "
        "output feature with its source columns and featurizer, and the dropped columns with "
        "the reason. --output writes the plan as YAML; edit it and pass it to "
        "`trialflow train --featurization`.",
    )
    features.add_argument("data", metavar="DATA", help=_field_help("data"))
    features.add_argument("--target", required=True, help=_field_help("target"))
    features.add_argument("--holidays", default="", help=_field_help("holidays"))
    features.add_argument(
        "--featurization", default="", metavar="PLAN", help="start from this edited plan"
    )
    features.add_argument(
        "--sensitive",
        nargs="+",
        action="extend",
        default=None,
        metavar="COL",
        help=_field_help("sensitive"),
    )
    features.add_argument("--output", "-o", default="", metavar="PLAN.yaml", help="write here")
    _add_common(features)
    features.set_defaults(command="features", run=run_features)


def _add_metalearn_command(commands) -> None:
    metalearn = commands.add_parser(
        "metalearn",
        help="refresh the pipeline recommender with this project's own runs",
        description="`refresh` refits the recommender (the default strategy) on the shipped "
        "knowledge base plus every run recorded under the project home; `status` says what "
        "it is fitted on.",
    )
    metalearn.add_argument("action", choices=["refresh", "status"])
    _add_common(metalearn)
    metalearn.set_defaults(command="metalearn", run=run_metalearn)


def _add_server_command(commands) -> None:
    server = commands.add_parser(
        "server",
        help="start, stop or show the local Prefect server runs reuse",
        description="A Prefect server under the project home, on 127.0.0.1, with the Prefect "
        "UI. While it runs, `trialflow train` uses it instead of starting Prefect's ephemeral "
        "API each time (6-13 s saved per run).",
    )
    server.add_argument("action", choices=["start", "stop", "status"])
    server.add_argument("--port", type=int, default=None, help="port for start (default 4200)")
    _add_common(server)
    server.set_defaults(command="server", run=run_server)


def _add_reproduce_command(commands) -> None:
    reproduce = commands.add_parser(
        "reproduce",
        help="train again from a registered version's config and compare the leaderboards",
        description="Read MODEL's recorded config and data path, train again (registering "
        "NAME-reproduced) and report whether the leaderboard matches, row by row. Runs "
        "trained with --deterministic --max-trials N are expected to match exactly.",
    )
    reproduce.add_argument("model", metavar="MODEL", help="NAME, NAME/VERSION or NAME@ALIAS")
    reproduce.add_argument("--mlflow-uri", default="", help=_field_help("mlflow_tracking_uri"))
    _add_common(reproduce)
    reproduce.set_defaults(command="reproduce", run=run_reproduce)


def _add_deploy_command(commands) -> None:
    deploy = commands.add_parser(
        "deploy",
        help="deploy train, retrain-nightly and score-batch to a Prefect server, with a worker",
        description="Create the `trialflow-process` work pool, deploy every deployment of "
        "deployments/prefect.yaml and start a process worker in the background. The server "
        "is PREFECT_API_URL when set, else the project home's (started on 127.0.0.1 if "
        "needed). Runs are then triggered from the UI (Run), by schedule, or with "
        "`prefect deployment run automl/train`.",
    )
    deploy.add_argument("--no-worker", action="store_true", help="deploy only; start no worker")
    deploy.add_argument(
        "--stop-worker", action="store_true", help="stop the worker this command started"
    )
    _add_common(deploy)
    deploy.set_defaults(command="deploy", run=run_deploy)


def _add_scoring_arguments(parser: argparse.ArgumentParser) -> None:
    """MODEL, DATA, --output and the validation options `predict` and `score-batch` share."""
    parser.add_argument("model", metavar="MODEL", help="NAME, NAME/VERSION or NAME@ALIAS")
    parser.add_argument("data", metavar="DATA", help="a .csv or .parquet file to score")
    parser.add_argument(
        "--output", "-o", required=True, metavar="OUT", help="output file (.csv or .parquet)"
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="fail the whole batch if any row fails the model's checks or is flagged (default: "
        "score every row that can be scored, flag out-of-range and unseen values in the "
        "`warnings` column, and quarantine the rest into OUT's .quarantine file)",
    )
    parser.add_argument(
        "--quarantine-out-of-range",
        action="store_true",
        help="quarantine rows with values outside the training range instead of scoring and "
        "flagging them",
    )
    parser.add_argument(
        "--impute-missing",
        action="store_true",
        help="score even if input columns are missing, imputing them as in training",
    )
    parser.add_argument("--mlflow-uri", default="", help=_field_help("mlflow_tracking_uri"))


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--verbose", "-v", action="store_true", help="show Prefect's logs and full tracebacks"
    )


def _field_help(name: str) -> str:
    from trialflow.config import TrainConfig

    return TrainConfig.model_fields[name].description or ""


def _add_config_options(parser: argparse.ArgumentParser) -> None:
    from trialflow.config import TrainConfig

    for name, field in TrainConfig.model_fields.items():
        if name == "data":
            continue
        option = OPTION_NAMES.get(name, "--" + name.replace("_", "-"))
        kind, choices, is_list = _option_type(field.annotation)
        default = None if field.is_required() else field.get_default(call_default_factory=True)
        shown = "" if default in (None, "", []) else f" (default: {default})"
        kwargs: dict = {"dest": name, "help": (field.description or "") + shown}
        if is_list:
            # Repeatable, and several values per use: --sensitive a b --sensitive c.
            metavar = "PATH" if name == "learners" else "COL"
            kwargs |= {"nargs": "+", "action": "extend", "metavar": metavar, "default": None}
        elif kind is bool:
            # --deterministic / --no-deterministic: argparse's bool("False") would be True.
            kwargs |= {"action": argparse.BooleanOptionalAction, "default": None}
        else:
            kwargs |= {"type": kind, "default": None}
            if choices:
                kwargs["choices"] = choices
            else:
                kwargs["metavar"] = name.upper()
        if field.is_required():
            kwargs["required"] = True
        parser.add_argument(option, **kwargs)


def _option_type(annotation) -> tuple[type, list | None, bool]:
    """(argparse type, choices, is a list) for a config field's annotation."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _option_type(args[0])
    if origin is typing.Literal:
        return str, list(args), False
    if origin is list:
        return str, None, True
    return annotation, None, False
