"""Training-time guardrails: what trialflow found in the data and what it did about it.

Each guardrail is ``passed`` (nothing to report), ``done`` (trialflow changed something:
dropped, parsed, imputed, encoded) or ``alert`` (worth a person's look). The list is printed
by the CLI, published as a Prefect table artifact and registered with the model.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from trialflow.data.csv_files import ENCODING_NOTE, NAMES_NOTE
from trialflow.data.tables import NESTED_NOTE
from trialflow.featurizers import ColumnPlan
from trialflow.learners.spec import IMBALANCE_RATIO, class_ratio, needs_class_weights
from trialflow.search.folds import SINGLE_SPLIT_ROWS, validation_scheme

PASSED, DONE, ALERT = "passed", "done", "alert"
# Duplicate rows are an alert from this share of the rows.
DUPLICATE_SHARE = 0.01
SHOWN = 5


@dataclass(frozen=True)
class Guardrail:
    name: str
    status: str
    found: str
    action: str = ""


def training_guardrails(table, plan: ColumnPlan, config, metric: str) -> list[Guardrail]:
    """The guardrails of a training table (a TrainingTable), in a fixed order."""
    inputs = [c for c in plan.input_columns if c in table.X.columns]
    checks = [
        # Only when reading repaired something: most files need none of these.
        _repairs(table, ENCODING_NOTE, "text encoding", "the file read in this encoding"),
        _repairs(table, NAMES_NOTE, "column names", "columns renamed; scoring renames alike"),
        _repairs(table, NESTED_NOTE, "nested columns", "left out of the model's inputs"),
        _class_balance(table, metric),
        _rare_classes(table),
        _unlabelled(table),
        _missing_values(table.X, inputs),
        _dropped(plan, "constant columns", ("a single value", "all values are missing")),
        _dropped(plan, "ID-like columns", ("an identifier",)),
        _high_cardinality(plan),
        _duplicates(table),
        _notes(table, "mixed types", "mixed-type columns"),
        _notes(table, "numbers as text", "numbers stored as text"),
        _notes(table, "infinite values", "infinite values"),
        _dates(table, plan),
        _leakage(plan, n_checked=len(table.X.columns)),
        _split(table, config),
    ]
    return [g for g in checks if g is not None]


def guardrails_frame(guardrails: list[Guardrail]) -> pd.DataFrame:
    return pd.DataFrame(
        [vars(g) for g in guardrails], columns=["name", "status", "found", "action"]
    )


def _class_balance(table, metric: str) -> Guardrail | None:
    if table.task == "regression":
        return None
    counts = pd.Series(table.y).value_counts()
    shares = ", ".join(f"{k!r} {v / counts.sum():.1%}" for k, v in counts.head(SHOWN).items())
    ratio = class_ratio(table.y)
    if ratio >= IMBALANCE_RATIO:
        return Guardrail("class imbalance", PASSED, f"classes {shares}")
    found = (
        f"the rarest class {counts.index[-1]!r} has {counts.iloc[-1]} rows, "
        f"{ratio:.1%} of the most common ({shares})"
    )
    if needs_class_weights(table.y, table.task, metric):
        return Guardrail(
            "class imbalance",
            DONE,
            found,
            f"every trial weighs classes inversely to their frequency (class_weight="
            f"balanced): {metric} counts the rare class's predictions, which an unweighted "
            "model makes too seldom; folds are stratified",
        )
    return Guardrail(
        "class imbalance",
        ALERT,
        found,
        f"folds are stratified; not reweighted: {metric} does not reward predicting the rare "
        "class more often, and weights would distort the probabilities (with --metric f1, "
        "classes are weighted)",
    )


def _rare_classes(table) -> Guardrail | None:
    if not table.rare_classes:
        return None
    shown = ", ".join(f"{k!r} ({v} rows)" for k, v in list(table.rare_classes.items())[:SHOWN])
    return Guardrail(
        "classes too rare to validate",
        DONE,
        f"class(es) {shown} have fewer rows than the cross-validation folds",
        "their rows are left out of training; the model does not predict them",
    )


def _unlabelled(table) -> Guardrail | None:
    if not table.n_unlabelled:
        return None
    return Guardrail(
        "rows without a target",
        DONE,
        f"{table.n_unlabelled} rows have no value in {table.target!r}",
        "left out of training",
    )


def _missing_values(X: pd.DataFrame, inputs: list[str]) -> Guardrail:
    # Over the whole frame, then the inputs: selecting the inputs first copies the table.
    shares = X.isna().mean()[inputs]
    shares = shares[shares > 0].sort_values(ascending=False)
    if shares.empty:
        return Guardrail("missing values", PASSED, "no missing values in the model's inputs")
    shown = ", ".join(f"{c!r} {_percent(s)}" for c, s in shares.head(SHOWN).items())
    more = f" and {len(shares) - SHOWN} more" if len(shares) > SHOWN else ""
    return Guardrail(
        "missing values",
        DONE,
        f"{len(shares)} input column(s) have missing values: {shown}{more}",
        "numbers are filled with the training median plus a missing-indicator feature; "
        "other kinds keep 'missing' as a value of its own",
    )


def _dropped(plan: ColumnPlan, name: str, reasons: tuple[str, ...]) -> Guardrail:
    columns = [c for c, why in plan.dropped.items() if why.startswith(reasons)]
    if not columns:
        return Guardrail(name, PASSED, "none found")
    return Guardrail(name, DONE, _names(columns), "dropped: they carry nothing a model can use")


def _high_cardinality(plan: ColumnPlan) -> Guardrail:
    columns = plan.kinds.get("high_cardinality", [])
    if not columns:
        return Guardrail("high-cardinality categoricals", PASSED, "none found")
    return Guardrail(
        "high-cardinality categoricals",
        DONE,
        _names(columns),
        "encoded by frequency and by out-of-fold target encoding instead of one level each",
    )


def _duplicates(table) -> Guardrail:
    rows = table.X.assign(**{f"__target__{table.target}": table.y})
    n = int(rows.duplicated().sum())
    if not n:
        return Guardrail("duplicate rows", PASSED, "no row repeats another")
    found = f"{n} rows ({_percent(n / len(rows))}) repeat an earlier row, target included"
    if n / len(rows) < DUPLICATE_SHARE:
        return Guardrail("duplicate rows", PASSED, found + ": too few to sway the scores")
    return Guardrail(
        "duplicate rows",
        ALERT,
        found,
        "kept; a copy in a validation fold of a row in training flatters the score",
    )


def _notes(table, kind: str, name: str) -> Guardrail:
    notes = [n for n in table.notes if n.kind == kind]
    if not notes:
        return Guardrail(name, PASSED, "none found")
    found = "; ".join(f"{n.column!r}: {n.detail}" for n in notes[:SHOWN])
    more = f"; and {len(notes) - SHOWN} more" if len(notes) > SHOWN else ""
    return Guardrail(name, DONE, found + more, "scoring reads these columns the same way")


def _repairs(table, kind: str, name: str, action: str) -> Guardrail | None:
    notes = [n for n in table.notes if n.kind == kind]
    if not notes:
        return None
    found = "; ".join(n.detail for n in notes[:SHOWN])
    more = f"; and {len(notes) - SHOWN} more" if len(notes) > SHOWN else ""
    return Guardrail(name, DONE, found + more, action)


def _dates(table, plan: ColumnPlan) -> Guardrail:
    parsed = [
        c
        for c in plan.kinds.get("datetime", [])
        if c in table.X.columns and not pd.api.types.is_datetime64_any_dtype(table.X[c])
    ]
    if not parsed:
        return Guardrail("date strings", PASSED, "no dates stored as text")
    return Guardrail(
        "date strings",
        DONE,
        _names(parsed),
        "parsed as dates (each value in its own format); calendar features derived",
    )


def _leakage(plan: ColumnPlan, *, n_checked: int) -> Guardrail:
    leaks = {c: why for c, why in plan.dropped.items() if why.startswith("target leakage")}
    cut = plan.unchecked.get("target leakage", "")
    if not leaks and not cut:
        return Guardrail(
            "target leakage", PASSED, f"no single column of {n_checked} predicts the target alone"
        )
    found = "; ".join(f"{c!r}: {why.removeprefix('target leakage: ')}" for c, why in leaks.items())
    if not leaks:
        found = "no single column checked predicts the target alone"
    action = (
        "excluded from the model; if the column is known at prediction time, keep it by "
        "setting its type in a plan file (trialflow features --output)"
        if leaks
        else "none needed for the columns checked"
    )
    if cut:
        found += f"; {cut}"
        action += (
            "; to have every column checked, set the columns the model need not see to "
            "drop in a plan file"
        )
    return Guardrail("target leakage", ALERT, found, action)


def _split(table, config) -> Guardrail:
    n = len(table.y)
    scheme = validation_scheme(n, config.cv_folds)
    stratified = " stratified by class," if table.task != "regression" else ""
    why = (
        f"more than {SINGLE_SPLIT_ROWS} rows: one split is as informative as k folds"
        if n > SINGLE_SPLIT_ROWS
        else f"{n} rows"
    )
    return Guardrail(
        "validation split",
        PASSED,
        f"{scheme},{stratified} shuffled with seed {config.seed} ({why})",
    )


def _names(columns: list[str]) -> str:
    shown = ", ".join(map(repr, columns[:SHOWN]))
    return shown + (f" and {len(columns) - SHOWN} more" if len(columns) > SHOWN else "")


def _percent(share: float) -> str:
    return "<0.1%" if 0 < share < 0.001 else f"{share:.1%}"
