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
# Rows of probabilities sorted together by ``_device_rank_sums`` (two free key bits).
KEYS_PER_SORT = 4


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
    if xp is not np:
        return _device_rank_sums(positive, scores)
    m, n = scores.shape
    order = np.argsort(scores, axis=1)
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


def _device_rank_sums(positive, scores):
    """``rank_sums`` on CuPy: rows sorted by radix sort (CuPy sorts a matrix along an axis by
    comparing (row, value) pairs), then each positive value's average rank is where its run
    of equal values starts and ends in its sorted row, found by binary search.

    Scores in [0, 2) (probabilities) are sorted ``KEYS_PER_SORT`` rows at a time: a
    non-negative float64's bit pattern orders as the value does and leaves the top two bits
    free for the row's number within the group, so one sort of integer keys serves four
    rows exactly (ensemble selection sorts 60 candidate blends a round)."""
    import cupy

    rows = cupy.flatnonzero(positive)
    m, n = scores.shape
    values = scores + 0.0  # contiguous, and -0.0 made +0.0 (its sign bit would sort last)
    if m > 1 and bool(((values >= 0) & (values < 2)).all()):
        keys = values.view(cupy.uint64)
        sums = []
        for g in range(0, m, KEYS_PER_SORT):
            block = keys[g : g + KEYS_PER_SORT]
            k = block.shape[0]
            tags = cupy.arange(k, dtype=cupy.uint64) << cupy.uint64(62)
            tagged = block | tags[:, None]
            ordered = cupy.sort(tagged.ravel())
            queries = tagged[:, rows].ravel()
            first = cupy.searchsorted(ordered, queries, side="left").reshape(k, -1)
            after = cupy.searchsorted(ordered, queries, side="right").reshape(k, -1)
            # Row j's keys follow the j * n keys of the rows before it in the group.
            offset = (cupy.arange(k) * n)[:, None]
            sums.append((first + after + 1 - 2 * offset).sum(axis=1) / 2.0)
        return cupy.concatenate(sums)
    sums = []
    for row in values:
        ordered = cupy.sort(row)
        found = row[rows]
        first = cupy.searchsorted(ordered, found, side="left")
        after = cupy.searchsorted(ordered, found, side="right")
        # 1-based ranks first+1 .. after share their mean, (first + after + 1) / 2.
        sums.append((first + after + 1).sum() / 2.0)
    return cupy.stack(sums)


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
    """``n_levels`` (default: the largest code + 1), once every code is checked to lie in
    [0, n_levels): the device kernels add into their level's slot unchecked."""
    if not codes.size:
        return int(n_levels or 0)
    if int(codes.min()) < 0:
        raise ValueError("Level codes must be 0 or more; got a negative code.")
    largest = int(codes.max())
    if n_levels is not None and largest >= n_levels:
        raise ValueError(f"Level code {largest} is not below n_levels={n_levels}.")
    return int(n_levels) if n_levels is not None else largest + 1


def frequency_encode(codes, *, n_levels: int | None = None):
    """Each level's share of the rows (``value_counts(normalize=True)`` by code): an array of
    ``n_levels`` (default: the largest code + 1) floats."""
    n_levels = _level_count(codes, n_levels)
    counts = _level_sums(codes, None, n_levels)[0]
    return counts / max(codes.shape[0], 1)


def target_encode(codes, y, *, n_levels: int | None = None, smoothing: float | str = "auto"):
    """Each level's encoding of the numeric target ``y`` and the overall mean, as
    scikit-learn's ``TargetEncoder`` fits them: with ``smoothing="auto"`` the level mean
    shrinks towards the overall mean by the empirical-Bayes weight of Micci-Barreca's eq. 5-6;
    a number ``m`` gives ``(sum + m * mean) / (count + m)``. Levels without rows (in these
    ``codes``) get the overall mean.

    Returns ``(encodings, mean)``: an array of ``n_levels`` floats and a float.
    """
    return _target_encode(codes, y, _level_count(codes, n_levels), smoothing)


