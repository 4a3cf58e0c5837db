"""The `trialflow` command. Its train options are generated from TrainConfig's fields, so the
CLI, the Python API, deployments and the Prefect UI share one definition of every parameter."""

from __future__ import annotations

import argparse
import os
import sys
import time
import types
import typing
from collections.abc import Sequence

# Contract names that differ from the config field names.
OPTION_NAMES = {
    "model_name": "--name",
    "mlflow_tracking_uri": "--mlflow-uri",
    "learners": "--learner",
}
EXIT_USAGE, EXIT_ERROR, EXIT_INTERNAL = 2, 1, 3


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    _quiet_libraries(verbose=args.verbose)
    try:
        return args.run(args)
    except KeyboardInterrupt:
        print("\nInterrupted; nothing was registered by this run.", file=sys.stderr)
        return 130
    except Exception as exc:  # reported as one paragraph; --verbose shows the traceback
        return _report_error(exc, verbose=args.verbose)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trialflow",
        description="AutoML on Prefect + Dask: train, register and score models on tables.",
    )
    parser.set_defaults(command=None, verbose=False)
    commands = parser.add_subparsers(title="commands")

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
    train.set_defaults(command="train", run=_run_train)

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
    predict.set_defaults(command="predict", run=_run_predict)

    retrain = commands.add_parser(
        "retrain",
        help="train a challenger and promote it to champion only if it wins",
        description="Champion / challenger: train on DATA as `train` does and register the "
        "version as a challenger; score it and the current `champion` on the same fresh rows "
        "(--evaluation-data, or the newest --newest-share of DATA, left out of training) and "
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
    retrain.set_defaults(command="retrain", run=_run_retrain)

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
    score_batch.set_defaults(command="score-batch", run=_run_score_batch)

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
    explain.set_defaults(command="explain", run=_run_explain)

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
    features.set_defaults(command="features", run=_run_features)

    metalearn = commands.add_parser(
        "metalearn",
        help="refresh the pipeline recommender with this project's own runs",
        description="`refresh` refits the recommender (the default strategy) on the shipped "
        "knowledge base plus every run recorded under the project home; `status` says what "
        "it is fitted on.",
    )
    metalearn.add_argument("action", choices=["refresh", "status"])
    _add_common(metalearn)
    metalearn.set_defaults(command="metalearn", run=_run_metalearn)

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
    server.set_defaults(command="server", run=_run_server)

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
    reproduce.set_defaults(command="reproduce", run=_run_reproduce)

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
    deploy.set_defaults(command="deploy", run=_run_deploy)
    return parser


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


def _config_from_args(args: argparse.Namespace):
    from trialflow.config import TrainConfig

    values = {
        name: getattr(args, name)
        for name in TrainConfig.model_fields
        if getattr(args, name, None) is not None
    }
    return TrainConfig(**values)


def _run_train(args: argparse.Namespace) -> int:
    from trialflow.api import train
    from trialflow.cli_output import TrainProgress, print_train_result

    started = time.time()
    config = _config_from_args(args)
    if not args.verbose:
        _silence_prefect_console()
    if config.task == "forecast":
        from trialflow.cli_output import print_forecast_result

        result = train(config=config, started=started)
        print_forecast_result(result, wall_seconds=time.time() - started)
        return 0
    with TrainProgress(config, enabled=not args.no_progress and not args.verbose):
        result = train(config=config, started=started)
    print_train_result(result, wall_seconds=time.time() - started)
    return 0


def _run_predict(args: argparse.Namespace) -> int:
    from trialflow.api import score
    from trialflow.scoring import check_output_path, quarantine_path, write_all_atomically

    output = check_output_path(args.output)
    scored = score(
        args.model,
        args.data,
        tracking_uri=args.mlflow_uri,
        strict=args.strict,
        impute_missing=args.impute_missing,
        quarantine_out_of_range=args.quarantine_out_of_range,
        future=args.future,
    )
    quarantine = quarantine_path(output)
    write_all_atomically({str(output): scored.predictions, str(quarantine): scored.quarantined})
    for line in scored.summary():
        print(line)
    print(f"Wrote {len(scored.predictions)} predictions to {output}.")
    if len(scored.quarantined):
        print(f"Wrote {len(scored.quarantined)} quarantined rows, with reasons, to {quarantine}.")
    return 0


def _run_retrain(args: argparse.Namespace) -> int:
    from trialflow.api import retrain

    if not args.verbose:
        _silence_prefect_console()
    decision = retrain(
        _config_from_args(args),
        evaluation_data=args.evaluation_data,
        newest_share=args.newest_share,
        margin=args.margin,
    )
    verdict = "promoted to champion" if decision["promoted"] else "not promoted"
    print(
        f"{decision['name']} version {decision['challenger_version']} {verdict}: "
        f"{decision['reason']}."
    )
    return 0


def _run_score_batch(args: argparse.Namespace) -> int:
    from trialflow import prefect_api
    from trialflow.api import score_file
    from trialflow.scoring import check_output_path

    check_output_path(args.output)
    # Prefect's API starts first (seconds, mostly in a process of its own); importing
    # Prefect to quiet its console and what loading and checking the model need
    # (scikit-learn, skops: ~2 s) then happen while it starts, not before or after.
    prefect_api.start_in_background()
    if not args.verbose:
        _silence_prefect_console()
    import skops.io  # noqa: F401

    import trialflow.batch_scoring  # noqa: F401

    counts = score_file(
        args.model,
        args.data,
        args.output,
        tracking_uri=args.mlflow_uri,
        chunk_rows=args.chunk_rows,
        strict=args.strict,
        impute_missing=args.impute_missing,
        quarantine_out_of_range=args.quarantine_out_of_range,
    )
    print(
        f"{counts['model_version']}: scored {counts['scored']:,} of {counts['rows']:,} rows in "
        f"{counts['chunks']} chunk(s), quarantined {counts['quarantined']:,}; wrote "
        f"{counts['output']}."
    )
    return 0


def _run_explain(args: argparse.Namespace) -> int:
    from trialflow.api import load_model
    from trialflow.data import read_table
    from trialflow.row_explanations import explain_rows
    from trialflow.scoring import check_output_path, write_atomically

    check_output_path(args.output)
    rows = read_table(args.data)
    background = read_table(args.background) if args.background else None
    model = load_model(args.model, tracking_uri=args.mlflow_uri)
    top, explained = explain_rows(model, rows, background=background, top=args.top)
    top.insert(0, "row", range(1, len(top) + 1))
    top["explained"] = explained
    path = write_atomically(top, args.output)
    print(f"Wrote the top {args.top} contributions of {len(top)} rows to {path}.")
    return 0


def _run_features(args: argparse.Namespace) -> int:
    from trialflow.cli_output import print_feature_plan
    from trialflow.config import TrainConfig
    from trialflow.plan_file import inspect_features, write_plan_file

    config = TrainConfig(
        data=args.data,
        target=args.target,
        holidays=args.holidays,
        featurization=args.featurization,
        sensitive=args.sensitive or [],
    )
    document = inspect_features(config)
    print_feature_plan(document)
    if args.output:
        write_plan_file(document, args.output)
        print(f"Wrote the plan to {args.output}; edit it and train with --featurization.")
    return 0


def _run_metalearn(args: argparse.Namespace) -> int:
    from trialflow.metalearn import knowledge

    if args.action == "refresh":
        path, shipped, runs = knowledge.refresh()
        print(
            f"Recommender refreshed: {shipped} knowledge-base datasets plus {runs} runs of "
            f"this project, written to {path}."
        )
        return 0
    document = knowledge.knowledge_document()
    if document is None:
        print("No knowledge base: the recommend strategy falls back to asha.")
        return 1
    runs = len(knowledge.read_history())
    source = "refreshed" if knowledge.refreshed_path().exists() else "shipped"
    print(
        f"Recommender on the {source} knowledge base: {len(document['datasets'])} datasets x "
        f"{len(document['pipelines'])} pipelines; {runs} runs recorded in "
        f"{knowledge.history_path()}."
    )
    return 0


def _run_reproduce(args: argparse.Namespace) -> int:
    from trialflow.reproduce import reproduce

    if not args.verbose:
        _silence_prefect_console()
    done = reproduce(args.model, configured_uri=args.mlflow_uri)
    if done.matches:
        print(
            f"{done.reproduced} reproduces {done.original}: the same leaderboard, "
            f"{len(done.leaderboard)} rows."
        )
        return 0
    print(f"{done.reproduced} does not reproduce {done.original}:")
    for line in done.differences[:20]:
        print(f"  {line}")
    return 1


def _run_deploy(args: argparse.Namespace) -> int:
    from trialflow import deploy

    if args.stop_worker:
        print("Worker stopped." if deploy.stop_worker() else "No worker was running.")
        return 0
    done = deploy.deploy(start_worker=not args.no_worker)
    print(
        f"Deployed train, retrain-nightly and score-batch to {done['api_url']} "
        f"(work pool {done['work_pool']})."
    )
    if done["worker_pid"]:
        print(
            f"Worker running (pid {done['worker_pid']}); UI: "
            f"{done['api_url'].removesuffix('/api')}/deployments"
        )
    return 0


def _run_server(args: argparse.Namespace) -> int:
    from trialflow import prefect_server

    if args.action == "start":
        url = prefect_server.start(args.port)
        print(f"Prefect server running at {url} (UI: {url.removesuffix('/api')}).")
    elif args.action == "stop":
        stopped = prefect_server.stop()
        print("Prefect server stopped." if stopped else "No trialflow Prefect server was running.")
    else:
        url = prefect_server.running_url()
        print(f"Prefect server running at {url}." if url else "No Prefect server running.")
        return 0 if url else 1
    return 0


def _quiet_libraries(*, verbose: bool) -> None:
    """Keep the terminal for trialflow's own output; the logs still reach Prefect's API."""
    from trialflow import prefect_server
    from trialflow.home import configure_environment

    configure_environment()
    # Before anything imports Prefect, which reads its API URL once, at import.
    prefect_server.adopt_running()
    if not verbose:
        # Prefect re-reads this whenever it sets up logging again, as it does per flow run.
        os.environ["PREFECT_LOGGING_HANDLERS_CONSOLE_LEVEL"] = "CRITICAL"
        os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")
        # MLflow draws a progress bar for every artifact it reads, a few bytes each.
        os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
        import warnings

        warnings.filterwarnings("ignore", category=UserWarning)
        warnings.filterwarnings("ignore", category=FutureWarning)


def _silence_prefect_console() -> None:
    """Prefect echoes its logs, tracebacks included, to the terminal; trialflow reports errors
    itself, so its console handlers only pass what is critical."""
    import logging

    from prefect.logging.configuration import ensure_logging_setup
    from prefect.logging.handlers import PrefectConsoleHandler

    ensure_logging_setup()
    loggers = [logging.getLogger(), *map(logging.getLogger, logging.root.manager.loggerDict)]
    for logger in loggers:
        for handler in getattr(logger, "handlers", []):
            if isinstance(handler, PrefectConsoleHandler):
                handler.setLevel(logging.CRITICAL)


def _report_error(exc: Exception, *, verbose: bool) -> int:
    from pydantic import ValidationError

    from trialflow.errors import TrialflowError

    if verbose:
        import traceback

        traceback.print_exception(exc)
    if isinstance(exc, ValidationError):
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc'])) or 'config'}: {e['msg']}" for e in exc.errors()
        )
        print(f"error: invalid configuration: {problems}", file=sys.stderr)
        return EXIT_USAGE
    if isinstance(exc, TrialflowError):
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    print(
        f"error: trialflow stopped on an unexpected {type(exc).__name__}: {exc}. "
        "Nothing was registered by this run. Re-run with --verbose for the full traceback "
        "and report it with the command you ran.",
        file=sys.stderr,
    )
    return EXIT_INTERNAL


def console() -> None:
    """The console script: run, then exit without the interpreter's final collection."""
    code = main()
    # That last garbage collection over Prefect's, MLflow's and GE's objects takes ~2.4 s;
    # nothing left needs collecting at exit, so skip it.
    import gc

    gc.freeze()
    raise SystemExit(code)


if __name__ == "__main__":
    console()
