"""Reading CSV files as spreadsheets and pandas do: the delimiter sniffed, the text encoding
detected (and said), repeated and blank header names repaired (and said).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trialflow.data.tidy import TidyNote
from trialflow.errors import DataError

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
        refuse_non_tabular(head, source)
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


def csv_delimiter(header_line: str) -> str:
    """The delimiter a CSV header uses: the candidate it holds most of (a comma on ties)."""
    counts = {d: header_line.count(d) for d in CSV_DELIMITERS}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def refuse_non_tabular(head: bytes, source: str) -> None:
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
