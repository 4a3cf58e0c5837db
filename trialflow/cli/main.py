"""The `trialflow` command. Its train options are generated from TrainConfig's fields, so the
CLI, the Python API, deployments and the Prefect UI share one definition of every parameter."""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from trialflow.cli.parser import build_parser

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


def _quiet_libraries(*, verbose: bool) -> None:
    """Keep the terminal for trialflow's own output; the logs still reach Prefect's API."""
    from trialflow.runtime import prefect_server
    from trialflow.runtime.home import configure_environment

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