def _target_encode(codes, y, n_levels: int, smoothing: float | str):
    """``target_encode`` of codes already known to lie in [0, n_levels)."""
    xp = module_of(codes)
    y = y.astype(xp.float64)
    mean = float(y.mean())
    if smoothing != "auto":
        counts, sums = _level_sums(codes, y, n_levels)[:2]
        smooth = float(smoothing)
        total = counts + smooth
        filled = xp.where(total == 0, 1.0, total)
        return xp.where(total == 0, mean, (sums + smooth * mean) / filled), mean
    if xp is np:
        counts, sums = _level_sums(codes, y, n_levels)[:2]
        seen = counts > 0
        safe = np.where(seen, counts, 1.0)
        means = sums / safe
        diff = y - means[codes]
        spread = np.bincount(codes, weights=diff * diff, minlength=n_levels) / safe
        variance = float(y.var())
    else:
        # One pass on the device: counts, sums and sums of squares of the target centred on
        # its mean (centring keeps the squares' difference from cancelling), where NumPy
        # takes a second pass over the rows for the squared deviations, as TargetEncoder does.
        centred = y - mean
        counts, sums, squares = _level_sums(codes, centred, n_levels, squares=True)
        seen = counts > 0
        safe = xp.where(seen, counts, 1.0)
        shift = sums / safe
        means = shift + mean
        spread = xp.maximum(squares / safe - shift * shift, 0.0)
        variance = float((centred * centred).mean())
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
    n_levels = _level_count(codes, n_levels)  # checked once: every fold's codes are a subset
    out = xp.empty(codes.shape[0], dtype=xp.float64)
    for train, test in folds:
        train, test = xp.asarray(train), xp.asarray(test)
        encodings, _ = _target_encode(codes[train], y[train], n_levels, smoothing)
        out[test] = encodings[codes[test]]
    return out


def _level_sums(codes, y, n_levels: int, *, squares: bool = False) -> list:
    """Per level: the row count, and with ``y`` the sum of ``y`` (and of its squares), as
    float64 arrays of ``n_levels``; ``codes`` lie in [0, n_levels)."""
    xp = module_of(codes)
    if xp is np:
        counts = np.bincount(codes, minlength=n_levels).astype(np.float64)
        if y is None:
            return [counts]
        sums = [counts, np.bincount(codes, weights=y, minlength=n_levels)]
        return sums + [np.bincount(codes, weights=y * y, minlength=n_levels)] if squares else sums
    # CuPy's bincount finds the largest code and checks for negative ones (two passes and
    # two waits for the device) on every call; the codes were checked once already.
    out = [xp.zeros(n_levels, dtype=xp.float64) for _ in range(1 + (y is not None) + squares)]
    if y is None:
        _device_kernels()["count"](codes, out[0])
    elif squares:
        _device_kernels()["count_sum_squares"](codes, y, *out)
    else:
        _device_kernels()["count_sum"](codes, y, *out)
    return out


_DEVICE_KERNELS: dict = {}


def _device_kernels() -> dict:
    """CuPy element-wise kernels adding each row into its level's totals (compiled once)."""
    if not _DEVICE_KERNELS:
        import cupy

        add = "atomicAdd(&count[c], 1.0);"
        add_y = add + " atomicAdd(&total[c], (double)y);"
        _DEVICE_KERNELS["count"] = cupy.ElementwiseKernel(
            "S c", "raw float64 count", add, "trialflow_level_count"
        )
        _DEVICE_KERNELS["count_sum"] = cupy.ElementwiseKernel(
            "S c, T y", "raw float64 count, raw float64 total", add_y, "trialflow_level_sum"
        )
        _DEVICE_KERNELS["count_sum_squares"] = cupy.ElementwiseKernel(
            "S c, T y",
            "raw float64 count, raw float64 total, raw float64 squares",
            add_y + " atomicAdd(&squares[c], (double)y * (double)y);",
            "trialflow_level_sum_squares",
        )
    return _DEVICE_KERNELS


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
