"""`sentrec train sentiment --profile fast` distils from the accurate version in the registry, on
every unlabelled text in the store; `--no-teacher` trains from the labels alone."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from domain.settings import Settings
from flows.runtime import ready_engine
from storage.registry import list_versions
from tests.helpers import labelled_file

UNLABELLED = ["Acme shares slump after profit warning", "Zed Corp beats forecasts",
              "Regulator fines bank over reporting", "Retailer opens forty new stores",
              "Oil prices steady ahead of meeting", "Chipmaker cuts outlook on weak demand",
              "Airline adds routes to Asia", "Insurer names new chief executive",
              "Brewer recalls bottles in Finland", "Carmaker sales jump in March",
              "Telecom merger wins approval", "Miner halts output after accident"]


def headlines_file(path: Path) -> Path:
    """The 12 unlabelled headlines, one of them filed twice, and two copies of labelled texts
    (one of which may be held out): 12 distinct transfer texts."""
    rows = ["date,headline"]
    rows += [f"2024-02-{1 + i:02d},{text}" for i, text in enumerate(UNLABELLED)]
    rows += [f"2024-03-01,{UNLABELLED[0]}", "2024-03-02,profit rose sharply 0",
             "2024-03-03,The flight leaves at noon 3"]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_fast_profile_is_distilled_from_the_accurate_version(
        prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.cli import app

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    # A budget that never binds: the runs below are fixed by --epochs, not by the clock.
    monkeypatch.setenv("SENTREC_SENTIMENT_TRAIN_MINUTES", "600")
    runner = CliRunner()
    for stream, path in (("messages", labelled_file(tmp_path / "labels.csv")),
                         ("news", headlines_file(tmp_path / "headlines.csv"))):
        ingested = runner.invoke(app, ["ingest", stream, str(path)])
        assert ingested.exit_code == 0, ingested.output
    accurate = runner.invoke(app, ["train", "sentiment", "--profile", "accurate",
                                   "--epochs", "1"])
    assert accurate.exit_code == 0, accurate.output

    distilled = runner.invoke(app, ["train", "sentiment", "--epochs", "1"])
    assert distilled.exit_code == 0, distilled.output
    output = " ".join(distilled.output.replace("│", " ").split())  # table cells as words
    assert "sentiment v2 (distilled)" in output and "teacher sentiment v1" in output, output
    assert "transfer texts labelled 12 of 12" in output, output
    assert "lexical member's share" in output, output

    alone = runner.invoke(app, ["train", "sentiment", "--epochs", "1", "--no-teacher"])
    assert alone.exit_code == 0, alone.output
    assert "sentiment v3 (fast)" in alone.output and "teacher" not in alone.output
    assert "lexical member's share" in " ".join(alone.output.replace("│", " ").split())

    versions = {v.version: v.params for v in list_versions(engine=ready_engine(Settings()),
                                                          name="sentiment")}
    assert [versions[v]["profile"] for v in (1, 2, 3)] == ["accurate", "distilled", "fast"]
    assert (versions[2]["teacher_version"], versions[2]["n_transfer"]) == (1, 12)
    copies = versions[2]["n_augmented"]  # perturbed copies of the training texts, all labelled
    assert copies == versions[2]["augmented_pool"] > 0
    assert f"augmented copies labelled {copies} of {copies}" in output, output
    assert "teacher_version" not in versions[3] and "n_transfer" not in versions[3]

    not_accurate = runner.invoke(app, ["train", "sentiment", "--teacher", "3"])
    assert not_accurate.exit_code == 2
    assert "sentiment v3 is 'fast', not accurate" in " ".join(not_accurate.output.split())
    missing = runner.invoke(app, ["train", "sentiment", "--teacher", "9"])
    assert missing.exit_code == 2 and "no sentiment version 9" in missing.output

    # What v1 said is in the store: teaching again labels nothing it has seen, and the student
    # learns from every transfer text and copy v1 labelled before.
    again = runner.invoke(app, ["train", "sentiment", "--epochs", "1", "--teacher", "1"])
    assert again.exit_code == 0, again.output
    versions = {v.version: v.params for v in list_versions(engine=ready_engine(Settings()),
                                                          name="sentiment")}
    assert versions[4]["n_reused"] == 12 + copies and versions[2]["n_reused"] == 0
    assert f"of them labelled in earlier runs {12 + copies:,}" in " ".join(
        again.output.replace("│", " ").split()), again.output
