"""Property-based tests of the bad-input contract: every malformed input ends in a DataError
(or ConfigError) whose message names the file, column or value, never in another exception.

Four sides: training tables (loading, planning and featurizing random malformed frames),
scoring batches (random corruptions of a valid batch checked against a learned expectation
suite), files (random bytes and text read as a CSV), and `trialflow features` on malformed
CSV files (exit code and message). Bugs the properties found are kept as tests with their
minimal input.
"""

from __future__ import annotations

import contextlib
import functools
import io
import itertools
import re

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, currently_in_test_context, given, note, settings
from hypothesis import event as _event
from hypothesis import strategies as st

from trialflow.cli.main import main
from trialflow.config import TrainConfig
from trialflow.data.loading import load_training_table
from trialflow.data.tables import read_table
from trialflow.errors import ConfigError, DataError
from trialflow.features.plan_file import plan_for
from trialflow.featurizers import TableFeaturizer, plan_columns
from trialflow.validation.batch_checks import check_batch
from trialflow.validation.expectation_suite import learn_suite, suite_columns

# Great Expectations calls cost ~50-200 ms each: few examples, no per-example deadline, and
# no example database (its .hypothesis folder would land in the work tree).
PROPERTY = settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)


def event(value: str) -> None:
    """Hypothesis' event (shown with --hypothesis-show-statistics), also callable from the
    example-based tests."""
    if currently_in_test_context():
        _event(value)


# ---------------------------------------------------------------------------------------
# 1. Training: random small frames with malformed traits mixed in.
# ---------------------------------------------------------------------------------------

NAMES = [
    "a",
    "b",
    "x1",
    "price",
    "Größe",
    "日付",
    "col with space",
    " padded ",
    "🙂 emoji",
    "target",
    "y",
    "0",
]
BLANK_NAMES = ["", " ", "\t", "Unnamed: 0"]
FEATURE_TRAITS = [
    "float",
    "float_nan",
    "int",
    "category",
    "bool",
    "yes_no",
    "mixed_types",
    "thousands",
    "infinities",
    "all_null",
    "all_none",
    "dates_iso",
    "dates_mixed",
    "datetime64",
    "text",
    "constant",
    "identifier",
    "huge_ints",
    "unicode",
    "dates_utc_offsets",
    "nested",
]
TARGET_TRAITS = [
    "binary_str",
    "binary_int",
    "bool",
    "multiclass",
    "regression",
    "single_class",
    "one_row_class",
    "all_null",
    "partial_null",
    "mixed_types",
    "regression_inf",
    "numbers_as_text",
]
DATE_FORMATS = ["%Y-%m-%d", "%d/%m/%Y", "%b %d, %Y", "%Y-%m-%dT%H:%M:%S", "%Y%m%d", "%m-%d-%Y"]
WORDS = ["the", "quick", "brown", "fox", "jumps", "over", "lazy", "dog", "naïve", "café"]


