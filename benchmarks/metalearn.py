"""Leave-one-dataset-out evaluation of the pipeline recommender on the knowledge base.

For every dataset of the knowledge base, the recommender is refitted without it and then
picks pipelines one at a time, seeing each pick's true score (from the knowledge base) before
the next. Normalised regret after t picks is (best - best so far) / (best - worst) over the
portfolio on that dataset: 0 means the best pipeline has been found. Compared against:
random order (mean over 20 orders), the learners' fixed default order (each learner's
default, then random), and nearest-neighbour warm start on meta-features (as auto-sklearn
does: the best pipeline of the nearest dataset, then of the next nearest, ...).

    python -m benchmarks.metalearn [--knowledge PATH] [--write]
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from trialflow.metalearn.knowledge import SHIPPED, read_document
from trialflow.metalearn.recommender import Knowledge, Recommender, supported

CHECKPOINTS = (1, 3, 5, 10, 25)
RANDOM_ORDERS = 20
RESULTS = Path(__file__).parent / "results"


def regret_curve(order: list[int], truth: np.ndarray) -> np.ndarray:
    """Normalised regret after each pick of ``order``."""
    valid = truth[~np.isnan(truth)]
    best, worst = valid.max(), valid.min()
    span = best - worst if best > worst else 1.0
    found = np.maximum.accumulate(np.nan_to_num(truth[order], nan=-np.inf))
    return np.clip((best - found) / span, 0.0, 1.0)


def recommender_order(model, profile, task, truth, candidates, *, per_second: bool):
    observed: dict[int, float] = {}
    order: list[int] = []
    left = list(candidates)
    while left:
        pick = model.rank(profile, task, observed, left, per_second=per_second)[0]
        order.append(pick)
        left.remove(pick)
        if not np.isnan(truth[pick]):
            observed[pick] = float(truth[pick])
    return order


def default_order(knowledge: Knowledge, candidates: list[int], rng) -> list[int]:
    """Each learner's default (the first pipeline of each learner), then random."""
    firsts, seen = [], set()
    for j in candidates:
        if knowledge.learners[j] not in seen:
            seen.add(knowledge.learners[j])
            firsts.append(j)
    rest = [j for j in candidates if j not in firsts]
    return firsts + list(rng.permutation(rest))


def nearest_neighbour_order(knowledge, index: int, candidates: list[int]) -> list[int]:
    """auto-sklearn's warm start: best pipelines of the nearest datasets (L1 on standardised
    meta-features), then each one's next best, until every candidate is listed."""
    others = [i for i in range(len(knowledge.tasks)) if i != index]
    profiles = knowledge.profiles
    scale = np.where(profiles[others].std(axis=0) > 0, profiles[others].std(axis=0), 1.0)
    distances = np.abs((profiles[others] - profiles[index]) / scale).sum(axis=1)
    family = _family(knowledge.tasks[index])
    ranked = [
        others[i] for i in np.argsort(distances) if _family(knowledge.tasks[others[i]]) == family
    ]
    order: list[int] = []
    depth = 0
    while len(order) < len(candidates) and depth < len(candidates):
        for i in ranked:
            row = knowledge.scores[i]
            best = [j for j in np.argsort(-np.nan_to_num(row, nan=-np.inf)) if j in candidates]
            if depth < len(best) and best[depth] not in order:
                order.append(best[depth])
        depth += 1
    return order + [j for j in candidates if j not in order]


def _family(task: str) -> str:
    return "regression" if task == "regression" else "classification"


def evaluate(knowledge: Knowledge) -> dict[str, dict]:
    """Per method: regret curves by trial (datasets x picks) and by seconds."""
    methods = [
        "recommender (EI per second)",
        "recommender (EI)",
        "nearest neighbour",
        "default order",
        "random order",
    ]
    curves: dict[str, list[np.ndarray]] = {m: [] for m in methods}
    timelines: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {m: [] for m in methods}
    for index in range(len(knowledge.tasks)):
        truth = knowledge.scores[index]
        seconds = np.nan_to_num(knowledge.seconds[index], nan=0.0)
        task = knowledge.tasks[index]
        candidates = [j for j in supported(knowledge, task) if not np.isnan(truth[j])]
        if len(candidates) < 2 or np.nanmax(truth) == np.nanmin(truth):
            continue
        model = Recommender(knowledge.without(index))
        profile = dict(zip(_profile_names(), knowledge.profiles[index], strict=True))
        orders = {
            "recommender (EI per second)": [
                recommender_order(model, profile, task, truth, candidates, per_second=True)
            ],
            "recommender (EI)": [
                recommender_order(model, profile, task, truth, candidates, per_second=False)
            ],
            "nearest neighbour": [nearest_neighbour_order(knowledge, index, candidates)],
        }
        rng = np.random.default_rng(index)
        orders["default order"] = [
            default_order(knowledge, candidates, rng) for _ in range(RANDOM_ORDERS)
        ]
        orders["random order"] = [list(rng.permutation(candidates)) for _ in range(RANDOM_ORDERS)]
        for method, runs in orders.items():
            curves[method].append(np.mean([regret_curve(o, truth) for o in runs], axis=0))
            timelines[method] += [(np.cumsum(seconds[o]), regret_curve(o, truth)) for o in runs]
    return {"curves": curves, "timelines": timelines}


