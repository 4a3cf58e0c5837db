"""The featurization plan as a YAML file people read and edit.

``trialflow features`` writes it: every input column with its type (or ``drop`` and why), the
holiday calendar, featurizers turned off, output features to leave out, users' featurizers,
and, for reading, every output feature with its source columns and featurizer.
``trialflow train --featurization FILE`` reads the editable part back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trialflow.errors import ConfigError
from trialflow.featurizers import KINDS, ColumnPlan

# Featurizers that are not one column kind's, which a plan may turn off too.
OTHER_FEATURIZERS = ("holidays", "relational")

HEADER = """\
# trialflow featurization plan. Edit it, then train with:
#   trialflow train DATA --target {target} --featurization {path}
# columns: each input column's type ({kinds}) or drop.
# holidays: a country code (US, US-CA) or the name of a column holding such codes.
# disabled: featurizers to turn off ({kinds}, holidays, relational).
# drop_features: output features to leave out, by name (see features below).
# user_featurizers: your own, e.g. - {{path: package.module:ClassName, columns: [a, b]}}
# related: tables to join by key for deep feature synthesis,
#   e.g. - {{data: planes.csv, key: tailnum}}  (foreign_key: when this table's column differs)
# dfs: deep feature synthesis limits, e.g. {{max_features: 200, max_seconds: 60}}
# features: what this plan produces, for reading; edits there are ignored.
"""


@dataclass
class PlanEdits:
    """The editable part of a plan file."""

    types: dict[str, str] = field(default_factory=dict)
    holidays: str = ""
    disabled: list[str] = field(default_factory=list)
    drop_features: list[str] = field(default_factory=list)
    user_featurizers: list[dict] = field(default_factory=list)
    related: list[dict] = field(default_factory=list)
    dfs: dict = field(default_factory=dict)

    def apply(self, plan: ColumnPlan) -> ColumnPlan:
        plan.disabled = list(self.disabled)
        plan.drop_features = list(self.drop_features)
        plan.user_featurizers = [dict(u) for u in self.user_featurizers]
        plan.related = [dict(r) for r in self.related]
        plan.dfs = dict(self.dfs)
        return plan


def describe_features(featurizer) -> list[dict]:
    """Every output feature of a fitted TableFeaturizer: name, sources, featurizer, params."""
    rows = []
    dropped = set(featurizer.plan.drop_features if featurizer.plan else ())
    for part in featurizer.featurizers_:
        params = {
            k: v
            for k, v in part.get_params().items()
            if k != "columns" and isinstance(v, str | int | float | bool)
        }
        for name in part.feature_names_out_:
            if name in dropped:
                continue
            sources = [c for c in part.columns if _derives_from(name, c)] or list(part.columns)
            rows.append(
                {
                    "name": name,
                    "sources": sources,
                    "featurizer": getattr(part, "kind", type(part).__name__),
                    "params": params,
                }
            )
    return rows


def _derives_from(feature: str, column: str) -> bool:
    return feature == column or feature.startswith((f"{column}__", f"{column}="))


def plan_document(plan: ColumnPlan, features: list[dict], *, target: str) -> dict:
    columns = {c: kind for kind, cs in plan.kinds.items() for c in cs}
    columns |= {c: "drop" for c in plan.dropped}
    holidays = plan.holiday_column or plan.holiday_country
    return {
        "target": target,
        "columns": columns,
        "dropped_because": dict(plan.dropped),
        "holidays": holidays,
        "disabled": list(plan.disabled),
        "drop_features": list(plan.drop_features),
        "user_featurizers": [dict(u) for u in plan.user_featurizers],
        "related": [dict(r) for r in plan.related],
        "dfs": dict(plan.dfs),
        "features": features,
    }


def write_plan_file(document: dict, path: str | Path) -> None:
    import yaml

    from trialflow.runtime.files import write_atomically

    path = Path(path)
    text = HEADER.format(target=document["target"], path=path.name, kinds=", ".join(KINDS))
    text += yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)
    if not path.parent.is_dir():
        raise ConfigError(
            f"Cannot write the plan to {str(path)!r}: there is no folder {str(path.parent)!r}."
        )
    write_atomically(path, lambda handle: handle.write(text.encode()))


def read_plan_file(path: str | Path) -> PlanEdits:
    """The editable settings of a plan file, checked; a mistake names the key and value."""
    import yaml

    path = Path(path)
    try:
        document = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError as exc:
        raise ConfigError(f"No featurization plan at {str(path)!r}.") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"The featurization plan {str(path)!r} is not valid YAML: {exc}") from exc
    if not isinstance(document, dict):
        raise ConfigError(f"The featurization plan {str(path)!r} must be a YAML mapping.")
    columns = document.get("columns") or {}
    if not isinstance(columns, dict):
        raise ConfigError(f"'columns' in {str(path)!r} must map column names to types.")
    types = {str(c): str(k) for c, k in columns.items()}
    bad = {c: k for c, k in types.items() if k not in (*KINDS, "drop")}
    if bad:
        raise ConfigError(
            f"Unknown column type(s) {bad} in {str(path)!r}; use one of {', '.join(KINDS)}, drop."
        )
    disabled = [str(d) for d in document.get("disabled") or []]
    unknown = [d for d in disabled if d not in (*KINDS, *OTHER_FEATURIZERS)]
    if unknown:
        raise ConfigError(
            f"Unknown featurizer(s) {unknown} under 'disabled' in {str(path)!r}; use "
            f"{', '.join((*KINDS, *OTHER_FEATURIZERS))}."
        )
    related = document.get("related") or []
    for table in related:
        if not isinstance(table, dict) or "data" not in table or "key" not in table:
            raise ConfigError(
                f"Each entry of 'related' in {str(path)!r} needs 'data' (a table) and 'key' "
                f"(its key column or columns); got {table!r}."
            )
    dfs = document.get("dfs") or {}
    if not isinstance(dfs, dict):
        raise ConfigError(f"'dfs' in {str(path)!r} must be a mapping of settings; got {dfs!r}.")
    users = document.get("user_featurizers") or []
    for user in users:
        if not isinstance(user, dict) or not isinstance(user.get("path"), str):
            raise ConfigError(
                f"Each entry of 'user_featurizers' in {str(path)!r} needs a 'path' "
                f"(package.module:ClassName) and 'columns'; got {user!r}."
            )
    return PlanEdits(
        types=types,
        holidays=str(document.get("holidays") or ""),
        disabled=disabled,
        drop_features=[str(f) for f in document.get("drop_features") or []],
        user_featurizers=[
            {"path": u["path"], "columns": [str(c) for c in u.get("columns") or []]} for u in users
        ],
        related=[dict(r) for r in related],
        dfs=dict(dfs),
    )


def plan_for(table, config, exclude: dict[str, str]) -> ColumnPlan:
    """The column plan of a run: detected, then the user's plan file and options on top."""
    from trialflow.featurizers import plan_columns
    from trialflow.validation.leakage import scan_leaks

    edits = read_plan_file(config.featurization) if config.featurization else PlanEdits()
    # A column the user typed in the plan is kept even if it looks like leakage.
    candidates = [c for c in table.X.columns if c not in exclude and c not in edits.types]
    scan = scan_leaks(table.X, table.y, table.task, seed=config.seed, columns=candidates)
    exclude = {**exclude, **{leak.column: leak.reason for leak in scan.leaks}}
    plan = plan_columns(
        table.X,
        target=table.target,
        exclude=exclude,
        types=edits.types,
        holidays=config.holidays or edits.holidays,
    )
    plan.unchecked |= scan.unchecked
    return edits.apply(plan)