def _feature(trait: str, n: int, rng: np.random.Generator) -> list | np.ndarray | pd.Series:
    if trait == "float":
        return rng.normal(size=n)
    if trait == "float_nan":
        return np.where(rng.random(n) < 0.3, np.nan, rng.normal(size=n))
    if trait == "int":
        return rng.integers(0, 6, size=n)
    if trait == "category":
        return rng.choice(["red", "green", "blue"], size=n).astype(object)
    if trait == "bool":
        return rng.random(n) < 0.5
    if trait == "yes_no":
        return rng.choice(["yes", "no", "Yes", " no "], size=n).astype(object)
    if trait == "mixed_types":  # Python ints and strings in one column
        return [int(v) if rng.random() < 0.5 else str(v) for v in rng.integers(0, 4, size=n)]
    if trait == "thousands":  # numbers as text, some with thousands separators
        pool = ["1,234", "12,345.5", "-2,000", "7", " 3.5 ", "n/a", "?", "1,000,000"]
        return rng.choice(pool, size=n).astype(object)
    if trait == "infinities":
        values = rng.normal(size=n)
        values[rng.random(n) < 0.3] = np.inf
        values[rng.random(n) < 0.2] = -np.inf
        return values
    if trait == "all_null":
        return np.full(n, np.nan)
    if trait == "all_none":
        return [None] * n
    if trait in ("dates_iso", "dates_mixed", "datetime64"):
        days = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
        if trait == "datetime64":
            return pd.Series(days).where(rng.random(n) > 0.2)
        formats = DATE_FORMATS if trait == "dates_mixed" else DATE_FORMATS[:1]
        return [d.strftime(formats[int(rng.integers(len(formats)))]) for d in days]
    if trait == "text":
        return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 8)))) for _ in range(n)]
    if trait == "constant":
        return ["same"] * n
    if trait == "identifier":
        return [f"ID-{i:05d}" for i in rng.permutation(n)]
    if trait == "huge_ints":  # beyond int64: an object column of Python ints
        return [10**30 + int(v) for v in rng.integers(0, 5, size=n)]
    if trait == "unicode":
        return rng.choice(["ümlaut", "日本", "🙂", "", " "], size=n).astype(object)
    if trait == "dates_utc_offsets":  # ISO 8601 times written in several time zones
        offsets = rng.choice(["+01:00", "-05:00", "Z"], size=n)
        return [f"2024-03-{1 + i % 28:02d}T08:30:00{o}" for i, o in enumerate(offsets)]
    if trait == "nested":  # lists in cells, as from JSON
        return [[int(v), 1] for v in rng.integers(0, 4, size=n)]
    raise AssertionError(trait)


def _target(trait: str, n: int, rng: np.random.Generator) -> list | np.ndarray:
    if trait == "binary_str":
        return rng.choice(["yes", "no"], size=n).astype(object)
    if trait == "binary_int":
        return rng.integers(0, 2, size=n)
    if trait == "bool":
        return rng.random(n) < 0.5
    if trait == "multiclass":
        return rng.choice(["low", "mid", "high"], size=n).astype(object)
    if trait == "regression":
        return rng.normal(size=n) * 100
    if trait == "single_class":
        return ["yes"] * n
    if trait == "one_row_class":
        values = rng.integers(0, 2, size=n).astype(object)
        if n:
            values[int(rng.integers(n))] = "rare"
        return values
    if trait == "all_null":
        return np.full(n, np.nan)
    if trait == "partial_null":
        return [None if rng.random() < 0.3 else v for v in rng.choice(["a", "b"], size=n)]
    if trait == "mixed_types":
        return [int(v) if rng.random() < 0.5 else str(v) for v in rng.integers(0, 3, size=n)]
    if trait == "regression_inf":
        values = rng.normal(size=n) * 100
        values[rng.random(n) < 0.1] = np.inf
        return values
    if trait == "numbers_as_text":
        return [f"{v:.2f}" for v in rng.normal(size=n)]
    raise AssertionError(trait)


# Targets a table can train on: with 40+ rows, loading must succeed.
TRAINABLE_TARGETS = [
    "binary_str",
    "binary_int",
    "bool",
    "multiclass",
    "regression",
    "partial_null",
    "one_row_class",
]


