"""The tables a relational featurizer joins: each link (a related table and the keys that
join it) read and checked, the keys made comparable text, and how many rows match said.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from trialflow.errors import ConfigError, DataError

logger = logging.getLogger(__name__)

# Names inside the entity set; the dataframe names appear in feature names (planes.year).
TARGET = "rows"

ROW = "__row__"

KEY_PREFIX = "__key__"

KEY_SEPARATOR = "|"


def parse_link(entry, position: int) -> dict:
    """One related-table entry as plain data: its source, key columns and this table's."""
    if not isinstance(entry, dict) or not entry.get("data") or not entry.get("key"):
        raise ConfigError(
            f"Related table entry {position + 1} needs 'data' (a table) and 'key' (its key "
            f"column or columns); got {entry!r}."
        )
    key = [str(c) for c in as_list(entry["key"])]
    foreign_key = [str(c) for c in as_list(entry.get("foreign_key") or key)]
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


def name_links(links: list[dict]) -> None:
    """Unique dataframe names, and the key column each table is joined on."""
    from trialflow.data.tables import source_stem

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


def related_table(link: dict) -> pd.DataFrame:
    """The related table with one row per key, keyed by text so both sides match."""
    from trialflow.data.tables import read_table

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
    key = key_text(table, link["key"])
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


def table_columns(table: pd.DataFrame) -> dict[str, np.ndarray]:
    return {str(c): table[c].to_numpy() for c in table.columns}


def check_keys(X: pd.DataFrame, links: list[dict]) -> None:
    for link in links:
        missing = [c for c in link["foreign_key"] if c not in X.columns]
        if missing:
            raise DataError(
                f"The input lacks column(s) {missing}, the key of related table "
                f"{link['name']!r}. Add them (values may be empty) and try again."
            )


def report_matches(X: pd.DataFrame, link: dict, keys: np.ndarray) -> None:
    """Say how many rows find their key in the related table; none usually means the keys
    are written differently on the two sides (``1`` and ``A1``, two date formats)."""
    wanted = key_text(X, link["foreign_key"])
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


def target_frame(X: pd.DataFrame, columns: tuple[str, ...], links: list[dict]):
    """This table as DFS sees it, and the logical types its key columns must have."""
    own = [c for c in columns if c in X.columns]
    rows = X[own].reset_index(drop=True).copy()
    rows[ROW] = np.arange(len(X))
    types = {}
    for link in links:
        rows[link["child"]] = key_text(X, link["foreign_key"]).to_numpy()
        types[link["child"]] = "Categorical"
    return rows, types


def key_text(frame: pd.DataFrame, columns: list[str]) -> pd.Series:
    """Key values as text (numbers without a spurious ``.0``), parts joined; missing if any
    part is missing."""
    parts = [value_text(frame[c]) for c in columns]
    key = parts[0]
    for part in parts[1:]:
        key = key + KEY_SEPARATOR + part
    return key


def value_text(values: pd.Series) -> pd.Series:
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        numbers = pd.to_numeric(values, errors="coerce").astype(np.float64)
        whole = numbers.notna() & (numbers % 1 == 0)
        text = numbers.astype(str)
        text[whole] = numbers[whole].astype(np.int64).astype(str)
        return text.where(numbers.notna())
    return values.astype(str).where(values.notna())


def as_list(value) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    return list(value)
