"""Target leakage: a single column that alone predicts the target almost perfectly.

Such a column is usually the target under another name, or something recorded after the
outcome (a refund date for churn), and a model that uses it is useless in production. Each
column is scored alone, out of fold so that a many-levelled column cannot score by
memorising: its values are binned (numbers into quantiles, categories as they are), each
bin's mean target is learnt on one half of the rows and scored on the other half, and the
halves swap. A column scoring above the threshold on both halves is leakage.

Columns are scored a batch at a time, every column of a batch in the same array operations,
so a table of 1,500 columns takes about a second rather than a quarter of a minute. On a
wide table the rows are sampled further (the check reads at most ``MAX_CELLS`` values), and
past ``MAX_CELLS / MIN_ROWS`` columns the rest are not checked: the scan says so, and the
guardrails report it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# A column alone scoring above these (AUC for classes, R² for numbers) is leakage.
AUC_LEAK = 0.99
R2_LEAK = 0.99
BINS = 100
# Rows looked at: the check must stay a small part of a run.
SAMPLE_ROWS = 50_000
# Values (rows × columns) looked at in all: about a second on two cores. A wide table gets
# fewer sampled rows, never fewer than MIN_ROWS (a copy of the target scores as high on
# that many rows as on all); a table wider than MAX_CELLS / MIN_ROWS columns is checked on
# its first columns only.
MAX_CELLS = 25_000_000
MIN_ROWS = 2_000
# Values scored in one batch of columns: bounds the arrays held at once (~16 MB each).
BATCH_CELLS = 2_000_000


@dataclass(frozen=True)
class Leak:
    column: str
    score: float
    metric: str

    @property
    def reason(self) -> str:
        return (
            f"target leakage: alone it predicts the target with {self.metric} "
            f"{self.score:.3f} (a copy of the target, or known only after it); "
            "set its type in a featurization plan to keep it"
        )


@dataclass(frozen=True)
class LeakScan:
    """What the leakage check found, and how much of the table it looked at."""

    leaks: list[Leak]
    # Every checked column's score (AUC or R²), in the table's order.
    scores: dict[str, float]
    n_columns: int
    # The first n_checked columns were checked, on n_rows sampled rows.
    n_checked: int
    n_rows: int

    @property
    def unchecked(self) -> dict[str, str]:
        """{"target leakage": what was not checked and why}, empty when nothing was cut."""
        if self.n_checked == self.n_columns:
            return {}
        return {
            "target leakage": f"checked the first {self.n_checked:,} of {self.n_columns:,} "
            f"columns, on {self.n_rows:,} sampled rows; the other "
            f"{self.n_columns - self.n_checked:,} were not checked, which keeps the check to "
            "about a second"
        }


def find_leaks(X: pd.DataFrame, y: np.ndarray, task: str, *, seed: int = 0) -> list[Leak]:
    """Columns of ``X`` that alone predict ``y`` beyond the leakage thresholds."""
    return scan_leaks(X, y, task, seed=seed).leaks


def scan_leaks(
    X: pd.DataFrame, y: np.ndarray, task: str, *, seed: int = 0, columns: list | None = None
) -> LeakScan:
    """Score each column of ``X`` (or of ``columns``, a selection of them; the first ones
    past what fits) alone against ``y``. Selecting by ``columns`` rather than passing a
    narrower frame saves a copy of the table."""
    rng = np.random.default_rng(seed)
    columns = list(X.columns if columns is None else columns)
    n_checked = min(len(columns), max(1, MAX_CELLS // MIN_ROWS))
    limit = min(SAMPLE_ROWS, max(MIN_ROWS, MAX_CELLS // max(n_checked, 1)))
    rows = np.arange(len(y))
    if len(rows) > limit:
        rows = np.sort(rng.choice(rows, limit, replace=False))
    if len(rows) < 20:
        # Too few rows to tell a leak from luck: nothing to check, so nothing was cut.
        return LeakScan([], {}, len(columns), len(columns), len(rows))
    half = rng.permutation(len(rows)) < len(rows) // 2
    target = _target_matrix(np.asarray(y)[rows], task)
    scores: dict[str, float] = {}
    step = max(1, BATCH_CELLS // len(rows))
    for start in range(0, n_checked, step):
        # Rows are taken a batch at a time: taking them from the whole table copies it.
        batch = X[columns[start : min(start + step, n_checked)]]
        batch = batch if len(rows) == len(X) else batch.iloc[rows]
        batch_scores = _batch_scores(batch, target, half, task).tolist()
        scores |= dict(zip(batch.columns, batch_scores, strict=True))
    threshold = R2_LEAK if task == "regression" else AUC_LEAK
    metric = "R²" if task == "regression" else "AUC"
    leaks = [Leak(c, s, metric) for c, s in scores.items() if s > threshold]
    return LeakScan(leaks, scores, len(columns), n_checked, len(rows))


def _batch_scores(batch: pd.DataFrame, target, half, task: str) -> np.ndarray:
    """The out-of-fold score of each column of ``batch`` alone: the worse half's."""
    codes = _codes(batch)
    scores = np.minimum(
        _scores(codes, target, train=half, test=~half, task=task),
        _scores(codes, target, train=~half, test=half, task=task),
    )
    if task == "regression":
        # Bins blur a long tail (house prices); a near-copy of the target is also a
        # straight line in its values or in its ranks.
        numeric = [i for i, dtype in enumerate(batch.dtypes) if _is_number_dtype(dtype)]
        if numeric:
            x = _floats(batch.iloc[:, numeric])
            x[np.isinf(x)] = np.nan
            scores[numeric] = np.maximum(scores[numeric], _linear_r2(x, target[:, 0], half))
    return scores