@st.composite
def training_frames(draw, *, trainable: bool = False):
    """A small frame, its target name, and the traits it was built from. ``trainable``:
    the header and target are sound (the feature columns may still be anything)."""
    if trainable:
        n_rows = draw(st.sampled_from([40, 60, 50]))
        header = draw(st.sampled_from(["ok", "ok", "int_name"]))
        target_trait = draw(st.sampled_from(TRAINABLE_TARGETS))
    else:
        n_rows = draw(st.sampled_from([20, 25, 40, 60, 30, 0, 1, 5, 19, 21, 50]))
        header = draw(st.sampled_from(["ok"] * 6 + ["blank", "duplicate", "int_name"]))
        target_trait = draw(st.sampled_from(TARGET_TRAITS))
    n_cols = draw(st.integers(2 if trainable else 1, 6))
    names = draw(st.lists(st.sampled_from(NAMES), min_size=n_cols, max_size=n_cols, unique=True))
    names = list(names)
    if header == "blank":
        names[draw(st.integers(0, n_cols - 1))] = draw(st.sampled_from(BLANK_NAMES))
    elif header == "duplicate" and n_cols > 1:
        names[-1] = names[0]
    elif header == "int_name":
        names[-1] = 7  # a name that is not a string, as pandas makes for unnamed arrays
    # == n_cols: the target is not a column.
    position = draw(st.integers(0, n_cols - 1 if trainable else n_cols))
    target = str(names[position]) if position < n_cols else "not_a_column"
    traits = draw(st.lists(st.sampled_from(FEATURE_TRAITS), min_size=n_cols, max_size=n_cols))
    nan_everywhere = not trainable and draw(st.integers(0, 9)) == 0
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    columns = [
        _target(target_trait, n_rows, rng) if i == position else _feature(t, n_rows, rng)
        for i, t in enumerate(traits)
    ]
    if n_rows:
        data = {i: pd.Series(list(values), dtype=object) for i, values in enumerate(columns)}
        frame = pd.DataFrame(data).infer_objects()
    else:
        frame = pd.DataFrame(columns=range(n_cols))
    frame.columns = names  # may repeat a name
    if nan_everywhere:
        frame = frame.map(lambda _: np.nan).astype(float)
    event(f"header: {header}")
    description = {
        "n_rows": n_rows,
        "names": names,
        "target": target,
        "target_trait": target_trait if position < n_cols else None,
        "traits": [t for i, t in enumerate(traits) if i != position],
        "nan_everywhere": nan_everywhere,
    }
    return frame, target, description


def _expected_first_error(frame: pd.DataFrame, target: str) -> str | None:
    """The error the checks that need no model must report first, as a regex (or None)."""
    names = [str(c) for c in frame.columns]
    blank = [
        i + 1 for i, c in enumerate(names) if not c.strip() or re.fullmatch(r"Unnamed: \d+", c)
    ]
    if blank:
        return rf"no name, at position {blank[0]}\b"
    repeated = [c for c in dict.fromkeys(names) if names.count(c) > 1]
    if repeated:
        return rf"repeated column name\(s\) .*{re.escape(repr(repeated[0]))}"
    if target not in names:
        return re.escape(repr(target)) + r" is not in the data"
    if frame.empty:
        return r"header but no rows"
    if frame.set_axis(names, axis=1)[target].isna().all():
        return re.escape(repr(target)) + r" is empty: all \d+ values are missing"
    return None


def _names_something(message: str, frame: pd.DataFrame, target: str) -> bool:
    """A data error must point at something: the target, a column, or the rows."""
    return (
        repr(target) in message
        or any(repr(str(c)) in message for c in frame.columns)
        or bool(re.search(r"\brows?\b|\bcolumns?\b", message))
    )


