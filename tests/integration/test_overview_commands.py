"""``sentrec models``, ``sets``, ``batches`` and ``status`` on a store that has been used."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from tests.helpers import events_file


def test_the_overview_commands_show_what_is_live_and_what_happened(
        prefect_harness: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.cli import app

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    runner = CliRunner()

    def run(*args: str, code: int = 0) -> str:
        result = runner.invoke(app, list(args))
        assert result.exit_code == code, result.output
        cells = result.output.replace("│", " ").replace("┃", " ")
        return " ".join(cells.split())  # table rows as plain words

    run("ingest", "events", str(events_file(tmp_path / "e.csv")))
    assert "1 events e.csv canonical canonical utf-8 320 320 0 0" in run("batches")
    assert "no batch" not in run("batches", "--stream", "messages")
    trained = run("train", "recommender", "--max-minutes", "0.05")
    assert "epochs run" in trained and "validation NDCG@10" in trained
    # How it stops depends on the machine's speed; that it says so does not.
    assert any(f"stopped by {reason}" in trained
               for reason in ("time budget", "max epochs", "early stopping"))
    assert "promoted: no active version" in trained
    again = run("train", "recommender", "--max-minutes", "0.05", "--seed", "1")
    assert "margin over" not in again and "95% interval" in again and "over 40 users" in again
    listed = run("models", "--name", "recommender")
    assert "recommender 1" in listed and "live" in listed and "promoted" in listed
    assert run("models", "--name", "recommender", "--rollback", code=2).endswith(
        "--promote V or --rollback needs --name and --reason, one at a time (e.g. --name "
        "sentiment --rollback --reason 'v3 flags every tweet negative')")
    assert "error: recommender has no version 7" in run(
        "models", "--name", "recommender", "--promote", "7", "--reason", "typo", code=2)
    run("publish", "--k", "5")
    listed = run("sets")
    assert "1 active" in listed and " 5 40 205 " in listed  # k, users, rows (+ cold start)
    status = run("status")
    assert "recommender model v" in status and "set 1: 40 users x top-5" in status
    assert "events 320 2024-01-01 00:07" in status
    assert "publish-recommendations Completed" in status
    assert "sentiment model none" in status and "monitoring never run" in status
