"""The data profile: meta-features that say what kind of table this is, in about a second
even on a million rows (column statistics on a sample, landmarkers on a smaller one).

Landmarkers are cheap learners whose scores hint at which expensive ones will do well: a
decision stump (one split), naive Bayes (or a linear model for regression) and 1-nearest
neighbour, each cross-validated on a few hundred rows.
"""

from __future__ import annotations

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
    Xs, ys = X.iloc[sample], np.asarray(y)[sample]
    used = [c for columns in kinds.values() for c in columns if c in X.columns]
    n_used = max(len(used), 1)
    missing = Xs[used].isna().mean() if used else pd.Series(dtype=float)
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
    columns = []
    for column in kinds.get("numeric", []) + kinds.get("boolean", []):
        if column in X.columns:
            columns.append(pd.to_numeric(X[column], errors="coerce").astype(float))
    for column in kinds.get("categorical", []) + kinds.get("high_cardinality", []):
        if column in X.columns:
            codes = X[column].astype("category").cat.codes.astype(float)
            columns.append(codes.where(codes >= 0))
    if not columns:
        return np.empty((len(X), 0))
    frame = pd.concat(columns, axis=1)
    frame = frame.replace([np.inf, -np.inf], np.nan)
    return frame.fillna(frame.median()).fillna(0.0).to_numpy()
