"""Every GPU-capable kernel against the implementation it replaces: on NumPy always, and on
CuPy where CuPy and a CUDA device exist (skipped otherwise; CI needs no GPU)."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import rankdata
from sklearn.metrics import log_loss, mean_absolute_error, r2_score, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.preprocessing import TargetEncoder

from trialflow.gpu import kernels
from trialflow.gpu.arrays import array_module, gpu_device_count, module_for, to_host
from trialflow.gpu.losses import stacked_loss
from trialflow.model.metrics import METRICS


def _cupy():
    cupy = pytest.importorskip("cupy")
    if gpu_device_count() == 0:
        pytest.skip("CuPy is installed but no CUDA device is visible")
    return cupy


@pytest.fixture(params=["numpy", "cupy"])
def xp(request):
    return np if request.param == "numpy" else _cupy()


def test_the_switch_gives_numpy_without_a_gpu_and_for_small_data():
    assert array_module("cpu") is np
    assert module_for(10) is np
    if gpu_device_count() == 0:
        assert array_module("auto") is np
        with pytest.raises(RuntimeError, match="CuPy"):
            array_module("gpu")
    with pytest.raises(ValueError, match="'device'"):
        array_module("tpu")
    assert isinstance(to_host(np.arange(3)), np.ndarray)


@pytest.mark.parametrize("ties", [False, True])
def test_roc_auc_by_ranks_is_roc_auc_score(xp, ties):
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 5000).astype(bool)
    score = rng.normal(size=5000) + y
    if ties:
        score = np.round(score, 1)
    got = kernels.roc_auc(xp.asarray(y), xp.asarray(score))
    assert got == pytest.approx(roc_auc_score(y, score), abs=1e-12)


@pytest.mark.parametrize("rows", [4, 7])
@pytest.mark.parametrize("scale", [1.0, 1 / 19])  # any scores; probabilities (grouped keys)
def test_rank_sums_average_ties_like_rankdata(xp, rows, scale):
    rng = np.random.default_rng(1)
    scores = rng.integers(0, 20, size=(rows, 300)).astype(float) * scale
    positive = rng.integers(0, 2, 300).astype(bool)
    got = to_host(kernels.rank_sums(xp.asarray(positive), xp.asarray(scores)))
    expected = [rankdata(row)[positive].sum() for row in scores]
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_quantile_bins_are_qcut_codes_with_missing_as_minus_one(xp):
    rng = np.random.default_rng(2)
    values = np.concatenate([rng.lognormal(size=5000), np.round(rng.normal(size=3000)), [np.nan]])
    for n_bins in (10, 255):
        expected = pd.qcut(values, n_bins, labels=False, duplicates="drop")
        expected = np.where(np.isnan(expected), -1, expected).astype(np.int64)
        got = to_host(kernels.quantile_bins(xp.asarray(values), n_bins))
        np.testing.assert_array_equal(got, expected)
    assert (to_host(kernels.quantile_bins(xp.asarray([np.nan, np.nan]))) == -1).all()


def test_quantile_bins_match_the_leakage_checks_codes(xp):
    from trialflow.validation.leakage import BINS, _quantile_codes

    values = np.random.default_rng(3).gamma(2.0, size=4000)
    values[::50] = np.nan
    got = to_host(kernels.quantile_bins(xp.asarray(values), BINS))
    np.testing.assert_array_equal(got, _quantile_codes(values))


def test_frequency_encoding_is_value_counts(xp):
    levels = pd.Series(np.random.default_rng(4).choice(list("abcdefg"), 1000, p=[0.4] + [0.1] * 6))
    codes, uniques = pd.factorize(levels, sort=True)
    got = to_host(kernels.frequency_encode(xp.asarray(codes), n_levels=len(uniques)))
    expected = levels.value_counts(normalize=True)[list(uniques)].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)
    with pytest.raises(ValueError, match="negative"):
        kernels.frequency_encode(xp.asarray([0, -1]))


@pytest.mark.parametrize("smoothing", ["auto", 0.0, 5.0])
def test_target_encoding_is_scikit_learns(xp, smoothing):
    rng = np.random.default_rng(5)
    codes = rng.integers(0, 200, 4000)
    codes[codes == 7] = 8  # a level with no rows gets the mean
    y = rng.normal(size=4000) + codes % 3
    got, mean = kernels.target_encode(
        xp.asarray(codes), xp.asarray(y), n_levels=200, smoothing=smoothing
    )
    encoder = TargetEncoder(target_type="continuous", smooth=smoothing, categories=[np.arange(200)])
    encoder.fit(codes.reshape(-1, 1), y)
    np.testing.assert_allclose(to_host(got), encoder.encodings_[0], rtol=1e-9, atol=1e-12)
    assert mean == pytest.approx(y.mean())
    # A group-by mean when nothing is smoothed.
    if smoothing == 0.0:
        means = pd.Series(y).groupby(codes).mean()
        np.testing.assert_allclose(to_host(got)[means.index], means.to_numpy(), rtol=1e-9)


def test_out_of_fold_target_encoding_is_target_encoders_cross_fit(xp):
    rng = np.random.default_rng(6)
    codes = rng.integers(0, 300, 3000)
    y = (rng.random(3000) < 0.2 + (codes % 5) / 10).astype(int)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    expected = TargetEncoder(cv=folds).fit_transform(codes.reshape(-1, 1), y)[:, 0]
    split = list(folds.split(np.zeros(len(y)), y))
    got = kernels.target_encode_out_of_fold(
        xp.asarray(codes), xp.asarray(y.astype(float)), split, n_levels=300
    )
    np.testing.assert_allclose(to_host(got), expected, rtol=1e-9, atol=1e-12)


def _reference_greedy(predictions, loss, rounds):
    # The loop trialflow.model.ensemble.select_ensemble ran before the kernel, verbatim.
    counts = np.zeros(len(predictions))
    total = np.zeros_like(predictions[0])
    best_loss, best_counts = np.inf, None
    for step in range(1, rounds + 1):
        losses = [loss((total + p) / step) for p in predictions]
        pick = int(np.argmin(losses))
        counts[pick] += 1
        total += predictions[pick]
        if losses[pick] < best_loss:
            best_loss, best_counts = losses[pick], counts.copy()
    return best_counts


def _candidates(task: str, n_models=6, n_rows=800):
    rng = np.random.default_rng(7)
    if task == "regression":
        y = rng.normal(size=n_rows)
        return y, None, [y + rng.normal(scale=0.5 + i / 4, size=n_rows) for i in range(n_models)]
    k = 2 if task == "binary" else 3
    labels = rng.integers(0, k, n_rows)
    classes = [f"c{i}" for i in range(k)]
    predictions = []
    for i in range(n_models):
        logits = rng.normal(scale=1.0 + i / 3, size=(n_rows, k)) + 2.0 * np.eye(k)[labels]
        p = np.exp(logits)
        predictions.append(p / p.sum(axis=1, keepdims=True))
    return np.asarray(classes)[labels], classes, predictions


CASES = [
    ("binary", "roc_auc"),
    ("binary", "log_loss"),
    ("binary", "accuracy"),
    ("multiclass", "log_loss"),
    ("regression", "r2"),
    ("regression", "rmse"),
    ("regression", "mae"),
]


@pytest.mark.parametrize(("task", "metric"), CASES)
def test_stacked_losses_are_the_metrics(xp, task, metric):
    y, classes, predictions = _candidates(task)
    m = METRICS[metric]

    def one(p):
        if p.ndim == 2 and not m.needs_proba:
            p = np.asarray(classes)[p.argmax(axis=1)]
        return m.loss(m.score(y, p, classes))

    stacked = stacked_loss(metric, y, classes, xp)
    got = to_host(stacked(xp.asarray(np.stack(predictions))))
    np.testing.assert_allclose(got, [one(p) for p in predictions], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize(("task", "metric"), CASES)
def test_greedy_selection_is_the_ensembles_loop(xp, task, metric):
    y, classes, predictions = _candidates(task)
    m = METRICS[metric]

    def loss(p):
        if p.ndim == 2 and not m.needs_proba:
            p = np.asarray(classes)[p.argmax(axis=1)]
        return m.loss(m.score(y, p, classes))

    expected = _reference_greedy(predictions, loss, 15)
    np.testing.assert_array_equal(
        kernels.greedy_selection(predictions, rounds=15, loss=loss), expected
    )
    stacked = stacked_loss(metric, y, classes, xp)
    got = kernels.greedy_selection(
        xp.asarray(np.stack(predictions)), rounds=15, stacked_loss=stacked
    )
    np.testing.assert_array_equal(got, expected)


def test_stacked_selection_works_through_slices_of_models(monkeypatch):
    y, classes, predictions = _candidates("binary", n_models=7)
    monkeypatch.setattr(kernels, "MAX_STACK_ELEMENTS", predictions[0].size * 2)
    stacked = stacked_loss("log_loss", y, classes, np)
    whole = kernels.greedy_selection(np.stack(predictions), rounds=10, stacked_loss=stacked)
    reference = _reference_greedy(predictions, lambda p: log_loss(y, p, labels=classes), 10)
    np.testing.assert_array_equal(whole, reference)


def test_unvectorised_metrics_fall_back():
    y, classes, _ = _candidates("multiclass")
    assert stacked_loss("f1", y, classes, np) is None
    assert stacked_loss("roc_auc", y, classes, np) is None  # one-vs-rest over 3 classes
    assert stacked_loss("log_loss", np.array(["unknown"] * len(y)), classes, np) is None


def test_permutation_copies_are_scored_like_one_at_a_time():
    from trialflow.gpu.selection import copy_losses

    y, classes, predictions = _candidates("regression", n_models=4)
    stacked_input = np.concatenate(predictions)
    for metric in ("r2", "mae"):
        m = METRICS[metric]

        def loss(p, rows, m=m):
            return m.loss(m.score(rows, p, None))

        got = copy_losses(stacked_input, 4, y, loss, metric=metric, classes=None)
        np.testing.assert_allclose(got, [loss(p, y) for p in predictions], rtol=1e-9)
    assert mean_absolute_error(y, predictions[0]) == pytest.approx(
        -METRICS["mae"].loss(-mean_absolute_error(y, predictions[0]))
    )
    assert r2_score(y, predictions[0]) == pytest.approx(METRICS["r2"].score(y, predictions[0]))


def test_high_cardinality_featurizer_encodes_as_target_encoder_did():
    from trialflow.featurizers.high_cardinality import MISSING, HighCardinalityFeaturizer

    rng = np.random.default_rng(8)
    frame = pd.DataFrame({"c": rng.choice([f"l{i}" for i in range(150)] + [None], 2000)})
    y = rng.choice(["a", "b", "c"], 2000)
    text = frame.astype(str).where(frame.notna(), MISSING)
    encoder = TargetEncoder(cv=StratifiedKFold(5, shuffle=True, random_state=4))
    expected = encoder.fit_transform(text, y)
    featurizer = HighCardinalityFeaturizer(("c",), seed=4)
    got = featurizer.fit_transform(frame, y)
    assert list(got.columns) == ["c__frequency", "c_a__target", "c_b__target", "c_c__target"]
    np.testing.assert_allclose(got.iloc[:, 1:].to_numpy(), expected, rtol=1e-9)
    unseen = pd.DataFrame({"c": ["never-seen", "l3"]})
    np.testing.assert_allclose(
        featurizer.transform(unseen).iloc[:, 1:].to_numpy(),
        encoder.transform(unseen.astype(str)),
        rtol=1e-9,
    )
    # A featurizer fitted before the kernels (a registered model) still scores as it did.
    legacy = HighCardinalityFeaturizer(("c",), seed=4)
    legacy.frequencies_ = {"c": text["c"].value_counts(normalize=True).to_dict()}
    legacy.encoder_ = encoder
    legacy.feature_names_out_ = list(got.columns)
    pd.testing.assert_frame_equal(legacy.transform(frame), featurizer.transform(frame))


def test_codes_beyond_the_levels_are_refused_before_any_kernel_runs(xp):
    # The device kernels add into each code's slot unchecked: the bounds are checked first.
    with pytest.raises(ValueError, match="not below n_levels=3"):
        kernels.frequency_encode(xp.asarray([0, 1, 3]), n_levels=3)
    with pytest.raises(ValueError, match="not below n_levels=2"):
        kernels.target_encode(xp.asarray([0, 2]), xp.asarray([1.0, 0.0]), n_levels=2)
    assert to_host(kernels.frequency_encode(xp.asarray([], dtype=np.int64), n_levels=2)).shape == (
        2,
    )
