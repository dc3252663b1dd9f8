"""`sentrec train intent` on intent labels in the store: a model goes live, and the loader
answers with it; before any intent model exists, learned topics stand in."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine
from typer.testing import CliRunner

from domain.records import Stream
from domain.settings import Settings
from flows.intent import IntentAnswer, guess_intents, live_intent_model
from flows.runtime import ready_engine

DATA = Path(__file__).resolve().parents[1] / "data" / "intents.csv"


def test_cli_trains_an_intent_model_that_goes_live(prefect_harness: None, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from flows.cli import app

    monkeypatch.setenv("SENTREC_HOME", str(tmp_path / "home"))
    monkeypatch.delenv("SENTREC_DATABASE_URL", raising=False)
    runner = CliRunner()
    not_ready = runner.invoke(app, ["train", "intent"])
    assert not_ready.exit_code == 2
    assert "0 intents with 2+ labelled messages" in not_ready.output
    ingested = runner.invoke(app, ["ingest", "messages", str(DATA)])
    assert ingested.exit_code == 0, ingested.output
    assert "banking77" in ingested.output
    result = runner.invoke(app, ["train", "intent"])
    assert result.exit_code == 0, result.output
    output = " ".join(result.output.replace("│", " ").split())
    assert "intent v1 (minilm-tfidf, 5 intents)" in output
    assert "trained on 32 of 32 labelled messages" in output
    assert "held-out accuracy (8 messages)" in output and "stopped by all texts" in output
    assert "promoted: no active version" in output
    engine = ready_engine(Settings())
    assert live_intent_model(engine=engine) is not None
    listed = runner.invoke(app, ["models", "--name", "intent"])
    assert listed.exit_code == 0, listed.output
    assert "intent 1" in " ".join(listed.output.replace("│", " ").split())
    answers = guess_intents(engine=engine, models_dir=tmp_path / "home" / "models",
                            texts=["When will my new card arrive?", "asdkjh qwpoeiru zxcmvn"])
    assert [(a.label, a.source) for a in answers] == [("card_arrival", "intent"),
                                                      (None, "intent")]


def test_without_an_intent_model_topics_stand_in(engine: Engine, tmp_path: Path) -> None:
    answers = guess_intents(engine=engine, models_dir=tmp_path, texts=["where is my card"])
    assert answers == [IntentAnswer(None, 0.0, "topic")]


def test_intent_training_embeds_what_its_budget_allows_every_intent_kept(
        engine: Engine, tmp_path: Path) -> None:
    """A spent budget: the first chunk of training texts is embedded and fitted on, taken in
    turn from the intents and large enough that each keeps five messages, and the run says
    so."""
    from flows.ingest import ingest_file
    from flows.train_intent import train_intent

    ingest_file(engine=engine, stream=Stream.MESSAGES, path=DATA)
    outcome = train_intent(engine=engine, models_dir=tmp_path / "models", max_minutes=1e-6,
                           chunk=10)
    assert (outcome.train_size, outcome.train_available, outcome.stop_reason) == (
        25, 32, "time budget")
    assert outcome.intents == 5 and outcome.test_size == 8
    assert outcome.version.params["train_size"] == 25
    everything = train_intent(engine=engine, models_dir=tmp_path / "models", chunk=10)
    assert (everything.train_size, everything.stop_reason) == (32, "all texts")
