"""Deep feature synthesis over related tables (Featuretools), as one featurizer.

A related table is a lookup table with one row per key that the training table points at by
a foreign key: planes by ``tailnum``, weather by ``[origin, time_hour]``. Deep feature
synthesis brings their columns onto each row (``planes.year``, ``weather.temp``) and, when
``primitives`` names transform primitives, derives features from columns (``MONTH(date)``).

Fitting chooses the features within a size and time budget and keeps their definitions as
Featuretools' JSON text and the related tables as arrays by column: plain data, so a saved
model loads without trusting Featuretools' classes. Featuretools is imported only when used: its
import alone takes seconds.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np
import pandas as pd
from sklearn.utils.validation import check_is_fitted

from trialflow.errors import ConfigError
from trialflow.featurizers.base import Featurizer
from trialflow.featurizers.relational_outputs import (
    as_days,
    as_float,
    as_text,
    output_kind,
    unique_names,
)
from trialflow.featurizers.relational_tables import (
    ROW,
    TARGET,
    as_list,
    check_keys,
    name_links,
    parse_link,
    related_table,
    report_matches,
    table_columns,
    target_frame,
)

logger = logging.getLogger(__name__)

# Rows the calculation is timed on to predict the time on all rows.
SAMPLE_ROWS = 1_000
# The feature matrix is float64: above this many bytes features are dropped before computing.
MAX_MATRIX_BYTES = 2 * 2**30
# As many levels as native-categorical learners handle (HistGradientBoosting bins at most 255).
MAX_CATEGORIES = 250
ENCODINGS = ("native", "onehot", "ordinal")
SETTINGS = ("max_features", "max_seconds", "max_depth", "primitives")


class RelationalFeaturizer(Featurizer):
    """Features from ``related`` tables joined by key, and optional transform primitives.

    ``related``: entries ``{"data": SOURCE, "key": COLUMN or [COLUMNS]}``, with
    ``"foreign_key"`` naming this table's column(s) where they differ from the key's name and
    an optional ``"name"`` (default: the source's file or table name). ``columns``: this
    table's own columns that ``primitives`` may read; its own columns are otherwise left to
    the other featurizers. Output is capped at ``max_features`` and at what computes in about
    ``max_seconds`` on the fitted rows. Numbers and booleans come out as floats, categories
    as pandas categories (``encoding="native"``) or float category codes ("onehot",
    "ordinal"); keys
    missing from a related table give missing values.
    """

    kind = "relational"

    def __init__(
        self,
        columns: tuple[str, ...] = (),
        *,
        related=(),
        max_features: int = 200,
        max_seconds: float = 60.0,
        max_depth: int = 2,
        primitives=(),
        encoding: str = "native",
    ):
        self.columns = columns
        self.related = related
        self.max_features = max_features
        self.max_seconds = max_seconds
        self.max_depth = max_depth
        self.primitives = primitives
        self.encoding = encoding

    def fit(self, X: pd.DataFrame, y=None) -> RelationalFeaturizer:
        self.fit_transform(X, y)
        return self

    def fit_transform(self, X: pd.DataFrame, y=None, **fit_params) -> pd.DataFrame:
        if self.encoding not in ENCODINGS:
            raise ConfigError(
                f"The 'encoding' parameter must be one of {', '.join(ENCODINGS)}; "
                f"got {self.encoding!r}."
            )
        self.links_ = [parse_link(entry, i) for i, entry in enumerate(self.related)]
        name_links(self.links_)
        # Columns as arrays: skops saves arrays but not DataFrames' internals.
        self.tables_ = {link["name"]: table_columns(related_table(link)) for link in self.links_}
        check_keys(X, self.links_)
        for link in self.links_:
            report_matches(X, link, self.tables_[link["name"]][link["index"]])
        entityset = self._entityset(X, logical_types=None)
        self.logical_types_ = _logical_types(entityset)
        features = self._bounded(self._candidates(entityset), entityset, len(X))
        matrix = _feature_matrix(features, entityset, len(X))
        self.features_json_ = _saved(features)
        self._learn_outputs(matrix)
        return self._outputs(matrix, X.index)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "features_json_")
        check_keys(X, self.links_)
        if not self.feature_names_out_:
            return pd.DataFrame(index=X.index)
        ft = _featuretools()

        entityset = self._entityset(X, logical_types=self.logical_types_)
        features = ft.load_features(self.features_json_)
        return self._outputs(_feature_matrix(features, entityset, len(X)), X.index)

    # -- the entity set -------------------------------------------------------------------

    def _entityset(self, X: pd.DataFrame, logical_types: dict | None):
        """This table (its row number, keys and ``columns``) and the related tables."""
        ft = _featuretools()

        types = logical_types or {}
        entityset = ft.EntitySet(id="trialflow")
        rows, row_types = target_frame(X, tuple(self.columns), self.links_)
        with warnings.catch_warnings():
            # Woodwork warns about columns it cannot type; output_kind types the outputs.
            warnings.simplefilter("ignore")
            entityset.add_dataframe(
                dataframe_name=TARGET,
                dataframe=rows,
                index=ROW,
                logical_types=types.get(TARGET, row_types),
            )
            for link in self.links_:
                entityset.add_dataframe(
                    dataframe_name=link["name"],
                    dataframe=pd.DataFrame(self.tables_[link["name"]]),
                    index=link["index"],
                    logical_types=types.get(link["name"], {link["index"]: "Categorical"}),
                )
                entityset.add_relationship(link["name"], link["index"], TARGET, link["child"])
                if logical_types is None:
                    _untyped_as_categories(entityset[link["name"]])
        return entityset

    # -- choosing features ----------------------------------------------------------------

    def _candidates(self, entityset) -> list:
        """DFS features that read a related table (or apply a primitive), in DFS order."""
        ft = _featuretools()
        from featuretools.feature_base import IdentityFeature

        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                features = ft.dfs(
                    entityset=entityset,
                    target_dataframe_name=TARGET,
                    # Aggregations over this table would be computed on each scored batch,
                    # not on the training rows: they would differ between fit and predict.
                    agg_primitives=[],
                    trans_primitives=list(as_list(self.primitives)),
                    groupby_trans_primitives=[],
                    where_primitives=[],
                    max_depth=self.max_depth,
                    ignore_columns={TARGET: sorted({link["child"] for link in self.links_})},
                    features_only=True,
                )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"Deep feature synthesis rejected the settings (primitives="
                f"{list(as_list(self.primitives))}, max_depth={self.max_depth}): {exc}. "
                "Name transform primitives that `featuretools.list_primitives()` lists."
            ) from exc
        kept, left_out = [], []
        for feature in features:
            if isinstance(feature, IdentityFeature) and feature.dataframe_name == TARGET:
                continue  # this table's own columns: the other featurizers handle them
            (kept if _usable(feature) else left_out).append(feature)
        if left_out:
            logger.info(
                "Left out %d deep features that are neither numbers, booleans, categories nor "
                "dates (text, identifiers): %s.",
                len(left_out),
                ", ".join(f.get_name() for f in left_out[:10]),
            )
        return kept

    def _bounded(self, features: list, entityset, n_rows: int) -> list:
        """The first features that fit ``max_features``, memory and ``max_seconds``."""
        features = _first_outputs(features, self.max_features)
        width = _n_outputs(features)
        matrix_bytes = width * n_rows * 8
        logger.info(
            "Deep feature synthesis: %d features × %d rows ≈ %.0f MB.",
            width,
            n_rows,
            matrix_bytes / 2**20,
        )
        if matrix_bytes > MAX_MATRIX_BYTES:
            cap = max(1, MAX_MATRIX_BYTES // (8 * max(n_rows, 1)))
            logger.warning(
                "%d deep features on %d rows would take %.0f MB; keeping the first %d.",
                width,
                n_rows,
                matrix_bytes / 2**20,
                cap,
            )
            features = _first_outputs(features, cap)
        if not features or n_rows <= SAMPLE_ROWS:
            return features
        seconds = _sample_seconds(features, entityset, n_rows)
        predicted = seconds * n_rows / SAMPLE_ROWS
        if predicted <= self.max_seconds:
            return features
        cap = max(1, int(_n_outputs(features) * self.max_seconds / predicted))
        logger.warning(
            "Deep features would take about %.0f s on %d rows (max_seconds=%s); keeping the "
            "first %d.",
            predicted,
            n_rows,
            self.max_seconds,
            cap,
        )
        return _first_outputs(features, cap)

    # -- outputs --------------------------------------------------------------------------

    def _learn_outputs(self, matrix: pd.DataFrame) -> None:
        """How each computed column becomes a feature: its kind and, for categories, levels."""
        self.matrix_columns_ = [str(c) for c in matrix.columns]
        self.feature_names_out_ = unique_names(self.matrix_columns_)
        self.output_kinds_ = {}
        self.categories_ = {}
        for column, name in zip(self.matrix_columns_, self.feature_names_out_, strict=True):
            values = matrix[column]
            kind = output_kind(values)
            self.output_kinds_[name] = kind
            if kind == "category":
                counts = as_text(values).value_counts(dropna=True)
                self.categories_[name] = [str(v) for v in counts.index[:MAX_CATEGORIES]]

    def _outputs(self, matrix: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
        out: dict[str, object] = {}
        for column, name in zip(self.matrix_columns_, self.feature_names_out_, strict=True):
            values = matrix[column]
            kind = self.output_kinds_[name]
            if kind == "number":
                out[name] = as_float(values)
            elif kind == "datetime":
                out[name] = as_days(values)
            else:
                levels = pd.Categorical(as_text(values), categories=self.categories_[name])
                out[name] = (
                    levels
                    if self.encoding == "native"
                    else np.where(levels.codes < 0, np.nan, levels.codes).astype(np.float64)
                )
        return pd.DataFrame(out, index=index, columns=self.feature_names_out_)


def dfs_settings(settings: dict) -> dict:
    """The plan's ``dfs`` settings as RelationalFeaturizer arguments, checked."""
    unknown = sorted(set(settings) - set(SETTINGS))
    if unknown:
        raise ConfigError(
            f"Unknown deep feature synthesis setting(s) {unknown} under 'dfs'; use "
            f"{', '.join(SETTINGS)}."
        )
    checked = dict(settings)
    if "primitives" in checked:
        checked["primitives"] = list(as_list(checked["primitives"]))
    return checked


# -- related tables -------------------------------------------------------------------------


def _untyped_as_categories(table) -> None:
    """Text Woodwork leaves untyped (one value per key: names, models) becomes categories.

    In a lookup table most text values are distinct, so Woodwork would not call them
    categories; joined onto the rows they repeat like any other category.
    """
    untyped = {c: "Categorical" for c, t in table.ww.logical_types.items() if str(t) == "Unknown"}
    if untyped:
        table.ww.set_types(logical_types=untyped)


def _logical_types(entityset) -> dict[str, dict[str, str]]:
    """Each column's Woodwork type by name, so scoring batches are typed as training was.

    Integers and booleans are stored nullable: a scored batch may have gaps training had not.
    """
    nullable = {"Integer": "IntegerNullable", "Boolean": "BooleanNullable"}
    types = {}
    for dataframe in entityset.dataframes:
        names = {c: str(t) for c, t in dataframe.ww.logical_types.items()}
        index = dataframe.ww.index
        types[dataframe.ww.name] = {
            c: t if c == index else nullable.get(t, t) for c, t in names.items()
        }
    return types


# -- features -------------------------------------------------------------------------------


def _usable(feature) -> bool:
    schema = feature.column_schema
    return bool(
        schema.is_numeric or schema.is_boolean or schema.is_categorical or schema.is_datetime
    )


def _n_outputs(features: list) -> int:
    return sum(feature.number_output_features for feature in features)


def _first_outputs(features: list, limit: int) -> list:
    """The leading features whose outputs (columns) number at most ``limit``."""
    kept, width = [], 0
    for feature in features:
        width += feature.number_output_features
        if width > limit:
            break
        kept.append(feature)
    return kept


def _sample_seconds(features: list, entityset, n_rows: int) -> float:
    rows = np.random.default_rng(0).choice(n_rows, size=SAMPLE_ROWS, replace=False)
    started = time.perf_counter()
    _feature_matrix(features, entityset, n_rows, rows=np.sort(rows))
    return time.perf_counter() - started


def _feature_matrix(features: list, entityset, n_rows: int, rows=None) -> pd.DataFrame:
    """The features of ``rows`` (default all), in row order."""
    ft = _featuretools()

    ids = np.arange(n_rows) if rows is None else rows
    if not features:
        return pd.DataFrame(index=ids)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        matrix = ft.calculate_feature_matrix(
            features, entityset=entityset, instance_ids=list(ids), verbose=False
        )
    return matrix.reindex(ids)


def _saved(features: list) -> str:
    """The features' definitions as JSON text ("" for none: Featuretools cannot save none)."""
    ft = _featuretools()

    return ft.save_features(features) if features else ""


# -- output values --------------------------------------------------------------------------


def _featuretools():
    """featuretools, imported on first use (it costs seconds), without the deprecation
    warning its woodwork dependency raises on importing pkg_resources."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import featuretools

    return featuretools
