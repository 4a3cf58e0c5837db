import pandas as pd
import pytest

from trialflow.errors import ConfigError, DataError
from trialflow.runtime.retry import is_transient
from trialflow.serving.scoring import write_table_atomically


def test_write_atomically_leaves_only_the_finished_file(tmp_path):
    frame = pd.DataFrame({"prediction": [1, 2]})
    path = write_table_atomically(frame, str(tmp_path / "out.csv"))
    assert pd.read_csv(path).equals(frame)
    assert [p.name for p in tmp_path.iterdir()] == ["out.csv"]


def test_failed_write_keeps_the_previous_output(tmp_path):
    (tmp_path / "out.parquet").write_text("previous")

    class Unwritable(pd.DataFrame):
        def to_parquet(self, *args, **kwargs):
            raise OSError("disk full")

    with pytest.raises(OSError):
        write_table_atomically(Unwritable({"a": [1]}), str(tmp_path / "out.parquet"))
    assert (tmp_path / "out.parquet").read_text() == "previous"
    assert [p.name for p in tmp_path.iterdir()] == ["out.parquet"]


def test_output_path_is_checked(tmp_path):
    with pytest.raises(ConfigError, match=".csv or .parquet"):
        write_table_atomically(pd.DataFrame(), str(tmp_path / "out.json"))
    with pytest.raises(ConfigError, match="does not exist"):
        write_table_atomically(pd.DataFrame(), str(tmp_path / "no" / "out.csv"))


def test_only_transient_errors_are_retried():
    assert is_transient(ConnectionError("reset"))
    assert is_transient(TimeoutError())
    assert not is_transient(DataError("bad column"))
    assert not is_transient(ValueError("bug"))
    assert not is_transient(None)


def test_a_failed_prefect_start_is_raised_once_then_retried(monkeypatch):
    """A start that timed out must not poison every later run in the same process."""
    import threading

    from trialflow.runtime import prefect_api

    failed = threading.Thread(target=lambda: None)
    failed.start()
    monkeypatch.setattr(prefect_api, "_started", failed)
    monkeypatch.setattr(prefect_api, "_error", [RuntimeError("Timed out")])
    with pytest.raises(RuntimeError, match="Timed out"):
        prefect_api.wait_until_ready()
    assert prefect_api._started is None and not prefect_api._error
    prefect_api.wait_until_ready()  # nothing left to raise
