import numpy as np
import pytest

from trialflow.metrics import METRICS


def test_scores_and_direction():
    y = np.array(["a", "b", "b", "a"])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.4, 0.6], [0.7, 0.3]])
    assert METRICS["roc_auc"].score(y, proba, ["a", "b"]) == 1.0
    assert METRICS["log_loss"].score(y, proba, ["a", "b"]) < 0.5
    assert METRICS["accuracy"].score(y, np.array(["a", "b", "a", "a"]), ["a", "b"]) == 0.75
    assert METRICS["rmse"].score(np.array([1.0, 3.0]), np.array([2.0, 2.0])) == 1.0
    assert METRICS["mae"].loss(2.0) == 2.0
    assert METRICS["r2"].loss(0.9) == -0.9


def test_multiclass_auc_and_f1():
    y = np.array(["a", "b", "c", "a"])
    proba = np.eye(3)[[0, 1, 2, 0]]
    assert METRICS["roc_auc"].score(y, proba, ["a", "b", "c"]) == pytest.approx(1.0)
    assert METRICS["f1"].score(y, y, ["a", "b", "c"]) == 1.0
