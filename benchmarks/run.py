"""Benchmark trialflow against peer AutoML systems and plain defaults on the public suite.

    python -m benchmarks.run [--budget 60] [--systems trialflow,flaml,autogluon,lgbm_default,
        hgb_default] [--tables all] [--out benchmarks/results] [--fast] [--python PYTHON]

Each (table, system) runs in its own subprocess of PYTHON, one at a time, with the same
budget; results.csv, results.md and normalized.png go to --out. --fast: credit_data and
concrete, 15 s, trialflow and the defaults plus whichever peers PYTHON has installed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from benchmarks import env, overhead, report, throughput
from benchmarks.runner import (
    COLUMNS,
    WARM,
    kill_after,
    new_row,
    run_system,
    trialflow_env,
    write_split,
)
from benchmarks.suite import SUITE, load_suite, split
from benchmarks.systems import BASELINES, PEERS, SYSTEMS, VARIANTS

DEFAULT_OUT = Path(__file__).resolve().parent / "results"
FAST_TABLES = ["credit_data", "concrete"]
FAST_BUDGET = 15.0
FULL_BUDGET = 60.0
# Above this share of the CPU used by other processes during a fit, the row is flagged.
BUSY = 0.1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, help=f"seconds per fit (default {FULL_BUDGET:.0f})")
    parser.add_argument("--systems", help=f"comma-separated, of {','.join(SYSTEMS)}")
    parser.add_argument("--tables", help="comma-separated suite names, or 'all'")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--fast", action="store_true", help="two small tables, 15 s budget")
    parser.add_argument(
        "--reuse",
        type=Path,
        help=(
            "an earlier results.csv: rows of systems not run now are taken from it (say, the "
            "peers, measured on this machine, while only trialflow is run again)"
        ),
    )
    parser.add_argument(
        "--no-fixed-costs",
        dest="fixed_costs",
        action="store_false",
        help="skip the fixed-cost and throughput sections (measured once per run of the suite; "
        "a second run, say of a few tables at another budget, need not repeat them)",
    )
    parser.add_argument(
        "--merge",
        type=Path,
        nargs="+",
        metavar="CSV",
        help="measure nothing: write one report from earlier results.csv files (a run split "
        "across sessions); a later file's row replaces an earlier one's for a table and system",
    )
    parser.add_argument(
        "--no-warm",
        dest="warm",
        action="store_false",
        help="run trialflow only in a fresh project home (by default it runs again in the "
        "same home, reported as its own column, e.g. trialflow@warm)",
    )
    parser.add_argument(
        "--python",
        default=sys.executable,
        help="interpreter the systems run in (default: this one), e.g. .bench-venv/bin/python",
    )
    return parser.parse_args(argv)


def interpreter(python: str) -> str:
    """An absolute path to `python` (the systems run from scratch folders), symlinks kept:
    a venv's python is a symlink whose location is what makes it the venv's."""
    found = shutil.which(python)
    if not found:
        raise SystemExit(f"No Python interpreter at {python!r}.")
    return os.path.abspath(found)


def choose_systems(requested: str | None, fast: bool, importable: dict[str, bool]) -> list[str]:
    if requested:
        systems = [s.strip() for s in requested.split(",") if s.strip()]
        unknown = sorted(set(systems) - set(SYSTEMS))
        if unknown:
            raise SystemExit(f"Unknown systems {unknown}; choose from {', '.join(SYSTEMS)}.")
        return systems
    if fast:  # the peers only where installed, so fast mode works without .bench-venv
        return ["trialflow", *BASELINES, *(p for p in PEERS if importable.get(p))]
    return [s for s in SYSTEMS if s not in VARIANTS]


def choose_tables(requested: str | None, fast: bool) -> list:
    suite = load_suite()
    if not requested or requested == "all":
        names = FAST_TABLES if fast and not requested else list(suite)
    else:
        names = [t.strip() for t in requested.split(",") if t.strip()]
    unknown = [n for n in names if n not in suite]
    if unknown:
        raise SystemExit(f"Unknown tables {unknown}; the suite has {', '.join(suite)}.")
    return [suite[n] for n in names]


def header(budget: float, python: str, facts: dict, machine: dict, systems: list[str]) -> list[str]:
    from benchmarks.systems import DISTRIBUTIONS

    versions = facts["versions"]

    def described(system: str) -> str:
        main, *rest = DISTRIBUTIONS[system]
        if main not in versions:
            return f"{system}: not installed"
        return f"{system}: " + ", ".join(
            f"{d} {versions[d]}" for d in [main, *rest] if d in versions
        )

    return [
        f"date: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC",
        f"machine: {machine['cores']} cores, {machine['ram_gib']} GiB RAM, {machine['cpu']}, "
        f"{machine['os']}",
        f"budget: {budget:g} s per fit (killed after {kill_after(budget):g} s); "
        "systems one at a time, each in its own process",
        f"Python {facts['python']} ({python})",
        "versions: " + "; ".join(described(s) for s in systems),
        f"suite: {SUITE}",
    ]


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.merge:
        merge(args.merge, args.out, interpreter(args.python))
        return
    budget = args.budget or (FAST_BUDGET if args.fast else FULL_BUDGET)
    tables = choose_tables(args.tables, args.fast)
    args.python = interpreter(args.python)
    facts = env.probe(args.python)
    systems = choose_systems(args.systems, args.fast, facts["importable"])
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    print(f"{len(tables)} tables × {len(systems)} systems, budget {budget:g} s → {out}", flush=True)

    rows: list[dict] = []
    total = len(tables) * len(systems)
    with tempfile.TemporaryDirectory(prefix="bench-splits-") as tmp:
        for table in tables:
            try:
                data = write_split(table, *split(table), Path(tmp))
            except Exception as exc:  # a table that cannot be read fails its rows, not the run
                data, why = None, f"split failed: {type(exc).__name__}: {exc}"
            for system in systems:
                if data is None:
                    row = new_row(table, system, budget, why)
                    rows.append(row)
                    print(_progress(len(rows), total, row), flush=True)
                else:
                    for row in measure_one(system, data, budget, args.python, out, args.warm):
                        rows.append(row)
                        print(_progress(len(rows), total, row), flush=True)
                # After every row, so an interrupted suite keeps what it measured.
                as_frame(rows).to_csv(out / "results.csv", index=False)

    reused = reused_rows(args.reuse, tables, systems, budget) if args.reuse else []
    frame = as_frame(rows + reused)
    # With the reused rows, so the next --reuse finds the peers here too.
    frame.to_csv(out / "results.csv", index=False)
    head = header(budget, args.python, facts, env.machine(), systems)
    if reused:
        kept = sorted({row["system"] for row in reused})
        head.append(
            f"reused: rows of {', '.join(kept)} come from {args.reuse} (same harness, suite "
            "and budget, measured earlier); only the systems above were run now"
        )
    write_reports(frame, head, budget, out)
    # The fixed costs are trialflow's: a run of the peers alone does not measure them.
    if not args.fast and args.fixed_costs and "trialflow" in systems:
        started = time.perf_counter()
        overhead_rows = overhead.measure_table(
            load_suite()["credit_data"],
            FULL_BUDGET,
            args.python,
            list(overhead.MODES),
            out / "logs",
        )
        lines = overhead.summary_lines(pd.DataFrame(overhead_rows), FULL_BUDGET)
        print("\n" + "\n".join(lines) + f"\n  (measured in {time.perf_counter() - started:.0f} s)")
        report.append_section(out / "results.md", "Fixed costs (benchmarks.overhead)", lines)
        lines = throughput_lines()
        print("\n" + "\n".join(lines))
        report.append_section(out / "results.md", "Trial throughput", lines)
    print(f"\nWrote {out / 'results.csv'}, {out / 'results.md'}, {out / 'normalized.png'}")


def write_reports(frame: pd.DataFrame, head: list[str], budget: float, out: Path) -> None:
    """results.md, normalized.png and curves.png from the rows (and out/predictions), with
    the summary, the paired bootstraps and the search curves also printed."""
    summary = report.summary_lines(frame)
    report.write_markdown(frame, head, summary, out / "results.md")
    norm = report.normalized(frame)
    cores = env.machine()["cores"]
    report.plot_normalized(norm, out / "normalized.png", f"{budget:g} s budget, {cores} cores")
    print("\n" + report.score_table(frame) + "\n")
    print("\n".join(summary), flush=True)
    if "trialflow" not in set(frame["system"]):
        return
    for title, lines in [
        ("Against the plain defaults, with noise", report.noise_vs_defaults),
        ("Against the peers, with noise", report.noise_vs_peers),
    ]:
        lines = lines(frame, out / "predictions")
        print("\n" + "\n".join(lines), flush=True)
        report.append_section(out / "results.md", title, lines)
    lines = report.curve_lines(frame, budget)
    if lines:
        report.plot_curves(frame, budget, out / "curves.png")
        print("\n" + "\n".join(lines), flush=True)
        report.append_section(out / "results.md", "Best CV score against time", lines)
        with (out / "results.md").open("a") as handle:
            handle.write("\n![search curves](curves.png)\n")


CARRIED_SECTIONS = ("Fixed costs (benchmarks.overhead)", "Trial throughput")


def merge(sources: list[Path], out: Path, python: str) -> None:
    """One report from runs split across sessions or machines: each source is a results.csv
    (its predictions/ beside it); a later source's row replaces an earlier one's for the same
    table and system. Nothing is measured."""
    frames, notes = [], []
    out.mkdir(parents=True, exist_ok=True)
    for source in sources:
        earlier = pd.read_csv(source)
        frames.append(earlier)
        notes.append(f"{source} ({', '.join(dict.fromkeys(earlier['system']))})")
        saved = source.parent / "predictions"
        if saved.is_dir() and saved.resolve() != (out / "predictions").resolve():
            shutil.copytree(saved, out / "predictions", dirs_exist_ok=True)
    rows = pd.concat(frames).drop_duplicates(["table", "system"], keep="last")
    budgets = sorted(set(rows["budget_seconds"]))
    if len(budgets) != 1:
        raise SystemExit(f"The sources mix budgets {budgets}; merge runs of one budget only.")
    frame = as_frame(rows.astype(object).where(rows.notna(), None).to_dict("records"))
    frame.to_csv(out / "results.csv", index=False)
    facts = env.probe(python)
    systems = list(dict.fromkeys(frame["system"]))
    head = header(budgets[0], python, facts, env.machine(), systems)
    head[0] = f"merged: {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, from " + "; ".join(notes)
    write_reports(frame, head, budgets[0], out)
    for title in CARRIED_SECTIONS:  # measured once per run, not per row: the latest source's
        found = [report.section(s.parent / "results.md", title) for s in sources]
        lines = next((f for f in reversed(found) if f), None)
        if lines:
            report.append_section(out / "results.md", title, lines)
    print(f"\nWrote {out / 'results.csv'}, {out / 'results.md'}, {out / 'normalized.png'}")


def throughput_lines() -> list[str]:
    """Trials per second with 1 and 2 worker processes (in this process: it imports trialflow)."""
    try:
        one = throughput.measure("credit_data", 20.0, 500, workers=1)
        two = throughput.measure("credit_data", 20.0, 500, workers=2)
    except Exception as exc:  # trialflow not importable here, say: the suite still reports
        return [f"Trial throughput not measured: {type(exc).__name__}: {exc}"]
    return throughput.format_throughput(one, two, "credit_data", 500)


def reused_rows(path: Path, tables: list, systems: list[str], budget: float) -> list[dict]:
    """Rows of an earlier run for systems not run now, on the tables run now."""
    earlier = pd.read_csv(path)
    names = {table.name for table in tables}
    keep = (
        earlier["table"].isin(names)
        & ~earlier["system"].isin(systems)
        & (earlier["budget_seconds"] == budget)
    )
    rows = earlier[keep].astype(object).where(earlier[keep].notna(), None)
    return rows.to_dict("records")


def measure_one(system: str, data, budget: float, python: str, out: Path, warm: bool) -> list[dict]:
    """The system's rows on one table. trialflow runs in a new, empty project home, as a
    first run or a container job does (the headline); with ``warm``, again in that home."""
    if not system.startswith("trialflow"):
        return [_measured(system, data, budget, python, out, env=None)]
    home = out / "homes" / f"{data.table.name}-{system}"
    shutil.rmtree(home, ignore_errors=True)
    try:
        rows = [_measured(system, data, budget, python, out, env=trialflow_env(home))]
        if warm:
            label = f"{system}{WARM}"
            rows.append(
                _measured(system, data, budget, python, out, env=trialflow_env(home), label=label)
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)  # MLflow artifacts would fill the disk
    return rows


def _measured(system, data, budget, python, out, *, env, label=None) -> dict:
    try:
        return run_system(
            system, data, budget=budget, python=python, logs=out / "logs", env=env, label=label
        )
    except Exception as exc:  # the harness's own trouble (a spawn failing, say) fails one row
        return new_row(
            data.table, label or system, budget, f"harness error: {type(exc).__name__}: {exc}"
        )


def as_frame(rows: list[dict]) -> pd.DataFrame:
    """The raw rows in results.csv's columns; trial counts stay integers beside missing ones."""
    return pd.DataFrame(rows).reindex(columns=COLUMNS).astype({"trials": "Int64"})


def _progress(done: int, total: int, row: dict) -> str:
    where = f"[{done}/{total}] {row['table']} / {row['system']}:"
    cost = f"{row['fit_seconds']} s, {row['peak_rss_mb'] or 0:.0f} MB"
    if row["background_cpu"] > BUSY:
        cost += f"; other processes used {row['background_cpu']:.0%} of the CPU meanwhile"
    if row["status"] == "ok":
        return f"{where} {row['metric']} {row['score']:.4f} in {cost}"
    return f"{where} failed ({row['message']}) after {cost}"


if __name__ == "__main__":
    main()
