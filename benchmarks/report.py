"""From raw result rows to results.md, normalized.png and the summary lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from benchmarks.suite import HIGHER_IS_BETTER
from benchmarks.systems import BASELINES, PEERS

# Differences this small count as ties in the head-to-head counts.
TIE = {"roc_auc": 0.002, "r2": 0.002, "log_loss": 0.005}
# Normalised scores below this are drawn at it (as triangles) so one collapse keeps the rest
# of the plot readable.
PLOT_FLOOR = -2.0


def oriented(frame: pd.DataFrame) -> pd.Series:
    """Scores with higher always better (log loss negated)."""
    sign = frame["metric"].map(lambda m: 1.0 if HIGHER_IS_BETTER[m] else -1.0)
    return frame["score"].astype(float) * sign


def _ok(rows: pd.DataFrame) -> pd.DataFrame:
    return rows[(rows["status"] == "ok") & rows["score"].notna()]


def _order(rows: pd.DataFrame) -> tuple[list[str], list[str]]:
    """Tables and systems in the order they ran."""
    return list(dict.fromkeys(rows["table"])), list(dict.fromkeys(rows["system"]))


def score_table(rows: pd.DataFrame) -> str:
    """Markdown: one row per table, one column per system, the best score in bold."""
    tables, systems = _order(rows)
    lines = [
        "| table | metric | " + " | ".join(systems) + " |",
        "|---|---|" + "---:|" * len(systems),
    ]
    for table in tables:
        sub = rows[rows["table"] == table]
        ok = _ok(sub)
        best = oriented(ok).max() if len(ok) else np.nan
        cells = []
        for system in systems:
            row = sub[sub["system"] == system]
            if row.empty:
                cells.append("")
            elif row.index[0] not in ok.index:
                cells.append("failed")
            else:
                text = f"{row['score'].iloc[0]:.4f}"
                is_best = np.isclose(oriented(ok.loc[row.index]).iloc[0], best, atol=1e-12)
                cells.append(f"**{text}**" if is_best else text)
        metric = sub["metric"].iloc[0] + ("" if HIGHER_IS_BETTER[sub["metric"].iloc[0]] else " ↓")
        lines.append(f"| {table} | {metric} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def cost_table(rows: pd.DataFrame) -> str:
    """Markdown: fit wall clock (process start to fitted model) and peak tree RSS."""
    tables, systems = _order(rows)
    lines = ["| table | " + " | ".join(systems) + " |", "|---|" + "---:|" * len(systems)]
    for table in tables:
        cells = []
        for system in systems:
            row = rows[(rows["table"] == table) & (rows["system"] == system)]
            if row.empty or pd.isna(row["fit_seconds"].iloc[0]):
                cells.append("")
                continue
            r = row.iloc[0]
            cells.append(f"{r['fit_seconds']:.1f} s / {r['peak_rss_mb']:.0f} MB")
        lines.append(f"| {table} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def normalized(rows: pd.DataFrame) -> pd.DataFrame:
    """Per table: the best plain default (lgbm_default, hgb_default) → 0, the best system → 1.

    Where no system beats the default by more than the tie margin, the margin is the scale,
    so the value stays finite (the best is then ≤ 1). Tables without a baseline score drop out.
    """
    tables, systems = _order(rows)
    ok = _ok(rows).assign(value=lambda f: oriented(f))
    out = pd.DataFrame(index=tables, columns=systems, dtype=float)
    for table in tables:
        sub = ok[ok["table"] == table]
        base = sub[sub["system"].isin(BASELINES)]["value"]
        if base.empty:
            continue
        scale = max(sub["value"].max() - base.max(), TIE[sub["metric"].iloc[0]])
        for _, r in sub.iterrows():
            out.loc[table, r["system"]] = (r["value"] - base.max()) / scale
    return out.dropna(how="all")


def plot_normalized(norm: pd.DataFrame, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only: no display on a server or in CI
    import matplotlib.pyplot as plt

    labels = [*norm.index, "mean"]
    frame = pd.concat([norm, norm.mean().to_frame("mean").T])
    fig, ax = plt.subplots(figsize=(max(6.0, 0.9 * len(labels) + 2), 4.5))
    if norm.empty:  # no plain default scored: there is no zero to normalise against
        ax.text(
            0.5,
            0.5,
            "no lgbm_default / hgb_default scores to normalise against",
            ha="center",
            transform=ax.transAxes,
        )
    width = 0.8 / max(1, len(frame.columns))
    for i, system in enumerate(frame.columns):
        x = np.arange(len(labels)) + (i - (len(frame.columns) - 1) / 2) * width
        y = frame[system].to_numpy(dtype=float)
        clipped = y < PLOT_FLOOR
        (dots,) = ax.plot(x[~clipped], y[~clipped], "o", label=system, markersize=6)
        ax.plot(x[clipped], np.full(clipped.sum(), PLOT_FLOOR), "v", color=dots.get_color())
    ax.axhline(0, color="grey", linewidth=0.8, linestyle="--")
    ax.axhline(1, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xticks(np.arange(len(labels)), labels, rotation=45, ha="right")
    ax.set_ylabel("normalised score (0 = best plain default, 1 = best)")
    ax.set_title(title)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


def mean_ranks(rows: pd.DataFrame) -> pd.Series:
    """Mean rank per system over tables (1 = best); a failure ranks last on its table."""
    frame = rows.assign(value=oriented(rows).where(rows["status"] == "ok"))
    ranks = frame.groupby("table")["value"].rank(
        ascending=False, method="average", na_option="bottom"
    )
    return frame.assign(rank=ranks).groupby("system", sort=False)["rank"].mean().sort_values()


def head_to_head(rows: pd.DataFrame, system: str = "trialflow") -> dict[str, tuple[int, int, int]]:
    """`system`'s wins, ties and losses against each other system, over the tables both ran.
    One failing while the other scores is a loss for the one that failed."""
    frame = rows.assign(value=oriented(rows).where(rows["status"] == "ok"))
    mine = frame[frame["system"] == system].set_index("table")
    counts = {}
    for peer in dict.fromkeys(frame["system"]):
        if peer == system:
            continue
        theirs = frame[frame["system"] == peer].set_index("table")
        wins = ties = losses = 0
        for table in mine.index.intersection(theirs.index):
            a, b = mine.at[table, "value"], theirs.at[table, "value"]
            if pd.isna(a) and pd.isna(b):
                continue
            if pd.isna(a) or (not pd.isna(b) and a < b - TIE[mine.at[table, "metric"]]):
                losses += 1
            elif pd.isna(b) or a > b + TIE[mine.at[table, "metric"]]:
                wins += 1
            else:
                ties += 1
        counts[peer] = (wins, ties, losses)
    return counts


def overruns(rows: pd.DataFrame) -> dict[str, tuple[float, float, str]]:
    """The largest fit wall clock minus budget per budgeted system (the plain defaults take
    no budget): seconds, % of budget, table. Failures count too: a kill is an overrun."""
    ran = rows[
        rows["fit_seconds"].notna()
        & ~rows["system"].isin(BASELINES)
        & ~rows["message"].fillna("").str.startswith("not installed")
    ]
    out = {}
    for system, sub in ran.groupby("system", sort=False):
        worst = sub.loc[sub["overrun_seconds"].astype(float).idxmax()]
        share = 100 * worst["overrun_seconds"] / worst["budget_seconds"]
        out[system] = (float(worst["overrun_seconds"]), float(share), str(worst["table"]))
    return out


def summary_lines(rows: pd.DataFrame) -> list[str]:
    # trialflow run again in a warm home is a second column of the score table, not a
    # competitor: ranks and head-to-heads are the fresh-home (headline) runs'.
    rows = rows[~rows["system"].astype(str).str.endswith("@warm")]
    lines = ["Mean rank (1 = best; a failure ranks last on its table):"]
    lines += [f"  {system:14s} {rank:.2f}" for system, rank in mean_ranks(rows).items()]
    if "trialflow" in set(rows["system"]):
        lines.append(
            "trialflow against each system (wins / ties / losses; tie = within "
            "0.002 AUC or R², 0.005 log loss):"
        )
        for peer, (w, t, lo) in head_to_head(rows).items():
            lines.append(f"  vs {peer:14s} {w} / {t} / {lo}")
    lines.append("Largest budget overrun (fit wall clock − budget; defaults take no budget):")
    for system, (seconds, share, table) in overruns(rows).items():
        lines.append(f"  {system:14s} {seconds:+.1f} s ({share:+.0f}%) on {table}")
    busiest = rows.loc[rows["background_cpu"].astype(float).idxmax()]
    lines.append(
        f"Busiest neighbours: other processes used {busiest['background_cpu']:.0%} of the CPU "
        f"during {busiest['table']} / {busiest['system']} (rows above 10% are unreliable)."
    )
    return lines


def failure_lines(rows: pd.DataFrame) -> list[str]:
    failed = rows[rows["status"] != "ok"]
    return [f"- {r.table} / {r.system}: {r.message}" for r in failed.itertuples()]


def write_markdown(rows: pd.DataFrame, header: list[str], summary: list[str], path: Path) -> None:
    parts = [
        "# trialflow benchmark",
        "\n".join(f"- {line}" for line in header),
        "## Test scores\n\nBest per table in bold; ↓ marks a metric where lower is better.",
        score_table(rows),
        "## Fit wall clock and peak memory\n\nProcess start to fitted model; peak RSS summed "
        "over the process tree.",
        cost_table(rows),
        "## Normalised scores\n\n![normalised scores](normalized.png)",
        "## Summary\n\n```\n" + "\n".join(summary) + "\n```",
    ]
    failures = failure_lines(rows)
    if failures:
        parts.append("## Failures\n\n" + "\n".join(failures))
    path.write_text("\n\n".join(parts) + "\n")


def append_section(path: Path, title: str, lines: list[str]) -> None:
    with path.open("a") as handle:
        handle.write(f"\n## {title}\n\n```\n" + "\n".join(lines) + "\n```\n")


def section(path: Path, title: str) -> list[str] | None:
    """The lines of a section that append_section wrote, or None."""
    if not path.exists():
        return None
    text = path.read_text()
    start = text.find(f"\n## {title}\n\n```\n")
    if start < 0:
        return None
    body = text[start + len(f"\n## {title}\n\n```\n") :]
    return body[: body.find("\n```")].splitlines()


# Paired bootstrap over the test rows: how many resamples, and the interval it reports.
BOOTSTRAP_RESAMPLES = 1000
BOOTSTRAP_LEVEL = 0.95


def paired_bootstrap(
    table: str, metric: str, mine: Path, theirs: Path, *, seed: int = 0
) -> tuple[float, float, float]:
    """trialflow's score minus a peer's on the same test rows (higher = trialflow better,
    log loss negated), with the bootstrap interval from resampling those rows together."""
    from benchmarks.suite import load_suite, score

    spec = load_suite()[table]
    a, b = np.load(mine), np.load(theirs)
    y = a["y_test"]
    classes = list(a["classes"]) or None
    sign = 1.0 if HIGHER_IS_BETTER[metric] else -1.0

    def gap(rows: np.ndarray) -> float:
        return sign * (
            score(spec, y[rows], a["prediction"][rows], classes)
            - score(spec, y[rows], b["prediction"][rows], list(b["classes"]) or None)
        )

    rng = np.random.default_rng(seed)
    everything = np.arange(len(y))
    gaps = []
    for _ in range(BOOTSTRAP_RESAMPLES):
        rows = rng.integers(0, len(y), len(y))
        try:
            gaps.append(gap(rows))
        except ValueError:  # a resample with one class only has no AUC
            continue
    tail = 100 * (1 - BOOTSTRAP_LEVEL) / 2
    low, high = np.percentile(gaps, [tail, 100 - tail])
    return gap(everything), float(low), float(high)


def noise_vs_defaults(rows: pd.DataFrame, predictions: Path) -> list[str]:
    """Per table: trialflow against the better plain default, with the paired bootstrap
    interval of the gap; 'worse' only when the whole interval lies below zero."""
    lines = [
        f"trialflow − best plain default, paired bootstrap over the test rows "
        f"({BOOTSTRAP_RESAMPLES} resamples, {BOOTSTRAP_LEVEL:.0%} interval; log loss negated):"
    ]
    frame = rows.assign(value=oriented(rows).where(rows["status"] == "ok"))
    verdicts = {"better": 0, "within noise": 0, "worse": 0}
    for table, sub in frame.groupby("table", sort=False):
        defaults = sub[sub["system"].isin(BASELINES) & sub["value"].notna()]
        ours = sub[(sub["system"] == "trialflow") & sub["value"].notna()]
        if defaults.empty or ours.empty:
            continue
        best = defaults.loc[defaults["value"].idxmax()]
        mine = predictions / f"{table}-trialflow.npz"
        theirs = predictions / f"{table}-{best['system']}.npz"
        if not (mine.exists() and theirs.exists()):
            lines.append(f"  {table:14s} no saved predictions (rows reused from an older run)")
            continue
        gap, low, high = paired_bootstrap(table, best["metric"], mine, theirs)
        verdict = "better" if low > 0 else "worse" if high < 0 else "within noise"
        verdicts[verdict] += 1
        lines.append(
            f"  {table:14s} vs {best['system']:12s} {gap:+.4f}  [{low:+.4f}, {high:+.4f}]  "
            f"{verdict}"
        )
    lines.append("  " + ", ".join(f"{count} {verdict}" for verdict, count in verdicts.items()))
    return lines


def noise_vs_peers(rows: pd.DataFrame, predictions: Path) -> list[str]:
    """trialflow against each peer AutoML system, table by table, with the paired bootstrap
    over the test rows: a win when the whole interval lies above zero, a loss when it lies
    below, a tie otherwise (the acceptance's 'wins or ties within the paired bootstrap').
    Where either side's predictions were not saved, the fixed tie margin decides instead."""
    frame = rows.assign(value=oriented(rows).where(rows["status"] == "ok"))
    mine = frame[frame["system"] == "trialflow"].set_index("table")
    lines = [
        f"trialflow − peer, paired bootstrap over the test rows ({BOOTSTRAP_RESAMPLES} "
        f"resamples, {BOOTSTRAP_LEVEL:.0%} interval; log loss negated); win or loss only "
        "when the interval excludes zero:"
    ]
    totals = []
    for peer in PEERS:
        theirs = frame[frame["system"] == peer].set_index("table")
        shared = [t for t in mine.index if t in theirs.index]
        if not shared:
            continue
        counts = {"win": 0, "tie": 0, "loss": 0}
        lines.append(f"  vs {peer}:")
        for table in shared:
            verdict, text = _verdict(table, mine.loc[table], theirs.loc[table], peer, predictions)
            counts[verdict] += 1
            lines.append(f"    {table:14s} {text}  {verdict}")
        n = sum(counts.values())
        share = (counts["win"] + counts["tie"]) / n
        totals.append(
            f"  vs {peer:10s} {counts['win']} wins / {counts['tie']} ties / {counts['loss']} "
            f"losses of {n}: wins or ties {share:.0%}, wins {counts['win'] / n:.0%}"
        )
    return lines + ["Totals:", *totals]


def _verdict(table: str, mine: pd.Series, theirs: pd.Series, peer: str, predictions: Path):
    """('win' | 'tie' | 'loss', the gap as text) for one table against one peer."""
    if pd.isna(mine["value"]) or pd.isna(theirs["value"]):
        failed = "trialflow" if pd.isna(mine["value"]) else peer
        return ("loss" if failed == "trialflow" else "win"), f"{failed} failed"
    a, b = predictions / f"{table}-trialflow.npz", predictions / f"{table}-{peer}.npz"
    if a.exists() and b.exists():
        gap, low, high = paired_bootstrap(table, mine["metric"], a, b)
        verdict = "win" if low > 0 else "loss" if high < 0 else "tie"
        return verdict, f"{gap:+.4f}  [{low:+.4f}, {high:+.4f}]"
    gap, margin = mine["value"] - theirs["value"], TIE[mine["metric"]]
    verdict = "win" if gap > margin else "loss" if gap < -margin else "tie"
    return verdict, f"{gap:+.4f}  (no saved predictions: tie margin {margin})"


def _curves(rows: pd.DataFrame) -> dict[str, dict]:
    """trialflow's (fresh home) search curve per table, from the results' curve column."""
    import json

    if "curve" not in rows:
        return {}
    own = rows[(rows["system"] == "trialflow") & rows["curve"].notna()]
    return {r.table: json.loads(r.curve) for r in own.itertuples()}


def curve_lines(rows: pd.DataFrame, budget: float) -> list[str]:
    """When the search's best CV score first reached the plain library defaults' (the
    anytime target: by 25 % of the budget), per table."""
    curves = _curves(rows)
    if not curves:
        return []
    lines = [
        f"{'table':14s} {'defaults CV':>11s} {'reached at':>10s} {'of budget':>9s} "
        f"{'best CV':>9s} {'at 25%':>9s}"
    ]
    met = 0
    for table, curve in curves.items():
        points, floor, reached = (
            curve["points"],
            curve["library_defaults"],
            curve["reached_defaults_at"],
        )
        early = [v for t, v in points if t <= 0.25 * budget]
        share = reached / budget if reached is not None else None
        met += share is not None and share <= 0.25
        lines.append(
            f"{table:14s} {_num(floor):>11s} {_num(reached, '.1f', ' s'):>10s} "
            f"{_num(share, '.0%'):>9s} {_num(points[-1][1] if points else None):>9s} "
            f"{_num(early[-1] if early else None):>9s}"
        )
    lines.append(
        f"Defaults' CV score reached by 25% of the budget on {met} of {len(curves)} tables."
    )
    return lines


def _num(value, spec: str = ".4f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{unit}"


def plot_curves(rows: pd.DataFrame, budget: float, path: Path) -> None:
    """Small multiples: trialflow's best CV score against seconds into the run, the plain
    library defaults' score dashed, 25 % of the budget dotted."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = _curves(rows)
    columns = 4
    lines = -(-len(curves) // columns)
    fig, axes = plt.subplots(lines, columns, figsize=(3.2 * columns, 2.4 * lines), squeeze=False)
    for ax, (table, curve) in zip(axes.flat, curves.items(), strict=False):
        points = np.asarray(curve["points"], dtype=float).reshape(-1, 2)
        if len(points):
            ax.step(points[:, 0], points[:, 1], where="post", color="black", linewidth=1.2)
            ax.plot(points[:, 0], points[:, 1], "o", markersize=2.5, color="black")
        if curve["library_defaults"] is not None:
            ax.axhline(curve["library_defaults"], color="tab:orange", linestyle="--", linewidth=1)
        ax.axvline(0.25 * budget, color="grey", linestyle=":", linewidth=1)
        ax.set_xlim(0, budget)
        ax.set_title(table, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(curves) :]:
        ax.axis("off")
    fig.suptitle(
        "best CV score against seconds into the run (dashed: library defaults; dotted: 25 %)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
