"""Champion / challenger: a new version takes the `champion` alias only if it beats the
serving one on the same fresh evaluation rows by a margin.

The decision, both scores and the evaluation data's fingerprint are written as tags on both
versions, so the registry itself says why the alias moved or stayed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from trialflow.model.metrics import METRICS
from trialflow.model.pipeline import aligned_proba

CHAMPION = "champion"
CHALLENGER = "challenger"


@dataclass(frozen=True)
class Decision:
    name: str
    challenger_version: str
    champion_version: str  # the version serving before the decision; "" for the first model
    metric: str
    challenger_score: float | None
    champion_score: float | None
    margin: float
    promoted: bool
    reason: str
    evaluation_rows: int = 0
    evaluation_fingerprint: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def evaluate(
    model, frame: pd.DataFrame, target: str, metric: str, history: pd.DataFrame | None = None
) -> float:
    """``model``'s ``metric`` on the rows of ``frame``; a forecaster forecasts them from
    ``history`` (the rows before them)."""
    if getattr(model, "task", "") == "forecast":
        from trialflow.forecast.evaluation import forecast_error

        if history is None:
            raise ValueError("A forecast model is evaluated from a history; none was given.")
        return forecast_error(model, history, frame, metric)
    m = METRICS[metric]
    X, y = frame.drop(columns=target), frame[target].to_numpy()
    if m.needs_proba:
        classes = list(model.classes_)
        return float(m.score(y, aligned_proba(model, X, classes), classes))
    classes = list(getattr(model, "classes_", [])) or None
    return float(m.score(y, np.asarray(model.predict(X)), classes))


def beats(challenger: float, champion: float, *, metric: str, margin: float) -> bool:
    """Whether the challenger wins by more than ``margin`` in the metric's own direction
    (forecast errors, which are not in ``METRICS``, are better lower)."""
    if metric in METRICS and METRICS[metric].greater_is_better:
        return challenger > champion + margin
    return challenger < champion - margin


def champion_challenger(
    name: str,
    challenger_version: str,
    evaluation: pd.DataFrame,
    *,
    target: str,
    metric: str,
    margin: float = 0.0,
    configured_uri: str = "",
    history: pd.DataFrame | None = None,
) -> Decision:
    """Score the champion and the challenger on ``evaluation``; move the alias if the
    challenger wins by ``margin``. The first model of a name becomes champion. Forecast
    models forecast ``evaluation`` from ``history``."""
    from trialflow.data.tables import fingerprint
    from trialflow.registry.loading import load_model
    from trialflow.registry.store import store_client, store_write_lock

    client = store_client(configured_uri)
    with store_write_lock(configured_uri):
        client.set_model_version_tag(name, challenger_version, "role", CHALLENGER)
    champion_version = _alias_version(client, name)
    challenger, _ = load_model(f"{name}/{challenger_version}", configured_uri=configured_uri)
    challenger_score = evaluate(challenger, evaluation, target, metric, history)
    facts = dict(
        name=name,
        challenger_version=str(challenger_version),
        champion_version=champion_version or "",
        metric=metric,
        margin=margin,
        evaluation_rows=len(evaluation),
        evaluation_fingerprint=fingerprint(evaluation),
    )
    if champion_version is None:
        decision = Decision(
            **facts,
            challenger_score=challenger_score,
            champion_score=None,
            promoted=True,
            reason="first model of this name: it becomes champion",
        )
    elif champion_version == str(challenger_version):
        decision = Decision(
            **facts,
            challenger_score=challenger_score,
            champion_score=challenger_score,
            promoted=False,
            reason="this version is already the champion",
        )
    else:
        champion, _ = load_model(f"{name}/{champion_version}", configured_uri=configured_uri)
        champion_score = evaluate(champion, evaluation, target, metric, history)
        promoted = beats(challenger_score, champion_score, metric=metric, margin=margin)
        verb = "beats" if promoted else "does not beat"
        decision = Decision(
            **facts,
            challenger_score=challenger_score,
            champion_score=champion_score,
            promoted=promoted,
            reason=(
                f"challenger {metric} {challenger_score:.4f} {verb} champion "
                f"{champion_score:.4f} by more than {margin:g}"
            ),
        )
    _record(client, decision, configured_uri)
    return decision


def _alias_version(client, name: str) -> str | None:
    from mlflow.exceptions import MlflowException

    try:
        return str(client.get_model_version_by_alias(name, CHAMPION).version)
    except MlflowException:
        return None


def _record(client, decision: Decision, configured_uri: str) -> None:
    """Tags on both versions, then the alias: a crash in between leaves the old champion
    serving and the decision visible on the challenger."""
    from trialflow.registry.store import store_write_lock

    tags = {
        "champion_challenger.decision": "promoted" if decision.promoted else "kept champion",
        "champion_challenger.reason": decision.reason,
        "champion_challenger.metric": decision.metric,
        "champion_challenger.challenger_score": _text(decision.challenger_score),
        "champion_challenger.champion_score": _text(decision.champion_score),
        "champion_challenger.champion_version": decision.champion_version,
        "champion_challenger.challenger_version": decision.challenger_version,
        "champion_challenger.evaluation_fingerprint": decision.evaluation_fingerprint,
    }
    versions = {decision.challenger_version, decision.champion_version} - {""}
    with store_write_lock(configured_uri):
        for version in versions:
            for key, value in tags.items():
                client.set_model_version_tag(decision.name, version, key, value)
        if decision.promoted:
            client.set_registered_model_alias(decision.name, CHAMPION, decision.challenger_version)


def _text(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"
