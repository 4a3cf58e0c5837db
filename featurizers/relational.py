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

from trialflow.errors import ConfigError, DataError
from trialflow.featurizers.base import Featurizer

logger = logging.getLogger(__name__)

# Names inside the entity set; the dataframe names appear in feature names (planes.year).
TARGET = "rows"
ROW = "__row__"
KEY_PREFIX = "__key__"
KEY_SEPARATOR = "|"
# Rows the calculation is timed on to predict the time on all rows.
SAMPLE_ROWS = 1_000
# The feature matrix is float64: above this many bytes features are dropped before computing.
MAX_MATRIX_BYTES = 2 * 2**30
# As many levels as native-categorical learners handle (HistGradientBoosting bins at most 255).
MAX_CATEGORIES = 250
ENCODINGS = ("native", "onehot")
SETTINGS = ("max_features", "max_seconds", "max_depth", "primitives")


class RelationalFeaturizer(Featurizer):
    """Features from ``related`` tables joined by key, and optional transform primitives.

    ``related``: entries ``{"data": SOURCE, "key": COLUMN or [COLUMNS]}``, with
    ``"foreign_key"`` naming this table's column(s) where they differ from the key's name and
    an optional ``"name"`` (default: the source's file or table name). ``columns``: this
    table's own columns that ``primitives`` may read; its own columns are otherwise left to
    the other featurizers. Output is capped at ``max_features`` and at what computes in about
    ``max_seconds`` on the fitted rows. Numbers and booleans come out as floats, categories
    as pandas categories (``encoding="native"``) or float category codes ("onehot"); keys
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
                f"The 'encoding' parameter must be 'native' or 'onehot'; got {self.encoding!r}."
            )
        self.links_ = [_link(entry, i) for i, entry in enumerate(self.related)]
        _name_links(self.links_)
        # Columns as arrays: skops saves arrays but not DataFrames' internals.
        self.tables_ = {link["name"]: _columns(_related_table(link)) for link in self.links_}
        _check_keys(X, self.links_)
        for link in self.links_:
            _report_matches(X, link, self.tables_[link["name"]][link["index"]])
        entityset = self._entityset(X, logical_types=None)
        self.logical_types_ = _logical_types(entityset)
        features = self._bounded(self._candidates(entityset), entityset, len(X))
        matrix = _feature_matrix(features, entityset, len(X))
        self.features_json_ = _saved(features)
        self._learn_outputs(matrix)
        return self._outputs(matrix, X.index)

    def transform(self, X: pd.DataFrame) -> pd.DataFrame:
        check_is_fitted(self, "features_json_")
        _check_keys(X, self.links_)
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
        rows, row_types = _target_frame(X, tuple(self.columns), self.links_)
        with warnings.catch_warnings():
            # Woodwork warns about columns it cannot type; _output_kind types the outputs.
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
                    trans_primitives=list(_as_list(self.primitives)),
                    groupby_trans_primitives=[],
                    where_primitives=[],
                    max_depth=self.max_depth,
                    ignore_columns={TARGET: sorted({link["child"] for link in self.links_})},
                    features_only=True,
                )
        except (ValueError, KeyError, TypeError) as exc:
            raise ConfigError(
                f"Deep feature synthesis rejected the settings (primitives="
                f"{list(_as_list(self.primitives))}, max_depth={self.max_depth}): {exc}. "
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
        self.feature_names_out_ = _unique(self.matrix_columns_)
        self.output_kinds_ = {}
        self.categories_ = {}
        for column, name in zip(self.matrix_columns_, self.feature_names_out_, strict=True):
            values = matrix[column]
            kind = _output_kind(values)
            self.output_kinds_[name] = kind
            if kind == "category":
                counts = _as_text(values).value_counts(dropna=True)
                self.categories_[name] = [str(v) for v in counts.index[:MAX_CATEGORIES]]

    def _outputs(self, matrix: pd.DataFrame, index: pd.Index) -> pd.DataFrame:
        out: dict[str, object] = {}
        for column, name in zip(self.matrix_columns_, self.feature_names_out_, strict=True):
            values = matrix[column]
            kind = self.output_kinds_[name]
            if kind == "number":
                out[name] = _as_float(values)
            elif kind == "datetime":
                out[name] = _as_days(values)
            else:
                levels = pd.Categorical(_as_text(values), categories=self.categories_[name])
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
        checked["primitives"] = list(_as_list(checked["primitives"]))
    return checked


# -- related tables -------------------------------------------------------------------------


def _link(entry, position: int) -> dict:
    """One related-table entry as plain data: its source, key columns and this table's."""
    if not isinstance(entry, dict) or not entry.get("data") or not entry.get("key"):
        raise ConfigError(
            f"Related table entry {position + 1} needs 'data' (a table) and 'key' (its key "
            f"column or columns); got {entry!r}."
        )
    key = [str(c) for c in _as_list(entry["key"])]
    foreign_key = [str(c) for c in _as_list(entry.get("foreign_key") or key)]
    if len(foreign_key) != len(key):
        raise ConfigError(
            f"Related table {entry['data']!r}: 'foreign_key' {foreign_key} must name as many "
            f"columns as 'key' {key}."
        )
    return {
        "source": str(entry["data"]),
        "name": str(entry.get("name") or ""),
        "key": key,
        "foreign_key": foreign_key,
    }


