"""What each `trialflow` command does once its arguments are parsed: one function per command,
returning the exit status.
"""

from __future__ import annotations

import argparse
import time


def config_from_args(args: argparse.Namespace):
    from trialflow.config import TrainConfig

    values = {
        name: getattr(args, name)
        for name in TrainConfig.model_fields
        if getattr(args, name, None) is not None
    }
    return TrainConfig(**values)


def run_train(args: argparse.Namespace) -> int:
    from trialflow.api import train
    from trialflow.cli.output import TrainProgress, print_train_result

    started = time.time()
    config = config_from_args(args)
    if not args.verbose:
        silence_prefect_console()
    if config.task == "forecast":
        from trialflow.cli.output import print_forecast_result

        result = train(config=config, started=started)
        print_forecast_result(result, wall_seconds=time.time() - started)
        return 0
    with TrainProgress(config, enabled=not args.no_progress and not args.verbose):
        result = train(config=config, started=started)
    print_train_result(result, wall_seconds=time.time() - started)
    return 0


def run_predict(args: argparse.Namespace) -> int:
    from trialflow.api import score
    from trialflow.serving.scoring import (
        check_output_path,
        quarantine_path,
        write_tables_atomically,
    )

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
    write_tables_atomically({str(output): scored.predictions, str(quarantine): scored.quarantined})
    for line in scored.summary():
        print(line)
    print(f"Wrote {len(scored.predictions)} predictions to {output}.")
    if len(scored.quarantined):
        print(f"Wrote {len(scored.quarantined)} quarantined rows, with reasons, to {quarantine}.")
    return 0


def run_retrain(args: argparse.Namespace) -> int:
    from trialflow.api import retrain

    if not args.verbose:
        silence_prefect_console()
    decision = retrain(
        config_from_args(args),
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


def run_score_batch(args: argparse.Namespace) -> int:
    from trialflow.api import score_file
    from trialflow.options import CHUNK_ROWS, ScoreBatchOptions
    from trialflow.runtime import prefect_api
    from trialflow.serving.scoring import check_output_path

    # Before anything starts: a bad option or output path fails in milliseconds.
    options = ScoreBatchOptions(
        chunk_rows=CHUNK_ROWS if args.chunk_rows is None else args.chunk_rows,
        strict=args.strict,
        impute_missing=args.impute_missing,
        quarantine_out_of_range=args.quarantine_out_of_range,
    )
    check_output_path(args.output)
    # Prefect's API starts first (seconds, mostly in a process of its own); importing
    # Prefect to quiet its console and what loading and checking the model need
    # (scikit-learn, skops: ~2 s) then happen while it starts, not before or after.
    prefect_api.start_in_background()
    if not args.verbose:
        silence_prefect_console()
    import skops.io  # noqa: F401

    import trialflow.serving.batch_scoring  # noqa: F401

    counts = score_file(
        args.model,
        args.data,
        args.output,
        tracking_uri=args.mlflow_uri,
        **options.model_dump(),
    )
    print(
        f"{counts['model_version']}: scored {counts['scored']:,} of {counts['rows']:,} rows in "
        f"{counts['chunks']} chunk(s), quarantined {counts['quarantined']:,}; wrote "
        f"{counts['output']}."
    )
    return 0


def run_explain(args: argparse.Namespace) -> int:
    from trialflow.api import load_model
    from trialflow.data.tables import read_table
    from trialflow.explain.row_explanations import explain_rows
    from trialflow.serving.scoring import check_output_path, write_table_atomically

    check_output_path(args.output)
    rows = read_table(args.data)
    background = read_table(args.background) if args.background else None
    model = load_model(args.model, tracking_uri=args.mlflow_uri)
    top, explained = explain_rows(model, rows, background=background, top=args.top)
    top.insert(0, "row", range(1, len(top) + 1))
    top["explained"] = explained
    path = write_table_atomically(top, args.output)
    print(f"Wrote the top {args.top} contributions of {len(top)} rows to {path}.")
    return 0


def run_features(args: argparse.Namespace) -> int:
    from trialflow.cli.output import print_feature_plan
    from trialflow.config import TrainConfig
    from trialflow.features.plan_file import inspect_features, write_plan_file

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


def run_metalearn(args: argparse.Namespace) -> int:
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


def run_reproduce(args: argparse.Namespace) -> int:
    from trialflow.registry.reproduce import reproduce

    if not args.verbose:
        silence_prefect_console()
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


def run_deploy(args: argparse.Namespace) -> int:
    from trialflow.runtime import deploy

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


def run_server(args: argparse.Namespace) -> int:
    from trialflow.runtime import prefect_server

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


def silence_prefect_console() -> None:
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
