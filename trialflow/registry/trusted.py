"""Which types a stored model may hold: trialflow's trusted libraries and the modules of the
learners and featurizers the user named. Checked when a model is registered and again
before it is loaded: nothing from outside them is ever unpickled.
"""

from __future__ import annotations

import threading
import weakref

from trialflow.errors import ConfigError

# Models are stored with skops, which on loading rebuilds only types listed as trusted, so
# a tampered artifact cannot run arbitrary code the way an unpickled one can.
TRUSTED_MODULES = (
    "trialflow.",
    "sklearn.",
    "lightgbm.",
    "numpy.",
    "pandas.",
    "scipy.",
    "collections.",
)

# Exact names from the standard library: HistGradientBoosting keeps a partial of
# sklearn.utils.validation.check_array; the function it wraps is checked in its own right.
TRUSTED_NAMES = ("functools.partial",)

# The version tag naming the modules of the user's own learners and featurizers.
USER_MODULES_TAG = "trusted.user_modules"


def user_modules(config, plan) -> tuple[str, ...]:
    """Modules of the learners and featurizers the user named (``config``: TrainConfig,
    ``plan``: ColumnPlan): their types are trusted in the model's skops file."""
    return tuple(
        path.partition(":")[0]
        for path in [*config.learners, *(u["path"] for u in plan.user_featurizers)]
    )


def trusted_types(pipeline, *, extra_modules: tuple[str, ...] = ()) -> list[str]:
    """The non-default types the pipeline's skops file holds; all must come from trialflow's
    libraries or from ``extra_modules`` (the modules of learners the user named)."""
    import skops.io

    data = skops.io.dumps(pipeline)
    types = skops.io.get_untrusted_types(data=data)
    allowed = TRUSTED_MODULES + tuple(f"{m}." for m in extra_modules)
    unknown = [t for t in types if not t.startswith(allowed) and t not in TRUSTED_NAMES]
    if unknown:
        raise ConfigError(
            f"The fitted model holds types from outside trialflow's trusted libraries: {unknown}."
        )
    with _checked_lock:
        _checked[pipeline] = (list(types), data)
    return types


# The skops file ``trusted_types`` made of each pipeline it checked, until that pipeline is
# registered (or garbage collected), so registration does not serialise it again.
_checked: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


_checked_lock = threading.Lock()


def _checked_skops(pipeline, trusted: list[str] | None, modules: tuple[str, ...]):
    """(trusted types, skops bytes) of ``pipeline``: those ``trusted_types`` made when it
    checked the same types, else made and checked now."""
    with _checked_lock:
        made = _checked.pop(pipeline, None)
    if made is None or trusted is None or made[0] != list(trusted):
        trusted_types(pipeline, extra_modules=modules)
        with _checked_lock:
            made = _checked.pop(pipeline)
    return made


def check_stored_types(model_uri: str, user_modules: str, label: str) -> None:
    """Refuse a stored model that is not skops, or whose list of types to rebuild strays
    outside trialflow's libraries and the user's own modules.

    MLflow hands skops the trusted types listed in the artifact's own MLmodel file, so an
    altered file could widen them to anything; the list is checked here first.
    """
    from mlflow.models import Model

    _check_flavor(Model.load(model_uri).flavors.get("sklearn", {}), user_modules, label)


def _check_flavor(flavor: dict, user_modules: str, label: str) -> None:
    if flavor.get("serialization_format") != "skops":
        raise ConfigError(
            f"Model {label} is stored as {flavor.get('serialization_format') or 'unknown'!r}, "
            "not skops; trialflow does not load it, as unpickling can run arbitrary code. "
            "Register it again with trialflow."
        )
    modules = tuple(f"{m}." for m in user_modules.split(",") if m)
    allowed = TRUSTED_MODULES + modules
    listed = flavor.get("skops_trusted_types") or []
    unknown = [t for t in listed if not t.startswith(allowed) and t not in TRUSTED_NAMES]
    if unknown:
        raise ConfigError(
            f"Model {label} asks to rebuild types outside trialflow's trusted libraries: "
            f"{unknown}. It was not written by trialflow or was altered; it is not loaded."
        )