def _name_links(links: list[dict]) -> None:
    """Unique dataframe names, and the key column each table is joined on."""
    from trialflow.data import source_stem

    taken = {TARGET}
    for link in links:
        base = link["name"] or source_stem(link["source"])
        name, n = base, 1
        while name in taken:
            n += 1
            name = f"{base}_{n}"
        taken.add(name)
        link["name"] = name
        composite = len(link["key"]) > 1
        # A composite key becomes one built column on both sides.
        link["index"] = f"{KEY_PREFIX}{name}" if composite else link["key"][0]
        link["child"] = f"{KEY_PREFIX}{name}" if composite else link["foreign_key"][0]


def _related_table(link: dict) -> pd.DataFrame:
    """The related table with one row per key, keyed by text so both sides match."""
    from trialflow.data import read_table

    name, source = link["name"], link["source"]
    try:
        table = read_table(source)
    except DataError as exc:
        raise ConfigError(
            f"Related table {name!r} could not be read: {exc} Fix its 'data' under 'related' "
            "in the featurization plan."
        ) from exc
    missing = [c for c in link["key"] if c not in table.columns]
    if missing:
        raise ConfigError(
            f"Related table {name!r} ({source}) has no key column(s) {missing}; its columns "
            f"are {list(table.columns)}. Set 'key' of its entry under 'related' to its key "
            "column(s)."
        )
    key = _key_text(table, link["key"])
    if len(link["key"]) > 1:
        # The key's parts are this table's columns too: only the built key is kept.
        table = table.drop(columns=link["key"])
    table = table.assign(**{link["index"]: key})
    unkeyed = int(key.isna().sum())
    if unkeyed:
        logger.warning("Related table %r: left out %d rows with no key.", name, unkeyed)
        table = table[key.notna()]
    repeated = table[link["index"]].duplicated()
    if repeated.any():
        logger.warning(
            "Related table %r has %d rows whose key %s repeats an earlier row's; kept the "
            "first row of each key.",
            name,
            int(repeated.sum()),
            link["key"],
        )
        table = table[~repeated]
    return table.reset_index(drop=True)


def _columns(table: pd.DataFrame) -> dict[str, np.ndarray]:
    return {str(c): table[c].to_numpy() for c in table.columns}


