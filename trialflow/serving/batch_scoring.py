"""Batch scoring of files of any size at constant memory: read a chunk, validate it with the
model's suite, score it, append it to hidden temporary files; rename them into place only
when every chunk is done. A run killed part-way leaves the outputs as they were.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from trialflow.options import CHUNK_ROWS
from trialflow.serving.scoring import check_and_score, check_output_path, quarantine_path


@dataclass
class BatchCounts:
    """What a batch run did: rows read, scored and quarantined, chunks, and each finding
    once (with its rows summed over the chunks)."""

    rows: int = 0
    scored: int = 0
    quarantined: int = 0
    chunks: int = 0
    findings: dict[str, int] = field(default_factory=dict)
    output: str = ""
    quarantine: str = ""

    def summary(self) -> list[str]:
        lines = [
            f"Scored {self.scored:,} of {self.rows:,} rows in {self.chunks} chunk(s); "
            f"quarantined {self.quarantined:,}."
        ]
        lines += [
            f"{text} ({rows:,} rows)" if rows else text for text, rows in self.findings.items()
        ]
        return lines


def read_chunks(source: str, chunk_rows: int = CHUNK_ROWS) -> Iterator[pd.DataFrame]:
    """The table at ``source`` (.csv or .parquet) as frames of at most ``chunk_rows`` rows,
    read the way ``read_table`` reads it (delimiter and encoding, names repaired, nested
    Parquet columns left out)."""
    from trialflow.data.csv_files import csv_layout, repaired_names
    from trialflow.data.tables import _parquet_schema, _reading, check_source

    path = check_source(source)
    with _reading(source, path):
        if path.suffix.lower() == ".csv":
            layout = csv_layout(path, source)
            yield from pd.read_csv(
                path,
                sep=layout.delimiter,
                encoding=layout.encoding,
                header=0,
                names=layout.names,
                chunksize=chunk_rows,
                low_memory=False,
            )
        else:
            import pyarrow.parquet as pq

            schema, nested = _parquet_schema(path, source)
            left_out = {name for name, _ in nested}
            flat = [f.name for f in schema if f.name not in left_out]
            names, _ = repaired_names(flat)
            file = pq.ParquetFile(path)
            for batch in file.iter_batches(batch_size=chunk_rows, columns=flat or None):
                frame = batch.to_pandas()
                if list(frame.columns) != names and len(frame.columns) == len(names):
                    frame.columns = names
                yield frame


def score_file(
    model,
    suite: dict | None,
    source: str,
    output: str,
    *,
    model_version: str,
    chunk_rows: int = CHUNK_ROWS,
    strict: bool = False,
    impute_missing: bool = False,
    quarantine_out_of_range: bool = False,
    on_chunk=None,
    before_commit=None,
) -> BatchCounts:
    """Score ``source`` into ``output`` (and quarantined rows beside it) chunk by chunk.

    Every output row carries ``model_version``; ``row`` numbers input rows from 1 across
    the whole file. ``on_chunk(counts)`` is called after each chunk (progress);
    ``before_commit()`` once every chunk is written, before the files are renamed into place
    (an exception from either discards them).
    """
    target = check_output_path(output)
    quarantine = quarantine_path(target)
    counts = BatchCounts(output=str(target), quarantine=str(quarantine))
    writers = {target: _Appender(target), quarantine: _Appender(quarantine)}
    try:
        for chunk in read_chunks(source, chunk_rows):
            scored = check_and_score(
                model,
                chunk,
                suite,
                source=source,
                strict=strict,
                impute_missing=impute_missing,
                quarantine_out_of_range=quarantine_out_of_range,
            )
            predictions = scored.predictions
            predictions["row"] = predictions["row"] + counts.rows
            predictions.insert(1, "model_version", model_version)
            quarantined = scored.quarantined
            if "row" in quarantined.columns:
                quarantined = quarantined.assign(row=quarantined["row"] + counts.rows)
            writers[target].append(predictions)
            writers[quarantine].append(quarantined)
            counts.rows += len(chunk)
            counts.scored += len(predictions)
            counts.quarantined += len(quarantined)
            counts.chunks += 1
            for f in scored.findings:
                text = f"Column {f.column!r} {f.problem}; {f.action}."
                counts.findings[text] = counts.findings.get(text, 0) + f.rows
            if on_chunk is not None:
                on_chunk(counts)
        for writer in writers.values():
            writer.close()
        if before_commit is not None:
            before_commit()
    except BaseException:
        for writer in writers.values():
            writer.discard()
        raise
    # Renamed together only after every chunk is written.
    for path, writer in writers.items():
        writer.commit(path)
    return counts


class _Appender:
    """Appends frames to a hidden temporary file beside ``target``; ``commit`` renames it."""

    def __init__(self, target: Path):
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
        os.close(fd)
        self.path = Path(name)
        self.parquet = target.suffix.lower() == ".parquet"
        self.writer = None
        self.header = True
        self.columns: list[str] | None = None

    def append(self, frame: pd.DataFrame) -> None:
        if self.columns is None:
            self.columns = list(frame.columns)
        frame = frame.reindex(columns=self.columns)
        if self.parquet:
            # The first non-empty chunk sets the file's schema; an empty one has no types.
            if len(frame):
                self._write_parquet(frame)
        else:
            if len(frame) or self.header:
                frame.to_csv(self.path, mode="a", header=self.header, index=False)
                self.header = False

    def _write_parquet(self, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, table.schema)
        self.writer.write_table(table.cast(self.writer.schema))

    def close(self) -> None:
        if self.parquet and self.writer is None:  # nothing but empty chunks
            pd.DataFrame(columns=self.columns or []).to_parquet(self.path, index=False)
        if self.writer is not None:
            self.writer.close()
            self.writer = None

    def discard(self) -> None:
        self.close()
        self.path.unlink(missing_ok=True)

    def commit(self, target: Path) -> None:
        os.replace(self.path, target)
