import numpy as np
import pytest

from trialflow.model.metrics import METRICS


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


def test_binary_roc_auc_from_ranks_is_scikit_learns():
    import warnings

    import numpy as np
    from hypothesis import given, settings
    from hypothesis import strategies as st
    from sklearn.metrics import roc_auc_score

    from trialflow.model.metrics import binary_roc_auc

    @settings(max_examples=200, deadline=None)
    @given(st.integers(0, 10_000), st.integers(2, 300), st.integers(1, 6))
    def same(seed, n, levels):
        rng = np.random.default_rng(seed)
        positive = rng.random(n) < 0.3
        positive[:2] = [True, False]  # both classes present
        score = rng.integers(0, levels, n) / levels  # few levels: many ties
        assert binary_roc_auc(positive, score) == pytest.approx(
            roc_auc_score(positive, score), abs=1e-12
        )

    same()
    # One class: whatever scikit-learn does (a warning and NaN in recent versions).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        one_class = binary_roc_auc(np.array([True, True]), np.array([0.1, 0.2]))
        expected = roc_auc_score(np.array([True, True]), np.array([0.1, 0.2]))
    assert np.isnan(one_class) == np.isnan(expected)