def _check_keys(X: pd.DataFrame, links: list[dict]) -> None:
    for link in links:
        missing = [c for c in link["foreign_key"] if c not in X.columns]
        if missing:
            raise DataError(
                f"The input lacks column(s) {missing}, the key of related table "
                f"{link['name']!r}. Add them (values may be empty) and try again."
            )


def _report_matches(X: pd.DataFrame, link: dict, keys: np.ndarray) -> None:
    """Say how many rows find their key in the related table; none usually means the keys
    are written differently on the two sides (``1`` and ``A1``, two date formats)."""
    wanted = _key_text(X, link["foreign_key"])
    found = int(wanted.isin(set(keys)).sum())
    if found == 0 and wanted.notna().any():
        logger.warning(
            "No row's %s is a %s of related table %r: its features will all be missing. "
            "Check that both sides write the key the same way (e.g. %r here, %r there).",
            link["foreign_key"],
            link["key"],
            link["name"],
            wanted.dropna().iloc[0],
            keys[0] if len(keys) else None,
        )
    else:
        logger.info("Related table %r: %d of %d rows find their key.", link["name"], found, len(X))


def _target_frame(X: pd.DataFrame, columns: tuple[str, ...], links: list[dict]):
    """This table as DFS sees it, and the logical types its key columns must have."""
    own = [c for c in columns if c in X.columns]
    rows = X[own].reset_index(drop=True).copy()
    rows[ROW] = np.arange(len(X))
    types = {}
    for link in links:
        rows[link["child"]] = _key_text(X, link["foreign_key"]).to_numpy()
        types[link["child"]] = "Categorical"
    return rows, types


def _key_text(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Key values as text (numbers without a spurious ``.0``), parts joined; missing if any
    part is missing."""
    parts = [_value_text(frame[c]) for c in columns]
    key = parts[0]
    for part in parts[1:]:
        key = key + KEY_SEPARATOR + part
    return key


def _value_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
        whole = numbers.notna() & (numbers % 1 == 0)
        text = numbers.astype(str)
        text[whole] = numbers[whole].astype(np.int64).astype(str)
        return text.where(numbers.notna())
    return values.astype(str).where(values.notna())


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


def _output_kind(values: pd.Series) -> str:
    if pd.api.types.is_bool_dtype(values) or pd.api.types.is_numeric_dtype(values):
        return "number"
    if isinstance(values.dtype, pd.CategoricalDtype) and pd.api.types.is_numeric_dtype(
        values.cat.categories
    ):
        return "number"  # ordered numbers such as MONTH(date): their order is what counts
    if pd.api.types.is_datetime64_any_dtype(values):
        return "datetime"
    return "category"


def _as_float(values: pd.Series) -> np.ndarray:
    if isinstance(values.dtype, pd.CategoricalDtype):
        values = values.astype(object)
    numbers = pd.to_numeric(values, errors="coerce")
    numbers = numbers.to_numpy(dtype=np.float64, na_value=np.nan)
    # Infinities carry no order a model can use; treat them as missing.
    return np.where(np.isfinite(numbers), numbers, np.nan)


def _as_days(values: pd.Series) -> np.ndarray:
    """Dates as days since 1970-01-01."""
    stamps = pd.to_datetime(values, errors="coerce", utc=True)
    return ((stamps - pd.Timestamp(0, tz="UTC")) / pd.Timedelta(days=1)).to_numpy(
        dtype=np.float64, na_value=np.nan
    )


def _as_text(values: pd.Series) -> pd.Series:
    return values.astype(object).astype(str).where(values.notna())


def _unique(names: list[str]) -> list[str]:
    seen: set[str] = set()
    out = []
    for name in names:
        unique, n = name, 1
        while unique in seen:
            n += 1
            unique = f"{name}__{n}"
        seen.add(unique)
        out.append(unique)
    return out


def _as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)


def _featuretools():
    """featuretools, imported on first use (it costs seconds), without the deprecation
    warning its woodwork dependency raises on importing pkg_resources."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import featuretools

    return featuretools