def sensitive_exclusions(config) -> dict[str, str]:
    if config.sensitive_as_input:
        return {}
    return {c: "sensitive column: reported on, not used as a model input" for c in config.sensitive}


def inspect_features(config) -> dict:
    """The plan document for ``config.data``: the plan, fitted on the table to list features."""
    from trialflow.data.loading import load_training_table
    from trialflow.featurizers import TableFeaturizer

    table = load_training_table(
        config.data, None, target=config.target, task=config.task, cv_folds=config.cv_folds
    )
    plan = plan_for(table, config, sensitive_exclusions(config))
    featurizer = TableFeaturizer(plan)
    featurizer.fit(table.X, table.y)
    return plan_document(plan, describe_features(featurizer), target=config.target)


def fitted_features_frame(model) -> pd.DataFrame:
    """The output features of a fitted model's featurizer (of its first member, for an
    ensemble), one row each: name, source columns, featurizer."""
    pipeline = model.members_[0] if hasattr(model, "members_") else model
    featurizer = getattr(pipeline, "named_steps", {}).get("features")
    rows = describe_features(featurizer) if featurizer is not None else []
    return pd.DataFrame(
        [
            {"feature": r["name"], "from": ", ".join(r["sources"]), "featurizer": r["featurizer"]}
            for r in rows
        ],
        columns=["feature", "from", "featurizer"],
    )
