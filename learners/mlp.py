"""A multi-layer perceptron that trains on the GPU when its trial lands on a GPU worker.

Opt-in: it joins the portfolio when this machine has a GPU or the user names it
(``--learner mlp``); on a CPU-only run it would take trials from the stronger learners.
"""

from __future__ import annotations

from trialflow.learners.space import Choice, Float, Int
from trialflow.learners.spec import LearnerSpec


def _build(task, params, seed, n_jobs):
    from trialflow.gpu.mlp import MLPClassifier, MLPRegressor

    estimator = MLPRegressor if task == "regression" else MLPClassifier
    return estimator(**params, random_state=seed)


def _stop_at(deadline: float) -> dict:
    """An epoch callback that ends a fit once ``deadline`` (perf_counter) has passed."""
    import time

    from trialflow.errors import TrialTimeout

    def stop_when_late(epoch: int) -> None:
        if time.perf_counter() > deadline:
            raise TrialTimeout(f"stopped after epoch {epoch + 1}: out of time")

    return {"callbacks": [stop_when_late]}


MLP = LearnerSpec(
    name="mlp",
    tasks=("binary", "multiclass", "regression"),
    build=_build,
    space={
        "hidden_units": Int(16, 256, log=True),
        "layers": Int(1, 3),
        "learning_rate": Float(1e-4, 1e-2, log=True),
        "alpha": Float(1e-6, 1e-2, log=True),
        "batch_size": Choice((64, 128, 256, 512, 1024, 4096)),
        "epochs": Int(10, 300, log=True),
    },
    defaults={
        "hidden_units": 64,
        "layers": 2,
        "learning_rate": 1e-3,
        "alpha": 1e-4,
        "batch_size": 256,
        "epochs": 100,
    },
    # Early stopping ends most fits well before ``epochs``; 10 epochs without a better
    # validation loss is where it rarely recovers.
    fixed={"patience": 10, "validation_fraction": 0.1},
    categorical_encoding="onehot",
    resource="epochs",
    fit_deadline=_stop_at,
    # A guess (one epoch of 64-unit layers against one LightGBM round, on the CPU) until the
    # knowledge base holds MLP trials.
    relative_cost=5.0,
    wants_gpu=True,
    description="multi-layer perceptron (CuPy on GPU workers, NumPy elsewhere)",
)
