"""Array-module-generic kernels: each runs on the module of the arrays it is given (NumPy or
CuPy) and gives the same result on both, within floating-point tolerance.

The NumPy results are those of the implementations they replace: scikit-learn's
``roc_auc_score`` and ``TargetEncoder``, ``pd.qcut``, ``value_counts(normalize=True)`` and
the greedy ensemble loop of ``trialflow.model.ensemble``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from types import ModuleType

import numpy as np

from trialflow.gpu.arrays import is_device_array, to_host

# Most elements one stacked step of a kernel materialises at once (float64: 512 MB); larger
# stacks are worked through in slices of models so device memory stays bounded.
MAX_STACK_ELEMENTS = 2**26


def module_of(a) -> ModuleType:
    """The array module ``a`` belongs to."""
    if is_device_array(a):
        import cupy

        return cupy
    return np


def rank_sums(positive, scores):
    """Per row of ``scores`` (models × rows), the sum of the average ranks (1-based, ties
    sharing the mean of their ranks) of the rows where ``positive`` is true."""
    xp = module_of(scores)
    m, n = scores.shape
    order = xp.argsort(scores, axis=1)
    ordered = xp.take_along_axis(scores, order, axis=1)
    starts_run = xp.ones((m, n), dtype=bool)
    starts_run[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    # Runs of equal values, numbered across the flattened matrix: a run never crosses rows
    # because every row starts one.
    flags = starts_run.ravel()
    run = xp.cumsum(flags) - 1
    first = xp.flatnonzero(flags)
    after = xp.concatenate([first[1:], xp.asarray([m * n], dtype=first.dtype)])
    average = (first + after - 1) / 2.0 - (first // n) * n + 1.0
    ranks = average[run].reshape(m, n)
    return xp.where(positive[order], ranks, 0.0).sum(axis=1)


def roc_auc_rows(positive, scores):
    """ROC AUC of each row of ``scores`` (models × rows) against the boolean ``positive``;
    both classes must be present and the scores finite."""
    xp = module_of(scores)
    n_positive = int(positive.sum())
    n_negative = positive.shape[0] - n_positive
    u = rank_sums(positive, scores) - n_positive * (n_positive + 1) / 2.0
    return u / xp.asarray(float(n_positive) * float(n_negative))


def roc_auc(positive_mask, score) -> float:
    """ROC AUC from ranks (Mann-Whitney U, ties counted half), as ``roc_auc_score``."""
    xp = module_of(score)
    positive = xp.asarray(positive_mask, dtype=bool)
    scores = xp.asarray(score, dtype=xp.float64).reshape(1, -1)
    return float(to_host(roc_auc_rows(positive, scores))[0])


def quantile_bins(values, n_bins: int = 255):
    """Integer bin codes of ``values`` in up to ``n_bins`` quantile bins, as
    ``pd.qcut(values, n_bins, labels=False, duplicates="drop")``: edges are the percentiles
    of the non-missing values, repeated edges merge, each bin holds (left, right] with the
    lowest value in bin 0. NaN gets code -1 (all -1 when nothing is present)."""
    xp = module_of(values)
    missing = xp.isnan(values)
    present = values[~missing]
    if present.size == 0:
        return xp.full(values.shape, -1, dtype=xp.int64)
    edges = xp.unique(xp.percentile(present, xp.linspace(0, 1, n_bins + 1) * 100.0))
    ids = xp.searchsorted(edges, values, side="left")
    ids[values == edges[0]] = 1
    return xp.where(missing, -1, ids - 1).astype(xp.int64)


def _level_count(codes, n_levels: int | None) -> int:
    if codes.size and int(codes.min()) < 0:
        raise ValueError("Level codes must be 0 or more; got a negative code.")
    return int(n_levels) if n_levels is not None else int(codes.max()) + 1 if codes.size else 0


def frequency_encode(codes, *, n_levels: int | None = None):
    """Each level's share of the rows (``value_counts(normalize=True)`` by code): an array of
    ``n_levels`` (default: the largest code + 1) floats."""
    xp = module_of(codes)
    n_levels = _level_count(codes, n_levels)
    counts = xp.bincount(codes, minlength=n_levels).astype(xp.float64)
    return counts / max(codes.shape[0], 1)


def target_encode(codes, y, *, n_levels: int | None = None, smoothing: float | str = "auto"):
    """Each level's encoding of the numeric target ``y`` and the overall mean, as
    scikit-learn's ``TargetEncoder`` fits them: with ``smoothing="auto"`` the level mean
    shrinks towards the overall mean by the empirical-Bayes weight of Micci-Barreca's eq. 5-6;
    a number ``m`` gives ``(sum + m * mean) / (count + m)``. Levels without rows (in these
    ``codes``) get the overall mean.

    Returns ``(encodings, mean)``: an array of ``n_levels`` floats and a float.
    """
    xp = module_of(codes)
    n_levels = _level_count(codes, n_levels)
    y = y.astype(xp.float64)
    mean = float(y.mean())
    counts = xp.bincount(codes, minlength=n_levels).astype(xp.float64)
    sums = xp.bincount(codes, weights=y, minlength=n_levels)
    if smoothing != "auto":
        smooth = float(smoothing)
        total = counts + smooth
        filled = xp.where(total == 0, 1.0, total)
        return xp.where(total == 0, mean, (sums + smooth * mean) / filled), mean
    seen = counts > 0
    safe = xp.where(seen, counts, 1.0)
    means = sums / safe
    diff = y - means[codes]
    spread = xp.bincount(codes, weights=diff * diff, minlength=n_levels) / safe
    variance = float(y.var())
    denominator = variance * counts + spread
    # Where TargetEncoder's weight is 0/0 (no rows; or a constant target): the mean.
    defined = seen & (denominator > 0)
    weight = variance * counts / xp.where(defined, denominator, 1.0)
    return xp.where(defined, weight * means + (1 - weight) * mean, mean), mean


def target_encode_out_of_fold(
    codes,
    y,
    folds: Sequence[tuple],
    *,
    n_levels: int | None = None,
    smoothing: float | str = "auto",
):
    """Each row's target encoding learnt on the other folds' rows (cross-fitting, as
    ``TargetEncoder.fit_transform``); ``folds`` are (train, test) index arrays whose test
    parts cover every row once."""
    xp = module_of(codes)
    n_levels = _level_count(codes, n_levels)
    out = xp.empty(codes.shape[0], dtype=xp.float64)
    for train, test in folds:
        train, test = xp.asarray(train), xp.asarray(test)
        encodings, _ = target_encode(codes[train], y[train], n_levels=n_levels, smoothing=smoothing)
        out[test] = encodings[codes[test]]
    return out


def greedy_selection(
    predictions,
    *,
    rounds: int,
    loss: Callable[[object], float] | None = None,
    stacked_loss: Callable[[object], object] | None = None,
) -> np.ndarray:
    """Greedy ensemble selection with replacement (Caruana et al., 2004): each round adds the
    model whose blend with those already chosen scores best; returns how often each model is
    chosen in the best round (a NumPy array of counts).

    ``predictions`` holds one prediction per model along its first axis (a sequence, or an
    array of models × rows [× classes]). Give either ``loss``, called on one blend at a time,
    or ``stacked_loss``, called on a stack of blends (models first) and returning one loss
    per blend; lower is better.
    """
    if (loss is None) == (stacked_loss is None):
        raise TypeError("greedy_selection needs exactly one of 'loss' and 'stacked_loss'.")
    n_models = len(predictions)
    xp = module_of(predictions[0])
    counts = np.zeros(n_models)
    total = xp.zeros_like(predictions[0])
    best_loss, best_counts = np.inf, None
    for step in range(1, rounds + 1):
        if stacked_loss is None:
            losses = [loss((total + p) / step) for p in predictions]
        else:
            losses = _stacked_losses(predictions, total, step, stacked_loss)
        pick = int(np.argmin(losses))
        counts[pick] += 1
        total += predictions[pick]
        if losses[pick] < best_loss:
            best_loss, best_counts = losses[pick], counts.copy()
    return best_counts


def _stacked_losses(predictions, total, step: int, stacked_loss) -> np.ndarray:
    xp = module_of(predictions)
    per_model = max(1, int(predictions[0].size))
    width = max(1, MAX_STACK_ELEMENTS // per_model)
    parts = [
        to_host(xp.asarray(stacked_loss((total + predictions[i : i + width]) / step)))
        for i in range(0, len(predictions), width)
    ]
    return np.concatenate(parts).astype(np.float64)