def _check_training_contract(frame: pd.DataFrame, target: str, encoding: str) -> None:
    """Load, plan and featurize ``frame``: a table and features, or a DataError that says
    what is wrong and where; never another exception."""
    expected = _expected_first_error(frame, target)
    try:
        table = load_training_table(None, frame, target=target, task="auto")
    except DataError as exc:
        message = str(exc)
        event(f"load: DataError {message[:40]}")
        assert message.strip()
        if expected:
            assert re.search(expected, message), (expected, message)
        else:
            # Beyond the header checks every message names the target or another column.
            named = [repr(target)] + [repr(str(c)) for c in frame.columns]
            assert any(name in message for name in named), message
        return
    event("load: table")
    assert expected is None, f"expected an error matching {expected!r}"
    # Every input row is labelled, unlabelled, or in a class left out: none goes missing.
    assert len(table.X) == len(table.y)
    assert len(table.X) + table.n_unlabelled + sum(table.rare_classes.values()) == len(frame)
    if table.task != "regression":
        # What is left has at least two classes, each with a row for every fold.
        counts = pd.Series(table.y).value_counts()
        assert len(counts) >= 2 and counts.min() >= 5, counts.to_dict()
    assert target not in table.X.columns
    try:
        plan = plan_for(table, TrainConfig(data="x.csv", target=target), {})
        featurizer = TableFeaturizer(plan, categorical_encoding=encoding)
        fitted = featurizer.fit_transform(table.X, table.y)
        out = featurizer.transform(table.X)
        few = featurizer.transform(table.X.iloc[[2, 0]])
    except (DataError, ConfigError) as exc:
        event(f"featurize: {type(exc).__name__} {str(exc)[:50]}")
        assert str(exc).strip() and _names_something(str(exc), frame, target), str(exc)
        return
    event("featurize: ok")
    assert len(fitted) == len(out) == len(table.X)
    assert len(few) == 2
    assert list(out.columns) == list(few.columns) == featurizer.get_feature_names_out()
    if encoding == "onehot":
        # Learners fed one-hot features (linear models) cannot take missing values.
        assert not out.isna().any().any(), list(out.columns[out.isna().any()])


@PROPERTY
@given(case=training_frames(), encoding=st.sampled_from(["native", "onehot"]))
def test_training_contract_on_malformed_frames(case, encoding):
    frame, target, description = case
    note(f"{description}\n{frame.head(10)!r}\ndtypes: {dict(frame.dtypes.astype(str))}")
    _check_training_contract(frame, target, encoding)


@settings(PROPERTY, max_examples=40)
@given(case=training_frames(trainable=True), encoding=st.sampled_from(["native", "onehot"]))
def test_training_contract_on_malformed_feature_columns(case, encoding):
    frame, target, description = case
    note(f"{description}\n{frame.head(10)!r}\ndtypes: {dict(frame.dtypes.astype(str))}")
    _check_training_contract(frame, target, encoding)