def _is_number_dtype(dtype) -> bool:
    return pd.api.types.is_numeric_dtype(dtype) and not pd.api.types.is_bool_dtype(dtype)


def _floats(frame: pd.DataFrame) -> np.ndarray:
    """The columns as one float64 array; missing values (NaN, None, pd.NA) as NaN."""
    return frame.to_numpy(dtype=np.float64, na_value=np.nan, copy=True)


def _linear_r2(x: np.ndarray, y: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Out-of-fold R² of a straight line through each column's values, and their ranks
    (0 where a half has under 3 values, or the fitting half one value)."""
    known = ~np.isnan(x)
    usable = np.ones(x.shape[1], dtype=bool)
    for side in (half, ~half):
        usable &= known[side].sum(axis=0) >= 3
        fitting = x[side]
        # fmax/fmin skip missing values; a column with none present compares False.
        usable &= np.fmax.reduce(fitting, axis=0) > np.fmin.reduce(fitting, axis=0)
    ranked_x = pd.DataFrame(x).rank().to_numpy()
    ranked_y = pd.Series(y).rank().to_numpy()
    best = np.maximum(_line_r2(x, y, known, half), _line_r2(ranked_x, ranked_y, known, half))
    return np.where(usable, best, 0.0)


def _line_r2(x: np.ndarray, y: np.ndarray, known: np.ndarray, half: np.ndarray) -> np.ndarray:
    """Per column, the worse of the two halves' R² for a line fitted on the other half.

    Computed from each half's sums (n, Σx, Σx², Σy, Σy², Σxy over the rows where x is
    known), three matrix products over all columns; x and y are centred first so that the
    sums keep their precision.
    """
    present = known.astype(np.float64)
    centre = np.where(known, x, 0.0).sum(axis=0) / np.maximum(present.sum(axis=0), 1)
    x = np.where(known, x - centre, 0.0)
    y = y - y.mean()
    sides = np.stack([half, ~half]).astype(np.float64)
    # einsum rather than BLAS: a multithreaded BLAS on a busy machine waits on its threads
    # for up to 100 times a single thread's time.
    over_present = np.einsum("vr,rk->vk", np.vstack([sides, sides * y, sides * y * y]), present)
    over_x = np.einsum("vr,rk->vk", np.vstack([sides, sides * y]), x)
    over_squares = np.einsum("vr,rk->vk", sides, x * x)
    sums = [
        {
            "n": over_present[i],
            "y": over_present[2 + i],
            "yy": over_present[4 + i],
            "x": over_x[i],
            "xy": over_x[2 + i],
            "xx": over_squares[i],
        }
        for i in (0, 1)
    ]
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.minimum(_fit_r2(sums[0], sums[1]), _fit_r2(sums[1], sums[0]))


def _fit_r2(fit: dict, test: dict) -> np.ndarray:
    """R² on the ``test`` half's sums of the least-squares line of the ``fit`` half's."""
    x_mean, y_mean = fit["x"] / fit["n"], fit["y"] / fit["n"]
    slope = (fit["xy"] - fit["n"] * x_mean * y_mean) / (fit["xx"] - fit["n"] * x_mean**2)
    intercept = y_mean - slope * x_mean
    residual = (
        test["yy"]
        - 2 * intercept * test["y"]
        - 2 * slope * test["xy"]
        + intercept**2 * test["n"]
        + 2 * intercept * slope * test["x"]
        + slope**2 * test["xx"]
    )
    total = test["yy"] - test["y"] ** 2 / test["n"]
    # A target constant on the test half leaves only rounding in ``total``: no score.
    return np.where(total > 1e-12 * test["yy"], 1 - residual / total, 0.0)


def _target_matrix(y: np.ndarray, task: str) -> np.ndarray:
    """Regression: the values as one column; classes: one 0/1 column per class."""
    if task == "regression":
        return y.astype(float).reshape(-1, 1)
    classes = pd.unique(y)
    return np.column_stack([(y == c).astype(float) for c in classes])


def _codes(frame: pd.DataFrame) -> np.ndarray:
    """Integer bin codes of each column (rows × columns), -1 for missing: quantile bins for
    numbers with more than BINS values, each value its own bin otherwise."""
    # Column-major, as pandas holds a table: each column's codes are written in one run.
    codes = np.empty(frame.shape, dtype=np.int64, order="F")
    dtypes = list(frame.dtypes)
    integers = [i for i, dtype in enumerate(dtypes) if _fits_int64(dtype)]
    if integers:
        codes[:, integers] = _integer_codes(frame.iloc[:, integers].to_numpy(dtype=np.int64))
    numeric = [i for i, d in enumerate(dtypes) if _is_number_dtype(d) and not _fits_int64(d)]
    if numeric:
        codes[:, numeric] = _number_codes(_floats(frame.iloc[:, numeric]))
    # A NumPy bool column has no missing values and two values: they are its codes.
    flags = [i for i, dtype in enumerate(dtypes) if dtype == np.bool_]
    if flags:
        codes[:, flags] = frame.iloc[:, flags].to_numpy(dtype=np.int64)
    for i in sorted(set(range(frame.shape[1])) - set(integers) - set(numeric) - set(flags)):
        codes[:, i] = _value_codes(frame.iloc[:, i])
    return codes


def _fits_int64(dtype) -> bool:
    """NumPy integers (never missing) that int64 holds."""
    return isinstance(dtype, np.dtype) and (
        dtype.kind == "i" or (dtype.kind == "u" and dtype.itemsize < 8)
    )


def _integer_codes(x: np.ndarray) -> np.ndarray:
    """Bin codes of integer columns: offsets from the lowest value where the column spans at
    most BINS values (counts, 0/1 flags: most columns of a wide table), no sort needed."""
    low, high = x.min(axis=0), x.max(axis=0)
    # A span past int64's range wraps round to a negative number: not small.
    small = (high - low >= 0) & (high - low < BINS)
    codes = np.empty(x.shape, dtype=np.int64, order="F")
    codes[:, small] = x[:, small] - low[small]
    if not small.all():
        codes[:, ~small] = _number_codes(x[:, ~small].astype(np.float64))
    return codes


def _number_codes(x: np.ndarray) -> np.ndarray:
    """Bin codes of numeric columns; infinite values are missing to the quantile bins but a
    value of their own when each value is a bin (as their text, "inf", would be)."""
    finite = np.where(np.isinf(x), np.nan, x)
    # -0.0 and 0.0 are one number but two texts ("-0.0", "0.0"), and so two categories.
    signed_zero = ((x == 0) & np.signbit(x)).any(axis=0)
    low = np.where(np.isnan(finite), np.inf, finite).min(axis=0)
    high = np.where(np.isnan(finite), -np.inf, finite).max(axis=0)
    whole = ((finite == np.round(finite)) | np.isnan(finite)).all(axis=0)
    # Whole numbers spanning at most BINS values (counts, 0/1 flags: most columns of a wide
    # table) have at most BINS values: their offsets from the lowest are codes, unsorted.
    small = whole & (high - low < BINS) & ~signed_zero
    codes = np.empty(x.shape, dtype=np.int64, order="F")
    if small.any():
        offsets = x[:, small] - low[small]
        offsets[x[:, small] == np.inf] = BINS + 1
        offsets[x[:, small] == -np.inf] = BINS + 2
        codes[:, small] = np.where(np.isnan(offsets), -1, offsets).astype(np.int64)
    rest = np.flatnonzero(~small)
    if len(rest):
        codes[:, rest] = _sorted_codes(x[:, rest], finite[:, rest], signed_zero[rest])
    return codes


def _sorted_codes(x: np.ndarray, finite: np.ndarray, signed_zero: np.ndarray) -> np.ndarray:
    """Bin codes of numeric columns from one sort of each: quantile bins above BINS finite
    values, else each value's rank among the column's values."""
    order = np.argsort(x, axis=0, kind="stable")
    ordered = np.take_along_axis(x, order, axis=0)
    new_value = np.ones(x.shape, dtype=bool)
    new_value[1:] = ordered[1:] != ordered[:-1]
    codes = np.empty(x.shape, dtype=np.int64, order="F")
    np.put_along_axis(codes, order, np.cumsum(new_value, axis=0) - 1, axis=0)
    codes[np.isnan(x)] = -1
    many = (new_value & np.isfinite(ordered)).sum(axis=0) > BINS
    for j in np.flatnonzero(many):
        codes[:, j] = _quantile_codes(finite[:, j])
    for j in np.flatnonzero(~many & signed_zero):
        codes[:, j] = _value_codes(pd.Series(x[:, j]))
    return codes


def _quantile_codes(values: np.ndarray) -> np.ndarray:
    """``pd.qcut(values, BINS, labels=False, duplicates="drop")``, missing as -1, without
    building a Series and Categorical per column (a third of the time on wide tables)."""
    present = values[~np.isnan(values)]
    # As pandas computes the edges: percentiles of the present values, then unique.
    edges = pd.unique(np.percentile(present, np.linspace(0, 1, BINS + 1) * 100.0))
    ids = np.searchsorted(edges, values, side="left")
    ids[values == edges[0]] = 1
    return np.where(np.isnan(values), -1, ids - 1)


def _value_codes(values: pd.Series) -> np.ndarray:
    """Each distinct value (by its text) a code of its own; missing as -1."""
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        # Strings are their own text: factorizing them directly saves a copy per column.
        codes, _ = pd.factorize(values, use_na_sentinel=True)
    else:
        codes, _ = pd.factorize(values.astype(str).where(values.notna()), use_na_sentinel=True)
    return codes.astype(np.int64)


def _scores(codes: np.ndarray, target: np.ndarray, *, train, test, task: str) -> np.ndarray:
    """Each column's test-half score when each of its bins predicts its train-half mean."""
    n_columns, n_bins = codes.shape[1], int(codes.max()) + 2
    # One bin number across the batch: column j's bins are j * n_bins + code + 1 (missing,
    # -1, becomes a bin of its own), so one bincount counts every column's bins.
    bins = codes + 1 + np.arange(n_columns) * n_bins
    learn, score = bins[train].ravel(), bins[test]
    counts = np.bincount(learn, minlength=n_columns * n_bins).reshape(n_columns, n_bins)
    results = []
    for j in range(target.shape[1]):
        sums = np.bincount(
            learn, weights=np.repeat(target[train, j], n_columns), minlength=counts.size
        )
        overall = target[train, j].mean()
        means = np.where(counts > 0, sums.reshape(counts.shape) / np.maximum(counts, 1), overall)
        actual = target[test, j]
        if task == "regression":
            results.append(_r2(actual, means.ravel()[score]))
        elif 0 < actual.sum() < len(actual):
            results.append(_auc(actual, means, score))
    return np.mean(results, axis=0) if results else np.zeros(n_columns)


