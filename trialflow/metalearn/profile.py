"""The data profile: meta-features that say what kind of table this is, in about a second
even on a million rows (column statistics on a sample, landmarkers on a smaller one).

Landmarkers are cheap learners whose scores hint at which expensive ones will do well: a
decision stump (one split), naive Bayes (or a linear model for regression) and 1-nearest
neighbour, each cross-validated on a few hundred rows.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd

STATS_ROWS = 20_000
LANDMARK_ROWS = 600
KINDS = ("numeric", "boolean", "categorical", "high_cardinality", "datetime", "text")
# The order of the profile vector: the recommender relies on it.
FEATURES = (
    "log_rows",
    "log_columns",
    *(f"share_{kind}" for kind in KINDS),
    "missing_share",
    "max_missing_share",
    "log_mean_cardinality",
    "classes",
    "minority_share",
    "target_skew",
    "landmark_stump",
    "landmark_simple",
    "landmark_1nn",
)


def profile_table(
    X: pd.DataFrame, y: np.ndarray, task: str, kinds: dict[str, list[str]], *, seed: int = 0
) -> dict[str, float]:
    """Meta-features of a training table, given its column kinds (a ColumnPlan's kinds)."""
    rng = np.random.default_rng(seed)
    n_rows = len(X)
    sample = _rows(n_rows, STATS_ROWS, rng)
    # Taking every row would copy the whole table (a tenth of a second per 100 MB).
    Xs = X if len(sample) == n_rows else X.iloc[sample]
    ys = np.asarray(y)[sample]
    used = [c for columns in kinds.values() for c in columns if c in X.columns]
    n_used = max(len(used), 1)
    # Over the whole frame, block by block, then the used columns: selecting them first
    # would copy them.
    missing = Xs.isna().mean()[used] if used else pd.Series(dtype=float)
    categorical = [
        c
        for c in kinds.get("categorical", []) + kinds.get("high_cardinality", [])
        if c in X.columns
    ]
    cardinality = [Xs[c].nunique() for c in categorical]
    profile = {
        "log_rows": float(np.log10(max(n_rows, 1))),
        "log_columns": float(np.log10(n_used)),
        **{f"share_{kind}": len(kinds.get(kind, [])) / n_used for kind in KINDS},
        "missing_share": float(missing.mean()) if len(missing) else 0.0,
        "max_missing_share": float(missing.max()) if len(missing) else 0.0,
        "log_mean_cardinality": float(np.log10(np.mean(cardinality))) if cardinality else 0.0,
        **_target_features(ys, task),
    }
    landmark = _rows(len(sample), LANDMARK_ROWS, rng)
    profile |= _landmarkers(Xs.iloc[landmark], ys[landmark], task, kinds, seed)
    return {name: float(profile[name]) for name in FEATURES}


def profile_vector(profile: dict[str, float]) -> np.ndarray:
    return np.array([profile.get(name, 0.0) for name in FEATURES], dtype=np.float64)


def _rows(n: int, limit: int, rng: np.random.Generator) -> np.ndarray:
    return np.arange(n) if n <= limit else np.sort(rng.choice(n, size=limit, replace=False))


def _target_features(y: np.ndarray, task: str) -> dict[str, float]:
    if task == "regression":
        values = pd.Series(y, dtype=float)
        skew = float(values.skew()) if len(values) > 2 else 0.0
        return {
            "classes": 0.0,
            "minority_share": 0.0,
            "target_skew": float(np.clip(np.nan_to_num(skew), -10, 10)),
        }
    counts = pd.Series(y).value_counts(normalize=True)
    return {
        "classes": float(len(counts)),
        "minority_share": float(counts.iloc[-1]),
        "target_skew": 0.0,
    }


def _landmarkers(X: pd.DataFrame, y: np.ndarray, task: str, kinds, seed: int) -> dict:
    """Cross-validated scores of three cheap learners (accuracy, or R² clipped at 0)."""
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score
    from sklearn.naive_bayes import GaussianNB
    from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    matrix = _numeric_matrix(X, kinds)
    if matrix.shape[1] == 0 or len(y) < 20:
        return {"landmark_stump": 0.0, "landmark_simple": 0.0, "landmark_1nn": 0.0}
    matrix = StandardScaler().fit_transform(matrix)
    classify = task != "regression"
    if classify:
        counts = pd.Series(y).value_counts()
        folds = (
            StratifiedKFold(3, shuffle=True, random_state=seed)
            if counts.min() >= 3
            else KFold(3, shuffle=True, random_state=seed)
        )
        learners = {
            "landmark_stump": DecisionTreeClassifier(max_depth=1, random_state=seed),
            "landmark_simple": GaussianNB(),
            "landmark_1nn": KNeighborsClassifier(n_neighbors=1),
        }
        scoring = "accuracy"
    else:
        folds = KFold(3, shuffle=True, random_state=seed)
        learners = {
            "landmark_stump": DecisionTreeRegressor(max_depth=1, random_state=seed),
            "landmark_simple": Ridge(alpha=1.0),
            "landmark_1nn": KNeighborsRegressor(n_neighbors=1),
        }
        scoring = "r2"
    out = {}
    for name, learner in learners.items():
        try:
            score = float(np.mean(cross_val_score(learner, matrix, y, cv=folds, scoring=scoring)))
        except ValueError:
            score = 0.0
        out[name] = max(score, 0.0) if np.isfinite(score) else 0.0
    return out


def _numeric_matrix(X: pd.DataFrame, kinds) -> np.ndarray:
    """Numbers as they are, categories as their codes; missing values as column medians."""
    numbers = [c for c in kinds.get("numeric", []) + kinds.get("boolean", []) if c in X.columns]
    categories = [
        c
        for c in kinds.get("categorical", []) + kinds.get("high_cardinality", [])
        if c in X.columns
    ]
    matrix = np.empty((len(X), len(numbers) + len(categories)))
    # NumPy numbers and flags in one conversion: a column at a time is most of the
    # profile's time on a table of 1,500 columns.
    dtypes = dict(zip(X.columns, X.dtypes, strict=True))
    native = [i for i, c in enumerate(numbers) if _is_native_number(dtypes[c])]
    if native:
        matrix[:, native] = X[[numbers[i] for i in native]].to_numpy(dtype=np.float64)
    for i in sorted(set(range(len(numbers))) - set(native)):
        matrix[:, i] = pd.to_numeric(X[numbers[i]], errors="coerce").astype(float).to_numpy()
    for i, column in enumerate(categories, start=len(numbers)):
        codes = X[column].astype("category").cat.codes.to_numpy()
        matrix[:, i] = np.where(codes >= 0, codes, np.nan)
    matrix[~np.isfinite(matrix)] = np.nan
    # The column medians (NaN where a column has no value), then 0 where still missing.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        medians = np.nanmedian(matrix, axis=0) if len(matrix) else np.full(matrix.shape[1], np.nan)
    matrix = np.where(np.isnan(matrix), medians, matrix)
    matrix[np.isnan(matrix)] = 0.0
    # Column-major, as pandas handed the matrix over: the linear landmarker's sums follow the
    # memory order, and so its score matches earlier runs' to the last digit.
    return np.asfortranarray(matrix)


def _is_native_number(dtype) -> bool:
    """A NumPy integer, float or bool dtype (never pandas' nullable ones)."""
    return isinstance(dtype, np.dtype) and dtype.kind in "biuf"