@pytest.mark.parametrize("trait", ["dates_utc_offsets", "nested"])
def test_training_contract_on_once_crashing_feature_columns(trait):
    """Found by the properties: dates with mixed UTC offsets (an AttributeError from the date
    featurizer) and lists in cells (a TypeError from the fingerprint)."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {"x": _feature(trait, 40, rng), "z": rng.normal(size=40), "target": ["a", "b"] * 20}
    )
    for encoding in ("native", "onehot"):
        _check_training_contract(frame, "target", encoding)


# ---------------------------------------------------------------------------------------
# 2. Scoring: random corruptions of a valid batch, checked against a learned suite.
# ---------------------------------------------------------------------------------------

TRAIN_ROWS = 200


def _scoring_training_frame() -> pd.DataFrame:
    rng = np.random.default_rng(7)
    n = TRAIN_ROWS
    x1 = rng.normal(size=n)
    x2 = rng.uniform(0, 10, size=n)
    frame = pd.DataFrame(
        {
            "x1": x1,
            "x2": np.where(rng.random(n) < 0.1, np.nan, x2),
            "count": rng.integers(0, 50, size=n),
            "colour": rng.choice(["red", "green", "blue"], size=n),
            "member": rng.choice(["yes", "no"], size=n),
            "flag": rng.random(n) < 0.5,
        }
    )
    frame["target"] = np.where(x1 + 0.2 * x2 > 1, "yes", "no")
    return frame


X_TRAIN = _scoring_training_frame().drop(columns=["target"])
# The kinds the plan gives the training columns (checked in _suite).
NUMERIC = ["x1", "x2", "count"]
CATEGORY_LIKE = ["colour", "member", "flag"]
INPUTS = NUMERIC + CATEGORY_LIKE


@functools.cache
def _suite() -> dict:
    """The suite learned from the training inputs: once, and only when a test needs it
    (Great Expectations takes seconds to import)."""
    suite = learn_suite(X_TRAIN, plan_columns(X_TRAIN, target="target", exclude={}))
    kinds = {c: info["kind"] for c, info in suite_columns(suite).items()}
    assert sorted(kinds) == sorted(INPUTS)
    assert {c for c, kind in kinds.items() if kind == "numeric"} == set(NUMERIC)
    return suite


EXTRA_NAMES = ["extra", "Größe", "🙂", "x1 ", "notes", ""]
GARBAGE = ["abc", "?", "n/a", "", "  ", "1.2.3", "--", "nan", "NULL", "True"]
UNSEEN = ["purple", "RED", "", 5, 2.5, "yes!", "🙂"]


def _far_values(column: str) -> list:
    low, high = X_TRAIN[column].min(), X_TRAIN[column].max()
    span = high - low
    return [1e9, -1e9, np.inf, -np.inf, float(high + 3 * span), float(low - 3 * span), "1e9"]


def _set_cells(batch: pd.DataFrame, column: str, rows: list[int], value) -> None:
    values = batch[column]
    if isinstance(value, float) and pd.api.types.is_numeric_dtype(values):
        values = values.astype(np.float64)
    else:
        values = values.astype(object)
    values.iloc[rows] = value
    batch[column] = values


@st.composite
def corrupted_batches(draw):
    """A batch sampled from the training rows, corrupted; and the cells that must be
    quarantined: {(position, column)}."""
    n = draw(st.sampled_from([10, 25, 3, 1, 0]))
    seed = draw(st.integers(0, 2**16))
    batch = X_TRAIN.sample(n, replace=True, random_state=seed).reset_index(drop=True)
    bad: set[tuple[int, str]] = set()
    dropped: list[str] = []
    rows = st.lists(st.integers(0, max(n - 1, 0)), min_size=1, max_size=min(n, 4), unique=True)
    operations = draw(
        st.lists(
            st.sampled_from(
                [
                    "garbage",
                    "far",
                    "to_strings",
                    "unseen",
                    "nan",
                    "drop",
                    "extra",
                    "shuffle_columns",
                    "shuffle_index",
                    "mixed_types",
                    "garbage",
                    "far",
                ]
            ),
            min_size=1,
            max_size=5,
        )
    )
    for operation in operations:
        event(f"corruption: {operation}")
        present = [c for c in INPUTS if c in batch.columns]
        if operation == "drop" and present:
            column = draw(st.sampled_from(present))
            batch = batch.drop(columns=[column])
            dropped.append(column)
            bad = {cell for cell in bad if cell[1] != column}
        elif operation == "to_strings" and present:
            column = draw(st.sampled_from(present))
            batch[column] = batch[column].map(lambda v: v if pd.isna(v) else str(v))
        elif operation in ("garbage", "far") and n:
            numeric = [c for c in NUMERIC if c in batch.columns]
            if not numeric:
                continue
            column = draw(st.sampled_from(numeric))
            pool = GARBAGE if operation == "garbage" else _far_values(column)
            where = draw(rows)
            _set_cells(batch, column, where, draw(st.sampled_from(pool)))
            bad |= {(i, column) for i in where}
        elif operation == "unseen" and n:
            columns = [c for c in CATEGORY_LIKE if c in batch.columns]
            if not columns:
                continue
            _set_cells(
                batch, draw(st.sampled_from(columns)), draw(rows), draw(st.sampled_from(UNSEEN))
            )
        elif operation == "nan" and n and present:
            column = draw(st.sampled_from(present))
            where = draw(rows)
            _set_cells(batch, column, where, np.nan if column in NUMERIC else None)
            bad -= {(i, column) for i in where}
        elif operation == "extra":
            name = draw(st.sampled_from(EXTRA_NAMES))
            if name not in batch.columns:
                batch[name] = draw(st.sampled_from(["text", 1.5, None, np.inf]))
        elif operation == "shuffle_columns":
            order = draw(st.permutations(list(batch.columns)))
            batch = batch[list(order)]
        elif operation == "shuffle_index":
            # Row numbers are positions, whatever index the caller's frame has.
            batch.index = draw(st.permutations(list(range(100, 100 + n))))
        elif operation == "mixed_types" and n:
            numeric = [c for c in NUMERIC if c in batch.columns]
            if numeric:
                column = draw(st.sampled_from(numeric))
                values = batch[column].astype(object)
                batch[column] = [
                    str(v) if i % 2 and not pd.isna(v) else v for i, v in enumerate(values)
                ]
    return batch, bad, dropped


@PROPERTY
@given(
    case=corrupted_batches(),
    impute_missing=st.booleans(),
    strict=st.booleans(),
)
def test_scoring_contract_on_corrupted_batches(case, impute_missing, strict):
    batch, bad, dropped = case
    note(f"bad cells: {sorted(bad)}; dropped: {dropped}\n{batch!r}\n{dict(batch.dtypes)}")
    expected_rows = sorted({i for i, _ in bad})
    try:
        # The quarantine contract; by default out-of-range rows are scored and flagged
        # instead (tests/test_batch_validation.py).
        check = check_batch(
            batch,
            _suite(),
            source="batch.csv",
            impute_missing=impute_missing,
            strict=strict,
            quarantine_out_of_range=True,
        )
    except DataError as exc:
        message = str(exc)
        assert message.strip()
        if dropped and not impute_missing:
            event("scoring: missing columns")
            assert "batch.csv" in message
            for column in dropped:
                assert repr(column) in message, (column, message)
            return
        assert strict and expected_rows, f"unexpected DataError: {message}"
        event("scoring: strict failure")
        first = expected_rows[0]
        assert f"{len(expected_rows)} of {len(batch)} rows" in message, message
        assert f"row {first + 1}: " in message, message
        assert any(f"{column}=" in message for i, column in bad if i == first), message
        return
    assert not (dropped and not impute_missing), "a batch lacking inputs must not be scored"
    assert not (strict and expected_rows), "--strict must fail a batch with bad rows"
    event(f"scoring: {len(check.quarantined)} quarantined")
    scorable, quarantined = check.scorable, check.quarantined
    assert len(scorable) + len(quarantined) == len(batch)
    rows = quarantined["row"].tolist()
    assert len(set(rows)) == len(rows)
    assert all(1 <= r <= len(batch) for r in rows)
    # Exactly the rows with a value that is not a number or far outside training.
    assert rows == [i + 1 for i in expected_rows]
    assert sorted(scorable.index) == sorted(set(range(len(batch))) - set(expected_rows))
    for row, reason in zip(rows, quarantined["reason"], strict=True):
        assert reason.strip()
        named = {part.split("=", 1)[0] for part in reason.split("; ")}
        assert named == {column for i, column in bad if i == row - 1}, reason
    # The quarantined rows are the input rows as they came, not parsed.
    for row, (_, quarantined_row) in zip(rows, quarantined.iterrows(), strict=True):
        for column in batch.columns:
            original = batch.iloc[row - 1][column]
            kept = quarantined_row[column]
            assert (pd.isna(original) and pd.isna(kept)) or str(original) == str(kept)
    if impute_missing:
        missing = {f.column for f in check.findings if f.problem == "is missing"}
        assert missing == set(dropped)


@pytest.mark.parametrize("column", ["count", "colour"], ids=["numeric", "categorical"])
def test_scoring_batch_with_a_repeated_column_name_is_a_data_error(column):
    batch = X_TRAIN.head(5)
    batch = pd.concat([batch, batch[[column]]], axis=1)
    with pytest.raises(DataError, match=re.escape(repr(column))):
        check_batch(batch, _suite(), source="batch.csv")


# ---------------------------------------------------------------------------------------
# 3. Files: random bytes and text in a .csv file.
# ---------------------------------------------------------------------------------------

_file_numbers = itertools.count()

CELLS = st.one_of(
    st.text(max_size=6),
    st.sampled_from(["a", "b", "", "1,234", '"q"', "1e9", "nan", "2024-01-01", "Unnamed: 0"]),
)


@st.composite
def csv_like_text(draw) -> str:
    """Rows of cells joined by one of the delimiters a CSV may use."""
    delimiter = draw(st.sampled_from([",", ";", "\t", "|"]))
    rows = draw(st.lists(st.lists(CELLS, min_size=1, max_size=5), max_size=6))
    return "\n".join(delimiter.join(cells) for cells in rows)


def _read(tmp_path, payload: bytes, written: str | None = None) -> None:
    """``written``: the text ``payload`` encodes, when known (random bytes: decoded here)."""
    path = tmp_path / f"table-{next(_file_numbers)}.csv"
    path.write_bytes(payload)
    try:
        frame = read_table(str(path))
    except DataError as exc:
        event(f"file: DataError {str(exc).split(':')[0][-30:]}")
        assert str(path) in str(exc), str(exc)
        return
    event("file: table")
    assert isinstance(frame, pd.DataFrame)
    names = [str(c) for c in frame.columns]
    assert len(set(names)) == len(names)
    assert all(name.strip() for name in names)
    # The header as written: no name pandas made up for a repeated ("a.1") or blank cell.
    text = written if written is not None else payload.decode("utf-8-sig", errors="replace")
    invented = [
        name
        for name in names
        if name not in text and re.fullmatch(r".*\.\d+|Unnamed: \d+", name, flags=re.S)
    ]
    assert not invented, invented


@settings(PROPERTY, max_examples=100)
@given(payload=st.binary(max_size=300))
def test_reading_random_bytes_as_csv(tmp_path, payload):
    _read(tmp_path, payload)


@settings(PROPERTY, max_examples=100)
@given(
    text=st.one_of(st.text(max_size=200), csv_like_text()),
    encoding=st.sampled_from(["utf-8", "utf-8-sig", "utf-16", "latin-1"]),
)
def test_reading_random_text_as_csv(tmp_path, text, encoding):
    payload = text.encode(encoding, errors="replace")
    # The header as written: a UTF-16 file's names are not in its bytes read as UTF-8.
    _read(tmp_path, payload, payload.decode(encoding, errors="replace"))


@pytest.mark.parametrize(
    "text",
    [
        '"a\nb",c,c\n1,2,3\n',
        "a\u2028,c,c\n1,2,3\n",
        "0\x1e,0\x1e\n",
        "\nc,c\n1,2\n",
    ],
    ids=["quoted-newline", "line-separator", "record-separator", "blank-first-line"],
)
def test_csv_header_with_a_line_break_inside_is_checked_as_pandas_reads_it(tmp_path, text):
    from trialflow.data.tables import READ_NOTES

    path = tmp_path / "table.csv"
    path.write_text(text, encoding="utf-8")
    frame = read_table(str(path))
    # The repeat is found in the header as pandas parses it, and repaired with a note.
    assert len(set(frame.columns)) == len(frame.columns)
    assert any("repeated name" in n.detail for n in frame.attrs[READ_NOTES])


# ---------------------------------------------------------------------------------------
# 4. The command line: a malformed table is an `error: ...` message and exit code 1 or 2.
# ---------------------------------------------------------------------------------------


@settings(PROPERTY, max_examples=25)
@given(case=st.one_of(training_frames(), training_frames(trainable=True)))
def test_features_command_on_malformed_csv_files(tmp_path, case):
    frame, target, description = case
    number = next(_file_numbers)
    data, plan = tmp_path / f"table-{number}.csv", tmp_path / f"plan-{number}.yaml"
    frame.to_csv(data, index=False)
    note(f"{description}\n{data.read_text()[:2000]}")
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main(["features", str(data), "--target", target, "--output", str(plan)])
    event(f"features: exit {code}")
    if code == 0:
        assert plan.is_file()
        return
    # 1: bad data, 2: bad option (an empty --target); 3, an unexpected exception, is what
    # a malformed table must never cause.
    assert code in (1, 2), stderr.getvalue()
    assert stderr.getvalue().startswith("error: ") and "Traceback" not in stderr.getvalue()
    assert not plan.exists(), "a failed run must write nothing"