def _profile_names():
    from trialflow.metalearn.profile import FEATURES

    return FEATURES


def median_at(curves: list[np.ndarray], t: int) -> float:
    return float(np.median([c[min(t, len(c)) - 1] for c in curves]))


def regret_at_seconds(timelines, grid: np.ndarray) -> np.ndarray:
    """Median over runs of the regret reached by each time on ``grid``."""
    values = []
    for elapsed, regret in timelines:
        at = np.searchsorted(elapsed, grid, side="right") - 1
        values.append(np.where(at >= 0, regret[np.clip(at, 0, None)], 1.0))
    return np.median(np.array(values), axis=0)


def report(result: dict, n_datasets: int) -> str:
    curves = result["curves"]
    lines = [
        f"Leave-one-dataset-out over {n_datasets} knowledge-base datasets: median normalised "
        "regret (0 = the portfolio's best found) after t trials.",
        "",
        "| method | " + " | ".join(f"t={t}" for t in CHECKPOINTS) + " |",
        "|---|" + "---:|" * len(CHECKPOINTS),
    ]
    for method, rows in curves.items():
        cells = " | ".join(f"{median_at(rows, t):.3f}" for t in CHECKPOINTS)
        lines.append(f"| {method} | {cells} |")
    rec = median_at(curves["recommender (EI per second)"], 5)
    rnd = median_at(curves["random order"], 5)
    nn = median_at(curves["nearest neighbour"], 5)
    default = median_at(curves["default order"], 5)
    lines += [
        "",
        f"After 5 trials: recommender {rec:.3f}, random {rnd:.3f} (half: {rnd / 2:.3f}), "
        f"nearest neighbour {nn:.3f}, default order {default:.3f}. "
        f"Target (≤ half of random, below both others): "
        f"{'met' if rec <= rnd / 2 and rec < nn and rec < default else 'not met'}.",
    ]
    return "\n".join(lines)


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (by_trial, by_time) = plt.subplots(1, 2, figsize=(12, 4.5))
    for method, rows in result["curves"].items():
        n = min(len(r) for r in rows)
        median = np.median(np.array([r[:n] for r in rows]), axis=0)
        by_trial.plot(np.arange(1, n + 1), median, label=method)
    by_trial.set(
        xscale="log",
        xlabel="trials",
        ylabel="median normalised regret",
        title="Regret against trials",
    )
    grid = np.logspace(-1, 3, 80)
    for method, timelines in result["timelines"].items():
        by_time.plot(grid, regret_at_seconds(timelines, grid), label=method)
    by_time.set(
        xscale="log", xlabel="seconds (knowledge-base fit times)", title="Regret against seconds"
    )
    by_trial.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def profile_seconds(rows: int = 1_000_000, columns: int = 30, seed: int = 0) -> float:
    """Wall seconds of the data profile on a ``rows`` x ``columns`` table (target ≤ 2 s)."""
    import time

    import pandas as pd

    from trialflow.metalearn.profile import profile_table

    rng = np.random.default_rng(seed)
    X = pd.DataFrame({f"x{i}": rng.normal(size=rows) for i in range(columns - 5)})
    for i in range(5):
        X[f"c{i}"] = rng.choice([f"level{k}" for k in range(8 * (i + 1))], size=rows)
    y = (X["x0"] + rng.normal(size=rows) > 0).astype(int).to_numpy()
    kinds = {
        "numeric": [f"x{i}" for i in range(columns - 5)],
        "categorical": [f"c{i}" for i in range(5)],
    }
    started = time.perf_counter()
    profile_table(X, y, "binary", kinds, seed=seed)
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--knowledge", type=Path, default=SHIPPED)
    parser.add_argument("--write", action="store_true", help="write results/metalearn.*")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--profile-rows", type=int, default=1_000_000)
    args = parser.parse_args(argv)
    knowledge = Knowledge.from_document(read_document(args.knowledge))
    result = evaluate(knowledge)
    text = report(result, len(result["curves"]["random order"]))
    seconds = profile_seconds(args.profile_rows)
    text += (
        f"\n\nData profile of a {args.profile_rows:,} x 30 table (25 numeric, 5 categorical "
        f"columns): {seconds:.2f} s (target ≤ 2 s)."
    )
    print(text)
    if args.write:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "metalearn.md").write_text(text + "\n\n![regret](metalearn.png)\n")
        plot(result, args.out / "metalearn.png")
        print(f"Wrote {args.out / 'metalearn.md'} and metalearn.png.")
    return text


if __name__ == "__main__":
    main()