def _r2(actual: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """R² of each column of ``predicted`` against ``actual``."""
    residual = ((actual[:, None] - predicted) ** 2).sum(axis=0)
    total = ((actual - actual.mean()) ** 2).sum()
    return 1 - residual / total if total > 0 else np.zeros(predicted.shape[1])


def _auc(actual: np.ndarray, means: np.ndarray, score: np.ndarray) -> np.ndarray:
    """ROC AUC of each column's prediction (its bins' means) for the 0/1 ``actual``.

    Counted per bin rather than per row: a positive beats every negative whose bin predicts
    less and ties (half a point) with those whose bin predicts the same, as roc_auc_score
    counts them; a column has at most BINS + 2 bins against thousands of rows.
    """
    n_columns, n_bins = means.shape
    weights = np.broadcast_to(actual[:, None], score.shape).ravel()
    positives = np.bincount(score.ravel(), weights=weights, minlength=means.size)
    negatives = np.bincount(score.ravel(), minlength=means.size) - positives
    order = np.argsort(means, axis=1, kind="stable")
    ordered = np.take_along_axis(means, order, axis=1)
    # Bins predicting the same value form one group; groups numbered 0.. within a column.
    new_value = np.ones(means.shape, dtype=bool)
    new_value[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group = np.cumsum(new_value, axis=1) - 1 + np.arange(n_columns)[:, None] * n_bins
    flat = order + np.arange(n_columns)[:, None] * n_bins
    pos = np.bincount(group.ravel(), weights=positives[flat].ravel(), minlength=means.size)
    neg = np.bincount(group.ravel(), weights=negatives[flat].ravel(), minlength=means.size)
    pos, neg = pos.reshape(means.shape), neg.reshape(means.shape)
    below = np.cumsum(neg, axis=1) - neg
    wins = (pos * (below + 0.5 * neg)).sum(axis=1)
    n_pos = actual.sum()
    return wins / (n_pos * (len(actual) - n_pos))
